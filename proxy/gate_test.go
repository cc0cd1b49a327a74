package proxy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/identity"
)

func TestGateRejectsRequestsWithoutAValidIdentity(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", identity.MaxIDLength+1)
	tests := []struct {
		name   string
		method string
		path   string
		header http.Header
		status int
		reason string
	}{
		{name: "no user id", header: http.Header{"X-Session-Id": {"s1"}}, status: 401, reason: "missing_user"},
		{name: "empty user id", header: http.Header{"X-User-Id": {""}, "X-Session-Id": {"s1"}}, status: 401, reason: "missing_user"},
		{name: "no identity at all", header: http.Header{}, status: 401, reason: "missing_user"},
		{name: "no session id", header: http.Header{"X-User-Id": {"alice"}}, status: 400, reason: "missing_session"},
		{name: "empty session id", header: http.Header{"X-User-Id": {"alice"}, "X-Session-Id": {""}}, status: 400, reason: "missing_session"},
		{name: "user id with a space", header: http.Header{"X-User-Id": {"alice smith"}, "X-Session-Id": {"s1"}}, status: 400, reason: "malformed_user"},
		{name: "user id too long", header: http.Header{"X-User-Id": {long}, "X-Session-Id": {"s1"}}, status: 400, reason: "malformed_user"},
		{name: "user id not ASCII", header: http.Header{"X-User-Id": {"alicé"}, "X-Session-Id": {"s1"}}, status: 400, reason: "malformed_user"},
		{name: "user id twice", header: http.Header{"X-User-Id": {"alice", "bob"}, "X-Session-Id": {"s1"}}, status: 400, reason: "malformed_user"},
		{name: "session id with a tab", header: http.Header{"X-User-Id": {"alice"}, "X-Session-Id": {"s\t1"}}, status: 400, reason: "malformed_session"},
		{name: "session id too long", header: http.Header{"X-User-Id": {"alice"}, "X-Session-Id": {long}}, status: 400, reason: "malformed_session"},
		{name: "session id twice", header: http.Header{"X-User-Id": {"alice"}, "X-Session-Id": {"s1", "s2"}}, status: 400, reason: "malformed_session"},
		{name: "heartbeat without user", method: http.MethodPost, path: proxy.HeartbeatPath, header: http.Header{"X-Session-Id": {"s1"}}, status: 401, reason: "missing_user"},
		{name: "end session without session", method: http.MethodDelete, path: proxy.SessionPath, header: http.Header{"X-User-Id": {"alice"}}, status: 400, reason: "missing_session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, okOrigin, gatewayOptions{})
			method, path := tt.method, tt.path
			if method == "" {
				method, path = http.MethodGet, "/vod/seg-1.ts"
			}
			req := g.request(t, method, path, "", "")
			req.Header = tt.header
			resp, body := g.do(t, req)

			assertProblem(t, resp, body, tt.status)
			assert.Zero(t, g.origin.hits.Load(), "never proxied")
			assert.Equal(t, 1.0, metricValue(t, g.reg, "streamgate_invalid_requests_total", "reason", tt.reason))
			assert.Zero(t, metricValue(t, g.reg, "streamgate_decision_duration_seconds"), "the store is not asked")
			assert.Equal(t, limiter.Stats{}, g.memory.Stats(), "nothing is stored")
		})
	}
}

func TestGateAcceptsIDsOfEveryVisibleASCIICharacter(t *testing.T) {
	t.Parallel()
	var visible strings.Builder
	for c := byte(0x21); c <= 0x7e; c++ {
		visible.WriteByte(c)
	}
	tests := []struct {
		name, user, session string
	}{
		{name: "every visible character", user: visible.String(), session: visible.String()},
		{name: "exactly 128 bytes", user: strings.Repeat("u", identity.MaxIDLength), session: strings.Repeat("s", identity.MaxIDLength)},
		{name: "one byte", user: "u", session: "s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, okOrigin, gatewayOptions{})
			resp, _ := g.get(t, "/a.ts", tt.user, tt.session)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			seen := g.origin.lastSeen()
			assert.Equal(t, tt.user, seen.Header.Get("X-User-Id"), "identity headers reach the origin unchanged")
			assert.Equal(t, tt.session, seen.Header.Get("X-Session-Id"))
		})
	}
}

