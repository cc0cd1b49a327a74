package proxytest

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/storetest"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/tokenauth"
)

// Gate is the proxy listener as run() builds it with -identity jwt (or
// header with -limit-header), on a real socket in front of a real origin.
type Gate struct {
	URL      string
	Origin   *Origin
	Identity identity.Identifier
	Memory   *limiter.Memory // nil when GateOptions.Store was given
	Reg      *prometheus.Registry
	Clock    *storetest.Clock // the memory store's and the token checks' clock
	Client   *http.Client
}

// GateOptions say which gate NewGate builds.
type GateOptions struct {
	JWT     *tokenauth.JWTOptions // nil: header identity
	Header  identity.HeaderIdentity
	Limit   int              // default 3
	Store   limiter.Store    // default a memory store on Gate.Clock
	Handler http.HandlerFunc // the origin's; default a fixed segment
}

// NewGate starts a gate and its origin; both close when the test ends.
func NewGate(t testing.TB, opts GateOptions) *Gate {
	t.Helper()
	g := &Gate{Origin: NewOrigin(t, opts.Handler), Reg: prometheus.NewRegistry(), Clock: storetest.NewClock(time.Now())}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := opts.Store
	if store == nil {
		m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: time.Minute, MaxUsers: 1000, Clock: g.Clock.Now, SweepInterval: -1})
		require.NoError(t, err)
		t.Cleanup(func() { _ = m.Close() })
		store, g.Memory = m, m
	}
	if opts.JWT != nil {
		o := *opts.JWT
		if o.Now == nil {
			o.Now = g.Clock.Now
		}
		if o.Logger == nil {
			o.Logger = logger
		}
		o.Registerer = g.Reg
		id, err := tokenauth.NewJWTIdentity(o)
		require.NoError(t, err)
		t.Cleanup(func() { _ = id.Close() })
		g.Identity = id
	} else {
		g.Identity = opts.Header
	}
	if opts.Limit == 0 {
		opts.Limit = 3
	}
	metrics := proxy.NewMetrics(g.Reg, nil)
	gate := proxy.Gate(proxy.GateOptions{Store: store, Identity: g.Identity, Limit: opts.Limit,
		Metrics: metrics, Logger: logger})
	u, err := url.Parse(g.Origin.URL)
	require.NoError(t, err)
	up := proxy.NewUpstream(proxy.UpstreamOptions{URL: u, HeaderTimeout: 5 * time.Second, Metrics: metrics, Logger: logger,
		RewritePlaylists: opts.JWT != nil})
	t.Cleanup(up.CloseIdleConnections)
	h := proxy.Handler(logger, gate, up)
	srv := httptest.NewUnstartedServer(h)
	srv.Config = proxy.NewServer(h, logger)
	srv.Start()
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	g.Client = &http.Client{Transport: tr}
	return g
}

// Get sends a GET of path with the token as a bearer header (empty: none)
// and returns the response with its body read.
func (g *Gate) Get(t testing.TB, path, token string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.URL+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return g.Do(t, req)
}

// Do sends req through the gate and returns the response with its body read.
func (g *Gate) Do(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	return Do(t, g.Client, req)
}
