package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/config"
	"github.com/streamgate/streamgate/proxy/admin"
)

// status runs `streamgate status args...` as main would and returns the exit
// status and what it printed.
func status(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	err := run(context.Background(), append([]string{"status"}, args...), func(k string) string { return env[k] }, &out, &errs)
	code = exitCode(err, &errs)
	return code, out.String(), errs.String()
}

func TestStatus(t *testing.T) {
	t.Parallel()
	origin := newOrigin(t, segmentOrigin)
	in := start(t, "-upstream", origin.URL, "-admin-token", "s3cret")
	p := newPlayer(t, in.proxyURL)
	for _, device := range []string{"tv", "phone", "laptop"} {
		resp, _ := p.do(t, http.MethodGet, "/seg-1.ts", "alice", device)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	resp, _ := p.do(t, http.MethodGet, "/seg-1.ts", "alice", "tablet")
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	resp, _ = p.do(t, http.MethodGet, "/seg-1.ts", "bob", "tv")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	adminArgs := []string{"-admin", in.adminURL, "-token", "s3cret"}

	t.Run("a user's sessions as a table", func(t *testing.T) {
		t.Parallel()
		code, out, errs := status(t, nil, append(adminArgs, "alice")...)
		require.Equal(t, 0, code, errs)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 6, out)
		assert.Equal(t, "alice: 3 of 3 sessions active, 1 refused in the last 5m on this replica", lines[0])
		assert.Regexp(t, `^SESSION\s+STARTED\s+LAST SEEN\s+EXPIRES IN\s+DEVICE\s+ADDRESS\s+NETWORKS$`, lines[2])
		for i, s := range []string{"tv", "phone", "laptop"} {
			assert.Regexp(t, regexp.MustCompile(`^`+s+`\s+\d+s ago\s+\d+s ago\s+(1m|\d+s)\s+Go-http-client 1\s+127\.0\.0\.1:\d+\s+1$`), lines[3+i])
		}
	})
	t.Run("flags after the user", func(t *testing.T) {
		t.Parallel()
		code, out, errs := status(t, nil, "alice", "-admin", in.adminURL, "-token", "s3cret", "-json")
		require.Equal(t, 0, code, errs)
		var v admin.UserStreams
		require.NoError(t, json.Unmarshal([]byte(out), &v), out)
		assert.Equal(t, 3, v.Active)
		assert.Len(t, v.Sessions, 3)
	})
	t.Run("an unknown user", func(t *testing.T) {
		t.Parallel()
		code, out, _ := status(t, nil, append(adminArgs, "nobody")...)
		assert.Equal(t, 0, code)
		assert.Equal(t, "nobody: 0 of 3 sessions active, 0 refused in the last 5m on this replica\n", out)
	})
	t.Run("the totals", func(t *testing.T) {
		t.Parallel()
		code, out, errs := status(t, nil, adminArgs...)
		require.Equal(t, 0, code, errs)
		for _, want := range []string{
			`(?m)^ready\s+yes$`,
			`(?m)^store\s+memory, answering$`,
			`(?m)^active sessions\s+4 \(limit 3 per user, TTL 60s\)$`,
			`(?m)^tracked users\s+2$`,
			`(?m)^admitted\s+4 requests, 4 sessions started$`,
			`(?m)^refused\s+1 over the limit, 0 store unavailable; 1 in the last 5m$`,
			`(?m)^most sessions\s+alice \(3\), bob \(1\)$`,
			`(?m)^most refused\s+alice \(1\)$`,
		} {
			assert.Regexp(t, want, out)
		}
	})
	t.Run("the totals as JSON", func(t *testing.T) {
		t.Parallel()
		code, out, _ := status(t, nil, append(adminArgs, "-json")...)
		require.Equal(t, 0, code)
		var v struct {
			Overview admin.Overview `json:"overview"`
			Top      admin.TopUsers `json:"top"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &v), out)
		assert.Equal(t, 4, v.Overview.ActiveSessions)
		assert.Equal(t, "alice", v.Top.ByRefusals[0].UserID)
		settings := map[string]string{}
		for _, s := range v.Overview.Settings {
			settings[s.Name] = s.Value
		}
		assert.Equal(t, config.Masked, settings["admin-token"])
		assert.Equal(t, origin.URL, settings["upstream"])
		assert.NotContains(t, out, "s3cret", "the configuration in force never shows the token")
	})
	t.Run("address and token from the environment", func(t *testing.T) {
		t.Parallel()
		code, out, errs := status(t, map[string]string{"STREAMGATE_ADMIN_URL": in.adminURL, "STREAMGATE_ADMIN_TOKEN": "s3cret"}, "bob")
		require.Equal(t, 0, code, errs)
		assert.True(t, strings.HasPrefix(out, "bob: 1 of 3 sessions active"), out)
	})
	t.Run("a wrong token", func(t *testing.T) {
		t.Parallel()
		code, out, errs := status(t, nil, "-admin", in.adminURL, "-token", "wrong", "alice")
		assert.Equal(t, 1, code)
		assert.Empty(t, out)
		assert.Equal(t, "streamgate: the admin API refused the token (401): give -token or set STREAMGATE_ADMIN_TOKEN\n", errs)
	})
}

func TestStatusErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	notAdmin := newOrigin(t, segmentOrigin)

	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{name: "nothing listens", args: []string{"-admin", closed}, code: 1, stderr: "streamgate: admin API unreachable at " + closed + ": dial tcp"},
		{name: "nothing listens, with a user", args: []string{"-admin", closed, "alice"}, code: 1, stderr: "streamgate: admin API unreachable at " + closed},
		{name: "not an admin listener", args: []string{"-admin", notAdmin.URL}, code: 1, stderr: "is it a streamgate admin listener?"},
		{name: "a malformed admin URL", args: []string{"-admin", "http://[::1", "alice"}, code: 1, stderr: "streamgate: admin URL"},
		{name: "a malformed user id", args: []string{"-admin", closed, "al ice"}, code: 2, stderr: `streamgate: status: user id "al ice" must be`},
		{name: "two users", args: []string{"-admin", closed, "alice", "bob"}, code: 2, stderr: `one user at most`},
		{name: "an unknown flag", args: []string{"-bogus"}, code: 2, stderr: "streamgate: flag provided but not defined: -bogus\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := status(t, nil, tt.args...)
			assert.Equal(t, tt.code, code, errs)
			assert.Empty(t, out)
			assert.Contains(t, errs, tt.stderr)
			assert.Equal(t, 1, strings.Count(errs, "\n"), "one line: %q", errs)
		})
	}
}

func TestStatusHelp(t *testing.T) {
	t.Parallel()
	code, out, errs := status(t, nil, "-help")
	assert.Equal(t, 0, code)
	assert.Empty(t, errs)
	assert.Contains(t, out, "Usage: streamgate status [flags] [USER]")
	assert.Contains(t, out, "STREAMGATE_ADMIN_TOKEN")
}
