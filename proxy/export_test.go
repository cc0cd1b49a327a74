package proxy

// NewTransport is the origin transport, for tests of its settings.
var NewTransport = newTransport

// AwaitingConns is how many of u's origin connections the header watch
// sees awaiting an answer.
func AwaitingConns(u Upstream) int {
	u.watch.mu.Lock()
	defer u.watch.mu.Unlock()
	n := 0
	for c := range u.watch.conns {
		if s := c.since.Load(); s != 0 && s != answeredMark {
			n++
		}
	}
	return n
}

// WithoutGets is u with its GETs on http.Transport too, as they were before
// getTransport.
func WithoutGets(u Upstream) Upstream { u.gets = nil; return u }
