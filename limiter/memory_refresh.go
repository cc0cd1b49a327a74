package limiter

import "context"

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
