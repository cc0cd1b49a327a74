package config_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/config"
	"github.com/streamgate/streamgate/limiter"
)

// env is a fake environment.
type env map[string]string

func (e env) get(name string) string { return e[name] }

func parse(args []string, e env) (config.Config, error) {
	return config.Parse("streamgate", args, e.get, io.Discard)
}

func TestParseDefaultsAreSPECs(t *testing.T) {
	t.Parallel()
	c, err := parse([]string{"-upstream", "http://origin:8081"}, nil)
	require.NoError(t, err)
	assert.Equal(t, ":8080", c.Listen)
	assert.Equal(t, ":9090", c.AdminListen)
	assert.Equal(t, "http://origin:8081", c.Upstream.String())
	assert.Equal(t, 15*time.Second, c.UpstreamTimeout)
	assert.False(t, c.Demo)
	assert.Equal(t, 3, c.MaxStreams)
	assert.Equal(t, 60*time.Second, c.SessionTTL)
	assert.Equal(t, "X-User-Id", c.UserHeader)
	assert.Equal(t, "X-Session-Id", c.SessionHeader)
	assert.Equal(t, 1_000_000, c.MaxUsers)
	assert.Equal(t, "memory", c.Store)
	assert.Equal(t, limiter.FailOpen, c.StoreFailure)
	assert.Equal(t, 100*time.Millisecond, c.StoreTimeout)
	assert.Equal(t, 10*time.Second, c.EffectiveRefreshInterval(), "a few seconds")
	assert.Less(t, c.EffectiveRefreshInterval(), c.SessionTTL/2)
	assert.Empty(t, c.StateFile)
	assert.Empty(t, c.AdminToken)
	assert.Equal(t, 30*time.Second, c.ShutdownTimeout)
	assert.Equal(t, "json", c.LogFormat)
	assert.True(t, c.CMCD)
	assert.Equal(t, 5*time.Minute, c.MaxLease)
}

func TestDefaultRefreshIntervalStaysUnderHalfTheTTL(t *testing.T) {
	t.Parallel()
	for _, ttl := range []time.Duration{time.Second, 4 * time.Second, 60 * time.Second, time.Hour} {
		got := config.DefaultRefreshInterval(ttl)
		assert.Less(t, got, ttl/2, "ttl %s", ttl)
		assert.LessOrEqual(t, got, 10*time.Second, "ttl %s", ttl)
	}
	c, err := parse([]string{"-demo", "-session-ttl", "8s"}, nil)
	require.NoError(t, err)
	assert.Equal(t, 2*time.Second, c.EffectiveRefreshInterval())
	c, err = parse([]string{"-demo", "-refresh-interval", "0"}, nil)
	require.NoError(t, err)
	assert.Zero(t, c.EffectiveRefreshInterval(), "0 is a value, not unset")
}

func TestEnvName(t *testing.T) {
	t.Parallel()
	for flagName, want := range map[string]string{
		"listen":           "STREAMGATE_LISTEN",
		"admin-listen":     "STREAMGATE_ADMIN_LISTEN",
		"max-streams":      "STREAMGATE_MAX_STREAMS",
		"session-ttl":      "STREAMGATE_SESSION_TTL",
		"upstream-timeout": "STREAMGATE_UPSTREAM_TIMEOUT",
		"store-failure":    "STREAMGATE_STORE_FAILURE",
		"on-full":          "STREAMGATE_ON_FULL",
		"refresh-interval": "STREAMGATE_REFRESH_INTERVAL",
	} {
		assert.Equal(t, want, config.EnvName(flagName))
	}
}

