package limiter

// hugeSpan is the run of huge pages [beg, end) that advice on [p, p+n)
// covers: every one it touches, so that memory next to it is advised too.
func hugeSpan(p, n uintptr) (beg, end uintptr) {
	return p &^ (hugePage - 1), (p + n + hugePage - 1) &^ (hugePage - 1)
}
