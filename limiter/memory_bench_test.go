package limiter

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func newBenchMemory(b *testing.B, maxUsers int) *Memory {
	b.Helper()
	m, err := NewMemory(MemoryOptions{TTL: time.Hour, MaxUsers: maxUsers, SweepInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	return m
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

// BenchmarkMemoryRefresh is the hot path: a heartbeat of an active session.
func BenchmarkMemoryRefresh(b *testing.B) {
	for _, users := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) { benchRefresh(b, users) })
	}
}

// BenchmarkMemoryRefreshMedia is the hot path with leases on, each
// heartbeat a media request of a track, as -max-lease's default has it.
func BenchmarkMemoryRefreshMedia(b *testing.B) {
	m, err := NewMemory(MemoryOptions{TTL: time.Minute, MaxUsers: 1000, SweepInterval: -1, Rules: Rules{MaxLease: DefaultMaxLease}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	uids := ids("user-", 1000)
	ctx := context.Background()
	for _, u := range uids {
		if _, err := m.Admit(ctx, Request{UserID: u, SessionID: "s1", Limit: 3, NoMedia: true, SegmentHint: 4 * time.Second}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		d, _ := m.Admit(ctx, Request{UserID: uids[i%1000], SessionID: "s1", Limit: 3, Track: Track(i % 2 * 2), Buffer: time.Second})
		if d.Result != Refreshed {
			b.Fatal(d.Result)
		}
	}
}

func benchRefresh(b *testing.B, users int) {
	m := newBenchMemory(b, users)
	uids := ids("user-", users)
	ctx := context.Background()
	for _, u := range uids {
		if _, err := m.Admit(ctx, Request{UserID: u, SessionID: "s1", Limit: 3}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		d, _ := m.Admit(ctx, Request{UserID: uids[i%users], SessionID: "s1", Limit: 3})
		if d.Result != Refreshed {
			b.Fatal(d.Result)
		}
	}
}

// BenchmarkMemoryNew starts sessions in a full table at steady state: a fake
// clock moves so that the oldest users expire as fast as new ones arrive, as
// in production, and the table neither grows nor shrinks.
func BenchmarkMemoryNew(b *testing.B) {
	for _, users := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			// Each op advances the clock 1ns and the TTL is users ns, so the
			// op's user (last seen users ops ago) has just expired.
			var now atomic.Int64
			clock := func() time.Time { return time.Unix(0, now.Add(1)) }
			m, err := NewMemory(MemoryOptions{TTL: time.Duration(users), MaxUsers: users + users/8, Clock: clock, SweepInterval: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			uids := ids("user-", 2*users)
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				d, _ := m.Admit(ctx, Request{UserID: uids[i%len(uids)], SessionID: "s1", Limit: 3})
				if d.Result != Started {
					b.Fatal(d.Result)
				}
			}
			b.ReportMetric(float64(m.Stats().EvictedUsers), "evicted")
		})
	}
}

// BenchmarkMemoryRefreshParallel spreads heartbeats over 100k users from every
// CPU; run with -cpu 1,2 to see how the shards scale.
func BenchmarkMemoryRefreshParallel(b *testing.B) {
	const users = 100_000
	m := newBenchMemory(b, users)
	uids := ids("user-", users)
	ctx := context.Background()
	for _, u := range uids {
		_, _ = m.Admit(ctx, Request{UserID: u, SessionID: "s1", Limit: 3})
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(7919))
		for pb.Next() {
			i += 7919
			_, _ = m.Admit(ctx, Request{UserID: uids[i%users], SessionID: "s1", Limit: 3})
		}
	})
}

// BenchmarkMemoryHeapPerUser reports the memory held per tracked user with
// one session, at the sizes given, and the part of it in Go's heap.
func BenchmarkMemoryHeapPerUser(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			uids := ids("user-", n)
			sids := ids("session-", n)
			for b.Loop() {
				m, h := filledMemory(b, uids, func(i int) string { return sids[i] })
				h.report(b, float64(n), "user")
				_ = m.Close()
			}
		})
	}
}

// BenchmarkMemoryHeapPerHousehold reports the memory held per user of two
// and of three sessions, as households sharing an account hold them, and the
// part of it in Go's heap.
func BenchmarkMemoryHeapPerHousehold(b *testing.B) {
	const n = 100_000
	for _, k := range []int{2, 3} {
		b.Run(fmt.Sprintf("sessions=%d", k), func(b *testing.B) {
			users := ids("user-", n)
			var uids []string
			for range k {
				uids = append(uids, users...)
			}
			sids := ids("session-", n*k)
			for b.Loop() {
				m, h := filledMemory(b, uids, func(i int) string { return sids[i] })
				h.report(b, n, "user")
				_ = m.Close()
			}
		})
	}
}

// BenchmarkMemoryCollection times a collection of the whole process with a
// memory table of households of three sessions, and with none: what the
// table costs each of the collector's cycles, which GOGC spaces out. The
// table lies out of Go's heap; golang-lru's node and map slot of each user
// are what the collector still marks.
func BenchmarkMemoryCollection(b *testing.B) {
	for _, n := range []int{0, 10_000, 100_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			users := ids("user-", n)
			uids := slices.Concat(users, users, users)
			sids := ids("session-", len(uids))
			m, _ := filledMemory(b, uids, func(i int) string { return sids[i] })
			b.Cleanup(func() { _ = m.Close() })
			for b.Loop() {
				runtime.GC()
			}
			if got := m.sessions.Load(); got != int64(len(uids)) {
				b.Fatalf("the table holds %d sessions, want %d", got, len(uids))
			}
		})
	}
}
