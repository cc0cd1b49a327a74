package admin

import (
	"context"
	"sync"
	"time"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy"
)

// DefaultHistory is how many one-second samples the console's chart shows.
const DefaultHistory = 300

// topCacheTTL bounds how often the busiest users are computed: the memory
// store answers by walking its whole table.
const topCacheTTL = 5 * time.Second

// MonitorOptions configures a Monitor.
type MonitorOptions struct {
	// Metrics are the gate's counters, sampled once per second.
	Metrics *proxy.Metrics
	// Stats, when not nil, adds the store's gauges to each sample.
	Stats limiter.StatsReporter
	// Refusals is the tracker the gate feeds on each 429 (a
	// *limiter.Refusals); nil tracks none.
	Refusals RefusalTracker
	// Top, when not nil, names the users holding the most sessions.
	Top limiter.TopLister
	// History is the number of samples kept. Default DefaultHistory.
	History int
	// Clock is the time source. Default time.Now.
	Clock limiter.Clock
}

// Monitor keeps what the operator console shows over time: a ring of
// one-second samples of the gate's counters, and the busiest users. It adds
// no work to requests: samples are read from the existing counters.
type Monitor struct {
	opts    MonitorOptions
	started time.Time

	mu      sync.Mutex
	ring    []sample
	next    int
	samples int

	topMu   sync.Mutex
	topAt   time.Time
	topList []limiter.UserCount
	// shared is the ranking by shared sessions, cached apart so that only
	// a console showing it pays for its walk of the table.
	shared topCache

	// cmu guards the hourly ring of the concurrency histogram (whatif.go).
	cmu      sync.Mutex
	snaps    []concurrencySnapshot
	snapNext int
	snapN    int
}

// sample is the gate's cumulative counters at one moment.
type sample struct {
	at                         time.Time
	started, refreshed         uint64
	refusedLimit, refusedStore uint64
	active                     int
}

// RefusalTracker is what the monitor and the admin API ask of the refusals
// the gate counts (limiter.Refusals): per user, in total, the most refused
// users, and the window these cover.
type RefusalTracker interface {
	Count(userID string) int
	Total() int
	Top(n int) []limiter.UserCount
	Window() time.Duration
}

// NewMonitor returns a Monitor; Run samples.
func NewMonitor(opts MonitorOptions) *Monitor {
	if r, ok := opts.Refusals.(*limiter.Refusals); ok && r == nil {
		opts.Refusals = nil // a nil tracker tracks none, as nil does
	}
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Monitor{opts: opts, started: opts.Clock(), ring: make([]sample, opts.History+1),
		snaps: make([]concurrencySnapshot, int(whatIfWindow/whatIfStep)+1)}
}

// Run samples once per second until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	m.Sample()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Sample()
		}
	}
}

// Sample records the counters now. Run calls it each second; tests call it
// after moving their clock.
func (m *Monitor) Sample() {
	s := sample{at: m.opts.Clock()}
	if mt := m.opts.Metrics; mt != nil {
		t := mt.Totals()
		s.started, s.refreshed, s.refusedLimit, s.refusedStore = t.Started, t.Refreshed, t.RefusedLimit, t.RefusedStore
	}
	if m.opts.Stats != nil {
		s.active = m.opts.Stats.Stats().ActiveSessions
	}
	m.sampleConcurrency(s.at)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ring[m.next] = s
	m.next = (m.next + 1) % len(m.ring)
	m.samples = min(m.samples+1, len(m.ring))
}

// RatePoint is the gate's activity over the second (or so) before T.
type RatePoint struct {
	// T is the sample time, Unix seconds.
	T int64 `json:"t"`
	// Admitted and Refused are requests per second; Started is the part of
	// Admitted that started a session.
	Admitted float64 `json:"admitted"`
	Started  float64 `json:"started"`
	Refused  float64 `json:"refused"`
	// Active is the number of active sessions at T.
	Active int `json:"active"`
}

