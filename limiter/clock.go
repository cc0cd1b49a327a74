package limiter

import "time"

// monotonicClock returns a clock that reads the monotonic clock only. On the
// machines streamgate runs on, time.Now costs two clock reads; a session's
// expiry only needs elapsed time, and API times only need a wall time close
// to the truth.
func monotonicClock() Clock {
	start := time.Now()
	return func() time.Time { return start.Add(time.Since(start)) }
}
