package limiter

import (
	"context"
	"sync"
)

// A player's stop (DELETE /_streamgate/session) frees its slot at once: a
// person who closes a page, or a household's three, and opens another
// device gets in. But devices that share an account and each stop after
// every segment would hold the slot only while a segment downloads, and
// take turns at it. So a user has freeStopsPerTTL free stops per TTL: past
// them, a stop of a session that still holds media leaves it active until
// that media runs out, as its player may still be playing it, with no TTL
// after it. A stop of a session without media left frees its slot and uses
// none. The turns a crowd gains are then at most that many segments a TTL.

// freeStopsPerTTL is the default limit's three: a household that closes all
// its players at once frees every slot.
const freeStopsPerTTL = 3

// maxFreeStops bounds the users remembered in a window; past it, a stop
// with media is not free.
const maxFreeStops = 1 << 16

// freeStops counts each user's free stops in its window. Two generations of
// maps, turned every window, drop the users of a window gone whole, with
// no scan.
type freeStops struct {
	mu       sync.Mutex
	cur, old map[string]stopWindow
	turned   int64
}

type stopWindow struct {
	start int64
	n     int
}

// take reports whether userID may stop a session that holds media and free
// its slot at now, and counts it if so.
func (f *freeStops) take(userID string, now, window int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if last := f.turned; now >= last+window {
		f.old, f.cur, f.turned = f.cur, nil, now
		if now >= last+2*window {
			f.old = nil
		}
	}
	w, ok := f.cur[userID]
	if !ok {
		w, ok = f.old[userID]
	}
	if !ok || now >= w.start+window {
		w = stopWindow{start: now}
	}
	if w.n >= freeStopsPerTTL || len(f.cur) >= maxFreeStops {
		return false
	}
	if f.cur == nil {
		f.cur = make(map[string]stopWindow)
	}
	w.n++
	f.cur[userID] = w
	return true
}

// stopVerdict says who decides whether a stop frees the slot: this table,
// by its free stops, or the shared store, whose answer a replica's table
// mirrors (Guard), so that both hold the same sessions for a re-seed or a
// failure policy to read.
type stopVerdict uint8

const (
	stopHere  stopVerdict = iota // count the free stops here
	stopKept                     // the store kept the session for its media
	stopFreed                    // the store freed the slot
)

// stopSessions applies a player's stop to userID's sessions of key sk, and
// reports whether any was active and whether one stays for its media.
func (m *Memory) stopSessions(u *user, userID string, sk uint64, now int64, v stopVerdict) (held, kept bool) {
	media := false
	for i := range u.sessions() {
		if e := &u.sessions()[i]; e.key == sk {
			held = true
			if e.stopped && v != stopFreed {
				return true, true // stopped already and kept for its media: as it was
			}
			media = media || (m.maxLease > m.ttl && e.bufferedUntil() > now)
		}
	}
	keep := false
	switch v {
	case stopHere:
		keep = media && !m.stops.take(userID, now, m.ttl)
	case stopKept:
		keep = media
	}
	for i := len(u.sessions()) - 1; i >= 0; i-- {
		e := &u.sessions()[i]
		if e.key != sk {
			continue
		}
		if keep && stopMedia(e, now, m.ttl, m.maxLease) {
			kept = true
			continue
		}
		m.evict(u, i, StoppedByPlayer, now)
	}
	return held, kept
}

// stopAs applies a player's stop of sessionID as v says (stopSessions).
func (m *Memory) stopAs(userID, sessionID string, v stopVerdict) (held, kept bool) {
	sh, _, u, now := m.locked(userID)
	defer sh.Unlock()
	if u == nil {
		return false, false
	}
	held, kept = m.stopSessions(u, userID, m.keys.session(sessionID), now, v)
	m.dropIfEmpty(sh, u, now)
	return held, kept
}

// playerStop implements stopper.
func (m *Memory) playerStop(_ context.Context, userID, sessionID string) (held, kept bool, err error) {
	held, kept = m.stopAs(userID, sessionID, stopHere)
	return held, kept, nil
}

// stopMedia makes e active until its media runs out, as if its player
// played what it was given and stopped there, and reports whether any is
// left. Both times move back by the TTL, so that expiry, which adds the
// TTL to the later of them, gives the media's end: the table, the state
// file, a re-seed and the admin API all read it from those two (the
// session's last heartbeat then reads as that end less the TTL).
func stopMedia(e *entry, now, ttl, maxLease int64) bool {
	b := e.bufferedUntil()
	if maxLease <= ttl || b <= now {
		return false
	}
	e.lastSeen = min(e.lastSeen, b-ttl)
	for t := range e.buffered {
		if e.buffered[t] > 0 {
			e.buffered[t] -= ttl
		}
	}
	e.expires = expiry(e.lastSeen, e.bufferedUntil(), ttl, maxLease)
	e.stopped = true
	return true
}
