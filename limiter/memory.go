package limiter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxUsers is the default capacity of the in-memory table.
const DefaultMaxUsers = 1_000_000

// minShardUsers keeps shards large enough that evicting a shard's least
// recently active user is close to evicting the table's.
const minShardUsers = 1024

const maxShards = 64

// bumpDivisor sets how stale a user's LRU position may get: TTL/16.
const bumpDivisor = 16

// MemoryOptions configures a Memory store.
type MemoryOptions struct {
	// TTL is the heartbeat timeout: a session silent for TTL has expired. Required.
	TTL time.Duration
	// MaxUsers bounds the table (users, not sessions). Default DefaultMaxUsers.
	MaxUsers int
	// StateFile, when set, is checked and read back by NewMemory, which fails
	// with ErrStateFile when it could not be written, and written by Close
	// (format: WriteState). Logger gets a line for each. Default: none.
	StateFile string
	Logger    *slog.Logger
	// Clock is the time source. Default: the wall clock at NewMemory advanced by
	// the monotonic clock, which costs half of time.Now and never jumps.
	Clock Clock
	// SweepInterval is how often expired users are removed in the background.
	// Default TTL/4, at most 5s; negative turns the background sweep off
	// (Sweep may still be called).
	SweepInterval time.Duration
	// Rules are the session rules: leases, the policy over the limit,
	// tombstones, shadow mode.
	Rules Rules
	// OnFull is what a new user gets when the table is full of live users.
	// Default OnFullEvict.
	OnFull OnFull
}

// Memory is the single-replica store: an LRU-bounded table of users, split in
// shards so that unrelated users do not queue on one lock. Every decision for
// a user runs prune → count → insert under that user's shard lock, so it is
// atomic.
type Memory struct {
	ttl      int64
	maxLease int64
	tombTTL  int64
	rules    Rules
	ns       rulesNs
	bumpGap  int64
	clock    Clock
	keys     keyer
	table    Sharded[userRef, struct{}, shardUsers] // by value: one load less per request
	heap     *tableHeap                             // the table's memory, out of Go's heap
	stops    freeStops                              // the players' free stops (memory_stop.go)
	arena    userArena
	maxUsers int64
	refuse   bool // OnFullRefuse

	users    atomic.Int64
	sessions atomic.Int64
	evicted  atomic.Uint64

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	state     *stateFile // nil without MemoryOptions.StateFile
}

// shard is one lock of the table, the LRU of its users, which orders them
// for eviction and the sweep, the index that finds them (userIndex) and
// the records its users left (shardUsers).
type shard = Shard[userRef, struct{}, shardUsers]

var (
	_ Store         = (*Memory)(nil)
	_ StatsReporter = (*Memory)(nil)
	_ TableSizer    = (*Memory)(nil)
)

