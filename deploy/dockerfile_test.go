package deploy_test

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dockerfile returns the Dockerfile's instructions, one per entry, with
// comments dropped and continuation lines joined.
func dockerfile(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../Dockerfile")
	require.NoError(t, err)
	var out []string
	cur := ""
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		out = append(out, cur+line)
		cur = ""
	}
	return out
}

// TestDockerfileBuildsLikeMakeBuild: no Docker engine runs here, so the
// image's build step is held to the one CI runs: `make build`, expanded by
// make itself with a made-up version.
func TestDockerfileBuildsLikeMakeBuild(t *testing.T) {
	t.Parallel()
	makeTool, err := exec.LookPath("make")
	require.NoError(t, err, "make runs the README's commands")
	const version = "v0.0.0-dockerfile-test"
	out, err := exec.Command(makeTool, "-s", "-n", "-C", "..", "build", "GO=go", "VERSION="+version).Output()
	require.NoError(t, err)
	want := strings.TrimSpace(string(out))
	require.Contains(t, want, "CGO_ENABLED=0 go build -trimpath")

	var runs []string
	for _, ins := range dockerfile(t) {
		if cmd, ok := strings.CutPrefix(ins, "RUN "); ok {
			runs = append(runs, strings.ReplaceAll(cmd, "${VERSION}", version))
		}
	}
	assert.Contains(t, runs, want, "the Dockerfile must run make build's line; make -n build gives:\n%s", want)
}

func TestDockerfileStages(t *testing.T) {
	t.Parallel()
	ins := dockerfile(t)
	pinned := regexp.MustCompile(`^FROM \S+:\S+@sha256:[0-9a-f]{64}( AS \w+)?$`)
	var froms []string
	for _, i := range ins {
		if strings.HasPrefix(i, "FROM ") {
			froms = append(froms, i)
			assert.Regexp(t, pinned, i, "base images are pinned by digest")
		}
	}
	require.Len(t, froms, 2, "a build stage and a runtime stage")
	assert.True(t, strings.HasPrefix(froms[0], "FROM golang:1.26"), froms[0])
	assert.True(t, strings.HasPrefix(froms[1], "FROM gcr.io/distroless/static-debian12:nonroot@"), froms[1])

	// Modules download in their own layer, before the source comes in.
	mods := slices.Index(ins, "COPY go.mod go.sum ./")
	download := slices.Index(ins, "RUN go mod download")
	source := slices.Index(ins, "COPY . .")
	require.True(t, mods >= 0 && download > mods && source > download, "COPY go.mod go.sum, RUN go mod download, then COPY . .")

	runtime := ins[slices.Index(ins, froms[1]):]
	assert.Contains(t, runtime, "USER 65532:65532")
	assert.Contains(t, runtime, "EXPOSE 8080 9090")
	assert.Contains(t, runtime, `ENTRYPOINT ["/streamgate"]`)
	assert.Contains(t, runtime, "COPY --from=build /src/bin/streamgate /streamgate")
	assert.Contains(t, runtime, "COPY --from=build /src/bin/streamgate-kube /streamgate-kube",
		"streamgate inject and webhook run it, and deploy/webhook's Deployment names it")
	for _, i := range runtime {
		assert.False(t, strings.HasPrefix(i, "RUN "), "the runtime stage has no shell to RUN with: %s", i)
	}
}

func TestDockerignoreKeepsTheSource(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../.dockerignore")
	require.NoError(t, err)
	var patterns []string
	for _, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	assert.Contains(t, patterns, ".git")
	for _, p := range patterns {
		for _, needed := range []string{"go.mod", "go.sum", "cmd", "config", "limiter", "proxy", "deploy", "Makefile"} {
			assert.NotEqual(t, needed, strings.Trim(p, "/"), ".dockerignore must not drop %s, the build needs it", needed)
		}
		assert.NotContains(t, []string{"*.go", "**/*.go"}, p)
	}
}
