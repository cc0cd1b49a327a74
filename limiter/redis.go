package limiter

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// The scripts are embedded so that they can be read, linted and run by
// redis-cli on their own.
var (
	//go:embed redis_lib.lua
	libSource string
	//go:embed redis_admit.lua
	admitSource string
	//go:embed redis_touch.lua
	touchSource string
	//go:embed redis_end.lua
	endSource string
	//go:embed redis_endall.lua
	endAllSource string
	//go:embed redis_list.lua
	listSource string
)

// DefaultStoreTimeout is the default deadline of one store call.
const DefaultStoreTimeout = 100 * time.Millisecond

// RedisOptions configures a Redis store.
type RedisOptions struct {
	// URL is redis://[user:pass@]host:port[/db] or rediss://… for TLS; more
	// seed addresses of a Redis Cluster go in addr= query parameters. It is
	// parsed by the client's own parser (rueidis.ParseURL), so its other
	// parameters (dial_timeout, skip_verify, client_name…) work too. Required.
	URL string
	// TTL is the heartbeat timeout: a session silent for TTL has expired. Required.
	TTL time.Duration
	// Timeout is the deadline of one store call. Default DefaultStoreTimeout.
	Timeout time.Duration
	// RefreshInterval: a session this replica refreshed in Redis less than
	// this ago is admitted without a round trip, and renewed ahead in the
	// flusher's batches while it plays (redis_flush.go). 0 always asks Redis.
	// It must be less than TTL/2, so that a session cached here never
	// expires in Redis.
	RefreshInterval time.Duration
	// MaxUsers bounds the refresh cache (users). Default DefaultMaxUsers.
	MaxUsers int
	// Clock times the refresh cache only; session times come from Redis's
	// clock. Default: the monotonic clock.
	Clock Clock
	// Logger tells when the first connection could not be made. Default: none.
	Logger *slog.Logger
	// Rules are the session rules: leases, the policy over the limit,
	// tombstones, shadow mode. Every replica sharing a Redis must have the same.
	Rules Rules
}

// Redis is the store that replicas share: one Redis hash per user, every
// decision one Lua script run by its SHA (rueidis falls back to EVAL, which
// reloads it, on NOSCRIPT), timed by Redis's clock. Keys expire with their
// newest session, so Redis never fills with dead users. Every call has a
// deadline; a failed call returns an error wrapping ErrUnavailable, and Guard
// turns it into the failure policy's decision.
type Redis struct {
	ttl       time.Duration
	ttlMicros string
	rules     Rules
	// leaseMicros, keepMicros and policy are the Rules as script arguments.
	leaseMicros, keepMicros, policy, windowMicros string
	// offset estimates Redis's clock, so that an admission's deadline is
	// given to the script in Redis's time.
	offset    clockOffset
	flushDone chan struct{}
	timeout   time.Duration
	logger    *slog.Logger
	clientOpt rueidis.ClientOption
	client    atomic.Pointer[rueidis.Client]
	gate      *dialGate
	cache     *refreshCache
	reseed    *reseeder

	admitScript, endScript, endAllScript, listScript *rueidis.Lua

	// calls counts every round trip and every script of a batch; batched
	// counts the scripts of the flusher's batches, which are on no request's
	// path.
	calls, errs, batched atomic.Uint64
	// flushMu makes batches one at a time.
	flushMu sync.Mutex

	stop       chan struct{}
	done       chan struct{}
	reseedDone chan struct{}
	closeOnce  sync.Once
}

var (
	_ Store         = (*Redis)(nil)
	_ StatsReporter = (*Redis)(nil)
)

// ParseRedisURL checks a -store URL with the client's own parser.
func ParseRedisURL(url string) error {
	_, err := rueidis.ParseURL(url)
	return err
}

