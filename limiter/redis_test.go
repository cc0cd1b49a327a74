package limiter_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/config"
	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/redistest"
	"github.com/streamgate/streamgate/limiter/storetest"
)

// redisTTL is the session TTL of the Redis runs of the suite: real time
// passes, so it is short, and long enough for the store calls of one step to
// take place well inside it on a loaded machine (2 s missed its margins
// while the real-player tests ran beside it).
const redisTTL = 3 * time.Second

func newRedis(t *testing.T, url string, ttl, refresh time.Duration) *limiter.Redis {
	t.Helper()
	return newRedisRules(t, url, ttl, refresh, limiter.Rules{})
}

func newRedisRules(t *testing.T, url string, ttl, refresh time.Duration, rules limiter.Rules) *limiter.Redis {
	t.Helper()
	r, err := limiter.NewRedis(limiter.RedisOptions{URL: url, TTL: ttl, RefreshInterval: refresh, Timeout: 5 * time.Second, MaxUsers: 1000, Rules: rules})
	require.NoError(t, err)
	return r
}

// newGuarded is the store as cmd/streamgate builds it.
func newGuarded(t *testing.T, url string, ttl, refresh time.Duration, rules limiter.Rules) limiter.Store {
	t.Helper()
	g, err := limiter.NewGuard(newRedisRules(t, url, ttl, refresh, rules), limiter.GuardOptions{Policy: limiter.FailClosed, TTL: ttl, MaxUsers: 1000, Rules: rules})
	require.NoError(t, err)
	return g
}

// guardedReplica is one replica's store on url, as cmd/streamgate builds it,
// closed when the test ends; r is its Redis store underneath.
func guardedReplica(t *testing.T, url string, ttl time.Duration, policy limiter.FailurePolicy, rules limiter.Rules) (r *limiter.Redis, g *limiter.Guard) {
	t.Helper()
	r, err := limiter.NewRedis(limiter.RedisOptions{URL: url, TTL: ttl, Timeout: time.Second, Rules: rules})
	require.NoError(t, err)
	g, err = limiter.NewGuard(r, limiter.GuardOptions{Policy: policy, TTL: ttl, Rules: rules})
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.Close() })
	return r, g
}

func realTime(t *testing.T, d time.Duration) { time.Sleep(d) } // lets real time pass; synchronises nothing

func TestRedisConformance(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	tests := []struct {
		name string
		new  func(t *testing.T, ttl time.Duration, rules limiter.Rules) limiter.Store
	}{
		{"every call to redis", func(t *testing.T, ttl time.Duration, rules limiter.Rules) limiter.Store {
			return newRedisRules(t, srv.URL(), ttl, 0, rules)
		}},
		{"guarded with the refresh cache", func(t *testing.T, ttl time.Duration, rules limiter.Rules) limiter.Store {
			return newGuarded(t, srv.URL(), ttl, ttl/4, rules)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, storetest.Harness{TTL: redisTTL, New: tt.new, Advance: realTime})
		})
	}
}

