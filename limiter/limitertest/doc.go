// Package limitertest holds what tests of every package share and that has
// nothing to do with HTTP: a log sink safe to read while goroutines write
// it, a concurrency race, and a store that fails on demand. (The test clock
// is storetest.Clock.) Test code only; it may import limiter alone.
package limitertest
