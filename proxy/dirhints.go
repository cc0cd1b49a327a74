package proxy

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/streamgate/streamgate/limiter"
)

// A session's media time comes from what its player says (CMCD d) or from
// the manifest it fetched with its session id (segmentHints), else it is
// none (SPEC). Both are the client's to leave out: a client that fetched
// its playlists without a session id and sent no d, or claimed ot=i for
// every segment, held its slot for no media at all, so a stop after each
// segment was always free and a burst of segments kept the slot only a TTL
// (found by a red-team pass). dirHints keeps the segment duration of every
// manifest the gate passes, with a session or without, by the manifest's
// folder; a media request that tells nothing gets the duration of the
// nearest folder's manifests as its fallback (Request.FallbackMedia).

// dirHints maps a folder's hash to what the manifests served from it told. Only the origin's manifests fill it; a client
// may still name many folders of them (path info), so past maxDirHints a
// folder is forgotten for each one learnt, at random: the manifests in use
// are learnt again at their next fetch.
type dirHints struct {
	mu sync.RWMutex
	m  map[uint64]dirHint
}

// merge is what h and v, both told of one folder, tell together.
func (h dirHint) merge(v dirHint) dirHint {
	return dirHint{d: min(h.d, v.d), parts: h.parts || v.parts}
}

// dirHint is what a folder's manifest told: its segment duration, and
// whether it lists parts (LL-HLS), whose CMCD d is a fraction of it.
type dirHint struct {
	d     time.Duration
	parts bool
}

const (
	// maxDirHints bounds the folders kept.
	maxDirHints = 1 << 14
	// maxDirDepth bounds the folders a lookup walks up from a request's.
	maxDirDepth = 8
)

var dirSeed = maphash.MakeSeed()

// dirOf is the folder of a path: up to its last slash, repeated slashes
// read as one, as origins (nginx, Apache) read them.
func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		path = path[:i]
	} else {
		path = ""
	}
	if !strings.Contains(path, "//") {
		return strings.TrimSuffix(path, "/")
	}
	b := make([]byte, 0, len(path))
	for i := 0; i < len(path); i++ {
		if path[i] != '/' || len(b) == 0 || b[len(b)-1] != '/' {
			b = append(b, path[i])
		}
	}
	return strings.TrimSuffix(string(b), "/")
}

// put adds what a manifest of dir told. A folder keeps the shortest
// duration its manifests told, and whether any lists parts: a player of
// the folder's other title, which tells a shorter d, must not be taken for
// one that hides its media. A reload telling nothing new takes no write
// lock.
func (h *dirHints) put(dir string, v dirHint) {
	if v.d <= 0 {
		return
	}
	k := maphash.String(dirSeed, dir)
	h.mu.RLock()
	old, ok := h.m[k]
	h.mu.RUnlock()
	if ok && old.merge(v) == old {
		return
	}
	h.mu.Lock()
	if h.m == nil {
		h.m = make(map[uint64]dirHint)
	}
	if old, ok := h.m[k]; ok {
		v = old.merge(v)
	} else if len(h.m) >= maxDirHints {
		for other := range h.m { // a map iterates from a random place
			delete(h.m, other)
			break
		}
	}
	h.m[k] = v
	h.mu.Unlock()
}

// of is the segment duration of the manifests of path's folder or of the
// nearest folder above it that has one, up to maxDirDepth folders up; 0
// when none is known.
func (h *dirHints) of(path string) dirHint {
	dir := dirOf(path)
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(h.m) == 0 {
		return dirHint{}
	}
	for range maxDirDepth {
		if v, ok := h.m[maphash.String(dirSeed, dir)]; ok {
			return v
		}
		if dir == "" {
			break
		}
		dir = dirOf(dir)
	}
	return dirHint{}
}

// dirMedia gives a media request the duration of its folder's manifests as
// its fallback: the session's own CMCD d or manifest still decide first
// (SPEC), but a request that tells nothing delivers that much, and its
// player's ot or an init-like name cannot say it delivers none. A d under
// half of it, where the manifest lists no parts, is no segment of that
// folder's and is not believed (a millisecond a segment). Truthful players
// tell about the same; a client that hides its media could otherwise take
// turns at one slot with other devices.
func (g *gate) dirMedia(req *limiter.Request, path string) {
	v := g.dirs.of(path)
	if v.d <= 0 {
		return
	}
	req.NoMedia, req.FallbackMedia = false, v.d
	if !v.parts && req.Media < v.d/2 {
		req.Media = 0
	}
}
