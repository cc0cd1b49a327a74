package proxy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/limitertest"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/proxytest"
)

// ecsFields are the ECS fields the access log writes, with their types in
// the ECS field reference (elastic.co/guide/en/ecs, HTTP, URL, Event, Source,
// User agent and User fields, and the base field @timestamp).
var ecsFields = map[string]string{
	"@timestamp":                "date",
	"http.request.method":       "keyword",
	"url.path":                  "wildcard",
	"http.response.status_code": "long",
	"http.response.body.bytes":  "long",
	"event.duration":            "long", // nanoseconds
	"source.ip":                 "ip",
	"user_agent.original":       "keyword",
	"user.id":                   "keyword",
}

// ownFields are streamgate's own, under its own prefix as ECS asks of custom fields.
var ownFields = map[string]string{
	"streamgate.decision": "keyword",
	"streamgate.session":  "keyword",
}

// downForUser is the memory store, except that one user's admissions fail
// as a timed-out store call does: a real store cannot fail for one user.
type downForUser struct {
	limiter.Store
	user string
}

func (s downForUser) Admit(ctx context.Context, req limiter.Request) (limiter.Decision, error) {
	if req.UserID == s.user {
		return limiter.Decision{}, limiter.ErrUnavailable
	}
	return s.Store.Admit(ctx, req)
}

// loggedGateway is the proxy listener with the access log in front, as run()
// builds it, writing to out.
func loggedGateway(t *testing.T, out *limitertest.SyncBuffer, reg *prometheus.Registry, trusted ...netip.Prefix) (string, *proxy.AccessLog) {
	t.Helper()
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big.ts" { // large enough to be spliced
			w.Header().Set("Content-Length", strconv.Itoa(300<<10))
			_, _ = w.Write(pattern(300 << 10))
			return
		}
		okOrigin(w, r)
	})
	m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: testTTL, MaxUsers: 100, SweepInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	logger := slog.New(slog.DiscardHandler)
	metrics := proxy.NewMetrics(reg, m)
	gate := proxy.Gate(proxy.GateOptions{
		Store: downForUser{Store: m, user: "store-down"}, Identity: identity.NewHeaderIdentity("X-User-Id", "X-Session-Id"),
		Limit: 1, Metrics: metrics, Logger: logger,
		Hardening: proxy.Hardening{Client: proxy.ClientAddr{TrustedProxies: trusted}},
	})
	u, err := url.Parse(o.URL)
	require.NoError(t, err)
	up := proxy.NewUpstream(proxy.UpstreamOptions{URL: u, HeaderTimeout: 5 * time.Second, Metrics: metrics, Logger: logger})
	t.Cleanup(up.CloseIdleConnections)
	al := proxy.NewAccessLog(proxy.AccessLogOptions{Writer: out, Registerer: reg})
	t.Cleanup(func() { _ = al.Close(context.Background()) })
	srv := proxytest.StartServer(t, al.Handler(proxy.Handler(logger, gate, up)), logger)
	return srv.URL, al
}

// waitAccessLines waits until out holds n lines. A line is logged once its
// handler has returned, which may be after the player has the whole answer
// (the proxy flushes as it copies), and a line logged after Close is
// dropped: a test that closes as soon as its answers are in would race.
func waitAccessLines(t *testing.T, out *limitertest.SyncBuffer, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d access log lines", n), func() bool { return strings.Count(out.String(), "\n") >= n })
}

func accessLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "every line is one JSON object: %s", sc.Text())
		lines = append(lines, line)
	}
	return lines
}

// TestAccessLogCountsASplicedBody: a segment that went from the origin's
// socket to the player's without passing through the process is counted
// in full.
func TestAccessLogCountsASplicedBody(t *testing.T) {
	t.Parallel()
	out := &limitertest.SyncBuffer{}
	base, _ := loggedGateway(t, out, prometheus.NewRegistry())
	req, err := http.NewRequest(http.MethodGet, base+"/big.ts", nil)
	require.NoError(t, err)
	req.Header.Set("X-User-Id", "alice")
	req.Header.Set("X-Session-Id", "tv")
	resp, body := proxytest.Do(t, proxytest.NewClient(t), req)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, body, 300<<10)
	waitAccessLines(t, out, 1)
	lines := accessLines(t, out.String())
	assert.EqualValues(t, 300<<10, lines[0]["http.response.body.bytes"])
	assert.EqualValues(t, 200, lines[0]["http.response.status_code"])
}

