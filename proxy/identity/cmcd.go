package identity

import (
	"net/http"
	"strings"
	"time"
)

// CMCD is what the gate reads of the Common Media Client Data a player sends
// (CTA-5004, v1 and v2): the session id that keys its slot, and the media
// times that keep the slot alive while the player plays what it buffered.
// Its strings are substrings of the parsed input, copied only when an escape
// had to be decoded.
type CMCD struct {
	// SessionID is sid: the player's playback session id; empty when absent.
	SessionID string
	// ContentID is cid: the content being played; empty when absent.
	ContentID string
	// ObjectType is the ot token: "m" manifest, "a" audio, "v" video, "av"
	// muxed, "i" init segment, "c" caption, "tt" timed text, "k" key, "o"
	// other; empty when absent.
	ObjectType string
	// Duration is d: the play time of the requested object; 0 when absent.
	Duration time.Duration
	// BufferLength is bl: the media the player holds ahead of its playhead;
	// in v2, a list per track, the shortest of them. 0 when absent.
	BufferLength time.Duration
}

// CMCDParam is the query parameter that carries CMCD in query mode.
const CMCDParam = "CMCD"

// cmcdHeaders are the four headers of header mode, in canonical form; keys
// are spread over them by how often they change.
var cmcdHeaders = [...]string{"Cmcd-Session", "Cmcd-Object", "Cmcd-Request", "Cmcd-Status"}

// ReadCMCD reads a request's CMCD: its four CMCD headers, then the CMCD
// query parameter (percent-encoded as in rawQuery). A key found again
// replaces the earlier value; a malformed entry is skipped. It does not
// allocate unless a string value holds an escape.
func ReadCMCD(h http.Header, rawQuery string) CMCD {
	var c CMCD
	for _, name := range cmcdHeaders {
		for _, v := range h[name] {
			c.AddHeader(v)
		}
	}
	if raw, ok := CMCDQueryValue(rawQuery); ok {
		c.AddQuery(raw)
	}
	return c
}

// AddHeader adds the keys of one CMCD header value (an RFC 8941 dictionary:
// key[=value] entries separated by commas).
func (c *CMCD) AddHeader(v string) {
	sc := cmcdScanner[string]{s: v}
	var f cmcdFound
	sc.dictionary(&f)
	f.apply(c, func(sp cmcdSpan) string {
		if !sp.escaped {
			return v[sp.start:sp.end]
		}
		return unescapeSF(v[sp.start:sp.end])
	})
}

// cmcdDecodeMax is the longest query value decoded on the stack; real ones
// are a few hundred bytes.
const cmcdDecodeMax = 1 << 10

// AddQuery adds the keys of a CMCD query parameter value still
// percent-encoded as it stands in the URL, decoded as url.QueryUnescape
// would ('+' is a space). A value read from it is a substring of raw when
// it holds no escape.
func (c *CMCD) AddQuery(raw string) {
	if strings.IndexByte(raw, '%') < 0 && strings.IndexByte(raw, '+') < 0 {
		c.AddHeader(raw)
		return
	}
	var buf [cmcdDecodeMax]byte
	dec, ok := appendQueryUnescaped(buf[:0], raw)
	if !ok {
		return
	}
	sc := cmcdScanner[[]byte]{s: dec}
	var f cmcdFound
	sc.dictionary(&f)
	f.apply(c, func(sp cmcdSpan) string {
		b := dec[sp.start:sp.end]
		if sp.escaped {
			return unescapeSF(string(b))
		}
		if i := indexBytes(raw, b); i >= 0 {
			return raw[i : i+len(b)]
		}
		return string(b)
	})
}

// appendQueryUnescaped appends raw, its percent escapes and '+' decoded.
// The runs between escapes are copied whole.
func appendQueryUnescaped(dst []byte, raw string) ([]byte, bool) {
	for raw != "" {
		i := strings.IndexAny(raw, "%+")
		if i < 0 {
			return append(dst, raw...), true
		}
		dst = append(dst, raw[:i]...)
		if raw[i] == '+' {
			dst = append(dst, ' ')
			raw = raw[i+1:]
			continue
		}
		if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
			return dst, false
		}
		dst = append(dst, unhex(raw[i+1])<<4|unhex(raw[i+2]))
		raw = raw[i+3:]
	}
	return dst, true
}

// indexBytes is strings.Index(s, string(b)) without the conversion.
func indexBytes(s string, b []byte) int {
	if len(b) == 0 {
		return 0
	}
	for i := 0; i+len(b) <= len(s); {
		j := strings.IndexByte(s[i:], b[0])
		if j < 0 || i+j+len(b) > len(s) {
			return -1
		}
		i += j
		if s[i:i+len(b)] == string(b) {
			return i
		}
		i++
	}
	return -1
}

// unescapeSF removes the backslashes of an RFC 8941 string's escapes.
func unescapeSF(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cmcdSpan is where a string's content or a token stands in the scanned
// input.
type cmcdSpan struct {
	start, end int
	escaped    bool // holds a backslash escape
	set        bool
}

// cmcdFound is what one dictionary held of the keys the gate reads.
type cmcdFound struct {
	sid, cid, ot cmcdSpan
	d, bl        time.Duration
	hasD, hasBL  bool
}

func (f *cmcdFound) apply(c *CMCD, text func(cmcdSpan) string) {
	if f.sid.set {
		c.SessionID = text(f.sid)
	}
	if f.cid.set {
		c.ContentID = text(f.cid)
	}
	if f.ot.set {
		c.ObjectType = text(f.ot)
	}
	if f.hasD {
		c.Duration = f.d
	}
	if f.hasBL {
		c.BufferLength = f.bl
	}
}

// CMCDQueryValue returns the raw (still percent-encoded) value of the first
// CMCD parameter of rawQuery that url.ParseQuery would accept.
func CMCDQueryValue(rawQuery string) (raw string, ok bool) {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(pair, "=")
		if k != CMCDParam || strings.IndexByte(v, ';') >= 0 || !validEscapes(v) {
			continue
		}
		return v, true
	}
	return "", false
}

func validEscapes(s string) bool {
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			return true
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return false
		}
		s = s[i+3:]
	}
}
