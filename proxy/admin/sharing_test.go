package admin_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy/admin"
)

// TestAdminShowsTheNetworksOfEachSession plays through the gate from client
// addresses our own proxy vouches for (X-Forwarded-For from 127.0.0.1 under
// -trusted-proxies 127.0.0.1/32): a session used from two /24 networks at
// once shows 2 and ranks its user by shared sessions; addresses within one
// /24 are one network.
func TestAdminShowsTheNetworksOfEachSession(t *testing.T) {
	t.Parallel()
	r := newConsoleRig(t, rigOptions{token: "share-token", trustLoopback: true})
	plays := []struct{ user, session, client string }{
		{"alice", "tv", "203.0.113.5"},
		{"alice", "tv", "198.51.100.7"}, // a second network, at the same time
		{"alice", "phone", "203.0.113.5"},
		{"alice", "phone", "203.0.113.99"}, // the same /24
		{"bob", "tv", "192.0.2.1"},
		{"bob", "tv", "192.0.2.2"},
		{"bob", "laptop", "2001:db8:1:1::1"},
		{"bob", "laptop", "2001:db8:1:2::1"}, // the same /56
		{"carol", "tv", "192.0.2.1"},
		{"carol", "tv", "2001:db8:2::1"},
		{"carol", "phone", "198.51.100.1"},
		{"carol", "phone", "203.0.113.1"},
	}
	for _, p := range plays {
		require.Equal(t, http.StatusOK, r.playFrom(t, p.user, p.session, "TestPlayer/1.0", p.client), "%+v", p)
	}

	networks := func(user string) map[string]int {
		resp, body := r.admin(t, http.MethodGet, "/v1/users/"+user+"/streams")
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		out := map[string]int{}
		for _, s := range decode[admin.UserStreams](t, body).Sessions {
			out[s.SessionID] = s.Networks
		}
		return out
	}
	assert.Equal(t, map[string]int{"tv": 2, "phone": 1}, networks("alice"))
	assert.Equal(t, map[string]int{"tv": 1, "laptop": 1}, networks("bob"))
	assert.Equal(t, map[string]int{"tv": 2, "phone": 2}, networks("carol"))

	_, v := loadOpenAPI(t)
	for path, want := range map[string]string{"/v1/users/carol/streams": `"networks":2`, "/v1/top?by=shared": `"byShared":[{`} {
		req := mustRequest(t, http.MethodGet, r.adminURL+path)
		req.Header.Set("Authorization", "Bearer "+r.token)
		resp, body := r.send(t, req)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		require.Contains(t, string(body), want, "what is validated holds a shared session or its ranking")
		resp.Body = io.NopCloser(bytes.NewReader(body))
		ok, errs := v.ValidateHttpResponse(req, resp)
		for _, e := range errs {
			t.Errorf("%s answered not as documented: %s (%s)", path, e.Message, e.Reason)
		}
		assert.True(t, ok, path)
	}

	tests := []struct {
		name, query string
		status      int
		want        []limiter.UserCount
	}{
		{name: "by shared", query: "?by=shared", status: 200,
			want: []limiter.UserCount{{UserID: "carol", Count: 2}, {UserID: "alice", Count: 1}}},
		{name: "by shared, n", query: "?by=shared&n=1", status: 200, want: []limiter.UserCount{{UserID: "carol", Count: 2}}},
		{name: "by active leaves it out", query: "?by=active", status: 200},
		{name: "by default leaves it out", query: "", status: 200},
		{name: "by something else", query: "?by=networks", status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := r.admin(t, http.MethodGet, "/v1/top"+tt.query)
			require.Equal(t, tt.status, resp.StatusCode, string(body))
			if tt.status != http.StatusOK {
				assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
				return
			}
			top := decode[admin.TopUsers](t, body)
			assert.Equal(t, tt.want, top.ByShared)
			assert.NotEmpty(t, top.ByActive, "the ranking by sessions is still there")
		})
	}
}

// TestAdminCountsOneNetworkWithoutTrustedProxies: a client cannot make its
// session look shared by writing X-Forwarded-For when no proxy is trusted.
func TestAdminCountsOneNetworkWithoutTrustedProxies(t *testing.T) {
	t.Parallel()
	r := newConsoleRig(t, rigOptions{token: "share-token"})
	for _, client := range []string{"203.0.113.5", "198.51.100.7"} {
		require.Equal(t, http.StatusOK, r.playFrom(t, "alice", "tv", "TestPlayer/1.0", client))
	}
	resp, body := r.admin(t, http.MethodGet, "/v1/users/alice/streams")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	v := decode[admin.UserStreams](t, body)
	require.Len(t, v.Sessions, 1)
	assert.Equal(t, 1, v.Sessions[0].Networks, "the peer's loopback network only")
	_, body = r.admin(t, http.MethodGet, "/v1/top?by=shared")
	assert.Empty(t, decode[admin.TopUsers](t, body).ByShared)
}
