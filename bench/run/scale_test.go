package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestScaleLineReadsTheBenchmark: the line BenchmarkScale prints, its
// metrics in the order testing sorts them, gives the size, the time and
// the memory per session.
func TestScaleLineReadsTheBenchmark(t *testing.T) {
	line := "BenchmarkScale/sessions=1000000-2   \t 2000000\t       551.2 ns/op\t       298.4 B/session\t        62.27 goheapB/session\t       0 B/op\t       0 allocs/op"
	m := scaleLine.FindStringSubmatch(line)
	require.NotNil(t, m)
	assert.Equal(t, []string{"1000000", "551.2", "298.4"}, m[1:])
}
