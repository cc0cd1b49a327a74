package playertest

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCORSAnswers: the gate answers the pages' origin itself: the preflight of
// a player that sends identity headers, and the headers a page needs to read
// a 429.
func TestCORSAnswers(t *testing.T) {
	needMedia(t)
	needFlag(t, "-cors-origins")
	t.Parallel()
	g := startGate(t, "-max-streams", "1")

	req, err := http.NewRequest(http.MethodOptions, g.URL+vodHLS, nil)
	require.NoError(t, err)
	req.Header.Set("Origin", pages.URL)
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "x-user-id,x-session-id")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, pages.URL, resp.Header.Get("Access-Control-Allow-Origin"))
	allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
	assert.Contains(t, allowed, "x-user-id")
	assert.Contains(t, allowed, "x-session-id")

	get := func(session string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, g.URL+vodHLS, nil)
		require.NoError(t, err)
		req.Header.Set("Origin", pages.URL)
		req.Header.Set("X-User-Id", "ivan")
		req.Header.Set("X-Session-Id", session)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	require.Equal(t, http.StatusOK, get("a").StatusCode)
	refused := get("b")
	require.Equal(t, http.StatusTooManyRequests, refused.StatusCode)
	assert.Equal(t, pages.URL, refused.Header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, strings.ToLower(refused.Header.Get("Access-Control-Expose-Headers")), "retry-after")
}

// TestCORSBearer: players on another origin that send a token in
// Authorization (which needs a preflight): three play, the fourth shows the
// 429's words. Header identity across origins is TestThreePlayFourthRefused,
// which runs with the gate's CORS once -cors-origins exists.
func TestCORSBearer(t *testing.T) {
	for _, tc := range playerCases {
		t.Run(tc.name, func(t *testing.T) {
			needFlag(t, "-cors-origins")
			t.Parallel()
			useBrowser(t)
			g := startGate(t, jwtArgs(t)...)
			user := "judy"
			pageFor := func(i int) page {
				return page{Player: tc.player, Src: g.URL + tc.path,
					Headers: []string{"Authorization: Bearer " + token(t, user, fmt.Sprintf("device-%d", i))}}
			}
			var tabs []*tab
			for i := 1; i <= 3; i++ {
				tabs = append(tabs, openPage(t, fmt.Sprintf("player %d", i), pageFor(i)))
			}
			for _, tb := range tabs {
				tb.waitPlaying(startWithin)
			}
			fourth := openPage(t, "player 4", pageFor(4))
			assertRefusedWith(t, fourth, fourth.waitFatal(refuseWithin), http.StatusTooManyRequests)
		})
	}
}

// TestDASHTokenInQuery: players that cannot set headers carry the token in
// the manifest URL's query; the gate must put it on the MPD's segment URLs
// too, or every segment is refused.
func TestDASHTokenInQuery(t *testing.T) {
	needMedia(t)
	g := startGate(t, jwtArgs(t)...)
	// One user per player: the test is about the URLs, not the limit.
	src := func(session string) string {
		return g.URL + vodDASH + "?token=" + url.QueryEscape(token(t, "mallory-"+session, session))
	}
	resp, err := http.Get(src("probe"))
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	if !strings.Contains(string(body), "token=") {
		t.Fatal("the MPD came back without the token on its URIs")
	}

	t.Run("ffmpeg", func(t *testing.T) {
		t.Parallel()
		out, err := ffmpegRead(t, src("ffmpeg"))
		assert.NoError(t, err, out)
		assert.NotContains(t, strings.ToLower(out), "error")
	})
	for _, player := range []string{"shaka", "dash"} {
		t.Run(player, func(t *testing.T) {
			t.Parallel()
			useBrowser(t)
			openPage(t, player, page{Player: player, Src: src(player)}).waitPlaying(startWithin)
		})
	}
}
