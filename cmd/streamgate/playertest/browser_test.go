package playertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/proxy/proxytest"
)

// The pages run in Debian's chromium, driven through the DevTools protocol;
// one browser for the whole package, one tab per player. .ci/deps installs
// chromium; STREAMGATE_CHROMIUM names another binary.

// forceNoCORS keeps the browser's same-origin checks off even when streamgate
// has -cors-origins: a switch for the lead while the CORS feature settles.
const forceNoCORS = false

// gateCORS says whether the gate answers CORS itself (-cors-origins, given the
// pages' origin); otherwise the browser runs with --disable-web-security so
// that the page on another origin can read the gate's answers at all.
func gateCORS() bool { return hasFlag("-cors-origins") && !forceNoCORS }

// corsArgs are the gate flags that let the pages' origin in.
func corsArgs() []string {
	if !gateCORS() {
		return nil
	}
	return []string{"-cors-origins", pages.URL}
}

// pagesHandler serves testdata/ and the players from node_modules/.
func pagesHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/node_modules/", http.StripPrefix("/node_modules/", http.FileServer(http.Dir("node_modules"))))
	mux.Handle("/", http.FileServer(http.Dir("testdata")))
	return mux
}

var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	err    error
}

func closeBrowser() {
	if browser.cancel != nil {
		browser.cancel()
	}
}

// needBrowser fails a test that needs chromium and the players when they are
// missing, and returns the shared browser.
func needBrowser(t *testing.T) context.Context {
	t.Helper()
	needMedia(t)
	if why, ok := setupErr["players"]; ok {
		t.Fatal(why)
	}
	path := proxytest.ChromiumPath(t, "the player tests")
	browser.once.Do(func() {
		dataDir := filepath.Join(os.TempDir(), fmt.Sprintf("streamgate-playertest-chromium-%d", os.Getpid()))
		opts := append(proxytest.ChromiumOptions(path, dataDir),
			chromedp.Flag("mute-audio", true),
			chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
			// Every tab plays at once: none may be throttled as a background tab.
			chromedp.Flag("disable-background-timer-throttling", true),
			chromedp.Flag("disable-backgrounding-occluded-windows", true),
			chromedp.Flag("disable-renderer-backgrounding", true),
			chromedp.Flag("disable-background-media-suspend", true),
			chromedp.Flag("disable-features", "BackgroundVideoPauseOptimization,MediaSessionService"),
			chromedp.WindowSize(640, 400),
		)
		if !gateCORS() {
			opts = append(opts, chromedp.Flag("disable-web-security", true))
		}
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(allocCtx)
		browser.ctx = ctx
		browser.cancel = func() {
			cancel()
			cancelAlloc()
			_ = os.RemoveAll(filepath.Join(os.TempDir(), fmt.Sprintf("streamgate-playertest-chromium-%d", os.Getpid())))
		}
		// The first call starts the browser and must carry no deadline.
		browser.err = chromedp.Do(ctx)
	})
	require.NoError(t, browser.err, "starting chromium")
	return browser.ctx
}

// browserTests bounds the browser tests that run at once: each plays up to
// four small videos, and two shared cores decode only so many in time (many
// tests spend their time waiting on a player's retries, not decoding). Six at
// once, beside the other packages' tests under -race, left a fourth tab
// unable to open within its step.
var browserTests = make(chan struct{}, 4)

// useBrowser is needBrowser for a whole test: call it once, after
// t.Parallel, and it waits for a turn among the browser tests.
func useBrowser(t *testing.T) {
	t.Helper()
	needBrowser(t)
	browserTests <- struct{}{}
	t.Cleanup(func() { <-browserTests })
}

// page is the query of one player page.
type page struct {
	Player  string   // hls, shaka or dash
	Src     string   // manifest URL
	Headers []string // "Name: value", set on every request
	CMCD    string   // "", "header" or "query"
	Cookie  string   // "name=value" set before the player starts
	Cred    bool     // send cookies cross-origin
	Buffer  int      // seconds the player may fetch ahead; 0: its default
}

func (p page) url() string {
	q := url.Values{}
	q.Set("player", p.Player)
	q.Set("src", p.Src)
	for _, h := range p.Headers {
		q.Add("h", h)
	}
	if p.CMCD != "" {
		q.Set("cmcd", p.CMCD)
	}
	if p.Cookie != "" {
		q.Set("cookie", p.Cookie)
	}
	if p.Cred {
		q.Set("cred", "1")
	}
	if p.Buffer > 0 {
		q.Set("buffer", fmt.Sprint(p.Buffer))
	}
	return pages.URL + "/player.html?" + q.Encode()
}

// userPage is a page whose player sends user and session in headers.
func userPage(player, src, user, session string) page {
	return page{Player: player, Src: src, Headers: []string{"X-User-Id: " + user, "X-Session-Id: " + session}}
}

// pageState mirrors window.state of player.js.
type pageState struct {
	Kind        string      `json:"kind"`
	CurrentTime float64     `json:"currentTime"`
	Buffered    float64     `json:"buffered"`
	Playing     bool        `json:"playing"`
	Ended       bool        `json:"ended"`
	Errors      []pageError `json:"errors"`
	Fatal       *pageError  `json:"fatal"`
	LastStatus  int         `json:"lastStatus"`
	Statuses    []int       `json:"statuses"`
}

