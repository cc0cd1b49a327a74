package proxy_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/proxytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const alice = "X-User-Id: alice\r\nX-Session-Id: tv"

// TestConnectionNamingIdentityRefused: ReverseProxy deletes what Connection
// names, so a request naming an identity header, the limit header,
// Authorization or Cookie would reach the origin with another identity than
// the one admitted. It is refused before anything is stored.
func TestConnectionNamingIdentityRefused(t *testing.T) {
	t.Parallel()
	g := newHardGate(t, okOrigin, hardOptions{limitHeader: "X-Plan"})
	for _, tc := range []struct{ name, connection string }{
		{"the user header", "close, X-User-Id"},
		{"the session header", "x-session-id"},
		{"the limit header", "keep-alive, X-Plan"},
		{"authorization", "Authorization"},
		{"cookie", " cookie , close"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := g.raw(t, "GET /seg-1.ts HTTP/1.1", alice, "Connection: "+tc.connection)
			p := proxytest.AssertProblem(t, resp, body, http.StatusBadRequest)
			assert.Contains(t, p["detail"], "Connection")
		})
	}
	assert.Zero(t, g.origin.hits.Load(), "nothing reached the origin")
	assert.Empty(t, g.sessionsOf(t, "alice"), "nothing was stored")
	assert.Equal(t, 5.0, proxytest.MetricValue(t, g.reg, "streamgate_invalid_requests_total", "reason", "connection_identity"))

	resp, body := g.raw(t, "GET /seg-1.ts HTTP/1.1", alice, "Connection: close")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	last := g.origin.lastSeen()
	assert.Equal(t, "alice", last.Header.Get("X-User-Id"), "the origin sees the admitted identity")
	assert.Equal(t, "tv", last.Header.Get("X-Session-Id"))
}

// TestDotSegmentsRefused: a . or .. segment, raw or percent-encoded, would
// climb out of -upstream's path at the origin.
func TestDotSegmentsRefused(t *testing.T) {
	t.Parallel()
	g := newHardGate(t, okOrigin, hardOptions{basePath: "/vod"})
	for _, path := range []string{
		"/%2e%2e/internal/secret", "/%2E%2E/internal/secret", "/%2e%2E/x", "/.%2e/x", "/%2e./x",
		"/a/../b", "/./a", "/a/.", "/a/..", "/a/%2e/b", "/a/%2e", "/a%2f..%2fb", "/a/%252e%252e/b",
		"/a/..%5cb", `/a/..\b`, "/..;/internal/secret", "/a/..;x/b", "/a/.;/b", "/a/%2e%2e;/b",
	} {
		t.Run(path, func(t *testing.T) {
			resp, body := g.raw(t, "GET "+path+" HTTP/1.1", alice)
			p := proxytest.AssertProblem(t, resp, body, http.StatusBadRequest)
			assert.Contains(t, p["type"], "dot-segment")
		})
	}
	assert.Zero(t, g.origin.hits.Load(), "nothing reached the origin")
	assert.Empty(t, g.sessionsOf(t, "alice"), "nothing was stored")

	for _, path := range []string{"/a/..b/c", "/a/.hidden", "/b../c", "/%2e%2ex", "/a/b;..", "/a/...", "/a/%2e%2e%2e"} {
		resp, body := g.raw(t, "GET "+path+" HTTP/1.1", alice)
		assert.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
	}
	assert.Equal(t, "/vod/a/...", g.origin.lastSeen().Path, "the path stays under -upstream's")
}