// NewMemory returns a memory store; Close stops its sweeper and writes its
// state file.
func NewMemory(opts MemoryOptions) (*Memory, error) {
	if opts.TTL <= 0 {
		return nil, errors.New("memory store: TTL must be positive")
	}
	if opts.MaxUsers == 0 {
		opts.MaxUsers = DefaultMaxUsers
	}
	if opts.MaxUsers < 0 {
		return nil, errors.New("memory store: MaxUsers must be positive")
	}
	if opts.Clock == nil {
		opts.Clock = monotonicClock()
	}
	if opts.OnFull == "" {
		opts.OnFull = OnFullEvict
	}
	if _, err := ParseOnFull(string(opts.OnFull)); err != nil {
		return nil, fmt.Errorf("memory store: %w", err)
	}
	n := ShardCount(opts.MaxUsers, minShardUsers, maxShards)
	opts.Rules = opts.Rules.withDefaults()
	m := &Memory{
		ttl:      int64(opts.TTL),
		maxLease: int64(opts.Rules.MaxLease),
		tombTTL:  int64(opts.Rules.TombstoneTTL),
		rules:    opts.Rules,
		ns:       rulesNs{ttl: int64(opts.TTL), maxLease: int64(opts.Rules.MaxLease), window: int64(opts.Rules.SharedWindow)},
		bumpGap:  int64(opts.TTL / bumpDivisor),
		clock:    opts.Clock,
		keys:     newKeyer(),
		maxUsers: int64(opts.MaxUsers),
		refuse:   opts.OnFull == OnFullRefuse,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	// The bound is kept on the whole table (m.users), not per shard, so that
	// an unlucky hash spread never evicts while the table has room. Each
	// shard's LRU only orders its users; its own size is a safety net.
	// The callback runs for every user leaving the table (eviction or
	// removal), so both gauges stay right whatever removed the user.
	table, err := NewSharded[userRef, struct{}, shardUsers](n, 2*opts.MaxUsers/n+minShardUsers, func(r userRef, _ struct{}) {
		u := r.user()
		k0 := m.keys.userFirst(u.id())
		x := &m.shardFor(k0).Extra
		x.index.remove(k0, u)
		m.users.Add(-1)
		m.sessions.Add(-int64(len(u.sessions())))
		x.release(m.heap, u)
	})
	if err != nil {
		return nil, fmt.Errorf("memory store: %w", err)
	}
	m.table = *table
	m.heap = newTableHeap()
	m.arena.heap = m.heap
	for i := range m.table.Len() {
		m.table.At(i).Extra.index.heap = m.heap
	}
	// The table's memory goes when the store does, not at Close, after
	// which it stays readable. h is not m's: m can become unreachable.
	runtime.AddCleanup(m, func(h *tableHeap) { h.release() }, m.heap)
	interval := opts.SweepInterval
	if interval == 0 {
		interval = min(opts.TTL/4, 5*time.Second)
	}
	if interval > 0 {
		go m.sweepEvery(interval)
	} else {
		close(m.done)
	}
	if err := m.openStateFile(opts.StateFile, opts.Logger); err != nil {
		_ = m.Close()
		return nil, err
	}
	return m, nil
}

// shardFor is the shard of the user whose key's first half is k0.
func (m *Memory) shardFor(k0 uint64) *shard {
	return m.table.For(k0)
}

// locked locks the shard of userID and returns it with the user's key, the
// user with its expired sessions pruned (nil when unknown), and the time.
// The caller unlocks sh. Every call runs prune → decide → write under this
// one lock, which is what makes each decision atomic for its user.
func (m *Memory) locked(userID string) (sh *shard, uk key, u *user, now int64) {
	sh, uk = m.aim(userID)
	u, now = m.lock(sh, uk)
	return sh, uk, u, now
}

// lockedSession is locked that also returns sessionID's key, hashed while
// the user's index slot is on its way.
func (m *Memory) lockedSession(userID, sessionID string) (sh *shard, uk key, sk uint64, u *user, now int64) {
	sh, uk = m.aim(userID)
	sk = m.keys.session(sessionID)
	u, now = m.lock(sh, uk)
	return sh, uk, sk, u, now
}

// aim returns the shard and key of userID and starts loading the index
// slot of the user (prefetchHome), so that work the caller does before
// lock, which needs the slot, overlaps the wait for it. The key's second
// half, which the slot does not depend on, is hashed after the prefetch.
func (m *Memory) aim(userID string) (*shard, key) {
	k0 := m.keys.userFirst(userID)
	sh := m.shardFor(k0)
	sh.Extra.index.prefetchHome(k0)
	return sh, key{k0, m.keys.userSecond(userID)}
}

// lock is locked's second half, after aim.
func (m *Memory) lock(sh *shard, uk key) (u *user, now int64) {
	now = m.clock().UnixNano()
	sh.Lock()
	u = sh.Extra.index.get(uk)
	if u == nil {
		return nil, now
	}
	m.sessions.Add(-int64(u.prune(m.heap, now, m.tombTTL)))
	return u, now
}

// Admit implements Store.
func (m *Memory) Admit(_ context.Context, req Request) (Decision, error) {
	limit := max(req.Limit, 1)
	sh, uk, sk, u, now := m.lockedSession(req.UserID, req.SessionID)
	defer sh.Unlock()

	if u == nil {
		if m.refuse && !m.makeRoom(sh, now) {
			return Decision{}, ErrTableFull
		}
		// Built on the stack (u escapes, nu does not) and copied into its
		// record by insert: no allocation beside the arena's.
		nu := user{k1: uk[1], bumped: now}
		nu.setBlob(newBlob(m.heap, req.UserID))
		e := nu.start(m.heap, req.SessionID, sk, now, req.Device)
		if m.rules.BindNetwork {
			e.bound = req.Network
		}
		e.heartbeat(&req, now, &m.ns)
		m.sessions.Add(1)
		m.insert(sh, uk, &nu, now)
		return Decision{Result: Started, Active: 1, Limit: limit, SegmentHint: time.Duration(e.hint)}, nil
	}
	i, elsewhere := -1, false
	if m.rules.BindNetwork {
		i, elsewhere = u.findBound(sk, req.Network, now, m.ns.window)
	} else {
		i = u.find(sk)
	}
	if i >= 0 {
		e := &u.sessions()[i]
		shared := e.heartbeat(&req, now, &m.ns)
		m.bump(sh, u, now)
		return Decision{Result: Refreshed, Active: len(u.sessions()), Limit: limit, Shared: shared, SegmentHint: time.Duration(e.hint)}, nil
	}
	d := Decision{Result: Started, Limit: limit}
	if elsewhere {
		// The same id from a second network at once: another session.
		// Counted as shared even when it is rejected.
		d.Shared = u.markShared(sk)
	}
	if t := u.tomb(sk); t >= 0 {
		if r := u.ended()[t].reason; r != lapsed {
			return Decision{Result: Ended, EndReason: r, Active: len(u.sessions()), Limit: limit}, nil
		}
		d.Lapsed = true
	}
	if len(u.sessions()) >= limit {
		switch {
		case m.rules.Shadow:
			d.WouldReject = true
		case m.rules.OnLimit == EvictOldest:
			d.Evicted = m.evict(u, u.oldest(), Replaced, now)
		default:
			// A rejection changes nothing, not even the user's recency.
			return Decision{
				Result:     Rejected,
				Active:     len(u.sessions()),
				Limit:      limit,
				RetryAfter: u.retryAfter(now),
				Sessions:   u.list(),
				Lapsed:     d.Lapsed,
				Shared:     d.Shared,
			}, nil
		}
	}
	if d.Lapsed {
		u.setEnded(m.heap, slices.Delete(u.ended(), u.tomb(sk), u.tomb(sk)+1))
		d.Lapsed = false
	}
	e := u.start(m.heap, req.SessionID, sk, now, req.Device)
	if m.rules.BindNetwork {
		e.bound, e.shared = req.Network, elsewhere
	}
	e.heartbeat(&req, now, &m.ns)
	m.sessions.Add(1)
	m.bump(sh, u, now)
	d.Active, d.SegmentHint = len(u.sessions()), time.Duration(e.hint)
	return d, nil
}

// evict ends session i of u, leaving a tombstone for reason unless the
// player ended it, and returns its id.
func (m *Memory) evict(u *user, i int, reason EndReason, now int64) string {
	// A copy: the blob it is cut from is freed when it is rebuilt without it.
	e, meta := u.sessions()[i], strings.Clone(u.meta(i))
	if reason != EndedByPlayer && reason != StoppedByPlayer && m.tombTTL > 0 {
		u.bury(m.heap, tomb{key: e.key, until: now + m.tombTTL, reason: reason, meta: meta})
	} else if t := u.tomb(e.key); t >= 0 {
		u.setEnded(m.heap, slices.Delete(u.ended(), t, t+1))
	}
	u.remove(m.heap, i)
	m.sessions.Add(-1)
	return metaID(meta)
}

// bump moves an admitted user to the front of its shard's LRU, at most once
// per TTL/bumpDivisor: a heartbeat then reads the index and the user and
// writes nothing in the LRU (a move to the front writes both neighbours, two
// more cache misses at scale), and the LRU order stays within that gap of
// the true order of activity.
func (m *Memory) bump(sh *shard, u *user, now int64) {
	if now-u.bumped >= m.bumpGap {
		sh.LRU.Get(refOf(u))
		u.bumped = now
	}
}

// insert adds a copy of u to a shard, in a record of the arena. When the
// table is full it first makes room from the shard's expired users, so that
// only a table full of live users evicts anyone, and then drops the shard's
// least recently active user and counts it.
func (m *Memory) insert(sh *shard, uk key, u *user, now int64) {
	// Inserts into other shards run concurrently, so the table may be over
	// its bound by a few users here: loop until it is back under it.
	for m.users.Load() >= m.maxUsers {
		if m.sweepShardLocked(sh, now, 1) > 0 {
			continue
		}
		if _, _, ok := sh.LRU.RemoveOldest(); !ok {
			break // this shard is empty; the others will shed the excess
		}
		m.evicted.Add(1)
	}
	m.users.Add(1)
	p := m.arena.alloc(&sh.Extra)
	*p = *u
	sh.Extra.index.put(uk, p)
	if sh.LRU.Add(refOf(p), struct{}{}) {
		m.evicted.Add(1) // the shard's safety net; not reached with a fair hash
	}
}

// End implements Store.
func (m *Memory) End(_ context.Context, userID, sessionID string, reason EndReason) (bool, error) {
	if reason == StoppedByPlayer {
		held, _ := m.stopAs(userID, sessionID, stopHere)
		return held, nil
	}
	sh, _, u, now := m.locked(userID)
	defer sh.Unlock()
	if u == nil {
		return false, nil
	}
	// Under BindNetwork one id may hold a session per network: end them all.
	sk, ended := m.keys.session(sessionID), false
	for i := u.find(sk); i >= 0; i = u.find(sk) {
		m.evict(u, i, reason, now)
		ended = true
	}
	m.dropIfEmpty(sh, u, now)
	return ended, nil
}

// EndAll implements Store.
func (m *Memory) EndAll(_ context.Context, userID string, reason EndReason) (int, error) {
	sh, _, u, now := m.locked(userID)
	defer sh.Unlock()
	if u == nil {
		return 0, nil
	}
	n := len(u.sessions())
	for i := n - 1; i >= 0; i-- {
		m.evict(u, i, reason, now)
	}
	m.dropIfEmpty(sh, u, now)
	return n, nil
}

// dropIfEmpty removes a user with no session and no live tombstone.
func (m *Memory) dropIfEmpty(sh *shard, u *user, now int64) {
	if len(u.sessions()) == 0 && !u.holdsTombs(now) {
		sh.LRU.Remove(refOf(u))
	}
}

// List implements Store.
func (m *Memory) List(_ context.Context, userID string) ([]Session, error) {
	sh, _, u, _ := m.locked(userID)
	defer sh.Unlock()
	if u == nil {
		return []Session{}, nil
	}
	return u.list(), nil
}

// Ping implements Store; memory always answers.
func (m *Memory) Ping(context.Context) error { return nil }

// Stats implements StatsReporter.
func (m *Memory) Stats() Stats {
	return Stats{
		TrackedUsers:   int(m.users.Load()),
		ActiveSessions: int(m.sessions.Load()),
		EvictedUsers:   m.evicted.Load(),
	}
}

// TableBytes implements TableSizer.
func (m *Memory) TableBytes() int64 { return m.heap.mapped.Load() }

// Close stops the background sweep and writes the state file, if any,
// returning its error. The table stays readable.
func (m *Memory) Close() error {
	var err error
	m.closeOnce.Do(func() {
		close(m.stop)
		<-m.done
		err = m.closeStateFile()
	})
	<-m.done
	return err
}
