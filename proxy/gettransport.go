package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/streamgate/streamgate/proxy/identity"
)

// getTransport carries the GET requests without a body to a plain-HTTP
// origin dialed directly, on keep-alive connections of its own, so that a
// large body can go from the origin's socket to the player's without
// crossing user space (spliceBody). http.Transport keeps everything else:
// other methods, request bodies, upgrades, and origins behind TLS or a
// proxy, which it is given as fallback.
//
// An exchange runs in the handler's goroutine, where Transport hands it to
// two more per connection and back (side by side on 2 KiB playlists that
// cost 10-11 µs of the whole process's CPU and 10-11 allocations per
// request, BenchmarkGetTransport): the request is written, the answer's headers are
// read under -upstream-timeout (a read deadline: the connection is this
// request's alone), and the body is read by whoever copies it. A
// connection goes back to the pool only once its answer was read whole. A
// kept connection the origin closed meanwhile fails before any byte of an
// answer comes back; the request is then sent once more on a new one, as
// Transport does for a request that is safe to repeat.
type getTransport struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// host is the origin's, as requests to it name it; addr is what is
	// dialed, with its port.
	host, addr    string
	headerTimeout time.Duration
	fallback      http.RoundTripper

	mu   sync.Mutex
	idle []*originConn // the most recently used last
}

const (
	// maxIdleOriginConns and originIdleTimeout are Transport's
	// MaxIdleConnsPerHost and IdleConnTimeout (newTransport).
	maxIdleOriginConns = 256
	originIdleTimeout  = 90 * time.Second
	// max1xx bounds the informational answers before the final one, as
	// Transport does.
	max1xx = 5
)

// originConn is a connection of getTransport's pool.
type originConn struct {
	nc net.Conn
	br *bufio.Reader
	bw *bufio.Writer
	// read counts what came back since the exchange began: a failure
	// before any byte of an answer is one the request may be sent again
	// after.
	read int64
	// most is, while the answer's headers are read, the most one read
	// takes from the socket (mediaHeadRead, or unbounded for a manifest);
	// 0 once they were. Those reads stop at maxOriginHeaderBytes in all, so
	// that an origin sending headers without end fails the request instead
	// of filling the gate's memory (http.ReadResponse has no bound of its own).
	most      int
	idleSince time.Time
}

// mediaHeadRead caps each read of a media answer's headers, so that the
// bytes of the body read along with them fit net/http's 2 KiB response
// buffer: the player then gets the headers and those bytes in one write,
// and the rest is spliced, where a 16 KiB read left 16 KiB to copy in and
// write out on their own first. Manifests are read whole, a playlist with
// its headers in one read.
const mediaHeadRead = 2 << 10

// originReadBuffer is each origin connection's read buffer, as
// http.Transport's: a live playlist and its headers come in one read, and
// a larger answer's body is read past it straight into the copy's 32 KiB
// buffer (bufio reads into a buffer as large as its own directly). Every
// connection, idle ones too, holds it for as long as it lives: at 16 KiB
// the buffers were a tenth of the live heap under the benchmark, which at
// GOGC=200 holds three times its live size.
const originReadBuffer = 4 << 10

// maxOriginHeaderBytes is Transport's default MaxResponseHeaderBytes, which
// bounds the same read on the fallback's requests.
const maxOriginHeaderBytes = 10 << 20

// errOriginHeadersTooLarge says what Transport says of such an answer.
var errOriginHeadersTooLarge = fmt.Errorf("proxy: the origin's response headers exceeded %d bytes; aborted", maxOriginHeaderBytes)

func (c *originConn) Read(p []byte) (int, error) {
	if c.most > 0 {
		left := maxOriginHeaderBytes - c.read
		if left <= 0 {
			return 0, errOriginHeadersTooLarge
		}
		p = p[:min(int64(len(p)), int64(c.most), left)]
	}
	n, err := c.nc.Read(p)
	c.read += int64(n)
	return n, err
}

func newGetTransport(dial func(ctx context.Context, network, addr string) (net.Conn, error), target *url.URL, headerTimeout time.Duration, fallback http.RoundTripper) *getTransport {
	addr := target.Host
	if target.Port() == "" {
		addr = net.JoinHostPort(target.Hostname(), "80")
	}
	return &getTransport{dial: dial, host: target.Host, addr: addr, headerTimeout: headerTimeout, fallback: fallback}
}

// RoundTrip sends req and returns the origin's answer, whose body hands the
// connection back to the pool once read whole (or closes it when closed
// before).
func (t *getTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isPlainGet(req) || (req.Body != nil && req.Body != http.NoBody) || req.URL.Scheme != "http" ||
		req.URL.Host != t.host || req.Close {
		return t.fallback.RoundTrip(req)
	}
	for retried := false; ; retried = true {
		c, reused, err := t.conn(req.Context())
		if err != nil {
			return nil, err
		}
		resp, err := t.exchange(c, req)
		if err == nil {
			return resp, nil
		}
		_ = c.nc.Close()
		if !reused || retried || c.read > 0 || req.Context().Err() != nil || !closedMeanwhile(err) {
			return nil, err
		}
	}
}

