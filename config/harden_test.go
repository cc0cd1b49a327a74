package config_test

import (
	"io"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/config"
)

func TestHardeningFlags(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := config.Parse("streamgate", []string{"-demo"}, env(nil), io.Discard)
	require.NoError(t, err)
	assert.False(t, c.SharedCache)
	assert.Empty(t, c.TrustedProxies)
	assert.Equal(t, "off", c.SessionBinding)
	assert.False(t, c.BindNetwork())

	c, err = config.Parse("streamgate", []string{"-demo", "-shared-cache", "-session-binding", "network"},
		env(map[string]string{"STREAMGATE_TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8,192.0.2.7"}), io.Discard)
	require.NoError(t, err)
	assert.True(t, c.SharedCache)
	assert.True(t, c.BindNetwork())
	p, err := c.TrustedPrefixes()
	require.NoError(t, err)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("192.0.2.7/32")}, p)

	for _, tc := range []struct{ name, flag, value string }{
		{"a bad CIDR", "-trusted-proxies", "10.0.0.0/33"},
		{"not an address", "-trusted-proxies", "proxy.internal"},
		{"a bad binding", "-session-binding", "device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("streamgate", []string{"-demo", tc.flag, tc.value}, env(nil), io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.flag)
		})
	}
}
