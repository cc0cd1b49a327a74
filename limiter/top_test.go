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

func TestMemoryTopUsers(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: time.Minute, MaxUsers: 1000, Clock: clock.Now, SweepInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	ctx := context.Background()
	admit := func(user string, sessions int) {
		for i := range sessions {
			d, err := m.Admit(ctx, limiter.Request{UserID: user, SessionID: "s" + strconv.Itoa(i), Limit: 10})
			require.NoError(t, err)
			require.True(t, d.Admitted())
		}
	}
	admit("stale", 5)
	clock.Advance(50 * time.Second)
	admit("alice", 3)
	admit("bob", 4)
	admit("carol", 3)
	admit("dave", 1)

	assert.Equal(t, []limiter.UserCount{{UserID: "stale", Count: 5}, {UserID: "bob", Count: 4}}, m.TopUsers(2))

	clock.Advance(20 * time.Second) // stale's sessions expired; nobody swept them yet
	assert.Equal(t, []limiter.UserCount{
		{UserID: "bob", Count: 4}, {UserID: "alice", Count: 3}, {UserID: "carol", Count: 3}, {UserID: "dave", Count: 1},
	}, m.TopUsers(10), "expired sessions never count; ties by user id")
	assert.Empty(t, m.TopUsers(0))
}

// BenchmarkMemoryTopUsers is the cost of one console refresh of the busiest
// users on a full table (the console caches it for a few seconds).
func BenchmarkMemoryTopUsers(b *testing.B) {
	for _, users := range []int{10_000, 1_000_000} {
		b.Run("users="+strconv.Itoa(users), func(b *testing.B) {
			m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: time.Hour, MaxUsers: users, SweepInterval: -1})
			require.NoError(b, err)
			b.Cleanup(func() { _ = m.Close() })
			ctx := context.Background()
			for i := range users {
				_, _ = m.Admit(ctx, limiter.Request{UserID: "user-" + strconv.Itoa(i), SessionID: "s", Limit: 3})
			}
			b.ReportAllocs()
			for b.Loop() {
				if len(m.TopUsers(10)) != 10 {
					b.Fatal("short top")
				}
			}
		})
	}
}
