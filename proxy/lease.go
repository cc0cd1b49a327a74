package proxy

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy/identity"
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