// NewRedis returns a Redis store. When Redis cannot be reached yet it still
// returns the store, whose calls fail with ErrUnavailable while it keeps
// trying to connect in the background; a bad URL is an error. Close releases
// the connections and goroutines.
func NewRedis(opts RedisOptions) (*Redis, error) {
	if opts.TTL < time.Millisecond {
		return nil, errors.New("redis store: TTL must be at least 1ms")
	}
	if opts.RefreshInterval < 0 || 2*opts.RefreshInterval >= opts.TTL {
		return nil, errors.New("redis store: RefreshInterval must be at least 0 and less than TTL/2")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultStoreTimeout
	}
	if opts.MaxUsers == 0 {
		opts.MaxUsers = DefaultMaxUsers
	}
	if opts.MaxUsers < 0 {
		return nil, errors.New("redis store: MaxUsers must be positive")
	}
	if opts.Clock == nil {
		opts.Clock = monotonicClock()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	copt, err := rueidis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("redis store: %w", err)
	}
	// No client-side caching: streamgate never reads a key twice, and tracking
	// would cost Redis memory and need RESP3.
	copt.DisableCache = true
	if copt.Dialer.Timeout == 0 {
		copt.Dialer.Timeout = max(opts.Timeout, time.Second)
	}
	if copt.ClientName == "" {
		copt.ClientName = "streamgate"
	}
	// Connects back off while they fail (redis_dial.go).
	gate := newDialGate()
	copt.DialCtxFn = gate.DialCtx
	// A connection broken while idle (Redis restarted) is only found out by
	// the next call on it: retry such a call at once, within the same
	// deadline, until it meets a fresh connection. Retries with a delay
	// would only make the callers of a Redis that is down wait for the deadline.
	copt.RetryDelay = retryAtOnce
	// Under concurrent calls, let the client's writer wait up to flushDelay
	// after each write so that the next calls share one write syscall. The
	// client never waits for a lone caller, so an idle gate pays nothing.
	if copt.MaxFlushDelay == 0 {
		copt.MaxFlushDelay = flushDelay
	}
	// The client's default buffers, half a MiB each way per connection, are
	// sized for bulk pipelines; streamgate's calls and replies are a few
	// hundred bytes, a renewal batch a few KiB. Held for the process's life,
	// they are live heap that GOGC multiplies, on each of up to four
	// connections.
	copt.ReadBufferEachConn, copt.WriteBufferEachConn = connBuffer, connBuffer
	rules := opts.Rules.withDefaults()
	r := &Redis{
		ttl:          opts.TTL,
		ttlMicros:    strconv.FormatInt(opts.TTL.Microseconds(), 10),
		rules:        rules,
		leaseMicros:  strconv.FormatInt(rules.MaxLease.Microseconds(), 10),
		keepMicros:   strconv.FormatInt(rules.TombstoneTTL.Microseconds(), 10),
		policy:       scriptPolicy(rules),
		windowMicros: strconv.FormatInt(rules.SharedWindow.Microseconds(), 10),
		offset:       clockOffset{clock: monotonicClock()},
		flushDone:    make(chan struct{}),
		timeout:      opts.Timeout,
		logger:       opts.Logger,
		clientOpt:    copt,
		gate:         gate,
		// Every script may run twice when a reply is lost: admitting twice
		// refreshes what the first run started, listing reads, and ending
		// twice only reports "was not active" the second time.
		// A replayed touch (redis_flush.go) only repeats a max().
		admitScript:  rueidis.NewLuaScriptRetryable(libSource + admitSource),
		endScript:    rueidis.NewLuaScriptRetryable(libSource + endSource),
		endAllScript: rueidis.NewLuaScriptRetryable(libSource + endAllSource),
		listScript:   rueidis.NewLuaScriptRetryable(listSource),
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
	}
	r.reseed = newReseeder(r)
	gate.onConnect = r.reseed.suspect
	tick := max(opts.RefreshInterval/flushTicks, time.Millisecond)
	if opts.RefreshInterval > 0 {
		if r.cache, err = newRefreshCache(int64(opts.RefreshInterval), int64(tick), opts.MaxUsers, opts.Clock); err != nil {
			return nil, fmt.Errorf("redis store: %w", err)
		}
	}
	if r.cache != nil {
		go r.flushEvery(tick)
	} else {
		close(r.flushDone)
	}
	if err := r.connect(); err != nil {
		r.logger.Warn("redis not reachable yet; retrying in the background", "err", err)
		go r.connectLoop()
	} else {
		close(r.done)
	}
	r.reseedDone = make(chan struct{})
	go func() {
		defer close(r.reseedDone)
		r.reseed.loop(r.stop)
	}()
	return r, nil
}