func TestRedisClusterConformance(t *testing.T) {
	t.Parallel()
	cluster := redistest.StartCluster(t, 3)
	storetest.Run(t, storetest.Harness{
		TTL: redisTTL,
		New: func(t *testing.T, ttl time.Duration, rules limiter.Rules) limiter.Store {
			return newGuarded(t, cluster.URL(), ttl, ttl/4, rules)
		},
		Advance: realTime,
	})

	t.Run("renewals batched over every master", func(t *testing.T) {
		assertBatchRenews(t, cluster.URL(), func() {})
	})

	t.Run("sessions of one slot renewed in one run", func(t *testing.T) {
		// Users whose keys share a slot, found by trying ids.
		prefix := fmt.Sprintf("slot-%d-", time.Now().UnixNano())
		users := []string{prefix + "0"}
		want := limiter.HashSlot(limiter.RedisKey(users[0]))
		for i := 1; len(users) < 3; i++ {
			if u := prefix + strconv.Itoa(i); limiter.HashSlot(limiter.RedisKey(u)) == want {
				users = append(users, u)
			}
		}
		const interval, ttl = 20 * time.Second, time.Minute
		r, clock := simulatedRedis(t, cluster.URL(), interval, ttl, limiter.Rules{})
		ctx := context.Background()
		var reqs []limiter.Request
		for _, u := range users {
			reqs = append(reqs, limiter.Request{UserID: u, SessionID: "s1", Limit: 3}, limiter.Request{UserID: u, SessionID: "s2", Limit: 3})
		}
		admitPending(t, r, reqs...)
		tick := limiter.FlushTick(interval)
		clock.Advance(interval - tick)
		require.Equal(t, len(reqs), limiter.Flush(r))
		assert.Zero(t, r.Stats().StoreErrors)
		assert.LessOrEqual(t, limiter.BatchedCalls(r), uint64(2), "one run (sent again in full if that master did not know the script)")
		clock.Advance(2 * tick)
		calls := requestPathCalls(r)
		for _, req := range reqs {
			d, err := r.Admit(ctx, req)
			require.NoError(t, err)
			assert.Equal(t, limiter.Refreshed, d.Result)
			assert.Equal(t, 2, d.Active)
		}
		assert.Equal(t, calls, requestPathCalls(r), "renewed: answered here")
	})

	t.Run("renewals grouped by the slot Redis gives each key", func(t *testing.T) {
		keys := []string{"", "foo", "bar", "{}", "{}x", "a{b}c", "a{}b{c}", "{a}{b}", "{{a}}", "}{a}", "x{", "x}{",
			limiter.RedisKey(""), limiter.RedisKey("}"), limiter.RedisKey("a}b"), limiter.RedisKey("ünï")}
		for i := range 200 {
			keys = append(keys, limiter.RedisKey("u"+strconv.Itoa(i)))
		}
		for _, k := range keys {
			slot, err := cluster.Nodes[0].Do("CLUSTER", "KEYSLOT", k)
			require.NoError(t, err)
			assert.Equal(t, slot, strconv.Itoa(int(limiter.HashSlot(k))), "key %q", k)
		}
	})

	t.Run("users spread over every master", func(t *testing.T) {
		s := newRedis(t, cluster.URL(), time.Minute, 0)
		t.Cleanup(func() { _ = s.Close() })
		prefix := fmt.Sprintf("spread-%d-", time.Now().UnixNano())
		for i := range 60 {
			_, err := s.Admit(context.Background(), limiter.Request{UserID: prefix + strconv.Itoa(i), SessionID: "s1", Limit: 1})
			require.NoError(t, err)
		}
		for _, node := range cluster.Nodes {
			n, err := node.Do("DBSIZE")
			require.NoError(t, err)
			assert.NotEqual(t, "0", n, "node %s holds no user", node.Addr())
		}
	})
}

