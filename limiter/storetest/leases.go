package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
)

// open makes a store with rules, closed when the test ends.
func (h Harness) open(t *testing.T, ttl time.Duration, rules limiter.Rules) limiter.Store {
	t.Helper()
	s := h.New(t, ttl, rules)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func decide(t *testing.T, s limiter.Store, req limiter.Request) limiter.Decision {
	t.Helper()
	if req.Limit == 0 {
		req.Limit = 1
	}
	d, err := s.Admit(context.Background(), req)
	require.NoError(t, err)
	return d
}

func only(t *testing.T, s limiter.Store, user string) limiter.Session {
	t.Helper()
	list, err := s.List(context.Background(), user)
	require.NoError(t, err)
	require.Len(t, list, 1)
	return list[0]
}

// playerStop returns a player's stop of user's sessions in s, each of which
// must have been active.
func playerStop(t *testing.T, s limiter.Store, user string) func(session string) {
	return func(session string) {
		t.Helper()
		ended, err := s.End(context.Background(), user, session, limiter.StoppedByPlayer)
		require.NoError(t, err)
		assert.True(t, ended)
	}
}

// runLeases checks *Sessions live as long as their media*.
func runLeases(t *testing.T, h Harness) {
	T := h.TTL
	leases := limiter.Rules{MaxLease: 10 * T}

	t.Run("media keeps a session active past the TTL", func(t *testing.T) {
		s := h.open(t, T, leases)
		u := newUser("lease")
		assert.Equal(t, limiter.Started, decide(t, s, limiter.Request{UserID: u, SessionID: "s1", Media: T}).Result)
		got := only(t, s, u)
		assert.Equal(t, T, got.BufferedUntil.Sub(got.LastSeen), "bufferedUntil = now + d")
		assert.Equal(t, 2*T, got.ExpiresAt.Sub(got.LastSeen), "active until bufferedUntil + TTL")

		h.Advance(t, T+T/2)
		d := decide(t, s, limiter.Request{UserID: u, SessionID: "s2"})
		assert.Equal(t, limiter.Rejected, d.Result, "past the TTL, within the media")
		assert.Greater(t, d.RetryAfter, time.Duration(0))
		assert.LessOrEqual(t, d.RetryAfter, T/2, "Retry-After follows the lease")
		require.Len(t, d.Sessions, 1)
		assert.Equal(t, got.ExpiresAt, d.Sessions[0].ExpiresAt)

		h.Advance(t, T*3/4)
		assert.Equal(t, limiter.Started, decide(t, s, limiter.Request{UserID: u, SessionID: "s2"}).Result, "the media ran out a TTL ago")
	})

	t.Run("a request that tells no media counts the fallback, after d and the session's hint, never under the floor", func(t *testing.T) {
		s := h.open(t, T, leases)
		u := newUser("fallback")
		for _, tc := range []struct {
			req  limiter.Request
			want time.Duration
		}{
			{limiter.Request{SessionID: "fallback"}, T / 4},
			{limiter.Request{SessionID: "d", Media: T / 8}, T / 8},
			{limiter.Request{SessionID: "hint", SegmentHint: T / 2}, T / 2},
			{limiter.Request{SessionID: "none", NoMedia: true}, 0},
			// MinMedia: whatever told the media, at least that much.
			{limiter.Request{SessionID: "small d", Media: T / 16, MinMedia: T / 8}, T / 8},
			{limiter.Request{SessionID: "small hint", SegmentHint: T / 16, MinMedia: T / 8}, T / 8},
			{limiter.Request{SessionID: "no media, a floor", NoMedia: true, MinMedia: T / 8}, 0},
		} {
			tc.req.UserID, tc.req.Limit, tc.req.FallbackMedia = u, 8, T/4
			require.Equal(t, limiter.Started, decide(t, s, tc.req).Result)
			list, err := s.List(context.Background(), u)
			require.NoError(t, err)
			for _, got := range list {
				if got.ID == tc.req.SessionID {
					assert.Equal(t, tc.want, max(got.BufferedUntil.Sub(got.LastSeen), 0), tc.req.SessionID)
				}
			}
		}
	})

	t.Run("the max lease caps the media", func(t *testing.T) {
		s := h.open(t, T, limiter.Rules{MaxLease: T + T/2})
		u := newUser("cap")
		decide(t, s, limiter.Request{UserID: u, SessionID: "s1", Media: 10 * T})
		got := only(t, s, u)
		assert.Equal(t, T+T/2, got.ExpiresAt.Sub(got.LastSeen))
		h.Advance(t, T+T/4)
		assert.Equal(t, limiter.Rejected, decide(t, s, limiter.Request{UserID: u, SessionID: "s2"}).Result)
		h.Advance(t, T/2)
		assert.Equal(t, limiter.Started, decide(t, s, limiter.Request{UserID: u, SessionID: "s2"}).Result)
	})

	t.Run("an admission says the segment hint the store keeps", func(t *testing.T) {
		s := h.open(t, T, leases)
		u := newUser("hint")
		d := decide(t, s, limiter.Request{UserID: u, SessionID: "s1", NoMedia: true, SegmentHint: T / 8})
		require.Equal(t, limiter.Started, d.Result)
		assert.Equal(t, T/8, d.SegmentHint)
		for range 3 { // answered by the store or, in a Redis store, its refresh cache
			d = decide(t, s, limiter.Request{UserID: u, SessionID: "s1"})
			require.Equal(t, limiter.Refreshed, d.Result)
			assert.Equal(t, T/8, d.SegmentHint, "kept from the request that brought it")
		}
		d = decide(t, s, limiter.Request{UserID: u, SessionID: "s1", SegmentHint: T / 4})
		assert.Equal(t, T/4, d.SegmentHint, "a new one replaces it")
	})

	t.Run("three free stops per TTL: past them a stop keeps the slot while its media lasts", func(t *testing.T) {
		s := h.open(t, T, leases)
		u := newUser("stop")
		stop := playerStop(t, s, u)
		// A stop without media left frees the slot and uses nothing.
		require.Equal(t, limiter.Started, decide(t, s, limiter.Request{UserID: u, SessionID: "s1", NoMedia: true}).Result)
		stop("s1")
		// The first three stops with media free the slot at once: a
		// household that closes its pages and opens other devices gets in.
		for _, id := range []string{"a", "b", "c"} {
			require.Equal(t, limiter.Started, decide(t, s, limiter.Request{UserID: u, SessionID: id, Media: T}).Result)
			stop(id)
		}
		require.Equal(t, limiter.Started, decide(t, s, limiter.Request{UserID: u, SessionID: "s3", Media: T}).Result)
		// A fourth within the TTL keeps it until the media runs out.
		mediaEnd := only(t, s, u).BufferedUntil
		stop("s3")
		got := only(t, s, u)
		assert.WithinDuration(t, mediaEnd, got.ExpiresAt, time.Millisecond, "active until its media runs out, no TTL after it")
		assert.Equal(t, limiter.Rejected, decide(t, s, limiter.Request{UserID: u, SessionID: "s4"}).Result,
			"another device does not take the slot of media still to play")
		// Stopped again, and again: as it was.
		stop("s3")
		stop("s3")
		assert.WithinDuration(t, mediaEnd, only(t, s, u).ExpiresAt, time.Millisecond, "a further stop changes nothing")
		assert.Equal(t, limiter.Rejected, decide(t, s, limiter.Request{UserID: u, SessionID: "s4"}).Result)
		h.Advance(t, T+T/4)
		assert.Equal(t, limiter.Started, decide(t, s, limiter.Request{UserID: u, SessionID: "s4", Media: T}).Result, "the media ran out")
		stop("s4")
		assert.Equal(t, limiter.Started, decide(t, s, limiter.Request{UserID: u, SessionID: "s5"}).Result, "a TTL later, free stops again")
	})

	t.Run("a session kept by a stop that plays again keeps its media, and a new stop weighs it again", func(t *testing.T) {
		s := h.open(t, T, leases)
		u := newUser("resume")
		stop := playerStop(t, s, u)
		for _, id := range []string{"a", "b", "c"} { // the free stops
			require.Equal(t, limiter.Started, decide(t, s, limiter.Request{UserID: u, SessionID: id, Media: T}).Result)
			stop(id)
		}
		require.Equal(t, limiter.Started, decide(t, s, limiter.Request{UserID: u, SessionID: "s", Media: 2 * T}).Result)
		mediaEnd := only(t, s, u).BufferedUntil
		stop("s")
		h.Advance(t, T/2)
		require.Equal(t, limiter.Refreshed, decide(t, s, limiter.Request{UserID: u, SessionID: "s", NoMedia: true}).Result)
		assert.WithinDuration(t, mediaEnd, only(t, s, u).BufferedUntil, time.Millisecond, "the media it had, not shifted back by the stop")
		stop("s")
		assert.WithinDuration(t, mediaEnd, only(t, s, u).ExpiresAt, time.Millisecond, "kept again until its media runs out")
	})

	t.Run("without a max lease media changes nothing", func(t *testing.T) {
		s := h.open(t, T, limiter.Rules{})
		u := newUser("ttlonly")
		decide(t, s, limiter.Request{UserID: u, SessionID: "s1", Media: 10 * T})
		got := only(t, s, u)
		assert.Equal(t, T, got.ExpiresAt.Sub(got.LastSeen))
	})

	tests := []struct {
		name string
		reqs []limiter.Request
		// want is bufferedUntil - lastSeen after the requests (0: none).
		want time.Duration
	}{
		{"media of one track adds up", []limiter.Request{{Media: T / 4}, {Media: T / 4}}, T / 2},
		{"audio and video side by side are one stream of media time", []limiter.Request{
			{Media: T / 4, Track: limiter.TrackVideo}, {Media: T / 4, Track: limiter.TrackAudio},
			{Media: T / 4, Track: limiter.TrackVideo}, {Media: T / 4, Track: limiter.TrackAudio},
		}, T / 2},
		{"a manifest adds no media", []limiter.Request{{Media: T, NoMedia: true}}, 0},
		{"the segment hint stands in for a missing d", []limiter.Request{
			{NoMedia: true, SegmentHint: T / 8}, {}, {}, {Media: T / 4},
		}, T / 2},
		{"a hint on a media request applies to it", []limiter.Request{{SegmentHint: T / 8}, {}}, T / 4},
		{"the buffer length is a floor", []limiter.Request{{NoMedia: true, Buffer: T}}, T},
		{"the buffer length and then the media", []limiter.Request{{Buffer: T / 2, Media: T / 4}}, T * 3 / 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := h.open(t, T, leases)
			u := newUser("media")
			for _, req := range tt.reqs {
				req.UserID, req.SessionID = u, "s1"
				require.True(t, decide(t, s, req).Admitted())
			}
			if tt.want == 0 {
				got := only(t, s, u)
				assert.True(t, got.BufferedUntil.IsZero(), "bufferedUntil %v", got.BufferedUntil)
				return
			}
			// Requests of a real clock are a little apart: the media of
			// the last one counts from its own time at the latest. A store
			// that answered some from a cache brings them to the shared
			// store within about a refresh interval: poll for that.
			spread := time.Duration(0)
			if !h.ExactClock {
				spread = T / 8
			}
			got := only(t, s, u)
			near := func() bool {
				list, err := s.List(context.Background(), u)
				if err != nil || len(list) != 1 {
					return false
				}
				got = list[0]
				diff := got.BufferedUntil.Sub(got.LastSeen) - tt.want
				return diff <= spread && diff >= -spread
			}
			if !h.ExactClock {
				require.Eventually(t, near, T, T/50)
			}
			assert.InDelta(t, tt.want, got.BufferedUntil.Sub(got.LastSeen), float64(spread))
			assert.Equal(t, got.BufferedUntil.Add(T), got.ExpiresAt)
		})
	}
}

