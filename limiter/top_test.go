package limiter_test

import (
	"context"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/redistest"
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

// BenchmarkMemoryTopShared is the cost of the ranking by shared sessions on
// a full table where every session was used from two networks.
func BenchmarkMemoryTopShared(b *testing.B) {
	for _, users := range []int{10_000, 1_000_000} {
		b.Run("users="+strconv.Itoa(users), func(b *testing.B) {
			m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: time.Hour, MaxUsers: users, SweepInterval: -1})
			require.NoError(b, err)
			b.Cleanup(func() { _ = m.Close() })
			ctx := context.Background()
			nets := []limiter.Network{limiter.NetworkOf(netip.MustParseAddr("203.0.113.1")), limiter.NetworkOf(netip.MustParseAddr("198.51.100.1"))}
			for i := range users {
				for _, n := range nets {
					_, _ = m.Admit(ctx, limiter.Request{UserID: "user-" + strconv.Itoa(i), SessionID: "s", Limit: 3, Network: n})
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if len(m.TopShared(10)) != 10 {
					b.Fatal("short top")
				}
			}
		})
	}
}

func TestMemoryTopShared(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: time.Minute, MaxUsers: 1000, Clock: clock.Now, SweepInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	ctx := context.Background()
	play := func(user, session, addr string) {
		d, err := m.Admit(ctx, limiter.Request{UserID: user, SessionID: session, Limit: 10,
			Network: limiter.NetworkOf(netip.MustParseAddr(addr))})
		require.NoError(t, err)
		require.True(t, d.Admitted())
	}
	play("stale", "tv", "203.0.113.1")
	play("stale", "tv", "198.51.100.1")
	clock.Advance(50 * time.Second)
	for _, s := range []string{"tv", "phone"} {
		play("alice", s, "203.0.113.1")
		play("alice", s, "198.51.100.1")
	}
	play("bob", "tv", "192.0.2.1")
	play("bob", "tv", "192.0.2.77") // one /24: one network
	play("bob", "phone", "192.0.2.1")
	play("bob", "phone", "203.0.113.1")
	play("carol", "tv", "192.0.2.1")

	assert.Equal(t, []limiter.UserCount{{UserID: "alice", Count: 2}, {UserID: "bob", Count: 1}, {UserID: "stale", Count: 1}},
		m.TopShared(10), "sessions of one network never count; ties by user id")
	clock.Advance(20 * time.Second) // stale's session expired; nobody swept it yet
	assert.Equal(t, []limiter.UserCount{{UserID: "alice", Count: 2}}, m.TopShared(1))
	assert.Equal(t, []limiter.UserCount{{UserID: "alice", Count: 2}, {UserID: "bob", Count: 1}}, m.TopShared(10))
	assert.Empty(t, m.TopShared(0))
}

// TestGuardTopSharedIsThisReplicasView: with Redis, the ranking by shared
// sessions comes from the replica's table, which saw only the networks that
// reached this replica; the store itself still counts every network.
func TestGuardTopSharedIsThisReplicasView(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	here := newGuarded(t, srv.URL(), time.Minute, 0, limiter.Rules{})
	there := newGuarded(t, srv.URL(), time.Minute, 0, limiter.Rules{})
	t.Cleanup(func() { _ = here.Close(); _ = there.Close() })
	ctx := context.Background()
	play := func(s limiter.Store, session, addr string) {
		d, err := s.Admit(ctx, limiter.Request{UserID: "u", SessionID: session, Limit: 3,
			Network: limiter.NetworkOf(netip.MustParseAddr(addr))})
		require.NoError(t, err)
		require.True(t, d.Admitted())
	}
	play(here, "tv", "203.0.113.1")
	play(here, "tv", "198.51.100.1") // two networks through this replica
	play(here, "phone", "203.0.113.1")
	play(there, "phone", "198.51.100.1") // the second through another replica

	assert.Equal(t, []limiter.UserCount{{UserID: "u", Count: 1}}, here.(limiter.TopLister).TopShared(5))
	sessions, err := here.List(ctx, "u")
	require.NoError(t, err)
	nets := map[string]int{}
	for _, s := range sessions {
		nets[s.ID] = s.Networks
	}
	assert.Equal(t, map[string]int{"tv": 2, "phone": 2}, nets, "the store lists every network")
}
