package limiter

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// Re-seeding an empty Redis. Redis runs without persistence: after a
// restart, or a failover to a replica that lost writes, it has forgotten
// every session, and the next device to ask would take a playing device's
// slot. Each replica notices the loss and writes back the sessions it knows
// (its local mirror, which Guard keeps under every policy) before it admits
// new sessions.
//
// The loss is noticed by a marker key without TTL holding a random value:
// the replica checks it on every new connection (a restarted Redis breaks
// them all) and every markerCheckEvery (FLUSHALL, a failover without
// reconnect). A marker that is gone or differs from the one the replica
// knew means Redis lost writes.
var (
	//go:embed redis_reseed.lua
	reseedSource string
	//go:embed redis_marker.lua
	markerSource string
)

// markerKey names this Redis's generation.
const markerKey = keyPrefix + "marker"

// markerCheckEvery is how often the marker is checked without a reconnect.
const markerCheckEvery = time.Second

// reseedGrace is how long after noticing the loss a replica does not start
// new sessions from Redis's word: the other replicas notice it at their next
// connect (within one dial backoff) or marker check, and until they have
// written back their sessions Redis undercounts. New sessions meanwhile are
// decided by the failure policy, as during the outage; refreshes are not.
const reseedGrace = maxDialBackoff + markerCheckEvery

// mirror is what a replica knows of its sessions: Guard's local table.
type mirror interface {
	// List returns the user's sessions the replica admitted, oldest first.
	List(ctx context.Context, userID string) ([]Session, error)
	// ended returns the user's tombstones.
	ended(userID string) []endedSession
	// eachUser calls f for every user with active sessions or tombstones,
	// until f returns false.
	eachUser(f func(userID string, sessions []Session, ended []endedSession) bool)
	// now is the mirror's clock.
	now() time.Time
	// renewed applies a renewal the store accepted: the session was last
	// seen t.ago before now and had t.left buffered per track then. It
	// reports whether the mirror holds the session.
	renewed(t touch) bool
	// unconfirm leaves a session out of what re-seeds Redis until the
	// store admits it again (redis_window.go).
	unconfirm(userID, sessionID string)
}

// reseeder checks the marker and re-seeds Redis when it changed.
type reseeder struct {
	r      *Redis
	script *rueidis.Lua
	marker *rueidis.Lua
	mirror atomic.Pointer[mirror]

	// gen counts the connects and checks that may have met a new Redis;
	// verified is the gen the last verification covered.
	gen      atomic.Uint64
	verified atomic.Uint64
	// seeding is set while a re-seed pass runs: every Admit then seeds its
	// own user first.
	seeding atomic.Bool
	// incomplete is set while the last pass left users unwritten.
	incomplete atomic.Bool
	// graceUntil (monoNow) ends the reseedGrace of the last loss.
	graceUntil atomic.Int64

	mu    sync.Mutex
	known string // the marker this replica last saw
	// seen is known, for the admissions that read it without the lock
	// (redis_window.go).
	seen   atomic.Pointer[string]
	waitCh chan struct{} // closed when a verification completes
	kick   chan struct{}

	// losses counts the losses noticed.
	losses atomic.Uint64
	// window holds the starts a loss may have let in (redis_window.go).
	window windowStarts

	passes, seeded atomic.Uint64 // re-seed passes and sessions written, for tests
}

func newReseeder(r *Redis) *reseeder {
	return &reseeder{
		r:      r,
		script: rueidis.NewLuaScriptRetryable(libSource + reseedSource),
		marker: rueidis.NewLuaScriptRetryable(markerSource),
		waitCh: make(chan struct{}),
		kick:   make(chan struct{}, 1),
	}
}

// suspect notes that Redis may be new (a connection was made): admissions
// wait for the next verification.
func (s *reseeder) suspect() {
	s.gen.Add(1)
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// loop verifies the marker when kicked and every markerCheckEvery. Only a
// connect makes admissions wait for the verification; the periodic check,
// for a Redis that lost its data without dropping connections, does not.
func (s *reseeder) loop(stop <-chan struct{}) {
	t := time.NewTicker(markerCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-s.kick:
		case <-t.C:
		}
		s.verify(stop)
	}
}

