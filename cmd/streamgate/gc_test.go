package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
