package proxy_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/demo"
	"github.com/streamgate/streamgate/proxy/proxytest"
)

// demoGateway is the gate in front of the real demo origin (2 s segments,
// 32 of them, video in 180p and 360p and audio apart), the store's clock
// moved by hand.
func demoGateway(t *testing.T, limit int, maxLease time.Duration) *gateway {
	t.Helper()
	return demoGatewayWith(t, gatewayOptions{limit: limit, rules: limiter.Rules{MaxLease: maxLease}})
}

func demoGatewayWith(t *testing.T, opts gatewayOptions) *gateway {
	t.Helper()
	o, err := demo.New(demo.Options{})
	require.NoError(t, err)
	return newGateway(t, o.ServeHTTP, opts)
}

// expiresAt is when the memory store says the session stops being active.
func expiresAt(t *testing.T, g *gateway, user, session string) time.Time {
	t.Helper()
	sessions, err := g.memory.List(context.Background(), user)
	require.NoError(t, err)
	for _, s := range sessions {
		if s.ID == session {
			return s.ExpiresAt
		}
	}
	t.Fatalf("session %s of %s is not active", session, user)
	return time.Time{}
}

// getWith is a GET of path as user and session with extra headers.
func (g *gateway) getWith(t *testing.T, path, user, session string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req := g.request(t, http.MethodGet, path, user, session)
	for k, v := range header {
		req.Header[k] = v
	}
	return g.do(t, req)
}

func (g *gateway) mustGet(t *testing.T, path, user, session string, header http.Header) {
	t.Helper()
	resp, body := g.getWith(t, path, user, session, header)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
}

func TestBufferedMediaKeepsTheSessionActive(t *testing.T) {
	t.Parallel()
	g := demoGateway(t, 1, 5*time.Minute)
	t0 := g.clock.Now()

	// hls.js's way: both media playlists, then 60 s of video and of audio
	// side by side in one burst, no CMCD.
	g.mustGet(t, "/vod/master.m3u8", "alice", "tv", nil)
	for _, rendition := range []string{"360p", "audio"} {
		g.mustGet(t, "/vod/"+rendition+"/index.m3u8", "alice", "tv", nil)
		g.mustGet(t, "/vod/"+rendition+"/init.mp4", "alice", "tv", nil)
	}
	for n := range 30 {
		for _, rendition := range []string{"360p", "audio"} {
			g.mustGet(t, fmt.Sprintf("/vod/%s/seg-%d.m4s", rendition, n), "alice", "tv", nil)
		}
	}
	// An init segment in a folder whose manifest the gate saw counts a
	// segment too (dirhints.go): a name cannot say a request delivers none.
	assert.Equal(t, t0.Add(62*time.Second+testTTL), expiresAt(t, g, "alice", "tv"),
		"60 s of media (the target duration, 2 s, times 30) and 2 s for the init segments, audio and video not summed, then the TTL")

	g.clock.Advance(testTTL + 40*time.Second)
	resp, body := g.get(t, "/vod/master.m3u8?CMCD="+url.QueryEscape(`sid="phone"`), "alice", "")
	p := proxytest.AssertProblem(t, resp, body, http.StatusTooManyRequests)
	assert.Equal(t, "22", resp.Header.Get("Retry-After"), "until the TV's media and TTL run out")
	assert.Equal(t, 22.0, p["retryAfter"])
	assert.Contains(t, string(body), `"expiresAt":"`+t0.Add(122*time.Second).UTC().Format(time.RFC3339)+`"`)

	g.clock.Advance(22 * time.Second)
	resp, body = g.get(t, "/vod/360p/seg-0.m4s", "alice", "phone")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the TV's lease has run out: %s", body)
}

