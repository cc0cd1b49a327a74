package proxy_test

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/proxytest"
)

// overBothTransports runs test with a GET without a body, which goes over
// getTransport's connections, and with a POST, which goes over Transport's
// under the header watch.
func overBothTransports(t *testing.T, test func(t *testing.T, method string)) {
	t.Helper()
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) { test(t, method) })
	}
}

// send is a request of method for path as alice on session, with a small
// body unless it is a GET, and its answer read whole.
func (g *gateway) send(t *testing.T, method, path, session string) (*http.Response, []byte) {
	t.Helper()
	req := g.request(t, method, path, "alice", session)
	if method != http.MethodGet {
		req.Body, req.ContentLength = io.NopCloser(strings.NewReader("licence-challenge")), int64(len("licence-challenge"))
	}
	return g.do(t, req)
}

// TestHeaderTimeoutOnAReusedConnectionIsNotRetried: the request that times
// out goes over a kept-alive connection, which Transport would retry a GET
// on if the connection merely failed. The origin must see it once, and the
// player get its 504 after one timeout, not two.
func TestHeaderTimeoutOnAReusedConnectionIsNotRetried(t *testing.T) {
	t.Parallel()
	overBothTransports(t, testHeaderTimeoutOnAReusedConnectionIsNotRetried)
}

func testHeaderTimeoutOnAReusedConnectionIsNotRetried(t *testing.T, method string) {
	t.Parallel()
	stall := newHold()
	defer stall.Release()
	var stalled atomic.Int32
	g := newGateway(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall.ts" {
			stalled.Add(1)
			stall.wait(r.Context())
			return
		}
		okOrigin(w, r)
	}, gatewayOptions{headerTimeout: 100 * time.Millisecond})

	for i := range 3 { // leaves idle connections to the origin
		resp, _ := g.send(t, method, "/a.ts", "tv-"+strconv.Itoa(i%2))
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	resp, body := g.send(t, method, "/stall.ts", "tv-0")
	proxytest.AssertProblem(t, resp, body, http.StatusGatewayTimeout)
	assert.Equal(t, int32(1), stalled.Load(), "the timed-out request was not sent again")
	assert.Equal(t, 1.0, proxytest.MetricValue(t, g.reg, "streamgate_upstream_errors_total", "reason", "timeout"))

	resp, _ = g.send(t, method, "/a.ts", "tv-0")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the origin is reached again after the timeout")
}

// TestOriginsOwn504PassesUnchanged: only the 504 the watch makes up, with
// this process's token, is the timeout; an origin's 504, whatever headers
// it sends, is its answer.
func TestOriginsOwn504PassesUnchanged(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Streamgate-Header-Timeout", "guessed")
		w.WriteHeader(http.StatusGatewayTimeout)
		_, _ = io.WriteString(w, "the origin's own")
	}, gatewayOptions{headerTimeout: time.Second})
	resp, body := g.get(t, "/a.ts", "alice", "tv")
	assert.Equal(t, http.StatusGatewayTimeout, resp.StatusCode)
	assert.Equal(t, "the origin's own", string(body))
	assert.Zero(t, proxytest.MetricValue(t, g.reg, "streamgate_upstream_errors_total", "reason", "timeout"))
}

// TestHeadersBegunThenStalledTimeOut: an origin that starts its headers and
// never ends them has not sent them.
func TestHeadersBegunThenStalledTimeOut(t *testing.T) {
	t.Parallel()
	overBothTransports(t, testHeadersBegunThenStalledTimeOut)
}

func testHeadersBegunThenStalledTimeOut(t *testing.T, method string) {
	t.Parallel()
	stall := newHold()
	defer stall.Release()
	g := newGateway(t, rawOrigin(stall, "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\n", ""),
		gatewayOptions{headerTimeout: 100 * time.Millisecond})
	resp, body := g.send(t, method, "/a.ts", "tv")
	proxytest.AssertProblem(t, resp, body, http.StatusGatewayTimeout)
	assert.Equal(t, 1.0, proxytest.MetricValue(t, g.reg, "streamgate_upstream_errors_total", "reason", "timeout"))
}

// TestHeaderWatchSeesEveryAnswer: after many quick answers over kept-alive
// connections, GETs (getTransport's) and uploads (the watch's), every answer was all answered and the watch
// saw each one's headers end, so no connection is left awaiting one (such a
// connection would be timed out while idle, or mid-body).
func TestHeaderWatchSeesEveryAnswer(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		okOrigin(w, r)
	}, gatewayOptions{headerTimeout: 5 * time.Second})
	const workers, each = 8, 150
	var wg sync.WaitGroup
	var failed atomic.Int32
	deadline := time.Now().Add(30 * time.Second)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each && time.Now().Before(deadline); i++ {
				req := g.request(t, http.MethodGet, "/a.ts", "user-"+strconv.Itoa(w), "s")
				if i%5 == 0 {
					req = g.request(t, http.MethodPost, "/a.ts", "user-"+strconv.Itoa(w), "s")
					req.Body = io.NopCloser(strings.NewReader(strings.Repeat("x", 64<<10)))
				}
				resp, err := g.client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, failed.Load())
	assert.Zero(t, proxytest.MetricValue(t, g.reg, "streamgate_upstream_errors_total", "reason", "timeout"))
	// Each answer's headers were read, and seen to end, before the answer
	// was passed on: none can be awaited now that the client has them all.
	assert.Zero(t, proxy.AwaitingConns(g.up), "connections awaiting an answer")
}

