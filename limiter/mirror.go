package limiter

import "time"

// eachUser calls f for every user with active sessions in the table, shard by
// shard, each shard copied under its lock and handed out outside it, until f
// returns false. It is what a replica re-seeds an empty Redis from.
func (m *Memory) eachUser(f func(userID string, sessions []Session) bool) {
	for i := range m.shards {
		for _, su := range m.snapshotShard(&m.shards[i]) {
			sessions := make([]Session, len(su.Sessions))
			for j, s := range su.Sessions {
				sessions[j] = Session{ID: s.SessionID, StartedAt: s.StartedAt, LastSeen: s.LastSeen}
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
			if !f(su.UserID, sessions) {
				return
			}
		}
	}
}

// now is the table's clock.
func (m *Memory) now() time.Time { return m.clock() }
