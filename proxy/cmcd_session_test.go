package proxy_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/proxy/proxytest"
	"github.com/streamgate/streamgate/proxy/tokenauth"
)

// sessionIDs lists the ids of a user's active sessions in the memory store.
func sessionIDs(t *testing.T, g *gateway, user string) []string {
	t.Helper()
	sessions, err := g.memory.List(context.Background(), user)
	require.NoError(t, err)
	ids := make([]string, len(sessions))
	for i, s := range sessions {
		ids[i] = s.ID
	}
	return ids
}

func TestCMCDSessionIDInHeaderMode(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("s", 129)
	tests := []struct {
		name    string
		path    string
		header  http.Header
		noCMCD  bool
		status  int
		reason  string   // of a refusal
		session []string // the sessions held afterwards
	}{
		{name: "sid in the CMCD-Session header", path: "/vod/seg-1.ts",
			header: http.Header{"Cmcd-Session": {`sid="phone-1",cid="film"`}}, status: 200, session: []string{"phone-1"}},
		{name: "sid in the CMCD query parameter", path: "/vod/seg-1.ts?CMCD=" + url.QueryEscape(`ot=v,sid="tv-7"`),
			status: 200, session: []string{"tv-7"}},
		{name: "the session header wins over the sid", path: "/vod/seg-1.ts",
			header: http.Header{"X-Session-Id": {"hdr"}, "Cmcd-Session": {`sid="cmcd"`}}, status: 200, session: []string{"hdr"}},
		{name: "a sid too long is malformed", path: "/vod/seg-1.ts",
			header: http.Header{"Cmcd-Session": {`sid="` + long + `"`}}, status: 400, reason: "malformed_session"},
		{name: "a sid with a space is malformed", path: "/vod/seg-1.ts",
			header: http.Header{"Cmcd-Session": {`sid="a b"`}}, status: 400, reason: "malformed_session"},
		{name: "CMCD without sid", path: "/vod/seg-1.ts",
			header: http.Header{"Cmcd-Object": {`ot=v,d=4000`}}, status: 400, reason: "missing_session"},
		{name: "-cmcd=false ignores the sid", path: "/vod/seg-1.ts", noCMCD: true,
			header: http.Header{"Cmcd-Session": {`sid="phone-1"`}}, status: 400, reason: "missing_session"},
		{name: "a manifest without any session id passes without a slot", path: "/vod/master.m3u8",
			status: 200, session: []string{}},
		{name: "an MPD in capitals too", path: "/vod/MANIFEST.MPD", status: 200, session: []string{}},
		{name: "a manifest with a sid takes its slot", path: "/vod/master.m3u8?CMCD=" + url.QueryEscape(`sid="p"`),
			status: 200, session: []string{"p"}},
		{name: "the heartbeat needs a session id", path: "/_streamgate/heartbeat", status: 400, reason: "missing_session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, okOrigin, gatewayOptions{noCMCD: tt.noCMCD})
			method := http.MethodGet
			if strings.HasPrefix(tt.path, "/_streamgate/") {
				method = http.MethodPost
			}
			req := g.request(t, method, tt.path, "alice", "")
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, body := g.do(t, req)
			if tt.reason != "" {
				proxytest.AssertProblem(t, resp, body, tt.status)
				assert.Zero(t, g.origin.hits.Load(), "never proxied")
				assert.Equal(t, 1.0, proxytest.MetricValue(t, g.reg, "streamgate_invalid_requests_total", "reason", tt.reason))
				return
			}
			require.Equal(t, tt.status, resp.StatusCode, "body: %s", body)
			assert.ElementsMatch(t, tt.session, sessionIDs(t, g, "alice"))
			u, err := url.Parse(tt.path)
			require.NoError(t, err)
			assert.Equal(t, u.RawQuery, g.origin.lastSeen().RawQuery, "the CMCD query reaches the origin unchanged")
		})
	}
}

func TestManifestWithoutSessionPassesAUserAtTheLimit(t *testing.T) {
	t.Parallel()
	g := newGateway(t, okOrigin, gatewayOptions{limit: 1})
	resp, _ := g.get(t, "/vod/seg-1.ts", "alice", "tv")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, _ = g.get(t, "/vod/master.m3u8", "alice", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the first manifest of a stock player takes no slot")
	resp, body := g.get(t, "/vod/seg-1.ts?CMCD="+url.QueryEscape(`sid="phone"`), "alice", "")
	proxytest.AssertProblem(t, resp, body, http.StatusTooManyRequests)
	assert.Equal(t, []string{"tv"}, sessionIDs(t, g, "alice"))
}

func TestCMCDSessionIDInTokenMode(t *testing.T) {
	t.Parallel()
	k := proxytest.TestKeys()
	g := proxytest.NewGate(t, proxytest.GateOptions{JWT: &tokenauth.JWTOptions{SecretFile: proxytest.WriteFile(t, "secret", k.Secret),
		SessionClaim: "sid", Param: "token", CMCD: true}})
	noSession := proxytest.ClaimsFor(g.Clock.Now(), "carol", "")
	delete(noSession, "sid")
	token := proxytest.Mint(t, jwt.SigningMethodHS256, k.Secret, "", noSession)

	resp, body := g.Get(t, "/vod/master.m3u8", token)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a manifest passes without a session id: %s", body)
	assert.Zero(t, g.Memory.Stats().ActiveSessions)

	resp, body = g.Get(t, "/vod/seg-1.ts", token)
	assert.Equal(t, "missing_session", problemReason(t, g, resp, body))

	req, err := http.NewRequest(http.MethodGet, g.URL+"/vod/seg-1.ts", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("CMCD-Session", `sid="laptop"`)
	resp, _ = g.Do(t, req)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	sessions, err := g.Memory.List(context.Background(), "carol")
	require.NoError(t, err)
	require.Len(t, sessions, 1)
	assert.Equal(t, "laptop", sessions[0].ID, "the sid of a token without the claim")

	// The claim, when present, wins; the cached token does not keep the sid.
	withClaim := proxytest.Mint(t, jwt.SigningMethodHS256, k.Secret, "", proxytest.ClaimsFor(g.Clock.Now(), "carol", "claimed"))
	req.Header.Set("Authorization", "Bearer "+withClaim)
	resp, _ = g.Do(t, req)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	sessions, err = g.Memory.List(context.Background(), "carol")
	require.NoError(t, err)
	assert.Len(t, sessions, 2)
}

// problemReason is the streamgate_invalid_requests_total reason a 400 was
// counted under, checked against the answer's status.
func problemReason(t *testing.T, g *proxytest.Gate, resp *http.Response, body []byte) string {
	t.Helper()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "body: %s", body)
	proxytest.ProblemOf(t, resp, body)
	for _, r := range []string{"missing_session", "malformed_session"} {
		if proxytest.MetricValue(t, g.Reg, "streamgate_invalid_requests_total", "reason", r) > 0 {
			return r
		}
	}
	return ""
}
