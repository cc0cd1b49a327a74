package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
)

// TestSegmentDurationIsLearntOnTheWayOut: a session's playlist is read as it
// passes to the player; its media requests without CMCD d then count its
// target duration each, unless the answer could not tell it.
func TestSegmentDurationIsLearntOnTheWayOut(t *testing.T) {
	t.Parallel()
	const playlist = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg-0.ts\n"
	tests := []struct {
		name   string
		answer func(w http.ResponseWriter)
		want   time.Duration // the media ten segments then count
	}{
		{"a plain playlist", func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, playlist)
		}, 40 * time.Second},
		{"written a byte at a time", func(w http.ResponseWriter) {
			for i := range len(playlist) {
				_, _ = io.WriteString(w, playlist[i:i+1])
				w.(http.Flusher).Flush()
			}
		}, 40 * time.Second},
		{"ending in the tag's number", func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, "#EXTM3U\n#EXT-X-TARGETDURATION:6")
		}, 60 * time.Second},
		{"compressed by the origin anyway", func(w http.ResponseWriter) {
			w.Header().Set("Content-Encoding", "br")
			_, _ = io.WriteString(w, playlist)
		}, 0},
		{"not found", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, playlist)
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var askedEncoding []string
			g := newGateway(t, func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, ".m3u8") {
					mu.Lock()
					askedEncoding = r.Header.Values("Accept-Encoding")
					mu.Unlock()
					w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
					tt.answer(w)
					return
				}
				okOrigin(w, r)
			}, gatewayOptions{rules: limiter.Rules{MaxLease: 5 * time.Minute}})
			t0 := g.clock.Now()

			req := g.request(t, http.MethodGet, "/live/index.m3u8", "alice", "tv")
			req.Header.Set("Accept-Encoding", "gzip, br")
			_, body := g.do(t, req)
			require.NotEmpty(t, body)
			mu.Lock()
			assert.Empty(t, askedEncoding, "the playlist is asked for uncompressed, to be read as it passes")
			mu.Unlock()
			for n := range 10 {
				resp, body := g.get(t, fmt.Sprintf("/live/seg-%d.ts", n), "alice", "tv")
				require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
			}
			sessions, err := g.memory.List(t.Context(), "alice")
			require.NoError(t, err)
			require.Len(t, sessions, 1)
			assert.Equal(t, t0.Add(tt.want+testTTL), sessions[0].ExpiresAt)
		})
	}
}