// runCachedHeartbeats is issue 13's case: three sessions started at t=0 and
// heartbeating at t=1 (TTL 6): a fourth is not admitted at t=6.45 and the
// three still play, however the heartbeats were answered (a Redis store's
// refresh cache answers them without a round trip).
func runCachedHeartbeats(t *testing.T, h Harness) {
	t.Run("a heartbeat keeps its session a TTL however it was answered", func(t *testing.T) {
		T := h.TTL
		if !h.ExactClock {
			T = 3 * h.TTL // real time: room for the store calls of each step
		}
		step := func(n float64) time.Duration { return time.Duration(n * float64(T) / 6) }
		s := h.open(t, T, limiter.Rules{})
		u := newUser("cached")
		for _, sid := range []string{"s1", "s2", "s3"} {
			require.Equal(t, limiter.Started, decide(t, s, limiter.Request{UserID: u, SessionID: sid, Limit: 3}).Result)
		}
		h.Advance(t, step(1))
		for _, sid := range []string{"s1", "s2", "s3"} {
			require.Equal(t, limiter.Refreshed, decide(t, s, limiter.Request{UserID: u, SessionID: sid, Limit: 3}).Result)
		}
		h.Advance(t, step(5.45))
		assert.Equal(t, limiter.Rejected, decide(t, s, limiter.Request{UserID: u, SessionID: "s4", Limit: 3}).Result, "t=6.45")
		for _, sid := range []string{"s1", "s2", "s3"} {
			assert.Equal(t, limiter.Refreshed, decide(t, s, limiter.Request{UserID: u, SessionID: sid, Limit: 3}).Result, sid)
		}
	})
}
