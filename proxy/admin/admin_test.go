package admin_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/limitertest"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/admin"
	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/proxytest"
)

// adminServer is the admin listener as run() builds it, on a real socket.
type adminServer struct {
	URL    string
	store  limiter.Store
	clock  *testClock
	health *admin.Health
	reg    *prometheus.Registry
	client *http.Client
}

func newAdminServer(t *testing.T, token string, store limiter.Store) *adminServer {
	t.Helper()
	a := &adminServer{clock: newTestClock(), reg: prometheus.NewRegistry(), client: proxytest.NewClient(t)}
	if store == nil {
		m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: testTTL, MaxUsers: 1000, Clock: a.clock.Now, SweepInterval: -1})
		require.NoError(t, err)
		t.Cleanup(func() { _ = m.Close() })
		store = m
	}
	a.store = store
	stats, _ := store.(limiter.StatsReporter)
	proxy.NewMetrics(a.reg, stats)
	a.health = admin.NewHealth(store, time.Second)
	logger := slog.New(slog.DiscardHandler)
	h := proxy.Recover(logger)(admin.NewAdmin(admin.AdminOptions{
		Store: store, Gatherer: a.reg, Token: token, Limit: 3, Health: a.health, Logger: logger,
	}))
	a.URL = proxytest.StartServer(t, h, logger).URL
	return a
}

func (a *adminServer) do(t *testing.T, method, path, token string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, a.URL+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return proxytest.Do(t, a.client, req)
}

func (a *adminServer) admit(t *testing.T, user, session string) {
	t.Helper()
	d, err := a.store.Admit(context.Background(), limiter.Request{UserID: user, SessionID: session, Limit: 3})
	require.NoError(t, err)
	require.True(t, d.Admitted())
}

