package limiter

import (
	"slices"
	"strings"
	"time"
)

// entry is one session as the memory store keeps it: 112 bytes, times as Unix
// nanoseconds. Sessions are matched by key, so a heartbeat never reads the
// id's bytes (a cache miss each). It holds no pointer: its id and device
// (its meta, metaLen bytes) are packed in its user's blob (userblob.go).
type entry struct {
	key      uint64
	started  int64
	lastSeen int64
	// expires is when the session stops being active (see expiry), kept so
	// that pruning compares one integer.
	expires int64
	// buffered is bufferedUntil per Track; hint the stored SegmentHint.
	buffered [numTracks]int64
	hint     int64
	// nets are the two networks that used the session last; networks
	// counts those that used it (saturating), shared is set once it had two
	// at the same time.
	nets     [2]netSeen
	networks uint8
	shared   bool
	// live is set in every session held, so that user.first says whether
	// it holds one (it sits in padding: no byte more).
	live bool
	// stopped is set when a player's stop left the session active for
	// the media it holds (stopMedia), until its next heartbeat: a further
	// stop changes nothing (in padding too).
	stopped bool
	// metaLen is the length of the session's meta in the user's blob (in
	// padding too).
	metaLen uint32
	// bound is the network the session is bound to under BindNetwork.
	bound Network
}

// packMeta joins a session id and its device with NUL bytes, which neither an
// id (visible ASCII) nor a header value can hold: one allocation per
// session, with no pointer in it for the GC to follow.
func packMeta(id string, dev Device) string {
	ua, addr, cid := clip(dev.UserAgent), clip(dev.Address), clip(dev.ContentID)
	switch {
	case ua == "" && addr == "" && cid == "":
		return strings.Clone(id)
	case cid == "":
		return id + "\x00" + ua + "\x00" + addr
	}
	return id + "\x00" + ua + "\x00" + addr + "\x00" + cid
}

// clip keeps at most maxDeviceField bytes of a device field, so that a
// player sending a 60 KiB User-Agent cannot make its session cost 60 KiB.
func clip(s string) string {
	return truncate(strings.ReplaceAll(s, "\x00", ""), maxDeviceField)
}

// metaID is the session id of a packed meta.
func metaID(meta string) string {
	id, _, _ := strings.Cut(meta, "\x00")
	return id
}

// metaDevice is the device of a packed meta.
func metaDevice(meta string) Device {
	_, rest, ok := strings.Cut(meta, "\x00")
	if !ok {
		return Device{}
	}
	ua, rest, _ := strings.Cut(rest, "\x00")
	addr, cid, _ := strings.Cut(rest, "\x00")
	return Device{UserAgent: ua, Address: addr, ContentID: cid}
}

// tomb is a session that ended and is remembered until until: a tombstone
// (reason EndedByOperator or Replaced) answers Ended; a lapsed mark only lets
// a rejection say Lapsed and never keeps a user in the table.
type tomb struct {
	key    uint64
	until  int64
	reason EndReason
	// meta is the ended entry's, for the state file; no new allocation.
	meta string
}

// lapsed is the reason of a mark left by an expired session.
const lapsed EndReason = 255

// user holds one user's sessions. A user rarely has more than a handful, so a
// slice scanned linearly beats any map; the first session lives inline.
//
// The collector marks the whole table on every cycle, and what it pays for
// is objects, not bytes: each one it reaches is a cache miss. So a user is
// at most two objects, its session array once a second session started and
// its blob, which hold no pointer and are only marked, never scanned; its
// record lies in a chunk of the arena (userArena), scanned in one sweep.
// (Session ids and devices in strings of their own, and the sessions' array
// behind a box, made it seven for a user of three sessions, and the
// collector the largest share of the gate's cost on playlists.)
type user struct {
	// k1 is the second half of the user's key, which the index checks
	// after matching the first (userIndex); the first is hashed again from
	// the id when the user leaves, so a record holds 8 bytes of key, not 16.
	k1 uint64
	// more points at the sessions' array once a second session started,
	// nMore long (moreSessions); until then the one session, if any, is
	// first. A pointer and a count rather than a slice, and the blob's
	// pointer and length rather than a string, make the record 160 bytes,
	// not 176: 16 bytes a user of a table of millions.
	more *entry
	// bumped is when the user was last moved to the front of its LRU.
	bumped int64
	// tombs are the tombstones and lapsed marks (ended), at most
	// maxTombstones; behind a pointer, nil without any, as most users have
	// none: the record is then 16 bytes smaller.
	tombs *tombs
	// blob, blobLen bytes, is the user id and the metas of the sessions,
	// in their order (userblob.go).
	blob    *byte
	blobLen uint32
	nMore   uint32
	first   [1]entry
}

