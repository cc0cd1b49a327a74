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

// TestRedisAdmissionPastScriptDeadlineWhileWaiting: an admission's script
// reaches Redis after its deadline (-store-timeout from when it was sent)
// while the call is still waiting, because Redis kept answering (a replica
// on saturated cores). The refusal must not reach the failure policy as a
// store failure: nothing has answered the player yet, so the admission is
// decided again. (A call that gave up is never recorded later:
// TestRedisLateAdmissionIsNotRecorded.)
func TestRedisAdmissionPastScriptDeadlineWhileWaiting(t *testing.T) {
	t.Parallel()
	const timeout = 100 * time.Millisecond
	srv := redistest.Start(t)
	r, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: time.Minute, Timeout: timeout})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	ctx := context.Background()
	// The first reply teaches the store Redis's clock.
	_, err = r.Admit(ctx, limiter.Request{UserID: "u", SessionID: "first", Limit: 3})
	require.NoError(t, err)

	limiter.MisjudgeRedisClock(r, 3*timeout) // the script arrives 3 timeouts late
	errsBefore := r.Stats().StoreErrors
	d, err := r.Admit(ctx, limiter.Request{UserID: "u", SessionID: "late", Limit: 3})
	require.NoError(t, err, "a Redis that answered was reported as failing")
	assert.Equal(t, limiter.Started, d.Result)
	assert.Equal(t, errsBefore, r.Stats().StoreErrors, "no store error counted")

	sessions, err := r.List(ctx, "u")
	require.NoError(t, err)
	assert.Len(t, sessions, 2, "the admission is recorded once")
}
