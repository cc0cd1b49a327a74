package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/cmd/internal/cli"
)

const workload = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: example.com/web:1
        ports:
        - {name: http, containerPort: 8081}
`

// TestInjectErrors: bad input and bad flags are one clear usage error
// (exit status 2), and nothing is written to stdout.
func TestInjectErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		args  []string
		want  string
	}{
		{name: "bad YAML", input: "apiVersion: v1\nkind: [Pod\n", args: []string{"-port", "http"},
			want: "document 1: line 2: did not find expected ',' or ']'"},
		{name: "bad YAML in a later document", input: workload + "---\nkind: Service\n  name: x\n", args: []string{"-port", "http"},
			want: "document 2: line 19: mapping values are not allowed in this context"},
		{name: "duplicate key", input: "apiVersion: v1\nkind: Pod\nkind: Service\n", args: []string{"-port", "http"},
			want: `document 1: unmarshal errors: line 3: key "kind" already set in map`},
		{name: "not an object", input: "- a\n- b\n", args: []string{"-port", "http"},
			want: "document 1, line 1: not a Kubernetes object (a YAML mapping with apiVersion and kind)"},
		{name: "no kind", input: "apiVersion: v1\nmetadata: {name: x}\n", args: []string{"-port", "http"},
			want: "document 1, line 1: not a Kubernetes object: no apiVersion or kind"},
		{name: "missing port", input: workload, args: []string{"-port", "media"},
			want: `no workload declares container port "media": Deployment/web (document 1, line 1): no container port "media" (container ports: web:8081/http)`},
		{name: "missing port number", input: workload, args: []string{"-port", "80"},
			want: `no container port "80" (container ports: web:8081/http)`},
		{name: "no workload", input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", args: []string{"-port", "http"},
			want: "no workload to inject: the input has no Deployment, StatefulSet, DaemonSet, ReplicaSet or Pod"},
		{name: "empty input", input: "", args: []string{"-port", "http"},
			want: "no workload to inject"},
		{name: "no -port", input: workload, args: nil,
			want: "invalid value for flag -port: required"},
		{name: "port collision", input: strings.Replace(workload, "8081", "15080", 1), args: []string{"-port", "http"},
			want: `Deployment/web (document 1, line 1): container "web" uses port 15080, streamgate's proxy port; choose another with -proxy-port`},
		{name: "port collision with a chosen port", input: strings.Replace(workload, "8081", "8080", 1), args: []string{"-port", "http", "-proxy-port", "8080"},
			want: `Deployment/web (document 1, line 1): container "web" uses port 8080, streamgate's proxy port; choose another with -proxy-port`},
		{name: "admin token in the pod spec", input: workload, args: []string{"-port", "http", "-admin-token", "s3cret"},
			want: `for flag -admin-token: not passed to the sidecar: a token in the pod spec is readable by whoever can read the pod; use -admin-token-secret`},
		{name: "admin token secret without a name", input: workload, args: []string{"-port", "http", "-admin-token-secret", "/token"},
			want: `invalid value for flag -admin-token-secret: "/token": want a Secret name, or name/key`},
		{name: "UDP port", input: strings.Replace(workload, "containerPort: 8081}", "containerPort: 8081, protocol: UDP}", 1), args: []string{"-port", "http"},
			want: `container "web" port 8081/http is UDP; streamgate proxies HTTP over TCP`},
		{name: "container named streamgate", input: strings.Replace(workload, "- name: web\n", "- name: streamgate\n", 1), args: []string{"-port", "http"},
			want: `the pod already has a container named "streamgate" that is not a streamgate sidecar`},
		{name: "no template", input: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {}\n", args: []string{"-port", "http"},
			want: "Deployment/x (document 1, line 1): no pod template at spec.template"},
		{name: "wrong type", input: strings.Replace(workload, "containerPort: 8081", "containerPort: eighty", 1), args: []string{"-port", "http"},
			want: "Deployment/web (document 1, line 1): decoding the pod: json: cannot unmarshal string into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32"},
		{name: "content after separator", input: workload + "--- {kind: Pod}\n", args: []string{"-port", "http"},
			want: `line 17: content after the document separator "---" is not supported`},
		{name: "reserved flag", input: workload, args: []string{"-port", "http", "-upstream", "http://x"},
			want: `invalid value "http://x" for flag -upstream: not passed to the sidecar`},
		{name: "bad pass-through value", input: workload, args: []string{"-port", "http", "-session-ttl", "soon"},
			want: `invalid value "soon" for flag -session-ttl: not a duration`},
		{name: "pass-through check", input: workload, args: []string{"-port", "http", "-max-streams", "0"},
			want: "invalid value for flag -max-streams: must be greater than zero"},
		{name: "store twice", input: workload, args: []string{"-port", "http", "-store", "redis://r:6379", "-store-secret", "redis"},
			want: "give -store or -store-secret, not both"},
		{name: "state file with a Redis secret", input: workload, args: []string{"-port", "http", "-state-file", "/x", "-store-secret", "redis"},
			want: "invalid value for flag -state-file"},
		{name: "same ports", input: workload, args: []string{"-port", "http", "-proxy-port", "9000", "-admin-port", "9000"},
			want: "invalid value for flag -admin-port: 9000 is the -proxy-port too"},
		{name: "bad quantity", input: workload, args: []string{"-port", "http", "-memory-limit", "lots"},
			want: `invalid value for flag -memory-limit: "lots" is not a positive quantity`},
		{name: "pre-stop fraction", input: workload, args: []string{"-port", "http", "-pre-stop", "1500ms"},
			want: "invalid value for flag -pre-stop: 1.5s: want a whole number of seconds"},
		{name: "missing file", input: "", args: []string{"-port", "http", "/nonexistent/deploy.yaml"},
			want: "reading /nonexistent/deploy.yaml: open /nonexistent/deploy.yaml: no such file or directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			err := runInjectCommand(tc.args, strings.NewReader(tc.input), &out, &errOut, "test")
			require.Error(t, err)
			assert.True(t, cli.IsUsage(err), "want a usage error, got %T", err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, out.String())
		})
	}
}

func TestInjectHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, runInjectCommand([]string{"-help"}, strings.NewReader(""), &out, &bytes.Buffer{}, "v1.2.3"))
	assert.Contains(t, out.String(), "Usage: streamgate inject")
	assert.Contains(t, out.String(), `the sidecar's image (default "ghcr.io/streamgate/streamgate:v1.2.3")`)
	assert.Contains(t, out.String(), "passed to the sidecar: concurrent playback sessions per user (sidecar default 3)")
}

// TestInjectWritesNothingOnError: a stream with one bad document yields no
// partial output, so `inject | kubectl apply` applies nothing.
func TestInjectWritesNothingOnError(t *testing.T) {
	t.Parallel()
	input, err := os.ReadFile(filepath.Join("testdata", "inject", "deployment.in.yaml"))
	require.NoError(t, err)
	var out bytes.Buffer
	err = runInjectCommand([]string{"-port", "http"}, bytes.NewReader(append(input, "---\n{bad\n"...)), &out, &bytes.Buffer{}, "test")
	require.Error(t, err)
	assert.Empty(t, out.String())
}
