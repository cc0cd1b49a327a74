package limiter

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestBoundFieldRoundTrips checks the name Redis gives a session bound to a
// network against its reading, which Guard's local table applies renewals by.
func TestBoundFieldRoundTrips(t *testing.T) {
	for _, n := range []Network{1, 0xabcdef, 6<<60 | 0x20010db8} {
		id, got, ok := splitBoundField(boundField("tv-1", n))
		assert.True(t, ok)
		assert.Equal(t, "tv-1", id)
		assert.Equal(t, n, got)
	}
	id, n, ok := splitBoundField("tv-1")
	assert.True(t, ok, "a session bound to no network")
	assert.Equal(t, "tv-1", id)
	assert.Zero(t, n)
	_, _, ok = splitBoundField("tv-1\tnot-hex")
	assert.False(t, ok)
}
