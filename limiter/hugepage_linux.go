package limiter

import (
	"syscall"
	"unsafe"
)

// adviseHuge asks Linux to back [p, p+n) with huge pages (MADV_HUGEPAGE),
// as the Go runtime does not for its heap: with transparent huge pages in
// their default "madvise" mode a large table would otherwise sit on 4 KiB
// pages, one TLB entry each. It is advice: an error (an old kernel, THP
// off) changes nothing but speed.
//
// A range of a huge page or more is advised over every huge page it
// touches, the two it may share with its neighbours in the heap included:
// Go aligns a large object to 8 KiB only, and consecutive chunks of a
// table meet inside a huge page that advice on whole pages would leave on
// 4 KiB ones. That may put a neighbour's memory, at most a huge page at
// each end, on huge pages too: a bounded cost for a range that large. A
// smaller range is not advised, as its advice would mostly reach its
// neighbours. Go's heap is mapped in 64 MiB arenas aligned to their size,
// so the span never leaves the mapping p lies in.
func adviseHuge(p unsafe.Pointer, n uintptr) {
	if n < hugePage {
		return
	}
	beg, end := hugeSpan(uintptr(p), n)
	// The span may start before p's object, so it is passed as numbers: a
	// pointer to it would trip the race detector's pointer checks.
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, beg, end-beg, syscall.MADV_HUGEPAGE)
}
