package playertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each stock player with each format it plays.
var playerCases = []struct {
	name, player, path string
}{
	{"hls.js/HLS", "hls", vodHLS},
	{"Shaka/HLS", "shaka", vodHLS},
	{"Shaka/DASH", "shaka", vodDASH},
	{"dash.js/DASH", "dash", vodDASH},
}

const (
	// startWithin bounds a player's start: chromium loading the page and the
	// player, the first segments, three seconds of media played.
	startWithin = 30 * time.Second
	// refuseWithin bounds how long a refused player takes to give up
	// (Shaka and dash.js retry a manifest a few times first).
	refuseWithin = 20 * time.Second
)

// TestThreePlayFourthRefused: three players of one user play; a fourth is
// refused, and its page shows the 429's words; once a person closes one of
// the three, the fourth device plays.
func TestThreePlayFourthRefused(t *testing.T) {
	for _, tc := range playerCases {
		t.Run(tc.name, func(t *testing.T) {
			needMedia(t)
			t.Parallel()
			useBrowser(t)
			g := startGate(t)
			user := "alice"
			var tabs []*tab
			for i := 1; i <= 3; i++ {
				tabs = append(tabs, openPage(t, fmt.Sprintf("player %d", i),
					userPage(tc.player, g.URL+tc.path, user, fmt.Sprintf("device-%d", i))))
			}
			for _, tb := range tabs {
				tb.waitPlaying(startWithin)
			}
			assert.Equal(t, 3, g.streams(t, user).Active)

			fourth := openPage(t, "player 4", userPage(tc.player, g.URL+tc.path, user, "device-4"))
			s := fourth.waitFatal(refuseWithin)
			assertRefusedWith(t, fourth, s, http.StatusTooManyRequests)
			assert.Zero(t, s.CurrentTime, "the refused player must not play")

			// The refusal touched none of the three.
			for _, tb := range tabs {
				before := tb.state().CurrentTime
				tb.waitUntil(10*time.Second, "still playing", func(s pageState) bool {
					return s.CurrentTime > before+1
				})
				assert.Nil(t, tb.state().Fatal)
			}

			// The person closes a player; its page ends the session
			// (DELETE /_streamgate/session), and the fourth device plays.
			fourth.close()
			require.Equal(t, http.StatusNoContent, tabs[0].closePlayer(), "the closed page's DELETE")
			tabs[0].close()
			eventually(t, 5*time.Second, "the closed player's slot freed", func() bool {
				return g.streams(t, user).Active == 2
			})
			openPage(t, "player 4 again", userPage(tc.player, g.URL+tc.path, user, "device-4")).waitPlaying(startWithin)
			assert.Equal(t, 3, g.streams(t, user).Active)
		})
	}
}

// assertRefusedWith checks that the player gave up on the gate's problem
// answer of that status and that the page shows its detail.
func assertRefusedWith(t *testing.T, tb *tab, s pageState, status int) {
	t.Helper()
	require.NotNil(t, s.Fatal)
	require.Equal(t, status, s.Fatal.Status, "%s: the fatal error's status; state %s", tb.name, s)
	var problem struct {
		Type   string `json:"type"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	require.NoError(t, json.Unmarshal([]byte(s.Fatal.Body), &problem),
		"%s: the page could not read the problem JSON: %q", tb.name, s.Fatal.Body)
	assert.Equal(t, status, problem.Status)
	require.NotEmpty(t, problem.Detail)
	assert.Equal(t, problem.Detail, tb.shownText(), "%s: the page shows the problem's detail", tb.name)
	if status == http.StatusTooManyRequests {
		assert.NotEmpty(t, s.Fatal.RetryAfter, "%s: the page can read Retry-After", tb.name)
	}
}