// tombs holds a user's tombstones and lapsed marks, the first inline, so
// that the first costs one allocation.
type tombs struct {
	list []tomb
	one  [1]tomb
}

// ended returns the tombstones and lapsed marks.
func (u *user) ended() []tomb {
	if u.tombs == nil {
		return nil
	}
	return u.tombs.list
}

// setEnded replaces the tombstones and lapsed marks. The record may lie
// out of Go's heap, so h holds the tombstones that it points to.
func (u *user) setEnded(h *tableHeap, t []tomb) {
	switch {
	case len(t) == 0:
		if u.tombs != nil {
			h.let(u.tombs)
		}
		u.tombs = nil
	case u.tombs == nil:
		b := &tombs{}
		b.list = append(b.one[:0:1], t...)
		h.hold(b)
		u.tombs = b
	default:
		u.tombs.list = t
	}
}

// sessions returns the user's sessions; writes to its elements are the
// user's. Adding and removing sessions goes through add, remove and
// keepOnly, which keep the blob in step.
func (u *user) sessions() []entry {
	switch {
	case u.more != nil:
		return u.moreSessions()
	case u.first[0].live:
		return u.first[:1:1]
	}
	return u.first[:0:1]
}

// add appends a session with its meta and returns it. Sessions start far
// more rarely than they heartbeat: it may move the blob and the sessions.
func (u *user) add(h *tableHeap, e entry, meta string) *entry {
	e.live, e.metaLen = true, uint32(len(meta))
	switch {
	case u.more != nil:
		u.addMeta(h, meta)
		old := u.moreSessions()
		if len(old) < cap(old) {
			more := old[:len(old)+1]
			more[len(old)] = e
			u.setMore(more)
			return &more[len(old)]
		}
		// Beyond a household: sessions start far more rarely than they
		// heartbeat, so a copy at each costs little.
		more := h.entries(moreRoom(len(old) + 1))[:len(old)+1]
		copy(more, old)
		more[len(old)] = e
		u.setMore(more)
		h.freeEntries(old)
		return &more[len(old)]
	case !u.first[0].live:
		u.moveBlob(h, meta, 0)
		u.first[0] = e
		return &u.first[0]
	}
	// A second session: both move out, into an array with room for a
	// household (moreRoom), and the blob into a block with room for its
	// metas (blobRoom).
	room := u.secondMeta(h, meta)
	more := h.entries(moreRoom(2))[:2]
	more[0], more[1] = u.first[0], e
	u.setMore(more)
	u.setBlobRoom(room)
	return &more[1]
}

// keepOnly keeps the sessions for which keep is true, in their order, and
// their metas; it returns how many it dropped. keep gets each session with
// its index and meta as they were before.
func (u *user) keepOnly(h *tableHeap, keep func(i int, e *entry, meta string) bool) int {
	sessions := u.sessions()
	old := u.blobString()
	kept, blob := keepPacked(sessions, old, u.metasAt(), func(e *entry) int { return int(e.metaLen) }, keep)
	if kept == len(sessions) {
		return 0 // blob is old: nothing was dropped
	}
	room := u.blobRoom()
	switch {
	case u.more == nil:
	case kept == 1:
		// Back inline, where a user of one session keeps it.
		u.first[0] = sessions[0]
		u.setMore(nil)
		h.freeEntries(sessions)
	case kept > 1 && moreRoom(kept) == cap(sessions):
		// keepPacked compacted them in place and zeroed the rest.
		u.setMore(sessions[:kept])
	default:
		var more []entry
		if kept > 0 {
			more = h.entries(moreRoom(kept))[:kept]
			copy(more, sessions)
		} else {
			u.first[0] = entry{} // it kept the blob's room (blobRoom)
		}
		u.setMore(more)
		h.freeEntries(sessions)
	}
	u.keepMetas(h, blob, room)
	return len(sessions) - kept
}

