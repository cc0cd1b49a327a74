package proxy_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/tokenauth"
)

// jwtTestKeys are generated once per test binary: an RSA key takes a while,
// and every test that needs one may share it.
type jwtTestKeys struct {
	rsa, rsa2 *rsa.PrivateKey
	ec        *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
	secret    []byte
}

var jwtKeys = sync.OnceValue(func() jwtTestKeys {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	var k jwtTestKeys
	var err error
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	k.secret = make([]byte, 32)
	_, err = rand.Read(k.secret)
	must(err)
	// The secret file is read with its trailing line break trimmed, so a
	// random last byte of '\n' or '\r' would shorten it: printable bytes only.
	for i, b := range k.secret {
		k.secret[i] = 'A' + b%58
	}
	return k
})

// jwtClock is a clock the JWT tests move by hand.
type jwtClock struct{ now atomic.Int64 }

func newJWTClock() *jwtClock {
	c := &jwtClock{}
	c.now.Store(time.Now().UnixNano())
	return c
}

func (c *jwtClock) Now() time.Time          { return time.Unix(0, c.now.Load()) }
func (c *jwtClock) Advance(d time.Duration) { c.now.Add(int64(d)) }

// mint signs claims with key, naming kid in the header when it is not empty.
func mint(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// claimsFor are valid claims for user and session at now, for an hour.
func claimsFor(now time.Time, user, session string) jwt.MapClaims {
	return jwt.MapClaims{"sub": user, "sid": session, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

func writeTestFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// jwtOrigin is a real HTTP origin that serves fixed bodies by path and counts
// the requests it sees.
type jwtOrigin struct {
	*httptest.Server
	hits  atomic.Int64
	mu    sync.Mutex
	last  *http.Request
	paths map[string]bool
}

func newJWTOrigin(t testing.TB, h http.HandlerFunc) *jwtOrigin {
	o := &jwtOrigin{paths: map[string]bool{}}
	if h == nil {
		h = func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "video/mp2t")
			_, _ = io.WriteString(w, "segment-bytes")
		}
	}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		o.mu.Lock()
		o.last = r.Clone(r.Context())
		o.paths[r.URL.Path] = true
		o.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

// jwtGate is the proxy listener as run() builds it with -identity jwt (or
// header with -limit-header), on a real socket in front of a real origin.
type jwtGate struct {
	URL      string
	origin   *jwtOrigin
	identity identity.Identifier
	memory   *limiter.Memory
	reg      *prometheus.Registry
	clock    *jwtClock
	client   *http.Client
}

type jwtGateOptions struct {
	jwt     *tokenauth.JWTOptions // nil: header identity
	header  identity.HeaderIdentity
	limit   int
	store   limiter.Store
	handler http.HandlerFunc
}

func newJWTGate(t testing.TB, opts jwtGateOptions) *jwtGate {
	t.Helper()
	g := &jwtGate{origin: newJWTOrigin(t, opts.handler), reg: prometheus.NewRegistry(), clock: newJWTClock()}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := opts.store
	if store == nil {
		m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: time.Minute, MaxUsers: 1000, Clock: g.clock.Now, SweepInterval: -1})
		require.NoError(t, err)
		t.Cleanup(func() { _ = m.Close() })
		store, g.memory = m, m
	}
	if opts.jwt != nil {
		o := *opts.jwt
		if o.Now == nil {
			o.Now = g.clock.Now
		}
		if o.Logger == nil {
			o.Logger = logger
		}
		o.Registerer = g.reg
		id, err := tokenauth.NewJWTIdentity(o)
		require.NoError(t, err)
		t.Cleanup(func() { _ = id.Close() })
		g.identity = id
	} else {
		g.identity = opts.header
	}
	if opts.limit == 0 {
		opts.limit = 3
	}
	metrics := proxy.NewMetrics(g.reg, nil)
	gate := proxy.Gate(proxy.GateOptions{Store: store, Identity: g.identity, Limit: opts.limit,
		FailurePolicy: "open", Metrics: metrics, Logger: logger})
	u, err := url.Parse(g.origin.URL)
	require.NoError(t, err)
	up := proxy.NewUpstream(proxy.UpstreamOptions{URL: u, HeaderTimeout: 5 * time.Second, Metrics: metrics, Logger: logger,
		RewritePlaylists: opts.jwt != nil})
	t.Cleanup(up.Transport.(*http.Transport).CloseIdleConnections)
	h := proxy.Handler(logger, gate, up)
	srv := httptest.NewUnstartedServer(h)
	srv.Config = proxy.NewServer(h, logger)
	srv.Start()
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	g.client = &http.Client{Transport: tr}
	return g
}

// get sends a GET of path with the token as a bearer header (empty: none)
// and returns the response with its body read.
func (g *jwtGate) get(t testing.TB, path, token string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.URL+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return g.do(t, req)
}

func (g *jwtGate) do(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := g.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

// problemOf decodes a problem answer.
func problemOf(t testing.TB, resp *http.Response, body []byte) map[string]any {
	t.Helper()
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), "body: %s", body)
	var p map[string]any
	require.NoError(t, json.Unmarshal(body, &p))
	return p
}

// gatheredValue is the value of one counter or gauge series of reg; 0 when
// the series does not exist.
func gatheredValue(t testing.TB, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
				}
				if !found {
					continue metrics
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}