// TestEnvironmentSetsEveryFlag sets each flag of SPEC through its variable only.
func TestEnvironmentSetsEveryFlag(t *testing.T) {
	t.Parallel()
	e := env{
		"STREAMGATE_LISTEN":           "127.0.0.1:18080",
		"STREAMGATE_ADMIN_LISTEN":     "127.0.0.1:19090",
		"STREAMGATE_UPSTREAM":         "https://origin.example/vod",
		"STREAMGATE_UPSTREAM_TIMEOUT": "2s",
		"STREAMGATE_MAX_STREAMS":      "5",
		"STREAMGATE_SESSION_TTL":      "90s",
		"STREAMGATE_USER_HEADER":      "X-Account",
		"STREAMGATE_SESSION_HEADER":   "X-Playback",
		"STREAMGATE_MAX_USERS":        "5000",
		"STREAMGATE_STORE_FAILURE":    "local",
		"STREAMGATE_ON_FULL":          "refuse",
		"STREAMGATE_STORE_TIMEOUT":    "250ms",
		"STREAMGATE_REFRESH_INTERVAL": "3s",
		"STREAMGATE_STATE_FILE":       "/var/lib/streamgate/state.jsonl",
		"STREAMGATE_ADMIN_TOKEN":      "tok",
		"STREAMGATE_SHUTDOWN_TIMEOUT": "45s",
		"STREAMGATE_LOG_FORMAT":       "text",
	}
	c, err := parse(nil, e)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:18080", c.Listen)
	assert.Equal(t, "127.0.0.1:19090", c.AdminListen)
	assert.Equal(t, "https://origin.example/vod", c.Upstream.String())
	assert.Equal(t, 2*time.Second, c.UpstreamTimeout)
	assert.Equal(t, 5, c.MaxStreams)
	assert.Equal(t, 90*time.Second, c.SessionTTL)
	assert.Equal(t, "X-Account", c.UserHeader)
	assert.Equal(t, "X-Playback", c.SessionHeader)
	assert.Equal(t, 5000, c.MaxUsers)
	assert.Equal(t, limiter.FailLocal, c.StoreFailure)
	assert.Equal(t, limiter.OnFullRefuse, c.OnFull)
	assert.Equal(t, 250*time.Millisecond, c.StoreTimeout)
	assert.Equal(t, 3*time.Second, c.EffectiveRefreshInterval())
	assert.Equal(t, "/var/lib/streamgate/state.jsonl", c.StateFile)
	assert.Equal(t, "tok", c.AdminToken)
	assert.Equal(t, 45*time.Second, c.ShutdownTimeout)
	assert.Equal(t, "text", c.LogFormat)

	c, err = parse(nil, env{"STREAMGATE_DEMO": "true", "STREAMGATE_STORE": "redis://redis:6379/2"})
	require.NoError(t, err)
	assert.True(t, c.Demo)
	assert.Equal(t, "redis://redis:6379/2", c.Store)

	c, err = parse(nil, env{"STREAMGATE_DEMO": "true", "STREAMGATE_CMCD": "false", "STREAMGATE_MAX_LEASE": "0"})
	require.NoError(t, err)
	assert.False(t, c.CMCD)
	assert.Zero(t, c.MaxLease, "0 is the TTL-only rule")
}

func TestFlagWinsOverEnvironment(t *testing.T) {
	t.Parallel()
	e := env{
		"STREAMGATE_MAX_STREAMS": "5",
		"STREAMGATE_SESSION_TTL": "90s",
		"STREAMGATE_UPSTREAM":    "http://from-env:1",
		"STREAMGATE_DEMO":        "true",
		"STREAMGATE_LOG_FORMAT":  "text",
	}
	c, err := parse([]string{"-max-streams", "7", "-upstream", "http://from-flag:2", "-demo=false"}, e)
	require.NoError(t, err)
	assert.Equal(t, 7, c.MaxStreams, "the flag wins")
	assert.Equal(t, "http://from-flag:2", c.Upstream.String())
	assert.False(t, c.Demo, "a boolean flag wins too")
	assert.Equal(t, 90*time.Second, c.SessionTTL, "the environment still sets what no flag names")
	assert.Equal(t, "text", c.LogFormat)

	_, err = parse([]string{"-max-streams", "7"}, env{"STREAMGATE_MAX_STREAMS": "0", "STREAMGATE_DEMO": "1"})
	assert.NoError(t, err, "a bad value in the environment, overridden by a good flag, is validated as the flag")
}

func TestBadValuesNameTheFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  env
		flag string
	}{
		{name: "max streams not a number", args: []string{"-demo", "-max-streams", "three"}, flag: "max-streams"},
		{name: "max streams zero", args: []string{"-demo", "-max-streams", "0"}, flag: "max-streams"},
		{name: "max streams negative", args: []string{"-demo", "-max-streams", "-1"}, flag: "max-streams"},
		{name: "max users zero", args: []string{"-demo", "-max-users", "0"}, flag: "max-users"},
		{name: "on full unknown", args: []string{"-demo", "-on-full", "drop"}, flag: "on-full"},
		{name: "session ttl without a unit", args: []string{"-demo", "-session-ttl", "60"}, flag: "session-ttl"},
		{name: "session ttl zero", args: []string{"-demo", "-session-ttl", "0s"}, flag: "session-ttl"},
		{name: "upstream timeout negative", args: []string{"-demo", "-upstream-timeout", "-1s"}, flag: "upstream-timeout"},
		{name: "store timeout zero", args: []string{"-demo", "-store-timeout", "0"}, flag: "store-timeout"},
		{name: "max lease negative", args: []string{"-demo", "-max-lease", "-1m"}, flag: "max-lease"},
		{name: "max lease without a unit", args: []string{"-demo", "-max-lease", "300"}, flag: "max-lease"},
		{name: "cmcd not a boolean", env: env{"STREAMGATE_DEMO": "1", "STREAMGATE_CMCD": "sometimes"}, flag: "cmcd"},
		{name: "shutdown timeout negative", args: []string{"-demo", "-shutdown-timeout", "-5s"}, flag: "shutdown-timeout"},
		{name: "refresh interval negative", args: []string{"-demo", "-refresh-interval", "-1s"}, flag: "refresh-interval"},
		{name: "refresh interval half the ttl", args: []string{"-demo", "-refresh-interval", "30s"}, flag: "refresh-interval"},
		{name: "upstream missing", args: nil, flag: "upstream"},
		{name: "upstream not http", args: []string{"-upstream", "ftp://origin/vod"}, flag: "upstream"},
		{name: "upstream relative", args: []string{"-upstream", "/vod"}, flag: "upstream"},
		{name: "upstream with a query", args: []string{"-upstream", "http://origin/vod?x=1"}, flag: "upstream"},
		{name: "upstream and demo", args: []string{"-demo", "-upstream", "http://origin"}, flag: "upstream"},
		{name: "listen not host:port", args: []string{"-demo", "-listen", "8080"}, flag: "listen"},
		{name: "admin listen not host:port", args: []string{"-demo", "-admin-listen", "localhost"}, flag: "admin-listen"},
		{name: "admin listen on the proxy's address", args: []string{"-demo", "-listen", ":8080", "-admin-listen", ":8080"}, flag: "admin-listen"},
		{name: "user header not a header name", args: []string{"-demo", "-user-header", "X User"}, flag: "user-header"},
		{name: "session header empty", args: []string{"-demo", "-session-header", ""}, flag: "session-header"},
		{name: "session header the user header", args: []string{"-demo", "-session-header", "x-user-id"}, flag: "session-header"},
		{name: "store unknown", args: []string{"-demo", "-store", "mysql://db"}, flag: "store"},
		{name: "store redis without a host", args: []string{"-demo", "-store", "redis://"}, flag: "store"},
		{name: "store redis db not a number", args: []string{"-demo", "-store", "redis://redis:6379/zero"}, flag: "store"},
		{name: "store redis dial timeout not a duration", args: []string{"-demo", "-store", "redis://redis:6379?dial_timeout=soon"}, flag: "store"},
		{name: "store failure unknown", args: []string{"-demo", "-store-failure", "maybe"}, flag: "store-failure"},
		{name: "store failure closed with the memory store", args: []string{"-demo", "-store-failure", "closed"}, flag: "store-failure"},
		{name: "state file with redis", args: []string{"-demo", "-store", "redis://redis:6379", "-state-file", "/tmp/s"}, flag: "state-file"},
		{name: "log format unknown", args: []string{"-demo", "-log-format", "xml"}, flag: "log-format"},
		{name: "an unknown flag", args: []string{"-demo", "-max-stream", "3"}, flag: "max-stream"},
		{name: "a bad variable", env: env{"STREAMGATE_MAX_STREAMS": "lots", "STREAMGATE_DEMO": "true"}, flag: "max-streams"},
		{name: "a bad boolean variable", env: env{"STREAMGATE_DEMO": "yes please"}, flag: "demo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(tt.args, tt.env)
			require.Error(t, err)
			msg := err.Error()
			assert.Contains(t, msg, "-"+tt.flag, "the error names the flag")
			assert.NotContains(t, msg, "\n", "one clear line")
			if tt.env != nil {
				assert.Contains(t, msg, config.EnvName(tt.flag), "and the variable it came from")
			}
		})
	}
}

