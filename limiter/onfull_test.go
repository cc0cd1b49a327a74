package limiter_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
)

func TestMemoryOnFullRefuse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	newRefusing := func(t *testing.T, maxUsers int) (*limiter.Memory, *fakeClock) {
		t.Helper()
		clock := newFakeClock()
		m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: evictionTTL, MaxUsers: maxUsers, Clock: clock.Now, SweepInterval: -1, OnFull: limiter.OnFullRefuse})
		require.NoError(t, err)
		t.Cleanup(func() { _ = m.Close() })
		return m, clock
	}

	t.Run("a new user is refused while every user is live, and nobody is evicted", func(t *testing.T) {
		t.Parallel()
		m, clock := newRefusing(t, 3)
		for _, u := range []string{"u1", "u2", "u3"} {
			mustAdmit(t, m, u, "s1", 3)
			clock.Advance(step)
		}
		_, err := m.Admit(ctx, limiter.Request{UserID: "u4", SessionID: "s1", Limit: 3})
		require.ErrorIs(t, err, limiter.ErrTableFull)
		assert.Zero(t, m.Stats().EvictedUsers)
		assert.Equal(t, 3, m.Stats().TrackedUsers)
		for _, u := range []string{"u1", "u2", "u3"} {
			assert.Equal(t, []string{"s1"}, sessionIDs(t, m, u), "%s keeps its session", u)
			assert.Equal(t, limiter.Started, mustAdmit(t, m, u, "s2", 3).Result, "a user in the table still starts sessions")
		}
	})

	t.Run("an expired user is replaced", func(t *testing.T) {
		t.Parallel()
		m, clock := newRefusing(t, 3)
		mustAdmit(t, m, "old", "s1", 3)
		clock.Advance(evictionTTL / 2)
		mustAdmit(t, m, "u2", "s1", 3)
		mustAdmit(t, m, "u3", "s1", 3)
		clock.Advance(evictionTTL/2 + step) // old has expired, u2 and u3 have not
		assert.Equal(t, limiter.Started, mustAdmit(t, m, "u4", "s1", 3).Result)
		assert.Zero(t, m.Stats().EvictedUsers, "replacing an expired user is no eviction")
		assert.Empty(t, sessionIDs(t, m, "old"))
	})

	t.Run("an expired user in another shard is replaced", func(t *testing.T) {
		t.Parallel()
		const users = 4096 // several shards
		m, clock := newRefusing(t, users)
		for i := range users - 1 {
			mustAdmit(t, m, "live"+strconv.Itoa(i), "s1", 3)
		}
		mustAdmit(t, m, "old", "s1", 3)
		clock.Advance(evictionTTL / 2)
		for i := range users - 1 {
			mustAdmit(t, m, "live"+strconv.Itoa(i), "s1", 3) // refreshed
		}
		clock.Advance(evictionTTL/2 + step)
		// Newcomers land in various shards; "old" is in one of them.
		assert.Equal(t, limiter.Started, mustAdmit(t, m, "new", "s1", 3).Result)
		_, err := m.Admit(ctx, limiter.Request{UserID: "new2", SessionID: "s1", Limit: 3})
		assert.ErrorIs(t, err, limiter.ErrTableFull, "only one user had expired")
		assert.Zero(t, m.Stats().EvictedUsers)
	})
}

func TestParseOnFull(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, in string
		ok       bool
	}{{"evict", "evict", true}, {"refuse", "refuse", true}, {"unknown", "drop", false}, {"empty", "", false}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := limiter.ParseOnFull(tt.in)
			assert.Equal(t, tt.ok, err == nil)
		})
	}
}
