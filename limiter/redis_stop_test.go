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

// TestRedisStopCountsTheCachesMedia: a session whose segments were answered
// by this replica's refresh cache holds media that Redis has not heard of
// yet. A player's stop past the free ones must keep its slot for that
// media, not judge it from Redis's older record.
func TestRedisStopCountsTheCachesMedia(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	r, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: time.Minute, RefreshInterval: 20 * time.Second,
		Timeout: time.Second, MaxUsers: 100, Rules: limiter.Rules{MaxLease: 5 * time.Minute}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	ctx := context.Background()
	admit := func(req limiter.Request) limiter.Decision {
		t.Helper()
		req.UserID, req.Limit = "u", 1
		d, err := r.Admit(ctx, req)
		require.NoError(t, err)
		return d
	}
	stop := func(session string) {
		t.Helper()
		ended, err := r.End(ctx, "u", session, limiter.StoppedByPlayer)
		require.NoError(t, err)
		require.True(t, ended)
	}
	for _, id := range []string{"a", "b", "c"} { // the user's free stops
		require.Equal(t, limiter.Started, admit(limiter.Request{SessionID: id, Media: 10 * time.Second}).Result)
		stop(id)
	}
	require.Equal(t, limiter.Started, admit(limiter.Request{SessionID: "s1", NoMedia: true}).Result)
	for range 3 { // answered by the cache, within the refresh interval
		require.Equal(t, limiter.Refreshed, admit(limiter.Request{SessionID: "s1", Media: 10 * time.Second}).Result)
	}
	stop("s1")
	assert.Equal(t, limiter.Rejected, admit(limiter.Request{SessionID: "s2"}).Result,
		"the 30 s of media the cache answered for hold the slot")
}
