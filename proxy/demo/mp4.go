package demo

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A tiny ISO BMFF (MP4) box walker: just what the demo needs to read the
// timing of its own CMAF fragments and to move them in time for the live
// loop. It is not a general MP4 parser.

// box is one box found in a buffer: its type, and where its payload (after
// the size and type) and the whole box lie.
type box struct {
	typ         string
	start, body int // offsets of the box and of its payload
	end         int // offset just past the box
}

var errShortBox = errors.New("mp4: box runs past its parent")

// boxesIn returns the boxes laid end to end in b[from:to].
func boxesIn(b []byte, from, to int) ([]box, error) {
	var out []box
	for off := from; off < to; {
		if to-off < 8 {
			return nil, errShortBox
		}
		size := uint64(binary.BigEndian.Uint32(b[off:]))
		hdr := 8
		switch size {
		case 1:
			if to-off < 16 {
				return nil, errShortBox
			}
			size, hdr = binary.BigEndian.Uint64(b[off+8:]), 16
		case 0:
			size = uint64(to - off) // the box runs to the end of its parent
		}
		if size < uint64(hdr) || size > uint64(to-off) {
			return nil, errShortBox
		}
		end := off + int(size)
		out = append(out, box{typ: string(b[off+4 : off+8]), start: off, body: off + hdr, end: end})
		off = end
	}
	return out, nil
}

// child returns the first box of type typ directly inside parent.
func child(b []byte, parent box, typ string) (box, bool, error) {
	kids, err := boxesIn(b, parent.body, parent.end)
	if err != nil {
		return box{}, false, err
	}
	for _, k := range kids {
		if k.typ == typ {
			return k, true, nil
		}
	}
	return box{}, false, nil
}

// findBox follows a chain of box types down from the top level of b.
func findBox(b []byte, types ...string) (box, error) {
	cur := box{body: 0, end: len(b)}
	for _, t := range types {
		next, ok, err := child(b, cur, t)
		if err != nil {
			return box{}, err
		}
		if !ok {
			return box{}, fmt.Errorf("mp4: no %s box", t)
		}
		cur = next
	}
	return cur, nil
}

// initInfo is what the demo reads from an init segment.
type initInfo struct {
	timescale       uint32 // ticks per second of the track's media time (mdhd)
	defaultDuration uint32 // trex default sample duration, for fragments that give none
	codec           string // RFC 6381 codec string for avc1 tracks, "" otherwise
}

func parseInit(b []byte) (initInfo, error) {
	var info initInfo
	mdhd, err := findBox(b, "moov", "trak", "mdia", "mdhd")
	if err != nil {
		return info, err
	}
	// mdhd: version(1) flags(3), then creation and modification times of 4
	// or 8 bytes each, then the timescale.
	at := mdhd.body + 4 + 8
	if b[mdhd.body] == 1 {
		at = mdhd.body + 4 + 16
	}
	if at+4 > mdhd.end {
		return info, errShortBox
	}
	info.timescale = binary.BigEndian.Uint32(b[at:])
	if info.timescale == 0 {
		return info, errors.New("mp4: timescale 0")
	}
	if trex, err := findBox(b, "moov", "mvex", "trex"); err == nil && trex.end-trex.body >= 16 {
		// trex: version/flags, track_ID, default_sample_description_index, default_sample_duration.
		info.defaultDuration = binary.BigEndian.Uint32(b[trex.body+12:])
	}
	stsd, err := findBox(b, "moov", "trak", "mdia", "minf", "stbl", "stsd")
	if err != nil {
		return info, err
	}
	// stsd: version/flags and an entry count, then the sample entries; an
	// avc1 visual sample entry has 78 bytes of fields before its child boxes.
	entries, err := boxesIn(b, stsd.body+8, stsd.end)
	if err != nil || len(entries) == 0 {
		return info, fmt.Errorf("mp4: no sample entry: %v", err)
	}
	if e := entries[0]; e.typ == "avc1" || e.typ == "avc3" {
		avcC, ok, err := child(b, box{body: e.body + 78, end: e.end}, "avcC")
		if err != nil || !ok || avcC.end-avcC.body < 4 {
			return info, fmt.Errorf("mp4: no avcC: %v", err)
		}
		p := b[avcC.body+1 : avcC.body+4] // profile, constraint flags, level
		info.codec = fmt.Sprintf("%s.%02x%02x%02x", e.typ, p[0], p[1], p[2])
	}
	return info, nil
}

