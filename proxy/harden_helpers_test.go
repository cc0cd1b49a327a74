package proxy_test

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/proxytest"
)

// hardOptions configure a hardGate.
type hardOptions struct {
	hardening   proxy.Hardening
	basePath    string        // put after the origin's URL as -upstream's path
	ttl         time.Duration // default testTTL, on the wall clock
	limit       int           // default 3
	limitHeader string
	sharedCache bool
	identity    identity.Identifier // default header identity
	rules       limiter.Rules
}

// hardGate is the proxy listener as run() builds it, with the hardening
// options, on a real socket in front of a recording origin, with a store on
// the wall clock.
type hardGate struct {
	URL    string
	addr   string
	origin *origin
	memory *limiter.Memory
	reg    *prometheus.Registry
	client *http.Client
}

func newHardGate(t *testing.T, originHandler http.HandlerFunc, opts hardOptions) *hardGate {
	t.Helper()
	g := &hardGate{origin: newOrigin(t, originHandler), reg: prometheus.NewRegistry()}
	if opts.ttl == 0 {
		opts.ttl = testTTL
	}
	if opts.limit == 0 {
		opts.limit = 3
	}
	m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: opts.ttl, MaxUsers: 1000, SweepInterval: -1, Rules: opts.rules})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	g.memory = m
	u, err := url.Parse(g.origin.URL + opts.basePath)
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)
	metrics := proxy.NewMetrics(g.reg, m)
	id := opts.identity
	if id == nil {
		id = identity.NewHeaderIdentity("X-User-Id", "X-Session-Id").WithLimitHeader(opts.limitHeader)
		opts.hardening.LimitHeader = opts.limitHeader
	}
	gate := proxy.Gate(proxy.GateOptions{Store: m, Identity: id, Limit: opts.limit,
		Metrics: metrics, Logger: logger, Hardening: opts.hardening})
	up := proxy.NewUpstream(proxy.UpstreamOptions{URL: u, HeaderTimeout: 5 * time.Second, Metrics: metrics, Logger: logger,
		SharedCache: opts.sharedCache})
	t.Cleanup(up.CloseIdleConnections)
	srv := proxytest.StartServer(t, proxy.Handler(logger, gate, up), logger)
	g.URL, g.addr = srv.URL, srv.Listener.Addr().String()
	g.client = proxytest.NewClient(t)
	return g
}

// raw sends a request written by hand on a fresh connection, so that no
// client library cleans its path or headers, and returns the answer.
func (g *hardGate) raw(t *testing.T, requestLine string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", g.addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	msg := requestLine + "\r\nHost: " + g.addr + "\r\n" + strings.Join(append(headers, ""), "\r\n") + "\r\n"
	_, err = c.Write([]byte(msg))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	body := make([]byte, 0, 512)
	buf := make([]byte, 512)
	for {
		n, err := resp.Body.Read(buf)
		body = append(body, buf[:n]...)
		if err != nil {
			break
		}
	}
	return resp, body
}

// sessionsOf lists the user's active sessions in the store.
func (g *hardGate) sessionsOf(t *testing.T, user string) []limiter.Session {
	t.Helper()
	s, err := g.memory.List(t.Context(), user)
	require.NoError(t, err)
	return s
}
