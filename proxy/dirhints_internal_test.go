package proxy

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDirOf(t *testing.T) {
	for path, want := range map[string]string{
		"/vod/360p/seg-1.m4s":   "/vod/360p",
		"/vod//360p//seg-1.m4s": "/vod/360p",
		"//vod/seg.ts":          "/vod",
		"/seg.ts":               "",
		"seg.ts":                "",
		"/vod/360p/":            "/vod/360p",
	} {
		assert.Equal(t, want, dirOf(path), path)
	}
}

// TestDirHintsFindTheNearestFolder: a segment behind path info or doubled
// slashes still finds its manifest's folder, up to maxDirDepth folders up.
func TestDirHintsFindTheNearestFolder(t *testing.T) {
	var h dirHints
	h.put(dirOf("/vod/360p/index.m3u8"), dirHint{d: 2 * time.Second})
	h.put(dirOf("/vod/manifest.mpd"), dirHint{d: 4 * time.Second})
	for path, want := range map[string]time.Duration{
		"/vod/360p/seg-1.m4s":           2 * time.Second,
		"/vod//360p//seg-1.m4s":         2 * time.Second,
		"/vod/360p/seg-1.m4s/init":      2 * time.Second,
		"/vod/360p/seg-1.m4s/a/b/c/d/e": 2 * time.Second,
		"/vod/720p/seg-1.m4s":           4 * time.Second,
		"/other/seg-1.m4s":              0,
		"/seg-1.m4s":                    0,
	} {
		assert.Equal(t, want, h.of(path).d, path)
	}
	assert.Zero(t, h.of("/vod/1/2/3/4/5/6/7/8/seg.m4s").d, "past maxDirDepth folders up")
}

// TestDirHintsStayBounded: folders past maxDirHints replace others one for
// one, so that a client naming many cannot grow the table, nor empty it at
// once.
func TestDirHintsStayBounded(t *testing.T) {
	var h dirHints
	h.put("/vod/360p", dirHint{d: 2 * time.Second})
	for i := range maxDirHints + 100 {
		h.put(fmt.Sprintf("/vod/360p/index.m3u8/%d", i), dirHint{d: time.Second})
	}
	assert.Len(t, h.m, maxDirHints)
	h.put("/vod/360p", dirHint{d: 2 * time.Second})
	assert.Equal(t, 2*time.Second, h.of("/vod/360p/seg-1.m4s").d, "learnt again at its next fetch")
}
