package limiter

import (
	"context"
	"sync"
	"time"
)

// deadlineMargin is taken off an admission's deadline in Redis's time, for
// what the offset estimate cannot see: the two clocks running at slightly
// different rates between samples.
const deadlineMargin = time.Millisecond

// offsetWindow is how long an offset sample stays in use: long enough to
// keep the best of many calls, short enough to follow a clock that is slewed.
const offsetWindow = time.Second

// clockOffset estimates Redis's clock minus this replica's, from the times the
// scripts return. Each reply bounds the offset from below (Redis read its
// clock before the reply arrived here); the estimate is the highest such
// bound of the last one or two windows, the one least blurred by latency. A
// lower bound never makes a deadline later than the true one.
type clockOffset struct {
	clock Clock

	mu                sync.Mutex
	cur, prev         int64 // µs; valid when have*
	haveCur, havePrev bool
	curStart          int64 // ns of clock
}

// observe takes a reply's Redis time (µs), read as it arrives.
func (o *clockOffset) observe(redisNow int64) {
	local := o.clock().UnixNano()
	bound := redisNow - local/1000
	o.mu.Lock()
	defer o.mu.Unlock()
	if local-o.curStart >= int64(offsetWindow) {
		o.prev, o.havePrev = o.cur, o.haveCur
		o.haveCur, o.curStart = false, local
	}
	if !o.haveCur || bound > o.cur {
		o.cur, o.haveCur = bound, true
	}
}

// redisTime converts a time of this replica's clock to Redis's time (µs),
// erring early; ok is false until a reply has been seen.
func (o *clockOffset) redisTime(local int64) (int64, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var best int64
	switch {
	case o.haveCur && o.havePrev:
		best = max(o.cur, o.prev)
	case o.haveCur:
		best = o.cur
	case o.havePrev:
		best = o.prev
	default:
		return 0, false
	}
	return local/1000 + best - deadlineMargin.Microseconds(), true
}

// deadline is the time in Redis's clock (µs) past which the admission
// script must not record anything: the store's timeout, or the caller's
// deadline if sooner. 0, no deadline, before the first reply: the first
// call of a process is the one that learns the offset.
func (r *Redis) deadline(ctx context.Context) int64 {
	now := r.offset.clock()
	until := now.Add(r.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(until) {
		until = now.Add(time.Until(d))
	}
	t, ok := r.offset.redisTime(until.UnixNano())
	if !ok {
		return 0
	}
	return max(t, 1)
}
