package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateInject = flag.Bool("update", false, "rewrite the golden files of streamgate inject")

// goldenCases are the inputs of testdata/inject, each with the flags it is
// injected with; NAME.golden.yaml holds the expected output.
var goldenCases = []struct {
	name   string
	input  string
	args   []string
	stderr []string // lines the report must contain
}{
	{
		name:   "deployment",
		input:  "deployment.in.yaml",
		args:   []string{"-port", "http", "-image", "ghcr.io/streamgate/streamgate:v1.0.0", "-max-streams", "2", "-session-ttl=90s"},
		stderr: []string{`injected Deployment/vod-origin (document 1, line 1) (in front of container "nginx" port 8081/http)`, "retargeted Service/vod-origin (document 2, line 34) port 80/http to streamgate"},
	},
	{
		name:   "statefulset",
		input:  "statefulset.in.yaml",
		args:   []string{"-port", "8081", "-image", "ghcr.io/streamgate/streamgate:v1.0.0", "-shutdown-timeout", "2m"},
		stderr: []string{"retargeted Service/live-packager (document 2, line 34) port 8081/hls to streamgate"},
	},
	{
		name:   "daemonset",
		input:  "daemonset.in.yaml",
		args:   []string{"-port", "media", "-image", "ghcr.io/streamgate/streamgate:v1.0.0", "-pre-stop", "10s", "-memory-limit", "1Gi"},
		stderr: []string{`warning: DaemonSet/edge-cache (document 1, line 1): annotation prometheus.io/port was "9145" and is now "15090"`},
	},
	{
		name:  "pod",
		input: "pod.in.yaml",
		args: []string{"-port", "http", "-image", "ghcr.io/streamgate/streamgate:v1.0.0", "-store-secret", "streamgate-redis",
			"-store-failure", "local", "-proxy-port", "8480", "-admin-port", "8490"},
		stderr: []string{`injected Pod/origin-debug (document 1, line 1) (in front of container "origin" port 8088/media)`},
	},
	{
		name:   "list-json",
		input:  "list.in.json",
		args:   []string{"-port", "http", "-image", "ghcr.io/streamgate/streamgate:v1.0.0"},
		stderr: []string{"retargeted Service/dash-origin (document 1, line 1, item 1) port 80 to streamgate"},
	},
	{
		name:  "list-yaml",
		input: "list.in.yaml",
		args:  []string{"-port", "http", "-image", "ghcr.io/streamgate/streamgate:v1.0.0"},
	},
	{
		name:  "multi",
		input: "multi.in.yaml",
		args: []string{"-port", "http", "-image", "ghcr.io/streamgate/streamgate:v1.0.0", "-store-secret", "redis/url",
			"-admin-token-secret", "streamgate-admin/bearer"},
		stderr: []string{
			`skipped Deployment/redis (document 3, line 25): no container port "http" (container ports: redis:6379/redis)`,
			"retargeted Service/origin (document 6, line 67) port 80 to streamgate",
		},
	},
	{
		name:   "port8080",
		input:  "port8080.in.yaml",
		args:   []string{"-port", "http", "-image", "ghcr.io/streamgate/streamgate:v1.0.0", "-admin-token-secret", "streamgate-admin"},
		stderr: []string{`injected Deployment/web-origin (document 1, line 1) (in front of container "web" port 8080/http)`},
	},
	{
		name:   "optout",
		input:  "optout.in.yaml",
		args:   []string{"-port", "http", "-image", "ghcr.io/streamgate/streamgate:v1.0.0"},
		stderr: []string{`skipped Deployment/admin-ui (document 1, line 1): annotated streamgate.io/inject: "false"`},
	},
}

func runInject(t *testing.T, input []byte, args ...string) ([]byte, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runInjectCommand(args, bytes.NewReader(input), &out, &errOut, "test")
	require.NoError(t, err, "stderr: %s", errOut.String())
	return out.Bytes(), errOut.String()
}

func TestInjectGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			input, err := os.ReadFile(filepath.Join("testdata", "inject", tc.input))
			require.NoError(t, err)
			got, report := runInject(t, input, tc.args...)
			golden := filepath.Join("testdata", "inject", tc.name+".golden.yaml")
			if *updateInject {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
			for _, line := range tc.stderr {
				assert.Contains(t, report, line)
			}
		})
	}
}

// TestInjectIdempotent injects every golden output again: nothing changes,
// byte for byte.
func TestInjectIdempotent(t *testing.T) {
	t.Parallel()
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			once, err := os.ReadFile(filepath.Join("testdata", "inject", tc.name+".golden.yaml"))
			require.NoError(t, err)
			twice, _ := runInject(t, once, tc.args...)
			assert.Equal(t, string(once), string(twice))
		})
	}
}

// TestInjectReplacesSidecar injects with other flags over an injected
// workload: the result is what injecting the original with those flags gives.
func TestInjectReplacesSidecar(t *testing.T) {
	t.Parallel()
	input, err := os.ReadFile(filepath.Join("testdata", "inject", "deployment.in.yaml"))
	require.NoError(t, err)
	first, _ := runInject(t, input, "-port", "http", "-image", "ghcr.io/streamgate/streamgate:v0.9.0", "-max-streams", "5", "-store-secret", "old")
	again, _ := runInject(t, first, "-port", "http", "-image", "ghcr.io/streamgate/streamgate:v1.0.0", "-max-streams", "2")
	direct, _ := runInject(t, input, "-port", "http", "-image", "ghcr.io/streamgate/streamgate:v1.0.0", "-max-streams", "2")
	assert.Equal(t, string(direct), string(again))
	assert.NotContains(t, string(again), "v0.9.0")
	assert.NotContains(t, string(again), "STREAMGATE_STORE")
}

// TestInjectLeavesOtherDocumentsAlone checks, document by document, that
// only the injected workload and its Service changed, byte for byte.
func TestInjectLeavesOtherDocumentsAlone(t *testing.T) {
	t.Parallel()
	input, err := os.ReadFile(filepath.Join("testdata", "inject", "multi.in.yaml"))
	require.NoError(t, err)
	out, _ := runInject(t, input, "-port", "http")
	in, got := splitOnSeparators(string(input)), splitOnSeparators(string(out))
	require.Len(t, got, len(in))
	changed := map[int]bool{1: true, 5: true} // the origin Deployment and its Service
	for i := range in {
		if changed[i] {
			assert.NotEqual(t, in[i], got[i], "document %d should be injected", i+1)
			continue
		}
		assert.Equal(t, in[i], got[i], "document %d", i+1)
	}
}

func splitOnSeparators(s string) []string {
	var docs []string
	cur := ""
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.HasPrefix(line, "---") {
			docs = append(docs, cur)
			cur = ""
		}
		cur += line
	}
	return append(docs, cur)
}

func TestInjectFromFilesAndStdin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dep, err := os.ReadFile(filepath.Join("testdata", "inject", "deployment.in.yaml"))
	require.NoError(t, err)
	// The Service and ConfigMap given on stdin, the Deployment in a file, flags after the file.
	depOnly, rest, ok := strings.Cut(string(dep), "---\n")
	require.True(t, ok)
	file := filepath.Join(dir, "dep.yaml")
	require.NoError(t, os.WriteFile(file, []byte(depOnly), 0o600))

	var out, errOut bytes.Buffer
	err = runInjectCommand([]string{file, "-", "-port", "http", "-image", "ghcr.io/streamgate/streamgate:v1.0.0", "-max-streams", "2", "-session-ttl=90s"},
		strings.NewReader(rest), &out, &errOut, "test")
	require.NoError(t, err, errOut.String())
	want, err := os.ReadFile(filepath.Join("testdata", "inject", "deployment.golden.yaml"))
	require.NoError(t, err)
	assert.Equal(t, string(want), out.String())
}
