package limiter_test

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/redistest"
	"github.com/streamgate/streamgate/limiter/storetest"
)

// simulatedRedis is a Redis store on url with a refresh table of interval
// whose clock is simulated: the test runs the flusher's ticks (the store's
// own, in real time, are too far apart to run meanwhile). It is closed when
// the test ends.
func simulatedRedis(t *testing.T, url string, interval, ttl time.Duration, rules limiter.Rules) (*limiter.Redis, *storetest.Clock) {
	t.Helper()
	clock := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	r, err := limiter.NewRedis(limiter.RedisOptions{URL: url, TTL: ttl, RefreshInterval: interval, Timeout: 5 * time.Second, Clock: clock.Now, Rules: rules})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r, clock
}

// admitPending starts each request's session, then sends it a hit the
// refresh table answers: pending, for the flusher's next batch.
func admitPending(t *testing.T, s limiter.Store, reqs ...limiter.Request) {
	t.Helper()
	for _, req := range reqs {
		for range 2 {
			d, err := s.Admit(context.Background(), req)
			require.NoError(t, err)
			require.True(t, d.Admitted(), "%s/%s", req.UserID, req.SessionID)
		}
	}
}

// requestPathCalls is r's store calls made on requests' paths.
func requestPathCalls(r *limiter.Redis) uint64 {
	return r.Stats().StoreCalls - limiter.BatchedCalls(r)
}

// TestRedisRenewsAhead plays a session past several intervals on a
// simulated clock, the test running the flusher at each of its ticks: the
// flusher renews the session ahead, so no request after the first asks
// Redis; without the flusher the first request past the interval does.
func TestRedisRenewsAhead(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	// Long enough that the store's own real-time ticker does not run
	// during the test; the test runs the ticks of simulated time.
	const interval, ttl = 20 * time.Second, time.Minute
	tests := []struct {
		name  string
		flush bool
		// want is the request-path store calls after the last request.
		want uint64
	}{
		{"with the flusher", true, 1},
		{"without the flusher", false, 1 + 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
			r, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: ttl, RefreshInterval: interval, Timeout: 5 * time.Second, Clock: clock.Now})
			require.NoError(t, err)
			t.Cleanup(func() { _ = r.Close() })
			ctx := context.Background()
			req := limiter.Request{UserID: "ahead-" + t.Name(), SessionID: "s", Limit: 3}
			tick := limiter.FlushTick(interval)
			// A segment every 2 s for three and a half intervals.
			const period = 2 * time.Second
			for at := time.Duration(0); at < 7*interval/2; at += period {
				d, err := r.Admit(ctx, req)
				require.NoError(t, err)
				require.True(t, d.Admitted(), "at %s", at)
				assert.Equal(t, 1, d.Active)
				for range period / (tick / 4) {
					clock.Advance(tick / 4)
					if tt.flush && clock.Now().Sub(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))%tick == 0 {
						limiter.Flush(r)
					}
				}
			}
			assert.Equal(t, tt.want, requestPathCalls(r))
			if tt.flush {
				assert.Positive(t, limiter.BatchedCalls(r), "the flusher renewed the session")
			}
			sessions, err := r.List(ctx, req.UserID)
			require.NoError(t, err)
			assert.Len(t, sessions, 1, "the session is active in Redis")
		})
	}
}

