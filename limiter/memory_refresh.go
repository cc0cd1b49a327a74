package limiter

import "context"

// refresh heartbeats req's session if the table holds it, and never starts,
// evicts or rejects anything: what Guard's closed policy keeps of a device
// it refused while the store was down. It reports whether the session was
// there.
func (m *Memory) refresh(_ context.Context, req Request) bool {
	return m.withSession(req.UserID, req.SessionID, req.Network, func(e *entry, now int64) {
		e.heartbeat(&req, now, &m.ns)
	})
}

// renew applies to a session the table holds a renewal a remote store
// accepted (Guard's mirror of the refresh cache's hits): its last heartbeat
// t.ago before now, the media buffered per track after it, its hint. It
// starts nothing and only ever makes the session last longer. Under network
// binding the touch names the session as Redis does (boundField).
func (m *Memory) renew(t touch) bool {
	id, n, ok := splitBoundField(t.sessionID)
	if !ok {
		return false
	}
	return m.withSession(t.userID, id, n, func(e *entry, now int64) {
		seen := now - t.ago
		e.lastSeen = max(e.lastSeen, seen)
		if m.ns.maxLease > m.ns.ttl {
			if t.hint > 0 {
				e.hint = t.hint
			}
			for tr, l := range t.left {
				if l > 0 {
					e.buffered[tr] = max(e.buffered[tr], seen+l)
				}
			}
		}
		e.expires = max(e.expires, expiry(e.lastSeen, e.bufferedUntil(), m.ns.ttl, m.ns.maxLease))
	})
}

// withSession applies f, under its shard's lock, to userID's session id as
// a request from network n finds it (n 0: any), then bumps the user; it
// reports whether the table holds the session, and starts nothing.
func (m *Memory) withSession(userID, id string, n Network, f func(e *entry, now int64)) bool {
	sh, _, sk, u, now := m.lockedSession(userID, id)
	defer sh.Unlock()
	if u == nil {
		return false
	}
	i := -1
	if m.rules.BindNetwork {
		i, _ = u.findBound(sk, n, now, m.ns.window)
	} else {
		i = u.find(sk)
	}
	if i < 0 {
		return false
	}
	f(&u.sessions()[i], now)
	m.bump(sh, u, now)
	return true
}
