package limiter

import (
	"syscall"
	"unsafe"
)

// adviseHuge asks Linux to back the huge pages that lie wholly inside
// [p, p+n) with huge pages (MADV_HUGEPAGE), as the Go runtime does not for
// its heap: with transparent huge pages in their default "madvise" mode a
// large table would otherwise sit on 4 KiB pages, one TLB entry each. It is
// advice: an error (an old kernel, THP off) changes nothing but speed.
func adviseHuge(p unsafe.Pointer, n uintptr) {
	beg := (uintptr(p) + hugePage - 1) &^ (hugePage - 1)
	end := (uintptr(p) + n) &^ (hugePage - 1)
	if beg >= end {
		return
	}
	_ = syscall.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, beg-uintptr(p))), end-beg), syscall.MADV_HUGEPAGE)
}
