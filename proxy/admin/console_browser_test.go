package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/proxy/admin"
	"github.com/streamgate/streamgate/proxy/proxytest"
)

// The browser tests drive Debian's chromium through the DevTools protocol:
// the console and the explorer as a person uses them. .ci/deps installs
// chromium; STREAMGATE_CHROMIUM names another binary.

const (
	// stepTimeout bounds one wait in the page. Chromium under -race on two
	// shared CPUs is slow to start, never this slow.
	stepTimeout = 20 * time.Second
	// localShots is where a local run also leaves its screenshots, to look at.
	localShots = "/tmp/streamgate-shots"
)

// newBrowser starts a headless chromium for the test and returns a context
// whose children are tabs of it.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(proxytest.ChromiumOptions(proxytest.ChromiumPath(t, "the browser tests"), t.TempDir()),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.WindowSize(1440, 1000),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first call starts the browser; it must carry no deadline, or the
	// deadline would end the browser.
	require.NoError(t, chromedp.Do(ctx), "starting chromium")
	return ctx
}

// tab is one browser tab and what its pages threw.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu     sync.Mutex
	thrown []string
}

func newTab(t *testing.T, browser context.Context) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx}
	require.NoError(t, chromedp.Do(ctx))
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.thrown = append(tb.thrown, exceptionText(ev.ExceptionDetails))
			tb.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return tb
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "?"
	}
	if d.Exception != nil && d.Exception.Description != "" {
		return d.Exception.Description
	}
	return d.Text
}

// do runs steps with a deadline.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	require.NoError(tb.t, chromedp.Do(ctx, steps...), what)
}

// waitFor polls a JavaScript predicate until it holds or the deadline passes.
func (tb *tab) waitFor(what, predicate string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout)))
	if err != nil {
		tb.shot("failed.png") // what the page showed instead
	}
	require.NoError(tb.t, err, "waiting until %s", what)
}

func evalJS[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(tb.t, err, expr)
	return v
}

// shot saves a full-page PNG in the test's artifact directory (kept with
// go test -artifacts, or in $STREAMGATE_SHOTS_DIR) and, outside CI, in
// /tmp/streamgate-shots to look at.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	tb.save(name, chromedp.FullScreenshot(100))
}

// shotViewport saves what the window shows.
func (tb *tab) shotViewport(name string) {
	tb.t.Helper()
	tb.save(name, chromedp.CaptureScreenshot())
}

func (tb *tab) save(name string, capture chromedp.Action[[]byte]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, capture)
	require.NoError(tb.t, err)
	dirs := []string{tb.t.ArtifactDir()}
	if d := os.Getenv("STREAMGATE_SHOTS_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	if os.Getenv("CI") == "" {
		dirs = append(dirs, localShots)
	}
	for _, d := range dirs {
		require.NoError(tb.t, os.MkdirAll(d, 0o755))
		require.NoError(tb.t, os.WriteFile(filepath.Join(d, name), png, 0o644))
	}
	tb.t.Logf("screenshot %s in %v", name, dirs)
}

func (tb *tab) assertNothingThrown() {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	assert.Empty(tb.t, tb.thrown, "the page threw")
}

func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chromium")
	}
	browser := newBrowser(t)
	t.Run("console: look up, refusal counted, end a session", func(t *testing.T) { testConsoleInBrowser(t, browser) })
	t.Run("console: token prompt, then the explorer tries a call", func(t *testing.T) { testTokenAndExplorerInBrowser(t, browser) })
}

