// Package storetest is the conformance suite every limiter.Store passes: the
// admission rules of SPEC.md, expiry, end, end-all, list and concurrency. The
// memory store runs it with a fake clock, the Redis store against a real
// redis-server with short real TTLs.
package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
)

// Harness makes the stores under test.
type Harness struct {
	// New returns an empty store whose sessions expire after ttl, with the
	// given rules. The store is closed by the suite.
	New func(t *testing.T, ttl time.Duration, rules limiter.Rules) limiter.Store
	// Advance lets d pass for stores made by New: a fake clock moves, a real
	// clock is waited for.
	Advance func(t *testing.T, d time.Duration)
	// TTL is the session TTL the suite uses. With a real clock it must be
	// long enough for a few store calls to take place well inside it.
	TTL time.Duration
	// ExactClock is true when Advance is exact, so expiry can be checked at
	// exactly the TTL.
	ExactClock bool
}

var userSeq atomic.Int64

// newUser returns a user id no other test of this process uses, so stores
// that outlive one test (a shared Redis) never see leftovers.
func newUser(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), userSeq.Add(1))
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()
	store := func(t *testing.T) limiter.Store {
		s := h.New(t, h.TTL, limiter.Rules{})
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	admit := func(t *testing.T, s limiter.Store, user, session string, limit int) limiter.Decision {
		t.Helper()
		d, err := s.Admit(ctx, limiter.Request{UserID: user, SessionID: session, Limit: limit})
		require.NoError(t, err)
		return d
	}

	t.Run("admits up to the limit and rejects the next session", func(t *testing.T) {
		s := store(t)
		u := newUser("limit")
		for i, sid := range []string{"s1", "s2", "s3"} {
			d := admit(t, s, u, sid, 3)
			assert.Equal(t, limiter.Started, d.Result, sid)
			assert.Equal(t, i+1, d.Active, sid)
			assert.Equal(t, 3, d.Limit, sid)
		}
		d := admit(t, s, u, "s4", 3)
		assert.Equal(t, limiter.Rejected, d.Result)
		assert.False(t, d.Admitted())
		assert.Equal(t, 3, d.Active)
		assert.Equal(t, 3, d.Limit)
		assert.Greater(t, d.RetryAfter, time.Duration(0))
		assert.LessOrEqual(t, d.RetryAfter, h.TTL)
		require.Len(t, d.Sessions, 3)
		assert.Equal(t, []string{"s1", "s2", "s3"}, ids(d.Sessions))

		list, err := s.List(ctx, u)
		require.NoError(t, err)
		assert.Equal(t, []string{"s1", "s2", "s3"}, ids(list), "a rejected session is not stored")
	})

	t.Run("an active session is refreshed, not counted twice", func(t *testing.T) {
		s := store(t)
		u := newUser("refresh")
		assert.Equal(t, limiter.Started, admit(t, s, u, "s1", 3).Result)
		d := admit(t, s, u, "s1", 3)
		assert.Equal(t, limiter.Refreshed, d.Result)
		assert.Equal(t, 1, d.Active)
	})

	t.Run("an active session is admitted when the user is at the limit", func(t *testing.T) {
		s := store(t)
		u := newUser("atlimit")
		for _, sid := range []string{"s1", "s2", "s3"} {
			admit(t, s, u, sid, 3)
		}
		assert.Equal(t, limiter.Rejected, admit(t, s, u, "s4", 3).Result)
		for _, sid := range []string{"s1", "s2", "s3"} {
			assert.Equal(t, limiter.Refreshed, admit(t, s, u, sid, 3).Result, sid)
		}
	})

	t.Run("a rejection touches no other session", func(t *testing.T) {
		s := store(t)
		u := newUser("untouched")
		admit(t, s, u, "s1", 1)
		before, err := s.List(ctx, u)
		require.NoError(t, err)
		h.Advance(t, h.TTL/4)
		assert.Equal(t, limiter.Rejected, admit(t, s, u, "s2", 1).Result)
		after, err := s.List(ctx, u)
		require.NoError(t, err)
		require.Len(t, after, 1)
		assert.Equal(t, before[0].LastSeen, after[0].LastSeen, "a rejected request refreshes nothing")
		assert.Equal(t, before[0].ExpiresAt, after[0].ExpiresAt)
	})

	t.Run("users are independent", func(t *testing.T) {
		s := store(t)
		a, b := newUser("a"), newUser("b")
		admit(t, s, a, "s1", 1)
		assert.Equal(t, limiter.Started, admit(t, s, b, "s1", 1).Result, "same session id, other user")
		assert.Equal(t, limiter.Rejected, admit(t, s, a, "s2", 1).Result)
	})

	t.Run("expired sessions never count", func(t *testing.T) {
		s := store(t)
		u := newUser("expired")
		for _, sid := range []string{"s1", "s2", "s3"} {
			admit(t, s, u, sid, 3)
		}
		h.Advance(t, h.TTL+h.TTL/4)
		d := admit(t, s, u, "s4", 3)
		assert.Equal(t, limiter.Started, d.Result)
		assert.Equal(t, 1, d.Active)
		list, err := s.List(ctx, u)
		require.NoError(t, err)
		assert.Equal(t, []string{"s4"}, ids(list))
		assert.Equal(t, limiter.Started, admit(t, s, u, "s1", 3).Result, "an expired session starts anew")
	})

	t.Run("each heartbeat extends the session", func(t *testing.T) {
		s := store(t)
		u := newUser("extend")
		admit(t, s, u, "s1", 1)
		h.Advance(t, h.TTL*3/4)
		assert.Equal(t, limiter.Refreshed, admit(t, s, u, "s1", 1).Result)
		h.Advance(t, h.TTL*3/4)
		assert.Equal(t, limiter.Refreshed, admit(t, s, u, "s1", 1).Result, "1.5 TTL after start, 0.75 TTL after its last heartbeat")
		assert.Equal(t, limiter.Rejected, admit(t, s, u, "s2", 1).Result)
	})

	if h.ExactClock {
		t.Run("a session expires at exactly the TTL", func(t *testing.T) {
			s := store(t)
			u := newUser("exact")
			admit(t, s, u, "s1", 1)
			h.Advance(t, h.TTL-time.Nanosecond)
			d := admit(t, s, u, "s2", 1)
			assert.Equal(t, limiter.Rejected, d.Result, "one nanosecond before the TTL")
			assert.Equal(t, time.Nanosecond, d.RetryAfter)
			h.Advance(t, time.Nanosecond)
			assert.Equal(t, limiter.Started, admit(t, s, u, "s2", 1).Result, "at the TTL")
		})
	}

	t.Run("retry after is the time to the soonest expiry", func(t *testing.T) {
		s := store(t)
		u := newUser("retry")
		admit(t, s, u, "s1", 2)
		h.Advance(t, h.TTL/2)
		admit(t, s, u, "s2", 2)
		d := admit(t, s, u, "s3", 2)
		require.Equal(t, limiter.Rejected, d.Result)
		assert.LessOrEqual(t, d.RetryAfter, h.TTL/2)
		assert.Greater(t, d.RetryAfter, h.TTL/4)
	})

	t.Run("end frees the slot", func(t *testing.T) {
		s := store(t)
		u := newUser("end")
		admit(t, s, u, "s1", 1)
		ended, err := s.End(ctx, u, "s1", limiter.EndedByPlayer)
		require.NoError(t, err)
		assert.True(t, ended)
		ended, err = s.End(ctx, u, "s1", limiter.EndedByPlayer)
		require.NoError(t, err)
		assert.False(t, ended, "ending twice")
		ended, err = s.End(ctx, newUser("nobody"), "s1", limiter.EndedByPlayer)
		require.NoError(t, err)
		assert.False(t, ended, "unknown user")
		assert.Equal(t, limiter.Started, admit(t, s, u, "s2", 1).Result)
	})

	t.Run("end does not report an expired session", func(t *testing.T) {
		s := store(t)
		u := newUser("endexpired")
		admit(t, s, u, "s1", 1)
		h.Advance(t, h.TTL+h.TTL/4)
		ended, err := s.End(ctx, u, "s1", limiter.EndedByPlayer)
		require.NoError(t, err)
		assert.False(t, ended)
	})

	t.Run("end all ends every session of that user only", func(t *testing.T) {
		s := store(t)
		u, other := newUser("endall"), newUser("other")
		for _, sid := range []string{"s1", "s2", "s3"} {
			admit(t, s, u, sid, 3)
		}
		admit(t, s, other, "s1", 3)
		n, err := s.EndAll(ctx, u, limiter.EndedByPlayer)
		require.NoError(t, err)
		assert.Equal(t, 3, n)
		list, err := s.List(ctx, u)
		require.NoError(t, err)
		assert.Empty(t, list)
		n, err = s.EndAll(ctx, u, limiter.EndedByPlayer)
		require.NoError(t, err)
		assert.Zero(t, n)
		list, err = s.List(ctx, other)
		require.NoError(t, err)
		assert.Len(t, list, 1)
	})

	t.Run("list shows each session's times and device, oldest first", func(t *testing.T) {
		s := store(t)
		u := newUser("list")
		dev := limiter.Device{UserAgent: "TestPlayer/1.0", Address: "192.0.2.7:5000", ContentID: "film-42"}
		_, err := s.Admit(ctx, limiter.Request{UserID: u, SessionID: "s1", Limit: 3, Device: dev})
		require.NoError(t, err)
		h.Advance(t, h.TTL/4)
		admit(t, s, u, "s2", 3)
		list, err := s.List(ctx, u)
		require.NoError(t, err)
		require.Equal(t, []string{"s1", "s2"}, ids(list))
		first := list[0]
		assert.Equal(t, dev, first.Device)
		assert.Equal(t, limiter.Device{}, list[1].Device)
		assert.False(t, first.StartedAt.After(first.LastSeen))
		assert.Equal(t, h.TTL, first.ExpiresAt.Sub(first.LastSeen))
		assert.True(t, list[1].StartedAt.After(first.StartedAt))
		assert.Equal(t, time.UTC, first.StartedAt.Location())

		list, err = s.List(ctx, newUser("unknown"))
		require.NoError(t, err)
		assert.NotNil(t, list)
		assert.Empty(t, list)
	})

	t.Run("the limit is taken per call", func(t *testing.T) {
		s := store(t)
		u := newUser("plan")
		admit(t, s, u, "s1", 1)
		assert.Equal(t, limiter.Rejected, admit(t, s, u, "s2", 1).Result)
		d := admit(t, s, u, "s2", 2)
		assert.Equal(t, limiter.Started, d.Result, "an upgrade takes effect on the next new session")
		assert.Equal(t, 2, d.Limit)
		d = admit(t, s, u, "s2", 1)
		assert.Equal(t, limiter.Refreshed, d.Result, "a downgrade does not cut admitted sessions")
		d = admit(t, s, u, "s3", 1)
		assert.Equal(t, limiter.Rejected, d.Result)
		assert.Equal(t, 2, d.Active)
		assert.Equal(t, 1, d.Limit)
	})

	t.Run("ping answers", func(t *testing.T) {
		assert.NoError(t, store(t).Ping(ctx))
	})

	t.Run("concurrent new sessions of one user admit exactly the free slots", func(t *testing.T) {
		s := store(t)
		const rounds, callers, limit = 50, 16, 3
		for round := range rounds {
			u := newUser("race")
			held := round % limit // some rounds start with sessions already active
			for i := range held {
				admit(t, s, u, fmt.Sprintf("held-%d", i), limit)
			}
			admitted := Race(t, callers, func(i int) limiter.Decision {
				d, err := s.Admit(ctx, limiter.Request{UserID: u, SessionID: fmt.Sprintf("new-%d", i), Limit: limit})
				require.NoError(t, err)
				return d
			})
			require.Equal(t, limit-held, admitted, "round %d with %d held", round, held)
			list, err := s.List(ctx, u)
			require.NoError(t, err)
			require.Len(t, list, limit, "round %d", round)
		}
	})

	runLeases(t, h)
	runCachedHeartbeats(t, h)
	runPolicies(t, h)
	runNetworks(t, h)
}

// Race starts callers goroutines that call decide at the same moment and
// returns how many were admitted.
func Race(t *testing.T, callers int, decide func(i int) limiter.Decision) int {
	t.Helper()
	var (
		start    = make(chan struct{})
		wg       sync.WaitGroup
		admitted atomic.Int64
	)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if decide(i).Admitted() {
				admitted.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	return int(admitted.Load())
}

func ids(sessions []limiter.Session) []string {
	out := make([]string, len(sessions))
	for i, s := range sessions {
		out[i] = s.ID
	}
	return out
}
