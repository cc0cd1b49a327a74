package limiter_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/limitertest"
	"github.com/streamgate/streamgate/limiter/redistest"
)

// traffic refreshes one session from a few goroutines until stopped, at most
// maxCalls calls in all, and reports what it saw.
type traffic struct {
	stop                          chan struct{}
	wg                            sync.WaitGroup
	calls, errs, degraded, denied atomic.Int64
	foreignErr                    atomic.Value
}

func startTraffic(s limiter.Store, req limiter.Request) *traffic {
	const workers, maxCalls = 4, 20_000
	tr := &traffic{stop: make(chan struct{})}
	for range workers {
		tr.wg.Add(1)
		go func() {
			defer tr.wg.Done()
			for tr.calls.Add(1) <= maxCalls {
				select {
				case <-tr.stop:
					return
				default:
				}
				d, err := s.Admit(context.Background(), req)
				switch {
				case err != nil && !errors.Is(err, limiter.ErrUnavailable):
					tr.foreignErr.Store(err)
				case err != nil:
					tr.errs.Add(1)
				case d.Degraded != "":
					tr.degraded.Add(1)
				}
				if err == nil && !d.Admitted() {
					tr.denied.Add(1)
				}
				time.Sleep(time.Millisecond) // paces the load; synchronises nothing
			}
		}()
	}
	return tr
}

func (tr *traffic) halt() {
	close(tr.stop)
	tr.wg.Wait()
}

// TestGuardRedisOutage kills Redis under traffic and starts it again, for
// each failure policy. It is not parallel: goleak compares the goroutines
// alive after the test with those alive before it.
func TestGuardRedisOutage(t *testing.T) {
	tests := []struct {
		name   string
		policy limiter.FailurePolicy
		// check asserts the decisions taken while Redis is down.
		check func(t *testing.T, s limiter.Store)
	}{
		{"open admits everything, degraded", limiter.FailOpen, func(t *testing.T, s limiter.Store) {
			for _, sid := range []string{"s1", "s4"} {
				d, err := admitOutage(s, "alice", sid)
				require.NoError(t, err)
				assert.True(t, d.Admitted(), sid)
				assert.Equal(t, limiter.FailOpen, d.Degraded, sid)
			}
		}},
		{"closed refuses with ErrUnavailable", limiter.FailClosed, func(t *testing.T, s limiter.Store) {
			for _, sid := range []string{"s1", "s4"} {
				_, err := admitOutage(s, "alice", sid)
				assert.ErrorIs(t, err, limiter.ErrUnavailable, sid)
			}
		}},
		{"local keeps known sessions and limits new ones by what it knows", limiter.FailLocal, func(t *testing.T, s limiter.Store) {
			d, err := admitOutage(s, "alice", "s1")
			require.NoError(t, err)
			assert.Equal(t, limiter.Refreshed, d.Result, "a session this replica admitted keeps playing")
			assert.Equal(t, limiter.FailLocal, d.Degraded)
			d, err = admitOutage(s, "alice", "s4")
			require.NoError(t, err)
			assert.Equal(t, limiter.Rejected, d.Result, "alice holds three sessions here")
			assert.Equal(t, 3, d.Active)
			assert.Equal(t, limiter.FailLocal, d.Degraded)
			d, err = admitOutage(s, "bob", "b1")
			require.NoError(t, err)
			assert.Equal(t, limiter.Started, d.Result, "a user unknown here has free slots")
			ended, err := s.End(context.Background(), "alice", "s2", limiter.EndedByPlayer)
			assert.ErrorIs(t, err, limiter.ErrUnavailable, "end reports the outage")
			assert.False(t, ended)
			d, err = admitOutage(s, "alice", "s4")
			require.NoError(t, err)
			assert.Equal(t, limiter.Started, d.Result, "the slot s2 held here is free here")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			srv := redistest.Start(t)
			logs := &limitertest.SyncBuffer{}
			// A deadline no loaded machine misses before the kill; after it every
			// call fails at once (connection refused) whatever the deadline.
			r, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: time.Minute, Timeout: time.Second})
			require.NoError(t, err)
			s, err := limiter.NewGuard(r, limiter.GuardOptions{
				Policy: tt.policy, TTL: time.Minute, MaxUsers: 1000,
				Logger: slog.New(slog.NewJSONHandler(logs, nil)),
			})
			require.NoError(t, err)
			ctx := context.Background()
			for _, sid := range []string{"s1", "s2", "s3"} {
				d, err := s.Admit(ctx, limiter.Request{UserID: "alice", SessionID: sid, Limit: 3})
				require.NoError(t, err)
				require.Equal(t, limiter.Started, d.Result)
			}
			tr := startTraffic(s, limiter.Request{UserID: "carol", SessionID: "c1", Limit: 3})

			srv.Kill()
			require.Eventually(t, func() bool { return s.Ping(ctx) != nil }, 5*time.Second, 10*time.Millisecond, "readiness turns")
			tt.check(t, s)
			_, err = s.List(ctx, "alice")
			assert.ErrorIs(t, err, limiter.ErrUnavailable, "the admin API has no fallback")
			assert.Positive(t, s.Stats().StoreErrors)

			srv.Restart()
			require.Eventually(t, func() bool { return s.Ping(ctx) == nil }, time.Second, 10*time.Millisecond,
				"ready again within a second of Redis coming back")
			d, err := s.Admit(ctx, limiter.Request{UserID: "alice", SessionID: "s1", Limit: 3})
			require.NoError(t, err)
			assert.Empty(t, d.Degraded, "decided by Redis again")
			assert.Equal(t, limiter.Refreshed, d.Result, "the restarted Redis was re-seeded with the sessions this replica knew")
			tr.halt()
			assert.Nil(t, tr.foreignErr.Load(), "every failure wraps ErrUnavailable")
			if tt.policy == limiter.FailClosed {
				assert.Positive(t, tr.errs.Load(), "closed refused some traffic")
				assert.Zero(t, tr.degraded.Load())
			} else {
				assert.Zero(t, tr.errs.Load(), "%s never refuses for the store", tt.policy)
				assert.Positive(t, tr.degraded.Load())
				assert.Zero(t, tr.denied.Load(), "carol's session kept playing")
			}

			// The outage is logged once, and its end once, however many
			// calls failed.
			require.Eventually(t, func() bool {
				_ = s.Ping(ctx)
				return logs.Count("session store recovered") == 1
			}, 5*time.Second, 50*time.Millisecond)
			assert.Equal(t, 1, logs.Count("session store failing"))

			require.NoError(t, s.Close())
			srv.Kill()
		})
	}
}

