package proxy_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/proxytest"
)

func TestProxyPassesRequestsThroughUnchanged(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/vnd.apple.mpegurl")
		h.Set("X-Origin", "yes")
		h.Set("Connection", "X-Origin-Hop")
		h.Set("X-Origin-Hop", "must not leave the proxy")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "#EXTM3U\n")
	}, gatewayOptions{})

	payload := bytes.Repeat([]byte("licence-challenge-"), 1000)
	req := g.request(t, http.MethodPost, "/vod/movie/index.m3u8?token=abc&x=1&x=2", "alice", "tv")
	req.Body = io.NopCloser(bytes.NewReader(payload))
	req.ContentLength = int64(len(payload))
	req.Host = "cdn.example.com"
	req.Header.Set("X-Custom", "kept")
	req.Header.Set("Cookie", "a=b")
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "must not reach the origin")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("Proxy-Authorization", "Basic c2VjcmV0")
	req.Header.Set("Upgrade", "h2c")
	resp, body := g.do(t, req)

	assert.Equal(t, http.StatusCreated, resp.StatusCode, "the origin's status passes unchanged")
	assert.Equal(t, "#EXTM3U\n", string(body))
	assert.Equal(t, "application/vnd.apple.mpegurl", resp.Header.Get("Content-Type"))
	assert.Equal(t, "yes", resp.Header.Get("X-Origin"))
	assert.Empty(t, resp.Header.Get("X-Origin-Hop"), "hop-by-hop headers of the response are removed")

	seen := g.origin.lastSeen()
	assert.Equal(t, http.MethodPost, seen.Method)
	assert.Equal(t, "/vod/movie/index.m3u8", seen.Path)
	assert.Equal(t, "token=abc&x=1&x=2", seen.RawQuery)
	assert.Equal(t, payload, seen.Body)
	assert.Equal(t, "kept", seen.Header.Get("X-Custom"))
	assert.Equal(t, "a=b", seen.Header.Get("Cookie"))
	assert.Equal(t, "alice", seen.Header.Get("X-User-Id"))
	assert.Equal(t, "tv", seen.Header.Get("X-Session-Id"))
	for _, hop := range []string{"Connection", "X-Hop", "Keep-Alive", "Proxy-Authorization", "Upgrade"} {
		assert.Empty(t, seen.Header.Values(hop), "hop-by-hop header %s is removed", hop)
	}
	assert.Equal(t, "203.0.113.9, 127.0.0.1", seen.Header.Get("X-Forwarded-For"), "the client is appended to the chain")
	assert.Equal(t, "cdn.example.com", seen.Header.Get("X-Forwarded-Host"))
	assert.Equal(t, "http", seen.Header.Get("X-Forwarded-Proto"))
	assert.Equal(t, strings.TrimPrefix(g.origin.URL, "http://"), seen.Host, "the origin sees its own host")
}

// TestProxyStartsTheForwardedChain: a request that came with no
// X-Forwarded-For reaches the origin with its peer as the whole chain.
func TestProxyStartsTheForwardedChain(t *testing.T) {
	t.Parallel()
	g := newGateway(t, okOrigin, gatewayOptions{})
	resp, body := g.get(t, "/live/seg-1.ts", "alice", "tv")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, []string{"127.0.0.1"}, g.origin.lastSeen().Header.Values("X-Forwarded-For"))
}

func TestProxyPutsTheUpstreamPathInFront(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, base, request, want string
	}{
		{name: "no base path", base: "", request: "/vod/a.ts", want: "/vod/a.ts"},
		{name: "a base path", base: "/origin", request: "/vod/a.ts", want: "/origin/vod/a.ts"},
		{name: "a base path with a trailing slash", base: "/origin/", request: "/vod/a.ts", want: "/origin/vod/a.ts"},
		{name: "a nested base path", base: "/a/b", request: "/c.m3u8", want: "/a/b/c.m3u8"},
		{name: "an escaped request path", base: "/origin", request: "/vod/my%20movie.ts", want: "/origin/vod/my movie.ts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := newOrigin(t, okOrigin)
			u, err := url.Parse(o.URL + tt.base)
			require.NoError(t, err)
			g := newGateway(t, okOrigin, gatewayOptions{upstream: u})
			resp, _ := g.get(t, tt.request, "alice", "tv")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, tt.want, o.lastSeen().Path)
		})
	}
}

func TestProxyPassesOriginErrorsUnchanged(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "no such segment")
	}, gatewayOptions{})
	resp, body := g.get(t, "/vod/seg-99.ts", "alice", "tv")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "text/plain", resp.Header.Get("Content-Type"), "not turned into a problem")
	assert.Equal(t, "no such segment", string(body))
}

