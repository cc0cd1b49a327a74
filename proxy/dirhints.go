package proxy

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy/identity"
)

// A session's media time comes from what its player says (CMCD d, ot) or
// from the manifest it fetched with its session id (segmentHints). Both are
// the client's to leave out: a client that fetches its playlists without a
// session id and sends no d, or claims ot=i for every segment, held its
// slot for no media at all, so a stop after each segment was always free
// and a burst of segments kept the slot only a TTL (found by a red-team
// pass). dirHints keeps the segment duration of every manifest the gate
// passes, with a session or without, by the manifest's directory; a media
// request gets the duration of its directory's manifests, or of its
// parent's (a DASH MPD above its representations' folders). What the
// player says may then add media, but not take it away.

// dirHints maps a directory's hash to the segment duration of the last
// manifest served from it. Only the origin's manifests fill it, so it holds
// its content's folders; maxDirHints bounds it all the same.
type dirHints struct {
	mu sync.RWMutex
	m  map[uint64]time.Duration
}

// maxDirHints bounds the directories kept; past it the map starts over.
const maxDirHints = 1 << 14

var dirSeed = maphash.MakeSeed()

// dirOf is the directory part of a path: up to its last slash.
func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i]
	}
	return ""
}

// put keeps d for the manifests of dir. A reload telling the same takes no
// write lock.
func (h *dirHints) put(dir string, d time.Duration) {
	if d <= 0 {
		return
	}
	k := maphash.String(dirSeed, dir)
	h.mu.RLock()
	old, ok := h.m[k]
	h.mu.RUnlock()
	if ok && old == d {
		return
	}
	h.mu.Lock()
	if h.m == nil || len(h.m) >= maxDirHints {
		h.m = make(map[uint64]time.Duration)
	}
	h.m[k] = d
	h.mu.Unlock()
}

// of is the segment duration of the manifests of path's directory, or of
// its parent's; 0 when neither is known.
func (h *dirHints) of(path string) time.Duration {
	dir := dirOf(path)
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(h.m) == 0 {
		return 0
	}
	if d, ok := h.m[maphash.String(dirSeed, dir)]; ok || dir == "" {
		return d
	}
	return h.m[maphash.String(dirSeed, dirOf(dir))]
}

// dirMedia gives a media request the duration of its directory's
// manifests: a player's ot may not say it delivers none, nor a d of a
// fraction of it take it away, and a session without a hint of its own
// takes it as its hint. A player that tells the truth tells about the same.
func (g *gate) dirMedia(req *limiter.Request, path string) {
	d := g.dirs.of(path)
	if d <= 0 {
		return
	}
	req.NoMedia = false
	if req.Media < d/4 {
		req.Media = 0
	}
	if req.SegmentHint <= 0 {
		req.SegmentHint = d
	}
}

// mediaByPath reports whether path may deliver media: not a manifest, nor an
// init segment by its name (trackOf).
func mediaByPath(path string) bool {
	return !identity.IsManifest(path) && !hasPrefixFold(path[strings.LastIndexByte(path, '/')+1:], "init")
}
