package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy/identity"
)

func TestTrackOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ot      string
		path    string
		track   limiter.Track
		noMedia bool
	}{
		{name: "CMCD video", ot: "v", path: "/x/seg-1.m4s", track: limiter.TrackVideo},
		{name: "CMCD audio beats the path", ot: "a", path: "/vod/360p/seg-1.m4s", track: limiter.TrackAudio},
		{name: "CMCD muxed", ot: "av", path: "/vod/audio/seg-1.ts", track: limiter.TrackMain},
		{name: "CMCD init segment", ot: "i", path: "/vod/360p/seg-1.m4s", noMedia: true},
		{name: "CMCD manifest", ot: "m", path: "/vod/360p/seg-1.m4s", noMedia: true},
		{name: "CMCD captions", ot: "c", path: "/vod/cc/seg-1.vtt", noMedia: true},
		{name: "a playlist", path: "/vod/audio/index.M3U8", noMedia: true},
		{name: "an MPD", path: "/live/manifest.mpd", noMedia: true},
		{name: "an init segment", path: "/vod/360p/init.mp4", noMedia: true},
		{name: "an audio rendition", path: "/vod/audio/seg-1.m4s", track: limiter.TrackAudio},
		{name: "audio with a bitrate", path: "/v/Audio_128k/seg-1.m4s", track: limiter.TrackAudio},
		{name: "aac", path: "/v/aac/1.ts", track: limiter.TrackAudio},
		{name: "a one-letter folder", path: "/title/a/seg-1.m4s", track: limiter.TrackAudio},
		{name: "a video rendition", path: "/title/video_720p/seg-1.m4s", track: limiter.TrackVideo},
		{name: "a muxed segment", path: "/vod/360p/seg-1.ts", track: limiter.TrackMain},
		{name: "a file named audio is not a folder", path: "/vod/audio.ts", track: limiter.TrackMain},
		{name: "the root", path: "/", track: limiter.TrackMain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			track, noMedia := trackOf(identity.CMCD{ObjectType: tt.ot}, tt.path)
			assert.Equal(t, tt.track, track)
			assert.Equal(t, tt.noMedia, noMedia)
		})
	}
}

func TestSegmentHintsAreTakenOnceAndBounded(t *testing.T) {
	t.Parallel()
	var h segmentHints
	k := hintKey("alice", "tv")
	assert.NotEqual(t, k, hintKey("alic", "etv"), "the separator keeps ids apart")
	assert.Zero(t, h.take(k, 0))
	h.put(k, 4*time.Second, 0)
	h.put(k, 6*time.Second, 0)
	assert.Equal(t, int64(1), h.n.Load())
	assert.Equal(t, 6*time.Second, h.take(k, 0), "the latest manifest's")
	assert.Nil(t, h.shards[k%hintShards].cur, "a map emptied goes with its memory")
	assert.Zero(t, h.take(k, 0), "taken once: the store keeps it from then on")
	assert.Zero(t, h.n.Load())

	for i := range hintShards * maxHintsPerShard * 2 {
		h.put(uint64(i), time.Second, 0)
	}
	assert.LessOrEqual(t, h.n.Load(), int64(hintShards*maxHintsPerShard))
	total := 0
	for i := range h.shards {
		total += len(h.shards[i].cur) + len(h.shards[i].old)
	}
	assert.Equal(t, int(h.n.Load()), total, "the count is the maps'")
}

// TestSegmentHintsOfSessionsThatNeverCameBackGo: a hint waits at least
// hintLife for its session's next request and at most twice that; then it
// is dropped with its generation's map, so that the maps do not keep their
// peak's memory once the store keeps the crowd's hints.
func TestSegmentHintsOfSessionsThatNeverCameBackGo(t *testing.T) {
	t.Parallel()
	var h segmentHints
	const n = 1000
	for i := range n {
		h.put(uint64(i), time.Second, 0)
	}
	require.Equal(t, int64(n), h.n.Load())
	assert.Equal(t, time.Second, h.take(1, hintLife-1), "still waiting within hintLife")
	assert.Equal(t, time.Second, h.take(2, hintLife+1), "the older generation is still asked")
	h.put(3, 2*time.Second, hintLife+2) // put again: moves to the new generation
	assert.Equal(t, int64(n-2), h.n.Load())
	assert.Equal(t, 2*time.Second, h.take(3, 2*hintLife+2), "a hint put again waits anew")
	assert.Zero(t, h.take(4, 2*hintLife+2), "put two generations ago: gone")
	assert.Zero(t, h.n.Load(), "every shard turned: nothing is held")
	h.put(5, time.Second, 2*hintLife+3)
	assert.Zero(t, h.take(5, 5*hintLife), "a shard silent for two lifetimes drops both generations")
	for i := range h.shards {
		assert.Nil(t, h.shards[i].old, "shard %d keeps no map of dropped hints", i)
		assert.Empty(t, h.shards[i].cur, "shard %d", i)
	}
}

func BenchmarkLeaseFields(b *testing.B) {
	var h segmentHints
	h.put(1, time.Second, 0) // some other session holds a hint: the slow path
	c := identity.CMCD{ObjectType: "v", Duration: 4 * time.Second}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = trackOf(c, "/vod/360p/seg-12.m4s")
		_ = h.take(hintKey("alice", "tv"), 0)
	}
}

// TestReloadedPlaylistHandsOnOnlyANewDuration: a live player reloads its
// playlist every few seconds; a duration the store keeps already is not put
// in the hint map again, a changed one is.
func TestReloadedPlaylistHandsOnOnlyANewDuration(t *testing.T) {
	t.Parallel()
	const playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg-0.ts\n"
	tests := []struct {
		name string
		kept time.Duration
		want time.Duration // the hint waiting for the next request
	}{
		{"the store keeps none", 0, 4 * time.Second},
		{"the store keeps the same", 4 * time.Second, 0},
		{"the store keeps another", 6 * time.Second, 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := &gate{}
			r := httptest.NewRequest(http.MethodGet, "/live/index.m3u8", nil)
			rec := httptest.NewRecorder()
			w := g.learnHint(rec, r, 7, false, tt.kept)
			_, err := io.WriteString(w, playlist)
			require.NoError(t, err)
			release(w)
			assert.Equal(t, playlist, rec.Body.String(), "the player gets the playlist unchanged")
			assert.Equal(t, tt.want, g.hints.take(7, time.Since(epoch)))
		})
	}
}