// verify checks the marker for the current gen and re-seeds when it changed.
func (s *reseeder) verify(stop <-chan struct{}) {
	gen := s.gen.Load()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	defer cancel()
	s.mu.Lock()
	known := s.known
	s.mu.Unlock()
	began := monoNow()
	fresh := newMarker()
	msg, err := s.r.roundTrip(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		return s.marker.Exec(ctx, c, []string{markerKey}, []string{fresh})
	})
	if err != nil {
		return // Redis is not answering; the next connect kicks again
	}
	current, err := msg.ToString()
	if err != nil {
		return
	}
	lost := known != "" && current != known
	s.mu.Lock()
	s.known = current
	s.seen.Store(&current)
	s.mu.Unlock()
	if m := s.mirror.Load(); lost && m != nil {
		s.r.logger.Warn("redis lost its sessions (restarted empty or failed over); re-seeding it from this replica's table")
		s.losses.Add(1) // before the window is taken: a start noted after it sees this (Admit)
		s.graceUntil.Store(monoNow() + int64(reseedGrace))
		s.seeding.Store(true)
		if s.r.cache != nil {
			s.r.cache.clear() // its entries say Redis has sessions it no longer has
		}
		s.undoWindow(ctx, *m)
	} else if !lost {
		s.window.checked(began)
	}
	s.release(gen)
	// A user whose script failed (a loaded machine, a call past its
	// deadline) is written back by the next check's pass; until one pass
	// has written every user, each admission still seeds its own user first.
	if (lost && s.mirror.Load() != nil) || s.incomplete.Load() {
		done := s.pass(ctx)
		s.incomplete.Store(!done)
		s.seeding.Store(!done)
	}
}

// release lets the admissions waiting for gen (or earlier) go on.
func (s *reseeder) release(gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen > s.verified.Load() {
		s.verified.Store(gen)
	}
	close(s.waitCh)
	s.waitCh = make(chan struct{})
}

// pass writes back every session of the mirror and reports whether every
// user was written.
func (s *reseeder) pass(ctx context.Context) bool {
	m := s.mirror.Load()
	if m == nil {
		return true
	}
	s.passes.Add(1)
	n, failed := 0, 0
	(*m).eachUser(func(userID string, sessions []Session, ended []endedSession) bool {
		if err := s.seed(ctx, userID, sessions, ended, (*m).now()); err != nil {
			failed++
			return ctx.Err() == nil
		}
		n++
		return true
	})
	if failed > 0 {
		s.r.logger.Warn("re-seeding redis: some users could not be written back; trying them again", "users", n, "failed", failed)
		return false
	}
	s.r.logger.Info("re-seeded redis", "users", n)
	return true
}

