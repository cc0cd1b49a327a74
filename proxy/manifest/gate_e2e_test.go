package manifest_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/demo"
	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/proxytest"
	"github.com/streamgate/streamgate/proxy/tokenauth"
)

// needFFmpeg returns ffmpeg's path; without it the test is skipped on a
// developer's machine and fails in CI, where .ci/deps installs it.
func needFFmpeg(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal("ffmpeg is not installed: make deps installs it (Debian package ffmpeg)")
	}
	return p
}

// hit is one request as a side saw it, and the status the gate answered.
type hit struct {
	path, rawQuery string
	status         int
}

// hitLog records requests from many goroutines.
type hitLog struct {
	mu   sync.Mutex
	hits []hit
}

func (l *hitLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		l.mu.Lock()
		l.hits = append(l.hits, hit{path: r.URL.Path, rawQuery: r.URL.RawQuery, status: sw.status})
		l.mu.Unlock()
	})
}

func (l *hitLog) all() []hit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]hit(nil), l.hits...)
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// demoGate is the proxy listener as run() builds it, in front of the demo
// origin, with what the gate and the origin each saw recorded.
type demoGate struct {
	URL            string
	gate, origin   *hitLog
	secret         []byte
	memory         *limiter.Memory
	client         *http.Client
	tokenParamName string
}

type demoGateOptions struct {
	jwt  bool // -identity jwt with an HS256 secret; else header identity
	mint bool // -mint-sessions
}