func TestRedisTLS(t *testing.T) {
	t.Parallel()
	srv := redistest.StartTLS(t)
	s := newRedis(t, srv.URL(), time.Minute, 0)
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	require.NoError(t, s.Ping(ctx))
	d, err := s.Admit(ctx, limiter.Request{UserID: "tls-user", SessionID: "s1", Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, limiter.Started, d.Result)

	plain := newRedis(t, strings.Replace(srv.URL(), "rediss://", "redis://", 1), time.Minute, 0)
	t.Cleanup(func() { _ = plain.Close() })
	assert.ErrorIs(t, plain.Ping(ctx), limiter.ErrUnavailable, "a plain client cannot talk to a TLS-only server")
}

func TestParseRedisURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  string
		ok   bool
	}{
		{"standalone", "redis://127.0.0.1:6379", true},
		{"with user, password and db", "redis://app:secret@redis.internal:6379/2", true},
		{"tls", "rediss://redis.internal:6380", true},
		{"cluster seeds", "redis://10.0.0.1:6379?addr=10.0.0.2:6379&addr=10.0.0.3:6379", true},
		{"bad scheme", "http://127.0.0.1:6379", false},
		{"bad db", "redis://127.0.0.1:6379/zero", false},
		{"bad dial timeout", "redis://127.0.0.1:6379?dial_timeout=soon", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := limiter.ParseRedisURL(tt.url)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

// rawClient is a plain client for looking at what the store wrote.
func rawClient(t *testing.T, addr string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func TestRedisKeys(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const ttl = time.Minute
	s := newRedis(t, srv.URL(), ttl, 0)
	t.Cleanup(func() { _ = s.Close() })
	raw := rawClient(t, srv.Addr())
	ctx := context.Background()

	t.Run("one hash per user, the user id as hash tag", func(t *testing.T) {
		_, err := s.Admit(ctx, limiter.Request{UserID: "alice", SessionID: "phone", Limit: 3,
			Device: limiter.Device{UserAgent: "Player/2", Address: "192.0.2.1:4000"}})
		require.NoError(t, err)
		typ, err := raw.Do(ctx, raw.B().Type().Key("streamgate:{alice}").Build()).ToString()
		require.NoError(t, err)
		assert.Equal(t, "hash", typ)
		rec, err := raw.Do(ctx, raw.B().Hget().Key("streamgate:{alice}").Field("phone").Build()).ToString()
		require.NoError(t, err)
		// expires;lastSeen;startedAt;bufferedUntil×3;hint;networks (2 × net;seen, count, shared, bound);device
		assert.Regexp(t, `^\d{16};\d{16};\d{16};0;0;0;0;;0;;0;0;0;;8:Player/2192\.0\.2\.1:4000$`, rec)
	})

	t.Run("every key carries a TTL no longer than the session TTL", func(t *testing.T) {
		for i := range 50 {
			u := "ttl-" + strconv.Itoa(i)
			for j := range i%4 + 1 {
				_, err := s.Admit(ctx, limiter.Request{UserID: u, SessionID: "s" + strconv.Itoa(j), Limit: 3})
				require.NoError(t, err)
			}
			switch i % 5 {
			case 1:
				_, err := s.End(ctx, u, "s0", limiter.EndedByPlayer)
				require.NoError(t, err)
			case 2:
				_, err := s.List(ctx, u)
				require.NoError(t, err)
			case 3:
				_, err := s.EndAll(ctx, u, limiter.EndedByPlayer)
				require.NoError(t, err)
			}
		}
		keys, err := raw.Do(ctx, raw.B().Keys().Pattern("*").Build()).AsStrSlice()
		require.NoError(t, err)
		require.NotEmpty(t, keys)
		for _, k := range keys {
			if k == "streamgate:marker" {
				// Without TTL on purpose: its loss tells that Redis lost its data.
				continue
			}
			assert.True(t, strings.HasPrefix(k, "streamgate:{"), k)
			pttl, err := raw.Do(ctx, raw.B().Pttl().Key(k).Build()).AsInt64()
			require.NoError(t, err)
			assert.Greater(t, pttl, int64(0), "%s has no expiry", k)
			assert.LessOrEqual(t, pttl, ttl.Milliseconds(), k)
		}
	})

	t.Run("scripts run by SHA and are reloaded after SCRIPT FLUSH", func(t *testing.T) {
		_, err := s.Admit(ctx, limiter.Request{UserID: "sha", SessionID: "s1", Limit: 1})
		require.NoError(t, err)
		require.NoError(t, raw.Do(ctx, raw.B().ConfigResetstat().Build()).Error())
		require.NoError(t, raw.Do(ctx, raw.B().ScriptFlush().Build()).Error())
		for range 10 {
			d, err := s.Admit(ctx, limiter.Request{UserID: "sha", SessionID: "s1", Limit: 1})
			require.NoError(t, err)
			assert.Equal(t, limiter.Refreshed, d.Result)
		}
		stats, err := raw.Do(ctx, raw.B().Info().Section("commandstats").Build()).ToString()
		require.NoError(t, err)
		assert.Equal(t, 1, commandCalls(stats, "eval"), "one EVAL reloads the script")
		assert.Equal(t, 10, commandCalls(stats, "evalsha"), "every call tries EVALSHA first")
	})
}

// commandCalls reads calls= of cmdstat_<name> from INFO commandstats.
func commandCalls(info, name string) int {
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_"+name+":calls="); ok {
			n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			return n
		}
	}
	return 0
}

func TestRedisDeadline(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const timeout = 100 * time.Millisecond
	s, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: time.Minute, Timeout: timeout})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	require.NoError(t, s.Ping(ctx))

	srv.Pause()
	t.Cleanup(srv.Resume)
	for i, call := range []func() error{
		func() error {
			_, err := s.Admit(ctx, limiter.Request{UserID: "u", SessionID: "s", Limit: 1})
			return err
		},
		func() error { _, err := s.List(ctx, "u"); return err },
		func() error { return s.Ping(ctx) },
	} {
		done := make(chan error, 1)
		go func() { done <- call() }()
		select {
		case err := <-done:
			assert.ErrorIs(t, err, limiter.ErrUnavailable)
			if i == 0 {
				// Later calls may instead meet the dial backoff, once
				// a reconnect to the stopped server has timed out.
				assert.ErrorIs(t, err, context.DeadlineExceeded)
			}
		case <-time.After(10 * timeout):
			t.Fatal("a call to a stopped redis outlived its deadline tenfold")
		}
	}
	srv.Resume()
	require.Eventually(t, func() bool { return s.Ping(ctx) == nil }, 5*time.Second, 20*time.Millisecond)
	st := s.Stats()
	assert.GreaterOrEqual(t, st.StoreErrors, uint64(3))
	assert.Greater(t, st.StoreCalls, st.StoreErrors)
}