func TestProxyRangeRequests(t *testing.T) {
	t.Parallel()
	content := bytes.Repeat([]byte("0123456789"), 1000)
	g := newGateway(t, func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "seg.ts", time.Unix(0, 0), bytes.NewReader(content))
	}, gatewayOptions{})

	tests := []struct {
		name, rng    string
		status       int
		body         []byte
		contentRange string
	}{
		{name: "a middle range", rng: "bytes=100-199", status: http.StatusPartialContent, body: content[100:200], contentRange: "bytes 100-199/10000"},
		{name: "a suffix range", rng: "bytes=-10", status: http.StatusPartialContent, body: content[9990:], contentRange: "bytes 9990-9999/10000"},
		{name: "no range", status: http.StatusOK, body: content},
		{name: "an unsatisfiable range", rng: "bytes=20000-", status: http.StatusRequestedRangeNotSatisfiable, contentRange: "bytes */10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := g.request(t, http.MethodGet, "/seg.ts", "alice", "tv")
			if tt.rng != "" {
				req.Header.Set("Range", tt.rng)
			}
			resp, body := g.do(t, req)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, tt.contentRange, resp.Header.Get("Content-Range"))
			if tt.body != nil {
				assert.Equal(t, tt.body, body)
			}
			assert.Equal(t, tt.rng, g.origin.lastSeen().Header.Get("Range"), "Range reaches the origin")
		})
	}
}

// TestProxyStreamsWithoutBuffering: the origin sends a first chunk and then
// waits for the test; the player must receive that chunk while the origin
// is still waiting.
func TestProxyStreamsWithoutBuffering(t *testing.T) {
	t.Parallel()
	for _, length := range []string{"", strconv.Itoa(len("first-chunk-rest"))} {
		name := "chunked"
		if length != "" {
			name = "with a Content-Length" // net/http would hold it until 4 KiB fill its buffer
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHold()
			defer h.Release()
			g := newGateway(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "video/mp2t")
				if length != "" {
					w.Header().Set("Content-Length", length)
				}
				_, _ = io.WriteString(w, "first-chunk")
				w.(http.Flusher).Flush()
				h.wait(r.Context())
				_, _ = io.WriteString(w, "-rest")
			}, gatewayOptions{})

			// The origin holds the rest until the first chunk has arrived: a
			// proxy that buffers answers nothing before this deadline.
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			resp, err := g.client.Do(g.request(t, http.MethodGet, "/live/seg.ts", "alice", "tv").WithContext(ctx))
			require.NoError(t, err, "no answer while the origin was still sending: the proxy buffers")
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, length, resp.Header.Get("Content-Length"))

			first := make([]byte, len("first-chunk"))
			_, err = io.ReadFull(resp.Body, first)
			require.NoError(t, err, "the first chunk did not arrive while the origin was still sending: the proxy buffers")
			assert.Equal(t, "first-chunk", string(first))

			h.Release()
			rest, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, "-rest", string(rest))
		})
	}
}

// TestProxyAddsNoContentType: net/http guesses a Content-Type for a handler
// that sets none; an origin's answer without one must pass without one.
func TestProxyAddsNoContentType(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // the origin's own server must not add one either
		if r.Header.Get("Range") != "" {
			w.Header().Set("Content-Range", "bytes 0-4/10")
			w.WriteHeader(http.StatusPartialContent)
		}
		_, _ = io.WriteString(w, "plain")
	}, gatewayOptions{})
	for _, rng := range []string{"", "bytes=0-4"} {
		req := g.request(t, http.MethodGet, "/file", "alice", "tv")
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, body := g.do(t, req)
		assert.Equal(t, "plain", string(body))
		_, typed := resp.Header["Content-Type"]
		assert.False(t, typed, "status %d: got Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestProxyOriginUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	require.NoError(t, ln.Close())

	g := newGateway(t, okOrigin, gatewayOptions{upstream: closed})
	resp, body := g.get(t, "/a.ts", "alice", "tv")
	proxytest.AssertProblem(t, resp, body, http.StatusBadGateway)
	assert.Equal(t, 1.0, proxytest.MetricValue(t, g.reg, "streamgate_upstream_errors_total", "reason", "unreachable"))
	assert.Equal(t, 1.0, proxytest.MetricValue(t, g.reg, "streamgate_admissions_total", "result", "new"), "the request was admitted first")
}

func TestProxyOriginBreaksTheConnection(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}, gatewayOptions{})
	resp, body := g.get(t, "/a.ts", "alice", "tv")
	proxytest.AssertProblem(t, resp, body, http.StatusBadGateway)
}

