package main

import (
	"context"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMemoryLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		want  int64
		found bool
	}{
		{"cgroup v2 limit", "536870912\n", 536870912, true},
		{"cgroup v2 none", "max\n", 0, false},
		{"cgroup v1 none", "9223372036854771712\n", 0, false},
		{"cgroup v1 limit", "268435456", 268435456, true},
		{"garbage", "lots", 0, false},
		{"empty", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := parseMemoryLimit(tt.in)
			assert.Equal(t, tt.found, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestDefaultGOGC: a higher GOGC only where a memory limit bounds the heap;
// an operator's GOGC is never overridden.
func TestDefaultGOGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	assert.Equal(t, 200, defaultGCPercent(0), "no limit: 200, for the collector's CPU")
	assert.Equal(t, limitedGCPercent, defaultGCPercent(256<<20))

	env := map[string]string{"GOMEMLIMIT": "256MiB"}
	rt := tuneGC(func(k string) string { return env[k] })
	assert.Equal(t, "400", rt.gcPercent, "GOMEMLIMIT bounds the heap")
	assert.Equal(t, 400, debug.SetGCPercent(100), "and the runtime runs with it")

	env["GOGC"] = "50"
	rt = tuneGC(func(k string) string { return env[k] })
	assert.Equal(t, "50", rt.gcPercent, "the operator's GOGC stands")
	assert.Equal(t, 100, debug.SetGCPercent(100), "and is left to the runtime")
}

// TestFollowTableLeavesRoomForTheTable: the Go runtime's memory limit is
// the limit less what the memory table holds out of Go's heap, follows the
// table as it grows, and keeps a quarter of the limit for the heap when
// the table outgrows its reckoning.
func TestFollowTableLeavesRoomForTheTable(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	assert.Equal(t, int64(700), goMemoryLimit(1000, 300))
	assert.Equal(t, int64(250), goMemoryLimit(1000, 900), "a quarter at least")

	const limit = 1 << 30
	var table atomic.Int64
	table.Store(100 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		followTable(ctx, limit, table.Load, time.Millisecond)
	}()
	current := func() int64 { return debug.SetMemoryLimit(-1) }
	require.Eventually(t, func() bool { return current() == limit-100<<20 }, 5*time.Second, time.Millisecond)
	table.Store(300 << 20)
	require.Eventually(t, func() bool { return current() == limit-300<<20 }, 5*time.Second, time.Millisecond,
		"the limit follows the table")
	cancel()
	<-done
}
