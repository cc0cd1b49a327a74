package proxy_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/streamgate/streamgate/proxy"
)

func TestDeviceName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, userAgent, contentID, want string
	}{
		{name: "Chrome on Linux", userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
			want: "Chrome 156 on Linux"},
		{name: "headless Chrome", userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.7000.1 Safari/537.36",
			want: "Headless Chrome 156 on Linux"},
		{name: "Safari on iPhone", userAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
			want: "Safari on iPhone"},
		{name: "Safari on a Mac", userAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
			want: "Safari 17 on macOS"},
		{name: "Firefox on Windows", userAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
			want: "Firefox 128 on Windows"},
		{name: "Chrome on an Android phone", userAgent: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
			want: "Chrome on Pixel 8"},
		{name: "a web view on iPhone", userAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
			want: "iPhone"},
		{name: "an unknown player", userAgent: "MyPlayer/2.1 (build 7)", want: "MyPlayer 2"},
		{name: "ffmpeg", userAgent: "Lavf/59.27.100", want: "ffmpeg (Lavf 59)"},
		{name: "AVPlayer on iPhone", userAgent: "AppleCoreMedia/1.0.0.21F79 (iPhone; U; CPU OS 17_5 like Mac OS X; en_us)", want: "AVPlayer on iPhone"},
		{name: "VLC", userAgent: "VLC/3.0.20 LibVLC/3.0.20", want: "VLC 3"},
		{name: "ExoPlayer", userAgent: "ExoPlayerLib/2.19.1", want: "ExoPlayer 2"},
		{name: "with a content id", userAgent: "Lavf/59.27.100", contentID: "film-42", want: "ffmpeg (Lavf 59) · film-42"},
		{name: "a content id alone", contentID: "film-42", want: "unknown device · film-42"},
		{name: "nothing", want: ""},
		{name: "blank", userAgent: "   ", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, proxy.DeviceName(tt.userAgent, tt.contentID))
		})
	}
}

func TestDeviceNameIsClipped(t *testing.T) {
	t.Parallel()
	got := proxy.DeviceName("Lavf/59.27.100", strings.Repeat("é", 200))
	assert.LessOrEqual(t, len(got), 96)
	assert.True(t, utf8.ValidString(got), "cut on a rune boundary")
	assert.True(t, strings.HasSuffix(got, "…"))
}

func BenchmarkDeviceName(b *testing.B) {
	const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
	b.ReportAllocs()
	for b.Loop() {
		_ = proxy.DeviceName(chrome, "")
	}
}
