package demo_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/proxy/demo"
)

func newOrigin(t *testing.T, now func() time.Time) *demo.Origin {
	t.Helper()
	o, err := demo.New(demo.Options{Now: now})
	require.NoError(t, err)
	return o
}

func serve(t *testing.T, o *demo.Origin, method, path string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	rec := httptest.NewRecorder()
	o.ServeHTTP(rec, r)
	resp := rec.Result()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

func TestDemoMasterPlaylistHasAudioGroupAndVariants(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil)
	for _, mode := range []string{"vod", "live"} {
		resp, body := serve(t, o, http.MethodGet, "/"+mode+"/master.m3u8", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "application/vnd.apple.mpegurl", resp.Header.Get("Content-Type"))
		text := string(body)
		assert.True(t, strings.HasPrefix(text, "#EXTM3U\n"))
		assert.Contains(t, text, `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="Tone",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"`+"\n")
		variant := regexp.MustCompile(`#EXT-X-STREAM-INF:BANDWIDTH=(\d+),AVERAGE-BANDWIDTH=(\d+),CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=(\d+x\d+),FRAME-RATE=25.000,AUDIO="aac"\n(\S+)\n`)
		m := variant.FindAllStringSubmatch(text, -1)
		require.Len(t, m, 2, text)
		assert.Equal(t, []string{"320x180", "180p/index.m3u8"}, []string{m[0][3], m[0][4]})
		assert.Equal(t, []string{"640x360", "360p/index.m3u8"}, []string{m[1][3], m[1][4]})
		for _, v := range m {
			peak, _ := strconv.Atoi(v[1])
			avg, _ := strconv.Atoi(v[2])
			// Video plus 64 kb/s of audio, and under the 3 MB budget's rates.
			assert.Greater(t, avg, 100_000)
			assert.GreaterOrEqual(t, peak, avg)
			assert.Less(t, peak, 400_000)
		}
	}
}

func TestDemoVODMediaPlaylist(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil)
	for _, r := range []string{"180p", "360p", "audio"} {
		resp, body := serve(t, o, http.MethodGet, "/vod/"+r+"/index.m3u8", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, r)
		text := string(body)
		assert.Contains(t, text, "#EXT-X-TARGETDURATION:2\n", "target duration is the segment duration")
		assert.Contains(t, text, "#EXT-X-PLAYLIST-TYPE:VOD\n")
		assert.Contains(t, text, "#EXT-X-MAP:URI=\"init.mp4\"\n")
		assert.Equal(t, demo.Segments, strings.Count(text, "#EXTINF:"))
		assert.True(t, strings.HasSuffix(text, "\nseg-31.m4s\n#EXT-X-ENDLIST\n"), r)
		// The durations add up to the whole media: 64 s.
		total := 0.0
		for _, m := range regexp.MustCompile(`#EXTINF:([0-9.]+),`).FindAllStringSubmatch(text, -1) {
			d, err := strconv.ParseFloat(m[1], 64)
			require.NoError(t, err)
			assert.LessOrEqual(t, d, 2.5, "EXTINF rounds to at most the target duration")
			total += d
		}
		assert.InDelta(t, 64, total, 0.0001, r)
	}
}

func TestDemoLivePlaylistSlidesWithTheClock(t *testing.T) {
	t.Parallel()
	now := demo.LiveStart.Add(1000*time.Second + 500*time.Millisecond)
	o := newOrigin(t, func() time.Time { return now })
	// At 1000.5 s, segment 499 (998 s–1000 s) is the newest whole one.
	_, body := serve(t, o, http.MethodGet, "/live/360p/index.m3u8", nil)
	text := string(body)
	assert.Contains(t, text, "#EXT-X-MEDIA-SEQUENCE:494\n")
	assert.Contains(t, text, "#EXT-X-TARGETDURATION:2\n")
	assert.Contains(t, text, "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:16:28.000Z\n", "segment 494 starts at 988 s")
	assert.Equal(t, demo.LiveWindow, strings.Count(text, "#EXTINF:"))
	assert.True(t, strings.HasSuffix(text, "\nseg-499.m4s\n"), text)
	assert.NotContains(t, text, "ENDLIST")

	now = now.Add(4 * time.Second)
	_, body = serve(t, o, http.MethodGet, "/live/audio/index.m3u8", nil)
	text = string(body)
	assert.Contains(t, text, "#EXT-X-MEDIA-SEQUENCE:496\n", "two segments later")
	assert.True(t, strings.HasSuffix(text, "\nseg-501.m4s\n"), text)

	// 499 = 15 loops of 32 and segment 19: the same media, later in time.
	resp, live := serve(t, o, http.MethodGet, "/live/360p/seg-499.m4s", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "video/mp4", resp.Header.Get("Content-Type"))
	_, vod := serve(t, o, http.MethodGet, "/vod/360p/seg-19.m4s", nil)
	require.Len(t, live, len(vod))
	assert.NotEqual(t, vod, live, "its decode time and sequence number differ")
}

func TestDemoLiveBeforeTheFirstSegment(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, func() time.Time { return demo.LiveStart.Add(time.Second) })
	resp, body := serve(t, o, http.MethodGet, "/live/180p/index.m3u8", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "#EXT-X-MEDIA-SEQUENCE:0\n")
	assert.Zero(t, strings.Count(string(body), "#EXTINF:"))
}

