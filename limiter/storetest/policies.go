package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
)

// runPolicies checks *Policies and operations*: evict-oldest, tombstones,
// lapsed sessions and shadow mode.
func runPolicies(t *testing.T, h Harness) {
	ctx := context.Background()
	T := h.TTL
	req := func(u, sid string, limit int) limiter.Request {
		return limiter.Request{UserID: u, SessionID: sid, Limit: limit}
	}

	t.Run("evict-oldest replaces the least recently active session", func(t *testing.T) {
		s := h.open(t, T, limiter.Rules{OnLimit: limiter.EvictOldest})
		u := newUser("evict")
		for _, sid := range []string{"s1", "s2", "s3"} {
			decide(t, s, req(u, sid, 3))
			h.Advance(t, T/16)
		}
		// Later than a refresh cache answers (T/4 in the Redis runs): which
		// session is least recently active is known to a refresh interval.
		h.Advance(t, T/3)
		require.Equal(t, limiter.Refreshed, decide(t, s, req(u, "s1", 3)).Result)
		d := decide(t, s, req(u, "s4", 3))
		assert.Equal(t, limiter.Started, d.Result)
		assert.Equal(t, "s2", d.Evicted, "s2 was seen least recently")
		assert.Equal(t, 3, d.Active)
		list, err := s.List(ctx, u)
		require.NoError(t, err)
		assert.Equal(t, []string{"s1", "s3", "s4"}, ids(list))

		for range 2 {
			d = decide(t, s, req(u, "s2", 3))
			assert.Equal(t, limiter.Ended, d.Result, "the replaced session is not re-admitted")
			assert.Equal(t, limiter.Replaced, d.EndReason)
			assert.False(t, d.Admitted())
		}
		list, err = s.List(ctx, u)
		require.NoError(t, err)
		assert.Equal(t, []string{"s1", "s3", "s4"}, ids(list), "a request of an ended session changes nothing")
	})

	t.Run("concurrent newcomers under evict-oldest: never over the limit, one eviction each", func(t *testing.T) {
		s := h.open(t, T, limiter.Rules{OnLimit: limiter.EvictOldest})
		const rounds, callers, limit = 20, 8, 3
		for round := range rounds {
			u := newUser("evictrace")
			held := round % (limit + 1)
			for i := range held {
				decide(t, s, req(u, fmt.Sprintf("held-%d", i), limit))
			}
			var mu sync.Mutex
			evicted := map[string]bool{}
			admitted := Race(t, callers, func(i int) limiter.Decision {
				d, err := s.Admit(ctx, req(u, fmt.Sprintf("new-%d", i), limit))
				require.NoError(t, err)
				if d.Evicted != "" {
					mu.Lock()
					assert.False(t, evicted[d.Evicted], "%s evicted twice", d.Evicted)
					evicted[d.Evicted] = true
					mu.Unlock()
				}
				assert.LessOrEqual(t, d.Active, limit)
				return d
			})
			require.Equal(t, callers, admitted, "round %d: every newcomer is admitted", round)
			assert.Len(t, evicted, held+callers-limit, "round %d: one eviction per newcomer over the limit", round)
			list, err := s.List(ctx, u)
			require.NoError(t, err)
			require.Len(t, list, limit, "round %d", round)
			for _, sess := range list {
				assert.False(t, evicted[sess.ID], "round %d: %s evicted yet listed", round, sess.ID)
			}
		}
	})

	t.Run("an operator's end leaves a tombstone, a player's does not", func(t *testing.T) {
		s := h.open(t, T, limiter.Rules{})
		u := newUser("tomb")
		decide(t, s, req(u, "op", 3))
		decide(t, s, req(u, "own", 3))
		ended, err := s.End(ctx, u, "op", limiter.EndedByOperator)
		require.NoError(t, err)
		assert.True(t, ended)
		ended, err = s.End(ctx, u, "own", limiter.EndedByPlayer)
		require.NoError(t, err)
		assert.True(t, ended)

		d := decide(t, s, req(u, "op", 3))
		assert.Equal(t, limiter.Ended, d.Result)
		assert.Equal(t, limiter.EndedByOperator, d.EndReason)
		assert.Equal(t, "ended-by-operator", d.EndReason.String())
		assert.Equal(t, limiter.Started, decide(t, s, req(u, "own", 3)).Result, "a player's own end leaves none")
		assert.Equal(t, limiter.Started, decide(t, s, req(u, "new", 3)).Result)

		ended, err = s.End(ctx, u, "op", limiter.EndedByOperator)
		require.NoError(t, err)
		assert.False(t, ended, "an ended session is not active")
	})

	t.Run("an operator's end of all sessions tombstones each", func(t *testing.T) {
		s := h.open(t, T, limiter.Rules{})
		u := newUser("tomball")
		for _, sid := range []string{"s1", "s2", "s3"} {
			decide(t, s, req(u, sid, 3))
		}
		n, err := s.EndAll(ctx, u, limiter.EndedByOperator)
		require.NoError(t, err)
		assert.Equal(t, 3, n)
		for _, sid := range []string{"s1", "s2", "s3"} {
			assert.Equal(t, limiter.Ended, decide(t, s, req(u, sid, 3)).Result, sid)
		}
		list, err := s.List(ctx, u)
		require.NoError(t, err)
		assert.Empty(t, list)
		assert.Equal(t, limiter.Started, decide(t, s, req(u, "s4", 3)).Result, "the slots are free")
	})

	t.Run("tombstones expire", func(t *testing.T) {
		s := h.open(t, T, limiter.Rules{TombstoneTTL: T / 2})
		u := newUser("tombttl")
		decide(t, s, req(u, "s1", 1))
		_, err := s.End(ctx, u, "s1", limiter.EndedByOperator)
		require.NoError(t, err)
		h.Advance(t, T/4)
		assert.Equal(t, limiter.Ended, decide(t, s, req(u, "s1", 1)).Result)
		h.Advance(t, T/2)
		assert.Equal(t, limiter.Started, decide(t, s, req(u, "s1", 1)).Result)
	})

	t.Run("a user keeps the newest tombstones only", func(t *testing.T) {
		s := h.open(t, T, limiter.Rules{})
		u := newUser("tombcap")
		const n = 40
		for i := range n {
			decide(t, s, req(u, fmt.Sprintf("s%d", i), n))
		}
		ended, err := s.EndAll(ctx, u, limiter.EndedByOperator)
		require.NoError(t, err)
		require.Equal(t, n, ended)
		tombs := 0
		for i := range n {
			if decide(t, s, req(u, fmt.Sprintf("s%d", i), 2*n)).Result == limiter.Ended {
				tombs++
			}
		}
		assert.Equal(t, 32, tombs)
	})

	t.Run("a rejection tells a lapsed session from a new one", func(t *testing.T) {
		s := h.open(t, T, limiter.Rules{})
		// A player paused past the TTL while another device took its slot:
		// the user's record lives on with the other sessions.
		u := newUser("lapsed")
		decide(t, s, req(u, "old", 2))
		decide(t, s, req(u, "keep", 2))
		h.Advance(t, T/2)
		require.Equal(t, limiter.Refreshed, decide(t, s, req(u, "keep", 2)).Result)
		h.Advance(t, T*3/4)
		require.Equal(t, limiter.Started, decide(t, s, req(u, "other", 2)).Result)
		d := decide(t, s, req(u, "old", 2))
		assert.Equal(t, limiter.Rejected, d.Result)
		assert.True(t, d.Lapsed, "it played until a TTL ago")
		d = decide(t, s, req(u, "never", 2))
		assert.Equal(t, limiter.Rejected, d.Result)
		assert.False(t, d.Lapsed)
		_, err := s.End(ctx, u, "other", limiter.EndedByPlayer)
		require.NoError(t, err)
		assert.Equal(t, limiter.Started, decide(t, s, req(u, "old", 2)).Result, "a lapsed session starts again when a slot is free")
	})

	for _, rules := range []limiter.Rules{{Shadow: true}, {Shadow: true, OnLimit: limiter.EvictOldest}} {
		t.Run(fmt.Sprintf("shadow mode admits and records what it would refuse (on limit %d)", rules.OnLimit), func(t *testing.T) {
			s := h.open(t, T, rules)
			u := newUser("shadow")
			d := decide(t, s, req(u, "s1", 1))
			assert.Equal(t, limiter.Started, d.Result)
			assert.False(t, d.WouldReject)
			d = decide(t, s, req(u, "s2", 1))
			assert.Equal(t, limiter.Started, d.Result)
			assert.True(t, d.WouldReject)
			assert.Empty(t, d.Evicted, "shadow mode ends nothing")
			assert.Equal(t, 2, d.Active, "the count a histogram of concurrent sessions observes")
			d = decide(t, s, req(u, "s2", 1))
			assert.Equal(t, limiter.Refreshed, d.Result)
			assert.False(t, d.WouldReject)
			list, err := s.List(ctx, u)
			require.NoError(t, err)
			assert.Equal(t, []string{"s1", "s2"}, ids(list))
		})
	}
}
