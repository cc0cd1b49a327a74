package config_test

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/config"
)

func TestSettingsMaskSecretsAndMarkDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse("streamgate", []string{
		"-max-streams", "5", "-admin-token", "hunter2",
		"-upstream", "http://origin:s3cret@origin.internal:8081/vod",
	}, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	cfg.Store = "redis://default:p4ss@redis:6379/0?password=p4ss"

	got := map[string]config.Setting{}
	for _, s := range cfg.Settings() {
		got[s.Flag] = s
	}
	_, hasVersion := got["version"]
	assert.False(t, hasVersion, "-version is an action, not a setting")

	tests := []struct {
		name, flag, value string
		isDefault         bool
	}{
		{name: "changed value", flag: "max-streams", value: "5"},
		{name: "default value", flag: "listen", value: ":8080", isDefault: true},
		{name: "token masked", flag: "admin-token", value: config.Masked},
		{name: "URL password masked", flag: "upstream", value: "http://origin:xxxxx@origin.internal:8081/vod"},
		{name: "store password masked", flag: "store", value: "redis://default:xxxxx@redis:6379/0?password=xxxxx"},
		{name: "derived default shown", flag: "refresh-interval", value: "10s (derived from -session-ttl)", isDefault: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, ok := got[tt.flag]
			require.True(t, ok, "flag %s listed", tt.flag)
			assert.Equal(t, tt.value, s.Value)
			assert.Equal(t, tt.isDefault, s.Default)
			assert.NotEmpty(t, s.Help)
		})
	}
	for _, s := range cfg.Settings() {
		assert.NotContains(t, s.Value, "hunter2", s.Flag)
		assert.NotContains(t, s.Value, "s3cret", s.Flag)
		assert.False(t, strings.Contains(s.Value, "p4ss"), s.Flag)
	}
}
