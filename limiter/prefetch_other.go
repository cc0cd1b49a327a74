//go:build !amd64 && !arm64

package limiter

// prefetch is a hint the other architectures go without.
func prefetch(uintptr) {}
