package playertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPagesSendCMCD checks the pages themselves against a plain origin: with
// CMCD on, each player sends one session id on its segment requests, in the
// mode asked for, and the cookie goes along. The CMCD tests of the gate rest
// on it.
func TestPagesSendCMCD(t *testing.T) {
	sid := regexp.MustCompile(`sid="([^"]+)"`)
	for _, tc := range cmcdCases {
		for _, mode := range []string{"header", "query"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				needMedia(t)
				t.Parallel()
				useBrowser(t)
				var mu sync.Mutex
				var sids []string
				cookies := 0
				files := mediaHandler(mediaDir)
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.HasSuffix(r.URL.Path, ".m4s") {
						cmcd := r.Header.Get("CMCD-Session")
						if mode == "query" {
							cmcd = r.URL.Query().Get("CMCD")
						}
						mu.Lock()
						sids = append(sids, "")
						if m := sid.FindStringSubmatch(cmcd); m != nil {
							sids[len(sids)-1] = m[1]
						}
						if strings.Contains(r.Header.Get("Cookie"), "streamgate_token=t") {
							cookies++
						}
						mu.Unlock()
					}
					files.ServeHTTP(w, r)
				}))
				t.Cleanup(srv.Close)
				tb := openPage(t, tc.name, page{Player: tc.player, Src: srv.URL + tc.path, CMCD: mode,
					Cookie: "streamgate_token=t", Cred: true})
				tb.waitPlaying(startWithin)
				mu.Lock()
				defer mu.Unlock()
				require.NotEmpty(t, sids)
				assert.NotEmpty(t, sids[0], "a CMCD sid in the %s", mode)
				for _, s := range sids {
					assert.Equal(t, sids[0], s, "one sid for the whole playback")
				}
				assert.Equal(t, len(sids), cookies, "the cookie on every segment request")
			})
		}
	}
}

// TestClosedPlayerFreesItsSlot: a page that closes its player ends its
// session (DELETE /_streamgate/session); a fourth device then plays at once.
func TestClosedPlayerFreesItsSlot(t *testing.T) {
	for _, tc := range playerCases {
		t.Run(tc.name, func(t *testing.T) {
			needMedia(t)
			t.Parallel()
			useBrowser(t)
			g := startGate(t)
			user := "kim"
			var tabs []*tab
			for i := 1; i <= 3; i++ {
				tabs = append(tabs, openPage(t, fmt.Sprintf("player %d", i),
					userPage(tc.player, g.URL+tc.path, user, fmt.Sprintf("device-%d", i))))
			}
			for _, tb := range tabs {
				tb.waitPlaying(startWithin)
			}
			require.Equal(t, http.StatusTooManyRequests, probe(t, g, tc.path, user, "device-4"))

			tabs[0].eval(`window.closePlayer()`)
			tabs[0].close()
			eventually(t, 5*time.Second, "the closed player's slot freed", func() bool {
				return g.streams(t, user).Active == 2
			})
			openPage(t, "player 4", userPage(tc.player, g.URL+tc.path, user, "device-4")).waitPlaying(startWithin)
			assert.Equal(t, 3, g.streams(t, user).Active)
		})
	}
}