func TestAccessLogFieldsAreECS(t *testing.T) {
	t.Parallel()
	out := &limitertest.SyncBuffer{}
	base, al := loggedGateway(t, out, prometheus.NewRegistry())
	client := proxytest.NewClient(t)
	const rawSession = "raw-session-id-7f3a"
	const token = "eyJhbGciOiJIUzI1NiJ9.secret-token-in-query"
	requests := []struct {
		name, user, session, path string
		status                    int
		decision                  string
	}{
		{name: "new", user: "alice", session: rawSession, path: "/vod/seg-1.ts?token=" + token, status: 200, decision: "new"},
		{name: "refresh", user: "alice", session: rawSession, path: "/vod/seg-2.ts?token=" + token, status: 200, decision: "refresh"},
		{name: "rejected", user: "alice", session: "another-raw-session", path: "/vod/seg-1.ts", status: 429, decision: "rejected"},
		{name: "invalid", user: "", session: "", path: "/vod/seg-1.ts", status: 401, decision: "invalid"},
		{name: "store unavailable", user: "store-down", session: rawSession, path: "/vod/seg-1.ts", status: 503, decision: "store_unavailable"},
	}
	for _, rq := range requests {
		req, err := http.NewRequest(http.MethodGet, base+rq.path, nil)
		require.NoError(t, err)
		req.Header.Set("User-Agent", "Player/1.0 \"quoted\" \\back é")
		req.Header.Set("Authorization", "Bearer "+token)
		if rq.user != "" {
			req.Header.Set("X-User-Id", rq.user)
			req.Header.Set("X-Session-Id", rq.session)
		}
		resp, _ := proxytest.Do(t, client, req)
		require.Equal(t, rq.status, resp.StatusCode, rq.name)
	}
	waitAccessLines(t, out, len(requests))
	require.NoError(t, al.Close(context.Background()))

	text := out.String()
	assert.NotContains(t, text, "secret-token", "no token in any line")
	assert.NotContains(t, text, rawSession, "no raw session id in any line")
	assert.NotContains(t, text, "another-raw-session")
	lines := accessLines(t, text)
	require.Len(t, lines, len(requests), "one line per request")
	for i, rq := range requests {
		t.Run(rq.name, func(t *testing.T) {
			line := lines[i]
			for name, v := range line {
				typ, ok := ecsFields[name]
				if !ok {
					typ, ok = ownFields[name]
				}
				if !assert.True(t, ok, "field %s is neither ECS nor streamgate.*", name) {
					continue
				}
				switch typ {
				case "long":
					f, isNum := v.(float64)
					assert.True(t, isNum && f == float64(int64(f)) && f >= 0, "%s is a whole number: %v", name, v)
				case "date":
					s, _ := v.(string)
					_, err := time.Parse(time.RFC3339Nano, s)
					assert.NoError(t, err, "%s", name)
				case "ip":
					s, _ := v.(string)
					assert.NotNil(t, net.ParseIP(s), "%s is an address: %v", name, v)
				default:
					_, isString := v.(string)
					assert.True(t, isString, "%s is a string: %v", name, v)
				}
			}
			assert.Equal(t, "GET", line["http.request.method"])
			assert.Equal(t, strings.SplitN(rq.path, "?", 2)[0], line["url.path"], "the path without its query")
			assert.Equal(t, float64(rq.status), line["http.response.status_code"])
			assert.Greater(t, line["http.response.body.bytes"], float64(0))
			assert.Greater(t, line["event.duration"], float64(0))
			assert.Equal(t, "127.0.0.1", line["source.ip"])
			assert.Equal(t, "Player/1.0 \"quoted\" \\back é", line["user_agent.original"], "escaped, read back whole")
			assert.Equal(t, rq.decision, line["streamgate.decision"])
			if rq.user == "" {
				assert.NotContains(t, line, "user.id")
				assert.NotContains(t, line, "streamgate.session")
				return
			}
			assert.Equal(t, rq.user, line["user.id"])
			assert.Equal(t, proxy.SessionHandle(rq.user, rq.session), line["streamgate.session"], "the handle, never the id")
		})
	}
}

