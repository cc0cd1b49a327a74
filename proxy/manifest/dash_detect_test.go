package manifest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIsMPD(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, contentType, path string
		want                    bool
	}{
		{name: "registered type", contentType: "application/dash+xml", path: "/live/manifest", want: true},
		{name: "with parameters and case", contentType: "Application/DASH+XML; charset=utf-8", path: "/x", want: true},
		{name: "legacy type", contentType: "video/vnd.mpeg.dash.mpd", path: "/x", want: true},
		{name: "generic type, .mpd path", contentType: "application/xml", path: "/vod/42/Manifest.MPD", want: true},
		{name: "no type, .mpd path", contentType: "", path: "/a.mpd", want: true},
		{name: "a segment", contentType: "video/mp4", path: "/vod/42/chunk-0-00001.m4s", want: false},
		{name: "an HLS playlist", contentType: "application/vnd.apple.mpegurl", path: "/v.m3u8", want: false},
		{name: "short path", contentType: "", path: "mpd", want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, isMPD(tc.contentType, tc.path))
		})
	}
}