// fragment is where the timing fields of one moof+mdat segment lie.
type fragment struct {
	tfdtAt      int    // offset of baseMediaDecodeTime
	tfdtWide    bool   // a 64-bit baseMediaDecodeTime (tfdt version 1)
	mfhdAt      int    // offset of the sequence number
	baseTime    uint64 // baseMediaDecodeTime as stored
	duration    uint64 // the sum of the sample durations, in the track's timescale
	sampleCount int
}

// parseFragment reads a segment made of one moof (with one traf) and its
// mdat, as ffmpeg writes CMAF fragments; other top-level boxes (styp, sidx)
// are passed over.
func parseFragment(b []byte, defaultDuration uint32) (fragment, error) {
	var f fragment
	mfhd, err := findBox(b, "moof", "mfhd")
	if err != nil {
		return f, err
	}
	if mfhd.end-mfhd.body < 8 {
		return f, errShortBox
	}
	f.mfhdAt = mfhd.body + 4
	tfdt, err := findBox(b, "moof", "traf", "tfdt")
	if err != nil {
		return f, err
	}
	f.tfdtAt, f.tfdtWide = tfdt.body+4, b[tfdt.body] == 1
	if (f.tfdtWide && tfdt.end-f.tfdtAt < 8) || tfdt.end-f.tfdtAt < 4 {
		return f, errShortBox
	}
	if f.tfdtWide {
		f.baseTime = binary.BigEndian.Uint64(b[f.tfdtAt:])
	} else {
		f.baseTime = uint64(binary.BigEndian.Uint32(b[f.tfdtAt:]))
	}

	tfhd, err := findBox(b, "moof", "traf", "tfhd")
	if err != nil {
		return f, err
	}
	if tfhd.end-tfhd.body < 8 {
		return f, errShortBox
	}
	flags := binary.BigEndian.Uint32(b[tfhd.body:]) & 0xffffff
	at := tfhd.body + 8 // version/flags, track_ID
	if flags&0x1 != 0 { // base-data-offset
		at += 8
	}
	if flags&0x2 != 0 { // sample-description-index
		at += 4
	}
	if flags&0x8 != 0 { // default-sample-duration
		if at+4 > tfhd.end {
			return f, errShortBox
		}
		defaultDuration = binary.BigEndian.Uint32(b[at:])
	}

	trun, err := findBox(b, "moof", "traf", "trun")
	if err != nil {
		return f, err
	}
	if trun.end-trun.body < 8 {
		return f, errShortBox
	}
	flags = binary.BigEndian.Uint32(b[trun.body:]) & 0xffffff
	count := int(binary.BigEndian.Uint32(b[trun.body+4:]))
	at = trun.body + 8
	if flags&0x1 != 0 { // data-offset
		at += 4
	}
	if flags&0x4 != 0 { // first-sample-flags
		at += 4
	}
	per := 0
	for _, bit := range []uint32{0x100, 0x200, 0x400, 0x800} { // duration, size, flags, composition offset
		if flags&bit != 0 {
			per += 4
		}
	}
	if count < 0 || at+count*per > trun.end {
		return f, errShortBox
	}
	f.sampleCount = count
	for i := 0; i < count; i++ {
		d := uint64(defaultDuration)
		if flags&0x100 != 0 {
			d = uint64(binary.BigEndian.Uint32(b[at+i*per:]))
		}
		f.duration += d
	}
	return f, nil
}

// retime returns a copy of seg, whose timing parseFragment read into f, with
// its baseMediaDecodeTime set to base and its sequence number to seq: the
// same media, placed later on the live timeline.
func retime(seg []byte, f fragment, base uint64, seq uint32) ([]byte, error) {
	if !f.tfdtWide && base > 0xffffffff {
		return nil, errors.New("mp4: decode time does not fit a version 0 tfdt")
	}
	out := make([]byte, len(seg))
	copy(out, seg)
	if f.tfdtWide {
		binary.BigEndian.PutUint64(out[f.tfdtAt:], base)
	} else {
		binary.BigEndian.PutUint32(out[f.tfdtAt:], uint32(base))
	}
	binary.BigEndian.PutUint32(out[f.mfhdAt:], seq)
	return out, nil
}

// withoutBox returns b without its top-level boxes of type typ. The demo
// drops ffmpeg's sidx: it gives the segment's presentation time, which the
// live loop would otherwise have to move too, and players of a playlist or
// a SegmentTemplate do not need it.
func withoutBox(b []byte, typ string) ([]byte, error) {
	top, err := boxesIn(b, 0, len(b))
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(b))
	for _, x := range top {
		if x.typ != typ {
			out = append(out, b[x.start:x.end]...)
		}
	}
	return out, nil
}
