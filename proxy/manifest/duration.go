package manifest

import (
	"bytes"
	"time"
)

// A DurationScanner learns a manifest's segment duration from its bytes as
// they stream through the gate, without holding the body: for an HLS media
// playlist its #EXT-X-TARGETDURATION; for a DASH MPD the duration of its
// first SegmentTemplate or SegmentList (@duration / @timescale), else of
// the first S of a SegmentTimeline (@d over the enclosing template's
// @timescale), else MPD@maxSegmentDuration, known only at the end. An HLS
// scanner allocates nothing; an MPD scanner its buffer for one start tag.
// The zero value scans HLS.
type DurationScanner struct {
	mpd  bool
	done bool
	d    time.Duration

	// HLS: how much of the tag the current line has matched; -1 once the
	// line is not it.
	matched int
	number  msNumber

	// MPD
	st        mpdState
	tag       *[mpdDurationTagMax]byte
	tagLen    int  // tag[:tagLen] gathered; > len(tag) when skipped
	quote     byte // in a skipped tag
	match     int  // progress through a comment's or CDATA's end
	timescale int64
	maxSeg    time.Duration // MPD@maxSegmentDuration, the last resort
}

// mpdDurationTagMax bounds the start tags the MPD scanner reads: the MPD
// root with its namespaces and a SegmentTemplate with long templates fit.
const mpdDurationTagMax = 2 << 10

const targetDurationTag = "#EXT-X-TARGETDURATION:"

// NewHLSDurationScanner returns a scanner for an HLS playlist.
func NewHLSDurationScanner() DurationScanner { return DurationScanner{} }

// NewMPDDurationScanner returns a scanner for a DASH MPD.
func NewMPDDurationScanner() DurationScanner {
	return DurationScanner{mpd: true, timescale: 1, tag: new([mpdDurationTagMax]byte)}
}

// Scan reads the next bytes of the body; ok once the duration is known,
// after which further bytes are not looked at.
func (s *DurationScanner) Scan(p []byte) (d time.Duration, ok bool) {
	if !s.done {
		if s.mpd {
			s.scanMPD(p)
		} else {
			s.scanHLS(p)
		}
	}
	return s.d, s.done
}

// End is called at the end of the body: it settles what only the whole body
// can tell (a playlist ending in the tag's number, an MPD's last resort).
func (s *DurationScanner) End() (d time.Duration, ok bool) {
	if !s.done {
		switch {
		case s.mpd && s.maxSeg > 0:
			s.d, s.done = s.maxSeg, true
		case !s.mpd && s.matched == len(targetDurationTag):
			s.d, s.done = s.number.duration(time.Second)
		}
	}
	return s.d, s.done
}

func (s *DurationScanner) scanHLS(p []byte) {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case s.matched < 0 && c != '\n':
			// Not the tag's line: skip to its end at memchr's speed.
			j := bytes.IndexByte(p[i:], '\n')
			if j < 0 {
				return
			}
			i += j - 1
			continue
		case c == '\n':
			if s.matched == len(targetDurationTag) {
				if s.d, s.done = s.number.duration(time.Second); s.done {
					return
				}
			}
			s.matched, s.number = 0, msNumber{}
		case s.matched < 0:
		case s.matched < len(targetDurationTag):
			if c == targetDurationTag[s.matched] {
				s.matched++
			} else {
				s.matched = -1
			}
		case c != '\r':
			if !s.number.add(c) {
				s.matched = -1
			}
		}
	}
}

// msNumber accumulates a non-negative decimal number in thousandths.
type msNumber struct {
	milli  int64
	digits int
	frac   int // 0 before the point, then 1 + the digits read after it
	bad    bool
}

func (n *msNumber) add(c byte) bool {
	switch {
	case n.bad:
	case c == '.' && n.frac == 0 && n.digits > 0:
		n.frac = 1
	case isDigit(c) && n.digits < 12:
		n.digits++
		switch {
		case n.frac == 0:
			n.milli = n.milli*10 + int64(c-'0')*1000
		case n.frac <= 3:
			n.milli += int64(c-'0') * [...]int64{0, 100, 10, 1}[n.frac]
			n.frac++
		}
	default:
		n.bad = true
	}
	return !n.bad
}

// duration is the number in unit, when there was one.
func (n msNumber) duration(unit time.Duration) (time.Duration, bool) {
	if n.bad || n.digits == 0 {
		return 0, false
	}
	return time.Duration(n.milli) * (unit / 1000), n.milli > 0
}

func (s *DurationScanner) scanMPD(p []byte) {
	for len(p) > 0 && !s.done {
		switch s.st {
		case mpdText:
			i := bytes.IndexByte(p, '<')
			if i < 0 {
				return
			}
			p = p[i+1:]
			s.st, s.tagLen, s.quote = mpdTag, 0, 0
		case mpdTag:
			p = s.gatherTag(p)
		case mpdComment:
			p = s.until(p, "-->")
		case mpdCDATA:
			p = s.until(p, "]]>")
		}
	}
}

