package demo_test

import (
	"context"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/proxy/demo"
)

// needTool returns the path of a media tool; without it the test is skipped
// on a developer's machine and fails in CI, where .ci/deps installs ffmpeg.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: make deps installs it (Debian package ffmpeg)", name)
	}
	return p
}

// TestDemoPlaysInFFmpeg has the real ffprobe find the streams and the real
// ffmpeg decode them, through every entry point: HLS and DASH, VOD and live.
func TestDemoPlaysInFFmpeg(t *testing.T) {
	ffprobe, ffmpeg := needTool(t, "ffprobe"), needTool(t, "ffmpeg")
	o, err := demo.New(demo.Options{})
	require.NoError(t, err)
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)

	tests := []struct {
		name, path string
		live       bool
	}{
		{name: "HLS VOD", path: "/vod/master.m3u8"},
		{name: "DASH VOD", path: "/vod/manifest.mpd"},
		{name: "HLS live", path: "/live/master.m3u8", live: true},
		{name: "DASH live", path: "/live/manifest.mpd", live: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
			defer cancel()
			url := srv.URL + tt.path

			out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-show_entries",
				"stream=codec_type,codec_name,width,height,sample_rate,channels", "-of", "compact", url).CombinedOutput()
			require.NoError(t, err, "%s", out)
			text := string(out)
			assert.Contains(t, text, "codec_name=h264|codec_type=video|width=320|height=180")
			assert.Contains(t, text, "codec_name=h264|codec_type=video|width=640|height=360")
			assert.Contains(t, text, "codec_name=aac|codec_type=audio|sample_rate=48000|channels=2")

			args := []string{"-nostdin", "-v", "error", "-i", url}
			if tt.live {
				args = append(args, "-t", "8") // live never ends
			}
			cmd := exec.CommandContext(ctx, ffmpeg, append(args, "-f", "null", "-")...)
			out, err = cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Empty(t, strings.TrimSpace(string(out)), "ffmpeg printed an error")
		})
	}
}