func TestGateRefusesTheFourthStream(t *testing.T) {
	t.Parallel()
	g := newGateway(t, okOrigin, gatewayOptions{})
	const user = "alice"
	secrets := []string{"secret-tv-login", "secret-phone-login", "secret-laptop-login"}
	for i, sid := range secrets {
		resp, body := g.get(t, "/vod/seg-1.ts", user, sid)
		require.Equal(t, http.StatusOK, resp.StatusCode, sid)
		assert.Equal(t, "segment-bytes", string(body))
		if i == 0 {
			g.clock.Advance(10 * time.Second)
		}
	}
	require.EqualValues(t, 3, g.origin.hits.Load())

	resp, body := g.get(t, "/vod/seg-1.ts", user, "secret-fourth")
	p := assertProblem(t, resp, body, http.StatusTooManyRequests)
	assert.EqualValues(t, 3, g.origin.hits.Load(), "a refused request never reaches the origin")
	assert.Equal(t, "50", resp.Header.Get("Retry-After"), "the first session expires 50 s from now")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Equal(t, user, p["userId"])
	assert.Equal(t, 3.0, p["limit"])
	assert.Equal(t, 3.0, p["active"])
	assert.Equal(t, 50.0, p["retryAfter"])

	var got struct {
		Sessions []struct {
			Handle    string    `json:"handle"`
			StartedAt time.Time `json:"startedAt"`
			LastSeen  time.Time `json:"lastSeen"`
			ExpiresAt time.Time `json:"expiresAt"`
			UserAgent string    `json:"userAgent"`
			Device    string    `json:"device"`
		} `json:"sessions"`
	}
	require.NoError(t, json.Unmarshal(body, &got))
	require.Len(t, got.Sessions, 3)
	for i, s := range got.Sessions {
		assert.Equal(t, proxy.SessionHandle(user, secrets[i]), s.Handle, "oldest first")
		assert.Equal(t, testTTL, s.ExpiresAt.Sub(s.LastSeen))
		assert.Equal(t, "Go-http-client/1.1", s.UserAgent, "the device, to be recognised")
		assert.Equal(t, "Go-http-client 1", s.Device, "and in words")
	}
	assert.NotContains(t, string(body), "127.0.0.1", "never a device's address")
	assert.Equal(t, 10*time.Second, got.Sessions[1].StartedAt.Sub(got.Sessions[0].StartedAt))
	for _, sid := range append(secrets, "secret-fourth") {
		assert.NotContains(t, string(body), sid, "raw session ids never leave the gate")
	}

	list, err := g.store.List(context.Background(), user)
	require.NoError(t, err)
	assert.Len(t, list, 3, "nothing is stored for the refused session")

	resp, _ = g.get(t, "/vod/seg-2.ts", user, secrets[0])
	assert.Equal(t, http.StatusOK, resp.StatusCode, "an active session keeps playing at the limit")
	resp, _ = g.get(t, "/vod/seg-1.ts", "bob", "secret-tv-login")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "another user is not affected")

	assert.Equal(t, 4.0, metricValue(t, g.reg, "streamgate_admissions_total", "result", "new"))
	assert.Equal(t, 1.0, metricValue(t, g.reg, "streamgate_admissions_total", "result", "refresh"))
	assert.Equal(t, 1.0, metricValue(t, g.reg, "streamgate_rejections_total", "reason", "limit"))
	assert.Zero(t, metricValue(t, g.reg, "streamgate_rejections_total", "reason", "store_unavailable"))
	assert.Equal(t, 6.0, metricValue(t, g.reg, "streamgate_decision_duration_seconds"), "one decision per request")
	assert.Equal(t, 4.0, metricValue(t, g.reg, "streamgate_active_sessions"))
	assert.Equal(t, 2.0, metricValue(t, g.reg, "streamgate_tracked_users"))
}

func TestGateRetryAfterRoundsUpToWholeSeconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		elapsed time.Duration // since the only session's last heartbeat
		want    string
	}{
		{name: "just started", elapsed: 0, want: "60"},
		{name: "a fraction of a second left", elapsed: testTTL - 500*time.Millisecond, want: "1"},
		{name: "one nanosecond left", elapsed: testTTL - time.Nanosecond, want: "1"},
		{name: "1.2 s left", elapsed: testTTL - 1200*time.Millisecond, want: "2"},
		{name: "exactly 30 s left", elapsed: testTTL / 2, want: "30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, okOrigin, gatewayOptions{limit: 1})
			resp, _ := g.get(t, "/a.ts", "alice", "s1")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			g.clock.Advance(tt.elapsed)
			resp, body := g.get(t, "/a.ts", "alice", "s2")
			p := assertProblem(t, resp, body, http.StatusTooManyRequests)
			assert.Equal(t, tt.want, resp.Header.Get("Retry-After"))
			assert.Equal(t, tt.want, fmt.Sprint(p["retryAfter"]))
		})
	}
}