func TestBadValueHidesPasswords(t *testing.T) {
	t.Parallel()
	_, err := parse([]string{"-demo", "-store", "mysql://admin:hunter2@db:3306"}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-store")
	assert.NotContains(t, err.Error(), "hunter2", "the line is logged; a password must not be")
}

func TestUnexpectedArgument(t *testing.T) {
	t.Parallel()
	_, err := parse([]string{"-demo", "serve"}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"serve"`)
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.Demo = true
	c.MaxStreams = 0
	c.SessionTTL = 0
	c.StoreFailure = "sometimes"
	c.LogFormat = "yaml"
	c.Listen = "nope"
	before := c

	err := c.Validate()
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	assert.Len(t, lines, 5, "one line per problem: %q", lines)
	for _, flagName := range []string{"max-streams", "session-ttl", "store-failure", "log-format", "listen"} {
		assert.Contains(t, err.Error(), "-"+flagName)
	}
	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined), "the problems are joined, so callers can print one per line")
	assert.Len(t, joined.Unwrap(), 5)
	assert.Equal(t, before, c, "Validate changes nothing")

	_, err = parse([]string{"-demo", "-max-streams", "0", "-log-format", "xml", "-store-failure", "maybe"}, nil)
	require.Error(t, err)
	assert.Len(t, strings.Split(err.Error(), "\n"), 3, "Parse reports them all at once too")
}

func TestValidateAcceptsTheDefaultsWithAnUpstream(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.Demo = true
	assert.NoError(t, c.Validate())
}

func TestEphemeralPortsOnBothListeners(t *testing.T) {
	t.Parallel()
	// Port 0 picks a free port for each listener, so the two never collide.
	for _, addr := range []string{":0", "127.0.0.1:0"} {
		_, err := parse([]string{"-demo", "-listen", addr, "-admin-listen", addr}, nil)
		assert.NoError(t, err, addr)
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-help", "-h", "--help"} {
		var out bytes.Buffer
		_, err := config.Parse("streamgate", []string{arg}, env(nil).get, &out)
		require.ErrorIs(t, err, flag.ErrHelp, arg)
		help := out.String()
		assert.True(t, strings.HasPrefix(help, "Usage: streamgate"), arg)

		// Every flag of SPEC with its default and its variable.
		for _, f := range []struct{ name, def string }{
			{"listen", `":8080"`},
			{"admin-listen", `":9090"`},
			{"upstream", ""},
			{"upstream-timeout", "15s"},
			{"demo", ""},
			{"max-streams", "3"},
			{"session-ttl", "1m0s"},
			{"user-header", `"X-User-Id"`},
			{"session-header", `"X-Session-Id"`},
			{"max-users", "1000000"},
			{"on-full", `"evict"`},
			{"store", `"memory"`},
			{"store-failure", `"open"`},
			{"store-timeout", "100ms"},
			{"refresh-interval", "min(10s, session-ttl/4)"},
			{"state-file", ""},
			{"admin-token", ""},
			{"shutdown-timeout", "30s"},
			{"log-format", `"json"`},
		} {
			entry := flagEntry(help, f.name)
			if !assert.NotEmpty(t, entry, "-%s is listed", f.name) {
				continue
			}
			assert.Contains(t, entry, "["+config.EnvName(f.name)+"]")
			if f.def != "" {
				assert.Contains(t, entry, "(default "+f.def+")", "-%s shows its default", f.name)
			}
		}
	}
}

// flagEntry returns the lines of help that describe -name.
func flagEntry(help, name string) string {
	lines := strings.Split(help, "\n")
	for i, l := range lines {
		if l == "  -"+name || strings.HasPrefix(l, "  -"+name+" ") {
			entry := l
			for _, next := range lines[i+1:] {
				if !strings.HasPrefix(next, "    \t") {
					break
				}
				entry += "\n" + next
			}
			return entry
		}
	}
	return ""
}

func TestVersionNeedsNoOtherFlag(t *testing.T) {
	t.Parallel()
	c, err := parse([]string{"-version"}, nil)
	require.NoError(t, err, "no -upstream needed to print the version")
	assert.True(t, c.Version)
}
