package limiter

import (
	"context"
	"time"
)

// Dials is the number of connects r's client has attempted, for the tests
// of the dial backoff.
func Dials(r *Redis) uint64 { return r.gate.dials.Load() }

// ReseedPasses is the number of times r found Redis had lost its sessions.
func ReseedPasses(r *Redis) uint64 { return r.reseed.losses.Load() }

// Reseeded is the number of sessions r wrote back into an empty Redis.
func Reseeded(r *Redis) uint64 { return r.reseed.seeded.Load() }

// WindowStarts is how many of r's starts a loss found now would undo
// (redis_window.go).
func WindowStarts(r *Redis) int {
	r.reseed.window.mu.Lock()
	defer r.reseed.window.mu.Unlock()
	return len(r.reseed.window.list)
}

// ExtendReseedGrace makes r's current re-seed grace last d from now, so that
// a test on a loaded machine acts within it.
func ExtendReseedGrace(r *Redis, d time.Duration) {
	r.reseed.graceUntil.Store(monoNow() + int64(d))
}

// MisjudgeRedisClock makes r believe Redis's clock is d behind what it is,
// until the next reply corrects it: the next admission's deadline is then d
// early in Redis's time, as if its script had reached Redis d late.
func MisjudgeRedisClock(r *Redis, d time.Duration) {
	r.offset.mu.Lock()
	defer r.offset.mu.Unlock()
	r.offset.cur -= d.Microseconds()
	r.offset.prev -= d.Microseconds()
}

// Flush runs r's flusher once, now: the renewals due, in one batch. It
// returns how many sessions it sent.
func Flush(r *Redis) int {
	if r.cache == nil {
		return 0
	}
	return r.flush()
}

// BatchedCalls is the part of r's store calls made by its flusher's
// batches, on no request's path.
func BatchedCalls(r *Redis) uint64 { return r.batched.Load() }

// FlushTick is how often r's flusher runs.
func FlushTick(interval time.Duration) time.Duration {
	return max(interval/flushTicks, time.Millisecond)
}

// HashSlot is the Redis Cluster slot the flusher groups a key's renewals by.
var HashSlot = hashSlot

// RedisKey is a user's hash in Redis.
var RedisKey = redisKey

// LocalSessions are the user's sessions in g's local table.
func LocalSessions(g *Guard, userID string) []Session {
	s, _ := g.local.List(context.Background(), userID)
	return s
}
