package limiter

import (
	"fmt"
	"time"
)

// Defaults of Rules, as the flags have them.
const (
	// DefaultMaxLease is -max-lease: how long after its last request a
	// session's media may keep it active.
	DefaultMaxLease = 5 * time.Minute
	// DefaultTombstoneTTL is -tombstone-ttl.
	DefaultTombstoneTTL = 10 * time.Minute
	// maxTombstones bounds the ended sessions a user's record remembers; the
	// newest are kept.
	maxTombstones = 32
)

// OnLimit is what a new session over the limit gets.
type OnLimit uint8

const (
	// Refuse rejects it (429).
	Refuse OnLimit = iota
	// EvictOldest admits it and ends the user's least recently active
	// session (reason Replaced) in the same atomic decision.
	EvictOldest
)

// ParseOnLimit returns the policy of -on-limit: "refuse" or "evict-oldest".
func ParseOnLimit(s string) (OnLimit, error) {
	switch s {
	case "refuse":
		return Refuse, nil
	case "evict-oldest":
		return EvictOldest, nil
	}
	return Refuse, fmt.Errorf("unknown policy %q; want refuse or evict-oldest", s)
}

// Rules are the session rules every store applies, the same in memory and
// in Redis. The zero value is the TTL-only rule, refusing over the limit,
// enforcing, tombstones kept DefaultTombstoneTTL.
type Rules struct {
	// MaxLease caps how long media keeps a session active: never past its
	// last request plus MaxLease. 0 (or anything up to the TTL) is the
	// TTL-only rule; -max-lease defaults to DefaultMaxLease.
	MaxLease time.Duration
	// OnLimit is the policy for a new session over the limit. Default Refuse.
	OnLimit OnLimit
	// TombstoneTTL is how long a session ended by the operator or replaced
	// answers Ended. Default DefaultTombstoneTTL; negative keeps none.
	TombstoneTTL time.Duration
	// Shadow (-enforce=false) admits and records every session; one over
	// the limit is marked Decision.WouldReject and nothing is evicted.
	Shadow bool
	// SharedWindow is how recently another network must have used a
	// session for a new one to use it at the same time (Decision.Shared,
	// BindNetwork); a session silent this long on its network has moved
	// (a phone leaving Wi-Fi). Default DefaultSharedWindow.
	SharedWindow time.Duration
	// BindNetwork (-session-binding network): a session id used from
	// another network while its network used it less than SharedWindow ago
	// counts as another session, with its own slot (Started) or Rejected; a
	// session silent that long on its network moves to the new one. Requests
	// with Network 0 match any network.
	BindNetwork bool
}

func (r Rules) withDefaults() Rules {
	if r.TombstoneTTL == 0 {
		r.TombstoneTTL = DefaultTombstoneTTL
	}
	if r.TombstoneTTL < 0 {
		r.TombstoneTTL = 0
	}
	if r.SharedWindow <= 0 {
		r.SharedWindow = DefaultSharedWindow
	}
	if r.MaxLease < 0 {
		r.MaxLease = 0
	}
	return r
}

// expiry is when a session with these times stops being active:
// max(lastSeen, bufferedUntil) + ttl, never past lastSeen + maxLease, never
// before lastSeen + ttl.
func expiry(lastSeen, buffered, ttl, maxLease int64) int64 {
	exp := lastSeen + ttl
	if maxLease > ttl && buffered > lastSeen {
		exp = max(exp, min(buffered+ttl, lastSeen+maxLease))
	}
	return exp
}

// media is the media time req delivers, given the session's stored hint:
// what told it, never under MinMedia.
func (req *Request) media(hint int64) int64 {
	if d := req.told(hint); d > 0 {
		return max(d, int64(req.MinMedia))
	}
	return 0
}

// told is the media time req delivers as the first source that tells it
// says (SPEC: d, the session's manifest; then the folder's).
func (req *Request) told(hint int64) int64 {
	switch {
	case req.NoMedia:
		return 0
	case req.Media > 0:
		return int64(req.Media)
	case req.SegmentHint > 0:
		return int64(req.SegmentHint)
	case hint > 0:
		return hint
	}
	return int64(req.FallbackMedia)
}

func (req *Request) track() int {
	if int(req.Track) < numTracks {
		return int(req.Track)
	}
	return int(TrackMain)
}

// rulesNs are the rules a heartbeat applies, in ns.
type rulesNs struct{ ttl, maxLease, window int64 }
