package proxy_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy/proxytest"
)

// TestGateTableFull checks -on-full refuse end to end: a new user meeting a
// memory table full of live users gets a 503 problem and is not proxied,
// while the users in the table keep playing.
func TestGateTableFull(t *testing.T) {
	t.Parallel()
	m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: time.Hour, MaxUsers: 1, OnFull: limiter.OnFullRefuse})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	g := newGateway(t, okOrigin, gatewayOptions{store: m})

	resp, _ := g.get(t, "/a.ts", "alice", "tv")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, body := g.get(t, "/a.ts", "bob", "tv")
	p := proxytest.AssertProblem(t, resp, body, http.StatusServiceUnavailable)
	assert.True(t, strings.HasSuffix(p["type"].(string), "table-full"), "type %v", p["type"])
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	resp, _ = g.get(t, "/a.ts", "alice", "tv")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "alice keeps her slot")
	assert.Equal(t, int64(2), g.origin.hits.Load())
	assert.Equal(t, 1.0, proxytest.MetricValue(t, g.reg, "streamgate_rejections_total", "reason", "table_full"))
	assert.Zero(t, proxytest.MetricValue(t, g.reg, "streamgate_rejections_total", "reason", "store_unavailable"))
	assert.Zero(t, m.Stats().EvictedUsers)
}
