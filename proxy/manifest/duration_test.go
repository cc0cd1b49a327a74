package manifest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDurationScannerFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file string
		want time.Duration
		// early: known before the body ends, at the tag named here.
		early string
	}{
		{file: "hls/ffmpeg-media.m3u8", want: 2 * time.Second, early: "#EXT-X-MEDIA-SEQUENCE"},
		{file: "hls/ffmpeg-fmp4-event.m3u8", want: 6 * time.Second, early: "#EXT-X-MEDIA-SEQUENCE"},
		{file: "dash/ffmpeg-timeline.mpd", want: 2 * time.Second, early: "</SegmentTimeline>"}, // S d=25600 / 12800
		{file: "dash/ffmpeg-number.mpd", want: 2 * time.Second, early: "</SegmentTemplate>"},   // 2000000 / 1000000
		{file: "dash/ffmpeg-live.mpd", want: time.Second, early: "</SegmentTimeline>"},         // S d=12800 / 12800
		{file: "dash/features.mpd", want: 4 * time.Second, early: "<mpd:Representation"},       // 360000 / 90000
		{file: "dash/cmcd-session.mpd", want: 2 * time.Second, early: "</Representation>"},     // no timescale: 1
		{file: "dash/segmentbase.mpd", want: 5005 * time.Millisecond},                          // maxSegmentDuration, at the end
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			in, err := os.ReadFile(filepath.Join("testdata", tc.file))
			require.NoError(t, err)
			newScanner := NewHLSDurationScanner
			if strings.HasSuffix(tc.file, ".mpd") {
				newScanner = NewMPDDurationScanner
			}

			s := newScanner()
			d, ok := s.Scan(in)
			if tc.early == "" {
				assert.False(t, ok, "known before the end")
				d, ok = s.End()
			}
			require.True(t, ok)
			assert.Equal(t, tc.want, d)

			if tc.early != "" {
				s := newScanner()
				prefix := in[:bytes.Index(in, []byte(tc.early))]
				d, ok := s.Scan(prefix)
				assert.True(t, ok, "not known from the prefix up to %s", tc.early)
				assert.Equal(t, tc.want, d)
			}

			// A byte at a time, as a slow origin may send it.
			s = newScanner()
			ok = false
			for i := 0; i < len(in) && !ok; i++ {
				d, ok = s.Scan(in[i : i+1])
			}
			if !ok {
				d, ok = s.End()
			}
			require.True(t, ok, "not known a byte at a time")
			assert.Equal(t, tc.want, d)
		})
	}
}

