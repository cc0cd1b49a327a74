package proxy

import (
	"errors"
	"io"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy/identity"
)

// errSessionGone cuts a response whose session may no longer play: its
// re-admission was refused (it expired during a stall and its slot was
// taken, or it was ended).
var errSessionGone = errors.New("session no longer admitted")

// hold wraps an admitted request's writer so that its session stays active
// while the response body flows: a download longer than the TTL keeps its
// slot, and cannot let a fourth stream in. It checks the time at each write,
// not from a goroutine of its own: a body that stalls longer than the TTL
// lets its session expire, as a silent player does. It also bounds how long
// the request's body may send nothing.
func (g *gate) hold(w http.ResponseWriter, r *http.Request, id identity.Identity, client netip.Addr) http.ResponseWriter {
	if r.Body != nil && r.Body != http.NoBody && g.hard.BodyIdle > 0 {
		r.Body = &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: g.hard.BodyIdle}
	}
	if g.hard.HoldEvery <= 0 || id.SessionID == "" {
		return w
	}
	limit := g.Limit
	if id.Limit > 0 {
		limit = id.Limit
	}
	h := holdWriters.Get().(*holdWriter)
	*h = holdWriter{ResponseWriter: w, g: g, r: r, user: id.UserID, session: id.SessionID, limit: limit,
		network: limiter.NetworkOf(client)}
	return h
}

// holdWriters are reused: one is taken for every admitted request, and
// given back when its handler has returned (release).
var holdWriters = sync.Pool{New: func() any { return new(holdWriter) }}

// release gives back the writers hold and learnHint made. The handler has
// returned: nothing writes to them any more.
func release(w http.ResponseWriter) {
	if h, ok := w.(*hintWriter); ok {
		w = h.finish()
	}
	if h, ok := w.(*holdWriter); ok {
		*h = holdWriter{}
		holdWriters.Put(h)
	}
}

// holdWriter is kept small: it is allocated for every admitted request.
type holdWriter struct {
	http.ResponseWriter
	g             *gate
	r             *http.Request
	user, session string
	limit         int
	network       limiter.Network
	next          time.Duration // since epoch: when the next write re-admits; 0 before the first
}

// Write re-admits the session when HoldEvery has passed since the last time.
func (h *holdWriter) Write(b []byte) (int, error) {
	if !h.pace() {
		return 0, errSessionGone
	}
	return h.ResponseWriter.Write(b)
}

// ReadFrom passes a spliced body on (splice.go), re-admitting the session
// every HoldEvery while bytes flow, as Write does between writes. A splice
// does not come back between reads, so the origin's socket is given a read
// deadline at each re-admission's time: the splice returns there, and goes
// on after it. An interval in which nothing came re-admits nothing, so that
// a body that stalls longer than the TTL still lets its session expire.
func (h *holdWriter) ReadFrom(src io.Reader) (int64, error) {
	lr, ok := src.(*io.LimitedReader)
	var conn interface{ SetReadDeadline(time.Time) error }
	if ok {
		conn, ok = lr.R.(interface{ SetReadDeadline(time.Time) error })
	}
	if !ok {
		return readFrom(writerOnly{h}, src)
	}
	ctx := h.r.Context()
	var sent int64
	for flowed := true; lr.N > 0; {
		if flowed && !h.pace() {
			return sent, errSessionGone
		}
		_ = conn.SetReadDeadline(time.Now().Add(h.g.hard.HoldEvery))
		if err := ctx.Err(); err != nil {
			// The player left, maybe before the deadline above replaced
			// the one that was to wake this read (getTransport.exchange).
			return sent, err
		}
		n, err := readFrom(h.ResponseWriter, lr)
		sent += n
		flowed = n > 0
		switch {
		case err == nil && lr.N > 0:
			return sent, nil // the source ended early
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil:
			// HoldEvery passed: the next turn re-admits if bytes flowed.
		default:
			return sent, err
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	return sent, nil
}

// pace re-admits the session when HoldEvery has passed since the last time,
// and reports whether the response may go on.
func (h *holdWriter) pace() bool {
	if now := time.Since(epoch); h.next == 0 {
		// The admission was just now: count from the first write, which
		// spares a clock read for the many answers that are not long.
		h.next = now + h.g.hard.HoldEvery
	} else if now >= h.next {
		h.next = now + h.g.hard.HoldEvery
		return h.readmit()
	}
	return true
}

// readmit refreshes the session as a heartbeat would. A store that fails is
// not the player's fault: the body flows on.
func (h *holdWriter) readmit() bool {
	d, err := h.g.Store.Admit(h.r.Context(), limiter.Request{
		UserID: h.user, SessionID: h.session, Limit: h.limit,
		Device:  limiter.Device{UserAgent: firstHeader(h.r.Header, "User-Agent"), Address: h.r.RemoteAddr},
		Network: h.network,
		// A heartbeat: the body's bytes are the media its request was
		// admitted for, not more of it.
		NoMedia: true,
	})
	if err != nil {
		return true
	}
	if !d.Admitted() {
		// Refused (expired during a stall and its slot taken), or ended by
		// the operator or replaced under evict-oldest: the session may not
		// play, and its body would be a stream over the limit.
		h.g.Logger.Debug("response cut: its session was not re-admitted", "result", d.Result.String(), "active", d.Active, "limit", d.Limit)
		return false
	}
	return true
}

// Unwrap gives http.ResponseController, and so the proxy's flushes, the
// writer underneath.
func (h *holdWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// idleBody is a request body that ends its request when no byte arrives for
// idle: each read pushes the connection's read deadline on.
type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		// The body is done: the connection's next read (the server's
		// watch for a hang-up, the next request) has deadlines of its own.
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
