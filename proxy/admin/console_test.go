package admin_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy/admin"
)

func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(body, &v), string(body))
	return v
}

func TestConsoleOverview(t *testing.T) {
	t.Parallel()
	r := newConsoleRig(t, rigOptions{})
	r.monitor.Sample()
	for _, s := range []string{"phone", "tv", "laptop"} {
		require.Equal(t, http.StatusOK, r.play(t, "alice", s, "TestPlayer/1.0"))
	}
	require.Equal(t, http.StatusTooManyRequests, r.play(t, "alice", "tablet", "TestPlayer/1.0"))
	require.Equal(t, http.StatusOK, r.play(t, "alice", "tv", "TestPlayer/1.0"))
	r.clock.Advance(2 * time.Second)
	r.monitor.Sample()

	resp, body := r.admin(t, http.MethodGet, "/v1/overview")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	o := decode[admin.Overview](t, body)
	assert.Equal(t, "v9.9.9-test", o.Version)
	assert.True(t, o.Ready)
	assert.Equal(t, admin.StoreStatus{Kind: "memory", Healthy: true}, o.Store)
	assert.Equal(t, 3, o.Limit)
	assert.Equal(t, 60, o.SessionTTLSeconds)
	assert.Equal(t, 1, o.TrackedUsers)
	assert.Equal(t, 3, o.ActiveSessions)
	assert.Equal(t, admin.Totals{Started: 3, Refreshed: 1, RefusedLimit: 1}, o.Totals)
	assert.Equal(t, admin.RecentRefusals{Count: 1, WindowSeconds: 300}, o.Refusals)
	if assert.Len(t, o.Rates, 1) {
		assert.Equal(t, admin.RatePoint{T: r.clock.Now().Unix(), Admitted: 2, Started: 1.5, Refused: 0.5, Active: 3}, o.Rates[0],
			"4 admitted, 3 started, 1 refused over 2 s")
	}
	assert.Equal(t, []admin.Setting{
		{Name: "max-streams", Value: "3", Default: true, Help: "concurrent playback sessions per user"},
		{Name: "admin-token", Value: "•••••• (set)"},
		{Name: "store-failure", Value: "open", Default: true},
	}, o.Settings)
}

func TestConsoleOverviewWhenTheStoreIsDown(t *testing.T) {
	t.Parallel()
	r := newConsoleRig(t, rigOptions{})
	r.store.down.Store(true)

	resp, body := r.admin(t, http.MethodGet, "/v1/overview")
	require.Equal(t, http.StatusOK, resp.StatusCode, "the overview answers so that the console can say what is wrong")
	o := decode[admin.Overview](t, body)
	assert.False(t, o.Ready)
	assert.False(t, o.Store.Healthy)
	assert.Contains(t, o.Store.Error, "connection refused")

	resp, body = r.admin(t, http.MethodGet, "/v1/users/alice/streams")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	assert.NotContains(t, string(body), "10.0.0.7", "the store's address stays in the log")
}

func TestConsoleUserStreamsShowDevicesAndRefusals(t *testing.T) {
	t.Parallel()
	r := newConsoleRig(t, rigOptions{})
	require.Equal(t, http.StatusOK, r.play(t, "alice", "tv", "AppleCoreMedia/1.0"))
	r.clock.Advance(time.Second)
	require.Equal(t, http.StatusOK, r.play(t, "alice", "phone", "ExoPlayer/2.19"))
	require.Equal(t, http.StatusOK, r.play(t, "alice", "laptop", "Mozilla/5.0"))
	for range 2 {
		require.Equal(t, http.StatusTooManyRequests, r.play(t, "alice", "tablet", "Mozilla/5.0"))
	}

	resp, body := r.admin(t, http.MethodGet, "/v1/users/alice/streams")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	v := decode[admin.UserStreams](t, body)
	assert.Equal(t, 3, v.Active)
	assert.Equal(t, &admin.RecentRefusals{Count: 2, WindowSeconds: 300}, v.Refusals)
	require.Len(t, v.Sessions, 3)
	tv := v.Sessions[0]
	assert.Equal(t, "tv", tv.SessionID, "oldest first")
	require.NotNil(t, tv.Device)
	assert.Equal(t, "AppleCoreMedia/1.0", tv.Device.UserAgent, "the raw User-Agent stays")
	assert.Equal(t, "AVPlayer", tv.Device.Name, "beside its name")
	assert.True(t, strings.HasPrefix(tv.Device.Address, "127.0.0.1:"), tv.Device.Address)

	_, body = r.admin(t, http.MethodGet, "/v1/users/bob/streams")
	assert.JSONEq(t, `{"userId":"bob","limit":3,"active":0,"sessions":[],"refusals":{"count":0,"windowSeconds":300}}`, string(body))
}

