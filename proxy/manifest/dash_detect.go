package manifest

import "strings"

// mpdTypes are the media types of DASH MPDs: ISO/IEC 23009-1 Annex C, and
// the legacy name some packagers still send.
var mpdTypes = []string{"application/dash+xml", "video/vnd.mpeg.dash.mpd"}

// isMPD reports whether a 200 answer with this Content-Type, to a request for
// path, is a DASH MPD: by its media type, or by its path's .mpd for origins
// that label it generically (application/xml, text/xml, octet-stream).
func isMPD(contentType, path string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	for _, t := range mpdTypes {
		if strings.EqualFold(mt, t) {
			return true
		}
	}
	return len(path) >= 4 && strings.EqualFold(path[len(path)-4:], ".mpd")
}
