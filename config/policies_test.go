package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/config"
)

func TestPolicyAndAccessLogDefaultsAreSPECs(t *testing.T) {
	t.Parallel()
	c, err := parse([]string{"-demo"}, nil)
	require.NoError(t, err)
	assert.Equal(t, config.OnLimitRefuse, c.OnLimit)
	assert.Equal(t, 10*time.Minute, c.TombstoneTTL)
	assert.True(t, c.Enforce)
	assert.Equal(t, config.AccessLogStdout, c.AccessLog)
}

func TestPolicyAndAccessLogFromTheEnvironment(t *testing.T) {
	t.Parallel()
	c, err := parse(nil, env{
		"STREAMGATE_DEMO":          "true",
		"STREAMGATE_ON_LIMIT":      "evict-oldest",
		"STREAMGATE_TOMBSTONE_TTL": "2m",
		"STREAMGATE_ENFORCE":       "false",
		"STREAMGATE_ACCESS_LOG":    "/var/log/streamgate/access.log",
	})
	require.NoError(t, err)
	assert.Equal(t, config.OnLimitEvictOldest, c.OnLimit)
	assert.Equal(t, 2*time.Minute, c.TombstoneTTL)
	assert.False(t, c.Enforce)
	assert.Equal(t, "/var/log/streamgate/access.log", c.AccessLog)

	c, err = parse([]string{"-access-log", "off", "-on-limit", "refuse"}, env{"STREAMGATE_DEMO": "1", "STREAMGATE_ON_LIMIT": "evict-oldest"})
	require.NoError(t, err)
	assert.Equal(t, config.AccessLogOff, c.AccessLog)
	assert.Equal(t, config.OnLimitRefuse, c.OnLimit, "the flag wins")
}

func TestBadPolicyValuesNameTheFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		flag string
	}{
		{name: "on-limit unknown", args: []string{"-demo", "-on-limit", "kick"}, flag: "on-limit"},
		{name: "tombstone ttl negative", args: []string{"-demo", "-tombstone-ttl", "-1m"}, flag: "tombstone-ttl"},
		{name: "tombstone ttl without a unit", args: []string{"-demo", "-tombstone-ttl", "600"}, flag: "tombstone-ttl"},
		{name: "enforce not a boolean", args: []string{"-demo", "-enforce=maybe"}, flag: "enforce"},
		{name: "access log empty", args: []string{"-demo", "-access-log", ""}, flag: "access-log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(tt.args, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "-"+tt.flag)
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}
