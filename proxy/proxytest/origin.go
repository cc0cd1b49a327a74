package proxytest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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
		h = OKOrigin
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

// OKOrigin answers a manifest path with a small manifest of its kind, as an
// origin does (the gate checks the answer to a manifest request without a
// session), and anything else with "segment-bytes".
func OKOrigin(w http.ResponseWriter, r *http.Request) {
	switch p := strings.ToLower(r.URL.Path); {
	case strings.HasSuffix(p, ".m3u8"):
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		_, _ = io.WriteString(w, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg-1.ts\n")
	case strings.HasSuffix(p, ".mpd"):
		w.Header().Set("Content-Type", "application/dash+xml")
		_, _ = io.WriteString(w, `<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011"/>`)
	default:
		w.Header().Set("Content-Type", "video/mp2t")
		_, _ = io.WriteString(w, "segment-bytes")
	}
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
