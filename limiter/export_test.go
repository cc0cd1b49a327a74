package limiter

// Dials is the number of connects r's client has attempted, for the tests
// of the dial backoff.
func Dials(r *Redis) uint64 { return r.gate.dials.Load() }
