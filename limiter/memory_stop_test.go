package limiter

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestFreeStops: three per user and window; a window gone whole takes its
// users with it, with no scan; past maxFreeStops users in a window, a stop
// is not free.
func TestFreeStops(t *testing.T) {
	const w = 100
	var f freeStops
	for i := range 3 {
		assert.True(t, f.take("ivy", 10+int64(i), w), "stop %d", i+1)
	}
	assert.False(t, f.take("ivy", 50, w), "a fourth within the window")
	assert.True(t, f.take("june", 50, w), "another user's")
	assert.True(t, f.take("ivy", 111, w), "the window over")
	assert.Len(t, f.cur, 1, "turned: june's window, older, is in the old generation")
	assert.False(t, f.take("june", 120, w) && f.take("june", 121, w) && f.take("june", 122, w), "june's window counts from its old generation")
	f.take("kim", 400, w)
	assert.Nil(t, f.old, "two windows of silence drop both generations")
	assert.Len(t, f.cur, 1)

	var full freeStops
	for i := range maxFreeStops {
		full.take(strconv.Itoa(i), 1, w)
	}
	assert.False(t, full.take("one-more", 2, w), "past the bound, not free")
}
