package playertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRefusalExperiment measures, for each stock player with its default
// settings, which HTTP status on a request of a session that was playing it
// treats as final: an origin plays normally, then answers every media segment
// (or every manifest, live only) with the status and a problem JSON body.
// It records whether the player gives up (its fatal error), how long after
// the first refusal, how many refused requests it made, and whether the page
// could read the body. The gate's choice of status for a session that lost
// its slot rests on it. Several minutes: only with
// STREAMGATE_PLAYER_EXPERIMENT=1; the table goes to the test log and to
// $STREAMGATE_PLAYER_EXPERIMENT_OUT when set.
//
// Measured with hls.js 1.7.4, Shaka Player 5.2.12 and dash.js 5.2.1 in
// Chromium 156 (the figures are in the branch's report): none of the three
// tells 403, 404, 409, 410, 429 and 451 apart. On VOD segments Shaka gives
// up after one retry (about 2 s), dash.js after three (about 3 s), hls.js
// after six retries with backoff (about 32 s) when the stream has no other
// variant. On a live manifest hls.js gives up in about 3 s, dash.js in about
// 2 s, and Shaka never (it asks again every 0.1 s for HLS). After its fatal
// error a Shaka or dash.js player on live may still ask for segments; a page
// that wants an end must destroy the player. Every player lets the page read
// the problem JSON body.
func TestRefusalExperiment(t *testing.T) {
	if os.Getenv("STREAMGATE_PLAYER_EXPERIMENT") == "" {
		t.Skip("a measurement, not a test: set STREAMGATE_PLAYER_EXPERIMENT=1")
	}
	needBrowser(t)
	statuses := []int{403, 404, 409, 410, 429, 451}
	players := os.Getenv("STREAMGATE_PLAYER_EXPERIMENT_PLAYERS") // e.g. "hls,dash"; empty: all
	streams := os.Getenv("STREAMGATE_PLAYER_EXPERIMENT_STREAMS") // e.g. "vod-segment"; empty: all
	if s := os.Getenv("STREAMGATE_PLAYER_EXPERIMENT_STATUSES"); s != "" {
		statuses = nil
		for _, f := range strings.Split(s, ",") {
			var n int
			_, _ = fmt.Sscan(f, &n)
			statuses = append(statuses, n)
		}
	}
	type run struct {
		player, format, stream, target string
		status                         int
	}
	var runs []run
	for _, pc := range playerCases {
		format := "HLS"
		if pc.path == vodDASH {
			format = "DASH"
		}
		if players != "" && !strings.Contains(players, pc.player) {
			continue
		}
		for _, st := range statuses {
			for _, r := range []run{
				{pc.player, format, "vod", "segment", st},
				{pc.player, format, "live", "segment", st},
				{pc.player, format, "live", "manifest", st},
			} {
				if streams == "" || strings.Contains(streams, r.stream+"-"+r.target) {
					runs = append(runs, r)
				}
			}
		}
	}

	var mu sync.Mutex
	results := map[run]experimentResult{}
	sem := make(chan struct{}, 12) // tabs at once on two cores
	t.Run("runs", func(t *testing.T) {
		for _, r := range runs {
			name := fmt.Sprintf("%s-%s-%s-%s-%d", r.player, r.format, r.stream, r.target, r.status)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				sem <- struct{}{}
				defer func() { <-sem }()
				res := runRefusal(t, r.player, r.format, r.stream == "live", r.target, r.status)
				mu.Lock()
				results[r] = res
				mu.Unlock()
			})
		}
	})

	keys := make([]run, 0, len(results))
	for k := range results {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.player+a.format != b.player+b.format {
			return a.player+a.format < b.player+b.format
		}
		if a.stream+a.target != b.stream+b.target {
			return a.stream+a.target > b.stream+b.target
		}
		return a.status < b.status
	})
	var b strings.Builder
	b.WriteString("| player | stream | refused | status | fatal | after first refusal | refused requests | refused requests in the 5 s after | non-fatal error events | body readable | still playing (not fatal) |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range keys {
		res := results[k]
		fatal, after := fmt.Sprintf("no (%v)", experimentWindow()), "-"
		if res.fatal {
			fatal = "yes: " + res.code
			after = fmt.Sprintf("%.1f s", res.after.Seconds())
		}
		playing := "-"
		if !res.fatal {
			playing = fmt.Sprint(res.playing)
		}
		fmt.Fprintf(&b, "| %s %s | %s | %s | %d | %s | %s | %d | %d | %d | %v | %s |\n",
			k.player, k.format, k.stream, k.target, k.status, fatal, after, res.refused, res.refusedLater, res.nonFatal, res.bodyReadable, playing)
	}
	t.Log("\n" + b.String())
	if out := os.Getenv("STREAMGATE_PLAYER_EXPERIMENT_OUT"); out != "" {
		require.NoError(t, os.WriteFile(out, []byte(b.String()), 0o644))
	}
}

