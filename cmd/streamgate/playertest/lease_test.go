package playertest

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// probe asks for the manifest as another device of user and returns the
// status: a fourth device trying its luck.
func probe(t *testing.T, g *gate, path, user, session string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("X-User-Id", user)
	req.Header.Set("X-Session-Id", session)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestBufferingPlayersHoldTheirSlots: hls.js with its default buffer fetches
// the whole short VOD within seconds and then goes quiet; with a TTL far
// shorter than the media it holds, no fourth device gets in while the three
// play, the admin API's expiry follows what each player really buffered, and
// a player that is closed frees its slot within the TTL.
func TestBufferingPlayersHoldTheirSlots(t *testing.T) {
	needFlag(t, "-max-lease")
	t.Parallel()
	useBrowser(t)
	const ttl = 5 * time.Second
	g := startGate(t, "-session-ttl", ttl.String())
	user := "carol"
	var tabs []*tab
	for i := 1; i <= 3; i++ {
		tabs = append(tabs, openPage(t, fmt.Sprintf("player %d", i),
			userPage("hls", g.URL+vodHLS, user, fmt.Sprintf("device-%d", i))))
	}
	for _, tb := range tabs {
		tb.waitPlaying(startWithin)
	}

	// The players hold far more than the TTL: the gate must count it.
	for _, tb := range tabs {
		tb.waitUntil(20*time.Second, "buffered three TTLs ahead", func(s pageState) bool {
			return s.Buffered > 3*ttl.Seconds()
		})
	}
	sessions := g.streams(t, user)
	require.Equal(t, 3, sessions.Active)
	for _, sess := range sessions.Sessions {
		var tb *tab
		for i := range tabs {
			if sess.SessionID == fmt.Sprintf("device-%d", i+1) {
				tb = tabs[i]
			}
		}
		require.NotNil(t, tb, "unknown session %s", sess.SessionID)
		buffered := tb.state().Buffered
		leased := time.Until(sess.ExpiresAt).Seconds() - ttl.Seconds()
		assert.InEpsilon(t, buffered, leased, 0.25,
			"%s: the lease (%0.1f s past now, less the TTL) follows the player's buffer (%0.1f s)", tb.name, leased, buffered)
	}

	// Three TTLs of quiet players: a fourth device is refused every time.
	until := time.Now().Add(3 * ttl)
	for time.Now().Before(until) {
		require.Equal(t, http.StatusTooManyRequests, probe(t, g, vodHLS, user, "device-4"),
			"a fourth device got in while three play")
		time.Sleep(500 * time.Millisecond)
	}
	for _, tb := range tabs {
		s := tb.state()
		require.Nil(t, s.Fatal, "%s", tb.name)
		require.Less(t, s.CurrentTime, float64(vodSeconds), "%s ended: the test ran too long to prove anything", tb.name)
	}

	// The person closes the first player: its page ends the session.
	require.Equal(t, http.StatusNoContent, tabs[0].closePlayer(), "the closed page's DELETE")
	tabs[0].close()
	eventually(t, ttl, "a fourth device admitted after a player was closed", func() bool {
		return probe(t, g, vodHLS, user, "device-4") == http.StatusOK
	})
}

// TestResumedAfterSlotTaken: a player paused long enough for its slot to go
// to another device, then resumed, ends with a fatal error, and the page says
// why (the gate's problem JSON), for each stock player.
func TestResumedAfterSlotTaken(t *testing.T) {
	for _, tc := range playerCases {
		t.Run(tc.name, func(t *testing.T) {
			needMedia(t)
			t.Parallel()
			useBrowser(t)
			const ttl = 3 * time.Second
			args := []string{"-session-ttl", ttl.String()}
			if hasFlag("-max-lease") {
				// A paused player holds what it buffered, up to this.
				args = append(args, "-max-lease", "8s")
			}
			g := startGate(t, args...)
			user := "dave"
			// A short buffer, so that the resumed player must fetch again.
			var tabs []*tab
			for i := 1; i <= 3; i++ {
				p := userPage(tc.player, g.URL+tc.path, user, fmt.Sprintf("device-%d", i))
				p.Buffer = 6
				tabs = append(tabs, openPage(t, fmt.Sprintf("player %d", i), p))
			}
			for _, tb := range tabs {
				tb.waitPlaying(startWithin)
			}
			paused := tabs[0]
			paused.eval(`document.getElementById('video').pause()`)

			// The paused player's lease runs out; another device takes the slot.
			eventually(t, 30*time.Second, "a fourth device admitted while the first is paused", func() bool {
				return probe(t, g, tc.path, user, "device-4") == http.StatusOK
			})
			p := userPage(tc.player, g.URL+tc.path, user, "device-4")
			p.Buffer = 6 // keeps asking, so that its slot never lapses without leases
			openPage(t, "player 4", p).waitPlaying(startWithin)

			paused.eval(`document.getElementById('video').play()`)
			resumed := time.Now()
			s := paused.waitFatal(giveUpWithin(tc.player))
			gaveUp := time.Since(resumed)
			require.NotZero(t, s.Fatal.Status, "the resumed player ended on the gate's answer: %s", s)
			assertRefusedWith(t, paused, s, s.Fatal.Status)
			t.Logf("%s: the resumed player ended %.1f s after resuming, on HTTP %d: %q",
				tc.name, gaveUp.Seconds(), s.Fatal.Status, paused.shownText())
		})
	}
}

// giveUpWithin bounds how long a player with its default settings takes to
// give up once every segment it asks for is refused. hls.js retries a failed
// fragment six times with backoff (1+2+4+8+8+8 s) whatever the status, when
// the stream has no other variant (fragLoadPolicy.default.errorRetry,
// base-stream-controller.ts onFragmentOrKeyLoadError); Shaka and dash.js give
// up within seconds (TestRefusalExperiment).
func giveUpWithin(player string) time.Duration {
	if player == "hls" {
		return 45 * time.Second
	}
	return 15 * time.Second
}
