package main

import (
	"bytes"
	"strconv"
	"strings"
)

// gcCPU sums the collector's CPU time, in ms, over the GODEBUG=gctrace=1
// lines in out, and counts the cycles. A line reads
//
//	gc 79 @10.642s 1%: 0.11+17+0.004 ms clock, 0.11+1.4/4.8/0+0.004 ms cpu, 18->18->9 MB, 19 MB goal, …
//
// and its CPU is the stop-the-world sweep termination, the mark's assist,
// background and idle parts, and the mark termination, as gctrace reports
// them: the stop-the-world parts are their wall time times GOMAXPROCS (one
// here, so their CPU), and sweeping, done a span at a time by allocations
// and a background worker, is not in them.
func gcCPU(out []byte) (ms float64, cycles int) {
	for len(out) > 0 {
		line := out
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			line, out = out[:i], out[i+1:]
		} else {
			out = nil
		}
		if v, ok := cycleCPU(string(line)); ok {
			ms += v
			cycles++
		}
	}
	return ms, cycles
}

// cycleCPU is the CPU of one gctrace line, false for any other line.
func cycleCPU(line string) (float64, bool) {
	if !strings.HasPrefix(line, "gc ") {
		return 0, false
	}
	_, rest, ok := strings.Cut(line, " ms clock, ")
	if !ok {
		return 0, false
	}
	cpu, _, ok := strings.Cut(rest, " ms cpu")
	if !ok {
		return 0, false
	}
	sum := 0.0
	for _, f := range strings.FieldsFunc(cpu, func(r rune) bool { return r == '+' || r == '/' }) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return 0, false
		}
		sum += v
	}
	return sum, true
}
