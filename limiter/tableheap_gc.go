//go:build !(linux || darwin || freebsd || netbsd || openbsd) || race

package limiter

// tableInGoHeap says whether the table's memory comes from Go's heap.
const tableInGoHeap = true

// mapBytes takes n bytes of Go's heap where the system has no anonymous
// mappings, and under the race detector, which watches only Go's heap.
// tableHeap keeps them reachable until release.
func mapBytes(n int) ([]byte, error) {
	// 16-byte aligned, as tableHeap's blocks are: Go aligns allocations of
	// 16 bytes and more to 16.
	return make([]byte, max(n, 16)), nil
}

// unmapBytes lets the collector have b.
func unmapBytes([]byte) {}
