package proxy_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/proxytest"
	"github.com/streamgate/streamgate/proxy/tokenauth"
)

const (
	pageOrigin  = "https://player.example"
	otherOrigin = "https://evil.example"
)

// corsRig is the proxy listener as run() builds it with -cors-origins, on a
// real socket in front of a real origin.
type corsRig struct {
	URL    string
	origin *origin
	secret []byte
	client *http.Client
}

type corsRigOptions struct {
	origins []string
	jwt     bool // -identity jwt with an HS256 secret; else header identity with X-Plan-Limit
	handler http.HandlerFunc
}

func newCORSRig(t *testing.T, opts corsRigOptions) *corsRig {
	t.Helper()
	if opts.handler == nil {
		opts.handler = okOrigin
	}
	rig := &corsRig{origin: newOrigin(t, opts.handler), secret: []byte(strings.Repeat("s", 32))}
	logger := slog.New(slog.DiscardHandler)
	store, err := limiter.NewMemory(limiter.MemoryOptions{TTL: time.Minute, MaxUsers: 100, SweepInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	var id identity.Identifier
	requestHeaders := []string{"X-User-Id", "X-Session-Id"}
	if opts.jwt {
		j, err := tokenauth.NewJWTIdentity(tokenauth.JWTOptions{SecretFile: proxytest.WriteFile(t, "secret", rig.secret),
			SessionClaim: "sid", Cookie: "streamgate_token", Param: "token"})
		require.NoError(t, err)
		t.Cleanup(func() { _ = j.Close() })
		id = j
	} else {
		id = identity.NewHeaderIdentity("X-User-Id", "X-Session-Id").WithLimitHeader("X-Plan-Limit")
		requestHeaders = append(requestHeaders, "X-Plan-Limit")
	}
	metrics := proxy.NewMetrics(prometheus.NewRegistry(), nil)
	gate := proxy.Gate(proxy.GateOptions{Store: store, Identity: id, Limit: 3, Metrics: metrics, Logger: logger})
	u, err := url.Parse(rig.origin.URL)
	require.NoError(t, err)
	up := proxy.NewUpstream(proxy.UpstreamOptions{URL: u, HeaderTimeout: 5 * time.Second, Metrics: metrics, Logger: logger, RewritePlaylists: opts.jwt})
	t.Cleanup(up.CloseIdleConnections)
	cors := proxy.CORS(proxy.CORSOptions{Origins: opts.origins, RequestHeaders: requestHeaders})
	rig.URL = proxytest.StartServer(t, proxy.Handler(logger, gate, up, cors), logger).URL
	rig.client = proxytest.NewClient(t)
	return rig
}

func (rig *corsRig) token(t *testing.T, user, session string) string {
	t.Helper()
	now := time.Now()
	return proxytest.Mint(t, jwt.SigningMethodHS256, rig.secret, "", jwt.MapClaims{"sub": user, "sid": session, "exp": now.Add(time.Hour).Unix()})
}

// send sends a request from a page on origin (empty: no Origin header) with
// the headers given as name, value pairs.
func (rig *corsRig) send(t *testing.T, method, path, origin string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, rig.URL+path, nil)
	require.NoError(t, err)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return proxytest.Do(t, rig.client, req)
}

func preflightHeaders(requested string) []string {
	return []string{"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", requested}
}

func TestCORSOffIsNoWrapper(t *testing.T) {
	t.Parallel()
	next := &discardHandler{}
	assert.Same(t, next, proxy.CORS(proxy.CORSOptions{})(next), "off: next itself, no wrapper")

	rig := newCORSRig(t, corsRigOptions{})
	resp, _ := rig.send(t, http.MethodOptions, "/v/seg.ts", pageOrigin, preflightHeaders("x-user-id")...)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "without -cors-origins a preflight is an ordinary request")
	assert.Empty(t, resp.Header.Values("Access-Control-Allow-Origin"))
}

