package limiter

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// refreshCache remembers which sessions this replica refreshed in a remote
// store less than an interval ago, so that their next heartbeats are admitted
// without a round trip. It never admits a session the store has not admitted:
// new sessions always go to the store.
//
// Memory is bounded twice: each shard is an LRU with a fixed capacity, and
// every record pops users whose entries have all gone stale from the shard's
// tail. Users sit in LRU order of their last record, so stale users gather at
// the tail and the table holds about the users seen within one interval.
type refreshCache struct {
	interval int64
	clock    Clock
	seed     maphash.Seed
	shards   []cacheShard
	mask     uint64
}

type cacheShard struct {
	mu    sync.Mutex
	users *simplelru.LRU[string, *cachedUser]
	// pad keeps neighbouring shards' locks off one cache line.
	_ [48]byte
}

// cachedUser is one user's recently refreshed sessions. A user has a handful
// at most, so a slice scanned linearly beats a map.
type cachedUser struct {
	sessions []cachedSession
	// newest is the latest refreshed of its sessions: the user is stale when it is.
	newest int64
}

type cachedSession struct {
	id string
	// refreshed is when this replica last refreshed the session in the store
	// (Unix ns of the cache's clock, taken before the call: a conservative bound).
	refreshed int64
	// active is the user's active count the store returned then.
	active int
}

// staleBatch bounds how many stale users one record removes: enough to keep
// up with arrivals, small enough to keep the lock hold short.
const staleBatch = 2

func newRefreshCache(interval int64, maxUsers int, clock Clock) (*refreshCache, error) {
	n := maxShards
	for n > 1 && maxUsers/n < minShardUsers {
		n /= 2
	}
	c := &refreshCache{interval: interval, clock: clock, seed: maphash.MakeSeed(), shards: make([]cacheShard, n), mask: uint64(n - 1)}
	for i := range c.shards {
		lru, err := simplelru.NewLRU[string, *cachedUser](max(maxUsers/n, 1), nil)
		if err != nil {
			return nil, err
		}
		c.shards[i].users = lru
	}
	return c, nil
}

func (c *refreshCache) shardFor(userID string) *cacheShard {
	return &c.shards[maphash.String(c.seed, userID)&c.mask]
}

// now returns the cache's time; a store call about to be made is recorded
// with the time taken before it.
func (c *refreshCache) now() int64 { return c.clock().UnixNano() }

// lookup admits sessionID locally when this replica refreshed it in the
// store less than the interval ago.
func (c *refreshCache) lookup(userID, sessionID string, limit int) (Decision, bool) {
	now := c.now()
	sh := c.shardFor(userID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u, ok := sh.users.Peek(userID)
	if !ok {
		return Decision{}, false
	}
	for _, s := range u.sessions {
		if s.id == sessionID {
			if now-s.refreshed < c.interval {
				return Decision{Result: Refreshed, Active: s.active, Limit: limit}, true
			}
			return Decision{}, false
		}
	}
	return Decision{}, false
}

// record notes that the store admitted sessionID at at (a time from now).
func (c *refreshCache) record(userID, sessionID string, active int, at int64) {
	sh := c.shardFor(userID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u, ok := sh.users.Get(userID)
	if !ok {
		c.dropStale(sh, at)
		u = &cachedUser{}
		sh.users.Add(strings.Clone(userID), u)
	}
	u.newest = max(u.newest, at)
	kept := u.sessions[:0]
	found := false
	for _, s := range u.sessions {
		switch {
		case s.id == sessionID:
			s.refreshed, s.active, found = max(s.refreshed, at), active, true
		case at-s.refreshed >= c.interval:
			continue // stale: it would go to the store anyway
		}
		kept = append(kept, s)
	}
	clear(u.sessions[len(kept):])
	u.sessions = kept
	if !found {
		u.sessions = append(u.sessions, cachedSession{id: strings.Clone(sessionID), refreshed: at, active: active})
	}
}

// dropStale removes up to staleBatch users from the shard's tail whose
// sessions have all gone stale.
func (c *refreshCache) dropStale(sh *cacheShard, now int64) {
	for range staleBatch {
		_, u, ok := sh.users.GetOldest()
		if !ok || now-u.newest < c.interval {
			return
		}
		sh.users.RemoveOldest()
	}
}

// forget drops one session, so that a session ended through this replica is
// never admitted from the cache again.
func (c *refreshCache) forget(userID, sessionID string) {
	sh := c.shardFor(userID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u, ok := sh.users.Peek(userID)
	if !ok {
		return
	}
	for i, s := range u.sessions {
		if s.id == sessionID {
			u.sessions = slices.Delete(u.sessions, i, i+1)
			break
		}
	}
	if len(u.sessions) == 0 {
		sh.users.Remove(userID)
	}
}

// forgetUser drops every session of a user.
func (c *refreshCache) forgetUser(userID string) {
	sh := c.shardFor(userID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.users.Remove(userID)
}

// len returns the number of users cached.
func (c *refreshCache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += sh.users.Len()
		sh.mu.Unlock()
	}
	return n
}

// clear drops every entry: after Redis lost its sessions, none of them says
// anything true of Redis.
func (c *refreshCache) clear() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.users.Purge()
		sh.mu.Unlock()
	}
}
