package manifest

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkMPDRewrite is the throughput of rewriting a live MPD: ffmpeg's,
// its SegmentTimeline grown as a long window makes it.
func BenchmarkMPDRewrite(b *testing.B) {
	in, err := os.ReadFile(filepath.Join("testdata", "dash", "ffmpeg-timeline.mpd"))
	if err != nil {
		b.Fatal(err)
	}
	s := []byte(`<S d="25600" />` + "\n\t\t\t\t\t\t")
	at := bytes.Index(in, []byte("</SegmentTimeline>"))
	in = append(append(append([]byte{}, in[:at]...), bytes.Repeat(s, 2000)...), in[at:]...)
	pairs := []string{"token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r := newMPDReader(io.NopCloser(bytes.NewReader(in)), false, "stream.example.com", pairs, "")
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
		_ = r.Close()
	}
}