// gatherTag gathers markup after '<' into s.tag up to its '>', and reads it.
// Comments and CDATA are recognised by their start and passed over.
func (s *DurationScanner) gatherTag(p []byte) []byte {
	for i, c := range p {
		if s.tagLen < len(s.tag) {
			s.tag[s.tagLen] = c
		}
		s.tagLen++
		switch {
		case s.quote != 0:
			if c == s.quote {
				s.quote = 0
			}
		case s.tagLen == 3 && string(s.tag[:3]) == "!--":
			s.st, s.match = mpdComment, 0
			return p[i+1:]
		case s.tagLen == 8 && string(s.tag[:8]) == "![CDATA[":
			s.st, s.match = mpdCDATA, 0
			return p[i+1:]
		case (c == '"' || c == '\'') && s.tagLen > 1:
			s.quote = c
		case c == '>':
			if s.tagLen <= len(s.tag) {
				s.readTag(s.tag[:s.tagLen])
			}
			s.st = mpdText
			return p[i+1:]
		}
	}
	return nil
}

func (s *DurationScanner) until(p []byte, end string) []byte {
	for i, c := range p {
		switch {
		case c == end[s.match]:
			s.match++
		case s.match == 2 && c == end[0] && end[0] == end[1]:
		case c == end[0]:
			s.match = 1
		default:
			s.match = 0
		}
		if s.match == len(end) {
			s.st = mpdText
			return p[i+1:]
		}
	}
	return nil
}

// readTag reads one start tag, "name attr="v" …>" without its '<'.
func (s *DurationScanner) readTag(tag []byte) {
	end := 0
	for end < len(tag) && isNameByte(tag[end]) {
		end++
	}
	name := localName(tag[:end])
	var duration, d, timescale, maxSeg []byte
	for pos := end; ; {
		a, ok := nextAttr(tag, pos)
		if !ok {
			break
		}
		v := tag[a.valueStart:a.valueEnd]
		switch string(a.name) {
		case "duration":
			duration = v
		case "d":
			d = v
		case "timescale":
			timescale = v
		case "maxSegmentDuration":
			maxSeg = v
		}
		pos = a.valueEnd + 1
	}
	switch string(name) {
	case "MPD":
		if v, ok := parseXSDuration(maxSeg); ok {
			s.maxSeg = v
		}
	case "SegmentTemplate", "SegmentList":
		// A template without a timescale inherits its parent's: the one
		// before it in the document.
		if ts, ok := parseUint(timescale); ok && ts > 0 {
			s.timescale = ts
		}
		if n, ok := parseUint(duration); ok && n > 0 {
			s.d, s.done = scaled(n, s.timescale), true
		}
	case "S":
		if n, ok := parseUint(d); ok && n > 0 {
			s.d, s.done = scaled(n, s.timescale), true
		}
	}
}

// scaled is n ticks of 1/timescale s, without overflow for any real MPD.
func scaled(n, timescale int64) time.Duration {
	sec, rem := n/timescale, n%timescale
	return time.Duration(sec)*time.Second + time.Duration(rem*int64(time.Second)/timescale)
}

// parseUint reads a decimal integer up to 15 digits.
func parseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseXSDuration reads an xs:duration of days, hours, minutes and seconds
// ("PT2S", "PT1M30.5S", "P0DT0H0M4.000S"); years and months, which have no
// fixed length, only as zero.
func parseXSDuration(b []byte) (time.Duration, bool) {
	if len(b) < 3 || b[0] != 'P' {
		return 0, false
	}
	var total time.Duration
	inTime := false
	var n msNumber
	for _, c := range b[1:] {
		if c == 'T' && !inTime && n.digits == 0 {
			inTime = true
			continue
		}
		if isDigit(c) || c == '.' {
			if !n.add(c) {
				return 0, false
			}
			continue
		}
		v, _ := n.duration(time.Second)
		if n.bad || n.digits == 0 {
			return 0, false
		}
		switch {
		case !inTime && (c == 'Y' || c == 'M') && v == 0:
		case !inTime && c == 'D':
			total += 24 * time.Hour * (v / time.Second)
		case inTime && c == 'H':
			total += time.Hour * (v / time.Second)
		case inTime && c == 'M':
			total += time.Minute * (v / time.Second)
		case inTime && c == 'S':
			total += v
		default:
			return 0, false
		}
		n = msNumber{}
	}
	return total, n.digits == 0 && total > 0
}

const partInfTag = "#EXT-X-PART-INF:"

// PartTarget is the PART-TARGET of an LL-HLS playlist's EXT-X-PART-INF tag
// in p, 0 when p holds none.
func PartTarget(p []byte) time.Duration {
	i := bytes.Index(p, []byte(partInfTag))
	if i < 0 {
		return 0
	}
	line := p[i+len(partInfTag):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	const attr = "PART-TARGET="
	k := bytes.Index(line, []byte(attr))
	if k < 0 {
		return 0
	}
	var n msNumber
	for _, c := range line[k+len(attr):] {
		if c == ',' || c == '\r' || c == ' ' || !n.add(c) {
			break
		}
	}
	d, _ := n.duration(time.Second)
	return d
}
