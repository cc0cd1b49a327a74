package admin_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy/admin"
	"github.com/streamgate/streamgate/proxy/proxytest"
)

func loopbackAdmin(t *testing.T, token string) http.Handler {
	t.Helper()
	m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: testTTL, MaxUsers: 10, SweepInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return admin.NewAdmin(admin.AdminOptions{Store: m, Gatherer: prometheus.NewRegistry(), Token: token, Limit: 3,
		Health: admin.NewHealth(m, time.Second), Logger: slog.New(slog.DiscardHandler)})
}

// TestAdminWithoutTokenAnswersLoopbackOnly: an admin listener started
// without -admin-token, reachable on every interface, lists and ends
// sessions for localhost only.
func TestAdminWithoutTokenAnswersLoopbackOnly(t *testing.T) {
	t.Parallel()
	open := loopbackAdmin(t, "")
	guarded := loopbackAdmin(t, "s3cret")
	for _, tc := range []struct {
		name, method, path, remote, host, token string
		withToken                               bool
		want                                    int
	}{
		{"a foreign peer lists streams", "GET", "/v1/users/alice/streams", "192.0.2.7:5000", "localhost:9090", "", false, 403},
		{"a foreign peer ends streams", "DELETE", "/v1/users/alice/streams", "198.51.100.1:5000", "127.0.0.1:9090", "", false, 403},
		{"a foreign peer opens the console", "GET", "/", "10.1.2.3:5000", "localhost", "", false, 403},
		{"a foreign peer reads the overview", "GET", "/v1/overview", "[2001:db8::1]:5000", "[::1]:9090", "", false, 403},
		{"loopback with a foreign Host", "GET", "/v1/users/alice/streams", "127.0.0.1:5000", "evil.example:9090", "", false, 403},
		{"loopback with a rebound name", "GET", "/v1/overview", "[::1]:5000", "127.0.0.1.nip.io", "", false, 403},
		{"loopback, localhost", "GET", "/v1/users/alice/streams", "127.0.0.1:5000", "localhost:9090", "", false, 200},
		{"loopback, 127.0.0.1", "GET", "/v1/users/alice/streams", "127.0.0.1:5000", "127.0.0.1", "", false, 200},
		{"loopback v6, [::1]", "GET", "/v1/users/alice/streams", "[::1]:5000", "[::1]:9090", "", false, 200},
		{"a foreign peer's probe", "GET", "/healthz", "192.0.2.7:5000", "pod-ip:9090", "", false, 200},
		{"a foreign peer's readiness", "GET", "/readyz", "192.0.2.7:5000", "pod-ip:9090", "", false, 200},
		{"a foreign peer's scrape", "GET", "/metrics", "192.0.2.7:5000", "pod-ip:9090", "", false, 200},
		{"a foreign peer with the token", "GET", "/v1/users/alice/streams", "192.0.2.7:5000", "admin.example", "s3cret", true, 200},
		{"a foreign peer without the token", "GET", "/v1/users/alice/streams", "192.0.2.7:5000", "admin.example", "", true, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tc.method, "http://"+tc.host+tc.path, nil)
			r.RemoteAddr, r.Host = tc.remote, tc.host
			if tc.token != "" {
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			w := httptest.NewRecorder()
			h := open
			if tc.withToken {
				h = guarded
			}
			h.ServeHTTP(w, r)
			resp := w.Result()
			want := tc.want
			if want == 200 && tc.method == "DELETE" {
				want = 204
			}
			assert.Equal(t, want, resp.StatusCode, w.Body.String())
			if want == 403 {
				p := proxytest.AssertProblem(t, resp, w.Body.Bytes(), 403)
				assert.Contains(t, p["detail"], "-admin-token")
			}
		})
	}
}

// TestAdminForeignHostOverSocket: through a real socket, a request whose
// Host is not a loopback name is refused without a token and answered with it.
func TestAdminForeignHostOverSocket(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, token, send string
		want              int
	}{
		{"no token", "", "", http.StatusForbidden},
		{"with the token", "s3cret", "s3cret", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAdminServer(t, tc.token, nil)
			req, err := http.NewRequest(http.MethodGet, a.URL+"/v1/users/alice/streams", nil)
			require.NoError(t, err)
			req.Host = "streamgate.attacker.example"
			if tc.send != "" {
				req.Header.Set("Authorization", "Bearer "+tc.send)
			}
			resp, body := proxytest.Do(t, a.client, req)
			assert.Equal(t, tc.want, resp.StatusCode, string(body))
			resp, body = a.do(t, http.MethodGet, "/v1/users/alice/streams", tc.send)
			assert.Equal(t, http.StatusOK, resp.StatusCode, "localhost is answered: %s", body)
		})
	}
}
