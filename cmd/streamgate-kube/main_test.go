package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/streamgate/streamgate/cmd/internal/cli"
)

// TestMain fails the package when a test leaves a goroutine behind: a
// webhook server or a certificate reload not stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		status int
		stdout string
		stderr string
	}{
		{name: "no command", args: nil, status: 2, stderr: "streamgate-kube: a command is needed: inject or webhook\n"},
		{name: "unknown command", args: []string{"status"}, status: 2, stderr: "streamgate-kube: unknown command \"status\": want inject or webhook\n"},
		{name: "help", args: []string{"-help"}, stdout: "  inject    adds the streamgate sidecar to Kubernetes YAML\n"},
		{name: "version", args: []string{"-version"}, stdout: "streamgate-kube dev ("},
		{name: "a command's help", args: []string{"inject", "-help"}, stdout: "Usage: streamgate inject [flags] [FILE ...]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr)
			assert.Equal(t, tc.status, cli.ExitCode("streamgate-kube", err, &stderr))
			assert.Contains(t, stdout.String(), tc.stdout)
			assert.Equal(t, tc.stderr, stderr.String())
		})
	}
}