func newDemoGate(t *testing.T, opts demoGateOptions) *demoGate {
	t.Helper()
	g := &demoGate{gate: &hitLog{}, origin: &hitLog{}, secret: []byte(strings.Repeat("k", 32)), tokenParamName: "token"}
	o, err := demo.New(demo.Options{})
	require.NoError(t, err)
	originSrv := httptest.NewServer(g.origin.wrap(o))
	t.Cleanup(originSrv.Close)

	logger := slog.New(slog.DiscardHandler)
	g.memory, err = limiter.NewMemory(limiter.MemoryOptions{TTL: time.Minute, MaxUsers: 100, SweepInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.memory.Close() })
	var id identity.Identifier = identity.NewHeaderIdentity("X-User-Id", "X-Session-Id").WithSessionParam(opts.mint)
	if opts.jwt {
		j, err := tokenauth.NewJWTIdentity(tokenauth.JWTOptions{SecretFile: proxytest.WriteFile(t, "secret", g.secret),
			SessionClaim: "sid", Cookie: "streamgate_token", Param: g.tokenParamName, SessionParam: opts.mint})
		require.NoError(t, err)
		t.Cleanup(func() { _ = j.Close() })
		id = j
	}
	metrics := proxy.NewMetrics(prometheus.NewRegistry(), nil)
	gate := proxy.Gate(proxy.GateOptions{Store: g.memory, Identity: id, Limit: 3,
		Metrics: metrics, Logger: logger, MintSessions: opts.mint})
	u, err := url.Parse(originSrv.URL)
	require.NoError(t, err)
	up := proxy.NewUpstream(proxy.UpstreamOptions{URL: u, HeaderTimeout: 5 * time.Second, Metrics: metrics, Logger: logger,
		RewritePlaylists: opts.jwt || opts.mint, MintSessions: opts.mint})
	t.Cleanup(up.CloseIdleConnections)
	h := g.gate.wrap(proxy.Handler(logger, gate, up))
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

func (g *demoGate) token(t *testing.T, user, session string) string {
	t.Helper()
	claims := jwt.MapClaims{"sub": user, "exp": time.Now().Add(time.Hour).Unix()}
	if session != "" {
		claims["sid"] = session
	}
	return proxytest.Mint(t, jwt.SigningMethodHS256, g.secret, "", claims)
}

// play has ffmpeg decode the first four seconds of pathAndQuery through the
// gate, sending the given extra headers ("Name: value\r\n" each).
func (g *demoGate) play(t *testing.T, ffmpeg, pathAndQuery, headers string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	args := []string{"-nostdin", "-v", "error"}
	if headers != "" {
		args = append(args, "-headers", headers)
	}
	args = append(args, "-i", g.URL+pathAndQuery, "-t", "4", "-f", "null", "-")
	return exec.CommandContext(ctx, ffmpeg, args...).CombinedOutput()
}

var templateAttr = regexp.MustCompile(`(initialization|media)="([^"]*)"`)

// TestDASHTokenRewriting: an MPD answered to a query-token player carries
// the token on every template, placeholders kept, with a corrected length,
// no referrer and no shared caching; the origin never sees the token.
func TestDASHTokenRewriting(t *testing.T) {
	t.Parallel()
	g := newDemoGate(t, demoGateOptions{jwt: true})
	token := g.token(t, "ivy", "tv")
	req, err := http.NewRequest(http.MethodGet, g.URL+"/vod/manifest.mpd?token="+token, nil)
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, body := doWith(t, g.client, req)
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
	assert.Equal(t, strconv.Itoa(len(body)), resp.Header.Get("Content-Length"))
	assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
	assert.Equal(t, "private, no-store", resp.Header.Get("Cache-Control"))
	assert.Empty(t, resp.Header.Get("Content-Encoding"))

	attrs := templateAttr.FindAllStringSubmatch(string(body), -1)
	require.Len(t, attrs, 4, "%s", body)
	for _, a := range attrs {
		assert.Contains(t, a[2], "$RepresentationID$/", "placeholders kept")
		assert.True(t, strings.HasSuffix(a[2], "?token="+token), "%s", a[0])
	}
	assert.Contains(t, string(body), "seg-$Number$.m4s?token=")

	for _, h := range g.origin.all() {
		assert.NotContains(t, h.rawQuery, "token", "the token never reaches the origin: %s", h.path)
	}
}

// TestDASHTokenFFmpeg: ffmpeg, which can set no header, plays a DASH stream
// whose token came in the query: every request it makes carries the token,
// and none reaches the origin with it.
func TestDASHTokenFFmpeg(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	g := newDemoGate(t, demoGateOptions{jwt: true})
	token := g.token(t, "jack", "laptop")
	out, err := g.play(t, ffmpeg, "/vod/manifest.mpd?token="+token, "")
	require.NoError(t, err, "%s", out)

	gateHits, originHits := g.gate.all(), g.origin.all()
	segments := 0
	for _, h := range gateHits {
		q, err := url.ParseQuery(h.rawQuery)
		require.NoError(t, err)
		assert.Equal(t, token, q.Get("token"), "every request carried the token: %s", h.path)
		assert.Contains(t, []int{http.StatusOK, http.StatusPartialContent}, h.status, h.path)
		if strings.HasSuffix(h.path, ".m4s") {
			segments++
		}
	}
	assert.GreaterOrEqual(t, segments, 2, "ffmpeg fetched media segments: %v", gateHits)
	assert.Len(t, originHits, len(gateHits), "everything admitted reached the origin")
	for _, h := range originHits {
		assert.Empty(t, h.rawQuery, "the token is removed before the origin: %s", h.path)
	}
}

// TestMintedSessionsFFmpeg: players that bring only a user (ffmpeg with
// X-User-Id alone) each get a session of their own from the gate: three
// play, the fourth is refused, and sg_session never reaches the origin.
func TestMintedSessionsFFmpeg(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	g := newDemoGate(t, demoGateOptions{mint: true})
	for i := range 3 {
		out, err := g.play(t, ffmpeg, "/vod/master.m3u8", "X-User-Id: kim\r\n")
		require.NoError(t, err, "player %d: %s", i+1, out)
	}
	sessions := map[string]bool{}
	for _, h := range g.gate.all() {
		q, err := url.ParseQuery(h.rawQuery)
		require.NoError(t, err)
		if h.path == "/vod/master.m3u8" {
			assert.Empty(t, q.Get(identity.SessionParam), "the master came without a session")
			continue
		}
		sid := q.Get(identity.SessionParam)
		require.NotEmpty(t, sid, "every request after the master carries its minted session: %s", h.path)
		assert.GreaterOrEqual(t, len(sid), 16, "at least 96 bits")
		sessions[sid] = true
	}
	assert.Len(t, sessions, 3, "one session per player")

	before := len(g.gate.all())
	out, err := g.play(t, ffmpeg, "/vod/master.m3u8", "X-User-Id: kim\r\n")
	require.Error(t, err, "the fourth player is refused: %s", out)
	refused := false
	for _, h := range g.gate.all()[before:] {
		refused = refused || h.status == http.StatusTooManyRequests
	}
	assert.True(t, refused, "the gate answered 429")

	for _, h := range g.origin.all() {
		assert.NotContains(t, h.rawQuery, identity.SessionParam, "sg_session never reaches the origin: %s", h.path)
	}
}

// TestMintedSessionsManifests: a manifest without a session id gets a fresh
// one on every same-host URI, HLS and DASH, without taking a slot; a
// request carrying it takes the slot.
func TestMintedSessionsManifests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path string
		jwt        bool
	}{
		{name: "HLS header user", path: "/vod/master.m3u8"},
		{name: "DASH header user", path: "/vod/manifest.mpd"},
		{name: "DASH query token without sid", path: "/vod/manifest.mpd", jwt: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newDemoGate(t, demoGateOptions{mint: true, jwt: tt.jwt})
			user := "lee"
			do := func(method, pathAndQuery string) (*http.Response, []byte) {
				req, err := http.NewRequest(method, g.URL+pathAndQuery, nil)
				require.NoError(t, err)
				if !tt.jwt {
					req.Header.Set("X-User-Id", user)
				}
				return doWith(t, g.client, req)
			}
			get := func(pathAndQuery string) (*http.Response, []byte) { return do(http.MethodGet, pathAndQuery) }
			query := ""
			if tt.jwt {
				query = "?token=" + g.token(t, user, "")
			}
			resp, body := get(tt.path + query)
			require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
			assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
			assert.Equal(t, "private, no-store", resp.Header.Get("Cache-Control"))
			assert.Equal(t, strconv.Itoa(len(body)), resp.Header.Get("Content-Length"))
			sids := regexp.MustCompile(identity.SessionParam+`=([A-Za-z0-9_-]+)`).FindAllStringSubmatch(string(body), -1)
			require.NotEmpty(t, sids, "%s", body)
			sid := sids[0][1]
			for _, m := range sids {
				assert.Equal(t, sid, m[1], "one session per manifest")
			}
			if tt.jwt {
				assert.Equal(t, len(sids), strings.Count(string(body), "token="), "the token goes along: %s", body)
			}
			active := func() int {
				list, err := g.memory.List(t.Context(), user)
				require.NoError(t, err)
				return len(list)
			}
			assert.Zero(t, active(), "the mint takes no slot")

			// A second fetch mints another session.
			_, again := get(tt.path + query)
			assert.NotContains(t, string(again), sid)

			sep := "?"
			if query != "" {
				sep = query + "&"
			}
			resp, body = get("/vod/180p/init.mp4" + sep + identity.SessionParam + "=" + sid)
			require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
			assert.Equal(t, 1, active(), "the first request carrying it takes the slot")
			for _, h := range g.origin.all() {
				assert.NotContains(t, h.rawQuery, identity.SessionParam)
				assert.NotContains(t, h.rawQuery, "token")
			}

			// A page that is done ends the session it was minted, named as
			// its requests name it.
			resp, body = do(http.MethodDelete, "/_streamgate/session"+sep+identity.SessionParam+"="+sid)
			require.Equal(t, http.StatusNoContent, resp.StatusCode, "body: %s", body)
			assert.Zero(t, active(), "the DELETE freed the slot")

			resp, _ = get("/vod/180p/init.mp4" + query)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "media without any session id")
			resp, _ = get("/vod/180p/init.mp4?" + identity.SessionParam + "=a&" + identity.SessionParam + "=b")
			if !tt.jwt {
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "sg_session twice")
			}
		})
	}
}