// flushTicks is how many times per RefreshInterval the flusher looks for
// sessions to renew. A playing session is renewed on the tick grid, every
// interval less one tick: the more ticks, the fewer renewals (7 for every 8
// intervals here), for a scan of the sessions answered from the cache each tick.
const flushTicks = 8

// flushDelay is the client's MaxFlushDelay. With 64 concurrent callers on
// one CPU it cut the client's system time per call to a third and raised
// decisions/s by about 30% (BenchmarkRedisDecisions -cpu 1); beyond 50 µs
// nothing more was gained.
const flushDelay = 50 * time.Microsecond

// connBuffer is the client's read and write buffer per connection: a write
// or a reply longer than it passes through in parts, as bufio does.
const connBuffer = 64 << 10

// immediateRetries is one retry per pipelined connection: rueidis opens up
// to four per Redis node and spreads calls over them, so a call may meet
// every stale one in turn.
const immediateRetries = 4

// retryAtOnce is the client's RetryDelayFn: a few immediate retries of a
// call that met a broken connection, then none. A failed connect is not
// retried: the next attempt waits for the dial backoff.
func retryAtOnce(attempts int, _ rueidis.Completed, err error) time.Duration {
	if attempts <= immediateRetries && !isConnectError(err) {
		return 0
	}
	return -1
}

// connect makes the client. Once made, the client reconnects by itself.
func (r *Redis) connect() error {
	c, err := rueidis.NewClient(r.clientOpt)
	if err != nil {
		return err
	}
	r.client.Store(&c)
	return nil
}

func (r *Redis) connectLoop() {
	defer close(r.done)
	t := time.NewTimer(r.gate.untilNext())
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		if err := r.connect(); err == nil {
			r.logger.Info("connected to redis")
			return
		}
		t.Reset(r.gate.untilNext())
	}
}

var errNotConnected = errors.New("not connected to redis yet")

// call makes one round trip with the store's deadline and counts it. An
// error wraps ErrUnavailable; it is counted as a store error unless the
// caller gave up first (a player hanging up is not Redis failing).
func (r *Redis) call(ctx context.Context, do func(context.Context, rueidis.Client) rueidis.RedisResult) (rueidis.RedisMessage, error) {
	r.calls.Add(1)
	msg, err := r.roundTrip(ctx, do)
	if err != nil && ctx.Err() == nil {
		r.errs.Add(1)
	}
	return msg, err
}

// roundTrip is call without the counting: the marker checks of
// redis_reseed.go are not calls of the gate's.
func (r *Redis) roundTrip(ctx context.Context, do func(context.Context, rueidis.Client) rueidis.RedisResult) (rueidis.RedisMessage, error) {
	c := r.client.Load()
	if c == nil {
		return rueidis.RedisMessage{}, fmt.Errorf("%w: %w", ErrUnavailable, errNotConnected)
	}
	cctx, release := r.withDeadline(ctx)
	msg, err := do(cctx, *c).ToMessage()
	err = callError(cctx, err)
	release()
	if err != nil {
		return msg, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return msg, nil
}

func (r *Redis) script(ctx context.Context, s *rueidis.Lua, userID string, args ...string) (rueidis.RedisMessage, error) {
	return r.call(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		return s.Exec(ctx, c, []string{redisKey(userID)}, args)
	})
}

// Admit implements Store: from the refresh cache when this replica refreshed
// the session less than RefreshInterval ago, else one script run. A decision
// other than a refresh taken while a new connection was made is taken again
// once Redis is known not to have lost its sessions (redis_reseed.go).
func (r *Redis) Admit(ctx context.Context, req Request) (Decision, error) {
	gen, losses, marker := r.reseed.gen.Load(), r.reseed.losses.Load(), r.reseed.seen.Load()
	d, err := r.admit(ctx, req)
	if err == nil && d.Result != Refreshed && r.reseed.gen.Load() != gen {
		if err := r.reseed.ready(ctx, req.UserID); err != nil {
			return Decision{}, fmt.Errorf("admitting session: %w", err)
		}
		if r.reseed.losses.Load() != losses {
			return r.redecide(ctx, req, d)
		}
	}
	if err == nil && d.Result == Started {
		d, err = r.inGrace(ctx, req, d)
		// Redis may have lost its sessions before it started this one
		// (redis_window.go): once the check says, it is decided again.
		if err == nil && r.reseed.noteStart(ctx, req, marker) {
			if err := r.reseed.ready(ctx, req.UserID); err != nil {
				return Decision{}, fmt.Errorf("admitting session: %w", err)
			}
			if r.reseed.losses.Load() != losses {
				return r.redecide(ctx, req, d)
			}
		}
	}
	return d, err
}