func testConsoleInBrowser(t *testing.T, browser context.Context) {
	r := newConsoleRig(t, rigOptions{realTime: true, trustLoopback: true})
	devices := map[string]string{
		"phone":  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
		"tv":     "AppleCoreMedia/1.0.0.21A (Apple TV; U; CPU OS 17_0 like Mac OS X; en_us)",
		"laptop": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
	}
	for _, s := range []string{"phone", "tv", "laptop"} {
		require.Equal(t, http.StatusOK, r.play(t, "alice", s, devices[s]))
	}
	require.Equal(t, http.StatusOK, r.playFrom(t, "alice", "phone", devices["phone"], "198.51.100.5"), "the phone's session from a second network")
	require.Equal(t, http.StatusTooManyRequests, r.play(t, "alice", "tablet", "ExoPlayerLib/2.19.1"), "the fourth is refused")
	for i, u := range []string{"bob", "bob", "carol"} {
		require.Equal(t, http.StatusOK, r.play(t, u, "s"+strconv.Itoa(i), "ExoPlayerLib/2.19.1"))
	}

	tb := newTab(t, browser)
	tb.do("opening the console", chromedp.Navigate(r.adminURL+"/"))
	tb.waitFor("the overview shows 6 active sessions", `document.querySelector('#kpi-active').textContent === '6'`)
	tb.waitFor("the store is healthy", `document.querySelector('#store-pill').textContent === 'store ok · ready'`)

	tb.do("looking up alice",
		chromedp.SetValue(chromedp.CSS("#user-input"), "alice"),
		chromedp.Click(chromedp.CSS("#lookup-form button[type=submit]")))
	tb.waitFor("alice's three sessions are listed", `document.querySelectorAll('#user-result tbody tr').length === 3`)
	assert.Equal(t, "1", evalJS[string](tb, `document.querySelector('#user-refusals').textContent`), "the refusal is counted")
	assert.Equal(t, []string{"phone", "tv", "laptop"},
		evalJS[[]string](tb, `[...document.querySelectorAll('#user-result tbody tr')].map(tr => tr.dataset.session)`), "oldest first")
	shown := evalJS[string](tb, `document.querySelector('#user-result').innerText`)
	for _, name := range []string{"AVPlayer", "iPhone", "Chrome 126 on Linux"} {
		assert.Contains(t, shown, name, "the device of each session is shown in words")
	}
	assert.Contains(t, evalJS[string](tb, `document.querySelector('#user-result tr[data-session=tv] .ua').title`), "AppleCoreMedia/1.0.0.21A",
		"with its User-Agent at hand")
	assert.Equal(t, "2 networks", evalJS[string](tb, `document.querySelector('#user-result tr[data-session=phone] .nets.shared')?.textContent`),
		"a session used from two networks is highlighted")
	assert.Contains(t, evalJS[string](tb, `document.querySelector('#user-result tr[data-session=phone] .nets').title`), "may be shared",
		"with a tooltip saying why")
	assert.Equal(t, "1 network", evalJS[string](tb, `document.querySelector('#user-result tr[data-session=tv] .nets:not(.shared)')?.textContent`))
	tb.do("ranking the busiest users by shared sessions", chromedp.Click(chromedp.CSS(`#top-by button[data-by=shared]`)))
	tb.waitFor("only alice has a shared session",
		`document.querySelector('#top-active-title').textContent === 'Most shared sessions' && document.querySelectorAll('#top-active li .who').length === 1 && document.querySelector('#top-active li .who').textContent === 'alice' && document.querySelector('#top-active li .n').textContent === '1'`)
	tb.shot("console-shared.png")
	tb.do("ranking them by sessions again", chromedp.Click(chromedp.CSS(`#top-by button[data-by=active]`)))
	tb.waitFor("the busiest users rank alice first on both sides",
		`document.querySelector('#top-active li .who')?.textContent === 'alice' && document.querySelector('#top-refused li .who')?.textContent === 'alice'`)
	tb.waitFor("the chart has two samples to draw", `document.querySelector('#chart path.line.admitted') !== null`)
	// Starts came with 1, 2, 3 (alice), 1, 2 (bob) and 1 (carol) sessions.
	tb.waitFor("the what-if panel counts the starts a limit of 1 and of 2 would refuse",
		`document.querySelector('#whatif-list li[data-limit="1"] .n')?.textContent === '3' && document.querySelector('#whatif-list li[data-limit="2"] .n')?.textContent === '1' && document.querySelector('#whatif-list li[data-limit="3"] .n')?.textContent === '0'`)
	assert.Contains(t, evalJS[string](tb, `document.querySelector('#end-note').textContent`), "410",
		"the page says what ending a session does to its player")
	tb.shot("console.png")

	tb.do("ending the tv session from the page", chromedp.Click(chromedp.CSS(`button[data-end="tv"]`)))
	tb.waitFor("the page lists two sessions", `document.querySelectorAll('#user-result tbody tr').length === 2`)
	sessions := mustList(t, r, "alice")
	assert.Len(t, sessions, 2, "the API agrees")
	for _, s := range sessions {
		assert.NotEqual(t, "tv", s.SessionID)
	}
	assert.Equal(t, http.StatusGone, r.play(t, "alice", "tv", devices["tv"]), "the ended session's player gets 410")
	assert.Equal(t, http.StatusOK, r.play(t, "alice", "tablet", "ExoPlayerLib/2.19.1"), "the slot is free for the tablet")

	r.store.down.Store(true)
	tb.waitFor("the console says plainly that the store is down",
		`document.querySelector('#store-pill').textContent === 'store down' && !document.querySelector('#banner').classList.contains('hidden')`)
	tb.waitFor("the lookup says why it failed", `document.querySelector('#user-result .problem') !== null`)
	assert.Contains(t, evalJS[string](tb, `document.querySelector('#banner').textContent`), "not answering")
	tb.shot("console-store-down.png")
	r.store.down.Store(false)
	tb.waitFor("the console recovers", `document.querySelector('#store-pill').textContent === 'store ok · ready' && document.querySelector('#banner').classList.contains('hidden')`)
	tb.waitFor("the lookup recovers", `document.querySelectorAll('#user-result tbody tr').length === 3`)

	tb.do("asking to end all of alice's sessions", chromedp.Click(chromedp.CSS("#end-all")))
	tb.waitFor("the button asks for a second click", `document.querySelector('#end-all').textContent === 'Confirm: end all 3'`)
	assert.Len(t, mustList(t, r, "alice"), 3, "one click ends nothing")
	tb.do("confirming", chromedp.Click(chromedp.CSS("#end-all")))
	tb.waitFor("the page says alice has no session", `document.querySelector('#user-result').textContent.includes('No active session.')`)
	assert.Empty(t, mustList(t, r, "alice"), "the API agrees")
	tb.assertNothingThrown()
}

