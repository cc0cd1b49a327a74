package proxy_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/proxytest"
)

// policyGateway is the gateway over a memory store with rules, on the
// gateway's clock.
func policyGateway(t *testing.T, rules limiter.Rules) (*gateway, *limiter.Memory) {
	t.Helper()
	clock := newTestClock()
	m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: testTTL, MaxUsers: 1000, Clock: clock.Now, SweepInterval: -1, Rules: rules})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	g := newGateway(t, okOrigin, gatewayOptions{store: m})
	g.clock = clock
	return g, m
}

func assertEnded(t *testing.T, g *gateway, user, session, reason string) {
	t.Helper()
	hits := g.origin.hits.Load()
	resp, body := g.get(t, "/vod/seg-9.ts", user, session)
	p := proxytest.AssertProblem(t, resp, body, http.StatusGone)
	assert.Equal(t, "https://streamgate.io/problems/session-ended", p["type"])
	assert.Equal(t, reason, p["reason"])
	assert.Equal(t, hits, g.origin.hits.Load(), "an ended session is not proxied")
}

func TestEvictOldestEndsTheLeastRecentlyActiveSession(t *testing.T) {
	t.Parallel()
	g, _ := policyGateway(t, limiter.Rules{OnLimit: limiter.EvictOldest})
	for _, s := range []string{"tv", "phone", "laptop"} {
		resp, _ := g.get(t, "/vod/seg-1.ts", "alice", s)
		require.Equal(t, http.StatusOK, resp.StatusCode, s)
		g.clock.Advance(time.Second)
	}
	// The tv started first but played last: the phone is the least recently active.
	resp, _ := g.get(t, "/vod/seg-2.ts", "alice", "tv")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	g.clock.Advance(time.Second)

	resp, _ = g.get(t, "/vod/seg-1.ts", "alice", "tablet")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the fourth is admitted")
	assertEnded(t, g, "alice", "phone", "replaced")
	for _, s := range []string{"tv", "laptop", "tablet"} {
		resp, _ := g.get(t, "/vod/seg-3.ts", "alice", s)
		assert.Equal(t, http.StatusOK, resp.StatusCode, "%s keeps playing", s)
	}
	resp, _ = g.do(t, g.request(t, http.MethodPost, proxy.HeartbeatPath, "alice", "phone"))
	assert.Equal(t, http.StatusGone, resp.StatusCode, "the heartbeat endpoint says so too")

	assert.Equal(t, 1.0, proxytest.MetricValue(t, g.reg, "streamgate_evictions_total", "policy", "evict-oldest"))
	assert.Equal(t, 2.0, proxytest.MetricValue(t, g.reg, "streamgate_tombstone_hits_total", "reason", "replaced"))
	assert.Equal(t, 0.0, proxytest.MetricValue(t, g.reg, "streamgate_rejections_total", "reason", "limit"))
	assert.Equal(t, 4.0, proxytest.MetricValue(t, g.reg, "streamgate_concurrent_sessions"), "each start observed")
}

func TestEndedByTheOperatorMeansEnded(t *testing.T) {
	t.Parallel()
	g, m := policyGateway(t, limiter.Rules{TombstoneTTL: time.Minute})
	for _, s := range []string{"tv", "phone"} {
		resp, _ := g.get(t, "/vod/seg-1.ts", "alice", s)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	ended, err := m.End(context.Background(), "alice", "tv", limiter.EndedByOperator)
	require.NoError(t, err)
	require.True(t, ended)
	assertEnded(t, g, "alice", "tv", "ended-by-operator")
	assert.Equal(t, 1.0, proxytest.MetricValue(t, g.reg, "streamgate_tombstone_hits_total", "reason", "ended-by-operator"))

	n, err := m.EndAll(context.Background(), "alice", limiter.EndedByOperator)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assertEnded(t, g, "alice", "phone", "ended-by-operator")

	resp, _ := g.get(t, "/vod/seg-1.ts", "alice", "tv-new-session")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a new session plays")

	g.clock.Advance(time.Minute + time.Second)
	resp, _ = g.get(t, "/vod/seg-1.ts", "alice", "tv")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "after -tombstone-ttl the id may start again")
}

func TestThePlayersOwnEndLeavesNoTombstone(t *testing.T) {
	t.Parallel()
	g, _ := policyGateway(t, limiter.Rules{})
	resp, _ := g.get(t, "/vod/seg-1.ts", "alice", "tv")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = g.do(t, g.request(t, http.MethodDelete, proxy.SessionPath, "alice", "tv"))
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	resp, _ = g.get(t, "/vod/seg-1.ts", "alice", "tv")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the same id plays again at once")
	assert.Equal(t, 0.0, proxytest.MetricValue(t, g.reg, "streamgate_tombstone_hits_total", "reason", "ended-by-operator"))
}

func TestShadowModeAdmitsEverythingAndCountsWhatItWouldRefuse(t *testing.T) {
	t.Parallel()
	g, _ := policyGateway(t, limiter.Rules{Shadow: true})
	for _, s := range []string{"a", "b", "c", "d", "e"} {
		resp, _ := g.get(t, "/vod/seg-1.ts", "alice", s)
		assert.Equal(t, http.StatusOK, resp.StatusCode, s)
	}
	resp, _ := g.get(t, "/vod/seg-2.ts", "alice", "a")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a refresh is no start")
	assert.Equal(t, 2.0, proxytest.MetricValue(t, g.reg, "streamgate_shadow_rejections_total"), "the 4th and 5th are over the limit of 3")
	assert.Equal(t, 0.0, proxytest.MetricValue(t, g.reg, "streamgate_rejections_total", "reason", "limit"))
	assert.Equal(t, 5.0, proxytest.MetricValue(t, g.reg, "streamgate_concurrent_sessions"))
	assert.Equal(t, 5.0, proxytest.MetricValue(t, g.reg, "streamgate_admissions_total", "result", "new"))
}

func TestConcurrentSessionsHistogramWhenEnforcing(t *testing.T) {
	t.Parallel()
	g, _ := policyGateway(t, limiter.Rules{})
	for _, s := range []string{"a", "b", "c", "d"} {
		_, _ = g.get(t, "/vod/seg-1.ts", "alice", s)
	}
	_, _ = g.get(t, "/vod/seg-1.ts", "bob", "x")
	families, err := g.reg.Gather()
	require.NoError(t, err)
	var cum []uint64
	var bounds []float64
	for _, f := range families {
		if f.GetName() == "streamgate_concurrent_sessions" {
			h := f.GetMetric()[0].GetHistogram()
			assert.Equal(t, uint64(4), h.GetSampleCount(), "four starts; alice's refused fourth is none")
			for _, b := range h.GetBucket() {
				cum, bounds = append(cum, b.GetCumulativeCount()), append(bounds, b.GetUpperBound())
			}
		}
	}
	assert.Equal(t, proxy.ConcurrentBuckets, bounds)
	require.Len(t, cum, len(proxy.ConcurrentBuckets))
	assert.Equal(t, []uint64{2, 3, 4, 4}, cum[:4], "bob's and alice's first at 1, then 2, then 3")
}
