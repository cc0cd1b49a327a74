package admin_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/storetest"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/admin"
)

// countingTop counts how often the store is asked for its busiest users.
type countingTop struct{ calls, shared int }

func (c *countingTop) TopUsers(n int) []limiter.UserCount {
	c.calls++
	return []limiter.UserCount{{UserID: "alice", Count: 3}, {UserID: "bob", Count: 1}}[:min(n, 2)]
}

func (c *countingTop) TopShared(n int) []limiter.UserCount {
	c.shared++
	return []limiter.UserCount{{UserID: "bob", Count: 1}}[:min(n, 1)]
}

func TestMonitorKeepsTheLastSamplesOnly(t *testing.T) {
	t.Parallel()
	clock := storetest.NewClock(time.Unix(1_000, 0))
	m := admin.NewMonitor(admin.MonitorOptions{Metrics: proxy.NewMetrics(prometheus.NewRegistry(), nil), History: 3, Clock: clock.Now})
	assert.Empty(t, m.Rates(), "no interval yet")
	for range 6 {
		m.Sample()
		clock.Advance(time.Second)
	}
	rates := m.Rates()
	require.Len(t, rates, 3)
	assert.Equal(t, []int64{1_003, 1_004, 1_005}, []int64{rates[0].T, rates[1].T, rates[2].T}, "oldest first, the newest kept")
}

func TestMonitorCachesTheBusiestUsers(t *testing.T) {
	t.Parallel()
	clock := storetest.NewClock(time.Unix(1_000, 0))
	top := &countingTop{}
	m := admin.NewMonitor(admin.MonitorOptions{Top: top, Clock: clock.Now})
	assert.Equal(t, []limiter.UserCount{{UserID: "alice", Count: 3}}, m.TopActive(1))
	assert.Len(t, m.TopActive(10), 2)
	assert.Equal(t, 1, top.calls, "answered from the cache")
	clock.Advance(5 * time.Second)
	m.TopActive(10)
	assert.Equal(t, 2, top.calls, "recomputed once the cache is 5 s old")

	assert.Zero(t, top.shared, "nobody asked for the ranking by shared sessions")
	assert.Equal(t, []limiter.UserCount{{UserID: "bob", Count: 1}}, m.TopShared(10))
	m.TopShared(1)
	assert.Equal(t, 1, top.shared, "answered from its own cache")
	clock.Advance(5 * time.Second)
	m.TopShared(1)
	assert.Equal(t, 2, top.shared, "recomputed once its cache is 5 s old")

	none := admin.NewMonitor(admin.MonitorOptions{})
	assert.Nil(t, none.TopActive(10), "a store that cannot list users gives no ranking")
	assert.Empty(t, none.TopRefused(10))
	assert.Nil(t, none.TopShared(10))
}
