package manifest_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/manifest"
	"github.com/streamgate/streamgate/proxy/proxytest"
	"github.com/streamgate/streamgate/proxy/tokenauth"
)

var updateGolden = manifest.UpdateGolden

// playerHost is the host the player believes it talks to.
const playerHost = "stream.example.com"

// playlistGate is a jwt gate whose origin serves testdata/hls, as a typical
// packager does: playlists labelled by media type, gzip when the player asks.
func playlistGate(t *testing.T, serve http.HandlerFunc) (*proxytest.Gate, string) {
	t.Helper()
	k := proxytest.TestKeys()
	if serve == nil {
		serve = func(w http.ResponseWriter, r *http.Request) {
			b, err := os.ReadFile(filepath.Join("testdata", "hls", filepath.Base(r.URL.Path)))
			if err != nil || !strings.HasSuffix(r.URL.Path, ".m3u8") {
				w.Header().Set("Content-Type", "video/mp4")
				_, _ = w.Write([]byte("segment-bytes"))
				return
			}
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			w.Header().Set("ETag", `"v1"`)
			w.Header().Set("Cache-Control", "public, max-age=2")
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			_, _ = w.Write(b)
		}
	}
	opts := tokenauth.JWTOptions{SecretFile: proxytest.WriteFile(t, "secret", k.Secret), SessionClaim: "sid",
		Cookie: "streamgate_token", Param: "token", CacheSize: 64}
	g := proxytest.NewGate(t, proxytest.GateOptions{JWT: &opts, Handler: serve})
	token := proxytest.Mint(t, jwt.SigningMethodHS256, k.Secret, "", proxytest.ClaimsFor(g.Clock.Now(), "gina", "tv"))
	return g, token
}

// getAs sends a GET as the player would: to playerHost, with extra headers.
func getAs(t *testing.T, g *proxytest.Gate, pathAndQuery string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.URL+pathAndQuery, nil)
	require.NoError(t, err)
	req.Host = playerHost
	for k, v := range header {
		req.Header[k] = v
	}
	return g.Do(t, req)
}

func TestPlaylistRewritingGolden(t *testing.T) {
	t.Parallel()
	g, token := playlistGate(t, nil)
	for _, name := range []string{"master", "media", "media-crlf", "llhls"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp, body := getAs(t, g, "/vod/42/"+name+".m3u8?token="+token, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
			got := bytes.ReplaceAll(body, []byte(token), []byte("TOKEN"))
			golden := filepath.Join("testdata", "hls", name+".golden")
			if *updateGolden {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))

			assert.Equal(t, "application/vnd.apple.mpegurl", resp.Header.Get("Content-Type"))
			assert.Equal(t, strconv.Itoa(len(body)), resp.Header.Get("Content-Length"),
				"the origin sent a length, so the rewritten playlist has its corrected one")
			assert.Empty(t, resp.TransferEncoding)
			assert.Empty(t, resp.Header.Get("ETag"))
			assert.Equal(t, "private, no-store", resp.Header.Get("Cache-Control"))
		})
	}
}

// TestNotAPlaylistIsCut: an answer to a playlist's path that is no
// playlist (a segment behind path info) took a slot but delivers no media
// time: the gate cuts it before its first byte rather than pass it on.
func TestNotAPlaylistIsCut(t *testing.T) {
	t.Parallel()
	g, token := playlistGate(t, nil)
	req, err := http.NewRequest(http.MethodGet, g.URL+"/vod/42/not-a-playlist.m3u8?token="+token, nil)
	require.NoError(t, err)
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	resp, err := client.Do(req)
	if err != nil {
		return // cut before the status line reached the player
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Error(t, err, "the answer is cut")
	assert.NotContains(t, string(body), "segment bytes")
}

// TestPlaylistRewritingHead: a HEAD answer carries the origin's length of a
// playlist that would be rewritten, so the length is dropped, not passed.
func TestPlaylistRewritingHead(t *testing.T) {
	t.Parallel()
	g, token := playlistGate(t, nil)
	req, err := http.NewRequest(http.MethodHead, g.URL+"/vod/42/media.m3u8?token="+token, nil)
	require.NoError(t, err)
	req.Host = playerHost
	resp, body := g.Do(t, req)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, body)
	assert.Empty(t, resp.Header.Get("Content-Length"))
	assert.Equal(t, "private, no-store", resp.Header.Get("Cache-Control"), "the HEAD answer describes the rewritten playlist")
}

func TestPlaylistRewritingLeavesOthersAlone(t *testing.T) {
	t.Parallel()
	g, token := playlistGate(t, nil)
	original, err := os.ReadFile(filepath.Join("testdata", "hls", "media.m3u8"))
	require.NoError(t, err)

	t.Run("token in the Authorization header", func(t *testing.T) {
		t.Parallel()
		resp, body := getAs(t, g, "/vod/42/media.m3u8", http.Header{"Authorization": {"Bearer " + token}})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, string(original), string(body))
		assert.Equal(t, `"v1"`, resp.Header.Get("ETag"))
		assert.EqualValues(t, len(original), resp.ContentLength)
	})
	t.Run("token in the cookie", func(t *testing.T) {
		t.Parallel()
		resp, body := getAs(t, g, "/vod/42/media.m3u8?token=ignored", http.Header{"Cookie": {"streamgate_token=" + token}})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, string(original), string(body))
	})
	t.Run("segment with the token in the query", func(t *testing.T) {
		t.Parallel()
		resp, body := getAs(t, g, "/vod/42/1202.ts?token="+token, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "segment-bytes", string(body))
		assert.EqualValues(t, len("segment-bytes"), resp.ContentLength, "Content-Length passes unchanged")
		assert.Equal(t, "video/mp4", resp.Header.Get("Content-Type"))
	})
}

