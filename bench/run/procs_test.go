package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseStatm(t *testing.T) {
	// size resident shared text lib data dt, in pages.
	r, shared, ok := parseStatm("310243 7812 2611 1231 0 30712 0\n")
	assert.True(t, ok)
	assert.Equal(t, int64(7812), r)
	assert.Equal(t, int64(2611), shared)

	_, _, ok = parseStatm("310243 7812")
	assert.False(t, ok, "a statm without its shared field")
	_, _, ok = parseStatm("310243 x 2611")
	assert.False(t, ok, "a field that is no number")
}
