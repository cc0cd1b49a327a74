package limiter_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/redistest"
)

// BenchmarkRedisSaturatedCPU measures how many store calls fail on their
// deadline, at several -store-timeout values, while the replica's CPUs are
// saturated: GOMAXPROCS×2 goroutines spin (a replica busy proxying and
// rewriting manifests) and 64 callers admit sessions of 10,000 users. Redis
// itself is idle; every failure is the scheduler's delay counted against the
// deadline. It chose the default -store-timeout (README):
//
//	go test -run '^$' -bench BenchmarkRedisSaturatedCPU -benchtime 20000x ./limiter/
func BenchmarkRedisSaturatedCPU(b *testing.B) {
	srv := redistest.Start(b)
	for _, timeout := range []time.Duration{100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second} {
		b.Run("timeout="+timeout.String(), func(b *testing.B) {
			r, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: time.Minute, Timeout: timeout})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			stop := make(chan struct{})
			var spin sync.WaitGroup
			for range 2 * runtime.GOMAXPROCS(0) {
				spin.Add(1)
				go func() {
					defer spin.Done()
					x := 0
					for {
						select {
						case <-stop:
							_ = x
							return
						default:
						}
						for i := range 1_000_000 {
							x += i
						}
					}
				}()
			}
			var next, failed, tooLong atomic.Int64
			lat := make([][]time.Duration, benchCallers)
			var wg sync.WaitGroup
			b.ResetTimer()
			for c := range benchCallers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						start := time.Now()
						_, err := r.Admit(context.Background(), limiter.Request{UserID: strconv.Itoa(int(i % benchUsers)), SessionID: "s", Limit: 3})
						lat[c] = append(lat[c], time.Since(start))
						if errors.Is(err, limiter.ErrUnavailable) {
							failed.Add(1)
							if strings.Contains(err.Error(), "hard deadline") {
								tooLong.Add(1)
							}
						} else if err != nil {
							b.Error(err)
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			close(stop)
			spin.Wait()
			all := slices.Concat(lat...)
			slices.Sort(all)
			b.ReportMetric(100*float64(failed.Load())/float64(b.N), "%timeouts")
			b.ReportMetric(100*float64(tooLong.Load())/float64(b.N), "%hard-deadline")
			b.ReportMetric(float64(all[len(all)*99/100].Milliseconds()), "p99-ms")
			b.ReportMetric(float64(all[len(all)-1].Milliseconds()), "max-ms")
		})
	}
}
