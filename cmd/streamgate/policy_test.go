package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/config"
	"github.com/streamgate/streamgate/limiter"
)

func endedReason(t *testing.T, body string) string {
	t.Helper()
	var p struct{ Type, Reason string }
	require.NoError(t, json.Unmarshal([]byte(body), &p), body)
	assert.Equal(t, "https://streamgate.io/problems/session-ended", p.Type)
	return p.Reason
}

func TestRunEvictOldestAndOperatorEnds(t *testing.T) {
	t.Parallel()
	origin := newOrigin(t, segmentOrigin)
	in := start(t, "-upstream", origin.URL, "-on-limit", "evict-oldest")
	p := newPlayer(t, in.proxyURL)
	admin := newPlayer(t, in.adminURL)
	for _, s := range []string{"tv", "phone", "laptop", "tablet"} {
		resp, _ := p.do(t, http.MethodGet, "/seg-1.ts", "alice", s)
		require.Equal(t, http.StatusOK, resp.StatusCode, s)
	}
	resp, body := p.do(t, http.MethodGet, "/seg-2.ts", "alice", "tv")
	require.Equal(t, http.StatusGone, resp.StatusCode, "the oldest was replaced by the fourth")
	assert.Equal(t, "replaced", endedReason(t, body))
	for _, s := range []string{"phone", "laptop", "tablet"} {
		resp, _ := p.do(t, http.MethodGet, "/seg-2.ts", "alice", s)
		assert.Equal(t, http.StatusOK, resp.StatusCode, "%s keeps playing", s)
	}

	resp, _ = admin.do(t, http.MethodDelete, "/v1/users/alice/streams/phone", "", "")
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	resp, body = p.do(t, http.MethodGet, "/seg-3.ts", "alice", "phone")
	require.Equal(t, http.StatusGone, resp.StatusCode, "ended by the operator means ended")
	assert.Equal(t, "ended-by-operator", endedReason(t, body))

	resp, _ = admin.do(t, http.MethodDelete, "/v1/users/alice/streams", "", "")
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	for _, s := range []string{"laptop", "tablet"} {
		resp, body := p.do(t, http.MethodGet, "/seg-3.ts", "alice", s)
		require.Equal(t, http.StatusGone, resp.StatusCode, s)
		assert.Equal(t, "ended-by-operator", endedReason(t, body))
	}

	_, metrics := admin.do(t, http.MethodGet, "/metrics", "", "")
	assert.Contains(t, metrics, `streamgate_evictions_total{policy="evict-oldest"} 1`)
	assert.Contains(t, metrics, `streamgate_tombstone_hits_total{reason="replaced"} 1`)
	assert.Contains(t, metrics, `streamgate_tombstone_hits_total{reason="ended-by-operator"} 3`)
	assert.Contains(t, metrics, `streamgate_concurrent_sessions_count 4`)
}

func TestRunShadowMode(t *testing.T) {
	t.Parallel()
	origin := newOrigin(t, segmentOrigin)
	in := start(t, "-upstream", origin.URL, "-enforce=false", "-max-streams", "2")
	p := newPlayer(t, in.proxyURL)
	for _, s := range []string{"tv", "phone", "laptop", "tablet"} {
		resp, _ := p.do(t, http.MethodGet, "/seg-1.ts", "alice", s)
		assert.Equal(t, http.StatusOK, resp.StatusCode, "shadow mode refuses nothing: %s", s)
	}
	_, metrics := newPlayer(t, in.adminURL).do(t, http.MethodGet, "/metrics", "", "")
	assert.Contains(t, metrics, "streamgate_shadow_rejections_total 2")
	assert.Contains(t, metrics, `streamgate_rejections_total{reason="limit"} 0`)
	assert.Contains(t, metrics, `streamgate_concurrent_sessions_bucket{le="2"} 2`)
	assert.Contains(t, metrics, `streamgate_concurrent_sessions_bucket{le="4"} 4`)
}

func TestRulesFromTheFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  func(*config.Config)
		want limiter.Rules
	}{
		{name: "defaults", cfg: func(*config.Config) {}, want: limiter.Rules{TombstoneTTL: 10 * time.Minute}},
		{name: "evict-oldest", cfg: func(c *config.Config) { c.OnLimit = config.OnLimitEvictOldest },
			want: limiter.Rules{OnLimit: limiter.EvictOldest, TombstoneTTL: 10 * time.Minute}},
		{name: "shadow", cfg: func(c *config.Config) { c.Enforce = false }, want: limiter.Rules{Shadow: true, TombstoneTTL: 10 * time.Minute}},
		{name: "no tombstones", cfg: func(c *config.Config) { c.TombstoneTTL = 0 }, want: limiter.Rules{TombstoneTTL: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := config.Default()
			tt.cfg(&c)
			tt.want.MaxLease = c.MaxLease
			assert.Equal(t, tt.want, sessionRules(c))
		})
	}
}