// experimentWindow is how long a run waits for the fatal error after the
// refusals start: longer than hls.js's fragment retries (1+2+4+8+8+8 s).
func experimentWindow() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("STREAMGATE_PLAYER_EXPERIMENT_WINDOW")); err == nil {
		return d
	}
	return 40 * time.Second
}

type experimentResult struct {
	fatal        bool
	code         string
	after        time.Duration // from the first refused answer to the fatal error
	refused      int           // refused answers the player asked for
	refusedLater int           // refused answers in the 5 s after the fatal error (or the window)
	nonFatal     int           // error events before the fatal one
	bodyReadable bool          // the fatal error (or the last) carried the problem JSON
	playing      bool          // currentTime still advancing when the run ended
}

// refusingOrigin serves the stream, then from failAt on refuses the target
// requests with status and a problem JSON body.
type refusingOrigin struct {
	next   http.Handler
	target string // "segment" or "manifest"
	status int
	pace   time.Duration // delay of each VOD segment, so that players keep fetching

	mu        sync.Mutex
	failAt    time.Time
	first     time.Time // first refused answer
	refused   int
	requested int // segments asked for
}

func (o *refusingOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	manifest := strings.HasSuffix(r.URL.Path, ".m3u8") || strings.HasSuffix(r.URL.Path, ".mpd")
	o.mu.Lock()
	if !manifest {
		o.requested++
	}
	refuse := !o.failAt.IsZero() && time.Now().After(o.failAt) && (manifest == (o.target == "manifest"))
	if refuse {
		o.refused++
		if o.first.IsZero() {
			o.first = time.Now()
		}
	}
	o.mu.Unlock()
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
	if refuse {
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(o.status)
		fmt.Fprintf(w, `{"type":"https://streamgate.invalid/problems/experiment","title":"refused","status":%d,"detail":"experiment-detail-%d"}`, o.status, o.status)
		return
	}
	if !manifest && o.pace > 0 {
		time.Sleep(o.pace)
	}
	o.next.ServeHTTP(w, r)
}

// runRefusal plays one player against a refusing origin and watches it.
func runRefusal(t *testing.T, player, format string, live bool, target string, status int) experimentResult {
	o := &refusingOrigin{target: target, status: status}
	if live {
		o.next = newLiveHandler(mediaDir)
	} else {
		o.next = mediaHandler(mediaDir)
		o.pace = 700 * time.Millisecond
	}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	src := srv.URL + vodHLS
	if format == "DASH" {
		src = srv.URL + vodDASH
	}
	tb := openPage(t, "experiment", page{Player: player, Src: src})
	tb.waitPlaying(startWithin)
	o.mu.Lock()
	o.failAt = time.Now().Add(2 * time.Second)
	o.mu.Unlock()

	var res experimentResult
	deadline := time.Now().Add(2*time.Second + experimentWindow())
	var s pageState
	var fatalSeen time.Time
	for time.Now().Before(deadline) {
		s = tb.state()
		if s.Fatal != nil {
			fatalSeen = time.Now()
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	before := s.CurrentTime
	o.mu.Lock()
	refusedAtEnd := o.refused
	o.mu.Unlock()
	// Did the player really stop asking? Watch it a little longer.
	time.Sleep(5 * time.Second)
	if s.Fatal == nil {
		res.playing = tb.state().CurrentTime > before
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	res.refused = refusedAtEnd
	res.refusedLater = o.refused - refusedAtEnd
	if s.Fatal != nil {
		res.fatal = true
		res.code = s.Fatal.Code
		if !o.first.IsZero() {
			res.after = fatalSeen.Sub(o.first)
		}
	}
	for _, e := range s.Errors {
		if !e.Fatal {
			res.nonFatal++
		}
	}
	shown := s.Fatal
	if shown == nil && len(s.Errors) > 0 {
		shown = &s.Errors[len(s.Errors)-1]
	}
	res.bodyReadable = shown != nil && strings.Contains(shown.Body, fmt.Sprintf("experiment-detail-%d", status))
	t.Logf("%s %s live=%v %s %d: %+v (refused %d of %d segment requests); last state %s",
		player, format, live, target, status, res, o.refused, o.requested, s)
	return res
}