func TestProxyOriginHeaderTimeout(t *testing.T) {
	t.Parallel()
	h := newHold()
	defer h.Release()
	g := newGateway(t, func(w http.ResponseWriter, r *http.Request) {
		h.wait(r.Context()) // never answers in time
	}, gatewayOptions{headerTimeout: 100 * time.Millisecond})

	resp, body := g.get(t, "/a.ts", "alice", "tv")
	proxytest.AssertProblem(t, resp, body, http.StatusGatewayTimeout)
	assert.Equal(t, 1.0, proxytest.MetricValue(t, g.reg, "streamgate_upstream_errors_total", "reason", "timeout"))
	assert.Zero(t, proxytest.MetricValue(t, g.reg, "streamgate_upstream_errors_total", "reason", "unreachable"))
}

// TestProxyBodyIsNotTimed: -upstream-timeout bounds the wait for headers
// only; a body that outlasts it still arrives whole. A second request that
// times out proves the timeout has passed while the first body was pending.
func TestProxyBodyIsNotTimed(t *testing.T) {
	t.Parallel()
	body, stall := newHold(), newHold()
	defer body.Release()
	defer stall.Release()
	g := newGateway(t, slowBodyOrigin(stall, body), gatewayOptions{headerTimeout: 50 * time.Millisecond})

	resp, err := g.client.Do(g.request(t, http.MethodGet, "/slow.ts", "alice", "tv"))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body.waitArrived(t)

	timedOut, _ := g.get(t, "/stall", "alice", "tv")
	require.Equal(t, http.StatusGatewayTimeout, timedOut.StatusCode)

	body.Release()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "start-end", string(got))
}

func TestProxyClientGoesAway(t *testing.T) {
	t.Parallel()
	h := newHold()
	defer h.Release()
	g := newGateway(t, func(w http.ResponseWriter, r *http.Request) {
		h.wait(r.Context())
	}, gatewayOptions{})

	ctx, cancel := context.WithCancel(context.Background())
	req := g.request(t, http.MethodGet, "/a.ts", "alice", "tv").WithContext(ctx)
	done := make(chan error, 1)
	go func() {
		resp, err := g.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	h.waitArrived(t)
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)

	eventually(t, "client_closed counted", func() bool {
		return proxytest.MetricValue(t, g.reg, "streamgate_client_closed_total", "phase", "upstream") == 1
	})
	assert.Zero(t, proxytest.MetricValue(t, g.reg, "streamgate_upstream_errors_total", "reason", "unreachable"), "a hang-up is not an origin failure")
	assert.Zero(t, proxytest.MetricValue(t, g.reg, "streamgate_upstream_errors_total", "reason", "timeout"), "a hang-up is not an origin failure")
	eventually(t, "logged at debug", func() bool {
		return containsAll(g.logs.String(), `"level":"DEBUG"`, `"msg":"client closed request"`)
	})
	assert.NotContains(t, g.logs.String(), `"level":"WARN"`)
}

func TestNewTransportIsTunedForOneOrigin(t *testing.T) {
	t.Parallel()
	tr, watch := proxy.NewTransport(&url.URL{Scheme: "http", Host: "origin:8080"}, 3*time.Second)
	t.Cleanup(tr.CloseIdleConnections)
	assert.NotNil(t, watch, "a plain HTTP origin's header wait is bounded by the header watch")
	assert.Zero(t, tr.ResponseHeaderTimeout, "so no timer is started per request")
	assert.GreaterOrEqual(t, tr.MaxIdleConnsPerHost, 32, "the default of 2 churns connections under load")
	assert.True(t, tr.DisableCompression, "bytes pass through as the origin sent them")
	assert.NotZero(t, tr.IdleConnTimeout)
	assert.NotSame(t, http.DefaultTransport, tr)
	assert.Zero(t, http.DefaultTransport.(*http.Transport).ResponseHeaderTimeout, "the default transport is untouched")
}

func TestNewTransportKeepsTheHeaderTimerForHTTPS(t *testing.T) {
	t.Parallel()
	// The header watch reads the connection's bytes, which TLS hides.
	tr, watch := proxy.NewTransport(&url.URL{Scheme: "https", Host: "origin:8443"}, 3*time.Second)
	t.Cleanup(tr.CloseIdleConnections)
	assert.Nil(t, watch)
	assert.Equal(t, 3*time.Second, tr.ResponseHeaderTimeout)
}
