// Package proxytest holds what the HTTP tests of proxy and its subpackages
// share: test signing keys and tokens, a recording origin, a gate built as
// run() builds it, and readers of problem answers and metrics. Test code
// only; it may import proxy, its subpackages and limiter.
package proxytest