func TestDurationScannerCases(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		mpd      bool
		want     time.Duration
		ok       bool
	}{
		{name: "hls crlf", in: "#EXTM3U\r\n#EXT-X-TARGETDURATION:10\r\n", want: 10 * time.Second, ok: true},
		{name: "hls at the very end", in: "#EXTM3U\n#EXT-X-TARGETDURATION:4", want: 4 * time.Second, ok: true},
		{name: "hls decimal, leniently", in: "#EXT-X-TARGETDURATION:6.006\n", want: 6006 * time.Millisecond, ok: true},
		{name: "hls master playlist", in: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n"},
		{name: "hls not at the line start", in: "x#EXT-X-TARGETDURATION:4\n"},
		{name: "hls garbage", in: "#EXT-X-TARGETDURATION:4s\n#EXT-X-TARGETDURATION:\n#EXT-X-TARGETDURATION:0\n"},
		{name: "hls the first good one", in: "#EXT-X-TARGETDURATION:x\n#EXT-X-TARGETDURATION:8\n", want: 8 * time.Second, ok: true},
		{name: "mpd template over the timeline", mpd: true, in: `<MPD maxSegmentDuration="PT9S"><SegmentTemplate timescale="1000" duration="1500"><SegmentTimeline><S d="99"/>`, want: 1500 * time.Millisecond, ok: true},
		{name: "mpd timescale of the enclosing template", mpd: true, in: `<MPD><SegmentTemplate timescale="48000"><SegmentTimeline><S t="0" d="96256"/>`, want: 2005333333 * time.Nanosecond, ok: true},
		{name: "mpd timescale inherited", mpd: true, in: `<MPD><AdaptationSet><SegmentTemplate timescale="90000"/><Representation><SegmentTemplate duration="180000"/>`, want: 2 * time.Second, ok: true},
		{name: "mpd segment list", mpd: true, in: `<MPD><SegmentList duration="4"><SegmentURL media="a"/>`, want: 4 * time.Second, ok: true},
		{name: "mpd prefix and single quotes", mpd: true, in: `<d:MPD><d:SegmentTemplate duration='6' timescale='2'/>`, want: 3 * time.Second, ok: true},
		{name: "mpd '>' in an attribute", mpd: true, in: `<MPD><X a="<SegmentTemplate duration='5'>"/><SegmentTemplate duration="7"/>`, want: 7 * time.Second, ok: true},
		{name: "mpd CDATA", mpd: true, in: `<MPD><![CDATA[<SegmentTemplate duration="5"/>]]><SegmentTemplate duration="8"/>`, want: 8 * time.Second, ok: true},
		{name: "mpd nothing", mpd: true, in: `<MPD><Period/></MPD>`},
		{name: "mpd bad numbers", mpd: true, in: `<MPD maxSegmentDuration="P1M"><SegmentTemplate duration="-1" timescale="0"/><S d="1e3"/></MPD>`},
		{name: "mpd long xs:duration", mpd: true, in: `<MPD maxSegmentDuration="P0Y0M1DT1H1M1.5S"/>`, want: 25*time.Hour + time.Minute + 1500*time.Millisecond, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := NewHLSDurationScanner()
			if tc.mpd {
				s = NewMPDDurationScanner()
			}
			for i := range len(tc.in) { // byte by byte: chunk boundaries anywhere
				s.Scan([]byte(tc.in[i : i+1]))
			}
			d, ok := s.End()
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, d)
		})
	}
}

// A player that hangs up after the MPD root still teaches the gate its
// maxSegmentDuration; a playlist cut mid-number teaches nothing.
func FuzzDurationScanner(f *testing.F) {
	for _, s := range []string{"#EXT-X-TARGETDURATION:6\n", `<MPD maxSegmentDuration="PT1.5S"><SegmentTemplate duration="2"/>`, `<!--`, `<![CDATA[`} {
		f.Add([]byte(s), 3)
	}
	f.Fuzz(func(t *testing.T, in []byte, cut int) {
		for _, s := range []DurationScanner{NewHLSDurationScanner(), NewMPDDurationScanner()} {
			whole := s
			d1, ok1 := whole.Scan(in)
			if !ok1 {
				d1, ok1 = whole.End()
			}
			if cut < 0 || cut > len(in) {
				cut = len(in) / 2
			}
			parts := s
			if _, ok := parts.Scan(in[:cut]); !ok {
				parts.Scan(in[cut:])
			}
			d2, ok2 := parts.End()
			if d1 != d2 || ok1 != ok2 || d1 < 0 {
				t.Fatalf("whole: %v %v; in two parts: %v %v", d1, ok1, d2, ok2)
			}
		}
	})
}

func TestPartTarget(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-PART-INF:PART-TARGET=1.004\n": 1004 * time.Millisecond,
		"#EXT-X-PART-INF:PART-TARGET=0.5,X=1\r\n":                               500 * time.Millisecond,
		"#EXT-X-PART-INF:PART-TARGET=2\n":                                       2 * time.Second,
		"#EXTM3U\n#EXT-X-TARGETDURATION:4\n":                                    0,
		"#EXT-X-PART-INF:PART-TARGET=abc\n":                                     0,
		"#EXT-X-PART-INF:\n#EXTINF:2,PART-TARGET=1\n":                           0,
	} {
		assert.Equal(t, want, PartTarget([]byte(in)), "%q", in)
	}
}
