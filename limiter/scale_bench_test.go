package limiter

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

// BenchmarkScale is the decision at growing table sizes: each op is a
// heartbeat of a session picked at random among all tracked sessions (one
// per user), the worst case for caches. It reports the memory per session
// at each size (B/session), and its part in Go's heap (goheapB/session). STREAMGATE_SCALE_MAX bounds the largest size (default 10M).
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
			t := newScaleTable(b, n)
			defer t.m.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				t.heartbeat(b)
			}
			t.held.report(b, float64(n), "session")
		})
	}
}

// BenchmarkScaleRatio measures what the scale target is stated in, the
// decision over the largest table (10M, or STREAMGATE_SCALE_MAX) against
// over 1k, side by side in one process: each op of the benchmark is a pair
// of chunks, one of each table, in alternating order, so that this VM's
// drift (±15% between runs of one binary) falls on both sides of each
// ratio. Each chunk follows unmeasured heartbeats of its own table, so that
// each side runs in its steady state: the large table's chunk evicts the
// small one from the caches. It reports the median ratio and, per side,
// the median ns per decision.
func BenchmarkScaleRatio(b *testing.B) {
	large := 10_000_000
	if v, err := strconv.Atoi(os.Getenv("STREAMGATE_SCALE_MAX")); err == nil && v > 1_000 {
		large = v
	}
	const chunk, warm = 20_000, 2_000
	small, big := newScaleTable(b, 1_000), newScaleTable(b, large)
	defer small.m.Close()
	defer big.m.Close()
	measure := func(t *scaleTable) float64 {
		for range warm {
			t.heartbeat(b)
		}
		start := time.Now()
		for range chunk {
			t.heartbeat(b)
		}
		return float64(time.Since(start).Nanoseconds()) / chunk
	}
	var ratios, smallNs, bigNs []float64
	for b.Loop() {
		var s, l float64
		if len(ratios)%2 == 0 {
			s, l = measure(small), measure(big)
		} else {
			l, s = measure(big), measure(small)
		}
		ratios, smallNs, bigNs = append(ratios, l/s), append(smallNs, s), append(bigNs, l)
	}
	b.ReportMetric(median(ratios), "x-vs-1k")
	b.ReportMetric(quantile(ratios, 0.25), "x-q1")
	b.ReportMetric(quantile(ratios, 0.75), "x-q3")
	b.ReportMetric(median(smallNs), "ns/decision-1k")
	b.ReportMetric(median(bigNs), "ns/decision-large")
	big.held.report(b, float64(big.n), "session")
}

// scaleTable is a memory store holding n sessions, one per user, and the
// walk of BenchmarkScale's heartbeats over them.
type scaleTable struct {
	m            *Memory
	n, stride, j int
	buf          []byte
	held         held
}

func newScaleTable(b *testing.B, n int) *scaleTable {
	uids := ids("user-", n)
	m, h := filledMemory(b, uids, func(int) string { return "session-0123456789abcdef" })
	// A stride coprime with n walks every session in a cache-hostile order.
	stride := 7_919_993 % n
	for gcd(stride, n) != 1 {
		stride++
	}
	// uids goes: each op writes its user id into one buffer, as a request's
	// id sits in the buffer the server just read it into. Picking it from
	// uids, 10M string headers and their bytes, would add two cache misses
	// of the benchmark's own to the decision's (about a third of the op at
	// 10M). Admit keeps no refreshed id.
	uids = nil
	runtime.GC()
	return &scaleTable{m: m, n: n, stride: stride, buf: make([]byte, 0, 32),
		held: h}
}

// filledMemory is a memory store holding one session of each user of uids,
// session(i) the id of uids[i]'s, and the memory it holds: Go's heap and
// the table's out of it (tableHeap) together.
func filledMemory(b testing.TB, uids []string, session func(i int) string) (*Memory, held) {
	ctx := context.Background()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := NewMemory(MemoryOptions{TTL: time.Hour, MaxUsers: len(uids), SweepInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	for i, u := range uids {
		_, _ = m.Admit(ctx, Request{UserID: u, SessionID: session(i), Limit: 3})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	return m, held{goHeap: float64(after.HeapAlloc) - float64(before.HeapAlloc), table: float64(m.heap.bytesHeld()),
		mapped: float64(m.heap.mapped.Load())}
}

// held is the memory a store holds: in Go's heap, and the table's out of
// it, as blocks handed out (table) and as mapped (mapped: the free blocks
// and the newest chunk's tail too).
type held struct{ goHeap, table, mapped float64 }

// report reports h per unit ("user", "session"), n of them: the whole
// (B/), its part in Go's heap (goheapB/), which the collector paces by,
// and the whole with the table as mapped (mappedB/), what a fill leaves in
// free lists included.
func (h held) report(b *testing.B, n float64, unit string) {
	b.ReportMetric((h.goHeap+h.table)/n, "B/"+unit)
	b.ReportMetric(h.goHeap/n, "goheapB/"+unit)
	b.ReportMetric((h.goHeap+h.mapped)/n, "mappedB/"+unit)
}

// heartbeat refreshes the next session of the walk.
func (t *scaleTable) heartbeat(b *testing.B) {
	t.j += t.stride
	if t.j >= t.n {
		t.j -= t.n
	}
	t.buf = strconv.AppendInt(append(t.buf[:0], "user-"...), int64(t.j), 10)
	id := unsafe.String(unsafe.SliceData(t.buf), len(t.buf))
	d, _ := t.m.Admit(context.Background(), Request{UserID: id, SessionID: "session-0123456789abcdef", Limit: 3})
	if d.Result != Refreshed {
		b.Fatal(d.Result)
	}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func median(xs []float64) float64 { return quantile(xs, 0.5) }

// quantile is the q-quantile of xs, the nearest rank.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(int(q*float64(len(s))), len(s)-1)]
}