// TestHeaderWatchReadsLFOnlyHeaders: net/http accepts header lines ended by
// a bare newline; such an answer with a body slower than the timeout must
// arrive whole.
func TestHeaderWatchReadsLFOnlyHeaders(t *testing.T) {
	t.Parallel()
	overBothTransports(t, testHeaderWatchReadsLFOnlyHeaders)
}

func testHeaderWatchReadsLFOnlyHeaders(t *testing.T, method string) {
	t.Parallel()
	slow := newHold()
	defer slow.Release()
	g := newGateway(t, rawOrigin(slow, "HTTP/1.1 200 OK\nContent-Type: video/mp2t\nContent-Length: 9\n\nstart-", "end"),
		gatewayOptions{headerTimeout: 30 * time.Millisecond})

	req := g.request(t, method, "/a.ts", "alice", "tv")
	if method != http.MethodGet {
		req.Body, req.ContentLength = io.NopCloser(strings.NewReader("x")), 1
	}
	resp, err := g.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	slow.waitArrived(t)
	// Past several timeouts of the watch's scans before the body goes on:
	// poll the scans' own effect, the timeout counter, meanwhile.
	r := bufio.NewReader(resp.Body)
	start := make([]byte, 6)
	_, err = io.ReadFull(r, start)
	require.NoError(t, err)
	assert.Never(t, func() bool {
		return proxytest.MetricValue(t, g.reg, "streamgate_upstream_errors_total", "reason", "timeout") > 0
	}, 200*time.Millisecond, 10*time.Millisecond)
	slow.Release()
	rest, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "start-end", string(start)+string(rest))
}

// TestHeaderWatchAnswerBeforeUpload: an origin that answers an upload
// before reading it whole, as one refusing it does. The rest of the upload,
// written after the answer's headers came, must not arm the watch: it
// would time the answer's body out in flight, several timeouts long here.
func TestHeaderWatchAnswerBeforeUpload(t *testing.T) {
	t.Parallel()
	slow := newHold()
	defer slow.Release()
	// An origin of its own: the gateway's records each request's body
	// before answering.
	origin := httptest.NewServer(rawOrigin(slow, "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: 9\r\n\r\nstart-", "end"))
	t.Cleanup(origin.Close)
	target, err := url.Parse(origin.URL)
	require.NoError(t, err)
	g := newGateway(t, okOrigin, gatewayOptions{upstream: target, headerTimeout: 30 * time.Millisecond})

	upload, rest := io.Pipe()
	defer rest.Close()
	req := g.request(t, http.MethodPost, "/a.ts", "alice", "tv")
	req.Body, req.ContentLength = upload, 2
	type answer struct {
		resp *http.Response
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := g.client.Do(req)
		answered <- answer{resp, err}
	}()
	slow.waitArrived(t)
	eventually(t, "the answer's headers were read", func() bool { return proxy.AwaitingConns(g.up) == 0 })

	_, err = rest.Write([]byte("xy")) // the rest of the upload, after the answer's headers
	require.NoError(t, err)
	require.NoError(t, rest.Close())
	assert.Never(t, func() bool { return proxy.AwaitingConns(g.up) > 0 }, 200*time.Millisecond, 5*time.Millisecond,
		"the upload's end awaits no answer")
	a := <-answered
	require.NoError(t, a.err)
	defer a.resp.Body.Close()
	require.Equal(t, http.StatusOK, a.resp.StatusCode)
	slow.Release()
	body, err := io.ReadAll(a.resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "start-end", string(body))
	assert.Zero(t, proxytest.MetricValue(t, g.reg, "streamgate_upstream_errors_total", "reason", "timeout"))
}

// TestHTTPSOriginHeaderTimeout: an https origin, whose bytes TLS hides from
// the header watch, is bounded by Transport's own timer to the same 504,
// and a body slower than the timeout still arrives whole.
func TestHTTPSOriginHeaderTimeout(t *testing.T) {
	t.Parallel()
	stall, body := newHold(), newHold()
	defer stall.Release()
	defer body.Release()
	origin := httptest.NewTLSServer(slowBodyOrigin(stall, body))
	t.Cleanup(origin.Close)
	target, err := url.Parse(origin.URL)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.DiscardHandler)
	up := proxy.NewUpstream(proxy.UpstreamOptions{URL: target, HeaderTimeout: 50 * time.Millisecond,
		Metrics: proxy.NewMetrics(reg, nil), Logger: logger})
	tr := up.Transport.(*http.Transport)
	tr.TLSClientConfig = origin.Client().Transport.(*http.Transport).TLSClientConfig.Clone() // trusts the test origin
	t.Cleanup(tr.CloseIdleConnections)
	srv := proxytest.StartServer(t, up, logger)
	client := proxytest.NewClient(t)
	timeouts := func() float64 {
		return proxytest.MetricValue(t, reg, "streamgate_upstream_errors_total", "reason", "timeout")
	}

	resp, err := client.Get(srv.URL + "/slow.ts")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the origin is reached over TLS")
	body.waitArrived(t)
	assert.Never(t, func() bool { return timeouts() > 0 }, 300*time.Millisecond, 10*time.Millisecond,
		"the body's wait is not timed")
	body.Release()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "start-end", string(got))

	req, err := http.NewRequest(http.MethodGet, srv.URL+"/stall.ts", nil)
	require.NoError(t, err)
	resp2, b := proxytest.Do(t, client, req)
	proxytest.AssertProblem(t, resp2, b, http.StatusGatewayTimeout)
	assert.Equal(t, 1.0, timeouts())
}
