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
func adviseHuge(p unsafe.Pointer, n uintptr) { madviseHuge(p, n, false) }

// adviseHugeAround is adviseHuge for every huge page [p, p+n) touches, the
// two it shares with its neighbours in the heap included. Go's heap is
// mapped in 64 MiB arenas aligned to their size, so the span never leaves
// the mapping p lies in.
func adviseHugeAround(p unsafe.Pointer, n uintptr) { madviseHuge(p, n, true) }

func madviseHuge(p unsafe.Pointer, n uintptr, around bool) {
	beg, end := hugeSpan(uintptr(p), n, around)
	if beg >= end {
		return
	}
	// The span may start before p's object, so it is passed as numbers: a
	// pointer to it would trip the race detector's pointer checks.
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, beg, end-beg, syscall.MADV_HUGEPAGE)
}
