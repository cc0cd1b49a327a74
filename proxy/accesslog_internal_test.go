package proxy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendJSONStringReadsBackAsJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{name: "plain", in: "/vod/seg-1.ts", want: "/vod/seg-1.ts"},
		{name: "quote and backslash", in: `a"b\c`, want: `a"b\c`},
		{name: "control characters", in: "a\x00b\x01c\nd\re\tf\x1f", want: "a\x00b\x01c\nd\re\tf\x1f"},
		{name: "UTF-8", in: "Wohnzimmer-Fernseher é ✓", want: "Wohnzimmer-Fernseher é ✓"},
		{name: "invalid UTF-8", in: "a\xffb\xc3", want: "a\ufffdb\ufffd"},
		{name: "empty", in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := appendJSONString(nil, tt.in)
			assert.False(t, strings.ContainsAny(string(b), "\n\r"), "one line")
			var got string
			require.NoError(t, json.Unmarshal(b, &got), "%s", b)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestAppendTimeIsRFC3339WithNanoseconds(t *testing.T) {
	t.Parallel()
	f := &lineFormatter{}
	berlin := time.FixedZone("CET", 3600)
	for _, tm := range []time.Time{
		time.Date(2026, 11, 30, 8, 21, 9, 123456789, time.UTC),
		time.Date(2026, 11, 30, 8, 21, 9, 5, time.UTC), // the same second, cached
		time.Date(2026, 11, 30, 8, 21, 10, 0, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2027, 1, 1, 0, 59, 59, 999999999, berlin), // a zone: written in UTC
	} {
		got := string(f.appendTime(nil, tm))
		assert.Equal(t, tm.UTC().Format("2006-01-02T15:04:05.000000000Z"), got)
		back, err := time.Parse(time.RFC3339Nano, got)
		require.NoError(t, err)
		assert.True(t, back.Equal(tm))
	}
}
