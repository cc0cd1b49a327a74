package proxy

import (
	"context"
	"hash/maphash"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/manifest"
)

// segmentHints are the segment durations this replica learnt from the
// manifests it passed, per session, waiting for the session's next request
// to take them to the store (limiter.Request.SegmentHint), which keeps them
// from then on. Replica-local and bounded: a hint lost (evicted, or the next
// request went to another replica) only means that the session's media
// counts from its next manifest instead.
type segmentHints struct {
	// n counts the hints held, so that the requests of sessions that have
	// none (nearly all) pass without taking a lock.
	n      atomic.Int64
	shards [hintShards]hintShard
}

const (
	hintShards = 16
	// maxHintsPerShard bounds the map: a hint waits only for its session's
	// next request, a few seconds.
	maxHintsPerShard = 4096
)

type hintShard struct {
	mu sync.Mutex
	m  map[uint64]time.Duration
}

var hintSeed = maphash.MakeSeed()

// hintKey is the session's key in the map: a 64-bit hash of user and
// session, so that no request builds a string to look it up.
func hintKey(userID, sessionID string) uint64 {
	var h maphash.Hash
	h.SetSeed(hintSeed)
	h.WriteString(userID)
	h.WriteByte(0)
	h.WriteString(sessionID)
	return h.Sum64()
}

func (h *segmentHints) put(key uint64, d time.Duration) {
	if d <= 0 {
		return
	}
	s := &h.shards[key%hintShards]
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[uint64]time.Duration)
	}
	if _, ok := s.m[key]; !ok {
		if len(s.m) >= maxHintsPerShard {
			for k := range s.m { // drop one: the map iterates from a random place
				delete(s.m, k)
				h.n.Add(-1)
				break
			}
		}
		h.n.Add(1)
	}
	s.m[key] = d
	s.mu.Unlock()
}

// take returns and forgets the session's hint; 0 when there is none.
func (h *segmentHints) take(key uint64) time.Duration {
	if h.n.Load() == 0 {
		return 0
	}
	s := &h.shards[key%hintShards]
	s.mu.Lock()
	d, ok := s.m[key]
	if ok {
		delete(s.m, key)
		h.n.Add(-1)
	}
	s.mu.Unlock()
	return d
}

// hintTarget travels with an admitted manifest request of a session: where
// the segment duration its body tells is to be kept, and the reader that
// will learn it.
type hintTarget struct {
	hints  *segmentHints
	key    uint64
	mpd    bool
	reader manifest.DurationReader
}

// SegmentDuration keeps what the manifest's body told.
func (t *hintTarget) SegmentDuration(d time.Duration) { t.hints.put(t.key, d) }

type hintKeyCtx struct{}

// hintContext carries a hintTarget in the request's context: one allocation
// for the context, the target and its reader, where context.WithValue
// and separate objects would take four.
type hintContext struct {
	context.Context
	target hintTarget
}

func (c *hintContext) Value(key any) any {
	if key == (hintKeyCtx{}) {
		return &c.target
	}
	return c.Context.Value(key)
}

func withHintTarget(r *http.Request, hints *segmentHints, key uint64, mpd bool) *http.Request {
	return r.WithContext(&hintContext{Context: r.Context(), target: hintTarget{hints: hints, key: key, mpd: mpd}})
}

func hintTargetOf(r *http.Request) *hintTarget {
	t, _ := r.Context().Value(hintKeyCtx{}).(*hintTarget)
	return t
}

// askPlainManifest is part of the ReverseProxy's Rewrite: a manifest whose
// segment duration is to be learnt is asked for uncompressed, so that it
// can be read as it streams.
func askPlainManifest(pr *httputil.ProxyRequest) {
	if hintTargetOf(pr.In) != nil {
		pr.Out.Header.Del("Accept-Encoding")
	}
}

// learnSegmentDuration is the first step of the ReverseProxy's
// ModifyResponse: a successful manifest answered to a session's request is
// read as it streams to the player (manifest.DurationReader) for its
// segment duration. Every other response, segments above all, costs one
// context lookup and no allocation.
func learnSegmentDuration(resp *http.Response) {
	t := hintTargetOf(resp.Request)
	if t == nil || resp.StatusCode != http.StatusOK {
		return
	}
	if enc := resp.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return // the origin compressed it anyway: no hint from this one
	}
	scan := manifest.NewHLSDurationScanner()
	if t.mpd {
		scan = manifest.NewMPDDurationScanner()
	}
	t.reader.Wrap(resp.Body, scan, t)
	resp.Body = &t.reader
}

// chainModifyResponse runs learnSegmentDuration, then next (the manifest
// rewriting) when there is one.
func chainModifyResponse(next func(*http.Response) error) func(*http.Response) error {
	return func(resp *http.Response) error {
		learnSegmentDuration(resp)
		if next == nil {
			return nil
		}
		return next(resp)
	}
}

// trackOf tells which media a request delivers and whether it delivers
// media time at all: from CMCD ot when the player sent it, else from the
// path. Audio and video renditions fetched side by side must not add up,
// so an audio rendition is told by a path segment that names it
// ("audio", "audio_128k", "aac", "a"); everything else counts as the main
// track. An init segment, a key or a caption delivers no media time of its
// own.
func trackOf(c identity.CMCD, path string) (track limiter.Track, noMedia bool) {
	switch c.ObjectType {
	case "v":
		return limiter.TrackVideo, false
	case "a":
		return limiter.TrackAudio, false
	case "av":
		return limiter.TrackMain, false
	case "m", "i", "k", "c", "tt", "o":
		return limiter.TrackMain, true
	}
	if identity.IsManifest(path) {
		return limiter.TrackMain, true
	}
	dir, file := path, ""
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		dir, file = path[:i], path[i+1:]
	}
	if hasPrefixFold(file, "init") {
		return limiter.TrackMain, true
	}
	for dir != "" {
		seg := dir
		if i := strings.LastIndexByte(dir, '/'); i >= 0 {
			seg, dir = dir[i+1:], dir[:i]
		} else {
			dir = ""
		}
		switch {
		case hasPrefixFold(seg, "audio"), strings.EqualFold(seg, "aac"), strings.EqualFold(seg, "a"):
			return limiter.TrackAudio, false
		case hasPrefixFold(seg, "video"), strings.EqualFold(seg, "v"):
			return limiter.TrackVideo, false
		}
	}
	return limiter.TrackMain, false
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
