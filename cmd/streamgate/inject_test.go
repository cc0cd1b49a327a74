package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const injectInput = `apiVersion: v1
kind: Pod
metadata:
  name: origin
spec:
  containers:
  - name: origin
    image: example.com/origin:1
    ports:
    - {name: http, containerPort: 8081}
`

// TestInjectSubcommand runs streamgate inject through run, as main does:
// output on stdout and status 0, or one error line and status 2.
func TestInjectSubcommand(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "pod.yaml")
	require.NoError(t, os.WriteFile(file, []byte(injectInput), 0o600))
	tests := []struct {
		name   string
		args   []string
		status int
		stdout string
		stderr string
	}{
		{name: "injected", args: []string{"inject", "-port", "http", "-max-streams", "2", file}, status: 0,
			stdout: "- -max-streams=2\n", stderr: `injected Pod/origin (document 1, line 1) (in front of container "origin" port 8081/http)`},
		{name: "missing port", args: []string{"inject", "-port", "media", file}, status: 2,
			stderr: `streamgate: no workload declares container port "media"`},
		{name: "bad flag", args: []string{"inject", "-port", "http", "-max-streams", "many", file}, status: 2,
			stderr: `streamgate: invalid value "many" for flag -max-streams`},
		{name: "webhook without TLS", args: []string{"webhook"}, status: 2,
			stderr: "streamgate: flags -tls-cert and -tls-key are required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, func(string) string { return "" }, &stdout, &stderr)
			assert.Equal(t, tc.status, exitCode(err, &stderr))
			assert.Contains(t, stdout.String(), tc.stdout)
			assert.Contains(t, stderr.String(), tc.stderr)
			if tc.status != 0 {
				assert.Empty(t, stdout.String())
				assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "one line: %q", stderr.String())
			}
		})
	}
}
