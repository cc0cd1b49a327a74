package limiter

import (
	"slices"
	"strings"
)

// rememberEnd records sessionID as ended for reason when this table does
// not hold it, and reports whether it did. Guard's table is what re-seeds
// an empty Redis: a session another replica admitted and this one replaced
// or saw ended must come back ended, not playing, from this replica's word
// too. A user the table does not know gets a record for the tombstone
// alone, which goes when the tombstone does.
func (m *Memory) rememberEnd(userID, sessionID string, reason EndReason) bool {
	if reason == EndedByPlayer || reason == StoppedByPlayer || reason == lapsed || m.tombTTL <= 0 {
		return false // a player's end leaves no tombstone (evict)
	}
	sh, uk, sk, u, now := m.lockedSession(userID, sessionID)
	defer sh.Unlock()
	t := tomb{key: sk, until: now + m.tombTTL, reason: reason, meta: strings.Clone(sessionID)}
	if u == nil {
		if m.refuse && !m.makeRoom(sh, now) {
			return false
		}
		nu := user{k1: uk[1], bumped: now}
		nu.setBlob(newBlob(m.heap, userID))
		nu.bury(m.heap, t)
		m.insert(sh, uk, &nu, now)
		return true
	}
	if u.find(sk) >= 0 {
		return false // held here: End buries it
	}
	if i := u.tomb(sk); i >= 0 && u.ended()[i].reason != lapsed {
		// Kept already: a player asking again and again for an ended
		// session must not keep it ended here past the store's own word.
		return false
	}
	u.bury(m.heap, t)
	return true
}

// forgetEnd drops the tombstone of sessionID, which the store admitted:
// its word wins over what this table remembers of an end.
func (m *Memory) forgetEnd(userID, sessionID string) {
	sh, _, sk, u, now := m.lockedSession(userID, sessionID)
	defer sh.Unlock()
	if u == nil {
		return
	}
	if i := u.tomb(sk); i >= 0 {
		u.setEnded(m.heap, slices.Delete(u.ended(), i, i+1))
		m.dropIfEmpty(sh, u, now)
	}
}