func TestCMCDMediaTimes(t *testing.T) {
	t.Parallel()
	cmcd := func(v string) http.Header { return http.Header{"Cmcd-Object": {v}} }
	tests := []struct {
		name     string
		maxLease time.Duration
		play     func(t *testing.T, g *gateway)
		want     time.Duration // expiresAt - the start
	}{
		{name: "d on each segment", maxLease: 5 * time.Minute, play: func(t *testing.T, g *gateway) {
			for n := range 10 {
				g.mustGet(t, fmt.Sprintf("/vod/360p/seg-%d.m4s", n), "alice", "tv", cmcd("d=4000,ot=v"))
			}
		}, want: 40*time.Second + testTTL},
		{name: "d wins over the learnt target duration", maxLease: 5 * time.Minute, play: func(t *testing.T, g *gateway) {
			g.mustGet(t, "/vod/360p/index.m3u8", "alice", "tv", nil)
			for n := range 10 {
				g.mustGet(t, fmt.Sprintf("/vod/360p/seg-%d.m4s", n), "alice", "tv", cmcd("d=6000"))
			}
		}, want: 60*time.Second + testTTL},
		{name: "audio and video side by side by ot are not summed", maxLease: 5 * time.Minute, play: func(t *testing.T, g *gateway) {
			for n := range 10 {
				g.mustGet(t, fmt.Sprintf("/vod/360p/seg-%d.m4s", n), "alice", "tv", cmcd("d=4000,ot=v"))
				g.mustGet(t, fmt.Sprintf("/vod/180p/seg-%d.m4s", n), "alice", "tv", cmcd("d=4000,ot=a"))
			}
		}, want: 40*time.Second + testTTL},
		{name: "bl: the player's buffer", maxLease: 5 * time.Minute, play: func(t *testing.T, g *gateway) {
			g.mustGet(t, "/vod/360p/seg-0.m4s", "alice", "tv", http.Header{"Cmcd-Request": {"bl=90000"}})
		}, want: 90*time.Second + testTTL},
		{name: "bl in the query", maxLease: 5 * time.Minute, play: func(t *testing.T, g *gateway) {
			g.mustGet(t, "/vod/360p/seg-0.m4s?CMCD="+url.QueryEscape("bl=30000,ot=v"), "alice", "tv", nil)
		}, want: 30*time.Second + testTTL},
		{name: "a manifest's d delivers no media", maxLease: 5 * time.Minute, play: func(t *testing.T, g *gateway) {
			g.mustGet(t, "/vod/360p/index.m3u8", "alice", "tv", cmcd("d=64000,ot=m"))
		}, want: testTTL},
		{name: "the heartbeat delivers no media but reports the buffer", maxLease: 5 * time.Minute, play: func(t *testing.T, g *gateway) {
			req := g.request(t, http.MethodPost, "/_streamgate/heartbeat", "alice", "tv")
			req.Header.Set("Cmcd-Object", "d=64000")
			resp, _ := g.do(t, req)
			require.Equal(t, http.StatusNoContent, resp.StatusCode)
		}, want: testTTL},
		{name: "-max-lease caps the media", maxLease: 90 * time.Second, play: func(t *testing.T, g *gateway) {
			for n := range 30 {
				g.mustGet(t, fmt.Sprintf("/vod/360p/seg-%d.m4s", n), "alice", "tv", cmcd("d=4000"))
			}
		}, want: 90 * time.Second},
		{name: "-max-lease 0 is the TTL-only rule", maxLease: 0, play: func(t *testing.T, g *gateway) {
			for n := range 30 {
				g.mustGet(t, fmt.Sprintf("/vod/360p/seg-%d.m4s", n), "alice", "tv", cmcd("d=4000"))
			}
		}, want: testTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := demoGateway(t, 3, tt.maxLease)
			t0 := g.clock.Now()
			tt.play(t, g)
			assert.Equal(t, t0.Add(tt.want), expiresAt(t, g, "alice", "tv"))
		})
	}
}

func TestDASHSegmentDurationIsLearnt(t *testing.T) {
	t.Parallel()
	g := demoGateway(t, 3, 5*time.Minute)
	t0 := g.clock.Now()
	g.mustGet(t, "/vod/manifest.mpd", "alice", "tv", nil)
	for n := range 20 {
		g.mustGet(t, fmt.Sprintf("/vod/360p/seg-%d.m4s", n), "alice", "tv", nil)
	}
	assert.Equal(t, t0.Add(40*time.Second+testTTL), expiresAt(t, g, "alice", "tv"), "20 segments of the MPD's 2 s")
}

