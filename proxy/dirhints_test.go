package proxy_test

import (
	"cmp"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/proxytest"
)

// TestMediaTimeThePlayerLeavesOut: a client that fetches its playlists
// without a session id, and sends no CMCD d, or claims its segments are init
// segments (ot=i) or keys (ot=k), still holds its slot for the media the
// origin's manifests say it was given. Before, such a session held
// media of no length: a burst of segments kept it only a TTL, and a stop
// after each segment was always free (a red-team pass).
func TestMediaTimeThePlayerLeavesOut(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		manifest string // fetched with no session id
		segment  http.Header
		media    time.Duration // 62 s unless said
	}{
		{name: "no CMCD", manifest: "/vod/360p/index.m3u8"},
		{name: "ot=i on every segment", manifest: "/vod/360p/index.m3u8", segment: http.Header{"Cmcd-Object": {"ot=i"}}},
		{name: "ot=k on every segment", manifest: "/vod/360p/index.m3u8", segment: http.Header{"Cmcd-Object": {"ot=k"}}},
		// A d is believed down to three quarters of the folder's 2 s
		// (dirHint.floor), and ot=v puts the segments on the video track,
		// beside the init segment's 2 s on the main one: 45 s.
		{name: "d=1 on every segment", manifest: "/vod/360p/index.m3u8", segment: http.Header{"Cmcd-Object": {"d=1,ot=v"}}, media: 45 * time.Second},
		{name: "an MPD above the segments' folder", manifest: "/vod/manifest.mpd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := demoGateway(t, 1, 5*time.Minute)
			t0 := g.clock.Now()
			g.mustGet(t, tc.manifest, "alice", "", nil)
			g.mustGet(t, "/vod/360p/init.mp4", "alice", "tv", nil)
			for n := range 30 {
				g.mustGet(t, fmt.Sprintf("/vod/360p/seg-%d.m4s", n), "alice", "tv", tc.segment)
			}
			media := cmp.Or(tc.media, 62*time.Second)
			assert.Equal(t, t0.Add(media+testTTL), expiresAt(t, g, "alice", "tv"),
				"60 s of media (the 2 s segments of the manifest, times 30) and the init segment's 2 s, then the TTL")

			g.clock.Advance(testTTL + 10*time.Second)
			resp, body := g.get(t, "/vod/360p/seg-0.m4s", "alice", "phone")
			proxytest.AssertProblem(t, resp, body, http.StatusTooManyRequests)
			assert.Equal(t, strconv.Itoa(int((media-10*time.Second)/time.Second)), resp.Header.Get("Retry-After"),
				"until the TV's media and the TTL run out")
		})
	}
}

// TestStoppingWithoutMediaTimesHoldsTheSlot is
// TestStoppingAfterEachSegmentHoldsTheSlot for devices that tell nothing of
// their media: past the free stops, a stop keeps the slot for the segment's
// 2 s that the manifest told.
func TestStoppingWithoutMediaTimesHoldsTheSlot(t *testing.T) {
	t.Parallel()
	g := demoGateway(t, 1, 5*time.Minute)
	g.mustGet(t, "/vod/360p/index.m3u8", "alice", "", nil)
	stop := func(session string) {
		resp, body := g.do(t, g.request(t, http.MethodDelete, proxy.SessionPath, "alice", session))
		require.Equal(t, http.StatusNoContent, resp.StatusCode, string(body))
	}
	for _, device := range []string{"tv", "tablet", "console"} {
		g.mustGet(t, "/vod/360p/seg-0.m4s", "alice", device, nil)
		stop(device)
	}
	g.mustGet(t, "/vod/360p/seg-0.m4s", "alice", "phone", nil)
	stop("phone")
	resp, body := g.get(t, "/vod/360p/seg-1.m4s", "alice", "laptop")
	proxytest.AssertProblem(t, resp, body, http.StatusTooManyRequests)
	assert.Equal(t, "2", resp.Header.Get("Retry-After"), "until the phone's 2 s segment runs out")

	g.clock.Advance(2 * time.Second)
	g.mustGet(t, "/vod/360p/seg-1.m4s", "alice", "laptop", nil)
}