func TestAdminHealth(t *testing.T) {
	t.Parallel()
	a := newAdminServer(t, "", nil)

	resp, _ := a.do(t, http.MethodGet, "/healthz", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = a.do(t, http.MethodGet, "/readyz", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	a.health.Drain()
	resp, body := a.do(t, http.MethodGet, "/readyz", "")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "not ready once draining")
	assert.Contains(t, string(body), "shutting down")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	resp, _ = a.do(t, http.MethodGet, "/healthz", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "alive while it drains")
}

func TestAdminReadyzFollowsTheStore(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	store := &limitertest.FaultyStore{PingFunc: func(context.Context) error {
		if down.Load() {
			return limitertest.ErrStoreDown
		}
		return nil
	}}
	a := newAdminServer(t, "", store)
	resp, _ := a.do(t, http.MethodGet, "/readyz", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	down.Store(true)
	resp, body := a.do(t, http.MethodGet, "/readyz", "")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, string(body), "store unavailable")
	resp, _ = a.do(t, http.MethodGet, "/healthz", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a store outage does not make the process unhealthy")
}

func TestHealthReadyTimesOutASlowStore(t *testing.T) {
	t.Parallel()
	store := &limitertest.FaultyStore{PingFunc: func(ctx context.Context) error {
		<-ctx.Done() // a store that never answers, but honours its deadline as real ones do
		return ctx.Err()
	}}
	h := admin.NewHealth(store, 20*time.Millisecond)
	assert.ErrorIs(t, h.Ready(context.Background()), context.DeadlineExceeded)
}

// specMetrics are the metric names SPEC.md fixes.
var specMetrics = []string{
	"streamgate_admissions_total",
	"streamgate_rejections_total",
	"streamgate_invalid_requests_total",
	"streamgate_active_sessions",
	"streamgate_tracked_users",
	"streamgate_evicted_users_total",
	"streamgate_store_calls_total",
	"streamgate_store_errors_total",
	"streamgate_decision_duration_seconds",
}

func TestAdminMetrics(t *testing.T) {
	t.Parallel()
	a := newAdminServer(t, "secret-token", nil)
	a.admit(t, "user-with-a-secret-id", "session-with-a-secret-id")

	for _, name := range specMetrics {
		n, err := testutil.GatherAndCount(a.reg, name)
		require.NoError(t, err)
		assert.Positive(t, n, "%s is exported from the start", name)
	}
	problems, err := testutil.GatherAndLint(a.reg)
	require.NoError(t, err)
	assert.Empty(t, problems, "Prometheus naming conventions")

	resp, body := a.do(t, http.MethodGet, "/metrics", "") // open even with a token set
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"), resp.Header.Get("Content-Type"))
	text := string(body)
	for _, name := range specMetrics {
		assert.Contains(t, text, "\n# TYPE "+name+" ")
	}
	assert.Contains(t, text, `streamgate_admissions_total{result="new"} 0`)
	assert.Contains(t, text, `streamgate_rejections_total{reason="store_unavailable"} 0`)
	assert.Contains(t, text, "streamgate_active_sessions 1\n")
	assert.Contains(t, text, "streamgate_tracked_users 1\n")
	assert.NotContains(t, text, "secret-id", "no user or session id as a label value")
}

func TestAdminListStreams(t *testing.T) {
	t.Parallel()
	a := newAdminServer(t, "", nil)
	a.admit(t, "alice", "tv")
	a.clock.Advance(5 * time.Second)
	a.admit(t, "alice", "phone")
	a.clock.Advance(2 * time.Second)
	a.admit(t, "alice", "tv") // a heartbeat

	resp, body := a.do(t, http.MethodGet, "/v1/users/alice/streams", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var raw struct {
		UserID   string           `json:"userId"`
		Limit    int              `json:"limit"`
		Active   int              `json:"active"`
		Sessions []map[string]any `json:"sessions"`
	}
	require.NoError(t, json.Unmarshal(body, &raw), "%s", body)
	assert.Equal(t, "alice", raw.UserID)
	assert.Equal(t, 3, raw.Limit)
	assert.Equal(t, 2, raw.Active)
	require.Len(t, raw.Sessions, 2)

	start := newTestClock().Now()
	want := []struct {
		id                string
		started, lastSeen time.Time
	}{
		{"tv", start, start.Add(7 * time.Second)},
		{"phone", start.Add(5 * time.Second), start.Add(5 * time.Second)},
	}
	for i, w := range want {
		s := raw.Sessions[i]
		assert.Equal(t, w.id, s["sessionId"], "oldest first")
		assert.InDelta(t, 0, s["networks"], 0, "no client network was given")
		for field, at := range map[string]time.Time{"startedAt": w.started, "lastSeen": w.lastSeen, "expiresAt": w.lastSeen.Add(testTTL)} {
			v, _ := s[field].(string)
			assert.True(t, strings.HasSuffix(v, "Z"), "%s is UTC: %s", field, v)
			got, err := time.Parse(time.RFC3339, v)
			if assert.NoError(t, err, "%s is RFC 3339", field) {
				assert.True(t, at.Equal(got), "%s: %s, want %s", field, got, at)
			}
		}
	}
}

func TestAdminListStreamsOfAnUnknownUser(t *testing.T) {
	t.Parallel()
	a := newAdminServer(t, "", nil)
	resp, body := a.do(t, http.MethodGet, "/v1/users/nobody/streams", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"userId":"nobody","limit":3,"active":0,"sessions":[]}`, string(body))
}

func TestAdminEndStream(t *testing.T) {
	t.Parallel()
	a := newAdminServer(t, "", nil)
	a.admit(t, "alice", "tv")
	a.admit(t, "alice", "phone")

	resp, body := a.do(t, http.MethodDelete, "/v1/users/alice/streams/tv", "")
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Empty(t, body)
	resp, body = a.do(t, http.MethodDelete, "/v1/users/alice/streams/tv", "")
	proxytest.AssertProblem(t, resp, body, http.StatusNotFound)
	resp, body = a.do(t, http.MethodDelete, "/v1/users/nobody/streams/tv", "")
	proxytest.AssertProblem(t, resp, body, http.StatusNotFound)

	list, err := a.store.List(context.Background(), "alice")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "phone", list[0].ID)
}

func TestAdminEndAllStreams(t *testing.T) {
	t.Parallel()
	a := newAdminServer(t, "", nil)
	a.admit(t, "alice", "tv")
	a.admit(t, "alice", "phone")
	a.admit(t, "bob", "tv")

	resp, body := a.do(t, http.MethodDelete, "/v1/users/alice/streams", "")
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Empty(t, body)
	list, err := a.store.List(context.Background(), "alice")
	require.NoError(t, err)
	assert.Empty(t, list)
	list, err = a.store.List(context.Background(), "bob")
	require.NoError(t, err)
	assert.Len(t, list, 1, "other users keep theirs")

	resp, _ = a.do(t, http.MethodDelete, "/v1/users/nobody/streams", "")
	assert.Equal(t, http.StatusNoContent, resp.StatusCode, "a user with nothing to end")
}

func TestAdminRejectsMalformedIDs(t *testing.T) {
	t.Parallel()
	a := newAdminServer(t, "", nil)
	long := strings.Repeat("x", identity.MaxIDLength+1)
	for _, tt := range []struct{ name, method, path string }{
		{"a space in the user id", http.MethodGet, "/v1/users/a%20b/streams"},
		{"a user id too long", http.MethodGet, "/v1/users/" + long + "/streams"},
		{"a control character", http.MethodDelete, "/v1/users/a%01b/streams"},
		{"a session id too long", http.MethodDelete, "/v1/users/alice/streams/" + long},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := a.do(t, tt.method, tt.path, "")
			proxytest.AssertProblem(t, resp, body, http.StatusBadRequest)
		})
	}
}

func TestAdminStoreFailure(t *testing.T) {
	t.Parallel()
	store := &limitertest.FaultyStore{EndFunc: func() error { return limitertest.ErrStoreDown }}
	a := newAdminServer(t, "", store)
	resp, body := a.do(t, http.MethodDelete, "/v1/users/alice/streams/tv", "")
	proxytest.AssertProblem(t, resp, body, http.StatusServiceUnavailable)
}

func TestAdminToken(t *testing.T) {
	t.Parallel()
	const token = "s3cret-admin-token"
	a := newAdminServer(t, token, nil)
	a.admit(t, "alice", "tv")

	tests := []struct {
		name   string
		method string
		path   string
		auth   string // the whole Authorization header; empty for none
		status int
	}{
		{name: "list without a token", method: http.MethodGet, path: "/v1/users/alice/streams", status: 401},
		{name: "list with a wrong token", method: http.MethodGet, path: "/v1/users/alice/streams", auth: "Bearer wrong", status: 401},
		{name: "list with the token as a prefix", method: http.MethodGet, path: "/v1/users/alice/streams", auth: "Bearer " + token + "x", status: 401},
		{name: "list with another scheme", method: http.MethodGet, path: "/v1/users/alice/streams", auth: "Basic " + token, status: 401},
		{name: "list with an empty bearer", method: http.MethodGet, path: "/v1/users/alice/streams", auth: "Bearer ", status: 401},
		{name: "list with the token", method: http.MethodGet, path: "/v1/users/alice/streams", auth: "Bearer " + token, status: 200},
		{name: "the scheme is case-insensitive", method: http.MethodGet, path: "/v1/users/alice/streams", auth: "bearer " + token, status: 200},
		{name: "end all without a token", method: http.MethodDelete, path: "/v1/users/alice/streams", status: 401},
		{name: "end one without a token", method: http.MethodDelete, path: "/v1/users/alice/streams/tv", status: 401},
		{name: "an unknown path without a token", method: http.MethodGet, path: "/v1/unknown", status: 401},
		{name: "healthz is open", method: http.MethodGet, path: "/healthz", status: 200},
		{name: "readyz is open", method: http.MethodGet, path: "/readyz", status: 200},
		{name: "metrics is open", method: http.MethodGet, path: "/metrics", status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, a.URL+tt.path, nil)
			require.NoError(t, err)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, body := proxytest.Do(t, a.client, req)
			if tt.status == http.StatusUnauthorized {
				proxytest.AssertProblem(t, resp, body, http.StatusUnauthorized)
				assert.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer"))
				assert.NotContains(t, string(body), "alice", "nothing leaks to the unauthorised")
				return
			}
			assert.Equal(t, tt.status, resp.StatusCode)
		})
	}

	// The session survived every refused DELETE.
	list, err := a.store.List(context.Background(), "alice")
	require.NoError(t, err)
	assert.Len(t, list, 1)
}

func TestRequireTokenOff(t *testing.T) {
	t.Parallel()
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	srv := proxytest.StartServer(t, admin.RequireToken("")(next), slog.New(slog.DiscardHandler))
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, _ := proxytest.Do(t, proxytest.NewClient(t), req)
	assert.Equal(t, http.StatusTeapot, resp.StatusCode, "no token configured: the API is open")
}

func TestAdminListStreamsShowsTheLease(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: testTTL, MaxUsers: 1000, Clock: clock.Now, SweepInterval: -1,
		Rules: limiter.Rules{MaxLease: 5 * time.Minute}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	a := newAdminServer(t, "", m)
	start := clock.Now()
	d, err := m.Admit(context.Background(), limiter.Request{UserID: "alice", SessionID: "tv", Limit: 3, Media: 90 * time.Second})
	require.NoError(t, err)
	require.True(t, d.Admitted())
	a.admit(t, "alice", "phone")

	v := decodeJSON[admin.UserStreams](t, a, "/v1/users/alice/streams")
	require.Len(t, v.Sessions, 2)
	tv, phone := v.Sessions[0], v.Sessions[1]
	require.NotNil(t, tv.BufferedUntil, "the media it was given")
	assert.True(t, start.Add(90*time.Second).Equal(*tv.BufferedUntil), "%s", tv.BufferedUntil)
	assert.True(t, start.Add(90*time.Second+testTTL).Equal(tv.ExpiresAt), "expiresAt follows the lease: %s", tv.ExpiresAt)
	assert.Nil(t, phone.BufferedUntil, "given no media")
	assert.True(t, start.Add(testTTL).Equal(phone.ExpiresAt))
}

func decodeJSON[T any](t *testing.T, a *adminServer, path string) T {
	t.Helper()
	resp, body := a.do(t, http.MethodGet, path, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	var v T
	require.NoError(t, json.Unmarshal(body, &v), "%s", body)
	return v
}
