package proxy_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/proxy/proxytest"
	"github.com/streamgate/streamgate/proxy/tokenauth"
)

// bigPlaylist is a media playlist of n segments, about 40 bytes a line.
func bigPlaylist(n int) []byte {
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n#EXT-X-TARGETDURATION:2\n")
	for i := range n {
		fmt.Fprintf(&b, "#EXTINF:2.0,\nsegment-%09d.ts\n", i)
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	return b.Bytes()
}

var gzipBomb = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = zw.Write([]byte("#EXTM3U\n"))
	line := bytes.Repeat([]byte("#EXT-X-COMMENT:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"), 1<<10)
	for range (64 << 20) / len(line) { // 64 MiB decoded
		_, _ = zw.Write(line)
	}
	_ = zw.Close()
	return b.Bytes()
})

func queryTokenGate(t *testing.T, h http.HandlerFunc) (*proxytest.Gate, func(session string) string) {
	t.Helper()
	k := proxytest.TestKeys()
	opts := tokenauth.JWTOptions{SecretFile: proxytest.WriteFile(t, "secret", k.Secret), SessionClaim: "sid", Param: "token"}
	g := proxytest.NewGate(t, proxytest.GateOptions{JWT: &opts, Limit: 1000, Handler: h})
	return g, func(session string) string {
		return proxytest.Mint(t, jwt.SigningMethodHS256, k.Secret, "", proxytest.ClaimsFor(g.Clock.Now(), "ivy", session))
	}
}

// TestGzipBombPlaylist: a playlist that decodes to more than 16 MiB is
// refused (502), and one streamed without a length is cut at 16 MiB.
func TestGzipBombPlaylist(t *testing.T) {
	t.Parallel()
	bomb := gzipBomb()
	for _, tc := range []struct {
		name   string
		length bool
	}{{"with a length", true}, {"chunked", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g, token := queryTokenGate(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
				w.Header().Set("Content-Encoding", "gzip")
				if tc.length {
					w.Header().Set("Content-Length", strconv.Itoa(len(bomb)))
				}
				_, _ = w.Write(bomb)
			})
			resp, err := g.Client.Get(g.URL + "/live/index.m3u8?token=" + token("s"))
			require.NoError(t, err)
			defer resp.Body.Close()
			n, _ := io.Copy(io.Discard, resp.Body)
			if tc.length {
				assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
			}
			assert.LessOrEqual(t, n, int64(16<<20)+(1<<20), "decoding stopped at the cap")
		})
	}
}

// TestSlowReadersOfARewrittenPlaylist: players that do not read a large
// rewritten playlist hold it in the gate's memory; all of them together
// hold at most the rewrite bound, and the rest are told to retry (503).
func TestSlowReadersOfARewrittenPlaylist(t *testing.T) {
	pl := bigPlaylist(20_000) // 0.7 MiB, about 4 MiB with a token on each URI
	g, token := queryTokenGate(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		w.Header().Set("Content-Length", strconv.Itoa(len(pl)))
		_, _ = w.Write(pl)
	})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	const readers = 40
	addr := strings.TrimPrefix(g.URL, "http://")
	statuses := make(chan int, readers)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for i := range readers {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		conns = append(conns, c)
		// A small receive window: the player reads the status line only.
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4 << 10)
		}
		_, err = fmt.Fprintf(c, "GET /vod/index.m3u8?token=%s HTTP/1.1\r\nHost: %s\r\n\r\n", token("slow-"+strconv.Itoa(i)), addr)
		require.NoError(t, err)
		go func() {
			buf := make([]byte, 12)
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.ReadFull(c, buf); err != nil {
				statuses <- 0
				return
			}
			code, _ := strconv.Atoi(string(buf[9:12]))
			statuses <- code
		}()
	}
	counts := map[int]int{}
	for range readers {
		counts[<-statuses]++
	}
	runtime.GC()
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	grown := int64(during.HeapInuse) - int64(before.HeapInuse)
	t.Logf("answers %v; heap in use grew by %d MiB while %d players did not read", counts, grown>>20, readers)
	assert.Equal(t, readers, counts[200]+counts[503], "every player got its playlist or a 503: %v", counts)
	assert.Positive(t, counts[200])
	assert.Positive(t, counts[503], "the bound refused some")
	assert.Less(t, grown, int64(64<<20)+(24<<20), "the held playlists stay under the rewrite bound")

	for _, c := range conns {
		_ = c.Close()
	}
	conns = nil
	eventually(t, "the budget comes back once the players hang up", func() bool {
		r, _ := g.Do(t, mustGet(t, g.URL+"/vod/index.m3u8?token="+token("later")))
		return r.StatusCode == http.StatusOK
	})
}

func mustGet(t *testing.T, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	return req
}
