package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// headerWatch bounds the wait for an origin's response headers
// (-upstream-timeout) without a timer per request. Transport's
// ResponseHeaderTimeout starts a runtime timer for every round trip and
// stops it when the headers come; side by side on 2 KiB playlists that cost
// 0.8-2.5 µs of CPU per request with one processor and 3-4 µs with two
// (BenchmarkHeaderTimer), and four allocations.
//
// Instead every upstream connection notes when a request was last written
// to it, and when the origin's first bytes and the blank line that ends the
// headers came back; one scan per tick (a tenth of the timeout, at most a
// second) times out the connections that have waited too long. So the
// 504 comes between the timeout and a tick after it.
//
// A timed-out connection answers the Transport with a 504 of its own,
// marked with this process's token, which ModifyResponse turns into the
// header-timeout error: closing the connection instead would make the
// Transport retry a GET on a fresh one and wait the timeout again. If the
// origin had begun its headers, the connection fails with that error.
//
// It reads the connection's bytes, so it serves plain HTTP/1.1 dialed
// directly; an https or proxied origin keeps ResponseHeaderTimeout. GETs
// without a body to such an origin go over getTransport's connections
// instead, whose exchange is the request's own: a read deadline bounds it
// there. The watch keeps the rest: uploads, licence calls. What it
// reads is always an answer: Transport sends one request at a time on a
// connection, and the gate upgrades none to a tunnel (harden.go).
type headerWatch struct {
	timeout time.Duration
	tick    time.Duration
	// token marks the 504 a timed-out connection makes up, so that no
	// origin's own 504 is mistaken for it.
	token string
	// reply is the made-up 504, the same for every connection.
	reply []byte
	base  time.Time

	mu       sync.Mutex
	conns    map[*watchedConn]struct{}
	scanning bool
}

// headerTimeoutField is the header of the made-up 504 that carries the token.
const headerTimeoutField = "Streamgate-Header-Timeout"

func newHeaderWatch(timeout time.Duration) *headerWatch {
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	return &headerWatch{
		timeout: timeout,
		tick:    min(max(timeout/10, time.Millisecond), time.Second),
		token:   token,
		reply:   []byte("HTTP/1.1 504 Gateway Timeout\r\nConnection: close\r\nContent-Length: 0\r\n" + headerTimeoutField + ": " + token + "\r\n\r\n"),
		base:    time.Now(),
		conns:   map[*watchedConn]struct{}{},
	}
}

// errHeaderTimeout is the error of a request whose origin sent no response
// headers in time; it is a net.Error whose Timeout is true, as
// Transport's own is (isHeaderTimeout).
var errHeaderTimeout error = headerTimeoutError{}

type headerTimeoutError struct{}

func (headerTimeoutError) Error() string {
	return "proxy: the origin sent no response headers within -upstream-timeout"
}
func (headerTimeoutError) Timeout() bool   { return true }
func (headerTimeoutError) Temporary() bool { return false }

// timedOut reports whether resp is the 504 a timed-out connection made up.
func (hw *headerWatch) timedOut(resp *http.Response) bool {
	if resp.StatusCode != http.StatusGatewayTimeout {
		return false
	}
	v := resp.Header[headerTimeoutField]
	return len(v) == 1 && v[0] == hw.token
}

// dialer wraps dial so that the connections it makes are watched.
func (hw *headerWatch) dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		wc := &watchedConn{Conn: c, hw: hw}
		hw.mu.Lock()
		hw.conns[wc] = struct{}{}
		if !hw.scanning {
			hw.scanning = true
			time.AfterFunc(hw.tick, hw.scan)
		}
		hw.mu.Unlock()
		return wc, nil
	}
}

// now is the time since the watch began, never 0 or timedOutMark.
func (hw *headerWatch) now() int64 { return int64(time.Since(hw.base)) + 1 }

// scan times out the connections waiting longer than the timeout, and
// comes again in a tick while there are connections.
func (hw *headerWatch) scan() {
	now := hw.now()
	var late []*watchedConn
	hw.mu.Lock()
	for c := range hw.conns {
		if s := c.since.Load(); s > 0 && time.Duration(now-s) >= hw.timeout && c.since.CompareAndSwap(s, timedOutMark) {
			late = append(late, c)
		}
	}
	if hw.scanning = len(hw.conns) > 0; hw.scanning {
		time.AfterFunc(hw.tick, hw.scan)
	}
	hw.mu.Unlock()
	for _, c := range late {
		// Wakes the Transport's read of the connection, which then
		// sees the timeout.
		_ = c.Conn.SetReadDeadline(time.Unix(1, 0))
	}
}

// timedOutMark in watchedConn.since says the connection timed out.
const timedOutMark = -1

// answeredMark in watchedConn.since says the final answer's headers came:
// nothing is awaited until the next request begins. A write before then is
// the rest of a body the origin answered before reading it whole; arming
// the watch on it would time out the answer's body in flight.
const answeredMark = -2

