package main

import (
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
