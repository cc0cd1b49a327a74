package limiter

// hugeSpan is the run of huge pages [beg, end) that advice on [p, p+n)
// covers: those wholly inside it, or with around every one it touches,
// so that memory next to it is advised too. beg >= end: none.
func hugeSpan(p, n uintptr, around bool) (beg, end uintptr) {
	if around {
		return p &^ (hugePage - 1), (p + n + hugePage - 1) &^ (hugePage - 1)
	}
	return (p + hugePage - 1) &^ (hugePage - 1), (p + n) &^ (hugePage - 1)
}
