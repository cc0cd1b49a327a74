package main

import (
	"bufio"
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
// background and idle parts, and the mark termination: every part of a
// cycle that the process's CPU time counts.
func gcCPU(out []byte) (ms float64, cycles int) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "gc ") {
			continue
		}
		_, rest, ok := strings.Cut(line, " ms clock, ")
		if !ok {
			continue
		}
		cpu, _, ok := strings.Cut(rest, " ms cpu")
		if !ok {
			continue
		}
		sum, ok := 0.0, true
		for _, f := range strings.FieldsFunc(cpu, func(r rune) bool { return r == '+' || r == '/' }) {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				ok = false
				break
			}
			sum += v
		}
		if ok {
			ms += sum
			cycles++
		}
	}
	return ms, cycles
}
