package proxy

import (
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"sync/atomic"
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

// dirHints maps a folder's hash to what the manifests served from it told.
// Only the origin's manifests fill it, but a client may name many folders
// of them (a manifest under path info, a script): past maxDirHints a folder
// is forgotten for each one learnt, the least recently learnt or looked up
// of a few taken at random, so that folders in use stay and a flood of
// others replaces its own.
type dirHints struct {
	mu sync.RWMutex
	m  map[uint64]*dirEntry
	// most is the longest duration ever learnt: what a path too deep to
	// walk counts.
	most time.Duration
	// learnt counts the folders learnt: an entry's time.
	learnt uint64
}

type dirEntry struct {
	hint dirHint
	// seen is h.learnt when the folder was last learnt or looked up.
	seen atomic.Uint64
}

// merge is what h and v, both told of one folder, tell together.
func (h dirHint) merge(v dirHint) dirHint {
	part := min(h.part, v.part)
	if h.part == 0 || v.part == 0 {
		part = max(h.part, v.part)
	}
	return dirHint{d: min(h.d, v.d), part: part}
}

// dirHint is what a folder's manifests told: the shortest segment
// duration, and the shortest part target of those that list parts
// (LL-HLS), whose CMCD d is a part's.
type dirHint struct {
	d, part time.Duration
}

// floor is the least media time a request of the folder is counted: most
// of its shortest segment or part, as a playlist's target duration rounds
// its segments up.
func (h dirHint) floor() time.Duration {
	if h.part > 0 {
		return h.part * 3 / 4
	}
	return h.d * 3 / 4
}

const (
	// maxDirHints bounds the folders kept.
	maxDirHints = 1 << 14
	// maxDirDepth bounds the folders a lookup walks up from a request's;
	// a deeper path, which only path info serves, counts the longest
	// duration known.
	maxDirDepth = 64
	// evictScan is how many entries an eviction compares.
	evictScan = 32
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

// learnable reports whether a manifest in folder dir may teach it: not one
// under another manifest's name, which only path info serves.
func learnable(dir string) bool {
	for dir != "" {
		name := dir[strings.LastIndexByte(dir, '/')+1:]
		if hasSuffixFold(name, ".m3u8") || hasSuffixFold(name, ".mpd") {
			return false
		}
		dir = dirOf(dir)
	}
	return true
}

// put adds what a manifest of dir told. A folder keeps the shortest
// duration its manifests told, and the shortest part target: a player of
// the folder's other title, which tells a shorter d, must not be taken for
// one that hides its media. A reload telling nothing new takes no write
// lock.
func (h *dirHints) put(dir string, v dirHint) {
	if v.d <= 0 {
		return
	}
	k := maphash.String(dirSeed, dir)
	h.mu.RLock()
	e := h.m[k]
	same := e != nil && e.hint.merge(v) == e.hint
	h.mu.RUnlock()
	if same {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.most = max(h.most, v.d)
	if h.m == nil {
		h.m = make(map[uint64]*dirEntry)
	}
	h.learnt++
	if e := h.m[k]; e != nil {
		e.hint = e.hint.merge(v)
		e.seen.Store(h.learnt)
		return
	}
	if len(h.m) >= maxDirHints {
		h.evict()
	}
	e = &dirEntry{hint: v}
	e.seen.Store(h.learnt)
	h.m[k] = e
}

// evict forgets one folder: of evictScan from a random place (a map
// iterates from one), the one learnt or looked up longest ago.
func (h *dirHints) evict() {
	n, victim, oldest := 0, uint64(0), uint64(math.MaxUint64)
	for k, e := range h.m {
		if s := e.seen.Load(); s < oldest {
			victim, oldest = k, s
		}
		if n++; n == evictScan {
			break
		}
	}
	delete(h.m, victim)
}

// of is what the manifests of path's folder told, or of the nearest folder
// above it that has one; nothing when none is known.
func (h *dirHints) of(path string) dirHint {
	dir := dirOf(path)
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(h.m) == 0 {
		return dirHint{}
	}
	for range maxDirDepth {
		if e := h.m[maphash.String(dirSeed, dir)]; e != nil {
			if e.seen.Load() != h.learnt {
				e.seen.Store(h.learnt)
			}
			return e.hint
		}
		if dir == "" {
			return dirHint{}
		}
		dir = dirOf(dir)
	}
	return dirHint{d: h.most}
}

// dirMedia gives a media request the duration of its folder's manifests as
// its fallback: the session's own CMCD d or manifest still decide first
// (SPEC), but a request that tells nothing delivers that much, its player's
// ot or an init-like name cannot say it delivers none, and whatever told
// it, it counts at least most of the folder's shortest segment or part (a
// millisecond's d, or the manifest of a title of shorter segments fetched
// before each segment, is no segment of this folder's). Truthful players
// tell about the same; a client that hides its media could otherwise take
// turns at one slot with other devices.
func (g *gate) dirMedia(req *limiter.Request, path string) {
	v := g.dirs.of(path)
	if v.d <= 0 {
		return
	}
	req.NoMedia, req.FallbackMedia, req.MinMedia = false, v.d, v.floor()
}
