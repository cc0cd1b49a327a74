package playertest

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// One player of each kind, in the format it is most used with.
var cmcdCases = []struct {
	name, player, path string
}{
	{"hls.js", "hls", vodHLS},
	{"Shaka", "shaka", vodDASH},
	{"dash.js", "dash", vodDASH},
}

// TestCMCDSessions: stock players with CMCD on and no custom header, the user
// from a token in a cookie: the gate keys each playback on the player's own
// CMCD sid, so three play and the fourth is refused with the 429's words.
func TestCMCDSessions(t *testing.T) {
	for _, mode := range []string{"header", "query"} {
		for _, tc := range cmcdCases {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				needFlag(t, "-cmcd")
				t.Parallel()
				useBrowser(t)
				// Cookies belong to a host, not a port: tests running side by
				// side on 127.0.0.1 each read a cookie of their own name.
				cookie := "sg_" + tc.player + "_" + mode
				g := startGate(t, append(jwtArgs(t), "-token-cookie", cookie)...)
				user := "frank-" + tc.player + "-" + mode
				p := page{Player: tc.player, Src: g.URL + tc.path, CMCD: mode,
					Cookie: cookie + "=" + token(t, user, ""), Cred: true}
				var tabs []*tab
				for i := 1; i <= 3; i++ {
					tabs = append(tabs, openPage(t, fmt.Sprintf("player %d", i), p))
				}
				for _, tb := range tabs {
					tb.waitPlaying(startWithin)
				}
				s := g.streams(t, user)
				require.Equal(t, 3, s.Active)
				ids := map[string]bool{}
				for _, sess := range s.Sessions {
					ids[sess.SessionID] = true
				}
				assert.Len(t, ids, 3, "three CMCD session ids")

				fourth := openPage(t, "player 4", p)
				st := fourth.waitFatal(refuseWithin)
				assertRefusedWith(t, fourth, st, http.StatusTooManyRequests)
			})
		}
	}
}

// TestMintedSessionsHLSJS: hls.js given only a user cookie (a token without
// a session claim): the gate mints a session per playback, three play, the
// fourth is refused; a reloaded page gets a new session and its old one frees
// after its lease.
func TestMintedSessionsHLSJS(t *testing.T) {
	needFlag(t, "-mint-sessions")
	t.Parallel()
	useBrowser(t)
	const ttl = 3 * time.Second
	g := startGate(t, append(jwtArgs(t), "-mint-sessions", "-session-ttl", ttl.String(), "-token-cookie", "sg_minted")...)
	user := "grace"
	// The players fetch 6 s ahead, not the whole VOD: so they keep asking
	// while they play, and a reloaded page's old session frees within
	// seconds, at the end of the media it was given, with the default
	// -max-lease. (A short -max-lease instead would free the three
	// players' slots while they still play, and let the fourth in.)
	p := page{Player: "hls", Src: g.URL + vodHLS, Cookie: "sg_minted=" + token(t, user, ""), Cred: true, Buffer: 6}
	var tabs []*tab
	for i := 1; i <= 3; i++ {
		tabs = append(tabs, openPage(t, fmt.Sprintf("player %d", i), p))
	}
	for _, tb := range tabs {
		tb.waitPlaying(startWithin)
	}
	before := g.streams(t, user)
	require.Equal(t, 3, before.Active)
	fourth := openPage(t, "player 4", p)
	assertRefusedWith(t, fourth, fourth.waitFatal(refuseWithin), http.StatusTooManyRequests)
	fourth.close()

	// One player left: it reloads its page and gets a new session; its old
	// one frees after its lease. The others close first, so that the slot
	// the old session frees is the only change to watch. Their pages end
	// their minted sessions, named as their requests named them.
	for _, tb := range tabs[1:] {
		require.Equal(t, http.StatusNoContent, tb.closePlayer(), "%s: the DELETE", tb.name)
		tb.close()
	}
	eventually(t, ttl, "the closed players' slots freed", func() bool { return g.streams(t, user).Active == 1 })
	old := g.streams(t, user).Sessions[0].SessionID
	tabs[0].reload()
	tabs[0].waitPlaying(startWithin)
	eventually(t, 10*time.Second, "the reloaded page plays in a new session", func() bool {
		for _, sess := range g.streams(t, user).Sessions {
			if sess.SessionID != old {
				return true
			}
		}
		return false
	})
	eventually(t, 30*time.Second, "the reloaded page's old session freed", func() bool {
		for _, sess := range g.streams(t, user).Sessions {
			if sess.SessionID == old {
				return false
			}
		}
		return true
	})
}

// TestMintedSessionsFFmpeg: ffmpeg sends only its user; the gate mints a
// session per reader through the playlist's URIs. Three decode, the fourth
// exits on the 429.
func TestMintedSessionsFFmpeg(t *testing.T) {
	for _, tc := range []struct{ name, path string }{{"HLS", vodHLS}, {"DASH", vodDASH}} {
		t.Run(tc.name, func(t *testing.T) {
			needMedia(t)
			needFlag(t, "-mint-sessions")
			t.Parallel()
			g := startGate(t, "-mint-sessions")
			var wg sync.WaitGroup
			outs, errs := make([]string, 3), make([]error, 3)
			for i := range 3 {
				wg.Go(func() { outs[i], errs[i] = ffmpegRead(t, g.URL+tc.path, "X-User-Id: heidi") })
			}
			wg.Wait()
			for i := range 3 {
				assert.NoError(t, errs[i], "reader %d: %s", i+1, outs[i])
			}
			require.Equal(t, 3, g.streams(t, "heidi").Active)
			out, err := ffmpegRead(t, g.URL+tc.path, "X-User-Id: heidi")
			require.Error(t, err, "the fourth reader must fail: %s", out)
			assert.Contains(t, out, "HTTP error 429")
		})
	}
}