func TestDemoMPD(t *testing.T) {
	t.Parallel()
	now := demo.LiveStart.Add(1000 * time.Second)
	o := newOrigin(t, func() time.Time { return now })
	tests := []struct {
		name     string
		path     string
		contains []string
		absent   []string
	}{
		{name: "static", path: "/vod/manifest.mpd", contains: []string{
			`type="static" mediaPresentationDuration="PT64S"`,
			`<SegmentTemplate timescale="12800" startNumber="0" initialization="$RepresentationID$/init.mp4" media="$RepresentationID$/seg-$Number$.m4s">`,
			`<S t="0" d="25600" r="31"/>`,
			`<SegmentTemplate timescale="48000" startNumber="0"`,
			`<S t="0" d="96256" r="2"/>`,
		}, absent: []string{"availabilityStartTime", "UTCTiming"}},
		{name: "dynamic", path: "/live/manifest.mpd", contains: []string{
			`type="dynamic" availabilityStartTime="2026-01-01T00:00:00Z" publishTime="2026-01-01T00:16:40Z" minimumUpdatePeriod="PT2S" timeShiftBufferDepth="PT12S"`,
			`<SegmentTemplate timescale="12800" duration="25600" startNumber="0" initialization="$RepresentationID$/init.mp4" media="$RepresentationID$/seg-$Number$.m4s"/>`,
			`<SegmentTemplate timescale="48000" duration="96000" startNumber="0"`,
			`<UTCTiming schemeIdUri="urn:mpeg:dash:utc:direct:2014" value="2026-01-01T00:16:40.000Z"/>`,
		}, absent: []string{"mediaPresentationDuration", "SegmentTimeline"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := serve(t, o, http.MethodGet, tt.path, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "application/dash+xml", resp.Header.Get("Content-Type"))
			text := string(body)
			for _, s := range append(tt.contains,
				`<Period id="0" start="PT0S">`,
				`<AdaptationSet id="0" contentType="video" mimeType="video/mp4"`,
				`<Representation id="180p" codecs="avc1.4d401e" bandwidth="`,
				`<Representation id="360p" codecs="avc1.4d401e" bandwidth="`,
				`<AdaptationSet id="1" contentType="audio" mimeType="audio/mp4"`,
				`<Representation id="audio" codecs="mp4a.40.2" bandwidth="`,
			) {
				assert.Contains(t, text, s)
			}
			for _, s := range tt.absent {
				assert.NotContains(t, text, s)
			}
			assert.Equal(t, 1, strings.Count(text, "<Period"))
			assert.Equal(t, 3, strings.Count(text, "<Representation"))
		})
	}
}

func TestDemoServesMedia(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil)
	tests := []struct {
		name, method, path string
		status             int
		contentType        string
	}{
		{name: "video init", method: http.MethodGet, path: "/vod/180p/init.mp4", status: http.StatusOK, contentType: "video/mp4"},
		{name: "audio init", method: http.MethodGet, path: "/live/audio/init.mp4", status: http.StatusOK, contentType: "audio/mp4"},
		{name: "audio segment", method: http.MethodGet, path: "/vod/audio/seg-31.m4s", status: http.StatusOK, contentType: "audio/mp4"},
		{name: "a live segment ahead of the clock", method: http.MethodGet, path: "/live/180p/seg-4000000000.m4s", status: http.StatusOK, contentType: "video/mp4"},
		{name: "the index", method: http.MethodGet, path: "/", status: http.StatusOK, contentType: "text/plain; charset=utf-8"},
		{name: "a HEAD", method: http.MethodHead, path: "/vod/master.m3u8", status: http.StatusOK, contentType: "application/vnd.apple.mpegurl"},
		{name: "an unknown rendition", method: http.MethodGet, path: "/vod/4k/index.m3u8", status: http.StatusNotFound},
		{name: "an unknown mode", method: http.MethodGet, path: "/dvr/master.m3u8", status: http.StatusNotFound},
		{name: "the old root playlist", method: http.MethodGet, path: "/master.m3u8", status: http.StatusNotFound},
		{name: "a VOD segment past the end", method: http.MethodGet, path: "/vod/360p/seg-32.m4s", status: http.StatusNotFound},
		{name: "a live segment past 32 bits", method: http.MethodGet, path: "/live/360p/seg-4294967295.m4s", status: http.StatusNotFound},
		{name: "a negative segment", method: http.MethodGet, path: "/vod/360p/seg--1.m4s", status: http.StatusNotFound},
		{name: "a padded number", method: http.MethodGet, path: "/vod/360p/seg-01.m4s", status: http.StatusNotFound},
		{name: "not a segment", method: http.MethodGet, path: "/vod/360p/other.bin", status: http.StatusNotFound},
		{name: "a POST", method: http.MethodPost, path: "/vod/master.m3u8", status: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, _ := serve(t, o, tt.method, tt.path, nil)
			assert.Equal(t, tt.status, resp.StatusCode)
			if tt.contentType != "" {
				assert.Equal(t, tt.contentType, resp.Header.Get("Content-Type"))
			}
		})
	}

	resp, whole := serve(t, o, http.MethodGet, "/vod/360p/seg-3.m4s", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, part := serve(t, o, http.MethodGet, "/vod/360p/seg-3.m4s", http.Header{"Range": {"bytes=8-99"}})
	assert.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, whole[8:100], part)
}
