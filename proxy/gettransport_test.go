package proxy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/proxy/proxytest"
)

// pattern is n bytes that differ from one offset to the next, so that a
// body shifted, cut or doubled anywhere compares unequal.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>9)
	}
	return b
}

// countingOrigin is an origin that counts the connections it accepted.
type countingOrigin struct {
	*httptest.Server
	conns atomic.Int64
}

func newCountingOrigin(t *testing.T, h http.HandlerFunc) *countingOrigin {
	t.Helper()
	o := &countingOrigin{Server: httptest.NewUnstartedServer(h)}
	o.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			o.conns.Add(1)
		}
	}
	o.Start()
	t.Cleanup(o.Close)
	return o
}

func (o *countingOrigin) url(t *testing.T) *url.URL {
	u, err := url.Parse(o.URL)
	require.NoError(t, err)
	return u
}

// rawAt answers path as rawOrigin does, with raw and the connection kept
// until h is released, and any other path as okOrigin does.
func rawAt(path string, h *hold, raw string) http.HandlerFunc {
	answer := rawOrigin(h, raw, "")
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			okOrigin(w, r)
			return
		}
		answer(w, r)
	}
}

// TestMediaBodiesArriveWhole: media bodies of every size around the splice
// threshold, of announced length or chunked, behind headers shorter or
// longer than one read of a media answer's headers (mediaHeadRead), whole or
// a range, reach the player byte for byte, one after the other on one
// origin connection.
func TestMediaBodiesArriveWhole(t *testing.T) {
	t.Parallel()
	origin := newCountingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/seg-"), ".ts"))
		body := pattern(n)
		w.Header().Set("Content-Type", "video/mp2t")
		if r.URL.Query().Has("padded") {
			w.Header().Set("X-Pad", strings.Repeat("p", 6000))
		}
		if r.URL.Query().Has("chunked") {
			for len(body) > 0 {
				k := min(len(body), 10_000)
				_, _ = w.Write(body[:k])
				w.(http.Flusher).Flush()
				body = body[k:]
			}
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body)) // Content-Length, Range
	})
	g := newGateway(t, okOrigin, gatewayOptions{upstream: origin.url(t)})

	for _, n := range []int{0, 100, 64<<10 - 1, 64 << 10, 64<<10 + 1, 1<<20 + 7} {
		for _, q := range []string{"", "?chunked", "?padded", "?chunked&padded"} {
			resp, body := g.get(t, fmt.Sprintf("/seg-%d.ts%s", n, q), "alice", "tv")
			require.Equal(t, http.StatusOK, resp.StatusCode, "%d bytes%s", n, q)
			assert.True(t, bytes.Equal(pattern(n), body), "%d bytes%s arrive byte for byte (got %d)", n, q, len(body))
			if strings.Contains(q, "padded") {
				assert.Len(t, resp.Header.Get("X-Pad"), 6000, "%d bytes%s: the long header arrives whole", n, q)
			}
		}
	}
	req := g.request(t, http.MethodGet, "/seg-300000.ts", "alice", "tv")
	req.Header.Set("Range", "bytes=1000-250999")
	resp, body := g.do(t, req)
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, "bytes 1000-250999/300000", resp.Header.Get("Content-Range"))
	assert.True(t, bytes.Equal(pattern(300000)[1000:251000], body), "the range arrives byte for byte (got %d)", len(body))

	assert.Equal(t, int64(1), origin.conns.Load(), "every answer was read whole, so one connection served them all")
}

// TestMediaConnectionClosedByTheOriginIsRedialled: a kept connection the
// origin closed while it was idle costs the player nothing: it is found
// closed when taken (stillIdle), or fails before any byte of an answer and
// the request is sent again on a new one.
func TestMediaConnectionClosedByTheOriginIsRedialled(t *testing.T) {
	t.Parallel()
	origin := newCountingOrigin(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(200<<10))
		_, _ = w.Write(pattern(200 << 10))
	})
	g := newGateway(t, okOrigin, gatewayOptions{upstream: origin.url(t)})
	for i := range 4 {
		resp, body := g.get(t, "/seg-1.ts", "alice", "tv")
		require.Equal(t, http.StatusOK, resp.StatusCode, "request %d", i)
		assert.True(t, bytes.Equal(pattern(200<<10), body), "request %d arrives whole", i)
		origin.CloseClientConnections()
	}
	assert.Equal(t, int64(4), origin.conns.Load(), "each request after the origin closed the kept connection dialed anew")
}

