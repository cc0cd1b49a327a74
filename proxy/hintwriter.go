package proxy

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/streamgate/streamgate/proxy/manifest"
)

// hintWriter reads an admitted manifest as it streams to the player, for
// the segment duration it tells (manifest.DurationScanner), kept in the
// gate's segmentHints for the session's next request. Reading on the way
// out rather than wrapping the origin's body needs no per-request context
// value nor a copy of the request, and every other response costs nothing.
type hintWriter struct {
	http.ResponseWriter
	hints *segmentHints
	key   uint64
	// session is set when key names a session, which takes the hint.
	session bool
	// dirs takes the hint for dir, the manifest's directory (dirHints).
	dirs *dirHints
	dir  string
	// kept is the duration the store already keeps for the session: a
	// manifest that tells the same one (nearly every reload) hands nothing on.
	kept time.Duration
	scan manifest.DurationScanner
	// learning holds until the answer rules it out (not a 200, compressed,
	// a write failed) or the duration is known.
	learning    bool
	wroteHeader bool
	// mpd is set for an MPD; checking until the answer's first bytes said
	// whether it is a manifest at all.
	mpd, checking bool
	// part is the part target a playlist's bytes read so far told (LL-HLS:
	// its header names it before any segment).
	part time.Duration
}

// hintWriters are reused: a manifest's writer goes back once its handler
// has returned (release).
var hintWriters = sync.Pool{New: func() any { return new(hintWriter) }}

// learnHint wraps w to learn the segment duration of the manifest r asks
// for, as key's hint; kept is the one the store keeps already. The manifest
// is asked for uncompressed, so that its bytes can be read as they pass.
func (g *gate) learnHint(w http.ResponseWriter, r *http.Request, key uint64, mpd bool, kept time.Duration) http.ResponseWriter {
	r.Header.Del("Accept-Encoding")
	h := g.hintWriter(w, r, mpd)
	h.key, h.session, h.kept = key, true, kept
	return h
}

// learnDirHint wraps w to learn the segment duration of the manifest r
// asks for, for its directory only.
func (g *gate) learnDirHint(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	mpd := hasSuffixFold(r.URL.Path, ".mpd")
	if !mpd && !hasSuffixFold(r.URL.Path, ".m3u8") {
		return w
	}
	return g.hintWriter(w, r, mpd)
}

func (g *gate) hintWriter(w http.ResponseWriter, r *http.Request, mpd bool) *hintWriter {
	scan := manifest.NewHLSDurationScanner()
	if mpd {
		scan = manifest.NewMPDDurationScanner()
	}
	h := hintWriters.Get().(*hintWriter)
	*h = hintWriter{ResponseWriter: w, hints: &g.hints, dirs: &g.dirs, dir: dirOf(r.URL.Path), scan: scan, learning: true, mpd: mpd}
	return h
}

func (w *hintWriter) WriteHeader(code int) {
	if code >= 200 && !w.wroteHeader {
		w.settle(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

// settle decides at the status line whether the body can tell anything.
func (w *hintWriter) settle(code int) {
	w.wroteHeader = true
	enc := w.Header().Get("Content-Encoding")
	plain := enc == "" || strings.EqualFold(enc, "identity")
	if code != http.StatusOK || !plain {
		w.learning = false // the origin compressed it anyway: no hint from this one
	}
	w.checking = code >= 200 && code <= 299 && plain
}

func (w *hintWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.settle(http.StatusOK)
	}
	if w.checking {
		// A session's manifest took its slot but delivers no media time:
		// behind an origin that serves path info, /seg-1.m4s/x.m3u8 is
		// the segment. Its answer is cut before its first byte.
		start, ok := manifestStart(b, w.mpd)
		if ok && !start {
			w.learning, w.checking = false, false
			return 0, errNotManifest
		}
		w.checking = !ok
	}
	n, err := w.ResponseWriter.Write(b)
	if w.learning && !w.mpd && w.part == 0 {
		w.part = manifest.PartTarget(b[:n])
	}
	if w.learning {
		if d, ok := w.scan.Scan(b[:n]); ok {
			w.learning = false
			w.learnt(d)
		} else if err != nil {
			w.learning = false // the player left: what was not sent tells nothing
		}
	}
	return n, err
}

// learnt keeps d for the manifest's directory, and for the session's next
// request unless the store keeps it already: then the hint map is not
// touched at all.
func (w *hintWriter) learnt(d time.Duration) {
	if learnable(w.dir) {
		w.dirs.put(w.dir, dirHint{d: d, part: w.part})
	}
	if w.session && d != w.kept {
		w.hints.put(w.key, d, time.Since(epoch))
	}
}

// Unwrap gives http.ResponseController, and so the proxy's flushes, the
// writer underneath.
func (w *hintWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish settles what only the whole body tells (a playlist ending in the
// tag's number, an MPD's last resort) and gives w back; it returns the
// writer w wrapped. The handler has returned: nothing writes to w any more.
func (w *hintWriter) finish() http.ResponseWriter {
	if w.learning && w.wroteHeader {
		if d, ok := w.scan.End(); ok {
			w.learnt(d)
		}
	}
	inner := w.ResponseWriter
	*w = hintWriter{}
	hintWriters.Put(w)
	return inner
}
