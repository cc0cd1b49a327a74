package proxy_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/proxytest"
)

// TestMediaTimeThePlayerLeavesOut: a client that fetches its playlists
// without a session id, and sends no CMCD d or claims its segments are init
// segments (ot=i) or a millisecond long (d=1), still holds its slot for the
// media the origin's manifests say it was given. Before, such a session held
// media of no length: a burst of segments kept it only a TTL, and a stop
// after each segment was always free (a red-team pass).
func TestMediaTimeThePlayerLeavesOut(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		manifest string // fetched with no session id
		segment  http.Header
	}{
		{name: "no CMCD", manifest: "/vod/360p/index.m3u8"},
		{name: "ot=i on every segment", manifest: "/vod/360p/index.m3u8", segment: http.Header{"Cmcd-Object": {"ot=i"}}},
		{name: "d=1 on every segment", manifest: "/vod/360p/index.m3u8", segment: http.Header{"Cmcd-Object": {"d=1,ot=v"}}},
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
			assert.Equal(t, t0.Add(60*time.Second+testTTL), expiresAt(t, g, "alice", "tv"),
				"60 s of media (the 2 s segments of the manifest, times 30), then the TTL")

			g.clock.Advance(testTTL + 10*time.Second)
			resp, body := g.get(t, "/vod/360p/seg-0.m4s", "alice", "phone")
			proxytest.AssertProblem(t, resp, body, http.StatusTooManyRequests)
			assert.Equal(t, "50", resp.Header.Get("Retry-After"), "until the TV's 60 s of media and the TTL run out")
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