// titlesOrigin serves two titles of different segment durations in one
// folder, and a low-latency playlist that lists parts.
func titlesOrigin(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/flat/a.m3u8":
		_, _ = io.WriteString(w, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na-1.ts\n")
	case "/flat/b.m3u8":
		_, _ = io.WriteString(w, "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nb-1.ts\n")
	case "/six/index.m3u8":
		_, _ = io.WriteString(w, "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\nseg-1.ts\n")
	case "/ll/index.m3u8":
		_, _ = io.WriteString(w, "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-PART-INF:PART-TARGET=1.0\n"+
			"#EXT-X-PART:DURATION=1.0,URI=\"p-1.mp4\"\n")
	default:
		_, _ = io.WriteString(w, "segment-bytes")
	}
}

// TestDirHintsLeaveHonestPlayersAlone: what other viewers' manifests taught
// the gate must not add to the media of a player that tells its own (SPEC:
// CMCD d first, then the session's own manifest). A closed page would
// otherwise hold its slot up to -max-lease.
func TestDirHintsLeaveHonestPlayersAlone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		others   []string // manifests other viewers fetched first
		own      string   // the player's own manifest, with its session
		segments []string
		header   http.Header
		media    time.Duration
	}{
		{name: "CMCD d in a folder of two titles", others: []string{"/flat/b.m3u8", "/flat/a.m3u8"},
			segments: slices.Repeat([]string{"/flat/a-1.ts"}, 15), header: http.Header{"Cmcd-Object": {"d=2000"}}, media: 30 * time.Second},
		{name: "its own manifest, after another title's", own: "/flat/a.m3u8", others: []string{"/flat/b.m3u8"},
			segments: slices.Repeat([]string{"/flat/a-1.ts"}, 15), media: 30 * time.Second},
		{name: "LL-HLS parts", others: []string{"/ll/index.m3u8"},
			segments: slices.Repeat([]string{"/ll/p-1.mp4"}, 6), header: http.Header{"Cmcd-Object": {"d=1000"}}, media: 6 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, titlesOrigin, gatewayOptions{limit: 1, rules: limiter.Rules{MaxLease: 5 * time.Minute}})
			t0 := g.clock.Now()
			for _, m := range tc.others {
				g.mustGet(t, m, "bob", "", nil)
			}
			if tc.own != "" {
				g.mustGet(t, tc.own, "alice", "tv", nil)
			}
			for _, s := range tc.segments {
				g.mustGet(t, s, "alice", "tv", tc.header)
			}
			assert.Equal(t, t0.Add(tc.media+testTTL), expiresAt(t, g, "alice", "tv"))
		})
	}
}

// TestMediaTimeNotUndercut: whatever tells a request's media time, it counts
// at least most of its folder's shortest segment or part. Else a client
// that fetches a title of 2 s segments before each 6 s segment of another,
// or sends d=1 for LL-HLS parts, takes turns at one slot with other devices
// (red-team passes).
func TestMediaTimeNotUndercut(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, folder, segment, before string
		header                        http.Header
		media                         time.Duration
	}{
		{name: "another title's manifest before each segment", folder: "/six/index.m3u8", segment: "/six/seg-1.ts",
			before: "/flat/a.m3u8", media: 10 * 4500 * time.Millisecond},
		{name: "d=1 on LL-HLS parts", folder: "/ll/index.m3u8", segment: "/ll/p-1.mp4",
			header: http.Header{"Cmcd-Object": {"d=1"}}, media: 10 * 750 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, titlesOrigin, gatewayOptions{limit: 1, rules: limiter.Rules{MaxLease: 5 * time.Minute}})
			t0 := g.clock.Now()
			g.mustGet(t, tc.folder, "bob", "", nil)
			for range 10 {
				if tc.before != "" {
					g.mustGet(t, tc.before, "alice", "tv", nil)
				}
				g.mustGet(t, tc.segment, "alice", "tv", tc.header)
			}
			assert.Equal(t, t0.Add(tc.media+testTTL), expiresAt(t, g, "alice", "tv"))
		})
	}
}
