package demo_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/proxy/demo"
)

func serve(t *testing.T, o *demo.Origin, method, path string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	rec := httptest.NewRecorder()
	o.ServeHTTP(rec, r)
	resp := rec.Result()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

func TestDemoMasterPlaylistListsEveryRendition(t *testing.T) {
	t.Parallel()
	o := demo.New()
	resp, body := serve(t, o, http.MethodGet, "/master.m3u8", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/vnd.apple.mpegurl", resp.Header.Get("Content-Type"))
	text := string(body)
	assert.True(t, strings.HasPrefix(text, "#EXTM3U\n"))
	for _, r := range []string{"360p", "720p", "1080p"} {
		assert.Contains(t, text, "\n"+r+"/index.m3u8\n")
		resp, _ := serve(t, o, http.MethodGet, "/"+r+"/index.m3u8", nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode, r)
	}
	assert.Equal(t, 3, strings.Count(text, "#EXT-X-STREAM-INF:"))
}

func TestDemoMediaPlaylistIsAFiniteVOD(t *testing.T) {
	t.Parallel()
	o := demo.New()
	_, body := serve(t, o, http.MethodGet, "/720p/index.m3u8", nil)
	text := string(body)
	assert.Contains(t, text, "#EXT-X-TARGETDURATION:"+strconv.Itoa(demo.SegmentDuration)+"\n")
	assert.Equal(t, demo.Segments, strings.Count(text, "#EXTINF:"))
	assert.True(t, strings.HasSuffix(text, "#EXT-X-ENDLIST\n"))
	assert.Contains(t, text, "\nseg-0.ts\n")
	assert.Contains(t, text, "\nseg-"+strconv.Itoa(demo.Segments-1)+".ts\n")
}

func TestDemoSegmentsAreMPEGTS(t *testing.T) {
	t.Parallel()
	o := demo.New()
	resp, body := serve(t, o, http.MethodGet, "/360p/seg-0.ts", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "video/mp2t", resp.Header.Get("Content-Type"))
	require.NotEmpty(t, body)
	require.Zero(t, len(body)%188, "whole transport stream packets")
	for i := 0; i < len(body); i += 188 {
		require.Equal(t, byte(0x47), body[i], "sync byte of packet %d", i/188)
	}
	_, bigger := serve(t, o, http.MethodGet, "/1080p/seg-0.ts", nil)
	assert.Greater(t, len(bigger), len(body), "a higher rendition has bigger segments")

	resp, part := serve(t, o, http.MethodGet, "/360p/seg-3.ts", http.Header{"Range": {"bytes=188-375"}})
	assert.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, body[188:376], part, "every segment of a rendition has the same bytes; a range is a slice of them")
	assert.Equal(t, "bytes 188-375/"+strconv.Itoa(len(body)), resp.Header.Get("Content-Range"))
}

func TestDemoRefusesWhatItDoesNotServe(t *testing.T) {
	t.Parallel()
	o := demo.New()
	tests := []struct {
		name, method, path string
		status             int
	}{
		{name: "an unknown rendition", method: http.MethodGet, path: "/4k/index.m3u8", status: http.StatusNotFound},
		{name: "a segment past the end", method: http.MethodGet, path: "/360p/seg-" + strconv.Itoa(demo.Segments) + ".ts", status: http.StatusNotFound},
		{name: "a negative segment", method: http.MethodGet, path: "/360p/seg--1.ts", status: http.StatusNotFound},
		{name: "not a segment", method: http.MethodGet, path: "/360p/other.bin", status: http.StatusNotFound},
		{name: "a POST", method: http.MethodPost, path: "/master.m3u8", status: http.StatusMethodNotAllowed},
		{name: "the index", method: http.MethodGet, path: "/", status: http.StatusOK},
		{name: "a HEAD", method: http.MethodHead, path: "/master.m3u8", status: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, _ := serve(t, o, tt.method, tt.path, nil)
			assert.Equal(t, tt.status, resp.StatusCode)
		})
	}
}
