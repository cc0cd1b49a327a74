package limiter

import (
	"math/rand/v2"
	"runtime"
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
			c.renewed(t.sessionRef, at, at+int64(time.Minute), perUser)
		}
		flusher += time.Since(start)
	}
	b.ReportMetric(float64(flusher.Nanoseconds())/float64(requests), "flusher-ns/request")
}

// BenchmarkRefreshCacheHeapPerHousehold reports the Go heap the refresh
// table holds per user of three sessions, each started in turn for all
// users, as an evening starts: the Redis store's table, which lies in Go's
// heap, where GOGC multiplies it.
func BenchmarkRefreshCacheHeapPerHousehold(b *testing.B) {
	const users, perUser = 100_000, 3
	uids, sids := ids("user-", users), ids("-s", perUser)
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c, err := newRefreshCache(int64(time.Hour), int64(time.Minute), 2*users, time.Now)
		if err != nil {
			b.Fatal(err)
		}
		for s := range perUser {
			for _, u := range uids {
				c.record(u, sids[s], 0, s+1, c.now(), admitted{})
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric((float64(after.HeapAlloc)-float64(before.HeapAlloc))/users, "goheapB/user")
		runtime.KeepAlive(c)
	}
}
