package proxy_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/identity"
)

// benchGate builds the proxy listener's handler chain exactly as run() does,
// around next, with CORS for corsOrigins when given.
func benchGate(b *testing.B, next http.Handler, corsOrigins ...string) http.Handler {
	b.Helper()
	return benchGateCMCD(b, next, true, corsOrigins...)
}

// benchGateCMCD is benchGate with -cmcd as given (the product's default is on).
func benchGateCMCD(b *testing.B, next http.Handler, cmcd bool, corsOrigins ...string) http.Handler {
	b.Helper()
	store, err := limiter.NewMemory(limiter.MemoryOptions{TTL: time.Hour, MaxUsers: 100_000})
	if err != nil {
		b.Fatal(err)
	}
	return benchGateStore(b, store, time.Hour, next, cmcd, corsOrigins...)
}

// benchGateStore is benchGateCMCD over store, whose TTL is ttl; the store is
// closed when the benchmark ends.
func benchGateStore(b *testing.B, store interface {
	limiter.Store
	limiter.StatsReporter
}, ttl time.Duration, next http.Handler, cmcd bool, corsOrigins ...string) http.Handler {
	b.Helper()
	b.Cleanup(func() { _ = store.Close() })
	logger := slog.New(slog.DiscardHandler)
	metrics := proxy.NewMetrics(prometheus.NewRegistry(), store)
	gate := proxy.Gate(proxy.GateOptions{
		Store: store, Identity: identity.NewHeaderIdentity("X-User-Id", "X-Session-Id").WithCMCD(cmcd),
		Limit: 3, Metrics: metrics, Logger: logger,
		// As run() sets it: a flowing answer re-admits its session every TTL/3.
		Hardening: proxy.Hardening{HoldEvery: ttl / 3},
	})
	if len(corsOrigins) == 0 {
		return proxy.Handler(logger, gate, next)
	}
	cors := proxy.CORS(proxy.CORSOptions{Origins: corsOrigins, RequestHeaders: []string{"X-User-Id", "X-Session-Id"}})
	return proxy.Handler(logger, gate, next, cors)
}

// discardWriter is the cheapest ResponseWriter, so the gate's own cost shows.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkGateOnly is the gate's cost alone: identity, decision, metrics and
// the recover wrapper, in front of a handler that does nothing. Every request
// refreshes one of 10,000 users' sessions. cors=on adds -cors-origins, for a
// request without Origin (a native player) and one from an allowed page;
// cmcd=off is -cmcd=false, cmcd=on/sent a request with a player's CMCD.
func BenchmarkGateOnly(b *testing.B) {
	// What hls.js sends on a segment with CMCD in headers.
	sent := http.Header{
		"Cmcd-Object":  {`br=3200,d=4004,ot=v,tb=6000`},
		"Cmcd-Request": {`bl=21300,dl=18900,mtp=48100,nor="seg-2.m4s",su`},
		"Cmcd-Session": {`cid="film-42",sf=h,sid="6e2fb550-c457-11e9-bb97-0800200c9a66",st=v`},
		"Cmcd-Status":  {`rtp=15000`},
	}
	for _, bb := range []struct {
		name   string
		cors   []string
		origin string
		noCMCD bool
		header http.Header
	}{
		{name: "cors=off"},
		{name: "cors=on", cors: []string{"https://player.example"}},
		{name: "cors=on/origin", cors: []string{"https://player.example"}, origin: "https://player.example"},
		{name: "cmcd=off", noCMCD: true},
		{name: "cmcd=on/sent", header: sent},
	} {
		b.Run(bb.name, func(b *testing.B) { benchmarkGateOnly(b, bb.origin, bb.header, !bb.noCMCD, bb.cors...) })
	}
}

func benchmarkGateOnly(b *testing.B, origin string, header http.Header, cmcd bool, corsOrigins ...string) {
	h := benchGateCMCD(b, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), cmcd, corsOrigins...)
	const users = 10_000
	uids := make([]string, users)
	for i := range uids {
		uids[i] = "user-" + strconv.Itoa(i)
	}
	// One request whose user changes: a freshly parsed request's headers are
	// in cache, as they are in the server.
	r := httptest.NewRequest(http.MethodGet, "/v/seg-1.ts", nil)
	r.Header.Set("X-User-Id", uids[0])
	r.Header.Set("X-Session-Id", "session-1")
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	for k, v := range header {
		r.Header[k] = v
	}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Header["X-User-Id"][0] = uids[i%users]
		h.ServeHTTP(w, r)
	}
}

