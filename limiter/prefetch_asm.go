//go:build amd64 || arm64

package limiter

// canPrefetch says that prefetch does something here.
const canPrefetch = true

// prefetch asks the CPU to start loading the cache line at p and returns at
// once. A prefetch never faults and is not a memory access to the race
// detector, so p may be stale or wild: it then costs a wasted load, nothing
// else.
func prefetch(p uintptr)
