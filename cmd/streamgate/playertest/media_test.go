package playertest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
)

// The test stream: 60 s of VOD in 2 s segments, H.264 and AAC in fMP4, as HLS
// (one muxed variant) and as DASH (separate video and audio adaptation sets).
const (
	vodHLS      = "/vod/master.m3u8"
	vodDASH     = "/vod/manifest.mpd"
	vodSeconds  = 60
	segDuration = 2
)

// upstreamArgs are the streamgate flags that name the origin: streamgate's
// own -demo (real H.264/AAC at vodHLS and vodDASH, and live).
func upstreamArgs() []string { return []string{"-demo"} }

// makeMedia encodes the test stream with ffmpeg into dir/vod: a few seconds
// of CPU, once per test binary.
func makeMedia(dir string) error {
	vod := filepath.Join(dir, "vod")
	if err := os.MkdirAll(vod, 0o755); err != nil {
		return err
	}
	src := filepath.Join(dir, "src.mp4")
	steps := [][]string{
		{"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
			"-t", fmt.Sprint(vodSeconds), "-map", "0:v", "-map", "1:a",
			"-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
			"-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-b:v", "300k",
			"-c:a", "aac", "-b:a", "64k", src},
		{"-i", src, "-c", "copy", "-f", "hls", "-hls_time", fmt.Sprint(segDuration),
			"-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
			"-hls_fmp4_init_filename", "init.mp4",
			"-hls_segment_filename", filepath.Join(vod, "seg%03d.m4s"),
			filepath.Join(vod, "media.m3u8")},
		{"-i", src, "-map", "0:v", "-map", "0:a", "-c", "copy", "-f", "dash",
			"-seg_duration", fmt.Sprint(segDuration), "-use_template", "1", "-use_timeline", "0",
			"-init_seg_name", "init-$RepresentationID$.mp4",
			"-media_seg_name", "seg-$RepresentationID$-$Number%03d$.m4s",
			filepath.Join(vod, "manifest.mpd")},
	}
	for _, args := range steps {
		cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("ffmpeg %v: %v\n%s", args, err, out)
		}
	}
	// ffmpeg's master playlist names no codecs; players then guess. A real
	// service's names them.
	master := "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=420000,AVERAGE-BANDWIDTH=380000,RESOLUTION=320x180," +
		"CODECS=\"avc1.42c00d,mp4a.40.2\",FRAME-RATE=25\nmedia.m3u8\n"
	return os.WriteFile(filepath.Join(vod, "master.m3u8"), []byte(master), 0o644)
}

// mediaHandler serves the stream as a plain origin would.
func mediaHandler(dir string) http.Handler {
	return http.FileServer(http.Dir(dir))
}
