package limiter

// Dials is the number of connects r's client has attempted, for the tests
// of the dial backoff.
func Dials(r *Redis) uint64 { return r.gate.dials.Load() }

// ReseedPasses is the number of times r found Redis had lost its sessions.
func ReseedPasses(r *Redis) uint64 { return r.reseed.passes.Load() }

// Reseeded is the number of sessions r wrote back into an empty Redis.
func Reseeded(r *Redis) uint64 { return r.reseed.seeded.Load() }