func (r *Redis) admit(ctx context.Context, req Request) (Decision, error) {
	limit := max(req.Limit, 1)
	var (
		at   int64
		left [numTracks]int64
	)
	// Under network binding the cache knows a session per network, as Redis
	// names its records.
	cacheReq := &req
	if r.rules.BindNetwork && req.Network != 0 {
		bound := req
		bound.SessionID = boundField(req.SessionID, req.Network)
		cacheReq = &bound
	}
	if r.cache != nil {
		d, ok, carried := r.cache.lookup(cacheReq, limit)
		if ok {
			return d, nil
		}
		at, left = r.cache.now(), carried
	}
	if err := r.reseed.ready(ctx, req.UserID); err != nil {
		return Decision{}, fmt.Errorf("admitting session: %w", err)
	}
	// During the re-seed grace Redis may undercount, so a session it would
	// start goes to the failure policy (inGrace); but its rejection is
	// sound, as Redis already holds that many sessions, so it is asked. Not
	// under evict-oldest: a start there also replaces a session.
	if r.policy == "evict" && r.reseed.unknownInGrace(ctx, req) {
		return Decision{}, fmt.Errorf("admitting session: %w: redis is being re-seeded after losing its sessions", ErrUnavailable)
	}
	noMedia := "0"
	if req.NoMedia {
		noMedia = "1"
	}
	network, bind := "", "0"
	if req.Network != 0 {
		network = req.Network.String()
	}
	if r.rules.BindNetwork {
		bind = "1"
	}
	var (
		d   Decision
		ad  admitted
		msg rueidis.RedisMessage
		err error
	)
	// The script refuses to write past -store-timeout from now, for a caller
	// that gave up at it (a silent Redis). A caller whose Redis kept answering
	// waits on (redis_calldeadline.go): a refusal it reads means it has not
	// given up, so it asks again with a fresh deadline, up to the hard one,
	// rather than handing a healthy Redis's decision to the failure policy.
	hard := monoNow() + int64(max(hardDeadlineFactor*r.timeout, minHardDeadline))
	if r.cache != nil {
		at = r.cache.now() // after any wait above: the call is made now
	}
	for {
		deadline := r.deadline(ctx)
		args := []string{req.SessionID, strconv.Itoa(limit), r.ttlMicros,
			encodeDevice(req.Device), r.leaseMicros, noMedia, r.policy, strconv.Itoa(req.track()),
			micros(req.Media), micros(req.Buffer), micros(req.SegmentHint), strconv.FormatInt(deadline, 10), r.keepMicros,
			nanosAsMicros(left[0]), nanosAsMicros(left[1]), nanosAsMicros(left[2]), network, bind, r.windowMicros,
			micros(req.FallbackMedia), micros(req.MinMedia)}
		msg, err = r.call(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
			return r.admitScript.Exec(ctx, c, []string{redisKey(req.UserID), heldKey(req.UserID, req.SessionID)}, args)
		})
		if err != nil {
			return Decision{}, fmt.Errorf("admitting session: %w", err)
		}
		d, ad, err = r.decision(msg, limit)
		if !errors.Is(err, errPastDeadline) || ctx.Err() != nil || monoNow()+int64(r.timeout) > hard {
			break
		}
	}
	if err != nil {
		r.errs.Add(1)
		return Decision{}, fmt.Errorf("admitting session: %w: %w", ErrUnavailable, err)
	}
	if r.cache != nil {
		if d.Evicted != "" {
			r.cache.forget(req.UserID, d.Evicted)
		}
		if d.Admitted() {
			r.cache.record(req.UserID, cacheReq.SessionID, req.Network, d.Active, at, ad)
		}
	}
	return d, nil
}

// End implements Store.
func (r *Redis) End(ctx context.Context, userID, sessionID string, reason EndReason) (bool, error) {
	n, err := r.end(ctx, userID, sessionID, reason)
	return n > 0, err
}