func TestConsoleTop(t *testing.T) {
	t.Parallel()
	r := newConsoleRig(t, rigOptions{})
	for _, p := range []struct {
		user     string
		sessions int
	}{{"alice", 3}, {"bob", 2}, {"carol", 1}} {
		for i := range p.sessions {
			require.Equal(t, http.StatusOK, r.play(t, p.user, "s"+string(rune('a'+i)), "TestPlayer"))
		}
	}
	for range 3 {
		require.Equal(t, http.StatusTooManyRequests, r.play(t, "alice", "extra", "TestPlayer"))
	}

	tests := []struct {
		name   string
		query  string
		status int
		want   admin.TopUsers
	}{
		{name: "default", query: "", status: 200, want: admin.TopUsers{
			ByActive:      []limiter.UserCount{{UserID: "alice", Count: 3}, {UserID: "bob", Count: 2}, {UserID: "carol", Count: 1}},
			ByRefusals:    []limiter.UserCount{{UserID: "alice", Count: 3}},
			WindowSeconds: 300,
		}},
		{name: "n", query: "?n=1", status: 200, want: admin.TopUsers{
			ByActive:      []limiter.UserCount{{UserID: "alice", Count: 3}},
			ByRefusals:    []limiter.UserCount{{UserID: "alice", Count: 3}},
			WindowSeconds: 300,
		}},
		{name: "n zero", query: "?n=0", status: 400},
		{name: "n too large", query: "?n=101", status: 400},
		{name: "n not a number", query: "?n=ten", status: 400},
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
			assert.Equal(t, tt.want, decode[admin.TopUsers](t, body))
		})
	}
}

func TestConsolePagesAreOpenAndTheirDataIsNot(t *testing.T) {
	t.Parallel()
	r := newConsoleRig(t, rigOptions{token: "console-token"})
	tests := []struct {
		name, path, contentType, contains string
		status                            int
		policy                            bool
	}{
		{name: "console", path: "/", status: 200, contentType: "text/html", contains: "streamgate console", policy: true},
		{name: "console script", path: "/assets/console.js", status: 200, contentType: "text/javascript", contains: "Bearer ", policy: true},
		{name: "console style", path: "/assets/console.css", status: 200, contentType: "text/css", policy: true},
		{name: "explorer", path: "/docs", status: 200, contentType: "text/html", contains: "swagger-ui-bundle.js", policy: true},
		{name: "Swagger UI", path: "/docs/swagger-ui-bundle.js", status: 200, contentType: "text/javascript", policy: true},
		{name: "Swagger UI licence", path: "/docs/LICENSE", status: 200, contains: "Apache License"},
		{name: "document", path: "/openapi.json", status: 200, contentType: "application/json", contains: `"openapi": "3.1.0"`},
		{name: "missing asset", path: "/assets/nothing.js", status: 404},
		{name: "no directory listing", path: "/assets/swagger-ui", status: 404},
		{name: "no escape from the directory", path: "/docs/%2e%2e", status: 404},
		{name: "overview needs the token", path: "/v1/overview", status: 401},
		{name: "top needs the token", path: "/v1/top", status: 401},
		{name: "anything else needs the token", path: "/index.html", status: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := r.send(t, mustRequest(t, http.MethodGet, r.adminURL+tt.path))
			require.Equal(t, tt.status, resp.StatusCode, string(body))
			if tt.contentType != "" {
				assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), tt.contentType), resp.Header.Get("Content-Type"))
			}
			assert.Contains(t, string(body), tt.contains)
			if tt.policy {
				assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'self'")
				assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
			}
		})
	}

	t.Run("revalidation", func(t *testing.T) {
		t.Parallel()
		resp, _ := r.send(t, mustRequest(t, http.MethodGet, r.adminURL+"/docs/swagger-ui-bundle.js"))
		etag := resp.Header.Get("ETag")
		require.NotEmpty(t, etag)
		req := mustRequest(t, http.MethodGet, r.adminURL+"/docs/swagger-ui-bundle.js")
		req.Header.Set("If-None-Match", etag)
		resp, body := r.send(t, req)
		assert.Equal(t, http.StatusNotModified, resp.StatusCode)
		assert.Empty(t, body)
	})
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	return req
}