// ready returns once an admission of userID may be decided by Redis: no
// verification pending, and this user's sessions written back if a re-seed
// runs. It waits at most the store timeout for a verification, then fails
// with ErrUnavailable, so that the failure policy decides.
func (s *reseeder) ready(ctx context.Context, userID string) error {
	for s.verified.Load() < s.gen.Load() {
		s.mu.Lock()
		ch := s.waitCh
		s.mu.Unlock()
		if s.verified.Load() >= s.gen.Load() {
			break
		}
		t := time.NewTimer(s.r.timeout)
		select {
		case <-ch:
			t.Stop()
		case <-t.C:
			s.r.errs.Add(1)
			return fmt.Errorf("%w: redis not verified yet after a reconnect: %w", ErrUnavailable, context.DeadlineExceeded)
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	if !s.seeding.Load() {
		return nil
	}
	return s.seedUser(ctx, userID)
}

// seedUser writes back one user's sessions from the mirror.
func (s *reseeder) seedUser(ctx context.Context, userID string) error {
	m := s.mirror.Load()
	if m == nil {
		return nil
	}
	sessions, _ := (*m).List(ctx, userID)
	return s.seed(ctx, userID, sessions, (*m).ended(userID), (*m).now())
}

// seed runs the re-seed script for one user's sessions and tombstones: a
// session this replica saw replaced or ended by the operator stays ended
// although Redis forgot it.
func (s *reseeder) seed(ctx context.Context, userID string, sessions []Session, ended []endedSession, now time.Time) error {
	if len(sessions) == 0 && len(ended) == 0 {
		return nil
	}
	args := append(make([]string, 0, 3+6*len(sessions)+3*len(ended)), s.r.ttlMicros, s.r.leaseMicros, strconv.Itoa(len(sessions)))
	for _, ss := range sessions {
		args = append(args, seedArgs(ss, now)...)
	}
	for _, e := range ended {
		if left := e.Until.Sub(now); left > 0 {
			args = append(args, e.ID, strconv.FormatInt(left.Microseconds(), 10), reasonCode(e.Reason))
		}
	}
	msg, err := s.r.script(ctx, s.script, userID, args...)
	if err != nil {
		return fmt.Errorf("re-seeding: %w", err)
	}
	n, err := msg.AsInt64()
	if err != nil {
		return fmt.Errorf("re-seeding: %w: %w", ErrUnavailable, err)
	}
	s.seeded.Add(uint64(n))
	return nil
}

// seedArgs is one session as redis_reseed.lua takes it (six values): id, age of the last
// heartbeat and of the start (µs, on the mirror's clock), time until its
// media runs out ("" when none), encoded device. The media is what keeps a
// buffered player's slot once it has been silent for a TTL. Last comes the
// network the session is bound to ("" none), so that it stays bound.
func seedArgs(ss Session, now time.Time) []string {
	buffered, bound := "", ""
	if !ss.BufferedUntil.IsZero() {
		buffered = strconv.FormatInt(ss.BufferedUntil.Sub(now).Microseconds(), 10)
	}
	if ss.bound != 0 {
		bound = ss.bound.String()
	}
	return []string{
		ss.ID,
		strconv.FormatInt(max(now.Sub(ss.LastSeen).Microseconds(), 0), 10),
		strconv.FormatInt(max(now.Sub(ss.StartedAt).Microseconds(), 0), 10),
		buffered,
		encodeDevice(ss.Device),
		bound,
	}
}

func newMarker() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// useMirror makes m what this store re-seeds Redis from.
func (r *Redis) useMirror(m mirror) { r.reseed.mirror.Store(&m) }

// redecide decides again an admission that a connect interrupted when the
// connect turned out to meet a Redis that had lost its sessions. A session it started that this
// replica does not know is ended, the user's sessions are written back, and
// the request is decided again.
func (r *Redis) redecide(ctx context.Context, req Request, d Decision) (Decision, error) {
	if d.Result == Started && !r.reseed.knows(ctx, req) {
		if err := r.undoStart(ctx, req); err != nil {
			return Decision{}, err
		}
	}
	d, err := r.admit(ctx, req)
	if err != nil || d.Result != Started {
		return d, err
	}
	return r.inGrace(ctx, req, d)
}

// unknownInGrace reports whether an admission should go to the failure
// policy without asking Redis: during the reseedGrace, a session this
// replica does not know may be new, and Redis may still undercount.
func (s *reseeder) unknownInGrace(ctx context.Context, req Request) bool {
	return monoNow() < s.graceUntil.Load() && !s.knows(ctx, req)
}

// knows reports whether the mirror holds the session as admitted by Redis.
func (s *reseeder) knows(ctx context.Context, req Request) bool {
	m := s.mirror.Load()
	if m == nil {
		return false
	}
	sessions, _ := (*m).List(ctx, req.UserID)
	for _, ss := range sessions {
		if ss.ID == req.SessionID {
			return true
		}
	}
	return false
}

// inGrace undoes a session Redis started during the reseedGrace and hands the
// decision to the failure policy.
func (r *Redis) inGrace(ctx context.Context, req Request, d Decision) (Decision, error) {
	if monoNow() >= r.reseed.graceUntil.Load() {
		return d, nil
	}
	if err := r.undoStart(ctx, req); err != nil {
		return Decision{}, err
	}
	return Decision{}, fmt.Errorf("%w: redis is being re-seeded after losing its sessions", ErrUnavailable)
}

// undoStart removes the record an admission just started. Under network
// binding that is the record of this network alone: ending the id would
// end its other networks' sessions, which are playing.
func (r *Redis) undoStart(ctx context.Context, req Request) error {
	if !r.rules.BindNetwork || req.Network == 0 {
		_, err := r.End(ctx, req.UserID, req.SessionID, EndedByPlayer)
		return err
	}
	field := boundField(req.SessionID, req.Network)
	if r.cache != nil {
		r.cache.forget(req.UserID, field)
	}
	_, err := r.call(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		return c.Do(ctx, c.B().Hdel().Key(redisKey(req.UserID)).Field(field).Build())
	})
	if err != nil {
		return fmt.Errorf("undoing a start: %w", err)
	}
	return nil
}
