package limiter

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// flushTimeout bounds one batch of touches. They are not on any request's
// path, and a touch that arrives late only extends an active session.
const flushTimeout = time.Second

// flushEvery brings cache-hit heartbeats to Redis. A session answered from
// the cache and silent since is touched half the TTL and at most a tick
// (a quarter of RefreshInterval, itself under half the TTL) after it was last
// refreshed in Redis: by five eighths of the TTL, well before the TTL ends
// its life there. A session still playing has called the store by then,
// carrying its hits, and costs no touch.
func (r *Redis) flushEvery(tick time.Duration) {
	defer close(r.flushDone)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.flush()
		}
	}
}

// flush sends every due touch, pipelined, and returns how many it sent.
func (r *Redis) flush() int {
	due := r.cache.due()
	if len(due) == 0 {
		return 0
	}
	c := r.client.Load()
	if c == nil {
		return 0
	}
	execs := make([]rueidis.LuaExec, len(due))
	for i, p := range due {
		execs[i] = rueidis.LuaExec{
			Keys: []string{redisKey(p.userID)},
			Args: []string{p.sessionID, r.ttlMicros, r.leaseMicros, nanosAsMicros(p.ago),
				nanosAsMicros(p.left[0]), nanosAsMicros(p.left[1]), nanosAsMicros(p.left[2]),
				strconv.FormatInt(p.hint/1000, 10)},
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	for _, res := range r.touchScript.ExecMulti(ctx, *c, execs...) {
		r.calls.Add(1)
		if res.Error() != nil {
			r.errs.Add(1)
		}
	}
	return len(due)
}
