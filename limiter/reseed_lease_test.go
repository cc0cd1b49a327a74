package limiter_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/redistest"
)

// TestRedisReseedKeepsLeases: a player that buffered far ahead is silent
// for longer than the TTL and still playing. When Redis loses its sessions
// then, the re-seed must write it back with its lease, or a waiting device
// takes its slot.
func TestRedisReseedKeepsLeases(t *testing.T) {
	t.Parallel()
	const ttl = time.Second
	rules := limiter.Rules{MaxLease: time.Minute}
	srv := redistest.Start(t)
	r, g := guardedReplica(t, srv.URL(), ttl, limiter.FailClosed, rules)
	ctx := context.Background()

	ids := []string{"buffered", "also-buffered", "heartbeating"}
	for _, id := range ids {
		d, err := g.Admit(ctx, limiter.Request{UserID: "u", SessionID: id, Limit: 3, Media: 30 * time.Second})
		require.NoError(t, err)
		require.Equal(t, limiter.Started, d.Result)
	}
	// Two players go silent for longer than the TTL: their media holds them.
	silentSince := time.Now()
	for time.Since(silentSince) < ttl+ttl/2 {
		_, err := g.Admit(ctx, limiter.Request{UserID: "u", SessionID: "heartbeating", Limit: 3, NoMedia: true})
		require.NoError(t, err)
		time.Sleep(ttl / 10) // the pace of a playing device
	}
	before, err := g.List(ctx, "u")
	require.NoError(t, err)
	require.Len(t, before, 3, "the leases hold the silent sessions in Redis")

	_, err = srv.Do("FLUSHALL")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return limiter.Reseeded(r) > 0 }, 10*time.Second, 10*time.Millisecond,
		"the replica never re-seeded Redis")

	after, err := g.List(ctx, "u")
	require.NoError(t, err)
	got := make([]string, len(after))
	for i, s := range after {
		got[i] = s.ID
		if s.ID != "heartbeating" {
			assert.WithinDuration(t, before[i].ExpiresAt, s.ExpiresAt, time.Second, "%s keeps its lease", s.ID)
			assert.False(t, s.BufferedUntil.IsZero(), "%s keeps its media", s.ID)
		}
	}
	assert.ElementsMatch(t, ids, got, "every playing session is back in Redis")
}

// TestRedisReseedGraceStillRefuses: while the replicas re-seed an empty
// Redis, a new session goes to the failure policy, as Redis may still
// undercount, unless Redis already holds the user's limit: then the
// refusal is Redis's, whatever the policy. Under open, a fourth device
// would otherwise be admitted for the whole grace after every restart.
func TestRedisReseedGraceStillRefuses(t *testing.T) {
	t.Parallel()
	const ttl = time.Minute
	srv := redistest.Start(t)
	r, g := guardedReplica(t, srv.URL(), ttl, limiter.FailOpen, limiter.Rules{})
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c"} {
		_, err := g.Admit(ctx, limiter.Request{UserID: "u", SessionID: id, Limit: 3})
		require.NoError(t, err)
	}
	_, err := srv.Do("FLUSHALL")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return limiter.Reseeded(r) == 3 }, 10*time.Second, 10*time.Millisecond,
		"the replica never re-seeded Redis")

	d, err := g.Admit(ctx, limiter.Request{UserID: "u", SessionID: "fourth", Limit: 3})
	require.NoError(t, err)
	assert.Empty(t, d.Degraded, "handed to the open policy although Redis holds the user's limit")
	assert.Equal(t, limiter.Rejected, d.Result)
	d, err = g.Admit(ctx, limiter.Request{UserID: "other", SessionID: "first", Limit: 3})
	require.NoError(t, err)
	assert.True(t, d.Admitted())
}

// TestRedisReseedRetriesFailedUsers: a user whose re-seed script fails
// (here its key holds a string when the pass runs; on a loaded machine, a
// call past its deadline) is written back by a later pass, not forgotten.
func TestRedisReseedRetriesFailedUsers(t *testing.T) {
	t.Parallel()
	const ttl = time.Minute
	srv := redistest.Start(t)
	r, g := guardedReplica(t, srv.URL(), ttl, limiter.FailClosed, limiter.Rules{})
	ctx := context.Background()
	_, err := g.Admit(ctx, limiter.Request{UserID: "u", SessionID: "playing", Limit: 3})
	require.NoError(t, err)

	// One script: the data is lost and the user's key is unusable at once,
	// before the next marker check notices.
	_, err = srv.Do("EVAL", "redis.call('FLUSHALL') redis.call('SET', KEYS[1], 'x') return 1", "1", "streamgate:{u}")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return limiter.ReseedPasses(r) == 1 }, 10*time.Second, 10*time.Millisecond,
		"the replica never noticed that Redis lost its sessions")
	_, err = srv.Do("DEL", "streamgate:{u}")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return limiter.Reseeded(r) == 1 }, 10*time.Second, 10*time.Millisecond,
		"the user whose re-seed failed was never written back")
	sessions, err := g.List(ctx, "u")
	require.NoError(t, err)
	require.Len(t, sessions, 1)
	assert.Equal(t, "playing", sessions[0].ID)
}
