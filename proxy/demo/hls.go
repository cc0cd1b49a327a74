package demo

import (
	"bytes"
	"fmt"
	"math"
	"time"
)

// audioGroup is the GROUP-ID that ties the video variants to the audio
// rendition in the master playlist.
const audioGroup = "aac"

// hlsMaster returns the master playlist: one EXT-X-MEDIA for the audio
// rendition and one variant per video rendition that plays it. BANDWIDTH
// counts the audio too, as RFC 8216 asks: the peak of the variant's video
// plus the peak of its audio.
func hlsMaster(renditions []*rendition) []byte {
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	var sound *rendition
	for _, r := range renditions {
		if r.kind == audio {
			sound = r
			fmt.Fprintf(&b, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=%q,NAME=\"Tone\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"%s/index.m3u8\"\n",
				audioGroup, r.name)
		}
	}
	for _, r := range renditions {
		if r.kind != video {
			continue
		}
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,CODECS=\"%s,%s\",RESOLUTION=%dx%d,FRAME-RATE=25.000,AUDIO=%q\n%s/index.m3u8\n",
			r.peak+sound.peak, r.average+sound.average, r.codec, sound.codec, r.width, r.height, audioGroup, r.name)
	}
	return b.Bytes()
}

// targetDuration is EXT-X-TARGETDURATION: every EXTINF rounded to the
// nearest integer must not exceed it (RFC 8216 4.3.3.1). Audio segments run
// a few milliseconds over SegmentDuration, which rounds to it.
func targetDuration(renditions []*rendition) int {
	t := 0
	for _, r := range renditions {
		for i := range r.frags {
			t = max(t, int(math.Round(r.duration(i))))
		}
	}
	return t
}

// hlsVOD returns the media playlist of rendition r as a finished VOD.
func hlsVOD(r *rendition, target int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n", target)
	for i := range r.segments {
		fmt.Fprintf(&b, "#EXTINF:%.6f,\nseg-%d.m4s\n", r.duration(i), i)
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	return b.Bytes()
}

// hlsLive returns the media playlist of rendition r for the live window
// [first, last] of segment numbers (inclusive): no ENDLIST, the media
// sequence is the first number, and each segment has the wall-clock time
// at which its number starts.
func hlsLive(r *rendition, target int, start time.Time, first, last int64) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n", target, first)
	for n := first; n <= last; n++ {
		if n == first {
			fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", segmentStart(start, n).Format("2006-01-02T15:04:05.000Z07:00"))
		}
		fmt.Fprintf(&b, "#EXTINF:%.6f,\nseg-%d.m4s\n", r.duration(int(n%Segments)), n)
	}
	return b.Bytes()
}