// TestMediaBodyCutByTheOriginIsCut: an origin that closes before the end it
// announced leaves the player with a broken answer, never one that looks
// whole, and the next request is served.
func TestMediaBodyCutByTheOriginIsCut(t *testing.T) {
	t.Parallel()
	closeAtOnce := newHold()
	closeAtOnce.Release()
	g := newGateway(t, rawAt("/cut.ts", closeAtOnce, "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: 1048576\r\n\r\n"+
		string(pattern(300<<10))), gatewayOptions{})

	resp, err := g.client.Do(g.request(t, http.MethodGet, "/cut.ts", "alice", "tv"))
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Error(t, err, "the player sees the answer broken")
	assert.Less(t, len(body), 1<<20)
	assert.True(t, bytes.Equal(pattern(len(body)), body), "what came is the origin's bytes")

	resp2, _ := g.get(t, "/seg-1.ts", "alice", "tv")
	assert.Equal(t, http.StatusOK, resp2.StatusCode)
}

// TestMediaPlayerLeavingEndsTheOriginRequest: a player that hangs up in the
// middle of a body the origin is slow to send ends the origin's request too,
// rather than leaving the gate waiting on the origin.
func TestMediaPlayerLeavingEndsTheOriginRequest(t *testing.T) {
	t.Parallel()
	ended := make(chan struct{})
	g := newGateway(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(4<<20))
		_, _ = w.Write(pattern(200 << 10))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the rest never comes
		close(ended)
	}, gatewayOptions{})

	ctx, cancel := context.WithCancel(t.Context())
	req := g.request(t, http.MethodGet, "/slow.ts", "alice", "tv").WithContext(ctx)
	resp, err := g.client.Do(req)
	require.NoError(t, err)
	_, err = io.ReadFull(resp.Body, make([]byte, 100<<10))
	require.NoError(t, err)
	cancel()
	_ = resp.Body.Close()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the origin's request outlived the player's")
	}
}

// TestMediaEarlyHintsPass: an informational answer before a segment reaches
// the player, as it does through http.Transport.
func TestMediaEarlyHintsPass(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Link", "</seg-2.ts>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Content-Length", strconv.Itoa(100<<10))
		_, _ = w.Write(pattern(100 << 10))
	}, gatewayOptions{})
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, strconv.Itoa(code)+" "+h.Get("Link"))
		return nil
	}}
	req := g.request(t, http.MethodGet, "/seg-1.ts", "alice", "tv")
	resp, body := g.do(t, req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, bytes.Equal(pattern(100<<10), body))
	assert.Equal(t, []string{"103 </seg-2.ts>; rel=preload"}, hints)
}

// TestMediaBytesBeyondAnAnswerAreNoAnswer: an origin that sends more than
// the length it announced does not get those bytes taken for the answer to
// the next request on the connection.
func TestMediaBytesBeyondAnAnswerAreNoAnswer(t *testing.T) {
	t.Parallel()
	keep := newHold() // the connection stays open
	defer keep.Release()
	origin := newCountingOrigin(t, rawAt("/extra.ts", keep, "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: 70000\r\n\r\n"+
		string(pattern(70000))+"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: 5\r\n\r\nevil!"))
	g := newGateway(t, okOrigin, gatewayOptions{upstream: origin.url(t)})
	resp, body := g.get(t, "/extra.ts", "alice", "tv")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, bytes.Equal(pattern(70000), body))
	for range 3 {
		resp, body = g.get(t, "/seg-1.ts", "alice", "tv")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.NotContains(t, string(body), "evil", "the next answer is the origin's answer to it")
	}
}

// TestEndlessOriginHeadersAreRefused: an origin whose answer's headers never
// end costs the gate a bounded read, not its memory, on either transport:
// the player gets a 502 and the gate hangs up on the origin.
func TestEndlessOriginHeadersAreRefused(t *testing.T) {
	t.Parallel()
	overBothTransports(t, testEndlessOriginHeadersAreRefused)
}

func testEndlessOriginHeadersAreRefused(t *testing.T, method string) {
	t.Parallel()
	// Were the gate to read on, the origin would stop at sendAtMost and
	// the player would still get an error: what tells is how much the
	// origin could send before the gate hung up.
	const sendAtMost = 96 << 20
	var sent atomic.Int64
	done := make(chan struct{})
	g := newGateway(t, func(w http.ResponseWriter, _ *http.Request) {
		defer close(done)
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nX-Endless: ")
		_ = buf.Flush()
		chunk := bytes.Repeat([]byte("a"), 64<<10)
		for sent.Load() < sendAtMost {
			n, err := conn.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}, gatewayOptions{})

	resp, body := g.send(t, method, "/endless.ts", "tv")
	proxytest.AssertProblem(t, resp, body, http.StatusBadGateway)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the origin is still sending headers")
	}
	// 10 MiB read, plus what the two sockets' buffers held when the gate
	// hung up.
	assert.Less(t, sent.Load(), int64(40<<20), "the gate stopped reading the headers at its bound")
}
