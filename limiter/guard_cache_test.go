package limiter_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/redistest"
	"github.com/streamgate/streamgate/limiter/storetest"
)

// TestGuardLearnsCachedHitsAtRenewal plays a session whose hits the
// refresh cache answers, time simulated: the local table, which re-seeds
// an empty Redis and decides under the local policy, is not written per
// hit but learns the hits, with their media, when the flusher brings them
// to Redis, under the TTL-only rule and under leases, bound to a network
// or not.
func TestGuardLearnsCachedHitsAtRenewal(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const interval, ttl, media = 20 * time.Second, time.Minute, 30 * time.Second
	tests := []struct {
		name  string
		rules limiter.Rules
		// buffered says whether the media is kept (a lease beyond the TTL).
		buffered bool
	}{
		{"TTL only", limiter.Rules{}, false},
		{"leases", limiter.Rules{MaxLease: 10 * time.Minute}, true},
		{"leases, bound to a network", limiter.Rules{MaxLease: 10 * time.Minute, BindNetwork: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			clock := storetest.NewClock(start)
			r, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: ttl, RefreshInterval: interval, Timeout: 5 * time.Second, Clock: clock.Now, Rules: tt.rules})
			require.NoError(t, err)
			g, err := limiter.NewGuard(r, limiter.GuardOptions{Policy: limiter.FailClosed, TTL: ttl, Clock: clock.Now, Rules: tt.rules})
			require.NoError(t, err)
			t.Cleanup(func() { _ = g.Close() })
			ctx := context.Background()
			req := limiter.Request{UserID: "learns-" + t.Name(), SessionID: "s", Limit: 3, Network: 0xa0b0c00}

			d, err := g.Admit(ctx, req)
			require.NoError(t, err)
			require.Equal(t, limiter.Started, d.Result)
			clock.Advance(5 * time.Second)
			hitAt := clock.Now()
			hit := req
			hit.Media = media
			d, err = g.Admit(ctx, hit)
			require.NoError(t, err)
			require.Equal(t, limiter.Refreshed, d.Result)
			local := limiter.LocalSessions(g, req.UserID)
			require.Len(t, local, 1)
			assert.Equal(t, start, local[0].LastSeen, "a hit is not written to the local table")

			clock.Advance(interval - limiter.FlushTick(interval) - 5*time.Second)
			require.Equal(t, 1, limiter.Flush(r))
			require.Zero(t, r.Stats().StoreErrors)
			local = limiter.LocalSessions(g, req.UserID)
			require.Len(t, local, 1)
			assert.Equal(t, hitAt, local[0].LastSeen, "the renewal brought the hit")
			if tt.buffered {
				assert.Equal(t, hitAt.Add(media), local[0].BufferedUntil, "and its media")
				assert.Equal(t, hitAt.Add(media+ttl), local[0].ExpiresAt)
			} else {
				assert.Equal(t, hitAt.Add(ttl), local[0].ExpiresAt)
			}
		})
	}
}

// TestGuardRemembersAgainWhatItsTableLetGo fills the local table past its
// bound while a session is answered from the refresh cache: the renewal
// that finds the session gone from the local table drops it from the cache,
// so its next request asks Redis and the local table holds it again, as
// re-seeding an empty Redis needs.
func TestGuardRemembersAgainWhatItsTableLetGo(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const interval, ttl = 20 * time.Second, time.Minute
	clock := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	r, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: ttl, RefreshInterval: interval, Timeout: 5 * time.Second, Clock: clock.Now})
	require.NoError(t, err)
	g, err := limiter.NewGuard(r, limiter.GuardOptions{Policy: limiter.FailClosed, TTL: ttl, MaxUsers: 4, Clock: clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.Close() })
	ctx := context.Background()
	prefix := "let-go-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	first := limiter.Request{UserID: prefix + "first", SessionID: "s", Limit: 3}
	admitPending(t, g, first)
	for i := 0; len(limiter.LocalSessions(g, first.UserID)) > 0; i++ {
		require.Less(t, i, 1000, "the local table never let the first user go")
		_, err := g.Admit(ctx, limiter.Request{UserID: prefix + strconv.Itoa(i), SessionID: "s", Limit: 3})
		require.NoError(t, err)
	}

	clock.Advance(interval - limiter.FlushTick(interval))
	require.Positive(t, limiter.Flush(r))
	calls := requestPathCalls(r)
	d, err := g.Admit(ctx, first)
	require.NoError(t, err)
	assert.Equal(t, limiter.Refreshed, d.Result)
	assert.Equal(t, calls+1, requestPathCalls(r), "asked Redis: the cache forgot what the local table lost")
	assert.Len(t, limiter.LocalSessions(g, first.UserID), 1, "remembered again")
}
