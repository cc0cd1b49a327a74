package main

import (
	"context"
	"fmt"
	"time"
)

// sample is one wrk run of one target on one path.
type sample struct {
	Round       int     `json:"round"`
	Target      string  `json:"target"`
	Path        string  `json:"path"`
	RPS         float64 `json:"rps"`
	P50US       int64   `json:"p50_us"`
	P99US       int64   `json:"p99_us"`
	CPUPerReqUS float64 `json:"cpu_us_per_request"`
	// RSSMiB is the proxy's resident memory right after the run.
	RSSMiB float64 `json:"rss_mib"`
	// AnonMiB is the part of RSSMiB that is no file's pages (rssBytes).
	AnonMiB  float64 `json:"anon_mib"`
	Requests int64   `json:"requests"`
	Sent     int64   `json:"sent"`
	Errors   int64   `json:"errors"`
	// Gate counters, deltas over the run (streamgate targets only).
	Gate       bool    `json:"gate"`
	Admitted   float64 `json:"admitted"`
	Refused    float64 `json:"refused"`
	StoreCalls float64 `json:"store_calls"`
	// StoreCPUPerReqUS is redis-server's CPU per request (Redis targets).
	StoreCPUPerReqUS float64 `json:"store_cpu_us_per_request,omitempty"`
	// GCPerReqUS is the CPU of the proxy's collector per request, a part of
	// CPUPerReqUS (Go targets, GoRuntime): what GOGC trades against memory.
	GoRuntime  bool    `json:"go_runtime,omitempty"`
	GCPerReqUS float64 `json:"gc_cpu_us_per_request,omitempty"`
	GCCycles   int     `json:"gc_cycles,omitempty"`
}

func measure(ctx context.Context, t *target, ld load, pathName, path string, d time.Duration, ticks int64) (sample, error) {
	s := sample{Target: t.name, Path: pathName, Gate: t.admin != "", GoRuntime: t.goRuntime}
	var before gateCounters
	if s.Gate {
		var err error
		if before, err = settledGate(ctx, t.admin); err != nil {
			return s, fmt.Errorf("%s metrics: %w", t.name, err)
		}
	}
	log0, err := t.main.LogSize()
	if err != nil {
		return s, err
	}
	cpu0, err := cpuTicks(t.main)
	if err != nil {
		return s, err
	}
	store0, err := storeTicks(t)
	if err != nil {
		return s, err
	}
	r, err := runWrk(ctx, ld, t, path, d)
	if err != nil {
		return s, fmt.Errorf("%s %s: %w", t.name, pathName, err)
	}
	cpu1, err := cpuTicks(t.main)
	if err != nil {
		return s, err
	}
	store1, err := storeTicks(t)
	if err != nil {
		return s, err
	}
	trace, err := t.main.LogFrom(log0)
	if err != nil {
		return s, err
	}
	gcMS, cycles := gcCPU(trace)
	rss, anon, err := rssBytes(t.main)
	if err != nil {
		return s, err
	}
	s.RSSMiB, s.AnonMiB = float64(rss)/(1<<20), float64(anon)/(1<<20)
	s.Requests, s.Sent, s.Errors = r.Requests, r.Sent, r.errors()
	s.P50US, s.P99US = r.P50US, r.P99US
	if r.DurationUS > 0 {
		s.RPS = float64(r.Requests) / (float64(r.DurationUS) / 1e6)
	}
	if r.Requests > 0 {
		s.CPUPerReqUS = float64(cpu1-cpu0) * 1e6 / float64(ticks) / float64(r.Requests)
		s.StoreCPUPerReqUS = float64(store1-store0) * 1e6 / float64(ticks) / float64(r.Requests)
		s.GCPerReqUS, s.GCCycles = gcMS*1e3/float64(r.Requests), cycles
	}
	if s.Gate {
		after, err := settledGate(ctx, t.admin)
		if err != nil {
			return s, fmt.Errorf("%s metrics: %w", t.name, err)
		}
		s.Admitted = after.admitted - before.admitted
		s.Refused = after.rejected - before.rejected + after.invalid - before.invalid
		s.StoreCalls = after.storeCalls - before.storeCalls
	}
	return s, nil
}

// storeTicks is the CPU time of t's store process, 0 without one.
func storeTicks(t *target) (int64, error) {
	if t.store == nil {
		return 0, nil
	}
	return cpuTicks(t.store)
}

// problems lists what makes this sample wrong for -check.
func (s sample) problems(conns int) []string {
	var out []string
	where := fmt.Sprintf("round %d %s %s", s.Round, s.Target, s.Path)
	if s.Requests == 0 {
		out = append(out, where+": no request completed")
	}
	if s.Errors > 0 {
		out = append(out, fmt.Sprintf("%s: %d errors or non-2xx answers", where, s.Errors))
	}
	if s.Gate {
		// wrk stops with up to one request in flight per connection; the
		// gate may or may not have decided those.
		if s.Admitted > float64(s.Sent) || s.Admitted < float64(s.Sent-int64(conns)) {
			out = append(out, fmt.Sprintf("%s: gate admitted %.0f, wrk sent %d", where, s.Admitted, s.Sent))
		}
		if s.Refused > 0 {
			out = append(out, fmt.Sprintf("%s: gate refused %.0f requests that were within the limit", where, s.Refused))
		}
	}
	return out
}
