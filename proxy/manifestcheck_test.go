package proxy_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/proxy/proxytest"
)

// pathInfoOrigin serves as Apache does with AcceptPathInfo, or a script with
// path info: a path under a segment's name, or under the script, gets the
// segment.
func pathInfoOrigin(w http.ResponseWriter, r *http.Request) {
	gz := func(ct string, body string) {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(body))
		_ = zw.Close()
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(b.Bytes())
	}
	playlist := "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg-1.m4s\n"
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/vod/gz/seg-1.m4s/"):
		gz("video/iso.segment", "segment-bytes")
	case strings.Contains(p, ".m4s/"), strings.HasPrefix(p, "/cgi/seg/"):
		w.Header().Set("Content-Type", "video/iso.segment")
		_, _ = w.Write([]byte("\x00\x00\x00\x18stypmsdh segment-bytes"))
	case p == "/vod/index.m3u8":
		_, _ = w.Write([]byte(playlist))
	case p == "/vod/bom.m3u8":
		_, _ = w.Write([]byte("\xef\xbb\xbf\r\n" + playlist))
	case p == "/vod/manifest.mpd":
		_, _ = w.Write([]byte(`<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011"/>`))
	case p == "/vod/gz.m3u8":
		gz("application/vnd.apple.mpegurl", playlist)
	case p == "/vod/stored.mpd": // an object stored compressed, typed loosely
		gz("binary/octet-stream", `<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011"/>`)
	case p == "/vod/blank.m3u8":
		_, _ = w.Write([]byte(strings.Repeat(" ", 70) + "segment-bytes"))
	case p == "/vod/br/seg-1.m4s/x.m3u8":
		w.Header().Set("Content-Type", "video/iso.segment")
		w.Header().Set("Content-Encoding", "br")
		_, _ = w.Write([]byte("segment-bytes"))
	default:
		http.NotFound(w, r)
	}
}

// TestSegmentBehindPathInfoIsNoManifest: a manifest passes without a
// session, and is told by its path's ending. Behind an origin that serves
// path info, /seg-1.m4s/x.m3u8 is the segment: it must not pass as a
// manifest (a red-team pass, against Apache). The origin's answer to a
// manifest request without a session must be a manifest.
func TestSegmentBehindPathInfoIsNoManifest(t *testing.T) {
	t.Parallel()
	g := newGateway(t, pathInfoOrigin, gatewayOptions{})
	refused := []string{"/vod/360p/seg-1.m4s/x.m3u8", "/vod/360p/seg-1.m4s/x.mpd", "/cgi/seg/x.m3u8?n=1", "/vod/gz/seg-1.m4s/x.m3u8",
		"/vod/br/seg-1.m4s/x.m3u8", "/vod/blank.m3u8"}
	for _, path := range refused {
		resp, body := g.get(t, path, "alice", "")
		p := proxytest.AssertProblem(t, resp, body, http.StatusBadGateway)
		assert.Contains(t, p["type"], "not-a-manifest", path)
		assert.NotContains(t, string(body), "segment-bytes", path)
	}
	assert.Equal(t, float64(len(refused)), proxytest.MetricValue(t, g.reg, "streamgate_upstream_errors_total", "reason", "not_manifest"))

	// Manifests still pass without a session: plain, after a byte-order
	// mark, as XML, compressed (read decoded), and a 404 as it is.
	for _, path := range []string{"/vod/index.m3u8", "/vod/bom.m3u8", "/vod/manifest.mpd", "/vod/gz.m3u8", "/vod/stored.mpd"} {
		resp, body := g.get(t, path, "alice", "")
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
	}
	resp, body := g.get(t, "/vod/missing.m3u8", "alice", "")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, string(body))

	// With a session the request took a slot, but a manifest delivers no
	// media time: the segment behind path info is cut before its first
	// byte. A playlist with the session passes.
	for _, path := range []string{"/vod/360p/seg-1.m4s/x.m3u8", "/cgi/seg/x.mpd"} {
		resp, err := g.client.Do(g.request(t, http.MethodGet, path, "alice", "tv"))
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			assert.Error(t, rerr, "%s: the answer is cut", path)
			assert.NotContains(t, string(body), "segment-bytes", path)
		}
	}
	resp, body = g.get(t, "/vod/bom.m3u8", "alice", "tv")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Contains(t, string(body), "#EXTM3U")
}
