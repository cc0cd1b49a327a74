package proxy_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/redistest"
	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/proxytest"
	"github.com/streamgate/streamgate/proxy/tokenauth"
)

// planStores are the stores plan limits must work on: both take the limit
// per call.
func planStores() []struct {
	name string
	new  func(t *testing.T) limiter.Store
} {
	return []struct {
		name string
		new  func(t *testing.T) limiter.Store
	}{
		{"memory", func(t *testing.T) limiter.Store { return nil }},
		{"redis", func(t *testing.T) limiter.Store {
			srv := redistest.Start(t)
			r, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: time.Minute, Timeout: 2 * time.Second})
			require.NoError(t, err)
			t.Cleanup(func() { _ = r.Close() })
			return r
		}},
	}
}

func TestPlanLimitsFromTokens(t *testing.T) {
	t.Parallel()
	k := proxytest.TestKeys()
	for _, st := range planStores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			opts := tokenauth.JWTOptions{SecretFile: proxytest.WriteFile(t, "secret", k.Secret), SessionClaim: "sid",
				LimitClaim: "max_streams", CacheSize: 64}
			g := proxytest.NewGate(t, proxytest.GateOptions{JWT: &opts, Limit: 3, Store: st.new(t)})
			play := func(session string, plan int) (*http.Response, map[string]any) {
				c := proxytest.ClaimsFor(g.Clock.Now(), "hana", session)
				if plan > 0 {
					c["max_streams"] = plan
				}
				resp, body := g.Get(t, "/seg.ts", proxytest.Mint(t, jwt.SigningMethodHS256, k.Secret, "", c))
				if resp.StatusCode != http.StatusOK {
					return resp, proxytest.ProblemOf(t, resp, body)
				}
				return resp, nil
			}

			resp, _ := play("phone", 1)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			resp, p := play("tv", 1)
			require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "a 1-screen plan")
			assert.Equal(t, 1.0, p["limit"], "the 429 reports the limit that applied")
			assert.Contains(t, p["detail"], "playing on 1 device,", "one device, not \"1 devices\"")
			assert.Equal(t, 1.0, p["active"])

			// An upgrade: a new token with a bigger plan admits the next new session.
			resp, _ = play("tv", 2)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			resp, p = play("laptop", 2)
			require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
			assert.Equal(t, 2.0, p["limit"])

			// A downgrade cuts no session already admitted, but admits no new one.
			resp, _ = play("phone", 1)
			assert.Equal(t, http.StatusOK, resp.StatusCode, "admitted sessions keep playing")
			resp, _ = play("tv", 1)
			assert.Equal(t, http.StatusOK, resp.StatusCode, "admitted sessions keep playing")
			resp, p = play("tablet", 1)
			require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
			assert.Equal(t, 1.0, p["limit"])
			assert.Equal(t, 2.0, p["active"])

			// No claim: the default -max-streams.
			resp, _ = play("tablet", 0)
			assert.Equal(t, http.StatusOK, resp.StatusCode, "3 by default, 2 active")
			resp, p = play("console", 0)
			require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
			assert.Equal(t, 3.0, p["limit"])

			for _, c := range []struct {
				limit, result string
				want          float64
			}{
				{"1", "new", 1}, {"1", "rejected", 2}, {"1", "refresh", 2},
				{"2", "new", 1}, {"2", "rejected", 1},
				{"3", "new", 1}, {"3", "rejected", 1},
			} {
				assert.Equal(t, c.want, proxytest.MetricValue(t, g.Reg, "streamgate_decisions_by_limit_total", "limit", c.limit, "result", c.result),
					"limit=%s result=%s", c.limit, c.result)
			}
		})
	}
}

func TestPlanLimitsFromHeader(t *testing.T) {
	t.Parallel()
	for _, st := range planStores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			g := proxytest.NewGate(t, proxytest.GateOptions{Limit: 3, Store: st.new(t),
				Header: identity.NewHeaderIdentity("X-User-Id", "X-Session-Id").WithLimitHeader("x-plan-streams")})
			play := func(session string, plan ...string) *http.Response {
				req, err := http.NewRequest(http.MethodGet, g.URL+"/seg.ts", nil)
				require.NoError(t, err)
				req.Header.Set("X-User-Id", "ivan")
				req.Header.Set("X-Session-Id", session)
				req.Header["X-Plan-Streams"] = plan
				resp, _ := g.Do(t, req)
				return resp
			}
			assert.Equal(t, http.StatusOK, play("phone", "1").StatusCode)
			assert.Equal(t, http.StatusTooManyRequests, play("tv", "1").StatusCode)
			assert.Equal(t, http.StatusOK, play("tv", "2").StatusCode, "the upgrade takes effect on the next new session")
			assert.Equal(t, http.StatusOK, play("phone", "1").StatusCode, "admitted sessions are not cut")
			assert.Equal(t, http.StatusOK, play("laptop").StatusCode, "no header: the default 3")
			assert.Equal(t, http.StatusTooManyRequests, play("tablet", "").StatusCode, "empty: the default")

			for _, bad := range [][]string{{"abc"}, {"0"}, {"-1"}, {"+2"}, {"2.5"}, {"2x"}, {"1000001"}, {"1", "2"}} {
				resp := play("phone", bad...)
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%q", bad)
			}
			assert.Equal(t, 8.0, proxytest.MetricValue(t, g.Reg, "streamgate_invalid_requests_total", "reason", "malformed_limit"))
			assert.Equal(t, 1.0, proxytest.MetricValue(t, g.Reg, "streamgate_decisions_by_limit_total", "limit", "2", "result", "new"))
		})
	}
}