// TestRedisEndedElsewhereStopsPlayingHere ends a session through a second
// replica while the first keeps answering it from its refresh cache, real
// time and real ticks: the first stops answering it locally once it has
// been ended for one interval at most (in practice at its next renewal,
// which finds it ended) and then answers Redis's word, Ended.
func TestRedisEndedElsewhereStopsPlayingHere(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	// A tick of 250 ms leaves a renewal 125 ms at least before the entry
	// goes stale: room for a loaded machine.
	const interval, ttl = 2 * time.Second, 5 * time.Second
	here := newRedis(t, srv.URL(), ttl, interval)
	t.Cleanup(func() { _ = here.Close() })
	elsewhere := newRedis(t, srv.URL(), ttl, 0)
	t.Cleanup(func() { _ = elsewhere.Close() })
	ctx := context.Background()
	req := limiter.Request{UserID: "ended-elsewhere", SessionID: "s", Limit: 3}

	d, err := here.Admit(ctx, req)
	require.NoError(t, err)
	require.Equal(t, limiter.Started, d.Result)
	// Play for an interval and a half: the flusher renews the session
	// ahead, so requests past the first interval are still answered here.
	start := time.Now()
	localPastInterval := 0
	for time.Since(start) < 3*interval/2 {
		asked := time.Now()
		before := requestPathCalls(here)
		d, err := here.Admit(ctx, req)
		require.NoError(t, err)
		require.Equal(t, limiter.Refreshed, d.Result)
		if requestPathCalls(here) == before && asked.Sub(start) > interval {
			localPastInterval++
		}
		realTime(t, 20*time.Millisecond) // a player's pace
	}
	assert.Positive(t, limiter.BatchedCalls(here), "the flusher renewed the session")
	assert.Positive(t, localPastInterval, "answered here past the interval of its only call on a request's path")

	ok, err := elsewhere.End(ctx, req.UserID, req.SessionID, limiter.EndedByOperator)
	require.NoError(t, err)
	require.True(t, ok)
	ended := time.Now()
	for {
		asked := time.Now()
		before := requestPathCalls(here)
		d, err := here.Admit(ctx, req)
		require.NoError(t, err)
		if requestPathCalls(here) == before {
			// Every entry dates from before a call that found the session
			// active, so before the end: none is valid an interval later.
			require.Less(t, asked.Sub(ended), interval, "answered here an interval after it ended elsewhere")
			require.Equal(t, limiter.Refreshed, d.Result)
			realTime(t, 20*time.Millisecond)
			continue
		}
		assert.Equal(t, limiter.Ended, d.Result, "Redis's word: the session was ended")
		assert.Equal(t, limiter.EndedByOperator, d.EndReason)
		break
	}
}

