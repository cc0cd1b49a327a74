package limiter

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The backoff between failed connects to Redis: doubled per failure, with
// jitter so that replicas restarted together do not dial in step. 2 s bounds
// how long a Redis that came back waits for this replica's next attempt.
const (
	minDialBackoff = 50 * time.Millisecond
	maxDialBackoff = 2 * time.Second
)

// errDialBackoff is the error of a call made while the store waits before its
// next connect: the call fails at once, to the failure policy, and Redis
// sees no connect for it.
var errDialBackoff = errors.New("not connecting to redis: backing off after a failed connect")

// dialGate is the client's dialer. The client makes a new connection for the
// next call whenever one is missing, so while Redis is down every call would
// dial: connects would grow with traffic × replicas and hammer a Redis that
// is coming back. The gate lets one attempt through per backoff period and
// fails the others at once.
//
// A connect counts as failed when the TCP connect fails, or when the
// connection closes before Redis answered anything (a listener that accepts
// and drops, a Redis stuck before its handshake reply); it counts as working
// at Redis's first reply, which resets the backoff.
type dialGate struct {
	dial  func(context.Context, string, *net.Dialer, *tls.Config) (net.Conn, error)
	dials atomic.Uint64
	// onConnect is called when a new connection got Redis's first answer.
	onConnect func()
	// lastRead is when Redis last sent anything on any connection (monoNow).
	lastRead atomic.Int64

	mu    sync.Mutex
	delay time.Duration // 0 while connects work
	next  time.Time     // no connect before this
}

func newDialGate() *dialGate {
	return &dialGate{dial: plainDial}
}

// plainDial is the client's own way of dialing.
func plainDial(ctx context.Context, dst string, d *net.Dialer, cfg *tls.Config) (net.Conn, error) {
	if cfg != nil {
		td := tls.Dialer{NetDialer: d, Config: cfg}
		return td.DialContext(ctx, "tcp", dst)
	}
	return d.DialContext(ctx, "tcp", dst)
}

// DialCtx is the client's DialCtxFn.
func (g *dialGate) DialCtx(ctx context.Context, dst string, d *net.Dialer, cfg *tls.Config) (net.Conn, error) {
	if wait := g.wait(); wait > 0 && ctx.Value(probeKey{}) == nil {
		return nil, fmt.Errorf("%w (next attempt in %s)", errDialBackoff, wait.Round(time.Millisecond))
	}
	g.dials.Add(1)
	c, err := g.dial(ctx, dst, d, cfg)
	if err != nil {
		g.failed()
		return nil, err
	}
	pc := &probedConn{Conn: c, gate: g}
	// The client's handshake on a new connection waits up to the dial
	// timeout whatever the call's context says. When the call that dialed
	// meets its store deadline before Redis answered the handshake, end the
	// handshake too, so that a hung Redis costs that call the store timeout.
	pc.stop = context.AfterFunc(ctx, func() {
		if errors.Is(context.Cause(ctx), context.DeadlineExceeded) && pc.state.Load() == 0 {
			pc.cut.Store(true)
			_ = c.SetDeadline(time.Now())
		}
	})
	return pc, nil
}

// wait is the time left before the next connect may be made.
func (g *dialGate) wait() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.delay == 0 {
		return 0
	}
	return time.Until(g.next)
}

// failed starts or lengthens the backoff. Failures of connects made before
// the current backoff began (the client dials one per pipelined connection at
// once) do not lengthen it again.
func (g *dialGate) failed() {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	if g.delay != 0 && now.Before(g.next) {
		return
	}
	g.delay = min(max(2*g.delay, minDialBackoff), maxDialBackoff)
	// Equal jitter: between half and all of the delay.
	half := g.delay / 2
	g.next = now.Add(half + rand.N(half+1))
}

func (g *dialGate) succeeded() {
	g.mu.Lock()
	g.delay, g.next = 0, time.Time{}
	g.mu.Unlock()
}

// untilNext is how long the start-up connect loop waits before its next
// attempt: the backoff left, or the shortest backoff.
func (g *dialGate) untilNext() time.Duration {
	if w := g.wait(); w > 0 {
		return w
	}
	return minDialBackoff
}

// probedConn reports to its gate whether Redis answered on it.
type probedConn struct {
	net.Conn
	gate  *dialGate
	state atomic.Uint32 // 0 unknown, 1 answered, 2 closed unanswered
	stop  func() bool   // stops watching the dialing call's context
	// cut is set once the dialing call's deadline ended the handshake.
	cut atomic.Bool
}

// SetDeadline keeps the handshake ended once cut: the client sets its own
// deadline when the handshake starts, which would otherwise undo a cut that
// came first and let the handshake wait the whole dial timeout.
func (c *probedConn) SetDeadline(t time.Time) error {
	err := c.Conn.SetDeadline(t)
	if c.cut.Load() && c.state.Load() == 0 {
		_ = c.Conn.SetDeadline(time.Now())
	}
	return err
}

func (c *probedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n == 0 {
		return n, err
	}
	c.gate.lastRead.Store(monoNow())
	if c.state.Load() == 0 && c.state.CompareAndSwap(0, 1) {
		c.stop()
		c.gate.succeeded()
		if c.gate.onConnect != nil {
			c.gate.onConnect()
		}
	}
	return n, err
}

func (c *probedConn) Close() error {
	if c.state.CompareAndSwap(0, 2) {
		c.stop()
		c.gate.failed()
	}
	return c.Conn.Close()
}

// probeKey marks the context of a readiness probe (Ping), which may connect
// during the backoff: probes come a few times a minute, not with traffic,
// and they let /readyz see a returning Redis at once.
type probeKey struct{}

// isConnectError reports whether err is a connect that failed or was not
// made: retrying it at once would only dial again.
func isConnectError(err error) bool {
	var op *net.OpError
	return errors.Is(err, errDialBackoff) || (errors.As(err, &op) && op.Op == "dial")
}