// watchedConn is an upstream connection under a headerWatch.
type watchedConn struct {
	net.Conn
	hw *headerWatch
	// since is 0 or answeredMark while no answer is awaited, the watch's
	// time (now) when the request was last written while one is, and
	// timedOutMark after the wait timed out.
	since atomic.Int64

	// Read's own state, only ever touched by the Transport's one reader.
	// begun is set once the awaited answer's first bytes came, and final
	// if they began a status line that is not informational; crlf is how
	// much of a line end the last read ended in (newline, and carriage
	// return after it); replied is how much of the made-up 504 was read.
	begun   bool
	final   bool
	crlf    uint8
	replied int
}

// Write arms the watch: an answer is awaited from the request's last
// write on. It arms before writing, so that no answer can come back before
// it is awaited. Once the final answer's headers came, only a write that
// begins the next request arms it: the rest of an upload the origin
// answered early awaits nothing.
func (c *watchedConn) Write(p []byte) (int, error) {
	now := c.hw.now()
	for {
		s := c.since.Load()
		if s == timedOutMark || (s == answeredMark && !beginsRequest(p)) {
			break
		}
		if c.since.CompareAndSwap(s, now) {
			break
		}
	}
	return c.Conn.Write(p)
}

// beginsRequest reports whether p begins as a request line does: a method,
// a space, and a target ("/", "*" or an absolute URL). Transport begins
// every request's first write so; a body rarely does, and one that does
// arms the watch as every write once did.
func beginsRequest(p []byte) bool {
	i := bytes.IndexByte(p[:min(len(p), 32)], ' ')
	if i < 1 || i+1 == len(p) {
		return false
	}
	for _, b := range p[:i] {
		if b <= ' ' || b >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, b) >= 0 {
			return false
		}
	}
	return p[i+1] == '/' || p[i+1] == '*' || p[i+1] == 'h'
}

// finalStatus reports whether b begins the status line of an answer that is
// not informational (1xx), after which no other answer to the request
// comes. A status line cut before its code counts as informational, which
// keeps the watch armed by the writes that follow.
func finalStatus(b []byte) bool {
	return len(b) >= 10 && bytes.HasPrefix(b, []byte("HTTP/1.")) && b[9] >= '2' && b[9] <= '5'
}

// set stores since unless the connection timed out.
func (c *watchedConn) set(v int64) bool {
	for {
		s := c.since.Load()
		if s == timedOutMark {
			return false
		}
		if c.since.CompareAndSwap(s, v) {
			return true
		}
	}
}

// Read reads the connection, which returns at once when it timed out (the
// scan's read deadline), and then answers with the timeout.
func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	switch s := c.since.Load(); {
	case s == 0 || s == answeredMark: // a body, or an idle connection's read
		return n, err
	case s == timedOutMark:
		// What came once the wait had timed out is dropped: the
		// request is answered with the timeout.
		return c.readTimedOut(p)
	}
	if n > 0 {
		if !c.begun {
			c.begun, c.final = true, finalStatus(p[:n])
		}
		if c.headersEnded(p[:n]) {
			done := int64(0)
			if c.final {
				done = answeredMark
			}
			c.begun, c.crlf = false, 0
			if !c.set(done) {
				return c.readTimedOut(p)
			}
		}
	}
	return n, err
}

// headersEnded reports whether b holds the blank line that ends a
// response's headers, carrying a line end that b's end cut over to the
// next read. A blank line is "\n" or "\r\n" right after a line's "\n", as
// net/textproto reads them.
func (c *watchedConn) headersEnded(b []byte) bool {
	// A line end cut by the last read: "\n" or "\n\r" before b.
	switch {
	case c.crlf == 1 && (b[0] == '\n' || (b[0] == '\r' && len(b) > 1 && b[1] == '\n')):
		return true
	case c.crlf == 2 && b[0] == '\n':
		return true
	case c.crlf == 1 && b[0] == '\r' && len(b) == 1:
		c.crlf = 2
		return false
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			c.crlf = 0
			return false
		}
		i += j + 1
		switch {
		case i == len(b):
			c.crlf = 1
			return false
		case b[i] == '\n':
			return true
		case b[i] == '\r' && i+1 == len(b):
			c.crlf = 2
			return false
		case b[i] == '\r' && b[i+1] == '\n':
			return true
		}
	}
}

// readTimedOut answers the Transport with the made-up 504 if the origin
// had sent nothing of its answer, or else fails the read.
func (c *watchedConn) readTimedOut(p []byte) (int, error) {
	if c.begun {
		return 0, errHeaderTimeout
	}
	if c.replied == len(c.hw.reply) {
		return 0, io.EOF
	}
	n := copy(p, c.hw.reply[c.replied:])
	c.replied += n
	return n, nil
}

// Close ends the watch of the connection.
func (c *watchedConn) Close() error {
	c.hw.mu.Lock()
	delete(c.hw.conns, c)
	c.hw.mu.Unlock()
	return c.Conn.Close()
}
