package limiter

import (
	"hash/maphash"
	"strings"
	"sync/atomic"
	"time"
)

// refreshCache remembers which sessions this replica refreshed in a remote
// store less than an interval ago, so that their next heartbeats are admitted
// without a round trip. It never admits a session the store has not admitted:
// new sessions always go to the store.
//
// A hit is a heartbeat Redis does not see: the cache keeps its time and the
// media it delivered. A playing session never has to pay a round trip on its
// request path: the flusher renews ahead, in pipelined batches, every
// session with hits since its last store call whose entry goes stale within
// ahead, carrying those hits (so that a session is active in Redis until its
// last heartbeat plus the TTL whichever replica answered it). The store says
// whether the session is still active there: if so the entry is renewed as
// of the time taken before the batch, else it is forgotten and the session's
// next request gets the store's own answer.
//
// Memory is bounded twice: each shard is an LRU with a fixed capacity, and
// every record pops users whose entries have all gone stale from the shard's
// tail. Users sit in LRU order of their last record or renewal, so stale
// users gather at the tail and the table holds about the users seen within
// one interval.
type refreshCache struct {
	interval int64
	// ahead is how long before its entry goes stale a session with hits is
	// renewed: a flusher tick and a half, so that the last tick before the
	// entry goes stale finds it with at least half a tick to spare.
	ahead int64
	clock Clock
	seed  maphash.Seed
	table Sharded[string, *cachedUser, []queuedRef]
	// pass numbers the calls of renewals, so that one call sends a session
	// once even if it is listed twice.
	pass atomic.Uint64
}

// cacheShard is one lock of the cache and the LRU of its users. Its Extra
// lists the sessions that turned pending, for renewals: its cost is the
// number of sessions answered from here, not the size of the cache.
type cacheShard = Shard[string, *cachedUser, []queuedRef]

// queuedRef is a session of a shard's list with a time before which it is
// not due for renewal (at the earliest its last store call plus the
// interval less ahead): a session's store calls only move that time later,
// so renewals passes over it until then without looking it up, where it
// looked up every listed session at every tick (eight per interval).
type queuedRef struct {
	sessionRef
	due int64
}

// cachedUser is one user's recently refreshed sessions. A user has a handful
// at most, so a slice scanned linearly beats a map.
//
// The collector marks the cache on every cycle and pays per object: the
// sessions hold no pointer, and their ids are packed in one string (sids),
// so a user is its record, its id, its sessions and sids, and golang-lru's
// node, where a string per session id made the sessions' array one more
// object to scan and every id one more to mark.
type cachedUser struct {
	id       string
	sessions []cachedSession
	// sids are the sessions' ids in their order, cachedSession.idLen bytes
	// each; rebuilt when a session is added or dropped.
	sids string
	// newest is the latest refreshed of its sessions: the user is stale when it is.
	newest int64
}

// cachedSession is 80 bytes: the times first, then the narrower fields
// together, so that padding adds 6 bytes, not 22.
type cachedSession struct {
	// refreshed is when this replica last refreshed the session in the store
	// (Unix ns of the cache's clock, taken before the call: a conservative bound).
	refreshed int64
	// hint is the session's segment hint (ns) as the store last said.
	hint int64
	// net is the client network of the last store call: a request from
	// another network goes to the store, which keeps the session's networks.
	net Network
	// buffered is bufferedUntil per track (ns of the cache's clock): the
	// store's at the last call, advanced by the hits since.
	buffered [numTracks]int64
	// lastHit is the time of the latest hit.
	lastHit int64
	// pass is the renewals call that last sent the session.
	pass uint64
	// active is the user's active count the store returned then, at most
	// the user's limit.
	active int32
	// idLen is the length of the session's id in cachedUser.sids.
	idLen uint32
	// pending is set while hits have not reached the store.
	pending bool
	// queued is set while the shard's Extra lists the session.
	queued bool
}

