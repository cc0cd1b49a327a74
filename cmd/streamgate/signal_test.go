package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBinaryExitsCleanlyOnSIGTERM builds the real binary and stops it the
// way Kubernetes does: SIGTERM, then a clean exit 0 with the state saved.
func TestBinaryExitsCleanlyOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "no go command to build the binary with")
	dir := t.TempDir()
	bin := filepath.Join(dir, "streamgate")
	build := exec.Command(goTool, "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	origin := newOrigin(t, segmentOrigin)
	state := filepath.Join(dir, "state.jsonl")
	accessLog := filepath.Join(dir, "access.log")
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-upstream", origin.URL, "-state-file", state,
		"-access-log", accessLog)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // no STREAMGATE_* from the test's environment
	output, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout // the log goes to stderr; one pipe reads both
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	// Read the log as it comes; the listening line gives the bound ports.
	listening := make(chan map[string]any, 1)
	logs := make(chan string, 1)
	go func() {
		var all string
		sc := bufio.NewScanner(output)
		for sc.Scan() {
			all += sc.Text() + "\n"
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "streamgate listening" {
				listening <- line
			}
		}
		logs <- all
		exited <- cmd.Wait()
	}()
	var line map[string]any
	select {
	case line = <-listening:
	case <-time.After(30 * time.Second):
		t.Fatal("the binary never logged that it listens")
	}

	p := newPlayer(t, "http://"+line["proxy"].(string))
	resp, _ := p.do(t, http.MethodGet, "/seg.ts", "alice", "tv")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	// logrotate's way: rename, then SIGHUP; the next lines go to a new file.
	require.Eventually(t, func() bool { b, _ := os.ReadFile(accessLog); return len(b) > 0 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, os.Rename(accessLog, accessLog+".1"))
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { _, err := os.Stat(accessLog); return err == nil }, 10*time.Second, 10*time.Millisecond,
		"SIGHUP reopens the access log")
	resp, _ = p.do(t, http.MethodGet, "/seg.ts", "alice", "tv")
	require.Equal(t, http.StatusOK, resp.StatusCode, "and the process lives on")
	p.client.CloseIdleConnections()

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	var all string
	select {
	case all = <-logs:
	case <-time.After(30 * time.Second):
		t.Fatal("the binary did not exit after SIGTERM")
	}
	err = <-exited
	exited <- err // for the cleanup
	require.NoError(t, err, "exit status 0:\n%s", all)
	assert.Equal(t, 0, cmd.ProcessState.ExitCode())
	assert.Contains(t, all, `"msg":"state file written"`)

	b, err := os.ReadFile(state)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"userId":"alice"`)

	rotated, err := os.ReadFile(accessLog + ".1")
	require.NoError(t, err)
	fresh, err := os.ReadFile(accessLog)
	require.NoError(t, err)
	assert.Contains(t, string(rotated), `"streamgate.decision":"new"`)
	assert.Contains(t, string(fresh), `"streamgate.decision":"refresh"`, "written at exit, after the reopen")
}
