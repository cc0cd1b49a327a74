package playertest

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEndedByOperator: an operator ends one of three playing sessions through
// the admin API; that player stops with a fatal error on the gate's 410 and
// its page says why, the other two keep playing.
func TestEndedByOperator(t *testing.T) {
	for _, tc := range playerCases {
		t.Run(tc.name, func(t *testing.T) {
			needFlag(t, "-tombstone-ttl")
			t.Parallel()
			useBrowser(t)
			g := startGate(t)
			user := "erin"
			var tabs []*tab
			for i := 1; i <= 3; i++ {
				p := userPage(tc.player, g.URL+tc.path, user, fmt.Sprintf("device-%d", i))
				p.Buffer = 6 // keeps fetching, so it meets the 410 soon
				tabs = append(tabs, openPage(t, fmt.Sprintf("player %d", i), p))
			}
			for _, tb := range tabs {
				tb.waitPlaying(startWithin)
			}

			g.endSession(t, user, "device-1")
			s := tabs[0].waitFatal(giveUpWithin(tc.player))
			assertRefusedWith(t, tabs[0], s, http.StatusGone)
			assert.Contains(t, s.Fatal.Body, "session-ended")

			for _, tb := range tabs[1:] {
				before := tb.state().CurrentTime
				tb.waitUntil(10*time.Second, "still playing", func(s pageState) bool {
					return s.CurrentTime > before+1
				})
				require.Nil(t, tb.state().Fatal, "%s", tb.name)
			}
			// Ended means ended: the same session is not let back in.
			assert.Equal(t, http.StatusGone, probe(t, g, tc.path, user, "device-1"))
		})
	}
}
