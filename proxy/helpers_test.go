package proxy_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/limitertest"
	"github.com/streamgate/streamgate/limiter/storetest"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/proxytest"
)

const testTTL = time.Minute

// testClock is a clock the tests move by hand.
type testClock = storetest.Clock

func newTestClock() *testClock {
	return storetest.NewClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
}

// seen is what the origin received.
type seen struct {
	Method, Path, RawQuery, Host string
	Header                       http.Header
	Body                         []byte
}

// origin is a real HTTP origin on a loopback socket that counts and records
// what reaches it.
type origin struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	last seen
}

func newOrigin(t *testing.T, h http.HandlerFunc) *origin {
	t.Helper()
	o := &origin{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		o.mu.Lock()
		o.last = seen{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Host: r.Host, Header: r.Header.Clone(), Body: body}
		o.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *origin) lastSeen() seen {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

// okOrigin answers every request 200: a manifest path with a small manifest,
// anything else with a short body (proxytest.OKOrigin).
func okOrigin(w http.ResponseWriter, r *http.Request) { proxytest.OKOrigin(w, r) }

type gatewayOptions struct {
	// upstream overrides the origin's URL (e.g. a closed port, a base path).
	upstream *url.URL
	// headerTimeout is -upstream-timeout; default 15s.
	headerTimeout time.Duration
	// limit is -max-streams; default 3.
	limit int
	// store replaces the memory store (fault injection).
	store limiter.Store
	// noCMCD is -cmcd=false.
	noCMCD bool
	// rules are the memory store's session rules (-max-lease…); the zero
	// value is the TTL-only rule.
	rules limiter.Rules
	// mint is -mint-sessions.
	mint bool
}

// gateway is the proxy listener as run() builds it, on a real socket, in
// front of a real origin.
type gateway struct {
	URL    string
	origin *origin
	store  limiter.Store
	memory *limiter.Memory
	clock  *testClock
	reg    *prometheus.Registry
	logs   *limitertest.SyncBuffer
	client *http.Client
	up     proxy.Upstream
}

func newGateway(t *testing.T, originHandler http.HandlerFunc, opts gatewayOptions) *gateway {
	t.Helper()
	g := &gateway{origin: newOrigin(t, originHandler), clock: newTestClock(), reg: prometheus.NewRegistry(), logs: &limitertest.SyncBuffer{}}
	if opts.store != nil {
		g.store = opts.store
	} else {
		m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: testTTL, MaxUsers: 1000, Clock: g.clock.Now, SweepInterval: -1, Rules: opts.rules})
		require.NoError(t, err)
		t.Cleanup(func() { _ = m.Close() })
		g.store, g.memory = m, m
	}
	upstream := opts.upstream
	if upstream == nil {
		u, err := url.Parse(g.origin.URL)
		require.NoError(t, err)
		upstream = u
	}
	if opts.headerTimeout == 0 {
		opts.headerTimeout = 15 * time.Second
	}
	if opts.limit == 0 {
		opts.limit = 3
	}
	logger := slog.New(slog.NewJSONHandler(g.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	stats, _ := g.store.(limiter.StatsReporter)
	metrics := proxy.NewMetrics(g.reg, stats)
	gate := proxy.Gate(proxy.GateOptions{
		Store: g.store, Identity: identity.NewHeaderIdentity("X-User-Id", "X-Session-Id").WithCMCD(!opts.noCMCD).WithSessionParam(opts.mint),
		MintSessions: opts.mint, Limit: opts.limit, Metrics: metrics, Logger: logger,
	})
	up := proxy.NewUpstream(proxy.UpstreamOptions{URL: upstream, HeaderTimeout: opts.headerTimeout, Metrics: metrics, Logger: logger,
		RewritePlaylists: opts.mint, MintSessions: opts.mint})
	g.up = up
	srv := proxytest.StartServer(t, proxy.Handler(logger, gate, up), logger)
	t.Cleanup(up.CloseIdleConnections)
	g.URL = srv.URL
	g.client = proxytest.NewClient(t)
	return g
}

// request builds a request for the gateway with the given identity; an empty
// user or session leaves that header out.
func (g *gateway) request(t *testing.T, method, path, user, session string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, g.URL+path, nil)
	require.NoError(t, err)
	if user != "" {
		req.Header.Set("X-User-Id", user)
	}
	if session != "" {
		req.Header.Set("X-Session-Id", session)
	}
	return req
}

// do sends req and returns the response with its whole body read.
func (g *gateway) do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	return proxytest.Do(t, g.client, req)
}

// get is a GET of path as user and session.
func (g *gateway) get(t *testing.T, path, user, session string) (*http.Response, []byte) {
	t.Helper()
	return g.do(t, g.request(t, http.MethodGet, path, user, session))
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 2*time.Millisecond, what)
}

// slowBodyOrigin answers a path that starts with /stall never (until stall
// is released) and any other with "start-" at once and "end" once body is
// released: a body that outlasts the header timeout.
func slowBodyOrigin(stall, body *hold) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/stall") {
			stall.wait(r.Context())
			return
		}
		_, _ = io.WriteString(w, "start-")
		w.(http.Flusher).Flush()
		body.wait(r.Context())
		_, _ = io.WriteString(w, "end")
	}
}

// rawOrigin writes head on the bare connection, waits for h, then writes
// tail: answers net/http would not write itself.
func rawOrigin(h *hold, head, tail string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString(head)
		_ = buf.Flush()
		h.wait(r.Context())
		_, _ = buf.WriteString(tail)
		_ = buf.Flush()
	}
}

// hold is an origin handler's leash: it blocks until the test releases it
// or the request goes away. Tests defer Release, which runs before the
// cleanups, so a failing test never leaves the origin's Close waiting for a
// blocked handler.
type hold struct {
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func newHold() *hold {
	return &hold{arrived: make(chan struct{}, 16), release: make(chan struct{})}
}

func (h *hold) Release() { h.once.Do(func() { close(h.release) }) }

// wait is called by the origin: it signals arrival and blocks.
func (h *hold) wait(ctx context.Context) {
	h.arrived <- struct{}{}
	select {
	case <-h.release:
	case <-ctx.Done():
	}
}

// waitArrived blocks the test until the origin holds a request.
func (h *hold) waitArrived(t *testing.T) {
	t.Helper()
	select {
	case <-h.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the origin never received the request")
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
