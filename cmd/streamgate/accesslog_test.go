package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func accessLogLines(t *testing.T, text string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), sc.Text())
		out = append(out, line)
	}
	return out
}

func TestRunAccessLog(t *testing.T) {
	t.Parallel()
	origin := newOrigin(t, segmentOrigin)
	file := filepath.Join(t.TempDir(), "access.log")
	require.NoError(t, os.WriteFile(file, []byte("{\"kept\":true}\n"), 0o600))
	tests := []struct {
		name string
		args []string
		// read returns what the access log wrote once run has stopped.
		read func(in *instance) string
		want int
	}{
		{name: "stdout by default", read: func(in *instance) string { return in.stdout.String() }, want: 2},
		{name: "a file, appended to", args: []string{"-access-log", file}, read: func(*instance) string {
			b, err := os.ReadFile(file)
			require.NoError(t, err)
			return string(b)
		}, want: 3},
		{name: "off", args: []string{"-access-log", "off"}, read: func(in *instance) string { return in.stdout.String() }, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := start(t, append([]string{"-upstream", origin.URL}, tt.args...)...)
			p := newPlayer(t, in.proxyURL)
			resp, _ := p.do(t, http.MethodGet, "/seg-1.ts?token=never-logged", "alice", "tv-session")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			resp, _ = p.do(t, http.MethodGet, "/seg-1.ts", "", "")
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			admin := newPlayer(t, in.adminURL)
			_, metrics := admin.do(t, http.MethodGet, "/metrics", "", "")
			require.NoError(t, in.stop(t))

			text := tt.read(in)
			assert.NotContains(t, text, "never-logged")
			assert.NotContains(t, text, "tv-session")
			if tt.want == 0 {
				assert.Empty(t, text)
				assert.NotContains(t, metrics, "streamgate_access_log_dropped_total", "off installs nothing")
				return
			}
			assert.Contains(t, metrics, "streamgate_access_log_dropped_total 0")
			lines := accessLogLines(t, text)
			require.Len(t, lines, tt.want)
			got := lines[len(lines)-2:]
			assert.Equal(t, "new", got[0]["streamgate.decision"])
			assert.Equal(t, "alice", got[0]["user.id"])
			assert.Equal(t, "/seg-1.ts", got[0]["url.path"])
			assert.Equal(t, "invalid", got[1]["streamgate.decision"])
			assert.Equal(t, float64(401), got[1]["http.response.status_code"])
		})
	}
}

func TestRunAccessLogBadPathIsAUsageError(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := run(ctx, []string{"-demo", "-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-access-log", "/nonexistent/dir/access.log"},
		func(string) string { return "" }, &stdout, &stderr)
	assert.Equal(t, 2, exitCode(err, &stderr))
	assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "one line: %q", stderr.String())
	assert.Contains(t, stderr.String(), "-access-log")
}

func TestAccessLogFileReopensAfterARename(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	f, err := openLogFile(path)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Write([]byte("one\n"))
	require.NoError(t, err)
	require.NoError(t, os.Rename(path, path+".1"), "logrotate moves the file away")
	_, err = f.Write([]byte("two\n"))
	require.NoError(t, err)
	require.NoError(t, f.Reopen(), "then signals; streamgate opens the path anew")
	_, err = f.Write([]byte("three\n"))
	require.NoError(t, err)

	rotated, err := os.ReadFile(path + ".1")
	require.NoError(t, err)
	assert.Equal(t, "one\ntwo\n", string(rotated))
	fresh, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "three\n", string(fresh))

	// A path that cannot be opened (now a directory): the old file stays.
	require.NoError(t, os.Rename(path, path+".2"))
	require.NoError(t, os.Mkdir(path, 0o700))
	assert.Error(t, f.Reopen())
	_, err = f.Write([]byte("four\n"))
	require.NoError(t, err, "a failed reopen keeps the old file")
	kept, err := os.ReadFile(path + ".2")
	require.NoError(t, err)
	assert.Equal(t, "three\nfour\n", string(kept))
}