func TestGateHonoursTheLimit(t *testing.T) {
	t.Parallel()
	for _, limit := range []int{1, 2, 5} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, okOrigin, gatewayOptions{limit: limit})
			for i := range limit {
				resp, _ := g.get(t, "/a.ts", "alice", fmt.Sprintf("s%d", i))
				assert.Equal(t, http.StatusOK, resp.StatusCode)
			}
			resp, body := g.get(t, "/a.ts", "alice", "one-more")
			p := assertProblem(t, resp, body, http.StatusTooManyRequests)
			assert.Equal(t, float64(limit), p["limit"])
		})
	}
}

func TestGateSessionsExpireAfterTheTTL(t *testing.T) {
	t.Parallel()
	g := newGateway(t, okOrigin, gatewayOptions{limit: 1})
	resp, _ := g.get(t, "/a.ts", "alice", "tv")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	g.clock.Advance(testTTL - time.Nanosecond)
	resp, _ = g.get(t, "/a.ts", "alice", "phone")
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	g.clock.Advance(time.Nanosecond)
	resp, _ = g.get(t, "/a.ts", "alice", "phone")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the silent session expired at exactly the TTL")
}

func TestGateHeartbeat(t *testing.T) {
	t.Parallel()

	t.Run("admits, refreshes and is never proxied", func(t *testing.T) {
		t.Parallel()
		g := newGateway(t, okOrigin, gatewayOptions{limit: 1})
		resp, body := g.do(t, g.request(t, http.MethodPost, proxy.HeartbeatPath, "alice", "tv"))
		assert.Equal(t, http.StatusNoContent, resp.StatusCode)
		assert.Empty(t, body)
		assert.Equal(t, 1.0, metricValue(t, g.reg, "streamgate_admissions_total", "result", "new"))

		// Heartbeats alone keep the session alive past its TTL.
		for range 3 {
			g.clock.Advance(testTTL * 3 / 4)
			resp, _ = g.do(t, g.request(t, http.MethodPost, proxy.HeartbeatPath, "alice", "tv"))
			assert.Equal(t, http.StatusNoContent, resp.StatusCode)
		}
		assert.Equal(t, 3.0, metricValue(t, g.reg, "streamgate_admissions_total", "result", "refresh"))
		resp, _ = g.get(t, "/a.ts", "alice", "phone")
		assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "2.25 TTL after it started, the session still holds the slot")
		assert.Zero(t, g.origin.hits.Load())
	})

	t.Run("over the limit is a 429 problem", func(t *testing.T) {
		t.Parallel()
		g := newGateway(t, okOrigin, gatewayOptions{limit: 1})
		resp, _ := g.get(t, "/a.ts", "alice", "tv")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp, body := g.do(t, g.request(t, http.MethodPost, proxy.HeartbeatPath, "alice", "phone"))
		p := assertProblem(t, resp, body, http.StatusTooManyRequests)
		assert.Equal(t, "60", resp.Header.Get("Retry-After"))
		assert.Equal(t, 1.0, p["active"])
		assert.EqualValues(t, 1, g.origin.hits.Load(), "only the segment was proxied")
		assert.Equal(t, 1.0, metricValue(t, g.reg, "streamgate_rejections_total", "reason", "limit"))
	})

	t.Run("other methods get 405", func(t *testing.T) {
		t.Parallel()
		g := newGateway(t, okOrigin, gatewayOptions{})
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
			resp, body := g.do(t, g.request(t, method, proxy.HeartbeatPath, "alice", "tv"))
			assertProblem(t, resp, body, http.StatusMethodNotAllowed)
			assert.Equal(t, http.MethodPost, resp.Header.Get("Allow"), method)
		}
		assert.Zero(t, g.origin.hits.Load())
		assert.Equal(t, limiter.Stats{}, g.memory.Stats(), "a refused method starts no session")
	})
}

