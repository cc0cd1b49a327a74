package limiter_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/streamgate/streamgate/limiter"
)

func TestNetworkOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"one IPv4 /24", "192.0.2.1", "192.0.2.254", true},
		{"two IPv4 /24s", "192.0.2.1", "192.0.3.1", false},
		{"an IPv4-mapped address is IPv4", "::ffff:192.0.2.1", "192.0.2.7", true},
		{"one IPv6 /56", "2001:db8:0:100::1", "2001:db8:0:1ff:ffff::1", true},
		{"two IPv6 /56s", "2001:db8:0:100::1", "2001:db8:0:200::1", false},
		{"IPv4 is never IPv6", "0.0.0.1", "::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := limiter.NetworkOf(netip.MustParseAddr(tt.a)), limiter.NetworkOf(netip.MustParseAddr(tt.b))
			assert.NotZero(t, a)
			assert.Equal(t, tt.same, a == b)
		})
	}
	assert.Zero(t, limiter.NetworkOf(netip.Addr{}), "no address: unknown")
}
