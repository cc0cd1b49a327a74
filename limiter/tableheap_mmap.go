//go:build (linux || darwin || freebsd || netbsd || openbsd) && !race

package limiter

import "syscall"

// tableInGoHeap says whether the table's memory comes from Go's heap.
const tableInGoHeap = false

// mapBytes maps n bytes of anonymous memory, out of Go's heap: the
// collector neither counts nor scans it.
func mapBytes(n int) ([]byte, error) {
	return syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
}

// unmapBytes gives back what mapBytes mapped.
func unmapBytes(b []byte) {
	_ = syscall.Munmap(b)
}
