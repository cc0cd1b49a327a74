package limiter_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/redistest"
)

// TestRedisCloseLeavesNoGoroutine closes a Guard over Redis in the states
// that run goroutines of their own: the refresh cache's flusher with touches
// pending, the re-seed after a restart, the connect loop while Redis is
// down. Not parallel: goleak compares the goroutines before and after.
func TestRedisCloseLeavesNoGoroutine(t *testing.T) {
	tests := []struct {
		name        string
		downAtStart bool
		run         func(t *testing.T, srv *redistest.Server, g *limiter.Guard)
	}{
		{"flusher with touches pending", false, func(t *testing.T, _ *redistest.Server, g *limiter.Guard) {
			for i := range 50 {
				req := limiter.Request{UserID: fmt.Sprint("u", i), SessionID: "s", Limit: 3}
				for range 2 { // the second is a cache hit, pending
					_, err := g.Admit(context.Background(), req)
					require.NoError(t, err)
				}
			}
		}},
		{"re-seeding after a restart", false, func(t *testing.T, srv *redistest.Server, g *limiter.Guard) {
			for i := range 200 {
				_, err := g.Admit(context.Background(), limiter.Request{UserID: fmt.Sprint("u", i), SessionID: "s", Limit: 3})
				require.NoError(t, err)
			}
			srv.Kill()
			srv.Restart()
			_ = g.Ping(context.Background()) // meets the new Redis: the re-seed begins
		}},
		{"connecting while Redis is down", false, func(t *testing.T, srv *redistest.Server, g *limiter.Guard) {
			srv.Kill()
			_, _ = g.Admit(context.Background(), limiter.Request{UserID: "u", SessionID: "s", Limit: 3})
			_ = g.Ping(context.Background())
		}},
		{"never connected", true, func(t *testing.T, _ *redistest.Server, g *limiter.Guard) {
			_, err := g.Admit(context.Background(), limiter.Request{UserID: "u", SessionID: "s", Limit: 3})
			require.NoError(t, err, "the local policy decides")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []goleak.Option{goleak.IgnoreCurrent()}
			if tt.downAtStart {
				// A failed rueidis.NewClient leaves its cluster probe's
				// delayed refresh behind: the client's, not ours; it ends
				// on its own about a second later.
				opts = append(opts, goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1"))
			}
			defer goleak.VerifyNone(t, opts...)
			srv := redistest.Start(t)
			if tt.downAtStart {
				srv.Kill()
			}
			r, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: 4 * time.Second, RefreshInterval: time.Second, Timeout: time.Second, MaxUsers: 1000})
			require.NoError(t, err)
			g, err := limiter.NewGuard(r, limiter.GuardOptions{Policy: limiter.FailLocal, TTL: 4 * time.Second, MaxUsers: 1000})
			require.NoError(t, err)
			tt.run(t, srv, g)
			require.NoError(t, g.Close())
		})
	}
}
