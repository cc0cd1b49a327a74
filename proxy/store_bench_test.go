package proxy_test

import (
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamgate/streamgate/config"
	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/redistest"
	"github.com/streamgate/streamgate/proxy"
)

// BenchmarkStoreOverhead is what the Redis store costs a proxied playlist
// and segment beyond the memory store: streamgate's full chain over each,
// side by side as in BenchmarkProxyOverhead, against one origin and, for
// Redis, a redis-server of the test's own, as cmd/streamgate builds the
// store (Guard, default -refresh-interval for a 60 s TTL). After its first
// request a session is answered from the refresh table, as a playing one
// is; the flusher's renewals run on their own clock and fall in few pairs,
// so the median leaves them out (BenchmarkRedisRenewalBatch in limiter/
// prices them). Run with -benchtime 200x.
func BenchmarkStoreOverhead(b *testing.B) {
	for _, path := range benchPaths {
		b.Run(path.name, func(b *testing.B) {
			defer debug.SetGCPercent(debug.SetGCPercent(400))
			benchmarkStoreOverhead(b, redistest.Start(b).URL(), path.path, path.origin(b))
		})
	}
}

func benchmarkStoreOverhead(b *testing.B, redisURL, path string, target *url.URL) {
	const ttl = time.Minute
	chain := func(store interface {
		limiter.Store
		limiter.StatsReporter
	}) http.Handler {
		upstream := proxy.NewUpstream(proxy.UpstreamOptions{URL: target, HeaderTimeout: 15 * time.Second,
			Metrics: proxy.NewMetrics(prometheus.NewRegistry(), nil), Logger: slog.New(slog.DiscardHandler)})
		return benchGateStore(b, store, ttl, upstream, true)
	}
	memory, err := limiter.NewMemory(limiter.MemoryOptions{TTL: ttl, MaxUsers: 100_000})
	if err != nil {
		b.Fatal(err)
	}
	r, err := limiter.NewRedis(limiter.RedisOptions{URL: redisURL, TTL: ttl, RefreshInterval: config.DefaultRefreshInterval(ttl),
		Timeout: time.Second, MaxUsers: 100_000})
	if err != nil {
		b.Fatal(err)
	}
	guarded, err := limiter.NewGuard(r, limiter.GuardOptions{Policy: limiter.FailClosed, TTL: ttl, MaxUsers: 100_000})
	if err != nil {
		b.Fatal(err)
	}
	p := comparePairs(b, path, chain(memory), chain(guarded))
	b.ReportMetric(p.base, "memory-cpu-ns/req")
	b.ReportMetric(p.other, "redis-cpu-ns/req")
	b.ReportMetric(p.delta, "redis-extra-cpu-ns/req")
	b.ReportMetric(p.allocs, "redis-extra-allocs/req")
}
