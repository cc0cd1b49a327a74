package manifest

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkDurationScanMPD is what learning an MPD's segment duration costs
// the gate: no allocation.
func BenchmarkDurationScanMPD(b *testing.B) {
	in, err := os.ReadFile(filepath.Join("testdata", "dash", "ffmpeg-live.mpd"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		s := NewMPDDurationScanner()
		if _, ok := s.Scan(in); !ok {
			b.Fatal("not found")
		}
	}
}

// BenchmarkDurationScanHLS is the same for a media playlist.
func BenchmarkDurationScanHLS(b *testing.B) {
	in, err := os.ReadFile(filepath.Join("testdata", "hls", "ffmpeg-media.m3u8"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		s := NewHLSDurationScanner()
		if _, ok := s.Scan(in); !ok {
			b.Fatal("not found")
		}
	}
}
