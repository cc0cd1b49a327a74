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

func TestMemorySweep(t *testing.T) {
	t.Parallel()
	const ttl = time.Minute

	t.Run("removes users whose sessions all expired and keeps live ones", func(t *testing.T) {
		t.Parallel()
		m, clock := newSmallMemory(t, 1000)
		mustAdmit(t, m, "gone", "s1", 3)
		mustAdmit(t, m, "gone", "s2", 3)
		mustAdmit(t, m, "mixed", "old", 3)
		clock.Advance(evictionTTL / 2)
		mustAdmit(t, m, "live", "s1", 3)
		mustAdmit(t, m, "mixed", "new", 3)
		require.Equal(t, limiter.Stats{TrackedUsers: 3, ActiveSessions: 5}, m.Stats())

		clock.Advance(evictionTTL / 2) // "gone" and "mixed/old" are one TTL old
		assert.Equal(t, 1, m.Sweep())

		assert.Empty(t, sessionIDs(t, m, "gone"))
		assert.Equal(t, []string{"s1"}, sessionIDs(t, m, "live"))
		assert.Equal(t, []string{"new"}, sessionIDs(t, m, "mixed"), "a live user's expired session is pruned when it is seen")
		assert.Equal(t, limiter.Stats{TrackedUsers: 2, ActiveSessions: 2}, m.Stats())

		clock.Advance(evictionTTL / 2)
		assert.Equal(t, 2, m.Sweep())
		assert.Equal(t, limiter.Stats{}, m.Stats(), "memory comes back when everyone has expired")
		assert.Zero(t, m.Sweep(), "an empty table")
	})

	t.Run("a sweep of a large expired table removes everyone", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		// 5,000 users over several shards, more than one sweep batch per shard.
		m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: ttl, MaxUsers: 10_000, Clock: clock.Now, SweepInterval: -1})
		require.NoError(t, err)
		t.Cleanup(func() { _ = m.Close() })
		const users = 5000
		for i := range users {
			mustAdmit(t, m, "user-"+strconv.Itoa(i), "s1", 3)
		}
		clock.Advance(ttl / 2)
		mustAdmit(t, m, "user-7", "s1", 3) // stays live
		require.Equal(t, limiter.Stats{TrackedUsers: users, ActiveSessions: users}, m.Stats())

		clock.Advance(ttl / 2)
		assert.Equal(t, users-1, m.Sweep())
		assert.Equal(t, limiter.Stats{TrackedUsers: 1, ActiveSessions: 1}, m.Stats())
		assert.Equal(t, []string{"s1"}, sessionIDs(t, m, "user-7"))
	})

	t.Run("a user left with no session by List or End is swept", func(t *testing.T) {
		t.Parallel()
		m, clock := newSmallMemory(t, 1000)
		mustAdmit(t, m, "u", "s1", 3)
		clock.Advance(evictionTTL)
		assert.Empty(t, sessionIDs(t, m, "u")) // prunes, keeps the empty user
		assert.Equal(t, limiter.Stats{TrackedUsers: 1, ActiveSessions: 0}, m.Stats())
		assert.Equal(t, 1, m.Sweep())
		assert.Equal(t, limiter.Stats{}, m.Stats())
	})

	t.Run("end and end all keep the gauges right", func(t *testing.T) {
		t.Parallel()
		m, clock := newSmallMemory(t, 1000)
		ctx := context.Background()
		for _, sid := range []string{"s1", "s2", "s3"} {
			mustAdmit(t, m, "a", sid, 3)
		}
		mustAdmit(t, m, "b", "s1", 3)
		ended, err := m.End(ctx, "a", "s2", limiter.EndedByPlayer)
		require.NoError(t, err)
		require.True(t, ended)
		assert.Equal(t, limiter.Stats{TrackedUsers: 2, ActiveSessions: 3}, m.Stats())
		ended, err = m.End(ctx, "b", "s1", limiter.EndedByPlayer)
		require.NoError(t, err)
		require.True(t, ended)
		assert.Equal(t, limiter.Stats{TrackedUsers: 1, ActiveSessions: 2}, m.Stats(), "a user with no session left is removed")
		clock.Advance(evictionTTL / 2)
		mustAdmit(t, m, "a", "s4", 3)
		clock.Advance(evictionTTL / 2) // s1 and s3 expire
		n, err := m.EndAll(ctx, "a", limiter.EndedByPlayer)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "only the active session is reported")
		assert.Equal(t, limiter.Stats{}, m.Stats())
	})

	t.Run("the background sweep runs until Close", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: ttl, MaxUsers: 1000, Clock: clock.Now, SweepInterval: time.Millisecond})
		require.NoError(t, err)
		mustAdmit(t, m, "u", "s1", 3)
		clock.Advance(ttl)
		require.Eventually(t, func() bool { return m.Stats().TrackedUsers == 0 }, 10*time.Second, time.Millisecond)
		require.NoError(t, m.Close())
		require.NoError(t, m.Close(), "Close twice")

		mustAdmit(t, m, "v", "s1", 3)
		clock.Advance(ttl)
		// The sweeper has stopped: Close waits for it, so nothing removes v now.
		assert.Equal(t, 1, m.Stats().TrackedUsers)
	})
}
