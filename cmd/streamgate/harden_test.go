package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingOrigin is an origin that keeps the identity headers of each
// request it receives.
type recordingOrigin struct {
	*httptest.Server
	mu      sync.Mutex
	seen    []http.Header
	queries []string
}

func newRecordingOrigin(t *testing.T) *recordingOrigin {
	o := &recordingOrigin{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.seen = append(o.seen, r.Header.Clone())
		o.queries = append(o.queries, r.URL.RawQuery)
		o.mu.Unlock()
		w.Header().Set("Cache-Control", "public, max-age=86400")
		_, _ = io.WriteString(w, "segment")
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *recordingOrigin) requests() []http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]http.Header(nil), o.seen...)
}

// rawQueries are the queries of the requests received, in order.
func (o *recordingOrigin) rawQueries() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.queries...)
}

// TestRunTokenModeIdentityToOrigin: with -identity jwt the origin sees the
// verified user and session, whatever the player sent in those headers, and
// a Connection header that would strip the token or the identity headers on
// the way is refused.
func TestRunTokenModeIdentityToOrigin(t *testing.T) {
	t.Parallel()
	secret, secretFile := writeSecret(t)
	origin := newRecordingOrigin(t)
	in := start(t, "-upstream", origin.URL, "-identity", "jwt", "-jwt-secret-file", secretFile,
		"-user-header", "X-Account", "-session-header", "X-Stream")
	claims := jwt.MapClaims{"sub": "free-account", "sid": "phone", "exp": time.Now().Add(time.Hour).Unix()}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	require.NoError(t, err)
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(client.CloseIdleConnections)
	send := func(connection string) (*http.Response, string) {
		req, err := http.NewRequest(http.MethodGet, in.proxyURL+"/vod/seg-1.ts", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Account", "premium-account")
		req.Header.Set("X-Stream", "somebody-elses")
		if connection != "" {
			req.Header.Set("Connection", connection)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	for _, conn := range []string{"close, Authorization", "X-Account", "keep-alive, x-stream", "Cookie"} {
		resp, body := send(conn)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "Connection: %s: %s", conn, body)
		assert.Contains(t, body, "Connection")
	}
	assert.Empty(t, origin.requests(), "nothing reached the origin")

	resp, body := send("")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Equal(t, "private, max-age=86400", resp.Header.Get("Cache-Control"), "no shared cache may keep it")
	seen := origin.requests()
	require.Len(t, seen, 1)
	assert.Equal(t, []string{"free-account"}, seen[0].Values("X-Account"), "the verified user, not the player's header")
	assert.Equal(t, []string{"phone"}, seen[0].Values("X-Stream"), "the verified session")
	require.NoError(t, in.stop(t))
}

// TestRunSessionBindingBehindTrustedProxy: behind a trusted proxy, a crowd
// on two networks sharing one session id is two sessions with
// -session-binding network, and one (counted as shared) without.
func TestRunSessionBindingBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		args   []string
		second int
	}{
		{"off", nil, http.StatusOK},
		{"network", []string{"-session-binding", "network"}, http.StatusTooManyRequests},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			origin := newRecordingOrigin(t)
			in := start(t, append([]string{"-upstream", origin.URL, "-max-streams", "1", "-trusted-proxies", "127.0.0.0/8"}, tc.args...)...)
			client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
			t.Cleanup(client.CloseIdleConnections)
			from := func(xff string) int {
				req, err := http.NewRequest(http.MethodGet, in.proxyURL+"/vod/seg-1.ts", nil)
				require.NoError(t, err)
				req.Header.Set("X-User-Id", "crowd")
				req.Header.Set("X-Session-Id", "one-id")
				req.Header.Set("X-Forwarded-For", xff)
				resp, err := client.Do(req)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode
			}
			assert.Equal(t, http.StatusOK, from("203.0.113.9"))
			assert.Equal(t, tc.second, from("198.51.100.9"), "the same session id from another network")
			resp, err := client.Get(in.adminURL + "/metrics")
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.second == http.StatusOK {
				assert.Contains(t, string(b), "streamgate_shared_sessions_total 1")
			}
			require.NoError(t, in.stop(t))
		})
	}
}
