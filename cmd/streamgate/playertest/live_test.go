package playertest

import (
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// liveHandler serves the VOD files as a live stream that started when the
// handler was made, minus liveOffset so that a few segments are there at
// once: an HLS media playlist sliding over the segments published so far, a
// dynamic DASH MPD over the same numbers. The segments' own timestamps run on
// from zero, as a live encoder's would.
type liveHandler struct {
	dir   string
	start time.Time
	files http.Handler
}

const (
	liveOffset = 10 * time.Second
	liveWindow = 6 // segments in the HLS playlist
)

func newLiveHandler(dir string) *liveHandler {
	return &liveHandler{dir: dir, start: time.Now().Add(-liveOffset), files: http.FileServer(http.Dir(dir))}
}

// published is how many whole segments exist now.
func (h *liveHandler) published() int {
	n := int(time.Since(h.start) / (segDuration * time.Second))
	return min(n, vodSeconds/segDuration)
}

func (h *liveHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	switch path.Base(r.URL.Path) {
	case "media.m3u8":
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		fmt.Fprint(w, h.hlsPlaylist())
	case "manifest.mpd":
		w.Header().Set("Content-Type", "application/dash+xml")
		fmt.Fprint(w, h.mpd())
	default:
		h.files.ServeHTTP(w, r)
	}
}

func (h *liveHandler) hlsPlaylist() string {
	last := h.published()
	first := max(0, last-liveWindow)
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n#EXT-X-MAP:URI=\"init.mp4\"\n", segDuration, first)
	for i := first; i < last; i++ {
		fmt.Fprintf(&b, "#EXTINF:%d.000000,\nseg%03d.m4s\n", segDuration, i)
	}
	return b.String()
}

var (
	staticAttr   = regexp.MustCompile(`type="static"`)
	durationAttr = regexp.MustCompile(`\s+mediaPresentationDuration="[^"]*"`)
)

func (h *liveHandler) mpd() string {
	raw, err := os.ReadFile(filepath.Join(h.dir, "vod", "manifest.mpd"))
	if err != nil {
		return ""
	}
	live := fmt.Sprintf(`type="dynamic" availabilityStartTime="%s" publishTime="%s" minimumUpdatePeriod="PT%dS" timeShiftBufferDepth="PT12S" suggestedPresentationDelay="PT6S"`,
		h.start.UTC().Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339), segDuration)
	s := durationAttr.ReplaceAllString(string(raw), "")
	return staticAttr.ReplaceAllString(s, live)
}
