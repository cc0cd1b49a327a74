package limiter

import (
	"strconv"
	"time"
)

// endedSession is a tombstone as a replica re-seeds an empty Redis with it.
type endedSession struct {
	ID     string
	Until  time.Time
	Reason EndReason
}

// eachUser calls f for every user with active sessions or tombstones in the
// table, shard by shard, each shard copied under its lock and handed out
// outside it, until f returns false. It is what a replica re-seeds an empty
// Redis from.
func (m *Memory) eachUser(f func(userID string, sessions []Session, ended []endedSession) bool) {
	for i := range m.table.Len() {
		for _, su := range m.snapshotShard(m.table.At(i)) {
			sessions := make([]Session, len(su.Sessions))
			for j, s := range su.Sessions {
				sessions[j] = Session{ID: s.SessionID, StartedAt: s.StartedAt, LastSeen: s.LastSeen}
				if n, err := strconv.ParseUint(s.BoundTo, 16, 64); err == nil {
					sessions[j].bound = Network(n)
				}
				// The media it holds keeps a silent session active: an empty
				// Redis is re-seeded with it (redis_reseed.go).
				for _, b := range s.BufferedUntil {
					if b.After(sessions[j].BufferedUntil) {
						sessions[j].BufferedUntil = b
					}
				}
				var buffered int64
				if !sessions[j].BufferedUntil.IsZero() {
					buffered = sessions[j].BufferedUntil.UnixNano()
				}
				sessions[j].ExpiresAt = time.Unix(0, expiry(s.LastSeen.UnixNano(), buffered, m.ttl, m.maxLease)).UTC()
				if s.Device != nil {
					sessions[j].Device = *s.Device
				}
			}
			ended := make([]endedSession, 0, len(su.Ended))
			for _, t := range su.Ended {
				reason := EndedByOperator
				if t.Reason == Replaced.String() {
					reason = Replaced
				}
				ended = append(ended, endedSession{ID: t.SessionID, Until: t.Until, Reason: reason})
			}
			if !f(su.UserID, sessions, ended) {
				return
			}
		}
	}
}

// now is the table's clock.
func (m *Memory) now() time.Time { return m.clock() }

// ended returns the user's live tombstones.
func (m *Memory) ended(userID string) []endedSession {
	sh, _, u, now := m.locked(userID)
	defer sh.Unlock()
	if u == nil {
		return nil
	}
	var out []endedSession
	for _, t := range u.ended() {
		if t.reason != lapsed && now < t.until {
			out = append(out, endedSession{ID: metaID(t.meta), Until: time.Unix(0, t.until), Reason: t.reason})
		}
	}
	return out
}
