package limiter

import (
	"slices"
	"strings"
	"time"
)

// entry is one session as the memory store keeps it: 40 bytes, times as Unix
// nanoseconds so that a refresh writes one integer. Sessions are matched by
// key, so a heartbeat never reads the id's bytes (a cache miss each).
type entry struct {
	key      uint64
	started  int64
	lastSeen int64
	// meta is the session id and the device, packed by packMeta: one
	// allocation per session, with no pointer in it for the GC to follow.
	meta string
}

// packMeta joins a session id and its device with NUL bytes, which neither an
// id (visible ASCII) nor a header value can hold.
func packMeta(id string, dev Device) string {
	ua, addr := clip(dev.UserAgent), clip(dev.Address)
	if ua == "" && addr == "" {
		return strings.Clone(id)
	}
	return id + "\x00" + ua + "\x00" + addr
}

// clip keeps at most maxDeviceField bytes of a device field, so that a
// player sending a 60 KiB User-Agent cannot make its session cost 60 KiB.
func clip(s string) string {
	return truncate(strings.ReplaceAll(s, "\x00", ""), maxDeviceField)
}

// id is the session id of e.
func (e *entry) id() string {
	id, _, _ := strings.Cut(e.meta, "\x00")
	return id
}

// device is the device e was started by.
func (e *entry) device() Device {
	_, rest, ok := strings.Cut(e.meta, "\x00")
	if !ok {
		return Device{}
	}
	ua, addr, _ := strings.Cut(rest, "\x00")
	return Device{UserAgent: ua, Address: addr}
}

// user holds one user's sessions. A user rarely has more than a handful, so a
// slice scanned linearly beats any map; the first session lives inline, so a
// one-session user is one allocation and one pointer hop.
type user struct {
	sessions []entry
	// id is the user id, for listings and the state file; the table is
	// keyed by its hash.
	id string
	// bumped is when the user was last moved to the front of its LRU.
	bumped int64
	first  [1]entry
}

// prune drops sessions whose heartbeat is ttl or more old and returns how many it dropped.
func (u *user) prune(now, ttl int64) int {
	kept := u.sessions[:0]
	for _, s := range u.sessions {
		if now-s.lastSeen < ttl {
			kept = append(kept, s)
		}
	}
	dropped := len(u.sessions) - len(kept)
	clear(u.sessions[len(kept):])
	u.sessions = kept
	return dropped
}

func (u *user) find(sk uint64) int {
	for i := range u.sessions {
		if u.sessions[i].key == sk {
			return i
		}
	}
	return -1
}

func (u *user) remove(i int) {
	u.sessions = slices.Delete(u.sessions, i, i+1)
}

// newest is the most recent heartbeat of any session, or 0 when there is none.
func (u *user) newest() int64 {
	var n int64
	for _, s := range u.sessions {
		n = max(n, s.lastSeen)
	}
	return n
}

// start appends a new session, copying the id and device so that the table
// never pins a request's memory.
func (u *user) start(sessionID string, sk uint64, now int64, dev Device) {
	if u.sessions == nil {
		u.sessions = u.first[:0:1]
	}
	u.sessions = append(u.sessions, entry{key: sk, started: now, lastSeen: now, meta: packMeta(sessionID, dev)})
}

// retryAfter is the time until the soonest-expiring session expires.
func (u *user) retryAfter(now, ttl int64) time.Duration {
	soonest := int64(-1)
	for _, s := range u.sessions {
		if left := s.lastSeen + ttl - now; soonest < 0 || left < soonest {
			soonest = left
		}
	}
	return time.Duration(max(soonest, 0))
}

// list returns the sessions oldest first, as the API shows them.
func (u *user) list(ttl int64) []Session {
	out := make([]Session, len(u.sessions))
	for i, s := range u.sessions {
		out[i] = Session{
			ID:        s.id(),
			StartedAt: time.Unix(0, s.started).UTC(),
			LastSeen:  time.Unix(0, s.lastSeen).UTC(),
			ExpiresAt: time.Unix(0, s.lastSeen+ttl).UTC(),
			Device:    s.device(),
		}
	}
	slices.SortStableFunc(out, func(a, b Session) int { return a.StartedAt.Compare(b.StartedAt) })
	return out
}
