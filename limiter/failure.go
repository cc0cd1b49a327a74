package limiter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// FailurePolicy is what a Guard decides when its store cannot be asked.
type FailurePolicy string

// The policies of -store-failure.
const (
	// FailOpen admits every request; each is marked Degraded.
	FailOpen FailurePolicy = "open"
	// FailClosed returns the error (wrapping ErrUnavailable); the gate answers 503.
	FailClosed FailurePolicy = "closed"
	// FailLocal decides from this replica's own table: sessions it admitted
	// keep playing, new ones are limited by the sessions it knows of.
	FailLocal FailurePolicy = "local"
)

// ParseFailurePolicy returns the policy named s.
func ParseFailurePolicy(s string) (FailurePolicy, error) {
	switch p := FailurePolicy(s); p {
	case FailOpen, FailClosed, FailLocal:
		return p, nil
	}
	return "", fmt.Errorf("unknown failure policy %q; want open, closed or local", s)
}

// recoverQuiet is how long a store must go without a failed call before it
// is logged as recovered, so that a flaky store logs one outage, not one per
// timed-out call.
const recoverQuiet = time.Second

// GuardOptions configures Guard.
type GuardOptions struct {
	// Policy applies when the store fails. Required.
	Policy FailurePolicy
	// TTL is the heartbeat timeout of the local table; the store's TTL. Required.
	TTL time.Duration
	// MaxUsers bounds the local table (users). Default DefaultMaxUsers.
	MaxUsers int
	// Clock is the local table's time source. Default: the monotonic clock.
	Clock Clock
	// Logger receives one line when the store starts failing and one when
	// it has recovered. Default: none.
	Logger *slog.Logger
	// Rules are the store's session rules, applied by the local table too.
	Rules Rules
}

// Guard puts a failure policy in front of a remote store. It mirrors every
// session the store admits through this replica into a local Memory table,
// which the local policy decides from and which the session gauges read.
// The store bounds each of its own calls (Redis: RedisOptions.Timeout); Guard
// only decides what a failed call means. Store failures are logged on the
// transitions only: healthy → failing (warn) and failing → recovered (info),
// at most one line per 10 s while the store flaps (failure_log.go).
type Guard struct {
	store  Store
	local  *Memory
	policy FailurePolicy
	clock  Clock
	logger *slog.Logger

	failing     atomic.Bool
	lastFailure atomic.Int64 // Unix ns of the clock
	mu          sync.Mutex   // serialises the transitions
	failedCalls atomic.Uint64
	log         *transitionLog
	provisional provisional
}

var (
	_ Store         = (*Guard)(nil)
	_ StatsReporter = (*Guard)(nil)
	_ TopLister     = (*Guard)(nil)
)

// NewGuard wraps store. Close closes both the store and the local table.
func NewGuard(store Store, opts GuardOptions) (*Guard, error) {
	if _, err := ParseFailurePolicy(string(opts.Policy)); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = monotonicClock()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	local, err := NewMemory(MemoryOptions{TTL: opts.TTL, MaxUsers: opts.MaxUsers, Clock: opts.Clock, Rules: opts.Rules})
	if err != nil {
		return nil, fmt.Errorf("local table: %w", err)
	}
	g := &Guard{store: store, local: local, policy: opts.Policy, clock: opts.Clock, logger: opts.Logger,
		log: newTransitionLog(opts.Logger, opts.Policy), provisional: newProvisional(opts.TTL)}
	if r, ok := store.(*Redis); ok {
		r.useMirror(guardMirror{g}) // the sessions it re-seeds an empty Redis with
	}
	return g, nil
}