// TestSegmentDressedAsManifestNeedsASession: a manifest needs no session
// id, so a segment's path that an origin cuts before a ".m3u8" ending (at
// path parameters, a decoded "?" or "#", or NUL) must not pass for one:
// every device could fetch segments without a slot.
func TestSegmentDressedAsManifestNeedsASession(t *testing.T) {
	t.Parallel()
	g := newHardGate(t, okOrigin, hardOptions{})
	paths := []string{"/v/seg-1.ts;.m3u8", "/v/seg-1.ts;x=.mpd", "/v/seg-1.ts%3F.m3u8", "/v/seg-1.ts%23.mpd", "/v/seg-1.ts%00.m3u8", "/v/seg-1.ts%00/x.m3u8",
		// for an origin that decodes twice, and one that takes what follows a file for path info
		"/v/seg-1.ts%253B.m3u8", "/v/seg-1.ts%253F.mpd", "/v/seg-1.ts%2523.m3u8", "/v/seg-1.ts%2500.m3u8", "/v/seg-1.ts/.m3u8", "/v/seg-1.ts%2F.mpd"}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			resp, body := g.raw(t, "GET "+path+" HTTP/1.1", "X-User-Id: alice")
			p := proxytest.AssertProblem(t, resp, body, http.StatusBadRequest)
			assert.Contains(t, p["detail"], "no session id")
		})
	}
	assert.Zero(t, g.origin.hits.Load(), "nothing reached the origin")
	assert.Equal(t, float64(len(paths)), proxytest.MetricValue(t, g.reg, "streamgate_invalid_requests_total", "reason", "missing_session"))

	resp, body := g.raw(t, "GET /v/master.m3u8 HTTP/1.1", "X-User-Id: alice")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a manifest still needs no session: %s", body)
}

// TestIdentityLookAlikesDropped: when the gate sets the identity (token
// mode), a header that reads as an identity header once its underscores
// are dashes never reaches the origin, which may map both to one CGI
// variable; other underscored headers do.
func TestIdentityLookAlikesDropped(t *testing.T) {
	t.Parallel()
	g := newHardGate(t, okOrigin, hardOptions{limitHeader: "X-Plan", hardening: proxy.Hardening{SetIdentity: true}})
	resp, body := g.raw(t, "GET /seg-1.ts HTTP/1.1", alice, "X_User_Id: mallory", "x_session-id: other", "X_PLAN: 99", "X_Trace_Id: kept")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	seen := g.origin.lastSeen().Header
	for name := range seen {
		if strings.Contains(name, "_") {
			assert.NotContains(t, []string{"X-USER-ID", "X-SESSION-ID", "X-PLAN"}, strings.ToUpper(strings.ReplaceAll(name, "_", "-")),
				"%s reached the origin", name)
		}
	}
	assert.Equal(t, "kept", seen.Get("X_Trace_Id"))
	assert.Equal(t, []string{"alice"}, seen.Values("X-User-Id"))
}

// TestReservedPathsRefused: under /_streamgate/ only the two control
// endpoints answer; nothing else there starts a session or reaches the origin.
func TestReservedPathsRefused(t *testing.T) {
	t.Parallel()
	g := newHardGate(t, okOrigin, hardOptions{})
	for _, path := range []string{
		"/_streamgate/session/", "//_streamgate/session", "///_streamgate/heartbeat", "/_streamgate/other",
		"/_streamgate", "/_streamgate/", "/_STREAMGATE/session", "/%5Fstreamgate/x", "/_streamgate%2fx",
	} {
		t.Run(path, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
				resp, body := g.raw(t, method+" "+path+" HTTP/1.1", alice, "Content-Length: 0")
				proxytest.AssertProblem(t, resp, body, http.StatusNotFound)
			}
		})
	}
	assert.Zero(t, g.origin.hits.Load(), "nothing reached the origin")
	assert.Empty(t, g.sessionsOf(t, "alice"), "no session started")

	resp, body := g.raw(t, "POST /_streamgate/heartbeat HTTP/1.1", alice, "Content-Length: 0")
	assert.Equal(t, http.StatusNoContent, resp.StatusCode, string(body))
	resp, body = g.raw(t, "DELETE /_streamgate/session HTTP/1.1", alice)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode, string(body))
}