func admitOutage(s limiter.Store, user, session string) (limiter.Decision, error) {
	return s.Admit(context.Background(), limiter.Request{UserID: user, SessionID: session, Limit: 3})
}

func TestGuardPassesDecisionsThrough(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := newGuarded(t, srv.URL(), time.Minute, 0, limiter.Rules{})
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	for _, sid := range []string{"s1", "s2"} {
		_, err := s.Admit(ctx, limiter.Request{UserID: "u", SessionID: sid, Limit: 2})
		require.NoError(t, err)
	}
	d, err := s.Admit(ctx, limiter.Request{UserID: "u", SessionID: "s3", Limit: 2})
	require.NoError(t, err)
	assert.Equal(t, limiter.Rejected, d.Result)
	assert.Empty(t, d.Degraded)
	st := s.(limiter.StatsReporter).Stats()
	assert.Equal(t, 2, st.ActiveSessions, "the local table mirrors what this replica admitted")
	assert.Equal(t, 1, st.TrackedUsers)
	assert.Equal(t, uint64(3), st.StoreCalls)
	assert.Zero(t, st.StoreErrors)
	top := s.(limiter.TopLister).TopUsers(5)
	assert.Equal(t, []limiter.UserCount{{UserID: "u", Count: 2}}, top, "the console's top users come from the local table")
	n, err := s.EndAll(ctx, "u", limiter.EndedByPlayer)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Zero(t, s.(limiter.StatsReporter).Stats().ActiveSessions)
}

func TestParseFailurePolicy(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"open", "closed", "local"} {
		p, err := limiter.ParseFailurePolicy(name)
		require.NoError(t, err)
		assert.Equal(t, limiter.FailurePolicy(name), p)
	}
	_, err := limiter.ParseFailurePolicy("maybe")
	assert.Error(t, err)
}
