package limiter

import "time"

// Dials is the number of connects r's client has attempted, for the tests
// of the dial backoff.
func Dials(r *Redis) uint64 { return r.gate.dials.Load() }

// ReseedPasses is the number of times r found Redis had lost its sessions.
func ReseedPasses(r *Redis) uint64 { return r.reseed.losses.Load() }

// Reseeded is the number of sessions r wrote back into an empty Redis.
func Reseeded(r *Redis) uint64 { return r.reseed.seeded.Load() }

// MisjudgeRedisClock makes r believe Redis's clock is d behind what it is,
// until the next reply corrects it: the next admission's deadline is then d
// early in Redis's time, as if its script had reached Redis d late.
func MisjudgeRedisClock(r *Redis, d time.Duration) {
	r.offset.mu.Lock()
	defer r.offset.mu.Unlock()
	r.offset.cur -= d.Microseconds()
	r.offset.prev -= d.Microseconds()
}
