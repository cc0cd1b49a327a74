package limiter_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/redistest"
)

// TestRedisFlushedStartsAreDecidedAgain: Redis loses its data without
// dropping a connection (FLUSHALL), and a household's fourth device asks
// before the marker check notices. Redis, empty, starts it; once the loss is
// found it must not be written back beside the three that play, and it
// must not play on. For each failure policy.
func TestRedisFlushedStartsAreDecidedAgain(t *testing.T) {
	t.Parallel()
	for _, policy := range []limiter.FailurePolicy{limiter.FailOpen, limiter.FailClosed, limiter.FailLocal} {
		t.Run(string(policy), func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t)
			r, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: time.Minute, Timeout: time.Second, MaxUsers: 100})
			require.NoError(t, err)
			g, err := limiter.NewGuard(r, limiter.GuardOptions{Policy: policy, TTL: time.Minute, MaxUsers: 100})
			require.NoError(t, err)
			t.Cleanup(func() { _ = g.Close() })
			ctx := context.Background()
			admit := func(session string) (limiter.Decision, error) {
				return g.Admit(ctx, limiter.Request{UserID: "u", SessionID: session, Limit: 3})
			}
			for p := range 3 {
				d, err := admit(fmt.Sprint("play", p))
				require.NoError(t, err)
				require.Equal(t, limiter.Started, d.Result)
			}
			// Each start was followed by a read of the marker: known good.
			require.Eventually(t, func() bool { return limiter.WindowStarts(r) == 0 },
				5*time.Second, 10*time.Millisecond, "a marker check passes")

			_, err = srv.Do("FLUSHALL")
			require.NoError(t, err)
			// Redis, empty, starts it; the start is checked, the loss found,
			// and it is decided again before its answer.
			d, err := admit("fourth")
			t.Logf("the fourth device, just after the loss: %v, %v", d.Result, err)
			assert.False(t, err == nil && d.Admitted() && d.Degraded == "", "Redis admitted a fourth device")

			require.Eventually(t, func() bool {
				return limiter.ReseedPasses(r) == 1 && limiter.Reseeded(r) >= 3
			}, 10*time.Second, 10*time.Millisecond, "the loss is found and Redis re-seeded")
			sessions, err := r.List(ctx, "u")
			require.NoError(t, err)
			ids := make([]string, len(sessions))
			for i, s := range sessions {
				ids[i] = s.ID
			}
			assert.ElementsMatch(t, []string{"play0", "play1", "play2"}, ids, "Redis holds the three that play, and no fourth")

			// The grace over, Redis decides: the fourth is refused, the three play.
			limiter.ExtendReseedGrace(r, 0)
			d, err = admit("fourth")
			require.NoError(t, err)
			assert.Equal(t, limiter.Rejected, d.Result, "the fourth device does not play on")
			for p := range 3 {
				d, err := admit(fmt.Sprint("play", p))
				require.NoError(t, err)
				assert.True(t, d.Admitted(), "play%d plays on", p)
				assert.Empty(t, d.Degraded, "decided by Redis")
			}
		})
	}
}
