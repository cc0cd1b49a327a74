package playertest

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// demoLiveDASH is the -demo origin's live DASH stream.
const demoLiveDASH = "/live/manifest.mpd"

// TestMintedSessionsLiveDASH: dash.js and Shaka reload a live MPD every few
// seconds. With -mint-sessions and only a user, each player keeps the one
// session it was minted: the MPD names itself, with the session, in a
// Location the players reload from (without it, dash.js took three slots
// and Shaka two within 20 s). Its page then ends that session at once.
func TestMintedSessionsLiveDASH(t *testing.T) {
	needMedia(t)
	needFlag(t, "-mint-sessions")
	t.Parallel()
	g := startGate(t, "-mint-sessions")
	for _, player := range []string{"dash", "shaka"} {
		t.Run(player, func(t *testing.T) {
			t.Parallel()
			useBrowser(t)
			user := "live-" + player
			tb := openPage(t, player, page{Player: player, Src: g.URL + demoLiveDASH, Headers: []string{"X-User-Id: " + user}})
			tb.waitPlaying(startWithin)
			first := g.streams(t, user)
			require.Equal(t, 1, first.Active)
			// Several reloads of the MPD (minimumUpdatePeriod is a few
			// seconds): the session must stay the one.
			for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
				s := g.streams(t, user)
				require.Equal(t, 1, s.Active, "one player, one slot: %+v", s.Sessions)
				assert.Equal(t, first.Sessions[0].SessionID, s.Sessions[0].SessionID)
			}
			// The page ends its minted session, named as its requests name it.
			require.Equal(t, http.StatusNoContent, tb.closePlayer(), "the closed page's DELETE")
			eventually(t, 2*time.Second, "the closed player's slot freed", func() bool { return g.streams(t, user).Active == 0 })
		})
	}
}