// Admit implements Store.
func (g *Guard) Admit(ctx context.Context, req Request) (Decision, error) {
	wasFailing, start := g.started()
	d, err := g.store.Admit(ctx, req)
	if err == nil {
		g.succeeded(wasFailing, start)
		if d.Evicted != "" {
			g.endHere(ctx, req.UserID, d.Evicted, Replaced)
		}
		if d.Result == Ended {
			// Ended through another replica: this table must not keep it
			// playing under the local policy, nor re-seed an empty Redis
			// with it.
			g.endHere(ctx, req.UserID, req.SessionID, d.EndReason)
			g.provisional.confirm(req.UserID, req.SessionID)
		}
		// A decision of the refresh cache reached no store. The local
		// table learns its hits with the renewal that brings them to the
		// store: that is what re-seeding an empty Redis needs, and a
		// playing session is renewed well within the TTL, so it never
		// lapses there. A session the local table let go meanwhile (its
		// LRU is full) is dropped from the cache at that renewal, so its
		// next request asks the store and is remembered here again.
		// Remembering every hit cost a second lookup per request.
		if d.Admitted() && !d.cached {
			g.rememberAdmitted(ctx, req)
			g.provisional.confirm(req.UserID, req.SessionID)
		}
		return d, nil
	}
	if ctx.Err() != nil {
		return Decision{}, err // the caller gave up; the store did not fail
	}
	g.failed(err)
	switch g.policy {
	case FailClosed:
		g.touch(ctx, req)
		return Decision{}, unavailable(err)
	case FailLocal:
		d, _ = g.local.Admit(ctx, req)
	default:
		d = g.remember(ctx, req)
		d.Limit = max(req.Limit, 1)
	}
	if d.Result == Started || (d.Admitted() && g.provisional.has(req.UserID, req.SessionID)) {
		g.provisional.add(req.UserID, req.SessionID) // or keep it provisional while it plays
	}
	d.Degraded = g.policy
	return d, nil
}

// endHere ends a session the store ended in the local table, which keeps
// its tombstone even when another replica admitted it: a re-seed of an
// empty Redis then writes it back ended from here too (redis_reseed.lua lets
// a tombstone win), where that replica's table still holds it playing.
func (g *Guard) endHere(ctx context.Context, userID, sessionID string, reason EndReason) {
	if ended, _ := g.local.End(ctx, userID, sessionID, reason); !ended {
		g.local.rememberEnd(userID, sessionID, reason)
	}
}

// remember records an admitted session in the local table whatever that
// table thinks of the limit: the store, which knows every replica, decided.
func (g *Guard) remember(ctx context.Context, req Request) Decision {
	req.Limit = math.MaxInt32
	d, _ := g.local.Admit(ctx, req)
	return d
}

// rememberAdmitted is remember for a session the store admitted: a
// tombstone this table keeps of it goes, as the store, which ended it once,
// has forgotten that and decided.
func (g *Guard) rememberAdmitted(ctx context.Context, req Request) {
	if d := g.remember(ctx, req); d.Result == Ended {
		g.local.forgetEnd(req.UserID, req.SessionID)
		g.remember(ctx, req)
	}
}

// touch refreshes a session the local table knows, and adds nothing: a
// device refused by the closed policy is still playing, and the local table
// is what re-seeds an empty Redis (redis_reseed.go).
// Admitting with a limit of 1 would evict a playing session under
// evict-oldest, so the table is only refreshed.
func (g *Guard) touch(ctx context.Context, req Request) {
	g.local.refresh(ctx, req)
}

// End implements Store. The session leaves the local table even when the
// store cannot be asked, so that the local policy frees its slot here.
func (g *Guard) End(ctx context.Context, userID, sessionID string, reason EndReason) (bool, error) {
	if s, ok := g.store.(stopper); ok && reason == StoppedByPlayer {
		return g.stop(ctx, s, userID, sessionID)
	}
	wasFailing, start := g.started()
	ended, err := g.store.End(ctx, userID, sessionID, reason)
	if ended {
		g.endHere(ctx, userID, sessionID, reason)
	} else {
		_, _ = g.local.End(ctx, userID, sessionID, reason)
	}
	g.provisional.confirm(userID, sessionID)
	if err != nil {
		return false, g.failedCall(ctx, err)
	}
	g.succeeded(wasFailing, start)
	return ended, nil
}

// stopper is a store that says what a player's stop did with the session:
// freed its slot, or kept it for the media it holds (memory_stop.go).
type stopper interface {
	playerStop(ctx context.Context, userID, sessionID string) (held, kept bool, err error)
}