// Rates returns one point per sample interval, oldest first.
func (m *Monitor) Rates() []RatePoint {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]RatePoint, 0, max(m.samples-1, 0))
	first := (m.next - m.samples + len(m.ring)) % len(m.ring)
	for i := 1; i < m.samples; i++ {
		prev, cur := m.ring[(first+i-1)%len(m.ring)], m.ring[(first+i)%len(m.ring)]
		dt := cur.at.Sub(prev.at).Seconds()
		if dt <= 0 {
			continue
		}
		out = append(out, RatePoint{
			T:        cur.at.Unix(),
			Admitted: perSecond(cur.started+cur.refreshed, prev.started+prev.refreshed, dt),
			Started:  perSecond(cur.started, prev.started, dt),
			Refused:  perSecond(cur.refusedLimit+cur.refusedStore, prev.refusedLimit+prev.refusedStore, dt),
			Active:   cur.active,
		})
	}
	return out
}

func perSecond(cur, prev uint64, dt float64) float64 {
	if cur < prev {
		return 0
	}
	return float64(cur-prev) / dt
}

// totals returns the gate's counters now.
func (m *Monitor) totals() Totals {
	var t proxy.DecisionTotals
	if mt := m.opts.Metrics; mt != nil {
		t = mt.Totals()
	}
	return Totals{Started: t.Started, Refreshed: t.Refreshed, RefusedLimit: t.RefusedLimit, RefusedStore: t.RefusedStore}
}

// TopActive returns up to n users holding the most active sessions, or nil
// when the store cannot tell. The answer is cached for a few seconds.
func (m *Monitor) TopActive(n int) []limiter.UserCount {
	if m.opts.Top == nil {
		return nil
	}
	m.topMu.Lock()
	defer m.topMu.Unlock()
	now := m.opts.Clock()
	if m.topList == nil || now.Sub(m.topAt) >= topCacheTTL || now.Before(m.topAt) {
		m.topList = m.opts.Top.TopUsers(MaxTop)
		m.topAt = now
	}
	return m.topList[:min(n, len(m.topList))]
}

// TopShared returns up to n users holding the most active sessions used from
// more than one client network, or nil when the store cannot tell. The answer
// is cached for a few seconds, as TopActive's.
func (m *Monitor) TopShared(n int) []limiter.UserCount {
	if m.opts.Top == nil {
		return nil
	}
	return m.shared.get(m.opts.Clock(), n, m.opts.Top.TopShared)
}

// topCache keeps a ranking for topCacheTTL.
type topCache struct {
	mu   sync.Mutex
	at   time.Time
	list []limiter.UserCount
}

func (c *topCache) get(now time.Time, n int, compute func(int) []limiter.UserCount) []limiter.UserCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.list == nil || now.Sub(c.at) >= topCacheTTL || now.Before(c.at) {
		c.list = compute(MaxTop)
		c.at = now
	}
	return c.list[:min(n, len(c.list))]
}

// TopRefused returns up to n users refused most in the refusal window.
func (m *Monitor) TopRefused(n int) []limiter.UserCount {
	if m.opts.Refusals == nil {
		return []limiter.UserCount{}
	}
	return m.opts.Refusals.Top(n)
}

// RefusalCount returns the refusals of userID in the refusal window, and
// false without a tracker.
func (m *Monitor) RefusalCount(userID string) (int, bool) {
	if m.opts.Refusals == nil {
		return 0, false
	}
	return m.opts.Refusals.Count(userID), true
}

// RefusalTotal returns the refusals in the refusal window, 0 without a tracker.
func (m *Monitor) RefusalTotal() int {
	if m.opts.Refusals == nil {
		return 0
	}
	return m.opts.Refusals.Total()
}

// RefusalWindow is how far back refusals count, or 0 without a tracker.
func (m *Monitor) RefusalWindow() time.Duration {
	if m.opts.Refusals == nil {
		return 0
	}
	return m.opts.Refusals.Window()
}