func TestGateEndSession(t *testing.T) {
	t.Parallel()

	t.Run("frees the slot and is never proxied", func(t *testing.T) {
		t.Parallel()
		g := newGateway(t, okOrigin, gatewayOptions{limit: 1})
		resp, _ := g.get(t, "/a.ts", "alice", "tv")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp, _ = g.get(t, "/a.ts", "alice", "phone")
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)

		resp, body := g.do(t, g.request(t, http.MethodDelete, proxy.SessionPath, "alice", "tv"))
		assert.Equal(t, http.StatusNoContent, resp.StatusCode)
		assert.Empty(t, body)
		resp, _ = g.get(t, "/a.ts", "alice", "phone")
		assert.Equal(t, http.StatusOK, resp.StatusCode, "the ended session's slot is free")
		assert.EqualValues(t, 2, g.origin.hits.Load())
	})

	t.Run("204 when the session was not active", func(t *testing.T) {
		t.Parallel()
		g := newGateway(t, okOrigin, gatewayOptions{})
		for _, sid := range []string{"never-started", "never-started"} {
			resp, _ := g.do(t, g.request(t, http.MethodDelete, proxy.SessionPath, "nobody", sid))
			assert.Equal(t, http.StatusNoContent, resp.StatusCode)
		}
		assert.Zero(t, g.origin.hits.Load())
	})

	t.Run("other methods get 405", func(t *testing.T) {
		t.Parallel()
		g := newGateway(t, okOrigin, gatewayOptions{})
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			resp, body := g.do(t, g.request(t, method, proxy.SessionPath, "alice", "tv"))
			assertProblem(t, resp, body, http.StatusMethodNotAllowed)
			assert.Equal(t, http.MethodDelete, resp.Header.Get("Allow"))
		}
		assert.Zero(t, g.origin.hits.Load())
	})
}

// faultyStore is a store that fails on demand: a real store cannot be made
// to time out, or to hand back a degraded decision, at a chosen request.
type faultyStore struct {
	admit func(limiter.Request) (limiter.Decision, error)
	// admitCtx, when set, is used instead of admit.
	admitCtx func(context.Context, limiter.Request) (limiter.Decision, error)
	end      func() error
	ping     func(context.Context) error
}

func (s *faultyStore) Admit(ctx context.Context, req limiter.Request) (limiter.Decision, error) {
	if s.admitCtx != nil {
		return s.admitCtx(ctx, req)
	}
	return s.admit(req)
}

func (s *faultyStore) End(context.Context, string, string, limiter.EndReason) (bool, error) {
	if s.end != nil {
		return false, s.end()
	}
	return false, nil
}

func (s *faultyStore) EndAll(context.Context, string, limiter.EndReason) (int, error) { return 0, nil }

func (s *faultyStore) List(context.Context, string) ([]limiter.Session, error) {
	return []limiter.Session{}, nil
}

func (s *faultyStore) Ping(ctx context.Context) error {
	if s.ping != nil {
		return s.ping(ctx)
	}
	return nil
}

func (s *faultyStore) Close() error { return nil }

var errStoreDown = fmt.Errorf("asking redis: %w", limiter.ErrUnavailable)

