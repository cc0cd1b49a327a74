//go:build !amd64 && !arm64

package limiter

// canPrefetch says that prefetch does nothing here, so that callers skip
// working out its address.
const canPrefetch = false

// prefetch is a hint the other architectures go without.
func prefetch(uintptr) {}
