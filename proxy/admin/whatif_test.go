package admin_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/storetest"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/admin"
	"github.com/streamgate/streamgate/proxy/identity"
)

func refusedByLimit(w *admin.WhatIf) []uint64 {
	var out []uint64
	for _, l := range w.Limits {
		out = append(out, l.Refused)
	}
	return out
}

// whatIfRig is a gate in shadow mode (so that every start is admitted and
// observed) on a memory store and a simulated clock; start admits a session.
func whatIfRig(t *testing.T) (clock *storetest.Clock, metrics *proxy.Metrics, start func(user, session string)) {
	t.Helper()
	clock = storetest.NewClock(time.Unix(1_000_000, 0))
	store, err := limiter.NewMemory(limiter.MemoryOptions{TTL: 3 * time.Hour, MaxUsers: 100, Clock: clock.Now, SweepInterval: -1,
		Rules: limiter.Rules{Shadow: true}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	metrics = proxy.NewMetrics(prometheus.NewRegistry(), store)
	gate := proxy.Gate(proxy.GateOptions{Store: store, Identity: identity.NewHeaderIdentity("X-User-Id", "X-Session-Id"),
		Limit: 3, Metrics: metrics, Logger: slog.New(slog.DiscardHandler)})(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	start = func(user, session string) {
		r := httptest.NewRequest(http.MethodGet, "/vod/seg-1.ts", nil)
		r.Header.Set("X-User-Id", user)
		r.Header.Set("X-Session-Id", session)
		w := httptest.NewRecorder()
		gate.ServeHTTP(w, r)
		require.Equal(t, http.StatusOK, w.Code)
	}
	return clock, metrics, start
}

func TestWhatALimitWouldRefuseOverTheLastHour(t *testing.T) {
	t.Parallel()
	clock, metrics, start := whatIfRig(t)
	m := admin.NewMonitor(admin.MonitorOptions{Metrics: metrics, Clock: clock.Now})
	m.Sample()

	for _, s := range []string{"tv", "phone", "laptop", "tablet"} {
		start("alice", s) // with 1, 2, 3, 4 sessions
	}
	start("bob", "tv")
	w := m.WhatIf()
	require.NotNil(t, w)
	assert.Equal(t, uint64(5), w.Starts)
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6}, []int{w.Limits[0].Limit, w.Limits[1].Limit, w.Limits[2].Limit, w.Limits[3].Limit, w.Limits[4].Limit, w.Limits[5].Limit})
	assert.Equal(t, []uint64{3, 2, 1, 0, 0, 0}, refusedByLimit(w), "a limit of N refuses the starts that came with more than N sessions")

	for range 61 {
		clock.Advance(time.Minute)
		m.Sample()
	}
	start("carol", "tv")
	start("carol", "phone")
	w = m.WhatIf()
	assert.Equal(t, uint64(2), w.Starts, "only the last hour counts")
	assert.Equal(t, 3600, w.WindowSeconds)
	assert.Equal(t, []uint64{1, 0, 0, 0, 0, 0}, refusedByLimit(w))

	assert.Nil(t, admin.NewMonitor(admin.MonitorOptions{}).WhatIf(), "no metrics, no answer")
}

// TestWhatIfCountsStartsBeforeTheFirstSample: within the process's first
// hour the panel counts every start since the process started, those before
// the monitor's first sample too (a busy process may take that sample late).
func TestWhatIfCountsStartsBeforeTheFirstSample(t *testing.T) {
	t.Parallel()
	clock, metrics, start := whatIfRig(t)
	m := admin.NewMonitor(admin.MonitorOptions{Metrics: metrics, Clock: clock.Now})
	start("alice", "tv")
	start("alice", "phone")
	clock.Advance(time.Second)
	m.Sample()
	start("bob", "tv")
	start("bob", "phone")
	w := m.WhatIf()
	require.NotNil(t, w)
	assert.Equal(t, uint64(4), w.Starts)
	assert.Equal(t, 1, w.WindowSeconds, "the window is the process's uptime")
	assert.Equal(t, []uint64{2, 0, 0, 0, 0, 0}, refusedByLimit(w))
}
