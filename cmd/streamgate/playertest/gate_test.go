package playertest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// gate is one streamgate process started from the built binary.
type gate struct {
	// URL is the proxy listener, AdminURL the admin listener.
	URL, AdminURL string

	cmd  *exec.Cmd
	done chan struct{}
	logs *lockedBuffer
}

// startGate runs streamgate on free loopback ports in front of the test
// origin, with args added to the defaults, and waits until it is ready. A
// port found free can be taken by another test process before streamgate
// binds it: streamgate then exits at start, and is started again on others.
func startGate(t *testing.T, args ...string) *gate {
	t.Helper()
	for attempt := 1; ; attempt++ {
		g, all := launchGate(t, args)
		err := g.waitReady(15 * time.Second)
		if err != nil && attempt < 3 && strings.Contains(g.logs.String(), "address already in use") {
			continue
		}
		t.Cleanup(func() { g.stop(t, all) })
		if err != nil {
			t.Fatalf("streamgate %v %v:\n%s", all, err, g.logs.String())
		}
		return g
	}
}

func launchGate(t *testing.T, args []string) (*gate, []string) {
	t.Helper()
	listen, admin := freePort(t), freePort(t)
	all := []string{"-listen", listen, "-admin-listen", admin, "-log-format", "json"}
	all = append(all, upstreamArgs()...)
	all = append(all, corsArgs()...)
	all = append(all, args...)
	g := &gate{
		URL:      "http://" + listen,
		AdminURL: "http://" + admin,
		cmd:      exec.Command(gateBin, all...),
		done:     make(chan struct{}),
		logs:     &lockedBuffer{},
	}
	g.cmd.Stdout, g.cmd.Stderr = g.logs, g.logs
	require.NoError(t, g.cmd.Start())
	go func() { _ = g.cmd.Wait(); close(g.done) }()
	return g, all
}

// waitReady polls /readyz until it answers 200, the process exits, or
// within passes.
func (g *gate) waitReady(within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(g.AdminURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-g.done:
			return errors.New("exited at start")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the gate when its test ends. Real players against the gate
// must never make it log an error (a panic recovered, an upstream failure).
func (g *gate) stop(t *testing.T, all []string) {
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(5 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
	if lines := g.logLines("ERROR"); len(lines) > 0 {
		t.Errorf("streamgate logged errors: %v", lines)
	}
	if t.Failed() {
		t.Logf("streamgate %v log:\n%s", all, g.logs.String())
	}
}

// streams is the admin API's view of one user.
type streams struct {
	UserID   string `json:"userId"`
	Limit    int    `json:"limit"`
	Active   int    `json:"active"`
	Sessions []struct {
		SessionID string    `json:"sessionId"`
		ExpiresAt time.Time `json:"expiresAt"`
	} `json:"sessions"`
}

// streams asks the admin API for a user's active sessions.
func (g *gate) streams(t *testing.T, user string) streams {
	t.Helper()
	resp, err := http.Get(g.AdminURL + "/v1/users/" + user + "/streams")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var s streams
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
	return s
}

// endSession ends a session through the admin API, as an operator does.
func (g *gate) endSession(t *testing.T, user, session string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, g.AdminURL+"/v1/users/"+user+"/streams/"+session, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
}

// logLines returns streamgate's JSON log lines of that level.
func (g *gate) logLines(level string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(g.logs.String()))
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["level"] == level {
			out = append(out, line)
		}
	}
	return out
}

// eventually polls cond every 100 ms until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freePort returns a loopback address nobody listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// lockedBuffer collects a process's output while tests read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
