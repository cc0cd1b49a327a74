package limiter

import (
	"fmt"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Sharded is an LRU split into a power-of-two number of shards, each with
// its own lock, so that unrelated keys rarely wait on one lock (golang-lru
// offers no sharded cache). The caller picks a key's shard by a hash it
// computes itself, locks the shard, and works on its LRU and on Extra, the
// shard's own state beside the LRU (struct{} when there is none). The
// memory table, the Redis store's refresh cache and the verified-token
// cache are all one of these.
type Sharded[K comparable, V any, X any] struct {
	shards []Shard[K, V, X]
	mask   uint64
}

// Shard is one lock and the LRU it guards.
type Shard[K comparable, V any, X any] struct {
	sync.Mutex
	LRU   *simplelru.LRU[K, V]
	Extra X
	// pad keeps neighbouring shards' locks off one cache line.
	_ [48]byte
}

// ShardCount is how many shards hold capacity entries: at most maxShards
// (a power of two), halved until each holds at least minPerShard, at least 1.
func ShardCount(capacity, minPerShard, maxShards int) int {
	n := maxShards
	for n > 1 && capacity/n < minPerShard {
		n /= 2
	}
	return n
}

// NewSharded makes n shards (a power of two) whose LRUs hold perShard
// entries each; onEvict, which may be nil, runs for every entry that leaves
// an LRU, under its shard's lock.
func NewSharded[K comparable, V any, X any](n, perShard int, onEvict simplelru.EvictCallback[K, V]) (*Sharded[K, V, X], error) {
	if n < 1 || n&(n-1) != 0 {
		return nil, fmt.Errorf("sharded LRU: %d shards is not a power of two", n)
	}
	s := &Sharded[K, V, X]{shards: make([]Shard[K, V, X], n), mask: uint64(n - 1)}
	for i := range s.shards {
		lru, err := simplelru.NewLRU(perShard, onEvict)
		if err != nil {
			return nil, fmt.Errorf("sharded LRU: %w", err)
		}
		s.shards[i].LRU = lru
	}
	return s, nil
}

// For returns the shard of a key whose hash is h.
func (s *Sharded[K, V, X]) For(h uint64) *Shard[K, V, X] { return &s.shards[h&s.mask] }

// Len is the number of shards.
func (s *Sharded[K, V, X]) Len() int { return len(s.shards) }

// At returns shard i, for walks over the whole table: 0 <= i < Len().
func (s *Sharded[K, V, X]) At(i int) *Shard[K, V, X] { return &s.shards[i] }
