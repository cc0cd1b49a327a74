package proxy

import (
	"encoding/json"
	"strings"
	"testing"

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
