package deploy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/streamgate/streamgate/deploy/inject"
)

// TestFilebeatShipsTheAccessLogUnchanged reads the Filebeat example: it reads
// the sidecar's stdout, decodes each line to the event's root, and renames
// or drops no field.
func TestFilebeatShipsTheAccessLogUnchanged(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("logging", "filebeat.yaml"))
	require.NoError(t, err)
	var cfg struct {
		Inputs []struct {
			Type       string           `json:"type"`
			ID         string           `json:"id"`
			Paths      []string         `json:"paths"`
			Symlinks   bool             `json:"prospector.scanner.symlinks"`
			Parsers    []map[string]any `json:"parsers"`
			Processors []map[string]any `json:"processors"`
		} `json:"filebeat.inputs"`
		Output map[string]any `json:"output.elasticsearch"`
	}
	require.NoError(t, yaml.UnmarshalStrict(raw, &cfg, yaml.DisallowUnknownFields))
	require.Len(t, cfg.Inputs, 1)
	assert.NotEmpty(t, cfg.Output["hosts"])
	in := cfg.Inputs[0]
	assert.Equal(t, "filestream", in.Type)
	assert.NotEmpty(t, in.ID, "filestream inputs need an id")
	assert.True(t, in.Symlinks, "/var/log/containers holds symlinks")
	require.Len(t, in.Paths, 1)
	matched, err := filepath.Match(in.Paths[0], "/var/log/containers/origin-7d9f_video_"+inject.ContainerName+"-0123abcd.log")
	require.NoError(t, err)
	assert.True(t, matched, "the path matches the sidecar's log files")

	require.Len(t, in.Parsers, 2)
	container, ok := in.Parsers[0]["container"].(map[string]any)
	require.True(t, ok, "the container parser first")
	assert.Equal(t, "stdout", container["stream"], "the access log is stdout; streamgate's own logs are stderr")
	ndjson, ok := in.Parsers[1]["ndjson"].(map[string]any)
	require.True(t, ok, "then the ndjson parser")
	assert.Equal(t, "", ndjson["target"], "fields at the event's root, under their own names")
	assert.Equal(t, true, ndjson["overwrite_keys"], "the line's @timestamp wins")
	for _, p := range in.Processors {
		for name := range p {
			assert.False(t, strings.Contains(name, "rename") || strings.Contains(name, "drop_fields") || strings.Contains(name, "convert"),
				"processor %s would change the ECS fields", name)
		}
	}
}
