package proxy

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamgate/streamgate/limiter"
)

// limitLabelMax is the largest limit that gets a label of its own; larger
// ones share limitLabelOver, so that a bad token or header cannot mint series.
const (
	limitLabelMax  = 100
	limitLabelOver = ">100"
)

// limitCounters counts decisions by the limit that applied: the plan's size
// (1, 2, 4 screens…), never the user. Counters are resolved once per label
// pair and kept, so that the hot path costs one atomic load and one add.
type limitCounters struct {
	vec      *prometheus.CounterVec
	resolved [limitLabelMax + 2][3]atomic.Pointer[prometheus.Counter]
}

func newLimitCounters() *limitCounters {
	return &limitCounters{vec: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "streamgate_decisions_by_limit_total",
		Help: "Admission decisions by the per-user limit that applied (the plan) and result: new, refresh or rejected. Limits above 100 share the label \">100\".",
	}, []string{"limit", "result"})}
}

func (c *limitCounters) inc(limit int, r limiter.Result) {
	i := min(max(limit, 0), limitLabelMax+1)
	ri := int(r)
	if ri >= 3 {
		return
	}
	p := c.resolved[i][ri].Load()
	if p == nil {
		label := limitLabelOver
		if i <= limitLabelMax {
			label = strconv.Itoa(i)
		}
		ctr := c.vec.WithLabelValues(label, r.String())
		p = &ctr
		c.resolved[i][ri].Store(p)
	}
	(*p).Inc()
}