// touch is a pending session to renew in the store, with its hits: the
// time since its last hit and how long each track was buffered after it,
// in ns.
type touch struct {
	sessionRef
	ago  int64
	left [numTracks]int64
	hint int64
}

// staleBatch bounds how many stale users one record removes: enough to keep
// up with arrivals, small enough to keep the lock hold short.
const staleBatch = 2

// newRefreshCache returns a cache of entries valid for interval whose
// renewals are looked for every tick (ns).
func newRefreshCache(interval, tick int64, maxUsers int, clock Clock) (*refreshCache, error) {
	n := ShardCount(maxUsers, minShardUsers, maxShards)
	table, err := NewSharded[string, *cachedUser, []queuedRef](n, max(maxUsers/n, 1), nil)
	if err != nil {
		return nil, err
	}
	return &refreshCache{interval: interval, ahead: min(tick+tick/2, interval), clock: clock, seed: maphash.MakeSeed(), table: *table}, nil
}

func (c *refreshCache) shardFor(userID string) *cacheShard {
	return c.table.For(maphash.String(c.seed, userID))
}

// now returns the cache's time; a store call about to be made is recorded
// with the time taken before it.
func (c *refreshCache) now() int64 { return c.clock().UnixNano() }

// lookup admits req locally when this replica refreshed its session in the
// store less than the interval ago, and applies its media to the entry. On
// a miss it returns how long each track of the session is buffered as far
// as this replica knows (ns), for the store call to carry.
func (c *refreshCache) lookup(req *Request, limit int) (Decision, bool, [numTracks]int64) {
	var left [numTracks]int64
	now := c.now()
	sh := c.shardFor(req.UserID)
	sh.Lock()
	defer sh.Unlock()
	u, ok := sh.LRU.Peek(req.UserID)
	if !ok {
		return Decision{}, false, left
	}
	off := 0
	for i := range u.sessions {
		s := &u.sessions[i]
		id := u.sids[off : off+int(s.idLen)]
		off += int(s.idLen)
		if id != req.SessionID {
			continue
		}
		// A new hint goes to the store, so that every replica uses it.
		if now-s.refreshed < c.interval && (req.SegmentHint <= 0 || int64(req.SegmentHint) == s.hint) &&
			(req.Network == 0 || req.Network == s.net) {
			if d := req.media(s.hint); d > 0 || req.Buffer > 0 {
				t := req.track()
				s.buffered[t] = max(s.buffered[t], now+int64(max(req.Buffer, 0))) + d
			}
			if !s.queued {
				sh.Extra = append(sh.Extra, queuedRef{sessionRef{u.id, id}, c.due(s)})
				s.queued = true
			}
			s.lastHit, s.pending = now, true
			return Decision{Result: Refreshed, Active: int(s.active), Limit: limit, SegmentHint: time.Duration(s.hint), cached: true}, true, left
		}
		for t, b := range s.buffered {
			left[t] = max(b-now, 0)
		}
		return Decision{}, false, left
	}
	return Decision{}, false, left
}