// stop is End for a player's stop: the local table does what the store
// did, rather than count free stops of its own, which this replica alone
// sees. Else it would free a session the store kept, which a re-seed or
// the local policy would then not count, or keep one the store freed.
func (g *Guard) stop(ctx context.Context, s stopper, userID, sessionID string) (bool, error) {
	wasFailing, start := g.started()
	held, kept, err := s.playerStop(ctx, userID, sessionID)
	v := stopFreed
	switch {
	case err != nil:
		v = stopHere // the store could not say: this table decides, as its policy will
	case kept:
		v = stopKept
	}
	g.local.stopAs(userID, sessionID, v)
	g.provisional.confirm(userID, sessionID)
	if err != nil {
		return false, g.failedCall(ctx, err)
	}
	g.succeeded(wasFailing, start)
	return held, nil
}

// EndAll implements Store, like End.
func (g *Guard) EndAll(ctx context.Context, userID string, reason EndReason) (int, error) {
	wasFailing, start := g.started()
	// The store ends them without naming them: named first, they are kept
	// ended here too, as End keeps one (endHere).
	held, _ := g.store.List(ctx, userID)
	n, err := g.store.EndAll(ctx, userID, reason)
	_, _ = g.local.EndAll(ctx, userID, reason)
	if err != nil {
		return 0, g.failedCall(ctx, err)
	}
	for _, s := range held {
		g.local.rememberEnd(userID, s.ID, reason)
	}
	g.succeeded(wasFailing, start)
	return n, nil
}

// List implements Store. It has no fallback: this replica's table is not
// the user's sessions, and the admin API should say so with a 503.
func (g *Guard) List(ctx context.Context, userID string) ([]Session, error) {
	wasFailing, start := g.started()
	sessions, err := g.store.List(ctx, userID)
	if err != nil {
		return nil, g.failedCall(ctx, err)
	}
	g.succeeded(wasFailing, start)
	return sessions, nil
}

// Ping implements Store: the store's own answer, never the policy's, so that
// /readyz tells the truth. It also notes recovery while no player asks.
func (g *Guard) Ping(ctx context.Context) error {
	wasFailing, start := g.started()
	if err := g.store.Ping(ctx); err != nil {
		return g.failedCall(ctx, err)
	}
	g.succeeded(wasFailing, start)
	return nil
}

// Stats implements StatsReporter: the store's round trips, and the sessions
// and users of this replica's table.
func (g *Guard) Stats() Stats {
	s := g.local.Stats()
	if r, ok := g.store.(StatsReporter); ok {
		rs := r.Stats()
		s.StoreCalls, s.StoreErrors = rs.StoreCalls, rs.StoreErrors
	}
	return s
}

// TableBytes implements TableSizer: this replica's table.
func (g *Guard) TableBytes() int64 { return g.local.TableBytes() }

// TopUsers implements TopLister from this replica's table: the users holding
// the most sessions admitted through this replica, not across all replicas.
func (g *Guard) TopUsers(n int) []UserCount { return g.local.TopUsers(n) }

// TopShared implements TopLister from this replica's table: only the
// networks seen by this replica count, so a session used from two networks
// through two replicas is not ranked here.
func (g *Guard) TopShared(n int) []UserCount { return g.local.TopShared(n) }

// Close closes the store and the local table.
func (g *Guard) Close() error {
	g.log.close()
	return errors.Join(g.store.Close(), g.local.Close())
}

func unavailable(err error) error {
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

func (g *Guard) failedCall(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		g.failed(err)
	}
	return unavailable(err)
}

// started reads the state before a call; the clock is read only while failing.
func (g *Guard) started() (bool, int64) {
	if !g.failing.Load() {
		return false, 0
	}
	return true, g.clock().UnixNano()
}

func (g *Guard) failed(err error) {
	now := g.clock().UnixNano()
	g.lastFailure.Store(now)
	g.failedCalls.Add(1)
	if g.failing.Load() {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failing.Load() {
		return
	}
	g.failedCalls.Store(1)
	g.failing.Store(true)
	g.log.failing(err)
}

// succeeded notes a call that worked. A call that began while the store was
// failing, with no failure in the last recoverQuiet, ends the outage.
func (g *Guard) succeeded(wasFailing bool, start int64) {
	if !wasFailing || start-g.lastFailure.Load() < int64(recoverQuiet) {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.failing.Load() {
		return
	}
	g.failing.Store(false)
	g.log.recovered(g.failedCalls.Load())
}