// playerStop implements stopper.
func (r *Redis) playerStop(ctx context.Context, userID, sessionID string) (held, kept bool, err error) {
	n, err := r.end(ctx, userID, sessionID, StoppedByPlayer)
	return n > 0, n == 2, err
}

// end runs the end script: 0 when the session was not active, 1 when it
// ended, 2 when a player's stop keeps it for its media.
func (r *Redis) end(ctx context.Context, userID, sessionID string, reason EndReason) (int64, error) {
	var left [numTracks]int64
	if r.cache != nil {
		left = r.cache.forget(userID, sessionID)
	}
	// The cache's media end, in Redis's time: a time from now would be
	// read when the script runs, a round trip later, and reach past it.
	carried := [numTracks]string{"0", "0", "0"}
	now := r.offset.clock().UnixNano()
	for t, l := range left {
		if at, ok := r.offset.redisTime(now + l); l > 0 && ok {
			carried[t] = strconv.FormatInt(at, 10)
		}
	}
	stop := "0"
	if reason == StoppedByPlayer {
		stop = "1"
	}
	msg, err := r.call(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		return r.endScript.Exec(ctx, c, []string{redisKey(userID), stopKey(userID), heldKey(userID, sessionID)},
			[]string{sessionID, r.ttlMicros, reasonCode(reason), r.keepMicros, stop, r.leaseMicros,
				carried[0], carried[1], carried[2]})
	})
	if r.cache != nil {
		// Again: an admission of the session that ran while the script
		// was on its way may have cached it anew.
		r.cache.forget(userID, sessionID)
	}
	if err != nil {
		return 0, fmt.Errorf("ending session: %w", err)
	}
	n, err := msg.AsInt64()
	if err != nil {
		return 0, fmt.Errorf("ending session: %w", err)
	}
	return n, nil
}

// EndAll implements Store.
func (r *Redis) EndAll(ctx context.Context, userID string, reason EndReason) (int, error) {
	if r.cache != nil {
		r.cache.forgetUser(userID)
	}
	msg, err := r.script(ctx, r.endAllScript, userID, r.ttlMicros, reasonCode(reason), r.keepMicros)
	if r.cache != nil {
		r.cache.forgetUser(userID) // again, as End does
	}
	if err != nil {
		return 0, fmt.Errorf("ending sessions: %w", err)
	}
	n, err := msg.AsInt64()
	if err != nil {
		return 0, fmt.Errorf("ending sessions: %w", err)
	}
	return int(n), nil
}

// List implements Store.
func (r *Redis) List(ctx context.Context, userID string) ([]Session, error) {
	msg, err := r.script(ctx, r.listScript, userID)
	if err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	reply, err := msg.ToArray()
	if err != nil || len(reply) < 1 {
		return nil, fmt.Errorf("listing sessions: unexpected reply %v", msg)
	}
	now, err := reply[0].AsInt64()
	if err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	pairs, err := replyStrings(reply[1:])
	if err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	sessions, _, err := sessionsFrom(pairs, now, r.ttl)
	if err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	return sessions, nil
}

// Ping implements Store: one PING, with the store's deadline. It may
// connect during the dial backoff.
func (r *Redis) Ping(ctx context.Context) error {
	_, err := r.call(context.WithValue(ctx, probeKey{}, true), func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		return c.Do(ctx, c.B().Ping().Build())
	})
	if err != nil {
		return fmt.Errorf("pinging redis: %w", err)
	}
	return nil
}

// Stats implements StatsReporter: the round trips and their failures. The
// session gauges come from Guard's local table.
func (r *Redis) Stats() Stats {
	return Stats{StoreCalls: r.calls.Load(), StoreErrors: r.errs.Load()}
}

// Close stops connecting and closes the client. Calls after Close fail.
func (r *Redis) Close() error {
	r.closeOnce.Do(func() {
		close(r.stop)
		<-r.done
		<-r.flushDone
		<-r.reseedDone
		if c := r.client.Load(); c != nil {
			(*c).Close()
		}
	})
	return nil
}

func replyStrings(msgs []rueidis.RedisMessage) ([]string, error) {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		s, err := m.ToString()
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}
