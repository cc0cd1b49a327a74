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
// from then on. Replica-local and bounded: a hint lost (dropped, or the next
// request went to another replica) only means that the session's media
// counts from its next manifest instead.
//
// A hint waits for its session's next request, a few seconds; one whose
// session never came back (a manifest fetched and left, or the request
// went to another replica) waits for nothing. So each shard keeps two
// generations, and every hintLife drops the older whole, its map with it:
// a Go map keeps its peak's memory, and the first reloads of a crowd's
// sessions fill these maps, whose hints the store keeps from then on.
type segmentHints struct {
	// n counts the hints held, so that the requests of sessions that have
	// none (nearly all) pass without taking a lock.
	n atomic.Int64
	// turned is when the generations last turned, since epoch (turn).
	turned atomic.Int64
	shards [hintShards]hintShard
}

const (
	hintShards = 16
	// maxHintsPerShard bounds the maps of a shard, both generations.
	maxHintsPerShard = 4096
	// hintLife is how long a hint waits at least, at most twice that: the
	// default -session-ttl, the longest a session may be silent and live.
	hintLife = time.Minute
)

type hintShard struct {
	mu sync.Mutex
	// cur holds the hints put since the generations turned, old those of
	// the generation before; a key is in one of them at most.
	cur, old map[uint64]time.Duration
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

// turn starts a new generation in every shard when hintLife has passed
// since the last, dropping the older one, and the current one too when it
// is as old. One caller turns them; the others go on.
func (h *segmentHints) turn(now time.Duration) {
	last := time.Duration(h.turned.Load())
	if now-last < hintLife || !h.turned.CompareAndSwap(int64(last), int64(now)) {
		return
	}
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.Lock()
		h.n.Add(-int64(len(s.old)))
		s.old, s.cur = s.cur, nil
		if now-last >= 2*hintLife {
			h.n.Add(-int64(len(s.old)))
			s.old = nil
		}
		s.mu.Unlock()
	}
}

// put keeps d as key's hint; now is the time since epoch.
func (h *segmentHints) put(key uint64, d, now time.Duration) {
	if d <= 0 {
		return
	}
	h.turn(now)
	s := &h.shards[key%hintShards]
	s.mu.Lock()
	if _, ok := s.cur[key]; !ok {
		if _, ok := s.old[key]; ok {
			delete(s.old, key)
			h.n.Add(-1)
		}
		if len(s.cur)+len(s.old) >= maxHintsPerShard {
			s.dropOne(h)
		}
		h.n.Add(1)
	}
	if s.cur == nil {
		s.cur = make(map[uint64]time.Duration)
	}
	s.cur[key] = d
	s.mu.Unlock()
}

// dropOne makes room for a hint: the older generation's first, and a map
// iterates from a random place.
func (s *hintShard) dropOne(h *segmentHints) {
	m := s.old
	if len(m) == 0 {
		m = s.cur
	}
	for k := range m {
		delete(m, k)
		h.n.Add(-1)
		return
	}
}

// take returns and forgets the session's hint; 0 when there is none. now
// is the time since epoch.
func (h *segmentHints) take(key uint64, now time.Duration) time.Duration {
	if h.n.Load() == 0 {
		return 0
	}
	h.turn(now)
	s := &h.shards[key%hintShards]
	s.mu.Lock()
	d, ok := s.cur[key]
	if ok {
		delete(s.cur, key)
	} else if d, ok = s.old[key]; ok {
		delete(s.old, key)
	}
	if ok {
		h.n.Add(-1)
		// Once every hint is taken no request turns the generations (n
		// is 0): the maps emptied go now, with the memory of their peak.
		if len(s.cur) == 0 {
			s.cur = nil
		}
		if len(s.old) == 0 {
			s.old = nil
		}
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
	// An init segment delivers none, but on its folder's track: where the
	// folder's manifests are known it counts a segment (dirhints.go).
	noMedia = hasPrefixFold(file, "init")
	for dir != "" {
		seg := dir
		if i := strings.LastIndexByte(dir, '/'); i >= 0 {
			seg, dir = dir[i+1:], dir[:i]
		} else {
			dir = ""
		}
		switch {
		case hasPrefixFold(seg, "audio"), strings.EqualFold(seg, "aac"), strings.EqualFold(seg, "a"):
			return limiter.TrackAudio, noMedia
		case hasPrefixFold(seg, "video"), strings.EqualFold(seg, "v"):
			return limiter.TrackVideo, noMedia
		}
	}
	return limiter.TrackMain, noMedia
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
