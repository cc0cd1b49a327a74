package limiter_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/redistest"
)

// reseedTTL is the session TTL of the re-seed test: long enough for a
// loaded machine's store calls, short enough to watch a whole TTL.
const reseedTTL = 3 * time.Second

// tally counts one kind of device's decisions after Redis came back.
type tally struct {
	admitted, rejected, degraded, failed atomic.Int64
}

func (t *tally) count(d limiter.Decision, err error) {
	switch {
	case err != nil:
		t.failed.Add(1)
	case d.Degraded != "":
		t.degraded.Add(1)
	case d.Admitted():
		t.admitted.Add(1)
	default:
		t.rejected.Add(1)
	}
}

func (t *tally) String() string {
	return fmt.Sprintf("%d admitted, %d rejected, %d degraded, %d failed",
		t.admitted.Load(), t.rejected.Load(), t.degraded.Load(), t.failed.Load())
}

// TestRedisRestartedEmptyIsReseeded kills Redis under load from two replicas
// and starts it again empty, for each failure policy. Each user has three
// devices playing (heartbeats through both replicas) and two devices
// waiting. For one TTL after Redis is back, Redis must never refuse a
// playing device nor admit a waiting one: the replicas write back the
// sessions they know before admitting new ones.
func TestRedisRestartedEmptyIsReseeded(t *testing.T) {
	t.Parallel()
	for _, policy := range []limiter.FailurePolicy{limiter.FailOpen, limiter.FailClosed, limiter.FailLocal} {
		for _, refresh := range []time.Duration{0, reseedTTL / 4} {
			// One at a time: six outages at once, each with a hundred
			// devices and a Redis of its own, left a loaded machine's
			// replicas too slow to keep their sessions inside the TTL.
			t.Run(fmt.Sprintf("%s, refresh interval %s", policy, refresh), func(t *testing.T) {
				reseedUnderLoad(t, policy, refresh)
			})
		}
	}
}

func reseedUnderLoad(t *testing.T, policy limiter.FailurePolicy, refresh time.Duration) {
	const (
		users  = 20
		period = 150 * time.Millisecond
		limit  = 3
	)
	srv := redistest.Start(t)
	var replicas [2]limiter.Store
	var raw [2]*limiter.Redis
	for i := range replicas {
		r, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: reseedTTL, RefreshInterval: refresh, Timeout: time.Second, MaxUsers: 1000})
		require.NoError(t, err)
		g, err := limiter.NewGuard(r, limiter.GuardOptions{Policy: policy, TTL: reseedTTL, MaxUsers: 1000})
		require.NoError(t, err)
		t.Cleanup(func() { _ = g.Close() })
		replicas[i], raw[i] = g, r
	}
	ctx := context.Background()
	admit := func(replica int, user, session string) (limiter.Decision, error) {
		return replicas[replica].Admit(ctx, limiter.Request{UserID: user, SessionID: session, Limit: limit})
	}
	for u := range users {
		for p := range limit {
			d, err := admit(p%2, fmt.Sprint("u", u), fmt.Sprint("play", p))
			require.NoError(t, err)
			require.Equal(t, limiter.Started, d.Result)
		}
	}

	var after atomic.Bool // Redis is back
	var playing, waiting tally
	stop := make(chan struct{})
	var wg sync.WaitGroup
	device := func(user, session string, replicas []int, tl *tally) {
		defer wg.Done()
		tick := time.NewTicker(period)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			d, err := admit(replicas[i%len(replicas)], user, session)
			if after.Load() {
				tl.count(d, err)
			}
		}
	}
	for u := range users {
		user := fmt.Sprint("u", u)
		for p := range limit {
			wg.Add(1)
			go device(user, fmt.Sprint("play", p), []int{p % 2}, &playing)
		}
		for w := range 2 {
			wg.Add(1)
			go device(user, fmt.Sprint("wait", w), []int{0, 1}, &waiting)
		}
	}

	time.Sleep(reseedTTL / 3) // steady load before the outage; the devices run on their own
	srv.Kill()
	time.Sleep(reseedTTL / 2) // the outage
	srv.Restart()
	after.Store(true)
	time.Sleep(reseedTTL) // one TTL after Redis is back
	close(stop)
	wg.Wait()

	t.Logf("%s, refresh %s, after recovery: playing devices: %s; waiting devices: %s; re-seeded %d + %d sessions",
		policy, refresh, &playing, &waiting, limiter.Reseeded(raw[0]), limiter.Reseeded(raw[1]))
	assert.Zero(t, playing.rejected.Load(), "Redis refused a device that was playing")
	assert.Zero(t, waiting.admitted.Load(), "Redis admitted a waiting device over the limit")
	assert.Positive(t, playing.admitted.Load(), "Redis decided again after the restart")
	for i, r := range raw {
		assert.Equal(t, uint64(1), limiter.ReseedPasses(r), "replica %d noticed the loss once", i)
	}
	for u := range users {
		sessions, err := replicas[0].List(ctx, fmt.Sprint("u", u))
		require.NoError(t, err)
		ids := make([]string, len(sessions))
		for i, s := range sessions {
			ids[i] = s.ID
		}
		assert.ElementsMatch(t, []string{"play0", "play1", "play2"}, ids, "user u%d", u)
	}
}
