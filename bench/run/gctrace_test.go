package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGCCPU(t *testing.T) {
	t.Parallel()
	out := []byte(`{"level":"WARN","msg":"gc 1 is not a trace line"}
gc 79 @10.642s 1%: 0.11+17+0.004 ms clock, 0.11+1.4/4.8/0+0.004 ms cpu, 18->18->9 MB, 19 MB goal, 0 MB stacks, 0 MB globals, 1 P
a line the access log cut: gc 80 @1s 1%: 1+1+1 ms clock, 1+1/1/1+1 ms cpu
gc 80 @10.873s 1%: 0.053+9.3+0.004 ms clock, 0.053+0.76/2.7/1.4+0.004 ms cpu, 19->19->9 MB, 19 MB goal, 0 MB stacks, 0 MB globals, 1 P
gc 81 @11.000s 1%: 0.05+9.3+0.004 ms clock, 0.05+x/2.7/1.4+0.004 ms cpu, 19->19->9 MB, 19 MB goal, 1 P
`)
	ms, cycles := gcCPU(out)
	assert.Equal(t, 2, cycles, "the two whole trace lines")
	assert.InDelta(t, 0.11+1.4+4.8+0+0.004+0.053+0.76+2.7+1.4+0.004, ms, 1e-9)
}

// TestGCCPUPastLongLines: an access-log line of any length does not end the
// count, nor does a last line without its newline.
func TestGCCPUPastLongLines(t *testing.T) {
	t.Parallel()
	out := append(bytes.Repeat([]byte("x"), 2<<20), "\ngc 1 @0.1s 1%: 0+1+0 ms clock, 0.5+1/2/0+0.5 ms cpu, 4->4->1 MB, 4 MB goal, 1 P"...)
	ms, cycles := gcCPU(out)
	assert.Equal(t, 1, cycles)
	assert.InDelta(t, 4.0, ms, 1e-9)
}

func TestGoEnvKeepsTheTrace(t *testing.T) {
	t.Parallel()
	e := env{extraEnv: []string{"GOGC=50", "GODEBUG=madvdontneed=1"}}
	assert.Equal(t, []string{"GOMAXPROCS=1", "GODEBUG=gctrace=1,madvdontneed=1", "GOGC=50"}, e.goEnv())
}
