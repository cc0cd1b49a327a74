package limiter_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/limitertest"
)

func TestShardCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                          string
		capacity, minPerShard, maxAll int
		want                          int
	}{
		{"a large table takes every shard", 1_000_000, 1024, 64, 64},
		{"halved until each shard holds the minimum", 10_000, 1024, 64, 8},
		{"a tiny table is one shard", 10, 1024, 64, 1},
		{"no minimum", 0, 0, 16, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, limiter.ShardCount(tt.capacity, tt.minPerShard, tt.maxAll))
		})
	}
}

func TestSharded(t *testing.T) {
	t.Parallel()
	_, err := limiter.NewSharded[string, int, struct{}](3, 10, nil)
	require.Error(t, err, "3 shards cannot be picked by a mask")
	_, err = limiter.NewSharded[string, int, struct{}](4, 0, nil)
	require.Error(t, err, "an LRU of size 0")

	var evicted []string
	s, err := limiter.NewSharded[string, int, []string](4, 2, func(k string, _ int) { evicted = append(evicted, k) })
	require.NoError(t, err)
	require.Equal(t, 4, s.Len())
	assert.Same(t, s.At(1), s.For(1), "a hash picks its shard by the low bits")
	assert.Same(t, s.At(1), s.For(5))
	sh := s.For(2)
	sh.Lock()
	for i := range 3 {
		sh.LRU.Add("k"+strconv.Itoa(i), i)
	}
	sh.Extra = append(sh.Extra, "state beside the LRU")
	sh.Unlock()
	assert.Equal(t, []string{"k0"}, evicted, "each shard holds perShard entries, least recently used out first")
	assert.Equal(t, 2, s.At(2).LRU.Len())
	assert.Zero(t, s.At(0).LRU.Len(), "shards are independent")
	assert.Equal(t, []string{"state beside the LRU"}, s.At(2).Extra)

	// One lock per shard: writers to every shard at once, under -race.
	r, err := limiter.NewSharded[string, int, struct{}](4, 8, nil)
	require.NoError(t, err)
	wins := limitertest.Race(64, func(i int) bool {
		sh := r.For(uint64(i))
		sh.Lock()
		defer sh.Unlock()
		sh.LRU.Add("r"+strconv.Itoa(i), i)
		return true
	})
	assert.Equal(t, 64, wins)
}