func doWith(t *testing.T, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

// TestMintedLiveDASHReloads: a live MPD reloaded from its Location keeps the
// session it was minted with, instead of minting, and taking, one more.
func TestMintedLiveDASHReloads(t *testing.T) {
	t.Parallel()
	g := newDemoGate(t, demoGateOptions{mint: true})
	get := func(rawURL string) (*http.Response, []byte) {
		req, err := http.NewRequest(http.MethodGet, rawURL, nil)
		require.NoError(t, err)
		req.Header.Set("X-User-Id", "mia")
		return doWith(t, g.client, req)
	}
	first := g.URL + "/live/manifest.mpd"
	resp, body := get(first)
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
	loc := regexp.MustCompile(`<Location>([^<]*)</Location>`).FindStringSubmatch(string(body))
	require.NotNil(t, loc, "%s", body)
	base, err := url.Parse(first)
	require.NoError(t, err)
	ref, err := url.Parse(strings.ReplaceAll(loc[1], "&amp;", "&"))
	require.NoError(t, err)
	reload := base.ResolveReference(ref)
	sid := reload.Query().Get(identity.SessionParam)
	require.NotEmpty(t, sid)
	assert.Equal(t, "/live/manifest.mpd", reload.Path)

	for range 3 {
		resp, body = get(reload.String())
		require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
		assert.Contains(t, string(body), identity.SessionParam+"="+sid, "the reload keeps the session")
		assert.Contains(t, string(body), "<Location>./manifest.mpd?"+identity.SessionParam+"="+sid+"</Location>", "and names itself again")
	}
	list, err := g.memory.List(t.Context(), "mia")
	require.NoError(t, err)
	assert.Len(t, list, 1, "one player, one slot")
}
