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

// TestRedisBoundSessionEndedHereLeavesTheCache: under network binding the
// refresh cache names a session per network, where End and an eviction
// name the id alone. A session ended through this replica, by the operator
// or by evict-oldest, must not go on being admitted from the cache while
// its replacement plays.
func TestRedisBoundSessionEndedHereLeavesTheCache(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	n := limiter.NetworkOf(netip.MustParseAddr("192.0.2.7"))
	for name, onLimit := range map[string]limiter.OnLimit{"ended": limiter.Refuse, "evicted": limiter.EvictOldest} {
		t.Run(name, func(t *testing.T) {
			r := newRedisRules(t, srv.URL(), time.Minute, 20*time.Second, limiter.Rules{BindNetwork: true, OnLimit: onLimit})
			t.Cleanup(func() { _ = r.Close() })
			ctx := context.Background()
			user := "bound-" + name
			req := func(s string) limiter.Request {
				return limiter.Request{UserID: user, SessionID: s, Limit: 1, Network: n}
			}
			for range 2 { // the second is answered from the cache
				d, err := r.Admit(ctx, req("s1"))
				require.NoError(t, err)
				require.True(t, d.Admitted())
			}
			if onLimit == limiter.EvictOldest {
				d, err := r.Admit(ctx, req("s2"))
				require.NoError(t, err)
				require.Equal(t, "s1", d.Evicted)
			} else {
				ended, err := r.End(ctx, user, "s1", limiter.EndedByOperator)
				require.NoError(t, err)
				require.True(t, ended)
			}
			d, err := r.Admit(ctx, req("s1"))
			require.NoError(t, err)
			assert.Equal(t, limiter.Ended, d.Result, "s1 after it was ended through this replica")
		})
	}
}
