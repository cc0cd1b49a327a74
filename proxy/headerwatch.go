package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamgate/streamgate/proxy/identity"
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
	// at is how many bytes of the awaited answer came, counted up to its
	// status code's first digit, and class that digit once it came; crlf
	// is how much of a line end the last read ended in (newline, and
	// carriage return after it); replied is how much of the made-up 504
	// was read.
	at      uint8
	class   byte
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

// beginsRequest reports whether p begins with a whole request line as
// Transport writes one to an origin dialed directly: a method, a space, a
// target in origin form ("/...") or "*", and " HTTP/1.1" at the line's end.
// Transport's first write of a request holds that line whole: its buffer
// is empty then, and takes the line whole or lets it through at once. An
// upload's bytes, cut where the player's reads happened to end, rarely
// hold one.
func beginsRequest(p []byte) bool {
	line, _, ok := bytes.Cut(p, []byte{'\n'})
	if !ok {
		return false
	}
	method, target, ok := bytes.Cut(line, []byte{' '})
	if !ok || !identity.IsToken(string(method)) || len(target) == 0 || (target[0] != '/' && target[0] != '*') {
		return false
	}
	return bytes.HasSuffix(target, []byte(" HTTP/1.1\r"))
}

// statusClassAt is where an answer's status code begins ("HTTP/1.1 200"):
// its first digit says whether the answer is informational.
const statusClassAt = len("HTTP/1.1 ")

// noteStatus counts b, the next bytes of the awaited answer, up to its
// status code's first digit, and keeps that digit.
func (c *watchedConn) noteStatus(b []byte) {
	if int(c.at) > statusClassAt {
		return
	}
	k := min(len(b), statusClassAt+1-int(c.at))
	if int(c.at)+k == statusClassAt+1 {
		c.class = b[k-1]
	}
	c.at += uint8(k)
}

// final reports whether the answer whose headers ended is not
// informational (1xx), after which no other answer to the request comes.
// A status line too short to have a code counts as informational, which
// keeps the watch armed.
func (c *watchedConn) final() bool { return c.class >= '2' && c.class <= '5' }

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
	for b := p[:n]; len(b) > 0; {
		c.noteStatus(b)
		end := c.headersEnd(b)
		if end < 0 {
			break
		}
		final := c.final()
		c.at, c.class, c.crlf = 0, 0, 0
		if final {
			if !c.set(answeredMark) {
				return c.readTimedOut(p)
			}
			break // what follows is the answer's body
		}
		// An informational answer (100 Continue, 103 Early Hints) is not
		// the answer: the watch waits on for the final one, which may
		// begin in this same read.
		b = b[end:]
	}
	return n, err
}

// headersEnd returns where in b the blank line that ends an answer's
// headers ends, or -1 if b holds none, carrying a line end that b's end cut
// over to the next read. A blank line is "\n" or "\r\n" right after a
// line's "\n", as net/textproto reads them.
func (c *watchedConn) headersEnd(b []byte) int {
	// A line end cut by the last read: "\n" or "\n\r" before b.
	switch {
	case c.crlf == 1 && b[0] == '\n', c.crlf == 2 && b[0] == '\n':
		return 1
	case c.crlf == 1 && b[0] == '\r' && len(b) > 1 && b[1] == '\n':
		return 2
	case c.crlf == 1 && b[0] == '\r' && len(b) == 1:
		c.crlf = 2
		return -1
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			c.crlf = 0
			return -1
		}
		i += j + 1
		switch {
		case i == len(b):
			c.crlf = 1
			return -1
		case b[i] == '\n':
			return i + 1
		case b[i] == '\r' && i+1 == len(b):
			c.crlf = 2
			return -1
		case b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		}
	}
}

// readTimedOut answers the Transport with the made-up 504 if the origin
// had sent nothing of its answer, or else fails the read.
func (c *watchedConn) readTimedOut(p []byte) (int, error) {
	if c.at > 0 {
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
