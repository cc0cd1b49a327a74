package proxy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	h.put(dirOf("/other/index.m3u8"), dirHint{d: 6 * time.Second})
	deep := "/deep" + strings.Repeat("/x", maxDirDepth) + "/seg.m4s"
	assert.Equal(t, 6*time.Second, h.of(deep).d, "past maxDirDepth folders up: the longest known")
}

// TestDirHintsStayBounded: folders past maxDirHints replace others one for
// one, so that a client naming many cannot grow the table; the folders
// looked up meanwhile stay.
func TestDirHintsStayBounded(t *testing.T) {
	var h dirHints
	h.put("/vod/360p", dirHint{d: 2 * time.Second})
	for i := range 4 * maxDirHints {
		if i%100 == 0 {
			require.Equal(t, 2*time.Second, h.of("/vod/360p/seg-1.m4s").d, "a folder in use stays (%d folders named)", i)
		}
		h.put(fmt.Sprintf("/vod/360p/index.m3u8/%d", i), dirHint{d: time.Second})
	}
	assert.Len(t, h.m, maxDirHints)
}

func TestLearnable(t *testing.T) {
	assert.True(t, learnable("/vod/360p"))
	assert.True(t, learnable(""))
	assert.False(t, learnable("/vod/360p/index.m3u8/k1"))
	assert.False(t, learnable("/vod/manifest.MPD/a/b"))
}
