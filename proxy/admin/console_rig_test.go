package admin_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/storetest"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/admin"
	"github.com/streamgate/streamgate/proxy/identity"
)

// consoleRig is a gate and its admin listener wired as run() wires them, on
// real loopback sockets, in front of a real origin: what the console, the
// OpenAPI document and the browser tests talk to.
type consoleRig struct {
	proxyURL, adminURL string
	token              string
	memory             *limiter.Memory
	store              *switchableStore
	monitor            *admin.Monitor
	clock              *testClock
	originHits         atomic.Int64
	client             *http.Client
}

type rigOptions struct {
	token string
	// realTime runs the store and monitor on the wall clock (browser tests);
	// otherwise tests move rig.clock by hand.
	realTime bool
	// trustLoopback believes X-Forwarded-For from 127.0.0.1, as
	// -trusted-proxies 127.0.0.1/32 does, so that tests can play from
	// several client networks (rig.playFrom).
	trustLoopback bool
}

func newConsoleRig(t *testing.T, opts rigOptions) *consoleRig {
	t.Helper()
	r := &consoleRig{token: opts.token, clock: storetest.NewClock(time.Date(2026, 3, 4, 20, 0, 0, 0, time.UTC))}
	clock := r.clock.Now
	if opts.realTime {
		clock = time.Now
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		r.originHits.Add(1)
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		_, _ = io.WriteString(w, "#EXTM3U\n")
	}))
	t.Cleanup(origin.Close)
	originURL, err := url.Parse(origin.URL)
	require.NoError(t, err)

	m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: time.Minute, MaxUsers: 1000, Clock: clock, SweepInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	r.memory = m
	r.store = &switchableStore{Store: m}

	logger := slog.New(slog.DiscardHandler)
	reg := prometheus.NewRegistry()
	metrics := proxy.NewMetrics(reg, m)
	refusals := limiter.NewRefusals(limiter.RefusalsOptions{Clock: clock})
	r.monitor = admin.NewMonitor(admin.MonitorOptions{Metrics: metrics, Stats: m, Refusals: refusals, Top: m, Clock: clock})
	var hardening proxy.Hardening
	if opts.trustLoopback {
		hardening.Client.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}
	gate := proxy.Gate(proxy.GateOptions{
		Store: r.store, Identity: identity.NewHeaderIdentity("X-User-Id", "X-Session-Id"),
		Limit: 3, Metrics: metrics, Logger: logger, Refusals: refusals,
		Hardening: hardening,
	})
	up := proxy.NewUpstream(proxy.UpstreamOptions{URL: originURL, HeaderTimeout: 5 * time.Second, Metrics: metrics, Logger: logger})
	t.Cleanup(up.CloseIdleConnections)
	r.proxyURL = serveRig(t, proxy.Handler(logger, gate, up), logger)

	admin := admin.NewAdmin(admin.AdminOptions{
		Store: r.store, Gatherer: reg, Token: opts.token, Limit: 3, Health: admin.NewHealth(r.store, time.Second), Logger: logger,
		Version: "v9.9.9-test", StoreKind: "memory", SessionTTL: time.Minute, Stats: m, Monitor: r.monitor, Clock: clock,
		Settings: []admin.Setting{
			{Name: "max-streams", Value: "3", Default: true, Help: "concurrent playback sessions per user"},
			{Name: "admin-token", Value: "•••••• (set)", Default: false},
			{Name: "store-failure", Value: "open", Default: true},
		},
	})
	r.adminURL = serveRig(t, proxy.Recover(logger)(admin), logger)

	if opts.realTime {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); r.monitor.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	r.client = &http.Client{Transport: tr}
	return r
}

func serveRig(t *testing.T, h http.Handler, logger *slog.Logger) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config = proxy.NewServer(h, logger)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// play is a player's request through the gate; it returns the status.
func (r *consoleRig) play(t *testing.T, user, session, userAgent string) int {
	t.Helper()
	return r.playFrom(t, user, session, userAgent, "")
}

// playFrom is play from client address client, sent as X-Forwarded-For
// (believed with rigOptions.trustLoopback); "" sends none.
func (r *consoleRig) playFrom(t *testing.T, user, session, userAgent, client string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.proxyURL+"/master.m3u8", nil)
	require.NoError(t, err)
	if client != "" {
		req.Header.Set("X-Forwarded-For", client)
	}
	req.Header.Set("X-User-Id", user)
	req.Header.Set("X-Session-Id", session)
	req.Header.Set("User-Agent", userAgent)
	resp, _ := r.send(t, req)
	return resp.StatusCode
}

// admin calls the admin listener with the rig's token, if any.
func (r *consoleRig) admin(t *testing.T, method, path string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, r.adminURL+path, nil)
	require.NoError(t, err)
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	return r.send(t, req)
}

func (r *consoleRig) send(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := r.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

// switchableStore is the memory store with an outage switch: a real memory
// store cannot fail, and the console must show one plainly.
type switchableStore struct {
	limiter.Store
	down atomic.Bool
}

var errRigStoreDown = errors.New("dial tcp 10.0.0.7:6379: connect: connection refused")

func (s *switchableStore) Admit(ctx context.Context, req limiter.Request) (limiter.Decision, error) {
	if s.down.Load() {
		return limiter.Decision{}, errRigStoreDown
	}
	return s.Store.Admit(ctx, req)
}

func (s *switchableStore) End(ctx context.Context, userID, sessionID string, reason limiter.EndReason) (bool, error) {
	if s.down.Load() {
		return false, errRigStoreDown
	}
	return s.Store.End(ctx, userID, sessionID, reason)
}

func (s *switchableStore) EndAll(ctx context.Context, userID string, reason limiter.EndReason) (int, error) {
	if s.down.Load() {
		return 0, errRigStoreDown
	}
	return s.Store.EndAll(ctx, userID, reason)
}

func (s *switchableStore) List(ctx context.Context, userID string) ([]limiter.Session, error) {
	if s.down.Load() {
		return nil, errRigStoreDown
	}
	return s.Store.List(ctx, userID)
}

func (s *switchableStore) Ping(ctx context.Context) error {
	if s.down.Load() {
		return errRigStoreDown
	}
	return s.Store.Ping(ctx)
}
