package limiter

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

// BenchmarkScale is the decision at growing table sizes: each op is a
// heartbeat of a session picked at random among all tracked sessions (one
// per user), the worst case for caches. It reports the heap per session at
// each size. STREAMGATE_SCALE_MAX bounds the largest size (default 10M).
func BenchmarkScale(b *testing.B) {
	maxN := 10_000_000
	if v, err := strconv.Atoi(os.Getenv("STREAMGATE_SCALE_MAX")); err == nil && v > 0 {
		maxN = v
	}
	for _, n := range []int{1_000, 100_000, 1_000_000, 10_000_000} {
		if n > maxN {
			break
		}
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			uids := ids("user-", n)
			ctx := context.Background()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			m, err := NewMemory(MemoryOptions{TTL: time.Hour, MaxUsers: n, SweepInterval: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			for _, u := range uids {
				_, _ = m.Admit(ctx, Request{UserID: u, SessionID: "session-0123456789abcdef", Limit: 3})
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			heapPerSession := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
			// A stride coprime with n walks every session in a cache-hostile order.
			stride := 7_919_993 % n
			for gcd(stride, n) != 1 {
				stride++
			}
			// Each op's user id is written into one buffer, as a request's
			// id sits in the buffer the server just read it into: picking it
			// from uids, 10M string headers and their bytes, would add two
			// cache misses of the benchmark's own to the decision's (about a
			// third of the op at 10M). Admit keeps no refreshed id.
			uids = nil
			runtime.GC()
			buf := make([]byte, 0, 32)
			b.ReportAllocs()
			b.ResetTimer()
			j := 0
			for b.Loop() {
				j += stride
				if j >= n {
					j -= n
				}
				buf = strconv.AppendInt(append(buf[:0], "user-"...), int64(j), 10)
				id := unsafe.String(unsafe.SliceData(buf), len(buf))
				d, _ := m.Admit(ctx, Request{UserID: id, SessionID: "session-0123456789abcdef", Limit: 3})
				if d.Result != Refreshed {
					b.Fatal(d.Result)
				}
			}
			b.ReportMetric(heapPerSession, "heapB/session")
		})
	}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