// record notes that the store admitted sessionID at at (a time from now),
// with what its reply said of the session's media. The media is reckoned
// from at, the call's start, so that it errs early: reckoned from the
// reply, it would reach past the media's end by the reply's way back, and
// a stop would then carry that to Redis (redis_end.lua).
func (c *refreshCache) record(userID, sessionID string, net Network, active int, at int64, ad admitted) {
	var buffered [numTracks]int64
	for t, l := range ad.left {
		if l > 0 {
			buffered[t] = at + l
		}
	}
	sh := c.shardFor(userID)
	sh.Lock()
	defer sh.Unlock()
	u, ok := sh.LRU.Get(userID)
	if !ok {
		c.dropStale(sh, at)
		u = &cachedUser{id: strings.Clone(userID)}
		sh.LRU.Add(u.id, u)
	}
	u.newest = max(u.newest, at)
	found := false
	u.keepOnly(func(s *cachedSession, id string) bool {
		switch {
		case id == sessionID:
			s.refreshed, s.active, s.hint, s.net, found = max(s.refreshed, at), int32(active), ad.hint, net, true
			for t := range buffered {
				s.buffered[t] = max(s.buffered[t], buffered[t])
			}
			// Hits since the call began are not in its reply: they stay pending.
			s.pending = s.pending && s.lastHit >= at
		case at-s.refreshed >= c.interval && !s.pending:
			return false // stale: it would go to the store anyway
		}
		return true
	})
	if !found {
		if len(u.sessions) == 1 && cap(u.sessions) == 1 {
			// A second session: room for a household's third, which append
			// would round up to four, and copy again for the third.
			u.sessions = append(make([]cachedSession, 0, householdRoom), u.sessions...)
		}
		u.sessions = append(u.sessions, cachedSession{idLen: uint32(len(sessionID)), refreshed: at, active: int32(active), hint: ad.hint, net: net, buffered: buffered})
		u.sids += sessionID
	}
}

// keepOnly keeps the sessions for which keep is true, which may change
// them, in their order; their ids are rebuilt only when one is dropped.
func (u *cachedUser) keepOnly(keep func(s *cachedSession, id string) bool) {
	kept, sids := keepPacked(u.sessions, u.sids, 0, func(s *cachedSession) int { return int(s.idLen) },
		func(_ int, s *cachedSession, id string) bool { return keep(s, id) })
	u.sessions, u.sids = u.sessions[:kept], sids
}

type sessionRef struct{ userID, sessionID string }

// due is when a pending session's entry goes stale within ahead: renewals
// renews it from then on.
func (c *refreshCache) due(s *cachedSession) int64 { return s.refreshed + c.interval - c.ahead }

// renewals returns the sessions to renew in the store at now: those with
// hits since their last store call whose entry goes stale within ahead, or
// already has (a renewal that failed is tried again at the next tick).
func (c *refreshCache) renewals(now int64) []touch {
	pass := c.pass.Add(1)
	var out []touch
	for i := range c.table.Len() {
		sh := c.table.At(i)
		sh.Lock()
		kept := sh.Extra[:0]
		for _, q := range sh.Extra {
			if now < q.due {
				kept = append(kept, q)
				continue
			}
			s := findCached(sh, q.sessionRef)
			switch {
			case s == nil:
				continue
			case !s.pending:
				s.queued = false
				continue
			case s.pass == pass:
				continue // listed twice: it was forgotten, then cached again
			}
			q.due = c.due(s)
			kept = append(kept, q)
			if now < q.due {
				continue
			}
			tc := touch{sessionRef: q.sessionRef, ago: now - s.lastHit, hint: s.hint}
			for t, b := range s.buffered {
				tc.left[t] = max(b-s.lastHit, 0)
			}
			out = append(out, tc)
			s.pass = pass
		}
		clear(sh.Extra[len(kept):])
		sh.Extra = kept
		sh.Unlock()
	}
	return out
}

// renewed notes that the store found ref active, and renewed it with its
// hits, in a call begun at at, when the user had active sessions; the
// store's record then lasts until until at least (the last hit it was sent
// plus the TTL). A session forgotten meanwhile stays forgotten.
func (c *refreshCache) renewed(ref sessionRef, at, until int64, active int) {
	sh := c.shardFor(ref.userID)
	sh.Lock()
	defer sh.Unlock()
	u, ok := sh.LRU.Get(ref.userID)
	if !ok {
		return
	}
	s := u.find(ref.sessionID)
	if s == nil {
		return
	}
	if at >= s.refreshed {
		s.active = int32(active)
	}
	// A renewal that comes late (renewals failed for most of a TTL) renews
	// the record only to its last hit plus the TTL: the entry must not
	// answer after Redis let the session go, when another replica may have
	// admitted a fourth.
	s.refreshed = max(s.refreshed, min(at, until-c.interval))
	u.newest = max(u.newest, at)
	// Hits since the call began are not in it: they stay pending.
	s.pending = s.pending && s.lastHit >= at
}