func mustList(t *testing.T, r *consoleRig, user string) []admin.StreamSession {
	t.Helper()
	resp, body := r.admin(t, http.MethodGet, "/v1/users/"+user+"/streams")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var v admin.UserStreams
	require.NoError(t, json.Unmarshal(body, &v))
	return v.Sessions
}

func testTokenAndExplorerInBrowser(t *testing.T, browser context.Context) {
	const token = "s3cret-admin-token"
	r := newConsoleRig(t, rigOptions{token: token, realTime: true})
	require.Equal(t, http.StatusOK, r.play(t, "alice", "tv", "AppleCoreMedia/1.0.0.21A"))

	tb := newTab(t, browser)
	tb.do("opening the console", chromedp.Navigate(r.adminURL+"/"), chromedp.WaitVisible(chromedp.CSS("#token-input")))
	tb.do("giving a wrong token",
		chromedp.SetValue(chromedp.CSS("#token-input"), "wrong"),
		chromedp.Click(chromedp.CSS("#token-submit")))
	tb.waitFor("the prompt says the token was refused",
		`document.querySelector('#token-dialog').open && document.querySelector('#token-error').textContent.includes('refused')`)
	tb.shot("console-token-prompt.png")
	tb.do("giving the token",
		chromedp.SetValue(chromedp.CSS("#token-input"), token),
		chromedp.Click(chromedp.CSS("#token-submit")))
	tb.waitFor("the console loads with the token",
		`!document.querySelector('#token-dialog').open && document.querySelector('#kpi-active').textContent === '1'`)
	assert.Equal(t, token, evalJS[string](tb, `sessionStorage.getItem('streamgate.adminToken')`), "kept for the tab")

	tb.do("reloading", chromedp.Reload())
	tb.waitFor("the console loads without asking again",
		`document.querySelector('#store-pill').textContent === 'store ok · ready' && !document.querySelector('#token-dialog').open`)

	tb.do("opening the explorer", chromedp.Navigate(r.adminURL+"/docs"))
	tb.waitFor("the explorer rendered the document",
		`document.querySelector('.info .title')?.textContent.includes('streamgate') && document.querySelector('#operations-Console-overview') !== null`)
	tb.shotViewport("explorer-top.png")
	tb.do("trying GET /v1/users/{userId}/streams",
		chromedp.Click(chromedp.CSS("#operations-Sessions-listStreams .opblock-summary-control")),
		chromedp.WaitVisible(chromedp.CSS("#operations-Sessions-listStreams .try-out__btn")),
		chromedp.Click(chromedp.CSS("#operations-Sessions-listStreams .try-out__btn")),
		chromedp.WaitVisible(chromedp.CSS("#operations-Sessions-listStreams input[placeholder='userId']")))
	assert.Equal(t, "alice", evalJS[string](tb, `document.querySelector("#operations-Sessions-listStreams input[placeholder='userId']").value`),
		"the document's example fills the parameter in")
	tb.do("executing", chromedp.Click(chromedp.CSS("#operations-Sessions-listStreams .execute")))
	tb.waitFor("the call answered 200 with the token the console kept",
		`document.querySelector('#operations-Sessions-listStreams .live-responses-table tbody .response-col_status')?.textContent.trim() === '200'`)
	assert.Contains(t, evalJS[string](tb, `document.querySelector('#operations-Sessions-listStreams .live-responses-table').innerText`), `"sessionId": "tv"`)
	tb.do("scrolling to the answer", chromedp.ScrollIntoView(chromedp.CSS("#operations-Sessions-listStreams .live-responses-table")))
	tb.shotViewport("explorer.png")
	tb.assertNothingThrown()
}
