package limiter_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/redistest"
)

// TestRedisLateAdmissionIsNotRecorded is the late write of issue 12: an
// admission whose call timed out (and was answered by the failure policy)
// reaches Redis after its deadline, when Redis wakes up. It must not hold a
// slot then.
func TestRedisLateAdmissionIsNotRecorded(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const timeout = 100 * time.Millisecond
	s, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: time.Minute, Timeout: timeout})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	raw := rawClient(t, srv.Addr())
	ctx := context.Background()
	// The first reply teaches the store Redis's clock.
	_, err = s.Admit(ctx, limiter.Request{UserID: "late", SessionID: "early", Limit: 3})
	require.NoError(t, err)

	probe := rawClient(t, srv.Addr())
	require.NoError(t, probe.Do(ctx, probe.B().Ping().Build()).Error(), "the probe is connected")
	require.NoError(t, raw.Do(ctx, raw.B().Ping().Build()).Error())
	slept := make(chan error, 1)
	go func() { slept <- raw.Do(ctx, raw.B().Arbitrary("DEBUG", "SLEEP").Args("1").Build()).Error() }()
	require.Eventually(t, func() bool {
		pctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		return errors.Is(probe.Do(pctx, probe.B().Ping().Build()).Error(), context.DeadlineExceeded)
	}, 5*time.Second, time.Millisecond, "redis never went to sleep")
	select {
	case err := <-slept:
		t.Fatalf("redis woke up before the admission was sent (%v): the machine is too slow for this test", err)
	default:
	}

	_, err = s.Admit(ctx, limiter.Request{UserID: "late", SessionID: "late", Limit: 3})
	require.ErrorIs(t, err, limiter.ErrUnavailable)
	require.NoError(t, <-slept)

	// Any command now runs after the sleep, and after the admission's
	// script if the client sent it before giving up (it usually does:
	// TestAdmitScriptDeadline checks the script's refusal on its own).
	require.NoError(t, raw.Do(ctx, raw.B().Ping().Build()).Error())
	fields, err := raw.Do(ctx, raw.B().Hkeys().Key("streamgate:{late}").Build()).AsStrSlice()
	require.NoError(t, err)
	assert.Equal(t, []string{"early"}, fields, "the late admission was not recorded")
	list, err := s.List(ctx, "late")
	require.NoError(t, err)
	assert.Len(t, list, 1)
}

// TestRedisRefreshCacheCarriesHeartbeats: heartbeats answered from the
// cache make no round trip, and reach Redis on their own once the entry is
// stale, with the media they delivered.
func TestRedisRefreshCacheCarriesHeartbeats(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const ttl, interval = 4 * time.Second, time.Second
	s := newRedisRules(t, srv.URL(), ttl, interval, limiter.Rules{MaxLease: time.Minute})
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	req := limiter.Request{UserID: "carried", SessionID: "s1", Limit: 1}
	_, err := s.Admit(ctx, req)
	require.NoError(t, err)
	before := s.Stats().StoreCalls
	for range 10 { // a player filling its buffer: ten 3 s segments at once
		req.Media = 3 * time.Second
		d, err := s.Admit(ctx, req)
		require.NoError(t, err)
		require.Equal(t, limiter.Refreshed, d.Result)
	}
	assert.Equal(t, before, s.Stats().StoreCalls, "cache hits make no round trip")

	require.Eventually(t, func() bool {
		list, err := s.List(ctx, "carried")
		return err == nil && len(list) == 1 && list[0].BufferedUntil.Sub(list[0].LastSeen) > 25*time.Second
	}, 2*ttl, 20*time.Millisecond, "the media delivered from the cache reached redis")
	list, err := s.List(ctx, "carried")
	require.NoError(t, err)
	assert.InDelta(t, 30*time.Second, list[0].BufferedUntil.Sub(list[0].LastSeen), float64(time.Second))
	assert.Equal(t, list[0].BufferedUntil.Add(ttl), list[0].ExpiresAt)
}

func TestRedisTombstones(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const ttl, keep = 2 * time.Second, time.Hour
	s := newRedisRules(t, srv.URL(), ttl, 0, limiter.Rules{TombstoneTTL: keep})
	t.Cleanup(func() { _ = s.Close() })
	raw := rawClient(t, srv.Addr())
	ctx := context.Background()
	for i := range 3 {
		_, err := s.Admit(ctx, limiter.Request{UserID: "kicked", SessionID: "s" + strconv.Itoa(i), Limit: 3})
		require.NoError(t, err)
	}
	n, err := s.EndAll(ctx, "kicked", limiter.EndedByOperator)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	pttl, err := raw.Do(ctx, raw.B().Pttl().Key("streamgate:{kicked}").Build()).AsInt64()
	require.NoError(t, err)
	assert.Greater(t, pttl, (keep - time.Minute).Milliseconds(), "the key lives as long as its tombstones")
	assert.LessOrEqual(t, pttl, keep.Milliseconds())

	_, err = s.End(ctx, "kicked", "s0", limiter.EndedByPlayer)
	require.NoError(t, err)
	d, err := s.Admit(ctx, limiter.Request{UserID: "kicked", SessionID: "s0", Limit: 3})
	require.NoError(t, err)
	assert.Equal(t, limiter.Ended, d.Result, "a player's end does not lift an operator's")
}

// TestRedisReadsRecordsOfThePreviousFormat: during a rolling upgrade Redis
// holds records written by the previous version.
func TestRedisReadsRecordsOfThePreviousFormat(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := newRedis(t, srv.URL(), time.Minute, 0)
	t.Cleanup(func() { _ = s.Close() })
	raw := rawClient(t, srv.Addr())
	ctx := context.Background()
	tm, err := raw.Do(ctx, raw.B().Time().Build()).AsStrSlice()
	require.NoError(t, err)
	sec, _ := strconv.ParseInt(tm[0], 10, 64)
	usec, _ := strconv.ParseInt(tm[1], 10, 64)
	now := strconv.FormatInt(sec*1_000_000+usec, 10)
	require.NoError(t, raw.Do(ctx, raw.B().Hset().Key("streamgate:{upgrade}").FieldValue().
		FieldValue("old", now+":"+now+":3:abc10.0.0.1").Build()).Error())

	d, err := s.Admit(ctx, limiter.Request{UserID: "upgrade", SessionID: "new", Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, limiter.Rejected, d.Result, "the old record counts")
	require.Len(t, d.Sessions, 1)
	assert.Equal(t, limiter.Device{UserAgent: "abc", Address: "10.0.0.1"}, d.Sessions[0].Device)
	assert.Equal(t, time.Minute, d.Sessions[0].ExpiresAt.Sub(d.Sessions[0].LastSeen))
	d, err = s.Admit(ctx, limiter.Request{UserID: "upgrade", SessionID: "old", Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, limiter.Refreshed, d.Result)
}

var _ = rueidis.Nil