// BenchmarkProxyOverhead is what streamgate adds to a proxied request. It runs
// a bare tuned httputil.ReverseProxy (bench/reference's) and streamgate's full
// chain (gate and upstream) against one origin over loopback sockets, in
// alternating batches of the same requests, and reports the process CPU
// time per request of each and the median of the per-pair differences: the
// machine's noise moves both halves of a pair alike, so the difference stands
// out of it. Client, origin and proxy share the process, so only the
// difference is the gate's. Its two sides are bench/'s two paths, a 2 KiB
// playlist and a 256 KiB segment. Run with -benchtime 200x for 200 pairs.
//
// Each path's control sets two bare proxies against each other the same
// way: the difference it reports, which the gate has no part in, is how
// far this machine's noise moves such a median in one run (±2 µs per
// playlist here), and so how small a gate figure the run can tell apart.
func BenchmarkProxyOverhead(b *testing.B) {
	// streamgate runs with GOGC=400 under a memory limit (cmd/streamgate/gc.go); so does this.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	for _, path := range benchPaths {
		b.Run(path.name, func(b *testing.B) {
			target := path.origin(b)
			upstream := proxy.NewUpstream(proxy.UpstreamOptions{URL: target, HeaderTimeout: 15 * time.Second,
				Metrics: proxy.NewMetrics(prometheus.NewRegistry(), nil), Logger: slog.New(slog.DiscardHandler)})
			p := comparePairs(b, path.path, referenceProxy(target), benchGate(b, upstream))
			b.ReportMetric(p.base, "bare-cpu-ns/req")
			b.ReportMetric(p.other, "streamgate-cpu-ns/req")
			b.ReportMetric(p.delta, "gate-cpu-ns/req")
			b.ReportMetric(p.allocs, "gate-allocs/req")
			b.ReportMetric(p.bytes, "gate-B/req")
		})
		b.Run(path.name+"-control", func(b *testing.B) {
			target := path.origin(b)
			p := comparePairs(b, path.path, referenceProxy(target), referenceProxy(target))
			b.ReportMetric(p.base, "bare-cpu-ns/req")
			b.ReportMetric(p.delta, "noise-cpu-ns/req")
		})
	}
}

// BenchmarkGetTransport is what carrying GETs on getTransport's connections
// saves against http.Transport's, whose exchange hands each request to two
// goroutines of the connection and back: the upstream alone on 2 KiB
// playlists, side by side as in BenchmarkProxyOverhead. Run with
// -benchtime 150x.
func BenchmarkGetTransport(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	target := playlistOrigin(b)
	upstream := func() proxy.Upstream {
		u := proxy.NewUpstream(proxy.UpstreamOptions{URL: target, HeaderTimeout: 15 * time.Second,
			Metrics: proxy.NewMetrics(prometheus.NewRegistry(), nil), Logger: slog.New(slog.DiscardHandler)})
		b.Cleanup(u.CloseIdleConnections)
		return u
	}
	p := comparePairs(b, playlistPath, proxy.WithoutGets(upstream()), upstream())
	b.ReportMetric(p.base, "transport-cpu-ns/req")
	b.ReportMetric(p.other, "get-transport-cpu-ns/req")
	b.ReportMetric(p.delta, "get-transport-extra-cpu-ns/req")
	b.ReportMetric(p.allocs, "get-transport-extra-allocs/req")
}

// BenchmarkHeaderTimer is what bounding the wait for the origin's headers
// costs: streamgate's upstream with its header watch (headerwatch.go) and
// with Transport's ResponseHeaderTimeout, which https origins keep, side by
// side as in BenchmarkProxyOverhead. Run with -cpu 1,2 -benchtime 300x.
func BenchmarkHeaderTimer(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	target := playlistOrigin(b)
	upstream := func(timer bool) http.Handler {
		u := proxy.NewUpstream(proxy.UpstreamOptions{URL: target, HeaderTimeout: 15 * time.Second,
			Metrics: proxy.NewMetrics(prometheus.NewRegistry(), nil), Logger: slog.New(slog.DiscardHandler)})
		if timer {
			// The transport an https origin gets, on the same plain origin.
			tr, _ := proxy.NewTransport(&url.URL{Scheme: "https", Host: target.Host}, 15*time.Second)
			b.Cleanup(tr.CloseIdleConnections)
			u.Transport = tr
		}
		return u
	}
	p := comparePairs(b, playlistPath, upstream(false), upstream(true))
	b.ReportMetric(p.base, "watch-cpu-ns/req")
	b.ReportMetric(p.other, "timer-cpu-ns/req")
	b.ReportMetric(p.delta, "timer-extra-cpu-ns/req")
	b.ReportMetric(p.allocs, "timer-extra-allocs/req")
}

