package limiter_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/redistest"
)

// downFor is how long each run of the reconnect tests keeps its callers busy.
const downFor = 1500 * time.Millisecond

// maxConnectsWhileDown bounds the connects in downFor whatever the number of
// callers: the backoff (50 ms doubling to 2 s, jittered) allows about 7
// attempts in 1.5 s, each dialing at most one connection per pipelined
// connection slot of the client (GOMAXPROCS-dependent, at most a few), and
// the start-up loop shares the same backoff.
const maxConnectsWhileDown = 40

// hammer runs callers goroutines admitting sessions for d and returns the
// number of calls they made. Every call must fail with ErrUnavailable.
func hammer(t *testing.T, s limiter.Store, callers int, d time.Duration) uint64 {
	t.Helper()
	var calls, wrong atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := s.Admit(context.Background(), limiter.Request{UserID: "u", SessionID: string(rune('a' + i%26)), Limit: 3})
				calls.Add(1)
				if !errors.Is(err, limiter.ErrUnavailable) {
					wrong.Add(1)
				}
			}
		}()
	}
	time.Sleep(d) // the measured period; the callers run on their own
	close(stop)
	wg.Wait()
	require.Zero(t, wrong.Load(), "every call to a Redis that is down fails with ErrUnavailable")
	return calls.Load()
}

// acceptAndDrop listens on addr, counts connections and closes each at once:
// a Redis port that takes connections and never answers.
func acceptAndDrop(t *testing.T, addr string) *atomic.Uint64 {
	t.Helper()
	var ln net.Listener
	require.Eventually(t, func() bool {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err == nil
	}, 5*time.Second, 10*time.Millisecond, "the killed Redis's port is free again")
	accepted := new(atomic.Uint64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return accepted
}

// TestRedisConnectsBoundedWhileDown checks that the connects made to a Redis
// that went down do not grow with the traffic: calls fail to the failure
// policy during the dial backoff instead of dialing. Redis is killed after
// the store has connected, so that the client's own reconnects are measured;
// then its port either refuses connects or accepts and drops them.
func TestRedisConnectsBoundedWhileDown(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"refused", "accepted and dropped"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			for _, callers := range []int{1, 8, 64} {
				srv := redistest.Start(t)
				r, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: time.Minute, Timeout: time.Second})
				require.NoError(t, err)
				for i := range 20 { // uses every pipelined connection
					_, err := r.Admit(context.Background(), limiter.Request{UserID: "u", SessionID: strconv.Itoa(i), Limit: 100})
					require.NoError(t, err)
				}
				srv.Kill()
				connects := func() uint64 { return limiter.Dials(r) }
				if mode != "refused" {
					connects = acceptAndDrop(t, srv.Addr()).Load
				}
				before := connects()
				calls := hammer(t, r, callers, downFor)
				n := connects() - before
				require.NoError(t, r.Close())
				t.Logf("%s, %d callers: %d calls, %d connects in %s (%.1f/s)", mode, callers, calls, n, downFor, float64(n)/downFor.Seconds())
				assert.LessOrEqual(t, n, uint64(maxConnectsWhileDown), "connects while Redis is down are bounded by the backoff, not by the %d callers", callers)
				assert.Greater(t, calls, 10*n, "calls during the backoff fail without dialing")
			}
		})
	}
}