func TestGateStoreFailure(t *testing.T) {
	t.Parallel()

	t.Run("an error from the store is a 503 problem, not proxied", func(t *testing.T) {
		t.Parallel()
		store := &faultyStore{
			admit: func(limiter.Request) (limiter.Decision, error) { return limiter.Decision{}, errStoreDown },
			end:   func() error { return errStoreDown },
		}
		g := newGateway(t, okOrigin, gatewayOptions{store: store})
		resp, body := g.get(t, "/a.ts", "alice", "tv")
		assertProblem(t, resp, body, http.StatusServiceUnavailable)
		assert.Equal(t, "1", resp.Header.Get("Retry-After"))
		resp, body = g.do(t, g.request(t, http.MethodPost, proxy.HeartbeatPath, "alice", "tv"))
		assertProblem(t, resp, body, http.StatusServiceUnavailable)
		resp, body = g.do(t, g.request(t, http.MethodDelete, proxy.SessionPath, "alice", "tv"))
		assertProblem(t, resp, body, http.StatusServiceUnavailable)
		assert.Zero(t, g.origin.hits.Load())
		assert.Equal(t, 2.0, metricValue(t, g.reg, "streamgate_rejections_total", "reason", "store_unavailable"))
		assert.Zero(t, metricValue(t, g.reg, "streamgate_admissions_total", "result", "new"))
	})

	t.Run("a degraded decision is admitted and counted", func(t *testing.T) {
		t.Parallel()
		store := &faultyStore{admit: func(req limiter.Request) (limiter.Decision, error) {
			return limiter.Decision{Result: limiter.Started, Active: 1, Limit: req.Limit, Degraded: true}, nil
		}}
		g := newGateway(t, okOrigin, gatewayOptions{store: store})
		resp, _ := g.get(t, "/a.ts", "alice", "tv")
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.EqualValues(t, 1, g.origin.hits.Load())
		assert.Equal(t, 1.0, metricValue(t, g.reg, "streamgate_degraded_decisions_total", "policy", "open"))
		assert.Equal(t, 1.0, metricValue(t, g.reg, "streamgate_admissions_total", "result", "new"))
	})

	t.Run("a player hanging up during the store call is not a rejection", func(t *testing.T) {
		t.Parallel()
		asked := make(chan struct{})
		store := &faultyStore{admitCtx: func(ctx context.Context, _ limiter.Request) (limiter.Decision, error) {
			close(asked)
			<-ctx.Done() // a store call cut short by the request's context
			return limiter.Decision{}, fmt.Errorf("admitting session: %w: %w", limiter.ErrUnavailable, ctx.Err())
		}}
		g := newGateway(t, okOrigin, gatewayOptions{store: store})
		ctx, cancel := context.WithCancel(context.Background())
		req := g.request(t, http.MethodGet, "/a.ts", "alice", "tv").WithContext(ctx)
		go func() { <-asked; cancel() }()
		_, err := g.client.Do(req)
		require.Error(t, err)
		eventually(t, "the hang-up is counted", func() bool {
			return metricValue(t, g.reg, "streamgate_upstream_errors_total", "reason", "client_closed") == 1
		})
		assert.Zero(t, metricValue(t, g.reg, "streamgate_rejections_total", "reason", "store_unavailable"))
		assert.Zero(t, g.origin.hits.Load())
	})

	t.Run("the store is asked with the request's context and identity", func(t *testing.T) {
		t.Parallel()
		got := make(chan limiter.Request, 1)
		store := &faultyStore{admit: func(req limiter.Request) (limiter.Decision, error) {
			got <- req
			return limiter.Decision{}, errors.New("unused")
		}}
		g := newGateway(t, okOrigin, gatewayOptions{store: store, limit: 7})
		req := g.request(t, http.MethodGet, "/a.ts", "alice", "tv")
		req.Header.Set("User-Agent", "Player/1.0")
		g.do(t, req)
		r := <-got
		assert.Equal(t, "alice", r.UserID)
		assert.Equal(t, "tv", r.SessionID)
		assert.Equal(t, 7, r.Limit)
		assert.Equal(t, "Player/1.0", r.Device.UserAgent)
		assert.True(t, strings.HasPrefix(r.Device.Address, "127.0.0.1:"), r.Device.Address)
	})
}

func TestSessionHandle(t *testing.T) {
	t.Parallel()
	h := proxy.SessionHandle("alice", "tv")
	assert.Regexp(t, `^[0-9a-f]{12}$`, h)
	assert.Equal(t, h, proxy.SessionHandle("alice", "tv"), "stable")
	assert.NotEqual(t, h, proxy.SessionHandle("bob", "tv"), "depends on the user")
	assert.NotEqual(t, h, proxy.SessionHandle("alice", "phone"))
	assert.NotEqual(t, proxy.SessionHandle("ab", "c"), proxy.SessionHandle("a", "bc"), "the parts are separated")
}

// TestRefusalNamesTheContentPlayed: a player that sends a CMCD content id
// is named with it in the 429, so the person tells "the TV playing film-42"
// from the other devices.
func TestRefusalNamesTheContentPlayed(t *testing.T) {
	t.Parallel()
	g := newGateway(t, okOrigin, gatewayOptions{})
	g.mustGet(t, "/vod/seg-1.ts", "carol", "tv", http.Header{"Cmcd-Session": {`cid="film-42",sid="tv"`}})
	resp, body := g.get(t, "/vod/seg-1.ts", "carol", "phone")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	g.mustGet(t, "/vod/seg-1.ts", "carol", "laptop", nil)
	resp, body = g.get(t, "/vod/seg-1.ts", "carol", "fourth")
	assertProblem(t, resp, body, http.StatusTooManyRequests)
	var got struct {
		Sessions []struct {
			Device string `json:"device"`
		} `json:"sessions"`
	}
	require.NoError(t, json.Unmarshal(body, &got))
	require.Len(t, got.Sessions, 3)
	assert.Equal(t, "Go-http-client 1 · film-42", got.Sessions[0].Device)
	assert.Equal(t, "Go-http-client 1", got.Sessions[1].Device, "no content id, none named")
}