func TestPlaylistRewritingEncodingsAndTypes(t *testing.T) {
	t.Parallel()
	media, err := os.ReadFile(filepath.Join("testdata", "hls", "media.m3u8"))
	require.NoError(t, err)
	golden, err := os.ReadFile(filepath.Join("testdata", "hls", "media.golden"))
	require.NoError(t, err)
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(b)
		require.NoError(t, zw.Close())
		return buf.Bytes()
	}
	tests := []struct {
		name        string
		path        string
		contentType string
		encoding    string
		status      int
		body        []byte
		want        []byte
	}{
		{"gzip by media type, no .m3u8 in the path", "/manifest?format=hls", "application/x-mpegURL; charset=utf-8", "gzip", 200, gz(media), golden},
		{"by path, generic media type", "/vod/42/media.m3u8", "text/plain", "", 200, media, golden},
		{"by path, no media type", "/vod/42/media.m3u8", "", "", 200, media, golden},
		{"brotli cannot be rewritten and passes as is", "/vod/42/media.m3u8", "application/vnd.apple.mpegurl", "br", 200, []byte("opaque"), []byte("opaque")},
		{"an error page is not a playlist", "/vod/42/media.m3u8", "text/html", "", 404, []byte("<h1>not found</h1>"), []byte("<h1>not found</h1>")},
		{"a JSON answer is not a playlist", "/api/info", "application/json", "", 200, []byte(`{"uri":"x.m3u8"}`), []byte(`{"uri":"x.m3u8"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, token := playlistGate(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				} else {
					w.Header()["Content-Type"] = nil // no sniffing
				}
				if tt.encoding != "" {
					w.Header().Set("Content-Encoding", tt.encoding)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write(tt.body)
			})
			sep := "?"
			if strings.Contains(tt.path, "?") {
				sep = "&"
			}
			resp, body := getAs(t, g, tt.path+sep+"token="+token, http.Header{"Accept-Encoding": {"gzip"}})
			require.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, string(tt.want), string(bytes.ReplaceAll(body, []byte(token), []byte("TOKEN"))))
			if !bytes.Equal(tt.want, tt.body) {
				assert.Empty(t, resp.Header.Get("Content-Encoding"), "decoded")
			} else {
				assert.Equal(t, tt.encoding, resp.Header.Get("Content-Encoding"))
			}
		})
	}

	t.Run("a .m3u8 request asks the origin for an uncompressed body", func(t *testing.T) {
		t.Parallel()
		g, token := playlistGate(t, nil)
		resp, _ := getAs(t, g, "/vod/42/media.m3u8?token="+token, http.Header{"Accept-Encoding": {"gzip"}})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Empty(t, g.Origin.LastRequest().Header.Get("Accept-Encoding"))
		resp, _ = getAs(t, g, "/vod/42/1.ts?token="+token, http.Header{"Accept-Encoding": {"gzip"}})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "gzip", g.Origin.LastRequest().Header.Get("Accept-Encoding"), "segments keep their headers")
	})
}

// TestPlaylistRewritingStreams proves that a playlist is rewritten line by
// line as it arrives: the player receives the first lines while the origin
// still holds the rest back, as an LL-HLS blocking reload does.
func TestPlaylistRewritingStreams(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	g, token := playlistGate(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		_, _ = io.WriteString(w, "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nfirst.mp4\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "#EXTINF:4,\nsecond.mp4\n")
	})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/live.m3u8?token="+token, nil)
	require.NoError(t, err)
	resp, err := g.Client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	var lines []string
	for len(lines) < 4 {
		line, err := br.ReadString('\n')
		require.NoError(t, err, "the first lines arrive before the origin sends the rest")
		lines = append(lines, strings.TrimSuffix(line, "\n"))
	}
	assert.Equal(t, "first.mp4?token="+token, lines[3])
	close(release)
	rest, err := io.ReadAll(br)
	require.NoError(t, err)
	assert.Equal(t, "#EXTINF:4,\nsecond.mp4?token="+token+"\n", string(rest))
}

// TestPlaylistRewritingNeedsJWT: in header mode a token parameter means
// nothing and playlists pass byte for byte.
func TestPlaylistRewritingNeedsJWT(t *testing.T) {
	t.Parallel()
	media, err := os.ReadFile(filepath.Join("testdata", "hls", "media.m3u8"))
	require.NoError(t, err)
	g := proxytest.NewGate(t, proxytest.GateOptions{Header: identity.NewHeaderIdentity("X-User-Id", "X-Session-Id"),
		Handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			_, _ = w.Write(media)
		}})
	resp, body := getAs(t, g, "/media.m3u8?token=abc", http.Header{"X-User-Id": {"u"}, "X-Session-Id": {"s"}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, string(media), string(body))
	assert.EqualValues(t, len(media), resp.ContentLength)
}
