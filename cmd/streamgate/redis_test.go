package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/streamgate/streamgate/limiter/limitertest"
	"github.com/streamgate/streamgate/limiter/redistest"
)

// The tests of this file run streamgate replicas (run, on loopback ports)
// that share one real redis-server, as several sidecars or a shared tier do.

// replica is one run() of streamgate.
type replica struct {
	proxy, admin string
	logs         *limitertest.SyncBuffer
	client       *http.Client
	cancel       context.CancelFunc
	done         chan error
}

// startReplica runs streamgate in front of origin with args, and learns its
// ports from the "streamgate listening" log line.
func startReplica(t *testing.T, origin string, args ...string) *replica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{
		logs:   &limitertest.SyncBuffer{},
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second},
		cancel: cancel,
		done:   make(chan error, 1),
	}
	args = append([]string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-upstream", origin, "-log-format", "json"}, args...)
	go func() { r.done <- run(ctx, args, func(string) string { return "" }, io.Discard, r.logs) }()
	t.Cleanup(func() { r.stop(t) })
	require.Eventually(t, func() bool {
		sc := bufio.NewScanner(strings.NewReader(r.logs.String()))
		for sc.Scan() {
			var line struct{ Msg, Proxy, Admin string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "streamgate listening" {
				r.proxy, r.admin = "http://"+line.Proxy, "http://"+line.Admin
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "no listening line: %s", r.logs)
	return r
}

// stop cancels run and waits for it; stopping twice does nothing.
func (r *replica) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		assert.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Error("run did not return after cancel")
	}
	r.client.CloseIdleConnections()
}

// play asks the proxy for a segment as user/session and returns the status.
func (r *replica) play(t *testing.T, user, session string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.proxy+"/vod/360p/seg-1.m4s", nil)
	require.NoError(t, err)
	req.Header.Set("X-User-Id", user)
	req.Header.Set("X-Session-Id", session)
	resp, err := r.client.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func (r *replica) adminDo(t *testing.T, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, r.admin+path, nil)
	require.NoError(t, err)
	resp, err := r.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func (r *replica) ready(t *testing.T) bool {
	code, _ := r.adminDo(t, http.MethodGet, "/readyz")
	return code == http.StatusOK
}

// metric returns the value of one sample of /metrics, e.g.
// `streamgate_store_errors_total`, or -1 when absent.
func (r *replica) metric(t *testing.T, sample string) float64 {
	t.Helper()
	_, body := r.adminDo(t, http.MethodGet, "/metrics")
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			var v float64
			_, err := fmt.Sscan(rest, &v)
			require.NoError(t, err)
			return v
		}
	}
	return -1
}

func redisTestOrigin(t *testing.T) *httptest.Server {
	t.Helper()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("segment"))
	}))
	t.Cleanup(origin.Close)
	return origin
}

func TestRedisReplicasShareOneLimit(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	origin := redisTestOrigin(t)
	// closed, with a deadline no loaded machine misses: a call that timed
	// out would be admitted by the default open policy and hide a wrong count.
	flags := []string{"-store", srv.URL(), "-store-failure", "closed", "-store-timeout", "5s", "-session-ttl", "10s", "-refresh-interval", "1s"}
	a, b := startReplica(t, origin.URL, flags...), startReplica(t, origin.URL, flags...)

	assert.Equal(t, http.StatusOK, a.play(t, "alice", "phone"))
	assert.Equal(t, http.StatusOK, b.play(t, "alice", "tv"))
	assert.Equal(t, http.StatusOK, a.play(t, "alice", "laptop"))
	assert.Equal(t, http.StatusTooManyRequests, a.play(t, "alice", "tablet"), "the fourth, on the replica holding two")
	assert.Equal(t, http.StatusTooManyRequests, b.play(t, "alice", "tablet"), "the fourth, on the replica holding one")
	assert.Equal(t, http.StatusOK, b.play(t, "alice", "phone"), "a session started on a moves to b")

	code, body := b.adminDo(t, http.MethodGet, "/v1/users/alice/streams")
	require.Equal(t, http.StatusOK, code)
	var view struct {
		Active   int
		Sessions []struct{ SessionID string }
	}
	require.NoError(t, json.Unmarshal([]byte(body), &view))
	assert.Equal(t, 3, view.Active, "b's admin API sees the sessions a admitted")
	var ids []string
	for _, s := range view.Sessions {
		ids = append(ids, s.SessionID)
	}
	assert.ElementsMatch(t, []string{"phone", "tv", "laptop"}, ids)

	code, _ = b.adminDo(t, http.MethodDelete, "/v1/users/alice/streams/laptop")
	assert.Equal(t, http.StatusNoContent, code)
	assert.Equal(t, http.StatusOK, a.play(t, "alice", "tablet"), "the slot ended through b is free on a")
	// laptop was refreshed by a in the store; a may admit it from its cache
	// for up to one -refresh-interval, then asks the store, whose tombstone
	// says it was ended by the operator: 410.
	require.Eventually(t, func() bool { return a.play(t, "alice", "laptop") == http.StatusGone },
		3*time.Second, 50*time.Millisecond, "a session ended elsewhere plays at most one refresh interval more")

	assert.Positive(t, a.metric(t, "streamgate_store_calls_total"))
	assert.Zero(t, a.metric(t, "streamgate_store_errors_total"))
}