func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		origins     []string
		jwt         bool
		requested   string
		wantOrigin  string
		credentials bool
		headers     []string // must be allowed
	}{
		{name: "header identity", origins: []string{"http://other.example", pageOrigin}, requested: "x-user-id,x-session-id",
			wantOrigin: pageOrigin, credentials: true,
			headers: []string{"X-User-Id", "X-Session-Id", "X-Plan-Limit", "Range", "CMCD-Session", "CMCD-Object", "CMCD-Request", "CMCD-Status"}},
		{name: "bearer token", origins: []string{pageOrigin}, jwt: true, requested: "authorization",
			wantOrigin: pageOrigin, credentials: true, headers: []string{"Authorization", "Range"}},
		{name: "any origin", origins: []string{"*"}, requested: "x-user-id", wantOrigin: "*",
			headers: []string{"X-User-Id", "X-Session-Id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rig := newCORSRig(t, corsRigOptions{origins: tt.origins, jwt: tt.jwt})
			resp, body := rig.send(t, http.MethodOptions, "/v/master.m3u8", pageOrigin, preflightHeaders(tt.requested)...)
			require.Equal(t, http.StatusNoContent, resp.StatusCode, "body: %s", body)
			assert.Zero(t, rig.origin.hits.Load(), "a preflight is never proxied")
			h := resp.Header
			assert.Equal(t, []string{tt.wantOrigin}, h.Values("Access-Control-Allow-Origin"))
			assert.Equal(t, "GET, HEAD, POST, DELETE, OPTIONS", h.Get("Access-Control-Allow-Methods"))
			allowed := strings.Split(h.Get("Access-Control-Allow-Headers"), ", ")
			for _, want := range tt.headers {
				assert.Contains(t, allowed, want)
			}
			assert.NotEmpty(t, h.Get("Access-Control-Max-Age"))
			if tt.credentials {
				assert.Equal(t, "true", h.Get("Access-Control-Allow-Credentials"))
				assert.Contains(t, h.Values("Vary"), "Origin")
			} else {
				assert.Empty(t, h.Get("Access-Control-Allow-Credentials"), "credentials are never allowed to *")
				assert.Empty(t, h.Values("Vary"))
			}
		})
	}
}

func TestCORSAnswers(t *testing.T) {
	t.Parallel()
	rig := newCORSRig(t, corsRigOptions{origins: []string{pageOrigin}})
	tests := []struct {
		name       string
		method     string
		path       string
		headers    []string
		wantStatus int
	}{
		{name: "proxied", method: http.MethodGet, path: "/v/seg.ts", headers: []string{"X-User-Id", "alice", "X-Session-Id", "s1"}, wantStatus: http.StatusOK},
		{name: "no identity", method: http.MethodGet, path: "/v/seg.ts", wantStatus: http.StatusUnauthorized},
		{name: "no session", method: http.MethodGet, path: "/v/seg.ts", headers: []string{"X-User-Id", "alice"}, wantStatus: http.StatusBadRequest},
		{name: "heartbeat", method: http.MethodPost, path: proxy.HeartbeatPath, headers: []string{"X-User-Id", "alice", "X-Session-Id", "s1"}, wantStatus: http.StatusNoContent},
		{name: "session ended", method: http.MethodDelete, path: proxy.SessionPath, headers: []string{"X-User-Id", "bob", "X-Session-Id", "s1"}, wantStatus: http.StatusNoContent},
		{name: "wrong method", method: http.MethodGet, path: proxy.HeartbeatPath, headers: []string{"X-User-Id", "alice", "X-Session-Id", "s1"}, wantStatus: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := rig.send(t, tt.method, tt.path, pageOrigin, tt.headers...)
			require.Equal(t, tt.wantStatus, resp.StatusCode, "body: %s", body)
			assert.Equal(t, []string{pageOrigin}, resp.Header.Values("Access-Control-Allow-Origin"))
			assert.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))
			assert.Equal(t, "Retry-After, Content-Length, Content-Range", resp.Header.Get("Access-Control-Expose-Headers"))
			assert.Contains(t, resp.Header.Values("Vary"), "Origin")
		})
	}
}