// prune drops expired sessions, leaving a lapsed mark kept for keep when
// keep > 0, and expired tombstones; it returns how many sessions it dropped.
func (u *user) prune(h *tableHeap, now, keep int64) int {
	if u.tombs != nil {
		u.pruneTombs(h, now)
	}
	// The common case, nothing expired, copies nothing.
	expired := false
	for i := range u.sessions() {
		if now >= u.sessions()[i].expires {
			expired = true
			break
		}
	}
	if !expired {
		return 0
	}
	return u.keepOnly(h, func(_ int, s *entry, meta string) bool {
		if now < s.expires {
			return true
		}
		if keep > 0 && now < s.expires+keep {
			// A copy: the blob it is cut from is rebuilt without it.
			u.bury(h, tomb{key: s.key, until: s.expires + keep, reason: lapsed, meta: strings.Clone(meta)})
		}
		return false
	})
}

func (u *user) pruneTombs(h *tableHeap, now int64) {
	ended := u.ended()
	kept := ended[:0]
	for _, t := range ended {
		if now < t.until {
			kept = append(kept, t)
		}
	}
	clear(ended[len(kept):])
	u.setEnded(h, kept)
}

// bury remembers an ended session, replacing an older mark of the same key,
// and drops the one that expires soonest when the list is full.
func (u *user) bury(h *tableHeap, t tomb) {
	ended := u.ended()
	for i := range ended {
		if ended[i].key == t.key {
			ended[i] = t
			return
		}
	}
	if len(ended) >= maxTombstones {
		soonest := 0
		for i := range ended {
			if ended[i].until < ended[soonest].until {
				soonest = i
			}
		}
		ended = slices.Delete(ended, soonest, soonest+1)
	}
	if u.tombs == nil {
		n := &tombs{one: [1]tomb{t}}
		n.list = n.one[:1:1]
		h.hold(n)
		u.tombs = n
		return
	}
	u.setEnded(h, append(ended, t))
}

// tomb returns the index of sk's mark, or -1.
func (u *user) tomb(sk uint64) int {
	ended := u.ended()
	for i := range ended {
		if ended[i].key == sk {
			return i
		}
	}
	return -1
}

// holdsTombs reports whether a tombstone (not a lapsed mark) is still live:
// such a user stays in the table although it has no session.
func (u *user) holdsTombs(now int64) bool {
	for _, t := range u.ended() {
		if t.reason != lapsed && now < t.until {
			return true
		}
	}
	return false
}

func (u *user) find(sk uint64) int {
	for i := range u.sessions() {
		if u.sessions()[i].key == sk {
			return i
		}
	}
	return -1
}

// findBound is find under BindNetwork: the session of key sk bound to n, or
// one bound elsewhere that has been silent for the window, which moves to
// n. It returns -1 when sk is unknown or only busy on other networks, and
// then whether it is busy elsewhere.
func (u *user) findBound(sk uint64, n Network, now, window int64) (i int, elsewhere bool) {
	moved := -1
	for i := range u.sessions() {
		e := &u.sessions()[i]
		if e.key != sk {
			continue
		}
		if e.bound == n || e.bound == 0 || n == 0 {
			return i, false
		}
		if now-e.lastSeen >= window {
			moved = i
		} else {
			elsewhere = true
		}
	}
	if moved >= 0 {
		u.sessions()[moved].bound = n
		return moved, false
	}
	return -1, elsewhere
}