// benchPaths are bench/'s two paths: what the side-by-side benchmarks
// request, and the origin that answers it.
var benchPaths = []struct {
	name, path string
	origin     func(*testing.B) *url.URL
}{
	{"playlist", playlistPath, playlistOrigin},
	{"segment", "/live/seg-1.ts", segmentOrigin},
}

// playlistOrigin serves a 2 KiB playlist on a loopback socket: a real one,
// as the gate cuts an answer to a session's manifest that is none.
func playlistOrigin(b *testing.B) *url.URL {
	playlist := []byte("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n")
	for n := 0; len(playlist) < 2048-32; n++ {
		playlist = fmt.Appendf(playlist, "#EXTINF:2.000,\nseg-%d.ts\n", n)
	}
	return serveOrigin(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		_, _ = w.Write(playlist)
	}))
}

// segmentOrigin serves a 256 KiB segment with its length, as bench/origin
// does, on a loopback socket.
func segmentOrigin(b *testing.B) *url.URL {
	segment := make([]byte, 256<<10)
	length := strconv.Itoa(len(segment))
	return serveOrigin(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "video/mp2t")
		w.Header().Set("Content-Length", length)
		_, _ = w.Write(segment)
	}))
}

func serveOrigin(b *testing.B, h http.Handler) *url.URL {
	origin := httptest.NewServer(h)
	b.Cleanup(origin.Close)
	target, _ := url.Parse(origin.URL)
	return target
}

// pairs is what comparePairs measured: medians of the CPU time per request
// of each half and of their difference per pair, and the other half's
// extra allocations and bytes per request.
type pairs struct{ base, other, delta, allocs, bytes float64 }

// playlistPath is what comparePairs asks for a playlist.
const playlistPath = "/live/index.m3u8"

// comparePairs serves base and other on loopback sockets and runs b.N pairs
// of batches of the same requests for path through them, alternating which
// goes first so that neither always follows the other.
func comparePairs(b *testing.B, path string, base, other http.Handler) pairs {
	servers := [2]*httptest.Server{httptest.NewServer(base), httptest.NewServer(other)}
	for _, s := range servers {
		b.Cleanup(s.Close)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}

	const batch, workers = 1000, 8
	var seq atomic.Int64
	// mallocs counts the heap allocations of the whole process: client and
	// origin make the same in both halves, so the difference is the
	// handlers'.
	var mallocs, allocBytes [2]uint64
	run := func(half int) time.Duration {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		allocsBefore, bytesBefore := ms.Mallocs, ms.TotalAlloc
		defer func() {
			runtime.ReadMemStats(&ms)
			mallocs[half] += ms.Mallocs - allocsBefore
			allocBytes[half] += ms.TotalAlloc - bytesBefore
		}()
		start := cpuTime()
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range batch / workers {
					n := seq.Add(1)
					req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, servers[half].URL+path, nil)
					req.Header.Set("X-User-Id", "user-"+strconv.FormatInt(n%10_000, 10))
					req.Header.Set("X-Session-Id", "session-1")
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			}()
		}
		wg.Wait()
		return (cpuTime() - start) / batch
	}
	run(0) // warm both: connections, pools, the gate's table
	run(1)
	mallocs, allocBytes = [2]uint64{}, [2]uint64{}
	var baseNs, otherNs, delta []float64
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var x, y time.Duration
		if i%2 == 0 {
			x, y = run(0), run(1)
		} else {
			y, x = run(1), run(0)
		}
		baseNs, otherNs, delta = append(baseNs, float64(x)), append(otherNs, float64(y)), append(delta, float64(y-x))
	}
	b.ReportMetric(0, "ns/op") // a pair's wall time says nothing here
	p := pairs{base: median(baseNs), other: median(otherNs), delta: median(delta)}
	if n := float64(len(delta)) * batch; n > 0 {
		p.allocs = (float64(mallocs[1]) - float64(mallocs[0])) / n
		p.bytes = (float64(allocBytes[1]) - float64(allocBytes[0])) / n
	}
	return p
}

// referenceProxy is bench/reference: the bare, tuned ReverseProxy a careful
// operator would write, with no gate.
func referenceProxy(target *url.URL) http.Handler {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	t.DisableCompression = true
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport:  t,
		BufferPool: &refPool{p: sync.Pool{New: func() any { return new([32 << 10]byte) }}},
	}
}

type refPool struct{ p sync.Pool }

func (b *refPool) Get() []byte  { return b.p.Get().(*[32 << 10]byte)[:] }
func (b *refPool) Put(s []byte) { b.p.Put((*[32 << 10]byte)(s)) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// cpuTime is the user+system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
