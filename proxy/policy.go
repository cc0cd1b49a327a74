package proxy

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/streamgate/streamgate/limiter"
)

// ConcurrentBuckets are the upper bounds of streamgate_concurrent_sessions:
// one per session up to 10, then coarser. Whole numbers, so that "how many
// starts had more than N sessions" is read off a bucket for N up to 10.
var ConcurrentBuckets = []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 50}

// policyMetrics count what the session policies did: evictions by
// evict-oldest, requests of ended sessions, what shadow mode let through,
// and how many sessions a user held each time one started.
type policyMetrics struct {
	evicted    prometheus.Counter
	tombstones map[limiter.EndReason]prometheus.Counter
	shadow     prometheus.Counter
	concurrent prometheus.Histogram
}

func newPolicyMetrics(reg prometheus.Registerer) *policyMetrics {
	evictions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "streamgate_evictions_total",
		Help: "Sessions ended to make room for a newer session of the same user, by the -on-limit policy that ended them.",
	}, []string{"policy"})
	hits := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "streamgate_tombstone_hits_total",
		Help: "Requests of a session ended by the operator or by evict-oldest, answered 410, by why it ended.",
	}, []string{"reason"})
	m := &policyMetrics{
		evicted: evictions.WithLabelValues("evict-oldest"),
		tombstones: map[limiter.EndReason]prometheus.Counter{
			limiter.Replaced:        hits.WithLabelValues(limiter.Replaced.String()),
			limiter.EndedByOperator: hits.WithLabelValues(limiter.EndedByOperator.String()),
		},
		shadow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "streamgate_shadow_rejections_total",
			Help: "Sessions shadow mode (-enforce=false) admitted that enforcing would have refused (or, with evict-oldest, made room for).",
		}),
		concurrent: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "streamgate_concurrent_sessions",
			Help:    "A user's active sessions, the new one included, each time a session starts: the demand a limit would cut.",
			Buckets: ConcurrentBuckets,
		}),
	}
	reg.MustRegister(evictions, hits, m.shadow, m.concurrent)
	return m
}

// started records a session start: its user's sessions, the one it
// replaced, or that shadow mode let it through.
func (m *policyMetrics) started(d limiter.Decision) {
	m.concurrent.Observe(float64(d.Active))
	if d.Evicted != "" {
		m.evicted.Inc()
	}
	if d.WouldReject {
		m.shadow.Inc()
	}
}

func (m *policyMetrics) tombstoneHit(r limiter.EndReason) {
	if c, ok := m.tombstones[r]; ok {
		c.Inc()
	}
}

// ConcurrentCounts reads streamgate_concurrent_sessions: the cumulative
// count of starts with at most ConcurrentBuckets[i] sessions, and the total.
func (m *Metrics) ConcurrentCounts() (cumulative []uint64, total uint64) {
	var pb dto.Metric
	if err := m.policy.concurrent.Write(&pb); err != nil {
		return nil, 0
	}
	h := pb.GetHistogram()
	for _, b := range h.GetBucket() {
		cumulative = append(cumulative, b.GetCumulativeCount())
	}
	return cumulative, h.GetSampleCount()
}

// endedProblem is the 410 answer to a session that was ended.
type endedProblem struct {
	problem
	Reason string `json:"reason"`
}

func writeEndedProblem(w http.ResponseWriter, reason limiter.EndReason) {
	detail := "An operator ended this playback session. Start a new session to play again."
	if reason == limiter.Replaced {
		detail = "A newer session of this account took this session's place (the account's limit of concurrent streams was reached). Start a new session to play here again."
	}
	writeProblem(w, http.StatusGone, endedProblem{
		problem: newProblem(http.StatusGone, "session-ended", "Session ended", detail),
		Reason:  reason.String(),
	})
}
