package limiter_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
)

// evictionTTL is long enough that the steps of an eviction test (each a
// bump gap of TTL/16 or more apart) stay well inside one TTL.
const evictionTTL = time.Hour

// step is longer than the store's bump gap (TTL/16), so every admitted
// request of a user moves it to the front of the LRU.
const step = evictionTTL / 8

func newSmallMemory(t *testing.T, maxUsers int) (*limiter.Memory, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: evictionTTL, MaxUsers: maxUsers, Clock: clock.Now, SweepInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m, clock
}

func mustAdmit(t *testing.T, s limiter.Store, user, session string, limit int) limiter.Decision {
	t.Helper()
	d, err := s.Admit(context.Background(), limiter.Request{UserID: user, SessionID: session, Limit: limit})
	require.NoError(t, err)
	return d
}

func sessionIDs(t *testing.T, s limiter.Store, user string) []string {
	t.Helper()
	list, err := s.List(context.Background(), user)
	require.NoError(t, err)
	out := make([]string, len(list))
	for i, l := range list {
		out[i] = l.ID
	}
	return out
}

func TestMemoryEviction(t *testing.T) {
	t.Parallel()

	t.Run("a full table drops the least recently active user and counts it", func(t *testing.T) {
		t.Parallel()
		m, clock := newSmallMemory(t, 3)
		for _, u := range []string{"u1", "u2", "u3"} {
			mustAdmit(t, m, u, "s1", 3)
			clock.Advance(step)
		}
		mustAdmit(t, m, "u2", "s2", 3) // u2 now has two sessions
		clock.Advance(step)
		mustAdmit(t, m, "u1", "s1", 3) // u1 is now the most recently active
		clock.Advance(step)
		require.Equal(t, limiter.Stats{TrackedUsers: 3, ActiveSessions: 4}, m.Stats())

		assert.Equal(t, limiter.Started, mustAdmit(t, m, "u4", "s1", 3).Result)

		assert.Empty(t, sessionIDs(t, m, "u3"), "u3 was the least recently active")
		assert.Equal(t, []string{"s1"}, sessionIDs(t, m, "u1"))
		assert.Equal(t, []string{"s1", "s2"}, sessionIDs(t, m, "u2"))
		assert.Equal(t, []string{"s1"}, sessionIDs(t, m, "u4"))
		assert.Equal(t, limiter.Stats{TrackedUsers: 3, ActiveSessions: 4, EvictedUsers: 1}, m.Stats())
	})

	t.Run("an evicted user's sessions leave the gauge with it", func(t *testing.T) {
		t.Parallel()
		m, clock := newSmallMemory(t, 2)
		for _, sid := range []string{"s1", "s2", "s3"} {
			mustAdmit(t, m, "big", sid, 3)
		}
		clock.Advance(step)
		mustAdmit(t, m, "small", "s1", 3)
		clock.Advance(step)
		mustAdmit(t, m, "new", "s1", 3)
		assert.Empty(t, sessionIDs(t, m, "big"))
		assert.Equal(t, limiter.Stats{TrackedUsers: 2, ActiveSessions: 2, EvictedUsers: 1}, m.Stats())
	})

	t.Run("an expired user is replaced first, without counting an eviction", func(t *testing.T) {
		t.Parallel()
		m, clock := newSmallMemory(t, 3)
		mustAdmit(t, m, "old", "s1", 3)
		clock.Advance(evictionTTL / 2)
		mustAdmit(t, m, "u2", "s1", 3)
		mustAdmit(t, m, "u3", "s1", 3)
		clock.Advance(evictionTTL / 2) // "old" is exactly one TTL old: expired
		assert.Equal(t, limiter.Started, mustAdmit(t, m, "u4", "s1", 3).Result)

		assert.Equal(t, []string{"s1"}, sessionIDs(t, m, "u2"))
		assert.Equal(t, []string{"s1"}, sessionIDs(t, m, "u3"))
		assert.Equal(t, []string{"s1"}, sessionIDs(t, m, "u4"))
		assert.Equal(t, limiter.Stats{TrackedUsers: 3, ActiveSessions: 3, EvictedUsers: 0}, m.Stats())
	})

	t.Run("a rejected request does not make its user recently active", func(t *testing.T) {
		t.Parallel()
		m, clock := newSmallMemory(t, 2)
		mustAdmit(t, m, "full", "s1", 1)
		clock.Advance(step)
		mustAdmit(t, m, "other", "s1", 1)
		clock.Advance(step)
		require.Equal(t, limiter.Rejected, mustAdmit(t, m, "full", "s2", 1).Result)
		clock.Advance(step)
		mustAdmit(t, m, "new", "s1", 1)
		assert.Empty(t, sessionIDs(t, m, "full"), "the rejection left it the least recently active")
		assert.Equal(t, []string{"s1"}, sessionIDs(t, m, "other"))
		assert.Equal(t, uint64(1), m.Stats().EvictedUsers)
	})

	t.Run("refreshing users keeps them; only new users evict", func(t *testing.T) {
		t.Parallel()
		m, clock := newSmallMemory(t, 2)
		mustAdmit(t, m, "a", "s1", 3)
		mustAdmit(t, m, "b", "s1", 3)
		for range 20 {
			clock.Advance(step / 4)
			assert.Equal(t, limiter.Refreshed, mustAdmit(t, m, "a", "s1", 3).Result)
			assert.Equal(t, limiter.Refreshed, mustAdmit(t, m, "b", "s1", 3).Result)
			assert.Equal(t, limiter.Started, mustAdmit(t, m, "a", "s2", 3).Result, "a second session of a tracked user")
			_, err := m.End(context.Background(), "a", "s2", limiter.EndedByPlayer)
			require.NoError(t, err)
		}
		assert.Equal(t, limiter.Stats{TrackedUsers: 2, ActiveSessions: 2}, m.Stats())
	})

	t.Run("the table never grows past its capacity", func(t *testing.T) {
		t.Parallel()
		const capacity = 50
		m, clock := newSmallMemory(t, capacity)
		for i := range 10 * capacity {
			mustAdmit(t, m, "user-"+strconv.Itoa(i), "s1", 3)
			clock.Advance(time.Millisecond)
			require.LessOrEqual(t, m.Stats().TrackedUsers, capacity)
		}
		assert.Equal(t, limiter.Stats{TrackedUsers: capacity, ActiveSessions: capacity, EvictedUsers: 9 * capacity}, m.Stats())
		for i := 9 * capacity; i < 10*capacity; i++ {
			assert.Equal(t, []string{"s1"}, sessionIDs(t, m, "user-"+strconv.Itoa(i)), "the newest users stay")
		}
	})
}