// TestRedisFailedRenewalRenewsNothing stops Redis before the flusher's
// batch: nothing is renewed, so the session's first request past the
// interval goes to Redis (and fails) instead of being answered from an
// entry Redis never confirmed.
func TestRedisFailedRenewalRenewsNothing(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const interval, ttl = 20 * time.Second, time.Minute
	clock := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	r, err := limiter.NewRedis(limiter.RedisOptions{URL: srv.URL(), TTL: ttl, RefreshInterval: interval, Timeout: 200 * time.Millisecond, Clock: clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	ctx := context.Background()
	req := limiter.Request{UserID: "failed-renewal", SessionID: "s", Limit: 3}
	for range 2 { // a start, then a hit: pending
		_, err := r.Admit(ctx, req)
		require.NoError(t, err)
	}
	srv.Kill()
	clock.Advance(interval - limiter.FlushTick(interval))
	require.Equal(t, 1, limiter.Flush(r), "the session is due")
	errsAfterFlush := r.Stats().StoreErrors
	assert.Positive(t, errsAfterFlush, "the batch failed")
	d, err := r.Admit(ctx, req)
	require.NoError(t, err, "still inside the interval: answered here")
	require.Equal(t, limiter.Refreshed, d.Result)

	clock.Advance(limiter.FlushTick(interval))
	before := requestPathCalls(r)
	_, err = r.Admit(ctx, req)
	require.ErrorIs(t, err, limiter.ErrUnavailable, "past the interval it asks Redis")
	assert.Equal(t, before+1, requestPathCalls(r))
}

// assertBatchRenews plays users on url from a replica whose refresh cache
// reads a simulated clock, runs before, then the flusher's batch once they
// are due: every session is renewed without an error, and answered here
// past the interval of its first call. It returns the scripts the batches
// ran.
func assertBatchRenews(t *testing.T, url string, before func()) uint64 {
	t.Helper()
	const interval, ttl, users = 20 * time.Second, time.Minute, 20
	r, clock := simulatedRedis(t, url, interval, ttl, limiter.Rules{})
	ctx := context.Background()
	reqs := make([]limiter.Request, users)
	for i := range reqs {
		reqs[i] = limiter.Request{UserID: fmt.Sprintf("batch-%s-%d", t.Name(), i), SessionID: "s", Limit: 3}
	}
	admitPending(t, r, reqs...)
	before()
	tick := limiter.FlushTick(interval)
	clock.Advance(interval - tick)
	require.Equal(t, users, limiter.Flush(r))
	assert.Zero(t, r.Stats().StoreErrors)
	assert.Positive(t, limiter.BatchedCalls(r))
	clock.Advance(2 * tick)
	calls := requestPathCalls(r)
	for _, req := range reqs {
		d, err := r.Admit(ctx, req)
		require.NoError(t, err)
		assert.Equal(t, limiter.Refreshed, d.Result)
	}
	assert.Equal(t, calls, requestPathCalls(r), "renewed: answered here")
	return limiter.BatchedCalls(r)
}

// TestRedisRenewsAfterScriptFlush empties Redis's script cache before the
// batch: the scripts refused by their SHA go again in full.
func TestRedisRenewsAfterScriptFlush(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	// 20 sessions: two runs of the touch script, of 16 and 4.
	first := assertBatchRenews(t, srv.URL(), func() {})
	assert.Equal(t, uint64(2*2), first, "Redis did not know the script yet")
	warm := assertBatchRenews(t, srv.URL(), func() {})
	assert.Equal(t, uint64(2), warm, "one script per 16 sessions once Redis knows it")
	flushed := assertBatchRenews(t, srv.URL(), func() {
		_, err := srv.Do("SCRIPT", "FLUSH")
		require.NoError(t, err)
	})
	assert.Equal(t, uint64(2*2), flushed, "each run went again in full")
}

// TestRedisBatchRunsRenewEachSession renews, in two runs of the touch
// script, sessions of many users, two of one user, and one ended through
// another replica meanwhile: each session gets its own answer, and each
// carries to Redis the media a hit answered here delivered.
func TestRedisBatchRunsRenewEachSession(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const interval, ttl, media = 20 * time.Second, time.Minute, 30 * time.Second
	rules := limiter.Rules{MaxLease: 10 * time.Minute}
	r, clock := simulatedRedis(t, srv.URL(), interval, ttl, rules)
	elsewhere := newRedisRules(t, srv.URL(), ttl, 0, rules)
	t.Cleanup(func() { _ = elsewhere.Close() })
	ctx := context.Background()

	var reqs []limiter.Request
	for i := range 18 {
		reqs = append(reqs, limiter.Request{UserID: fmt.Sprintf("runs-%d", i), SessionID: "s", Limit: 3})
	}
	reqs = append(reqs, limiter.Request{UserID: "runs-0", SessionID: "s2", Limit: 3})
	for _, req := range reqs {
		_, err := r.Admit(ctx, req) // the start: a round trip
		require.NoError(t, err)
		hit := req
		hit.Media = media
		d, err := r.Admit(ctx, hit) // answered here: pending for the batch
		require.NoError(t, err)
		require.Equal(t, limiter.Refreshed, d.Result)
	}
	ended := reqs[5]
	ok, err := elsewhere.End(ctx, ended.UserID, ended.SessionID, limiter.EndedByOperator)
	require.NoError(t, err)
	require.True(t, ok)

	tick := limiter.FlushTick(interval)
	clock.Advance(interval - tick)
	require.Equal(t, len(reqs), limiter.Flush(r))
	assert.Zero(t, r.Stats().StoreErrors)
	assert.Equal(t, uint64(2*2), limiter.BatchedCalls(r), "19 sessions in runs of 16 and 3, each again in full: Redis did not know the script yet")
	flushed := time.Now()

	// The hit came interval-tick before the batch and delivered media: in
	// Redis that media runs out media-(interval-tick) after the batch.
	sessions, err := elsewhere.List(ctx, reqs[1].UserID)
	require.NoError(t, err)
	require.Len(t, sessions, 1)
	wantBuffered := flushed.Add(media - (interval - tick))
	assert.WithinDuration(t, wantBuffered, sessions[0].BufferedUntil, time.Second, "the touch carried the hit's media")

	clock.Advance(2 * tick) // past the interval of every session's last round trip
	calls := requestPathCalls(r)
	for _, req := range reqs {
		if req == ended {
			continue
		}
		d, err := r.Admit(ctx, req)
		require.NoError(t, err)
		assert.Equal(t, limiter.Refreshed, d.Result, "%s/%s", req.UserID, req.SessionID)
		if req.UserID == "runs-0" {
			assert.Equal(t, 2, d.Active, "both of the user's sessions were renewed")
		} else {
			assert.Equal(t, 1, d.Active, "%s holds its one session", req.UserID)
		}
	}
	assert.Equal(t, calls, requestPathCalls(r), "every active session was renewed: answered here")
	d, err := r.Admit(ctx, ended)
	require.NoError(t, err)
	assert.Equal(t, limiter.Ended, d.Result, "found ended by the batch: Redis's word")
	assert.Equal(t, calls+1, requestPathCalls(r))
}

// TestRedisBatchRunIsolatesAFailedSession renews 16 sessions in one run of
// the touch script, one of them a record the script cannot read: that
// session's renewal fails alone and the 15 others are renewed.
func TestRedisBatchRunIsolatesAFailedSession(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const interval, ttl = 20 * time.Second, time.Minute
	r, clock := simulatedRedis(t, srv.URL(), interval, ttl, limiter.Rules{})
	ctx := context.Background()
	var reqs []limiter.Request
	for i := range 16 {
		reqs = append(reqs, limiter.Request{UserID: fmt.Sprintf("isolated-%d", i), SessionID: "s", Limit: 3})
	}
	admitPending(t, r, reqs...)
	bad := reqs[7]
	_, err := srv.Do("HSET", limiter.RedisKey(bad.UserID), bad.SessionID, "garbage")
	require.NoError(t, err)

	tick := limiter.FlushTick(interval)
	clock.Advance(interval - tick)
	require.Equal(t, len(reqs), limiter.Flush(r))
	assert.Equal(t, uint64(1), r.Stats().StoreErrors, "the unreadable record's renewal alone failed")
	assert.Equal(t, uint64(2), limiter.BatchedCalls(r), "one run, sent again in full: Redis did not know the script yet")

	clock.Advance(2 * tick)
	calls := requestPathCalls(r)
	for _, req := range reqs {
		if req == bad {
			continue
		}
		d, err := r.Admit(ctx, req)
		require.NoError(t, err)
		assert.Equal(t, limiter.Refreshed, d.Result)
	}
	assert.Equal(t, calls, requestPathCalls(r), "the 15 others were renewed: answered here")
}

// TestRedisRenewalRewritesOnlyTimes: a renewal moves a record's times and
// keeps the rest of it (networks, marks, device) byte for byte, and writes a
// record of the previous format in the current one.
func TestRedisRenewalRewritesOnlyTimes(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const interval, ttl = 20 * time.Second, time.Minute
	r, clock := simulatedRedis(t, srv.URL(), interval, ttl, limiter.Rules{})
	dev := limiter.Device{UserAgent: "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0)", Address: "198.51.100.7:5000", ContentID: "film-42"}
	req := limiter.Request{UserID: "rewrite", SessionID: "s", Limit: 3, Device: dev, Network: limiter.NetworkOf(netip.MustParseAddr("198.51.100.7"))}
	const key, field = "streamgate:{rewrite}", "s"
	hget := func() []string {
		t.Helper()
		rec, err := srv.Do("HGET", key, field)
		require.NoError(t, err)
		parts := strings.SplitN(rec, ";", 8)
		require.Len(t, parts, 8, "a record of the current format: %q", rec)
		return parts
	}
	num := func(s string) int64 {
		t.Helper()
		n, err := strconv.ParseInt(s, 10, 64)
		require.NoError(t, err)
		return n
	}
	renew := func() {
		t.Helper()
		admitPending(t, r, req)
		clock.Advance(interval - limiter.FlushTick(interval))
		require.Equal(t, 1, limiter.Flush(r), "the session was renewed")
	}
	ttlUS := ttl.Microseconds()

	admitPending(t, r, req)
	before := hget()
	// Times half a TTL older, so that the renewal has something to move.
	seen := num(before[1]) - ttlUS/2
	older := fmt.Sprintf("%d;%d;%s", seen+ttlUS, seen, strings.Join(before[2:], ";"))
	_, err := srv.Do("HSET", key, field, older)
	require.NoError(t, err)
	clock.Advance(interval - limiter.FlushTick(interval))
	require.Equal(t, 1, limiter.Flush(r), "the session was renewed")
	after := hget()
	assert.Greater(t, num(after[1]), seen, "last seen moved")
	assert.Equal(t, num(after[1])+ttlUS, num(after[0]), "expiry follows it")
	assert.Equal(t, before[2:], after[2:], "the rest of the record is kept as it was")

	// A record of the previous format: "<lastSeen>:<startedAt>:<device>".
	legacy := fmt.Sprintf("%d:%s:%d:%s%s", num(after[1]), after[2], len("abc"), "abc", "10.0.0.1")
	_, err = srv.Do("HSET", key, field, legacy)
	require.NoError(t, err)
	renew()
	rec, err := srv.Do("HGET", key, field)
	require.NoError(t, err)
	assert.Len(t, strings.Split(rec, ";"), 15, "written in the current format: %q", rec)
	sessions, err := r.List(context.Background(), req.UserID)
	require.NoError(t, err)
	require.Len(t, sessions, 1)
	assert.Equal(t, limiter.Device{UserAgent: "abc", Address: "10.0.0.1"}, sessions[0].Device)
}