// closedMeanwhile reports whether err is how a kept connection the origin
// had closed fails.
func closedMeanwhile(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// conn takes the most recently used idle connection that is still fit,
// or dials one.
func (t *getTransport) conn(ctx context.Context) (*originConn, bool, error) {
	for c := t.lastIdle(); c != nil; c = t.lastIdle() {
		if stillIdle(c.nc) {
			return c, true, nil
		}
		_ = c.nc.Close()
	}
	nc, err := t.dial(ctx, "tcp", t.addr)
	if err != nil {
		return nil, false, err
	}
	c := &originConn{nc: nc, bw: bufio.NewWriterSize(nc, 4<<10)}
	c.br = bufio.NewReaderSize(c, originReadBuffer)
	return c, false, nil
}

// lastIdle takes the most recently used idle connection, nil when there
// is none that has been idle less than originIdleTimeout.
func (t *getTransport) lastIdle() *originConn {
	t.mu.Lock()
	n := len(t.idle)
	if n == 0 {
		t.mu.Unlock()
		return nil
	}
	c := t.idle[n-1]
	t.idle[n-1] = nil
	t.idle = t.idle[:n-1]
	if time.Since(c.idleSince) < originIdleTimeout {
		t.mu.Unlock()
		return c
	}
	// It and every one below it have been idle too long.
	stale := append(t.idle, c)
	t.idle = nil
	t.mu.Unlock()
	for _, s := range stale {
		_ = s.nc.Close()
	}
	return nil
}

// put keeps c for a next request.
func (t *getTransport) put(c *originConn) {
	c.idleSince = time.Now()
	t.mu.Lock()
	if len(t.idle) < maxIdleOriginConns {
		t.idle = append(t.idle, c)
		c = nil
	}
	t.mu.Unlock()
	if c != nil {
		_ = c.nc.Close()
	}
}

// CloseIdleConnections closes the pool's connections (Upstream closes the
// fallback's).
func (t *getTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, c := range idle {
		_ = c.nc.Close()
	}
}

// exchange sends req on c and reads the answer's headers. The request's end
// (the player hung up) wakes any read or write of c at once.
func (t *getTransport) exchange(c *originConn, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	c.read, c.most = 0, mediaHeadRead
	if identity.IsManifest(req.URL.Path) {
		c.most = math.MaxInt
	}
	stop := context.AfterFunc(ctx, func() { wake(c.nc) })
	resp, err := t.answer(c, req)
	if cerr := ctx.Err(); cerr != nil {
		// The player left: whatever came is nobody's answer, and the
		// connection's deadline may be in the past (even once the
		// header deadline was lifted).
		err = cerr
	}
	if err != nil {
		stop()
		return nil, err
	}
	done := func(whole bool) {
		// stop is false once the request ended: the deadline woke c. Bytes
		// beyond the answer's end are no answer to the next request.
		if stop() && whole && !resp.Close && c.br.Buffered() == 0 {
			t.put(c)
			return
		}
		_ = c.nc.Close()
	}
	switch {
	case resp.Body == http.NoBody:
		done(true)
	case resp.ContentLength >= spliceMinBytes && resp.TransferEncoding == nil &&
		(resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent):
		resp.Body = &spliceBody{c: c, left: resp.ContentLength, done: done}
	default:
		resp.Body = &originBody{rc: resp.Body, done: done}
	}
	return resp, nil
}

// wake ends any read or write of nc at once: a deadline in the past.
func wake(nc net.Conn) { _ = nc.SetDeadline(time.Unix(1, 0)) }

// setReadDeadline sets nc's read deadline, unless ctx has ended: then the
// wake exchange's AfterFunc gave must stay, or a player who hung up just
// before would leave the read waiting for the origin.
func setReadDeadline(ctx context.Context, nc net.Conn, t time.Time) {
	_ = nc.SetReadDeadline(t)
	if ctx.Err() != nil {
		wake(nc)
	}
}

// answer writes req and reads the final answer's headers, informational
// answers passed on as Transport passes them (httptrace), within the
// header timeout.
func (t *getTransport) answer(c *originConn, req *http.Request) (*http.Response, error) {
	if err := req.Write(c.bw); err != nil {
		return nil, err
	}
	if err := c.bw.Flush(); err != nil {
		return nil, err
	}
	if t.headerTimeout > 0 {
		setReadDeadline(req.Context(), c.nc, time.Now().Add(t.headerTimeout))
	}
	for n := 0; ; n++ {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && req.Context().Err() == nil {
				return nil, errHeaderTimeout
			}
			return nil, err
		}
		if resp.StatusCode >= 200 {
			if t.headerTimeout > 0 {
				setReadDeadline(req.Context(), c.nc, time.Time{})
			}
			c.most = 0
			return resp, nil
		}
		if resp.StatusCode == http.StatusSwitchingProtocols || n == max1xx {
			return nil, errors.New("proxy: the origin answered a GET with " + resp.Status)
		}
		if trace := httptrace.ContextClientTrace(req.Context()); trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, err
			}
		}
	}
}

// originBody is an answer's body that is not spliced: its connection goes
// back to the pool when it was read to its end.
type originBody struct {
	rc   io.ReadCloser
	done func(whole bool)
	over bool
}

func (b *originBody) Read(p []byte) (int, error) {
	if b.over {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.over = true
		b.done(true)
	}
	return n, err
}

// Close drops the connection of a body not read to its end: net/http's own
// Close would read the rest first.
func (b *originBody) Close() error {
	if !b.over {
		b.over = true
		b.done(false)
	}
	return nil
}
