package proxytest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// Origin is a real HTTP origin that serves by a handler (by default a fixed
// segment) and records the requests it sees.
type Origin struct {
	*httptest.Server
	// Hits counts the requests that reached the origin.
	Hits  atomic.Int64
	mu    sync.Mutex
	last  *http.Request
	paths map[string]bool
}

// NewOrigin starts an origin serving h, or a fixed segment when h is nil;
// it is closed when the test ends.
func NewOrigin(t testing.TB, h http.HandlerFunc) *Origin {
	o := &Origin{paths: map[string]bool{}}
	if h == nil {
		h = func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "video/mp2t")
			_, _ = io.WriteString(w, "segment-bytes")
		}
	}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.Hits.Add(1)
		o.mu.Lock()
		o.last = r.Clone(r.Context())
		o.paths[r.URL.Path] = true
		o.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

// PathSeen reports whether the origin was ever asked for path.
func (o *Origin) PathSeen(path string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.paths[path]
}

// LastRequest is the last request the origin saw, or nil.
func (o *Origin) LastRequest() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}
