package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamgate/streamgate/limiter/limitertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newOrigin is a real origin on a loopback socket.
func newOrigin(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	o := httptest.NewServer(h)
	t.Cleanup(o.Close)
	return o
}

func segmentOrigin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "video/mp2t")
	_, _ = io.WriteString(w, "segment "+r.URL.Path)
}

func TestRunAdmitsThreeStreamsAndRefusesTheFourth(t *testing.T) {
	t.Parallel()
	origin := newOrigin(t, segmentOrigin)
	in := start(t, "-upstream", origin.URL+"/vod")
	p := newPlayer(t, in.proxyURL)

	for _, device := range []string{"tv", "phone", "laptop"} {
		resp, body := p.do(t, http.MethodGet, "/movie/seg-1.ts", "alice", device)
		require.Equal(t, http.StatusOK, resp.StatusCode, device)
		assert.Equal(t, "segment /vod/movie/seg-1.ts", body)
	}
	resp, body := p.do(t, http.MethodGet, "/movie/seg-1.ts", "alice", "tablet")
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	assert.Equal(t, "60", resp.Header.Get("Retry-After"))
	assert.Contains(t, body, `"active":3`)

	resp, _ = p.do(t, http.MethodGet, "/movie/seg-2.ts", "alice", "tv")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the three keep playing")
	resp, _ = p.do(t, http.MethodGet, "/movie/seg-1.ts", "", "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	admin := newPlayer(t, in.adminURL)
	resp, body = admin.do(t, http.MethodGet, "/v1/users/alice/streams", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var streams struct {
		Active int `json:"active"`
		Limit  int `json:"limit"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &streams))
	assert.Equal(t, 3, streams.Active)
	assert.Equal(t, 3, streams.Limit)

	resp, body = admin.do(t, http.MethodGet, "/metrics", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, `streamgate_admissions_total{result="new"} 3`)
	assert.Contains(t, body, `streamgate_admissions_total{result="refresh"} 1`)
	assert.Contains(t, body, `streamgate_rejections_total{reason="limit"} 1`)
	assert.Contains(t, body, `streamgate_invalid_requests_total{reason="missing_user"} 1`)
	assert.Contains(t, body, "streamgate_active_sessions 3\n")
	assert.Contains(t, body, "go_goroutines", "the Go collector is registered")

	resp, _ = admin.do(t, http.MethodGet, "/readyz", "", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, in.stop(t))
	assert.Contains(t, in.logs.String(), `"msg":"streamgate stopped"`)
}

func TestRunDemo(t *testing.T) {
	t.Parallel()
	in := start(t, "-demo")
	p := newPlayer(t, in.proxyURL)
	resp, body := p.do(t, http.MethodGet, "/vod/master.m3u8", "alice", "tv")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, strings.HasPrefix(body, "#EXTM3U"))
	resp, body = p.do(t, http.MethodGet, "/vod/360p/seg-0.m4s", "alice", "tv")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "video/mp4", resp.Header.Get("Content-Type"))
	assert.Equal(t, "styp", body[4:8], "a CMAF fragment")

	// The README's ffplay line, with ffmpeg: the identity headers reach the
	// gate on every request of the player, and the media decodes.
	{
		ffmpeg, err := exec.LookPath("ffmpeg")
		require.NoError(t, err, "ffmpeg is not installed: make deps installs it")
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error",
			"-headers", "X-User-Id: alice\r\nX-Session-Id: tv\r\n",
			"-i", in.proxyURL+"/vod/master.m3u8", "-t", "4", "-f", "null", "-").CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Empty(t, strings.TrimSpace(string(out)))
		// Without them the gate refuses the player.
		out, err = exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error",
			"-i", in.proxyURL+"/vod/master.m3u8", "-t", "4", "-f", "null", "-").CombinedOutput()
		require.Error(t, err)
		assert.Contains(t, string(out), "401", "the gate refused a request without identity")
	}
	require.NoError(t, in.stop(t))
}

// TestRunDrainsOnShutdown: cancelling run's context is what SIGTERM does.
// Readiness turns 503 and the proxy stops accepting at once, while a
// response already under way finishes; then run returns nil.
func TestRunDrainsOnShutdown(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	var releaseOnce sync.Once
	releaseOrigin := func() { releaseOnce.Do(func() { close(release) }) }
	defer releaseOrigin()
	origin := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first half, ")
		w.(http.Flusher).Flush()
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "second half")
	})
	in := start(t, "-upstream", origin.URL)
	p := newPlayer(t, in.proxyURL)

	req, err := http.NewRequest(http.MethodGet, in.proxyURL+"/movie/seg-1.ts", nil)
	require.NoError(t, err)
	req.Header.Set("X-User-Id", "alice")
	req.Header.Set("X-Session-Id", "tv")
	resp, err := p.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	<-arrived

	in.cancel() // SIGTERM

	admin := newPlayer(t, in.adminURL)
	require.Eventually(t, func() bool {
		r, _ := admin.do(t, http.MethodGet, "/readyz", "", "")
		return r.StatusCode == http.StatusServiceUnavailable
	}, 10*time.Second, 2*time.Millisecond, "readiness fails first")
	proxyAddr := strings.TrimPrefix(in.proxyURL, "http://")
	require.Eventually(t, func() bool {
		conn, err := net.Dial("tcp", proxyAddr)
		if err == nil {
			conn.Close()
		}
		return err != nil
	}, 10*time.Second, 2*time.Millisecond, "the proxy stops accepting new connections")

	select {
	case err := <-in.done:
		t.Fatalf("run returned (%v) while a response was still in flight", err)
	default:
	}

	releaseOrigin()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "the in-flight response completes")
	assert.Equal(t, "first half, second half", string(body))
	require.NoError(t, in.stop(t), "a drained shutdown is a clean exit")
	logs := in.logs.String()
	assert.Contains(t, logs, `"msg":"draining"`)
	assert.NotContains(t, logs, "drain timed out")
}

func TestRunShutdownTimeoutCutsAStuckResponse(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	origin := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "a response that never ends")
		w.(http.Flusher).Flush()
		arrived <- struct{}{}
		<-r.Context().Done()
	})
	in := start(t, "-upstream", origin.URL, "-shutdown-timeout", "50ms")
	p := newPlayer(t, in.proxyURL)
	req, err := http.NewRequest(http.MethodGet, in.proxyURL+"/live.ts", nil)
	require.NoError(t, err)
	req.Header.Set("X-User-Id", "alice")
	req.Header.Set("X-Session-Id", "tv")
	resp, err := p.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	<-arrived

	require.NoError(t, in.stop(t), "run returns once the drain time is over")
	_, err = io.ReadAll(resp.Body)
	assert.Error(t, err, "the stuck response was cut")
	assert.Contains(t, in.logs.String(), "drain timed out")
}

// TestRunStateFileRestart: sessions survive a restart through -state-file,
// so a restart never grants a fourth stream.
func TestRunStateFileRestart(t *testing.T) {
	t.Parallel()
	origin := newOrigin(t, segmentOrigin)
	state := filepath.Join(t.TempDir(), "state.jsonl")

	first := start(t, "-upstream", origin.URL, "-state-file", state)
	line, ok := logLine(first.logs.String(), "no state file yet; starting empty")
	require.True(t, ok, "a first start without a state file is normal:\n%s", first.logs.String())
	assert.Equal(t, "INFO", line["level"])
	p := newPlayer(t, first.proxyURL)
	for _, device := range []string{"tv", "phone", "laptop"} {
		resp, _ := p.do(t, http.MethodGet, "/seg.ts", "alice", device)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	require.NoError(t, first.stop(t))
	info, err := os.Stat(state)
	require.NoError(t, err, "written on shutdown")
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	second := start(t, "-upstream", origin.URL, "-state-file", state)
	line, ok = logLine(second.logs.String(), "state file restored")
	require.True(t, ok, second.logs.String())
	assert.Equal(t, 1.0, line["users"])
	p = newPlayer(t, second.proxyURL)
	resp, _ := p.do(t, http.MethodGet, "/seg.ts", "alice", "tablet")
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "no fourth stream after a restart")
	for _, device := range []string{"tv", "phone", "laptop"} {
		resp, _ := p.do(t, http.MethodGet, "/seg.ts", "alice", device)
		assert.Equal(t, http.StatusOK, resp.StatusCode, "%s plays on", device)
	}
	require.NoError(t, second.stop(t))
}

func TestRunCorruptStateFileIsAWarning(t *testing.T) {
	t.Parallel()
	origin := newOrigin(t, segmentOrigin)
	state := filepath.Join(t.TempDir(), "state.jsonl")
	require.NoError(t, os.WriteFile(state, []byte("this is not a state file\n"), 0o600))

	in := start(t, "-upstream", origin.URL, "-state-file", state)
	line, ok := logLine(in.logs.String(), "state file not fully restored")
	require.True(t, ok, in.logs.String())
	assert.Equal(t, "WARN", line["level"])
	resp, _ := newPlayer(t, in.proxyURL).do(t, http.MethodGet, "/seg.ts", "alice", "tv")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "it serves all the same")
	require.NoError(t, in.stop(t))

	b, err := os.ReadFile(state)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"alice"`, "the broken file is replaced on shutdown")
}

func TestRunAdminToken(t *testing.T) {
	t.Parallel()
	origin := newOrigin(t, segmentOrigin)
	ctx, cancel := context.WithCancel(context.Background())
	logs := &limitertest.SyncBuffer{}
	done := make(chan error, 1)
	getenv := func(name string) string {
		return map[string]string{
			"STREAMGATE_LISTEN":       "127.0.0.1:0",
			"STREAMGATE_ADMIN_LISTEN": "127.0.0.1:0",
			"STREAMGATE_UPSTREAM":     origin.URL,
			"STREAMGATE_ADMIN_TOKEN":  "s3cret",
		}[name]
	}
	go func() { done <- run(ctx, nil, getenv, io.Discard, logs) }()
	defer func() {
		cancel()
		assert.NoError(t, <-done)
	}()
	var adminURL string
	require.Eventually(t, func() bool {
		line, ok := logLine(logs.String(), "streamgate listening")
		if ok {
			adminURL = "http://" + line["admin"].(string)
		}
		return ok
	}, 10*time.Second, 5*time.Millisecond)

	admin := newPlayer(t, adminURL)
	resp, _ := admin.do(t, http.MethodGet, "/v1/users/alice/streams", "", "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the token set through the environment is required")
	req, err := http.NewRequest(http.MethodGet, adminURL+"/v1/users/alice/streams", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err = admin.client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = admin.do(t, http.MethodGet, "/healthz", "", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}