type pageError struct {
	Fatal    bool   `json:"fatal"`
	Code     string `json:"code"`
	Severity int    `json:"severity"`
	Status   int    `json:"status"`
	Body     string `json:"body"`
	Message  string `json:"message"`
	// RetryAfter is the answer's Retry-After as the page could read it.
	RetryAfter string `json:"retryAfter"`
	At         int64  `json:"at"` // ms since the page started
}

// tab is one browser tab showing one player page.
type tab struct {
	t      *testing.T
	ctx    context.Context
	cancel func()
	name   string
}

// openPage opens p in a new tab of the shared browser; the tab closes at the
// end of the test.
func openPage(t *testing.T, name string, p page) *tab {
	t.Helper()
	b := needBrowser(t)
	ctx, cancel := chromedp.NewContext(b)
	tb := &tab{t: t, ctx: ctx, cancel: cancel, name: name}
	t.Cleanup(cancel)
	// The first call opens the tab; a deadline on it would end the tab too.
	require.NoError(t, chromedp.Do(ctx), "opening a tab for %s", name)
	step, stepCancel := context.WithTimeout(ctx, 40*time.Second)
	defer stepCancel()
	// Each tab stands for another device: none may be served from the
	// cache another tab filled, or its requests would never reach the gate.
	require.NoError(t, chromedp.Do(step,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
				return err
			}
			_, err := cdp.Call(ctx, tg, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
			return err
		}),
		chromedp.Navigate(p.url())), "opening %s", name)
	return tb
}

// reload reloads the page, as a person does.
func (tb *tab) reload() {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	require.NoError(tb.t, chromedp.Do(ctx, chromedp.Reload()), "%s: reloading", tb.name)
}

// close closes the tab, as a person closes a player.
func (tb *tab) close() { tb.cancel() }

// evaluate runs JavaScript in the page and returns its value.
func evaluate[T any](tb *tab, expr string, opts ...chromedp.EvaluateOption) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	require.NoError(tb.t, err, "%s: %s", tb.name, expr)
	return v
}

// eval runs JavaScript in the page.
func (tb *tab) eval(expr string) {
	tb.t.Helper()
	evaluate[any](tb, expr)
}

// closePlayer runs the page's closePlayer and returns the status the gate
// answered its DELETE with (0: the request failed).
func (tb *tab) closePlayer() int {
	tb.t.Helper()
	return evaluate[int](tb, `window.closePlayer()`, chromedp.EvalAwaitPromise)
}

// state reads window.state.
func (tb *tab) state() pageState {
	tb.t.Helper()
	var s pageState
	require.NoError(tb.t, json.Unmarshal([]byte(evaluate[string](tb, `JSON.stringify(window.state || {})`)), &s))
	return s
}

// shot saves what the tab shows in the test's artifact directory (kept with
// go test -artifacts) and in $STREAMGATE_SHOTS_DIR when set.
func (tb *tab) shot() {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Logf("%s: no screenshot: %v", tb.name, err)
		return
	}
	name := strings.NewReplacer(" ", "-", "/", "-").Replace(tb.t.Name()+"-"+tb.name) + ".png"
	dirs := []string{tb.t.ArtifactDir()}
	if d := os.Getenv("STREAMGATE_SHOTS_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(d, name), png, 0o644)
		}
	}
	tb.t.Logf("%s: screenshot %s in %v", tb.name, name, dirs)
}

// shownText is what the page shows a person about a failure.
func (tb *tab) shownText() string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('problem').textContent`))
	require.NoError(tb.t, err)
	return s
}

// waitUntil polls the page's state until cond holds; it fails the test with
// the last state seen otherwise.
func (tb *tab) waitUntil(within time.Duration, what string, cond func(pageState) bool) pageState {
	tb.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := tb.state()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			tb.shot()
			tb.t.Fatalf("%s: not within %v: %s; last state %s", tb.name, within, what, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitPlaying waits until the player is past a few seconds of media without
// an error event: what a person sees as "it plays".
func (tb *tab) waitPlaying(within time.Duration) pageState {
	tb.t.Helper()
	s := tb.waitUntil(within, "playing past 3 s", func(s pageState) bool {
		return s.CurrentTime > 3 || s.Fatal != nil
	})
	require.Nil(tb.t, s.Fatal, "%s: fatal error while starting: %s", tb.name, s)
	for _, e := range s.Errors {
		// A person sees a refusal; a stall the player recovers from by
		// itself (hls.js's bufferStalledError, a fragment load it aborted
		// when the CPU is saturated) is not one.
		require.False(tb.t, e.Status >= 400, "%s: a request was refused while playing: %s", tb.name, s)
	}
	return s
}

// waitFatal waits for the player to give up.
func (tb *tab) waitFatal(within time.Duration) pageState {
	tb.t.Helper()
	return tb.waitUntil(within, "a fatal error", func(s pageState) bool { return s.Fatal != nil })
}

func (s pageState) String() string {
	b, _ := json.Marshal(s)
	return strings.ReplaceAll(string(b), `\n`, " ")
}
