package demo

import (
	"embed"
	"fmt"
	"path"
	"strconv"
	"sync"
)

// The media: CMAF fragments encoded once by media/make.sh (read it for the
// ffmpeg command and why the media lasts 64 s).
//
//go:embed media/180p media/360p media/audio
var mediaFS embed.FS

// SegmentDuration is the nominal length of every segment, in seconds: each
// video segment lasts exactly this; an audio segment is within one AAC frame
// (21.3 ms) of it.
const SegmentDuration = 2

// Segments is the number of segments of each rendition: the VOD lasts
// Segments × SegmentDuration = 64 s, and the live stream loops them.
const Segments = 32

// kind tells video from audio renditions.
type kind int

const (
	video kind = iota
	audio
)

// rendition is one track of the media: its init segment and its fragments.
type rendition struct {
	name      string
	kind      kind
	width     int // video only
	height    int
	codec     string // RFC 6381
	timescale uint32
	init      []byte
	segments  [][]byte
	frags     []fragment
	loop      uint64 // duration of all the segments, in timescale ticks
	peak      int    // highest bit rate of one segment, bits per second
	average   int    // bits per second over the whole track
}

// duration returns the length of segment i in seconds.
func (r *rendition) duration(i int) float64 {
	return float64(r.frags[i].duration) / float64(r.timescale)
}

// renditionSpecs lists the media as make.sh encodes it.
var renditionSpecs = []struct {
	name          string
	kind          kind
	width, height int
}{
	{name: "180p", kind: video, width: 320, height: 180},
	{name: "360p", kind: video, width: 640, height: 360},
	{name: "audio", kind: audio},
}

// audioCodec is AAC-LC, what make.sh asks of ffmpeg's aac encoder.
const audioCodec = "mp4a.40.2"

var (
	loadOnce   sync.Once
	loaded     []*rendition
	errLoading error
)

// media returns the renditions, read and checked once from the embedded
// files. An error means the committed media is broken: the tests catch it.
func media() ([]*rendition, error) {
	loadOnce.Do(func() {
		for _, s := range renditionSpecs {
			r, err := loadRendition(s.name, s.kind)
			if err != nil {
				errLoading = fmt.Errorf("demo media %s: %w", s.name, err)
				return
			}
			r.width, r.height = s.width, s.height
			loaded = append(loaded, r)
		}
	})
	return loaded, errLoading
}

func loadRendition(name string, k kind) (*rendition, error) {
	dir := path.Join("media", name)
	init, err := mediaFS.ReadFile(path.Join(dir, "init.mp4"))
	if err != nil {
		return nil, err
	}
	info, err := parseInit(init)
	if err != nil {
		return nil, err
	}
	r := &rendition{name: name, kind: k, timescale: info.timescale, init: init, codec: info.codec}
	if k == audio {
		r.codec = audioCodec
	} else if r.codec == "" {
		return nil, fmt.Errorf("not an H.264 track")
	}
	var bytes int
	for i := 0; i < Segments; i++ {
		raw, err := mediaFS.ReadFile(path.Join(dir, "seg-"+strconv.Itoa(i)+".m4s"))
		if err != nil {
			return nil, err
		}
		seg, err := withoutBox(raw, "sidx")
		if err != nil {
			return nil, fmt.Errorf("segment %d: %w", i, err)
		}
		f, err := parseFragment(seg, info.defaultDuration)
		if err != nil {
			return nil, fmt.Errorf("segment %d: %w", i, err)
		}
		// The live loop adds whole loops to these times; they must start at
		// 0 and follow on without a gap.
		if f.baseTime != r.loop {
			return nil, fmt.Errorf("segment %d starts at %d, not %d", i, f.baseTime, r.loop)
		}
		r.loop += f.duration
		r.segments = append(r.segments, seg)
		r.frags = append(r.frags, f)
		bytes += len(seg)
		r.peak = max(r.peak, int(float64(len(seg)*8)/r.duration(i)))
	}
	r.average = int(float64(bytes*8) / (float64(r.loop) / float64(r.timescale)))
	return r, nil
}
