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

// TestGuardMirrorsEndsFromOtherReplicas: replica B replaces a session that
// replica A admitted. When A next hears Redis say Ended, its own table must
// end the session too: otherwise the local policy keeps it playing during
// an outage, and it still counts on A.
func TestGuardMirrorsEndsFromOtherReplicas(t *testing.T) {
	t.Parallel()
	const ttl = time.Minute
	rules := limiter.Rules{OnLimit: limiter.EvictOldest}
	srv := redistest.Start(t)
	replica := func() *limiter.Guard {
		_, g := guardedReplica(t, srv.URL(), ttl, limiter.FailLocal, rules)
		return g
	}
	a, b := replica(), replica()
	ctx := context.Background()
	req := func(session string) limiter.Request {
		return limiter.Request{UserID: "u", SessionID: session, Limit: 1}
	}

	d, err := a.Admit(ctx, req("first"))
	require.NoError(t, err)
	require.Equal(t, limiter.Started, d.Result)
	d, err = b.Admit(ctx, req("second"))
	require.NoError(t, err)
	require.Equal(t, "first", d.Evicted)
	d, err = a.Admit(ctx, req("first"))
	require.NoError(t, err)
	require.Equal(t, limiter.Ended, d.Result)
	assert.Equal(t, limiter.Replaced, d.EndReason)
	assert.Zero(t, a.Stats().ActiveSessions, "replica A still counts the replaced session")

	srv.Kill()
	d, err = a.Admit(ctx, req("first"))
	require.NoError(t, err)
	assert.Equal(t, limiter.FailLocal, d.Degraded, "decided by the local policy")
	assert.Equal(t, limiter.Ended, d.Result, "the local policy brought a replaced session back")
	assert.Equal(t, limiter.Replaced, d.EndReason)
}

// TestGuardClosedPolicyKeepsPlayingSessionsUnderEvictOldest: while Redis is
// down, the closed policy refuses a new device and refreshes the playing
// ones in this replica's table (what re-seeds an empty Redis). Refusing the
// new device must not replace a playing session in that table.
func TestGuardClosedPolicyKeepsPlayingSessionsUnderEvictOldest(t *testing.T) {
	t.Parallel()
	const ttl = time.Minute
	rules := limiter.Rules{OnLimit: limiter.EvictOldest}
	srv := redistest.Start(t)
	r, g := guardedReplica(t, srv.URL(), ttl, limiter.FailClosed, rules)
	ctx := context.Background()
	req := func(session string) limiter.Request {
		return limiter.Request{UserID: "u", SessionID: session, Limit: 1}
	}

	d, err := g.Admit(ctx, req("playing"))
	require.NoError(t, err)
	require.Equal(t, limiter.Started, d.Result)
	srv.Kill()
	_, err = g.Admit(ctx, req("newcomer"))
	require.ErrorIs(t, err, limiter.ErrUnavailable)
	assert.Equal(t, 1, g.Stats().ActiveSessions, "the playing session left this replica's table")

	srv.Restart()
	require.Eventually(t, func() bool { return limiter.Reseeded(r) == 1 }, 10*time.Second, 10*time.Millisecond,
		"the replica never re-seeded Redis")
	sessions, err := g.List(ctx, "u")
	require.NoError(t, err)
	require.Len(t, sessions, 1, "Redis is re-seeded with the playing session")
	assert.Equal(t, "playing", sessions[0].ID)
}

// TestRedisReseedKeepsTombstones: a session replaced by evict-oldest stays
// ended after Redis restarts empty. Without its tombstone, its player's
// next request would be a new session and, under evict-oldest, replace the
// session that replaced it.
func TestRedisReseedKeepsTombstones(t *testing.T) {
	t.Parallel()
	const ttl = time.Minute
	rules := limiter.Rules{OnLimit: limiter.EvictOldest}
	srv := redistest.Start(t)
	r, g := guardedReplica(t, srv.URL(), ttl, limiter.FailClosed, rules)
	// A replica that knows nothing of the user, and so does not hold back
	// while the others re-seed.
	other, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: ttl, Timeout: time.Second, Rules: rules})
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close() })
	ctx := context.Background()
	req := func(session string) limiter.Request {
		return limiter.Request{UserID: "u", SessionID: session, Limit: 1}
	}

	_, err = g.Admit(ctx, req("old"))
	require.NoError(t, err)
	d, err := g.Admit(ctx, req("new"))
	require.NoError(t, err)
	require.Equal(t, "old", d.Evicted)

	_, err = srv.Do("FLUSHALL")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return limiter.Reseeded(r) == 1 }, 10*time.Second, 10*time.Millisecond,
		"the replica never re-seeded Redis")

	d, err = other.Admit(ctx, req("old"))
	require.NoError(t, err)
	assert.Equal(t, limiter.Ended, d.Result, "the replaced session came back")
	assert.Equal(t, limiter.Replaced, d.EndReason)
	sessions, err := other.List(ctx, "u")
	require.NoError(t, err)
	require.Len(t, sessions, 1)
	assert.Equal(t, "new", sessions[0].ID)
}