func TestRedisConnectsLater(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	srv.Kill()
	s := newRedis(t, srv.URL(), time.Minute, 0)
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	_, err := s.Admit(ctx, limiter.Request{UserID: "u", SessionID: "s", Limit: 1})
	require.ErrorIs(t, err, limiter.ErrUnavailable, "no redis yet: a quick error, not a hang")

	srv.Restart()
	require.Eventually(t, func() bool { return s.Ping(ctx) == nil }, 5*time.Second, 20*time.Millisecond)
	d, err := s.Admit(ctx, limiter.Request{UserID: "u", SessionID: "s", Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, limiter.Started, d.Result)
}

func TestNewRedisRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts limiter.RedisOptions
	}{
		{"bad url", limiter.RedisOptions{URL: "memcached://x", TTL: time.Minute}},
		{"no ttl", limiter.RedisOptions{URL: "redis://127.0.0.1:1"}},
		{"refresh interval of half the ttl", limiter.RedisOptions{URL: "redis://127.0.0.1:1", TTL: time.Minute, RefreshInterval: 30 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := limiter.NewRedis(tt.opts)
			assert.Error(t, err)
		})
	}
}

func TestRedisFirstCallAfterRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := newRedis(t, srv.URL(), time.Minute, 0)
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	for i := range 20 { // uses every pipelined connection
		_, err := s.Admit(ctx, limiter.Request{UserID: "u" + strconv.Itoa(i), SessionID: "s", Limit: 1})
		require.NoError(t, err)
	}
	srv.Restart()
	for i := range 20 {
		d, err := s.Admit(ctx, limiter.Request{UserID: "u" + strconv.Itoa(i), SessionID: "s", Limit: 1})
		require.NoError(t, err, "a connection broken while idle is replaced within the call")
		assert.Equal(t, limiter.Started, d.Result, "the restarted Redis is empty")
	}
	assert.Zero(t, s.Stats().StoreErrors)
}

// TestRedisRefreshCacheRoundTrips checks the refresh cache's arithmetic at
// steady state, time simulated: a session fetching every period asks the
// store on every fetch without the cache, and never on a fetch's path with
// it, the flusher renewing it in its batches every interval less one tick,
// several sessions per script.
func TestRedisRefreshCacheRoundTrips(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const period = 2 * time.Second
	renewedEvery := func(interval time.Duration) float64 {
		return float64(period) / float64(interval-limiter.FlushTick(interval))
	}
	tests := []struct {
		name                  string
		interval              time.Duration
		requestPath, renewals float64
	}{
		{"off", 0, 1, 0},
		{"5s", 5 * time.Second, 0, renewedEvery(5 * time.Second)},
		{"the default for a 60s TTL", config.DefaultRefreshInterval(time.Minute), 0, renewedEvery(config.DefaultRefreshInterval(time.Minute))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := steadyState(t, srv.URL(), 40, period, time.Minute, tt.interval, 2*time.Minute)
			assert.Equal(t, tt.requestPath, got.requestPath, "round trips on the requests' path")
			assert.InDelta(t, tt.renewals, got.renewals, 0.02, "sessions renewed in the flusher's batches")
			if tt.interval > 0 {
				// 40 sessions, 2 s apart: five or so due at each tick, renewed in one run.
				assert.Less(t, got.batched, got.renewals/3, "several sessions per script")
			}
		})
	}
	assert.LessOrEqual(t, renewedEvery(config.DefaultRefreshInterval(time.Minute)), 0.25,
		"the default renews a session playing 2 s segments at most once per four segments")
}

// TestRedisReplyLongerThanBuffer: a listing longer than the client's
// buffer (connBuffer, 64 KiB) comes back whole: 120 sessions of devices at
// their longest make a reply of about 90 KiB.
func TestRedisReplyLongerThanBuffer(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := newRedis(t, srv.URL(), time.Minute, 0)
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	const n = 120
	for i := range n {
		dev := limiter.Device{
			UserAgent: fmt.Sprintf("%03d%s", i, strings.Repeat("u", 300)),
			Address:   fmt.Sprintf("%03d%s", i, strings.Repeat("a", 300)),
			ContentID: fmt.Sprintf("%03d%s", i, strings.Repeat("c", 300)),
		}
		d, err := s.Admit(ctx, limiter.Request{UserID: "big", SessionID: fmt.Sprintf("s%03d", i), Limit: n, Device: dev})
		require.NoError(t, err)
		require.Equal(t, limiter.Started, d.Result)
	}
	list, err := s.List(ctx, "big")
	require.NoError(t, err)
	require.Len(t, list, n)
	size := 0
	for _, sess := range list {
		i := sess.ID[1:]
		assert.Equal(t, i+strings.Repeat("u", 253), sess.Device.UserAgent, "the user agent, cut to the stored field's length")
		assert.Equal(t, i+strings.Repeat("c", 253), sess.Device.ContentID)
		size += len(sess.ID) + len(sess.Device.UserAgent) + len(sess.Device.Address) + len(sess.Device.ContentID)
	}
	assert.Greater(t, size, 64<<10, "the reply must be longer than the client's buffer")
}
