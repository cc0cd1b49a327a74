package limiter

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPackMeta(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("u", 10_000)
	tests := []struct {
		name   string
		id     string
		dev    Device
		wantID string
		want   Device
	}{
		{"no device", "tv", Device{}, "tv", Device{}},
		{"user agent and address", "tv", Device{UserAgent: "Player/1.0 (TV)", Address: "192.0.2.7:5000"}, "tv", Device{UserAgent: "Player/1.0 (TV)", Address: "192.0.2.7:5000"}},
		{"address only", "s", Device{Address: "[2001:db8::1]:443"}, "s", Device{Address: "[2001:db8::1]:443"}},
		{"a huge user agent is clipped", "s", Device{UserAgent: long}, "s", Device{UserAgent: long[:maxDeviceField]}},
		{"NUL bytes cannot split the record", "s", Device{UserAgent: "a\x00b", Address: "c\x00d"}, "s", Device{UserAgent: "ab", Address: "cd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			meta := packMeta(tt.id, tt.dev)
			assert.Equal(t, tt.wantID, metaID(meta))
			assert.Equal(t, tt.want, metaDevice(meta))
		})
	}
}
