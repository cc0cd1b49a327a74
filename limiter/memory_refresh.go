package limiter

import (
	"context"
	"strconv"
	"strings"
)

// refresh heartbeats req's session if the table holds it, and never starts,
// evicts or rejects anything: what Guard's closed policy keeps of a device
// it refused while the store was down. It reports whether the session was
// there.
func (m *Memory) refresh(_ context.Context, req Request) bool {
	sk := m.keys.session(req.SessionID)
	sh, _, u, now := m.locked(req.UserID)
	defer sh.Unlock()
	if u == nil {
		return false
	}
	i := -1
	if m.rules.BindNetwork {
		i, _ = u.findBound(sk, req.Network, now, m.ns.window)
	} else {
		i = u.find(sk)
	}
	if i < 0 {
		return false
	}
	u.sessions()[i].heartbeat(&req, now, &m.ns)
	m.bump(sh, u, now)
	return true
}

// renew applies to a session the table holds a renewal a remote store
// accepted (Guard's mirror of the refresh cache's hits): its last heartbeat
// t.ago before now, the media buffered per track after it, its hint. It
// starts nothing and only ever makes the session last longer. Under network
// binding the touch names the session as Redis does, "<id>\t<network>".
func (m *Memory) renew(t touch) bool {
	id, netHex, bound := strings.Cut(t.sessionID, "\t")
	sk := m.keys.session(id)
	sh, _, u, now := m.locked(t.userID)
	defer sh.Unlock()
	if u == nil {
		return false
	}
	i := -1
	if bound && m.rules.BindNetwork {
		n, err := strconv.ParseUint(netHex, 16, 64)
		if err != nil {
			return false
		}
		i, _ = u.findBound(sk, Network(n), now, m.ns.window)
	} else {
		i = u.find(sk)
	}
	if i < 0 {
		return false
	}
	e := &u.sessions()[i]
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
	m.bump(sh, u, now)
	return true
}
