package limiter

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// BenchmarkRenewalScan is the refresh table's side of the flusher at a
// steady state like bench/'s: 10,000 users × 3 sessions, 10,000 requests a
// second spread over them at random, all answered from the table, on a
// simulated clock. Each op is one flusher tick: a tick's requests
// (lookup), then renewals and a renewed for each session it returns, as a
// store that found them all active. It reports the flusher's CPU per
// request, which the lookups do not count.
func BenchmarkRenewalScan(b *testing.B) {
	const (
		users, perUser = 10_000, 3
		rate           = 10_000 // requests per second
		interval       = 10 * time.Second
	)
	tick := interval / flushTicks
	clock := &manualClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	c, err := newRefreshCache(int64(interval), int64(tick), 4*users, clock.Now)
	if err != nil {
		b.Fatal(err)
	}
	reqs := make([]Request, users*perUser)
	for i := range reqs {
		u := "user-" + strconv.Itoa(i/perUser)
		reqs[i] = Request{UserID: u, SessionID: u + "-s" + strconv.Itoa(i%perUser), Limit: perUser}
		c.record(reqs[i].UserID, reqs[i].SessionID, 0, perUser, c.now(), admitted{})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	perTick := int(rate * tick / time.Second)
	var flusher time.Duration
	requests := 0
	b.ResetTimer()
	for b.Loop() {
		for range perTick {
			clock.Advance(time.Second / rate)
			req := &reqs[rng.IntN(len(reqs))]
			if _, hit, _ := c.lookup(req, perUser); !hit {
				c.record(req.UserID, req.SessionID, 0, perUser, c.now(), admitted{})
			}
		}
		requests += perTick
		start := time.Now()
		at := c.now()
		for _, t := range c.renewals(at) {
			c.renewed(t.sessionRef, at, perUser)
		}
		flusher += time.Since(start)
	}
	b.ReportMetric(float64(flusher.Nanoseconds())/float64(requests), "flusher-ns/request")
}
