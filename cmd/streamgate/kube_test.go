package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter/redistest"
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

// kubeOnPath builds streamgate-kube into a directory of its own and makes
// that directory the whole PATH, so that streamgate finds it as it would
// once installed; with gate, streamgate too, beside it, as make build puts
// them. It returns the directory.
func kubeOnPath(t *testing.T, gate bool) string {
	t.Helper()
	dir := t.TempDir()
	pkgs := []string{"github.com/streamgate/streamgate/cmd/streamgate-kube"}
	if gate {
		pkgs = append(pkgs, "github.com/streamgate/streamgate/cmd/streamgate")
	}
	build := exec.Command("go", append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)...)
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Setenv("PATH", dir)
	return dir
}

// TestKubeCommands runs streamgate inject and webhook through run, as main
// does: streamgate-kube's output, its status, and its errors under
// streamgate's name, one line each.
func TestKubeCommands(t *testing.T) {
	kubeOnPath(t, false)
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
		{name: "from stdin", args: []string{"inject", "-port", "http"}, status: 0, stdout: "- -upstream=http://127.0.0.1:8081\n"},
		{name: "missing port", args: []string{"inject", "-port", "media", file}, status: 2,
			stderr: `streamgate: no workload declares container port "media"`},
		{name: "bad flag", args: []string{"inject", "-port", "http", "-max-streams", "many", file}, status: 2,
			stderr: `streamgate: invalid value "many" for flag -max-streams`},
		{name: "webhook without TLS", args: []string{"webhook"}, status: 2,
			stderr: "streamgate: flags -tls-cert and -tls-key are required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := commands[tc.args[0]](context.Background(), tc.args[1:], nil, strings.NewReader(injectInput), &stdout, &stderr)
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

// TestKubeCommandMissing: without streamgate-kube, streamgate inject says
// where to get it, once, with status 1.
func TestKubeCommandMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"inject", "-port", "http"}, func(string) string { return "" }, &stdout, &stderr)
	assert.Equal(t, 1, exitCode(err, &stderr))
	assert.Equal(t, "streamgate: this command is streamgate-kube's, which is neither next to streamgate nor on PATH "+
		"(make build puts both in bin/; go install github.com/streamgate/streamgate/cmd/streamgate-kube@latest)\n", stderr.String())
	assert.Empty(t, stdout.String())
}

// TestKubeCommandKilledBySignal: when a signal kills streamgate-kube (here
// SIGPIPE, its output's reader gone, as in `streamgate inject -help | head
// -1`), streamgate exits as a shell reports such a death, 128 + the
// signal's number, and adds no line of its own.
func TestKubeCommandKilledBySignal(t *testing.T) {
	kubeOnPath(t, false)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	require.NoError(t, r.Close())
	defer w.Close()
	var stderr bytes.Buffer
	err = commands["inject"](context.Background(), []string{"-help"}, nil, strings.NewReader(""), w, &stderr)
	assert.Equal(t, 128+int(syscall.SIGPIPE), exitCode(err, &stderr))
	assert.Empty(t, stderr.String())
}

// TestWebhookDrainsOnSIGTERM: the SIGTERM that ends streamgate webhook (its
// context) reaches streamgate-kube, which drains and exits 0.
func TestWebhookDrainsOnSIGTERM(t *testing.T) {
	kubeOnPath(t, false)
	addr, certFile, keyFile := webhookArgs(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer // read only once the command has returned
	var runErr error
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		runErr = commands["webhook"](ctx, []string{"-listen", addr, "-tls-cert", certFile, "-tls-key", keyFile},
			nil, strings.NewReader(""), &bytes.Buffer{}, &stderr)
	}()
	t.Cleanup(func() { cancel(); <-finished })
	waitHealthy(t, addr)

	cancel()
	select {
	case <-finished:
		require.NoError(t, runErr)
	case <-time.After(time.Minute):
		t.Fatal("streamgate webhook did not return after its context ended")
	}
	assert.Contains(t, stderr.String(), `"msg":"webhook draining"`)
	assert.Contains(t, stderr.String(), `"msg":"webhook stopped"`)
}

// webhookArgs are a free loopback address and a certificate for it.
func webhookArgs(t *testing.T) (addr, certFile, keyFile string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr = ln.Addr().String()
	require.NoError(t, ln.Close())
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	redistest.SelfSignedCert(t, certFile, keyFile, 1)
	return addr, certFile, keyFile
}

// waitHealthy waits for the webhook at addr to answer /healthz.
func waitHealthy(t *testing.T, addr string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}} //nolint:gosec // a certificate made for the test
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		resp, err := client.Get("https://" + addr + "/healthz")
		if !assert.NoError(c, err) {
			return
		}
		resp.Body.Close()
		assert.Equal(c, http.StatusOK, resp.StatusCode)
	}, 30*time.Second, 50*time.Millisecond, "streamgate webhook never served")
}

// TestGateLinksNoKubernetesTypes keeps the Kubernetes API types out of the
// sidecar's binary: their initialisers alone kept 3.5 MiB of its pages
// resident. Only streamgate-kube may import deploy/inject.
func TestGateLinksNoKubernetesTypes(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/streamgate/streamgate/cmd/streamgate").Output()
	require.NoError(t, err)
	for _, pkg := range strings.Fields(string(out)) {
		assert.False(t, strings.HasPrefix(pkg, "k8s.io/") || strings.HasPrefix(pkg, "sigs.k8s.io/") ||
			pkg == "github.com/streamgate/streamgate/deploy/inject", "streamgate links %s", pkg)
	}
}