// markShared marks every binding of sk shared and reports whether none was.
func (u *user) markShared(sk uint64) bool {
	first := true
	for i := range u.sessions() {
		if u.sessions()[i].key == sk {
			first = first && !u.sessions()[i].shared
			u.sessions()[i].shared = true
		}
	}
	return first
}

func (u *user) remove(h *tableHeap, i int) {
	u.keepOnly(h, func(j int, _ *entry, _ string) bool { return j != i })
}

// newest is the most recent request of any session, or 0 when there is none.
func (u *user) newest() int64 {
	var n int64
	for _, s := range u.sessions() {
		n = max(n, s.lastSeen)
	}
	return n
}

// start appends a new session, copying the id and device so that the table
// never pins a request's memory.
// The caller then applies the request to it with heartbeat.
func (u *user) start(h *tableHeap, sessionID string, sk uint64, now int64, dev Device) *entry {
	return u.add(h, entry{key: sk, started: now}, packMeta(sessionID, dev))
}

// heartbeat applies an admitted request to e: its network, its media, its
// buffer length, its hint, and the new expiry. It reports whether the
// request made the session shared (Decision.Shared).
func (e *entry) heartbeat(req *Request, now int64, r *rulesNs) (shared bool) {
	ttl, maxLease := r.ttl, r.maxLease
	if e.stopped {
		// A stop kept it for its media (stopMedia), shifted back by the
		// TTL; it plays again: its media is what it was.
		for t := range e.buffered {
			if e.buffered[t] > 0 {
				e.buffered[t] += ttl
			}
		}
	}
	e.lastSeen, e.stopped = now, false
	if req.Network != 0 {
		shared = e.seeNetwork(req.Network, now, ttl, r.window)
	}
	if maxLease <= ttl {
		e.expires = now + ttl // the TTL-only rule: media changes nothing
		return shared
	}
	if req.SegmentHint > 0 {
		e.hint = int64(req.SegmentHint)
	}
	if d := req.media(e.hint); d > 0 || req.Buffer > 0 {
		t := req.track()
		e.buffered[t] = max(e.buffered[t], now+int64(max(req.Buffer, 0))) + d
	}
	e.expires = expiry(now, e.bufferedUntil(), ttl, maxLease)
	return shared
}

// bufferedUntil is the latest of the tracks' bufferedUntil.
func (e *entry) bufferedUntil() int64 {
	return max(e.buffered[0], e.buffered[1], e.buffered[2])
}

// oldest is the index of the least recently active session.
func (u *user) oldest() int {
	o := 0
	for i := range u.sessions() {
		if u.sessions()[i].lastSeen < u.sessions()[o].lastSeen {
			o = i
		}
	}
	return o
}

// retryAfter is the time until the soonest-expiring session expires.
func (u *user) retryAfter(now int64) time.Duration {
	soonest := int64(-1)
	for _, s := range u.sessions() {
		if left := s.expires - now; soonest < 0 || left < soonest {
			soonest = left
		}
	}
	return time.Duration(max(soonest, 0))
}

// list returns the sessions oldest first, as the API shows them.
func (u *user) list() []Session {
	out := make([]Session, len(u.sessions()))
	off := u.metasAt()
	for i, s := range u.sessions() {
		// A copy: the blob is freed when the user's sessions change.
		meta := strings.Clone(u.blobString()[off : off+int(s.metaLen)])
		off += int(s.metaLen)
		out[i] = Session{
			ID:        metaID(meta),
			StartedAt: time.Unix(0, s.started).UTC(),
			LastSeen:  time.Unix(0, s.lastSeen).UTC(),
			ExpiresAt: time.Unix(0, s.expires).UTC(),
			Device:    metaDevice(meta),
			Networks:  int(s.networks),
			bound:     s.bound,
		}
		if b := s.bufferedUntil(); b > 0 {
			out[i].BufferedUntil = time.Unix(0, b).UTC()
		}
	}
	slices.SortStableFunc(out, func(a, b Session) int { return a.StartedAt.Compare(b.StartedAt) })
	return out
}
