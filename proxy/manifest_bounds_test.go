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
	g, token := queryTokenGateUsers(t, h)
	return g, func(session string) string { return token("ivy", session) }
}

// queryTokenGateUsers is queryTokenGate with tokens for any user.
func queryTokenGateUsers(t *testing.T, h http.HandlerFunc) (*proxytest.Gate, func(user, session string) string) {
	t.Helper()
	k := proxytest.TestKeys()
	opts := tokenauth.JWTOptions{SecretFile: proxytest.WriteFile(t, "secret", k.Secret), SessionClaim: "sid", Param: "token"}
	g := proxytest.NewGate(t, proxytest.GateOptions{JWT: &opts, Limit: 1000, Handler: h})
	return g, func(user, session string) string {
		return proxytest.Mint(t, jwt.SigningMethodHS256, k.Secret, "", proxytest.ClaimsFor(g.Clock.Now(), user, session))
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
// rewritten playlist hold it in the gate's memory. All of them together hold
// at most the rewrite bound, one user's at most its share of it, and the
// rest are told to retry (503): a client that opens connection after
// connection under one account and reads nothing leaves every other user's
// playlists served.
func TestSlowReadersOfARewrittenPlaylist(t *testing.T) {
	pl := bigPlaylist(20_000) // 0.7 MiB, about 4 MiB with a token on each URI
	g, token := queryTokenGateUsers(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		w.Header().Set("Content-Length", strconv.Itoa(len(pl)))
		_, _ = w.Write(pl)
	})
	const readers = 40
	for _, tc := range []struct {
		name  string
		user  func(i int) string
		bound int64
	}{
		{"one account", func(int) string { return "ivy" }, 16 << 20},
		{"many accounts", func(i int) string { return "user-" + strconv.Itoa(i) }, 64 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			tokens := make([]string, readers)
			for i := range tokens {
				tokens[i] = token(tc.user(i), "slow-"+strconv.Itoa(i))
			}
			counts, hangUp := slowReaders(t, g.URL, "/vod/index.m3u8", tokens)
			defer hangUp()
			runtime.GC()
			var during runtime.MemStats
			runtime.ReadMemStats(&during)
			grown := int64(during.HeapInuse) - int64(before.HeapInuse)
			t.Logf("answers %v; heap in use grew by %d MiB while %d players did not read", counts, grown>>20, readers)
			assert.Equal(t, readers, counts[200]+counts[503], "every player got its playlist or a 503: %v", counts)
			assert.Positive(t, counts[200])
			assert.Positive(t, counts[503], "the bound refused some")
			assert.Less(t, grown, tc.bound+(24<<20), "the held playlists stay under the bound")

			if tc.bound < 64<<20 {
				// Another user, while the first's players still hold.
				resp, body := g.Do(t, mustGet(t, g.URL+"/vod/index.m3u8?token="+token("june", "s")))
				assert.Equal(t, http.StatusOK, resp.StatusCode, "another user's playlist is served: %s", body)
				assert.Equal(t, 20_000, strings.Count(string(body), ".ts?token="), "whole, every URI with its token")
			}
			hangUp()
			eventually(t, "the budget comes back once the players hang up", func() bool {
				r, _ := g.Do(t, mustGet(t, g.URL+"/vod/index.m3u8?token="+token(tc.user(0), "later")))
				return r.StatusCode == http.StatusOK
			})
		})
	}
}

// slowReaders asks for path on one connection per token and reads only the
// status line of each answer, through a small receive window. It returns
// how many of each status came, and what closes the connections.
func slowReaders(t *testing.T, url, path string, tokens []string) (map[int]int, func()) {
	t.Helper()
	addr := strings.TrimPrefix(url, "http://")
	statuses := make(chan int, len(tokens))
	var conns []net.Conn
	hangUp := func() {
		for _, c := range conns {
			_ = c.Close()
		}
		conns = nil
	}
	for _, tok := range tokens {
		c, err := net.Dial("tcp", addr)
		if !assert.NoError(t, err) {
			break
		}
		conns = append(conns, c)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4 << 10)
		}
		_, err = fmt.Fprintf(c, "GET %s?token=%s HTTP/1.1\r\nHost: %s\r\n\r\n", path, tok, addr)
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
	for range conns {
		counts[<-statuses]++
	}
	return counts, hangUp
}

func mustGet(t *testing.T, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	return req
}