// TestAccessLogSourceIsTheTrustedClient: behind a -trusted-proxies peer,
// source.ip is the client X-Forwarded-For names; from any other peer the
// header is not believed and source.ip is the peer.
func TestAccessLogSourceIsTheTrustedClient(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		trusted []netip.Prefix
		want    string
	}{
		{"trusted peer", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, "203.0.113.7"},
		{"untrusted peer", nil, "127.0.0.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := &limitertest.SyncBuffer{}
			base, al := loggedGateway(t, out, prometheus.NewRegistry(), tt.trusted...)
			req, err := http.NewRequest(http.MethodGet, base+"/vod/seg-1.ts", nil)
			require.NoError(t, err)
			req.Header.Set("X-User-Id", "alice")
			req.Header.Set("X-Session-Id", "tv")
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			resp, _ := proxytest.Do(t, proxytest.NewClient(t), req)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			waitAccessLines(t, out, 1)
			require.NoError(t, al.Close(context.Background()))
			lines := accessLines(t, out.String())
			require.Len(t, lines, 1)
			assert.Equal(t, tt.want, lines[0]["source.ip"])
		})
	}
}

// blockingWriter blocks every Write until released, as a full pipe does.
type blockingWriter struct {
	release chan struct{}
	mu      sync.Mutex
	lines   int
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines += strings.Count(string(p), "\n")
	return len(p), nil
}

func (w *blockingWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lines
}

func TestAccessLogDropsAndCountsWhenTheWriterIsStuck(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	w := &blockingWriter{release: make(chan struct{})}
	const buffer, requests = 4, 50
	al := proxy.NewAccessLog(proxy.AccessLogOptions{Writer: w, Buffer: buffer, Registerer: reg})
	h := al.Handler(http.HandlerFunc(okOrigin))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range requests {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/seg.ts", nil))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("requests stalled behind a stuck access log writer")
	}
	dropped := proxytest.MetricValue(t, reg, "streamgate_access_log_dropped_total")
	assert.Positive(t, dropped, "lines beyond the buffer are dropped")

	close(w.release)
	require.NoError(t, al.Close(context.Background()))
	assert.Equal(t, requests, w.count()+int(dropped), "every line is written or counted as dropped")
}

func TestAccessLogCloseGivesUpOnAStuckWriter(t *testing.T) {
	t.Parallel()
	w := &blockingWriter{release: make(chan struct{})}
	defer close(w.release) // lets the goroutine end before goleak looks
	al := proxy.NewAccessLog(proxy.AccessLogOptions{Writer: w, Buffer: 4})
	al.Handler(http.HandlerFunc(okOrigin)).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/seg.ts", nil))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.True(t, errors.Is(al.Close(ctx), context.DeadlineExceeded))
}

func TestAccessLogWriterKeepsFlusherAndUnwrap(t *testing.T) {
	t.Parallel()
	out := &limitertest.SyncBuffer{}
	al := proxy.NewAccessLog(proxy.AccessLogOptions{Writer: out})
	var flushed, unwrapped bool
	h := al.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, flushed = w.(http.Flusher)
		_, unwrapped = w.(interface{ Unwrap() http.ResponseWriter })
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write([]byte("0123456789"))
		require.NoError(t, http.NewResponseController(w).Flush())
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/seg.ts", nil))
	require.NoError(t, al.Close(context.Background()))
	assert.True(t, flushed)
	assert.True(t, unwrapped)
	assert.True(t, rec.Flushed, "the flush reached the connection")
	lines := accessLines(t, out.String())
	require.Len(t, lines, 1)
	assert.Equal(t, float64(http.StatusPartialContent), lines[0]["http.response.status_code"])
	assert.Equal(t, float64(10), lines[0]["http.response.body.bytes"])
	assert.NotContains(t, lines[0], "streamgate.decision", "no gate, no decision")
}

func TestAccessLogCountsLinesAfterClose(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	var out strings.Builder
	al := proxy.NewAccessLog(proxy.AccessLogOptions{Writer: &out, Registerer: reg})
	h := al.Handler(http.HandlerFunc(okOrigin))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/before.ts", nil))
	require.NoError(t, al.Close(context.Background()))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/after.ts", nil))
	assert.Equal(t, 1, strings.Count(out.String(), "\n"), "the line queued before Close is written")
	assert.Contains(t, out.String(), "/before.ts")
	assert.Equal(t, 1.0, proxytest.MetricValue(t, reg, "streamgate_access_log_dropped_total"), "the line after Close is counted as dropped")
}
