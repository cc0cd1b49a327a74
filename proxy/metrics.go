package proxy

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/streamgate/streamgate/limiter"
)

// Metrics are the gate's Prometheus metrics. Labels are fixed words, never a
// user or session id, so cardinality stays constant.
type Metrics struct {
	admittedNew     prometheus.Counter
	admittedRefresh prometheus.Counter
	rejectedLimit   prometheus.Counter
	rejectedStore   prometheus.Counter
	rejectedFull    prometheus.Counter
	degraded        *prometheus.CounterVec
	invalid         *prometheus.CounterVec
	decision        prometheus.Histogram
	upstreamErrors  *prometheus.CounterVec
	clientClosed    *prometheus.CounterVec
	byLimit         *limitCounters
	shared          prometheus.Counter
	minted          prometheus.Counter
	policy          *policyMetrics
}

// NewMetrics registers the gate's metrics on reg. stats, when not nil, is read
// at each scrape for the store's gauges and counters.
func NewMetrics(reg prometheus.Registerer, stats limiter.StatsReporter) *Metrics {
	admissions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "streamgate_admissions_total",
		Help: "Requests admitted by the gate, by whether they started a new session or refreshed an active one.",
	}, []string{"result"})
	rejections := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "streamgate_rejections_total",
		Help: "Requests the gate refused: 429 over the limit, 503 when the store could not be asked and -store-failure is closed, or 503 when -on-full refuse met a table full of live users.",
	}, []string{"reason"})
	m := &Metrics{
		admittedNew:     admissions.WithLabelValues("new"),
		admittedRefresh: admissions.WithLabelValues("refresh"),
		rejectedLimit:   rejections.WithLabelValues("limit"),
		rejectedStore:   rejections.WithLabelValues("store_unavailable"),
		rejectedFull:    rejections.WithLabelValues("table_full"),
		degraded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamgate_degraded_decisions_total",
			Help: "Decisions taken by the -store-failure policy because the store could not be asked in time.",
		}, []string{"policy"}),
		invalid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamgate_invalid_requests_total",
			Help: "Requests answered 400 or 401 because their identity was missing or malformed.",
		}, []string{"reason"}),
		decision: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "streamgate_decision_duration_seconds",
			Help:    "Time taken to decide whether to admit a request, store call included.",
			Buckets: []float64{5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, .01, .025, .05, .1, .25},
		}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamgate_upstream_errors_total",
			Help: "Requests that got no answer from the origin: unreachable (502) or timeout (504); and manifests refused past 16 MiB (502, manifest_too_large) or while rewriting was at its memory bound (503, rewrite_busy); and answers to a manifest request without a session that were no manifest (502, not_manifest).",
		}, []string{"reason"}),
		clientClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamgate_client_closed_total",
			Help: "Requests whose player hung up before the answer (499 in the log), by phase: while the store (store) or the origin (upstream) was asked. Not an origin failure.",
		}, []string{"phase"}),
		minted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "streamgate_minted_sessions_total",
			Help: "Session ids the gate minted for manifests requested without one (-mint-sessions); a slot is taken only when one comes back.",
		}),
	}
	m.shared = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "streamgate_shared_sessions_total",
		Help: "Sessions used from a second client network (IPv4 /24, IPv6 /56) while another network was using them.",
	})
	reg.MustRegister(admissions, rejections, m.degraded, m.invalid, m.decision, m.upstreamErrors, m.clientClosed, m.minted, m.shared)
	m.byLimit = newLimitCounters()
	reg.MustRegister(m.byLimit.vec)
	m.policy = newPolicyMetrics(reg)
	// Pre-create the label values operators alert on, so that rates exist from zero.
	for _, r := range []string{"missing_user", "missing_session", "malformed_user", "malformed_session",
		"missing_token", "invalid_token", "expired_token", "malformed_limit"} {
		m.invalid.WithLabelValues(r)
	}
	for _, r := range []string{"unreachable", "timeout"} {
		m.upstreamErrors.WithLabelValues(r)
	}
	for _, p := range []string{phaseStore, phaseUpstream} {
		m.clientClosed.WithLabelValues(p)
	}
	if stats != nil {
		reg.MustRegister(&statsCollector{stats: stats})
	}
	return m
}

func (m *Metrics) observeDecision(d time.Duration) { m.decision.Observe(d.Seconds()) }

// DecisionTotals are the gate's decisions since the process started.
type DecisionTotals struct {
	Started, Refreshed         uint64
	RefusedLimit, RefusedStore uint64
}

// Totals reads the gate's decision counters, for the admin console's monitor.
func (m *Metrics) Totals() DecisionTotals {
	return DecisionTotals{
		Started: counterValue(m.admittedNew), Refreshed: counterValue(m.admittedRefresh),
		RefusedLimit: counterValue(m.rejectedLimit), RefusedStore: counterValue(m.rejectedStore),
	}
}

func counterValue(c prometheus.Counter) uint64 {
	var pb dto.Metric
	if err := c.Write(&pb); err != nil {
		return 0
	}
	return uint64(pb.GetCounter().GetValue())
}

// statsCollector reads the store's counters once per scrape, so the hot path
// updates nothing but the store's own atomics.
type statsCollector struct {
	stats limiter.StatsReporter
}

var (
	descActive   = prometheus.NewDesc("streamgate_active_sessions", "Active sessions this replica knows of.", nil, nil)
	descTracked  = prometheus.NewDesc("streamgate_tracked_users", "Users in the in-memory table.", nil, nil)
	descEvicted  = prometheus.NewDesc("streamgate_evicted_users_total", "Users with active sessions dropped because the in-memory table was full (-max-users).", nil, nil)
	descCalls    = prometheus.NewDesc("streamgate_store_calls_total", "Calls made to the store (Redis round trips).", nil, nil)
	descCallErrs = prometheus.NewDesc("streamgate_store_errors_total", "Store calls that failed or passed -store-timeout.", nil, nil)
)

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descActive, descTracked, descEvicted, descCalls, descCallErrs} {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats.Stats()
	ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(s.ActiveSessions))
	ch <- prometheus.MustNewConstMetric(descTracked, prometheus.GaugeValue, float64(s.TrackedUsers))
	ch <- prometheus.MustNewConstMetric(descEvicted, prometheus.CounterValue, float64(s.EvictedUsers))
	ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(s.StoreCalls))
	ch <- prometheus.MustNewConstMetric(descCallErrs, prometheus.CounterValue, float64(s.StoreErrors))
}
