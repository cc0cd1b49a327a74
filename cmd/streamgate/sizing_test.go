package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter/limitertest"
	"github.com/streamgate/streamgate/proxy/proxytest"
)

// startupLine runs streamgate with env and args until it listens, stops it,
// and returns its "go runtime" log line.
func startupLine(t *testing.T, env map[string]string, args ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &limitertest.SyncBuffer{}
	args = append([]string{"-demo", "-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0"}, args...)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(k string) string { return env[k] }, &bytes.Buffer{}, logs) }()
	require.Eventually(t, func() bool {
		_, ok := logLine(logs.String(), "streamgate listening")
		return ok
	}, 10*time.Second, 5*time.Millisecond, "no listening line:\n%s", logs.String())
	cancel()
	require.NoError(t, <-done)
	line, ok := logLine(logs.String(), "go runtime")
	require.True(t, ok, logs.String())
	return line
}

// withCgroupLimit points the cgroup reader at a file holding limit and
// puts the process's own memory limit back afterwards. Not parallel: both
// are process-wide.
func withCgroupLimit(t *testing.T, limit string) {
	t.Helper()
	file := proxytest.WriteFile(t, "memory.max", []byte(limit+"\n"))
	prevFiles, prevLimit := cgroupMemoryFiles, debug.SetMemoryLimit(-1)
	cgroupMemoryFiles = []string{file}
	t.Cleanup(func() {
		cgroupMemoryFiles = prevFiles
		debug.SetMemoryLimit(prevLimit)
	})
}

// TestMaxUsersFollowsTheMemoryLimit: without -max-users, the table gets as
// many users as fill half the memory limit at bytesPerUser, at most 1M,
// and the start-up line says so.
func TestMaxUsersFollowsTheMemoryLimit(t *testing.T) {
	tests := []struct {
		name    string
		cgroup  string
		env     map[string]string
		args    []string
		want    float64
		because string
	}{
		{name: "a 256Mi container", cgroup: "268435456", want: float64(268435456 * 9 / 10 / 2 / bytesPerUser),
			because: "half of the memory limit (90% of the container's memory limit"},
		{name: "GOMEMLIMIT wins over the container", cgroup: "268435456", env: map[string]string{"GOMEMLIMIT": "64MiB"},
			want: 64 << 20 / 2 / bytesPerUser, because: "half of the memory limit (GOMEMLIMIT, 67108864 bytes) at 512 bytes per user"},
		{name: "a large container keeps the 1M cap", cgroup: "68719476736", want: 1_000_000, because: "default: half of the memory limit"},
		{name: "no limit anywhere", cgroup: "max", want: 1_000_000, because: "default: no memory limit found"},
		{name: "given", cgroup: "268435456", args: []string{"-max-users", "5000"}, want: 5000, because: "given"},
		{name: "given by its variable", cgroup: "268435456", env: map[string]string{"STREAMGATE_MAX_USERS": "7000"}, want: 7000, because: "given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withCgroupLimit(t, tt.cgroup)
			line := startupLine(t, tt.env, tt.args...)
			assert.Equal(t, tt.want, line["max_users"])
			assert.Contains(t, line["max_users_from"], tt.because)
		})
	}
}

func TestParseGoMemLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"536870912", 536870912, true},
		{"512MiB", 512 << 20, true},
		{"2GiB", 2 << 30, true},
		{"100B", 100, true},
		{"8KiB", 8 << 10, true},
		{"1TiB", 1 << 40, true},
		{"off", 0, false},
		{"lots", 0, false},
		{"-5MiB", 0, false},
		{"99999999999TiB", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, ok := parseGoMemLimit(tt.in)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestBadStartupValueIsTheOnlyLine: a flag value found bad while the
// process starts (a key file, a state file directory) is the one line on
// stderr, with exit status 2; nothing is logged before it.
func TestBadStartupValueIsTheOnlyLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notKeys := filepath.Join(dir, "keys.json")
	require.NoError(t, os.WriteFile(notKeys, []byte("not a key"), 0o600))
	state := filepath.Join(dir, "state.jsonl")
	require.NoError(t, os.WriteFile(state, []byte(`{"version":1}`+"\n"), 0o600))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "bad -jwt-keys", args: []string{"-identity", "jwt", "-jwt-keys", notKeys}, want: "-jwt-keys"},
		{name: "bad -jwt-keys with a state file to restore", args: []string{"-identity", "jwt", "-jwt-keys", notKeys, "-state-file", state}, want: "-jwt-keys"},
		{name: "missing -jwt-keys file", args: []string{"-identity", "jwt", "-jwt-keys", filepath.Join(dir, "nope.pem")}, want: "-jwt-keys"},
		{name: "state file directory missing", args: []string{"-state-file", filepath.Join(dir, "missing", "state.jsonl")}, want: "-state-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			args := append([]string{"-demo", "-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0"}, tt.args...)
			err := run(context.Background(), args, func(string) string { return "" }, &bytes.Buffer{}, &stderr)
			assert.Equal(t, 2, exitCode(err, &stderr))
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			require.Len(t, lines, 1, "one line, no log before it: %q", stderr.String())
			assert.True(t, strings.HasPrefix(lines[0], "streamgate: "), lines[0])
			assert.Contains(t, lines[0], tt.want)
		})
	}
}
