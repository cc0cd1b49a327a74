package manifest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkPlaylistHookSegment is the cost the playlist rewriting adds to a
// segment answered to a player whose token is in the query: it must be a
// context lookup and a header check, without an allocation.
func BenchmarkPlaylistHookSegment(b *testing.B) {
	hook := rewritePlaylists(slog.New(slog.DiscardHandler))
	req, err := http.NewRequest(http.MethodGet, "http://stream.example.com/vod/42/1202.ts?token=t", nil)
	if err != nil {
		b.Fatal(err)
	}
	req = req.WithContext(context.WithValue(req.Context(), playlistKey{}, &playlistToken{pairs: []string{"token=t"}, host: "stream.example.com"}))
	resp := &http.Response{StatusCode: http.StatusOK, Request: req, Body: http.NoBody,
		Header: http.Header{"Content-Type": {"video/mp2t"}, "Content-Length": {"1880000"}}}
	b.ReportAllocs()
	for b.Loop() {
		if err := hook(resp); err != nil {
			b.Fatal(err)
		}
	}
	if resp.Body != http.NoBody {
		b.Fatal("a segment's body was wrapped")
	}
}

// BenchmarkPlaylistRewrite is the throughput of rewriting a media playlist.
func BenchmarkPlaylistRewrite(b *testing.B) {
	in, err := os.ReadFile(filepath.Join("testdata", "hls", "media.m3u8"))
	if err != nil {
		b.Fatal(err)
	}
	in = bytes.Repeat(in, 50)
	rw := newURIRewriter("stream.example.com", "token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln")
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		p := newPlaylistReader(io.NopCloser(bytes.NewReader(in)), false, rw)
		if _, err := io.Copy(io.Discard, p); err != nil {
			b.Fatal(err)
		}
		_ = p.Close()
	}
}