// TestUpgradesRefused: no tunnel may outlive its session, so no connection
// is upgraded; an h2c offer is ignored, as HTTP allows.
func TestUpgradesRefused(t *testing.T) {
	t.Parallel()
	g := newHardGate(t, okOrigin, hardOptions{})
	for _, tc := range []struct {
		name, method string
		headers      []string
	}{
		{"websocket", "GET", []string{"Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="}},
		{"another protocol", "GET", []string{"Connection: upgrade", "Upgrade: foo/2"}},
		{"h2c with another", "GET", []string{"Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c, websocket", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"}},
		{"upgrade without connection", "GET", []string{"Upgrade: websocket"}},
		{"connect", "CONNECT", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := tc.method + " /live/seg-1.ts HTTP/1.1"
			if tc.method == http.MethodConnect {
				line = "CONNECT 127.0.0.1:1 HTTP/1.1"
			}
			resp, body := g.raw(t, line, append([]string{alice}, tc.headers...)...)
			p := proxytest.AssertProblem(t, resp, body, http.StatusBadRequest)
			assert.Contains(t, p["type"], "upgrade-refused")
		})
	}
	assert.Zero(t, g.origin.hits.Load(), "nothing reached the origin")
	assert.Empty(t, g.sessionsOf(t, "alice"), "nothing was stored")

	for _, conn := range []string{"Upgrade, HTTP2-Settings", "Upgrade", "keep-alive, Upgrade, HTTP2-Settings"} {
		resp, body := g.raw(t, "GET /live/seg-1.ts HTTP/1.1", alice, "Connection: "+conn, "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA")
		require.Equal(t, http.StatusOK, resp.StatusCode, "an h2c offer is ignored: %s", body)
		assert.Equal(t, "HTTP/1.1", resp.Proto)
		assert.Empty(t, resp.Header.Get("Upgrade"))
		last := g.origin.lastSeen()
		assert.Empty(t, last.Header.Values("Upgrade"), "no Upgrade reaches the origin")
		assert.Empty(t, last.Header.Values("Http2-Settings"), "no HTTP2-Settings reaches the origin")
		assert.NotContains(t, last.Header.Get("Connection"), "pgrade")
	}
}

// TestCacheControlMadePrivate: a cache in front of the gate must never
// serve one user's admitted answer to another.
func TestCacheControlMadePrivate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, origin string
		shared       bool
		want         string
	}{
		{"absent", "", false, "private"},
		{"a day for everyone", "public, max-age=86400", false, "private, max-age=86400"},
		{"shared max-age", "max-age=60, s-maxage=600, must-revalidate", false, "private, max-age=60, must-revalidate"},
		{"field-qualified private", `private="Set-Cookie, X-A", max-age=5`, false, "private, max-age=5"},
		{"quoted commas kept", `no-cache="A, B", max-age=5`, false, `private, no-cache="A, B", max-age=5`},
		{"no-store", "no-store", false, "private, no-store"},
		{"already private", "private, max-age=10", false, "private, max-age=10"},
		{"-shared-cache keeps it", "public, max-age=86400, s-maxage=3600", true, "public, max-age=86400, s-maxage=3600"},
		{"-shared-cache absent", "", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newHardGate(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.origin != "" {
					w.Header().Set("Cache-Control", tc.origin)
				}
				w.Header().Set("Surrogate-Control", "max-age=600")
				okOrigin(w, r)
			}, hardOptions{sharedCache: tc.shared})
			resp, body := g.raw(t, "GET /seg-1.ts HTTP/1.1", alice)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			assert.Equal(t, tc.want, resp.Header.Get("Cache-Control"))
			if !tc.shared {
				assert.Empty(t, resp.Header.Get("Surrogate-Control"))
			}
		})
	}
}

// TestLimitAnswerListsAtMost16 keeps a refusal small for a plan of many
// streams, with active still the true count.
func TestLimitAnswerListsAtMost16(t *testing.T) {
	t.Parallel()
	g := newHardGate(t, okOrigin, hardOptions{limit: 40})
	for i := range 40 {
		resp, body := g.raw(t, "GET /seg-1.ts HTTP/1.1", "X-User-Id: big", "X-Session-Id: s"+strconv.Itoa(i))
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	}
	resp, body := g.raw(t, "GET /seg-1.ts HTTP/1.1", "X-User-Id: big", "X-Session-Id: one-more")
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, string(body))
	var p struct {
		Active   int              `json:"active"`
		Limit    int              `json:"limit"`
		Sessions []map[string]any `json:"sessions"`
	}
	require.NoError(t, json.Unmarshal(body, &p))
	assert.Equal(t, 40, p.Active)
	assert.Equal(t, 40, p.Limit)
	assert.Len(t, p.Sessions, 16)
}
