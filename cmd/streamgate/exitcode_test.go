package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExitCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stderr []string // each must appear in stderr, which has one line per entry
		stdout string
	}{
		{name: "a bad value", args: []string{"-demo", "-max-streams", "many"}, code: 2, stderr: []string{"-max-streams"}},
		{name: "a value out of range", args: []string{"-demo", "-session-ttl", "0s"}, code: 2, stderr: []string{"-session-ttl"}},
		{name: "an unknown flag", args: []string{"-demo", "-no-such-flag"}, code: 2, stderr: []string{"-no-such-flag"}},
		{name: "no upstream", args: nil, code: 2, stderr: []string{"-upstream"}},
		{name: "a bad variable", env: map[string]string{"STREAMGATE_STORE_FAILURE": "sometimes", "STREAMGATE_DEMO": "true"}, code: 2,
			stderr: []string{"-store-failure"}},
		{name: "several problems, one line each", args: []string{"-demo", "-max-streams", "0", "-log-format", "xml"}, code: 2,
			stderr: []string{"-max-streams", "-log-format"}},
		// The state file is read once the listeners are bound: on ports of
		// their own, so that a streamgate running on :8080 changes nothing.
		{name: "a state file in a missing directory", args: []string{"-demo", "-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0",
			"-state-file", "/nonexistent/streamgate/state.jsonl"}, code: 2, stderr: []string{"-state-file"}},
		{name: "closed on a store that cannot fail", args: []string{"-demo", "-store-failure", "closed"}, code: 2,
			stderr: []string{"-store-failure: closed needs a shared store"}},
		{name: "help", args: []string{"-help"}, code: 0, stdout: "-max-streams"},
		{name: "version", args: []string{"-version"}, code: 0, stdout: "streamgate "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			getenv := func(name string) string { return tt.env[name] }
			err := run(context.Background(), tt.args, getenv, &stdout, &stderr)
			assert.Equal(t, tt.code, exitCode(err, &stderr))
			if tt.stdout != "" {
				assert.Contains(t, stdout.String(), tt.stdout)
			}
			if tt.stderr == nil {
				assert.Empty(t, stderr.String())
				return
			}
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			require.Len(t, lines, len(tt.stderr), "one line per problem: %q", stderr.String())
			for i, want := range tt.stderr {
				assert.True(t, strings.HasPrefix(lines[i], "streamgate: "), lines[i])
				assert.Contains(t, lines[i], want)
			}
		})
	}
}

func TestExitCodeOfAListenerInUse(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	var stderr bytes.Buffer
	err = run(context.Background(), []string{"-demo", "-listen", taken.Addr().String(), "-admin-listen", "127.0.0.1:0"},
		func(string) string { return "" }, &bytes.Buffer{}, &stderr)
	assert.Equal(t, 1, exitCode(err, &stderr), "a failure at run time is not a usage error")
	assert.Contains(t, stderr.String(), "-listen")
}