func TestRedisReplicasRace(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	origin := redisTestOrigin(t)
	flags := []string{"-store", srv.URL(), "-store-failure", "closed", "-store-timeout", "5s", "-max-streams", "3"}
	replicas := []*replica{startReplica(t, origin.URL, flags...), startReplica(t, origin.URL, flags...)}

	const rounds, callers, limit = 40, 16, 3
	for round := range rounds {
		user := fmt.Sprintf("race-%d", round)
		admitted := limitertest.Race(callers, func(i int) bool {
			switch code := replicas[i%2].play(t, user, fmt.Sprintf("s%d", i)); code {
			case http.StatusOK:
				return true
			case http.StatusTooManyRequests:
			default:
				t.Errorf("round %d: status %d", round, code)
			}
			return false
		})
		require.Equal(t, limit, admitted, "round %d: exactly the limit, across both replicas", round)
	}
}

// TestRedisOutageReadiness kills Redis under traffic and brings it back, for
// each -store-failure. Not parallel: goleak compares goroutines before and after.
func TestRedisOutageReadiness(t *testing.T) {
	tests := []struct {
		policy string
		// known is the status of a session admitted before the outage,
		// fourth that of alice's fourth session during it.
		known, fourth int
	}{
		{"open", http.StatusOK, http.StatusOK},
		{"closed", http.StatusServiceUnavailable, http.StatusServiceUnavailable},
		{"local", http.StatusOK, http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			srv := redistest.Start(t)
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
			r := startReplica(t, origin.URL, "-store", srv.URL(), "-store-failure", tt.policy, "-store-timeout", "1s",
				"-refresh-interval", "0") // every request asks the store
			require.True(t, r.ready(t))
			for _, s := range []string{"s1", "s2", "s3"} {
				require.Equal(t, http.StatusOK, r.play(t, "alice", s))
			}

			// Bounded background traffic of a session admitted before the outage.
			require.Equal(t, http.StatusOK, r.play(t, "carol", "c1"))
			stop, done := make(chan struct{}), make(chan struct{})
			var statuses sync.Map
			go func() {
				defer close(done)
				for range 2000 {
					select {
					case <-stop:
						return
					case <-time.After(2 * time.Millisecond): // paces the load
					}
					code := r.play(t, "carol", "c1")
					n, _ := statuses.LoadOrStore(code, new(atomic.Int64))
					n.(*atomic.Int64).Add(1)
				}
			}()

			srv.Kill()
			require.Eventually(t, func() bool { return !r.ready(t) }, 5*time.Second, 10*time.Millisecond, "/readyz turns 503")
			assert.Equal(t, tt.known, r.play(t, "alice", "s1"))
			assert.Equal(t, tt.fourth, r.play(t, "alice", "s4"))

			srv.Restart()
			back := time.Now()
			require.Eventually(t, func() bool { return r.ready(t) }, time.Second, 10*time.Millisecond,
				"/readyz turns 200 within a second of Redis coming back")
			t.Logf("ready %s after Redis answered again", time.Since(back).Round(time.Millisecond))
			// The restarted Redis is empty; the replica re-seeds it with
			// alice's three sessions, so her ninth is refused once the
			// re-seed grace (new sessions decided by the policy) is over.
			require.Eventually(t, func() bool { return r.play(t, "alice", "s9") == http.StatusTooManyRequests }, 10*time.Second, 100*time.Millisecond,
				"the re-seeded store counts alice's sessions: %s", r.logs)
			close(stop)
			<-done

			assert.Positive(t, r.metric(t, "streamgate_store_errors_total"))
			if tt.policy == "closed" {
				assert.Positive(t, r.metric(t, `streamgate_rejections_total{reason="store_unavailable"}`))
				_, refused := statuses.Load(http.StatusServiceUnavailable)
				assert.True(t, refused, "closed refused carol during the outage")
			} else {
				assert.Positive(t, r.metric(t, fmt.Sprintf(`streamgate_degraded_decisions_total{policy=%q}`, tt.policy)))
				statuses.Range(func(code, _ any) bool {
					assert.Equal(t, http.StatusOK, code, "carol kept playing under %s", tt.policy)
					return true
				})
			}
			assert.Equal(t, 1, strings.Count(r.logs.String(), "session store failing"), "logged once, not per request")

			r.stop(t)
			origin.Close()
			srv.Kill()
		})
	}
}
