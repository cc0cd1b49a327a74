package playertest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ffmpegRead reads 6 s of url through ffmpeg, decoding to nothing, with the
// given request headers ("Name: value"); it returns what ffmpeg said at
// warning level (where it names an HTTP status) and its exit error.
func ffmpegRead(t *testing.T, url string, headers ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "warning"}
	if len(headers) > 0 {
		args = append(args, "-headers", strings.Join(headers, "\r\n")+"\r\n")
	}
	args = append(args, "-i", url, "-t", "6", "-f", "null", "-")
	out, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput()
	require.NoError(t, ctx.Err(), "ffmpeg hung: %s", out)
	return string(out), err
}

// TestFFmpegClients: ffmpeg as a player: three readers of one user decode
// without an error line, a fourth exits non-zero on the 429.
func TestFFmpegClients(t *testing.T) {
	for _, tc := range []struct{ name, path string }{
		{"HLS", vodHLS},
		{"DASH", vodDASH},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			needMedia(t)
			g := startGate(t)
			var wg sync.WaitGroup
			errs, outs := make([]error, 3), make([]string, 3)
			for i := range 3 {
				wg.Go(func() {
					outs[i], errs[i] = ffmpegRead(t, g.URL+tc.path, "X-User-Id: bob", fmt.Sprintf("X-Session-Id: reader-%d", i+1))
				})
			}
			wg.Wait()
			for i := range 3 {
				assert.NoError(t, errs[i], "reader %d: %s", i+1, outs[i])
				assert.NotContains(t, strings.ToLower(outs[i]), "error", "reader %d", i+1)
			}
			require.Equal(t, 3, g.streams(t, "bob").Active)

			out, err := ffmpegRead(t, g.URL+tc.path, "X-User-Id: bob", "X-Session-Id: reader-4")
			require.Error(t, err, "the fourth reader must fail: %s", out)
			assert.Contains(t, out, "HTTP error 429", "the fourth reader names the refusal")
			assert.Equal(t, 3, g.streams(t, "bob").Active, "the refusal took no slot")
		})
	}
}
