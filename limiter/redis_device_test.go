package limiter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRedisDeviceEncoding: a device round-trips with and without a content
// id, and a record written before content ids were kept reads as before.
func TestRedisDeviceEncoding(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		dev  Device
	}{
		{"user agent and address", Device{UserAgent: "Lavf/59.27.100", Address: "192.0.2.7:5000"}},
		{"with a content id", Device{UserAgent: "Lavf/59.27.100", Address: "192.0.2.7:5000", ContentID: "film-42"}},
		{"content id with a semicolon", Device{UserAgent: "x", Address: "[2001:db8::1]:443", ContentID: "a;b"}},
		{"content id only", Device{ContentID: "film-42"}},
		{"nothing", Device{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeDevice(encodeDevice(tt.dev))
			require.NoError(t, err)
			assert.Equal(t, tt.dev, got)
		})
	}
	t.Run("a record of the previous format", func(t *testing.T) {
		t.Parallel()
		got, err := decodeDevice("14:Lavf/59.27.100192.0.2.7:5000")
		require.NoError(t, err)
		assert.Equal(t, Device{UserAgent: "Lavf/59.27.100", Address: "192.0.2.7:5000"}, got)
	})
}
