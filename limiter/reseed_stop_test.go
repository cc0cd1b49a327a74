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

// TestGuardKeepsWhatTheStoresStopKept: a household's free stops were spent
// through replica B; a player then stops through replica A, and Redis keeps
// its session for the media it holds. A's table must keep it too: it is
// what A re-seeds an emptied Redis with. A table counting free stops of its
// own (A had seen none) freed it, and after a FLUSHALL a fourth device got
// in while that session still played.
func TestGuardKeepsWhatTheStoresStopKept(t *testing.T) {
	t.Parallel()
	const ttl = time.Minute
	rules := limiter.Rules{MaxLease: 5 * time.Minute}
	srv := redistest.Start(t)
	ra, a := guardedReplica(t, srv.URL(), ttl, limiter.FailOpen, rules)
	rb, b := guardedReplica(t, srv.URL(), ttl, limiter.FailOpen, rules)
	ctx := context.Background()
	admit := func(g *limiter.Guard, session string) limiter.Result {
		t.Helper()
		d, err := g.Admit(ctx, limiter.Request{UserID: "u", SessionID: session, Limit: 3, Media: 30 * time.Second})
		require.NoError(t, err)
		return d.Result
	}
	stop := func(g *limiter.Guard, session string) {
		t.Helper()
		ended, err := g.End(ctx, "u", session, limiter.StoppedByPlayer)
		require.NoError(t, err)
		require.True(t, ended)
	}
	for _, id := range []string{"x1", "x2", "x3"} { // the free stops, through B
		require.Equal(t, limiter.Started, admit(b, id))
		stop(b, id)
	}
	require.Equal(t, limiter.Started, admit(a, "kept"))
	stop(a, "kept")
	for _, id := range []string{"p1", "p2"} {
		require.Equal(t, limiter.Started, admit(a, id))
	}
	require.Equal(t, limiter.Rejected, admit(a, "fourth"), "Redis keeps the stopped session for its media")
	require.Eventually(t, func() bool { return limiter.WindowStarts(ra)+limiter.WindowStarts(rb) == 0 },
		5*time.Second, 10*time.Millisecond, "a marker check passes")

	_, err := srv.Do("FLUSHALL")
	require.NoError(t, err)
	awaitReseed(t, ra, rb, "u", []string{"kept", "p1", "p2"})
	assert.Equal(t, limiter.Rejected, admit(b, "fourth"), "the kept session still holds its slot")
}
