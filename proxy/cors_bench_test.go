package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/streamgate/streamgate/proxy"
)

// BenchmarkCORS is the CORS middleware's own cost in front of a handler
// that writes a status: for a request without Origin (native players), and
// for one from an allowed page, whose answer gets the headers.
func BenchmarkCORS(b *testing.B) {
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	for _, bb := range []struct{ name, origin string }{
		{name: "no-origin"},
		{name: "allowed-origin", origin: "https://player.example"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			h := proxy.CORS(proxy.CORSOptions{Origins: []string{"https://player.example", "https://tv.example"},
				RequestHeaders: []string{"X-User-Id", "X-Session-Id"}})(next)
			r := httptest.NewRequest(http.MethodGet, "/v/seg-1.m4s", nil)
			if bb.origin != "" {
				r.Header.Set("Origin", bb.origin)
			}
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h) // each answer starts with no header, as in the server
				h.ServeHTTP(w, r)
			}
		})
	}
}