func TestLapsedSessionIsToldItsPlaybackEnded(t *testing.T) {
	t.Parallel()
	g := demoGateway(t, 1, 5*time.Minute)
	g.mustGet(t, "/vod/360p/seg-0.m4s", "alice", "tv", nil)
	g.clock.Advance(testTTL + time.Second) // paused past its TTL
	g.mustGet(t, "/vod/360p/seg-0.m4s", "alice", "phone", nil)

	for _, path := range []string{"/vod/360p/seg-1.m4s", "/vod/360p/index.m3u8", "/vod/master.m3u8"} {
		resp, body := g.get(t, path, "alice", "tv")
		p := proxytest.AssertProblem(t, resp, body, http.StatusGone)
		assert.Equal(t, "https://streamgate.io/problems/session-expired", p["type"], path)
		assert.Empty(t, resp.Header.Get("Retry-After"), "the session will not come back: nothing to retry")
		assert.NotContains(t, p, "retryAfter")
		assert.Equal(t, 1.0, p["active"])
		assert.Contains(t, p["detail"], "paused")
	}
	resp, body := g.get(t, "/vod/360p/seg-0.m4s", "alice", "laptop")
	proxytest.AssertProblem(t, resp, body, http.StatusTooManyRequests)
	assert.NotEmpty(t, resp.Header.Get("Retry-After"), "a new session over the limit still gets the 429")
	_, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	assert.NoError(t, err)
}

func TestMintedSessionLearnsItsSegmentDuration(t *testing.T) {
	t.Parallel()
	g := demoGatewayWith(t, gatewayOptions{limit: 3, mint: true, rules: limiter.Rules{MaxLease: 5 * time.Minute}})
	t0 := g.clock.Now()
	resp, body := g.get(t, "/vod/360p/index.m3u8", "alice", "")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	m := regexp.MustCompile(`seg-0\.m4s\?sg_session=([^\s&"]+)`).FindSubmatch(body)
	require.NotNil(t, m, "the playlist's URIs carry the minted session: %s", body)
	minted := string(m[1])
	for n := range 10 {
		g.mustGet(t, fmt.Sprintf("/vod/360p/seg-%d.m4s?sg_session=%s", n, minted), "alice", "", nil)
	}
	assert.Equal(t, t0.Add(20*time.Second+testTTL), expiresAt(t, g, "alice", minted),
		"ten segments of the minting playlist's target duration, 2 s")
}

// TestStoppingAfterEachSegmentHoldsTheSlot: devices of one account that
// each fetch a segment and stop their session at once (DELETE) would hold
// the slot only while a segment downloads, and take turns at it. A person
// who closes a page and opens another device gets in at once; past three
// free stops per TTL, the media a stopped session was given holds its slot
// until it runs out.
func TestStoppingAfterEachSegmentHoldsTheSlot(t *testing.T) {
	t.Parallel()
	g := newGateway(t, okOrigin, gatewayOptions{limit: 1, rules: limiter.Rules{MaxLease: 5 * time.Minute}})
	segment := http.Header{"Cmcd-Object": {"d=10000,ot=v"}}
	stop := func(session string) {
		resp, body := g.do(t, g.request(t, http.MethodDelete, proxy.SessionPath, "alice", session))
		require.Equal(t, http.StatusNoContent, resp.StatusCode, string(body))
	}
	for _, device := range []string{"tv", "tablet", "console"} {
		g.mustGet(t, "/vod/360p/seg-0.m4s", "alice", device, segment)
		stop(device)
	}
	g.mustGet(t, "/vod/360p/seg-0.m4s", "alice", "phone", segment)

	g.clock.Advance(5 * time.Second)
	stop("phone")
	stop("phone") // and again, as a page may
	resp, body := g.get(t, "/vod/360p/seg-0.m4s", "alice", "laptop")
	proxytest.AssertProblem(t, resp, body, http.StatusTooManyRequests)
	assert.Equal(t, "5", resp.Header.Get("Retry-After"), "until the 5 s of media the phone holds run out")

	g.clock.Advance(5 * time.Second)
	g.mustGet(t, "/vod/360p/seg-0.m4s", "alice", "laptop", segment)
}
