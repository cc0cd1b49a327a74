package deploy_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// streamgateBinary builds the real binary once for the tests that run it.
func streamgateBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "streamgate-deploy-test-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "streamgate")
		buildOut, buildErr = exec.Command("go", "build", "-o", binPath, "../cmd/streamgate").CombinedOutput()
	})
	require.NoError(t, buildErr, "building streamgate: %s", buildOut)
	return binPath
}

// instance is a running streamgate process.
type instance struct {
	proxy, admin string
}

// startStreamgate runs the binary on loopback ports with args and stops it
// with SIGTERM when the test ends.
func startStreamgate(t *testing.T, args ...string) instance {
	t.Helper()
	bin := streamgateBinary(t)
	cmd := exec.Command(bin, append([]string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // no STREAMGATE_* from the test's environment
	logs, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	listening := make(chan instance, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(logs)
		for sc.Scan() {
			var line struct{ Msg, Proxy, Admin string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "streamgate listening" {
				listening <- instance{proxy: "http://" + line.Proxy, admin: "http://" + line.Admin}
			}
		}
		_, _ = io.Copy(io.Discard, logs)
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	select {
	case in := <-listening:
		return in
	case <-exited:
		t.Fatal("streamgate exited before it listened")
	case <-time.After(30 * time.Second):
		t.Fatal("streamgate never logged that it listens")
	}
	return instance{}
}

// get sends one player request and returns the status.
func get(t *testing.T, url, user, session string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if user != "" {
		req.Header.Set("X-User-Id", user)
	}
	if session != "" {
		req.Header.Set("X-Session-Id", session)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// liveScrape runs streamgate in front of its demo origin, plays four
// sessions of one user (three admitted, one refused) and a request with no
// identity, and returns its /metrics page.
func liveScrape(t *testing.T) string {
	t.Helper()
	in := startStreamgate(t, "-demo")
	statuses := []int{}
	for _, s := range []string{"phone", "tv", "laptop", "tablet"} {
		statuses = append(statuses, get(t, in.proxy+"/vod/master.m3u8", "alice", s))
	}
	require.Equal(t, []int{200, 200, 200, 429}, statuses)
	require.Equal(t, http.StatusUnauthorized, get(t, in.proxy+"/vod/master.m3u8", "", "x"))
	resp, err := http.Get(in.admin + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}
