//go:build !linux

package limiter

import "unsafe"

// adviseHuge is a no-op where madvise(MADV_HUGEPAGE) does not exist.
func adviseHuge(unsafe.Pointer, uintptr) {}