// gone forgets ref, which the store found not active in a call begun at
// at, unless a store call begun later has admitted it since.
func (c *refreshCache) gone(ref sessionRef, at int64) {
	sh := c.shardFor(ref.userID)
	sh.Lock()
	defer sh.Unlock()
	u, ok := sh.LRU.Peek(ref.userID)
	if !ok {
		return
	}
	if s := u.find(ref.sessionID); s != nil && s.refreshed <= at {
		u.remove(ref.sessionID)
		if len(u.sessions) == 0 {
			sh.LRU.Remove(ref.userID)
		}
	}
}

func findCached(sh *cacheShard, ref sessionRef) *cachedSession {
	u, ok := sh.LRU.Peek(ref.userID)
	if !ok {
		return nil
	}
	return u.find(ref.sessionID)
}

func (u *cachedUser) find(sessionID string) *cachedSession {
	off := 0
	for i := range u.sessions {
		n := int(u.sessions[i].idLen)
		if u.sids[off:off+n] == sessionID {
			return &u.sessions[i]
		}
		off += n
	}
	return nil
}

func (u *cachedUser) remove(sessionID string) {
	u.keepOnly(func(_ *cachedSession, id string) bool { return id != sessionID })
}

// dropStale removes up to staleBatch users from the shard's tail whose
// sessions have all gone stale.
func (c *refreshCache) dropStale(sh *cacheShard, now int64) {
	for range staleBatch {
		_, u, ok := sh.LRU.GetOldest()
		if !ok || now-u.newest < c.interval || u.holdsPending() {
			return
		}
		sh.LRU.RemoveOldest()
	}
}

// forget drops one session, so that a session ended through this replica is
// never admitted from the cache again. Under network binding the cache
// names a session per network (boundField) where End and an eviction name
// the id alone: the id drops its entries on every network. It returns, per
// track, the media the dropped entries knew of and Redis may not yet (their
// hits since the last store call), which a player's stop counts
// (redis_end.lua).
func (c *refreshCache) forget(userID, sessionID string) (left [numTracks]int64) {
	now := c.now()
	sh := c.shardFor(userID)
	sh.Lock()
	defer sh.Unlock()
	u, ok := sh.LRU.Peek(userID)
	if !ok {
		return left
	}
	u.keepOnly(func(s *cachedSession, id string) bool {
		rest, found := strings.CutPrefix(id, sessionID)
		if !found || (rest != "" && rest[0] != '\t') {
			return true
		}
		for t, b := range s.buffered {
			left[t] = max(left[t], b-now)
		}
		return false
	})
	if len(u.sessions) == 0 {
		sh.LRU.Remove(userID)
	}
	return left
}

// forgetUser drops every session of a user.
func (c *refreshCache) forgetUser(userID string) {
	sh := c.shardFor(userID)
	sh.Lock()
	defer sh.Unlock()
	sh.LRU.Remove(userID)
}

// len returns the number of users cached.
func (c *refreshCache) len() int {
	n := 0
	for i := range c.table.Len() {
		sh := c.table.At(i)
		sh.Lock()
		n += sh.LRU.Len()
		sh.Unlock()
	}
	return n
}

func (u *cachedUser) holdsPending() bool {
	for i := range u.sessions {
		if u.sessions[i].pending {
			return true
		}
	}
	return false
}

// clear drops every entry: after Redis lost its sessions, none of them says
// anything true of Redis.
func (c *refreshCache) clear() {
	for i := range c.table.Len() {
		sh := c.table.At(i)
		sh.Lock()
		sh.LRU.Purge()
		sh.Unlock()
	}
}
