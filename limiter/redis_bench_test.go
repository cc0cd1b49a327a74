package limiter_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/streamgate/streamgate/config"
	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/redistest"
	"github.com/streamgate/streamgate/limiter/storetest"
)

var rpsPattern = regexp.MustCompile(`([0-9.]+) requests per second`)

// benchCallers is the number of concurrent callers of the throughput
// benchmarks, as many as redis-benchmark's clients (-c).
const benchCallers = 64

// benchUsers is how many users the callers spread over (redis-benchmark -r).
const benchUsers = 10_000

// BenchmarkRedisDecisions measures admission decisions per second against a
// local redis-server with 64 concurrent callers, and redis-benchmark running
// the same script (EVALSHA) with 64 clients against the same server in the
// same run, so that the two can be compared:
//
//	go test -run '^$' -bench BenchmarkRedisDecisions -benchtime 200000x ./limiter/
//
// Both refresh one session of a user drawn from 10,000 (the first call of a
// user starts it), every decision a round trip: the refresh cache is off.
func BenchmarkRedisDecisions(b *testing.B) {
	srv := redistest.Start(b)
	src, err := os.ReadFile("redis_admit.lua")
	if err != nil {
		b.Fatal(err)
	}
	sum := sha1.Sum(src)
	sha := hex.EncodeToString(sum[:])
	if _, err := srv.Do("SCRIPT", "LOAD", string(src)); err != nil {
		b.Fatal(err)
	}
	keys := make([]string, benchUsers)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}

	b.Run("streamgate", func(b *testing.B) {
		r, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: time.Minute, Timeout: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		s, err := limiter.NewGuard(r, limiter.GuardOptions{Policy: limiter.FailClosed, TTL: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		ctx := context.Background()
		var seq atomic.Int64
		b.SetParallelism((benchCallers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.ResetTimer()
		start, cpu0 := time.Now(), processCPU()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				u := keys[int(seq.Add(1))%benchUsers]
				if _, err := s.Admit(ctx, limiter.Request{UserID: u, SessionID: "s1", Limit: 3}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "decisions/s")
		// The client's own cost: redis-server is a child process, not counted.
		b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/1e3/float64(b.N), "client-cpu-µs/decision")
	})

	b.Run("redis-benchmark", func(b *testing.B) {
		if _, err := exec.LookPath("redis-benchmark"); err != nil {
			b.Fatal("redis-benchmark is not installed: make deps installs it (Debian package redis-tools)")
		}
		port := srv.Addr()[len("127.0.0.1:"):]
		// __rand_int__ becomes a random number below -r: a random user.
		cmd := exec.Command("redis-benchmark", "-h", "127.0.0.1", "-p", port, "-c", strconv.Itoa(benchCallers),
			"-n", strconv.Itoa(b.N), "-r", strconv.Itoa(benchUsers), "-q",
			"EVALSHA", sha, "1", "streamgate:{__rand_int__}", "s1", "3", "60000000", "0:")
		b.ResetTimer()
		start := time.Now()
		out, err := cmd.CombinedOutput()
		elapsed := time.Since(start)
		if err != nil {
			b.Fatalf("redis-benchmark: %v\n%s", err, out)
		}
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "decisions/s")
		// Its own figure leaves out its start-up; the last one printed is the total.
		if m := rpsPattern.FindAllSubmatch(out, -1); len(m) > 0 {
			if rps, err := strconv.ParseFloat(string(m[len(m)-1][1]), 64); err == nil {
				b.ReportMetric(rps, "self-reported-decisions/s")
			}
		}
	})
}

// roundTrips is the store round trips per proxied request at steady state:
// on the requests' path, and in the flusher's batches (scripts, each
// renewing up to 16 sessions), with the sessions those renewed.
type roundTrips struct{ requestPath, batched, renewals float64 }

// steadyState plays sessions that each fetch a segment every period, for
// span of simulated time after one TTL of warm-up, against a Redis store
// whose refresh cache reads a simulated clock, and returns the store round
// trips per request over the span (from the store-call counters). The test
// runs the flusher at each of its ticks of simulated time (the store's own
// ticks real time, which only adds renewals: the request path sees no more).
func steadyState(tb testing.TB, url string, sessions int, period, ttl, refresh, span time.Duration) roundTrips {
	tb.Helper()
	clock := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	r, err := limiter.NewRedis(limiter.RedisOptions{URL: url, TTL: ttl, RefreshInterval: refresh, Timeout: time.Second, Clock: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	prefix := "steady-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	const step = 100 * time.Millisecond
	slots := int(period / step)
	tick := limiter.FlushTick(refresh)
	nextTick := tick
	var requests, renewals int
	var callsBefore, batchedBefore uint64
	for t := time.Duration(0); t < ttl+span; t += step {
		if t == ttl {
			requests, renewals, callsBefore, batchedBefore = 0, 0, r.Stats().StoreCalls, limiter.BatchedCalls(r)
		}
		if refresh > 0 && t >= nextTick {
			renewals += limiter.Flush(r)
			nextTick += tick
		}
		// Session i fetches when the clock reaches its phase in the period,
		// so that fetches spread evenly over time, as players do.
		for i := int(t/step) % slots; i < sessions; i += slots {
			d, err := r.Admit(ctx, limiter.Request{UserID: prefix + strconv.Itoa(i), SessionID: "s", Limit: 3})
			if err != nil || !d.Admitted() {
				tb.Fatalf("session %d at %s: %v %v", i, t, d.Result, err)
			}
			requests++
		}
		clock.Advance(step)
	}
	batched := limiter.BatchedCalls(r) - batchedBefore
	return roundTrips{
		requestPath: float64(r.Stats().StoreCalls-callsBefore-batched) / float64(requests),
		batched:     float64(batched) / float64(requests),
		renewals:    float64(renewals) / float64(requests),
	}
}

// BenchmarkRedisSteadyStateRoundTrips reports the store round trips per
// proxied request at steady state, on the requests' path and batched by the
// flusher: every session fetches a segment every 2 s, TTL 60 s, the default
// -refresh-interval, time simulated for the refresh cache:
//
//	go test -run '^$' -bench BenchmarkRedisSteadyStateRoundTrips -benchtime 1x ./limiter/
func BenchmarkRedisSteadyStateRoundTrips(b *testing.B) {
	srv := redistest.Start(b)
	const ttl = 60 * time.Second
	for _, refresh := range []time.Duration{0, 5 * time.Second, config.DefaultRefreshInterval(ttl)} {
		b.Run("refresh="+refresh.String(), func(b *testing.B) {
			var rt roundTrips
			for b.Loop() {
				rt = steadyState(b, srv.URL(), 200, 2*time.Second, ttl, refresh, 10*time.Minute)
			}
			b.ReportMetric(rt.requestPath, "request-path-roundtrips/request")
			b.ReportMetric(rt.batched, "batched-scripts/request")
			b.ReportMetric(rt.renewals, "renewals/request")
		})
	}
}

// BenchmarkRedisRenewalBatch measures what the flusher's batches cost the
// replica and Redis: 3,000 cached sessions with hits, all due at once,
// renewed in one batch per iteration; client CPU, wall time and
// redis-server's CPU per session renewed:
//
//	go test -run '^$' -bench BenchmarkRedisRenewalBatch -benchtime 20x -cpu 1 ./limiter/
func BenchmarkRedisRenewalBatch(b *testing.B) {
	srv := redistest.Start(b)
	const interval, ttl, users = 10 * time.Second, time.Minute, 3000
	clock := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	r, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: ttl, RefreshInterval: interval, Timeout: 5 * time.Second, Clock: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	reqs := make([]limiter.Request, users)
	for i := range reqs {
		reqs[i] = limiter.Request{UserID: "renewal-" + strconv.Itoa(i), SessionID: "s", Limit: 3}
		if _, err := r.Admit(ctx, reqs[i]); err != nil {
			b.Fatal(err)
		}
	}
	var cpu, wall, redisCPU time.Duration
	var sent int
	for b.Loop() {
		for _, req := range reqs { // a hit each: every session is due
			if _, err := r.Admit(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
		clock.Advance(interval - limiter.FlushTick(interval))
		cpu0, redis0, start := processCPU(), pidCPU(b, srv.PID()), time.Now()
		sent += limiter.Flush(r)
		wall += time.Since(start)
		cpu += processCPU() - cpu0
		redisCPU += pidCPU(b, srv.PID()) - redis0
	}
	if r.Stats().StoreErrors > 0 {
		b.Fatalf("%d scripts failed", r.Stats().StoreErrors)
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(sent), "client-cpu-µs/session")
	b.ReportMetric(float64(wall.Nanoseconds())/1e3/float64(sent), "wall-µs/session")
	b.ReportMetric(float64(redisCPU.Nanoseconds())/1e3/float64(sent), "redis-cpu-µs/session")
}

// pidCPU is the user+system CPU time of process pid, to the kernel's clock
// tick (10 ms): enough over a benchmark's thousands of calls.
func pidCPU(b *testing.B, pid int) time.Duration {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command's closing parenthesis, from state on:
	// utime and stime are the 12th and 13th.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// processCPU is the user+system CPU time of this process, children excluded.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