// TestCORSLimitReadable: the page can tell "limit reached" from a network
// failure: the 429 carries the headers that let it read the body and
// Retry-After.
func TestCORSLimitReadable(t *testing.T) {
	t.Parallel()
	rig := newCORSRig(t, corsRigOptions{origins: []string{pageOrigin}})
	for _, s := range []string{"s1", "s2", "s3"} {
		resp, _ := rig.send(t, http.MethodGet, "/v/seg.ts", pageOrigin, "X-User-Id", "alice", "X-Session-Id", s)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	hits := rig.origin.hits.Load()
	resp, body := rig.send(t, http.MethodGet, "/v/seg.ts", pageOrigin, "X-User-Id", "alice", "X-Session-Id", "s4")
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, hits, rig.origin.hits.Load(), "nothing reached the origin")
	assert.Equal(t, pageOrigin, resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, resp.Header.Get("Access-Control-Expose-Headers"), "Retry-After")
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	assert.Contains(t, string(body), `"limit":3`)
}

func TestCORSTokens(t *testing.T) {
	t.Parallel()
	rig := newCORSRig(t, corsRigOptions{origins: []string{pageOrigin}, jwt: true})
	tests := []struct {
		name    string
		headers func(token string) []string
	}{
		{name: "bearer", headers: func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }},
		// A cookie goes only with credentials: the answer must allow them.
		{name: "cookie with credentials", headers: func(tok string) []string { return []string{"Cookie", "streamgate_token=" + tok} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := rig.send(t, http.MethodGet, "/v/seg.ts", pageOrigin, tt.headers(rig.token(t, "carol", strings.ReplaceAll(tt.name, " ", "-")))...)
			require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
			assert.Equal(t, []string{pageOrigin}, resp.Header.Values("Access-Control-Allow-Origin"))
			assert.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))

			resp, _ = rig.send(t, http.MethodGet, "/v/seg.ts", pageOrigin, tt.headers("not-a-token")...)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			assert.Equal(t, pageOrigin, resp.Header.Get("Access-Control-Allow-Origin"), "a 401 is readable too")
			assert.NotEmpty(t, resp.Header.Get("WWW-Authenticate"))
		})
	}
}

func TestCORSDisallowedOrigin(t *testing.T) {
	t.Parallel()
	rig := newCORSRig(t, corsRigOptions{origins: []string{pageOrigin}})
	resp, _ := rig.send(t, http.MethodOptions, "/v/seg.ts", otherOrigin, preflightHeaders("x-user-id")...)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "not answered 204: handled as any request")
	resp2, _ := rig.send(t, http.MethodGet, "/v/seg.ts", otherOrigin, "X-User-Id", "dave", "X-Session-Id", "s1")
	assert.Equal(t, http.StatusOK, resp2.StatusCode)
	resp3, _ := rig.send(t, http.MethodGet, "/v/seg.ts", "", "X-User-Id", "dave", "X-Session-Id", "s1")
	assert.Equal(t, http.StatusOK, resp3.StatusCode)
	for _, r := range []*http.Response{resp, resp2, resp3} {
		for k := range r.Header {
			assert.False(t, strings.HasPrefix(k, "Access-Control-"), "no CORS header for a foreign origin or none: %s", k)
		}
	}
}

// TestCORSOriginsOwnHeadersWin: an origin that answers CORS itself keeps its
// answer; a second Access-Control-Allow-Origin would make the browser refuse
// both.
func TestCORSOriginsOwnHeadersWin(t *testing.T) {
	t.Parallel()
	rig := newCORSRig(t, corsRigOptions{origins: []string{pageOrigin}, handler: func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Expose-Headers", "Content-Length")
		w.Header().Set("Vary", "Accept-Encoding, Origin")
		_, _ = io.WriteString(w, "x")
	}})
	resp, _ := rig.send(t, http.MethodGet, "/v/seg.ts", pageOrigin, "X-User-Id", "erin", "X-Session-Id", "s1")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"*"}, resp.Header.Values("Access-Control-Allow-Origin"))
	assert.Equal(t, []string{"Content-Length"}, resp.Header.Values("Access-Control-Expose-Headers"))
}

func TestCORSNoAllocationWithoutOrigin(t *testing.T) {
	h := proxy.CORS(proxy.CORSOptions{Origins: []string{pageOrigin}})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/v/seg.ts", nil)
	w := &discardWriter{h: http.Header{}}
	assert.Zero(t, testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }))
}

type discardHandler struct{}

func (*discardHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}
