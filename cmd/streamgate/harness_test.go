package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamgate/streamgate/limiter/limitertest"
	"github.com/stretchr/testify/require"
)

// logLine returns the first JSON log line whose msg is msg, if any.
func logLine(logs, msg string) (map[string]any, bool) {
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == msg {
			return line, true
		}
	}
	return nil, false
}

// instance is one run() of streamgate, serving on free loopback ports.
type instance struct {
	proxyURL, adminURL string
	logs               *limitertest.SyncBuffer
	stdout             *limitertest.SyncBuffer // the access log, by default
	cancel             context.CancelFunc
	done               chan error
	stopOnce           sync.Once
	err                error
}

// start runs streamgate with args after the loopback listeners, and waits
// for its "streamgate listening" line to learn the ports it bound.
func start(t *testing.T, args ...string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{logs: &limitertest.SyncBuffer{}, stdout: &limitertest.SyncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	args = append([]string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0"}, args...)
	go func() { in.done <- run(ctx, args, func(string) string { return "" }, in.stdout, in.logs) }()
	t.Cleanup(func() { _ = in.stop(t) })

	poll := time.NewTicker(5 * time.Millisecond) // reads the log for the line
	defer poll.Stop()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		if line, ok := logLine(in.logs.String(), "streamgate listening"); ok {
			in.proxyURL = "http://" + line["proxy"].(string)
			in.adminURL = "http://" + line["admin"].(string)
			return in
		}
		select {
		case err := <-in.done:
			in.done <- err // for stop
			t.Fatalf("run returned before listening: %v\n%s", err, in.logs.String())
		case <-deadline.C:
			t.Fatalf("no listening line:\n%s", in.logs.String())
		case <-poll.C:
		}
	}
}

// stop does what SIGTERM does and returns run's result.
func (in *instance) stop(t *testing.T) error {
	t.Helper()
	in.stopOnce.Do(func() {
		in.cancel()
		select {
		case in.err = <-in.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("run did not return after its context was cancelled:\n%s", in.logs.String())
		}
	})
	return in.err
}

// player sends requests as one user and session.
type player struct {
	client *http.Client
	base   string
}

func newPlayer(t *testing.T, base string) *player {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &player{client: &http.Client{Transport: tr}, base: base}
}

func (p *player) do(t *testing.T, method, path, user, session string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, nil)
	require.NoError(t, err)
	if user != "" {
		req.Header.Set("X-User-Id", user)
		req.Header.Set("X-Session-Id", session)
	}
	resp, err := p.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}
