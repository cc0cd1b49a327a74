package proxy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamgate/streamgate/proxy"
)

// BenchmarkGateAccessLog is BenchmarkGateOnly with -access-log off (no
// wrapper at all) and on (to io.Discard, so the formatting goroutine's work
// is counted but no disk is). Each request refreshes one of 10,000 users'
// sessions.
func BenchmarkGateAccessLog(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			h := benchGate(b, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			var al *proxy.AccessLog
			if on {
				al = proxy.NewAccessLog(proxy.AccessLogOptions{Writer: io.Discard, Registerer: prometheus.NewRegistry()})
				b.Cleanup(func() { _ = al.Close(context.Background()) })
				h = al.Handler(h)
			}
			const users = 10_000
			uids := make([]string, users)
			for i := range uids {
				uids[i] = "user-" + strconv.Itoa(i)
			}
			r := httptest.NewRequest(http.MethodGet, "/v/seg-1.ts", nil)
			r.Header.Set("X-User-Id", uids[0])
			r.Header.Set("X-Session-Id", "session-1")
			r.Header.Set("User-Agent", "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36")
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			start := cpuTime()
			for i := 0; b.Loop(); i++ {
				r.Header["X-User-Id"][0] = uids[i%users]
				h.ServeHTTP(w, r)
			}
			if al != nil {
				_ = al.Close(context.Background()) // the queued lines' formatting counts too
			}
			// CPU rather than wall time: the writing goroutine runs beside
			// the requests, and on a busy machine wall time measures the wait.
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}
