package limiter_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/redistest"
)

// TestRedisReseedKeepsNetworkBinding: under -session-binding network, a
// session re-seeded into an empty Redis stays bound to its network, so the
// same id used from a second network at once still counts as another
// session, as before Redis lost its data.
func TestRedisReseedKeepsNetworkBinding(t *testing.T) {
	t.Parallel()
	const ttl = time.Minute
	rules := limiter.Rules{BindNetwork: true, SharedWindow: time.Minute}
	srv := redistest.Start(t)
	r, g := guardedReplica(t, srv.URL(), ttl, limiter.FailClosed, rules)
	// A replica that knows nothing of the user, and so does not hold back
	// while the others re-seed.
	other, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: ttl, Timeout: time.Second, Rules: rules})
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close() })
	ctx := context.Background()
	from := func(addr string) limiter.Request {
		return limiter.Request{UserID: "u", SessionID: "shared", Limit: 2, Network: limiter.NetworkOf(netip.MustParseAddr(addr))}
	}

	d, err := g.Admit(ctx, from("192.0.2.10"))
	require.NoError(t, err)
	require.Equal(t, limiter.Started, d.Result)

	_, err = srv.Do("FLUSHALL")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return limiter.Reseeded(r) == 1 }, 10*time.Second, 10*time.Millisecond,
		"the replica never re-seeded Redis")

	d, err = other.Admit(ctx, from("198.51.100.20"))
	require.NoError(t, err)
	assert.Equal(t, limiter.Started, d.Result, "a second network took the re-seeded session's slot as its own")
	d, err = other.Admit(ctx, from("192.0.2.10"))
	require.NoError(t, err)
	assert.Equal(t, limiter.Refreshed, d.Result, "the first network still plays its session")
	assert.Equal(t, 2, d.Active)
}

// TestRedisReseedGraceUndoesOneNetwork: during the re-seed grace, a start
// Redis makes is undone and handed to the failure policy. Under network
// binding the same id from a second network is such a start; undoing it
// must not end the id's session on its first network, which is playing.
func TestRedisReseedGraceUndoesOneNetwork(t *testing.T) {
	t.Parallel()
	const ttl = time.Minute
	rules := limiter.Rules{BindNetwork: true, SharedWindow: time.Minute}
	srv := redistest.Start(t)
	r, g := guardedReplica(t, srv.URL(), ttl, limiter.FailClosed, rules)
	ctx := context.Background()
	from := func(addr string) limiter.Request {
		return limiter.Request{UserID: "u", SessionID: "shared", Limit: 2, Network: limiter.NetworkOf(netip.MustParseAddr(addr))}
	}
	_, err := g.Admit(ctx, from("192.0.2.10"))
	require.NoError(t, err)
	_, err = srv.Do("FLUSHALL")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return limiter.Reseeded(r) == 1 }, 10*time.Second, 10*time.Millisecond,
		"the replica never re-seeded Redis")
	// A loaded machine may reach the next line after the 3 s grace.
	limiter.ExtendReseedGrace(r, time.Minute)

	_, err = g.Admit(ctx, from("198.51.100.20"))
	require.ErrorIs(t, err, limiter.ErrUnavailable, "a start during the grace goes to the policy")
	sessions, err := g.List(ctx, "u")
	require.NoError(t, err)
	assert.Len(t, sessions, 1, "the first network's session was ended with the undone start")
}
