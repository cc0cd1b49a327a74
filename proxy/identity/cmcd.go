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
	sc := cmcdScanner{s: v}
	sc.dictionary(c)
}

// AddQuery adds the keys of a CMCD query parameter value still
// percent-encoded as it stands in the URL; it is decoded as it is scanned,
// as url.QueryUnescape would ('+' is a space).
func (c *CMCD) AddQuery(raw string) {
	// Most values arrive escaped; one that is not is read as a header.
	sc := cmcdScanner{s: raw, pct: strings.IndexByte(raw, '%') >= 0 || strings.IndexByte(raw, '+') >= 0}
	sc.dictionary(c)
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
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

// cmcdMaxMillis bounds d and bl: larger values (over 31 years) are not
// media times, and would overflow a time.Duration.
const cmcdMaxMillis = 1e12

// cmcdScanner reads an RFC 8941 dictionary from s, decoding percent escapes
// on the fly when pct is set, so that the query form needs no decoded copy.
type cmcdScanner struct {
	s   string
	i   int
	pct bool
}

// badByte stands for a malformed escape: it is valid nowhere in CMCD, so the
// entry holding it is skipped.
const badByte = 0

// peek returns the decoded byte at the scan position and its width in s;
// width 0 at the end.
func (sc *cmcdScanner) peek() (byte, int) {
	if !sc.pct && sc.i < len(sc.s) {
		return sc.s[sc.i], 1
	}
	return sc.peekEscaped()
}

func (sc *cmcdScanner) peekEscaped() (byte, int) {
	if sc.i >= len(sc.s) {
		return 0, 0
	}
	switch c := sc.s[sc.i]; c {
	case '+':
		return ' ', 1
	case '%':
		if sc.i+2 < len(sc.s) && isHex(sc.s[sc.i+1]) && isHex(sc.s[sc.i+2]) {
			return unhex(sc.s[sc.i+1])<<4 | unhex(sc.s[sc.i+2]), 3
		}
		return badByte, 1
	default:
		return c, 1
	}
}

// next returns the decoded byte at the scan position and moves past it.
func (sc *cmcdScanner) next() (byte, bool) {
	c, w := sc.peek()
	sc.i += w
	return c, w > 0
}

// is reports whether the next byte is c, and moves past it if so.
func (sc *cmcdScanner) is(c byte) bool {
	if d, w := sc.peek(); w > 0 && d == c {
		sc.i += w
		return true
	}
	return false
}

func (sc *cmcdScanner) skipOWS() {
	for {
		c, w := sc.peek()
		if w == 0 || (c != ' ' && c != '\t') {
			return
		}
		sc.i += w
	}
}

// cmcdValue is one parsed member value.
type cmcdValue struct {
	kind       byte  // 'i' number, 's' string, 't' token, 'l' inner list, 'o' other
	num        int64 // a number's integer part; a list's smallest number
	nums       int   // how many numbers a list holds
	neg        bool  // a number, or one of a list's, is negative
	start, end int   // the raw span of a string's content or a token
	escaped    bool  // the span needs decoding
}

// dictionary parses members until the end of s, committing each well-formed
// one to c and skipping the rest up to the next comma.
func (sc *cmcdScanner) dictionary(c *CMCD) {
	for {
		sc.skipOWS()
		if sc.i >= len(sc.s) {
			return
		}
		start := sc.i
		var key [4]byte
		n, ok := sc.key(&key)
		if ok && !wantedCMCDKey(key[:n]) {
			// Not read: only find where it ends.
			sc.skipEntry()
			if !sc.is(',') {
				return
			}
			continue
		}
		var v cmcdValue
		if ok {
			if sc.is('=') {
				ok = sc.item(&v)
			} else {
				v.kind = 'o' // a boolean true
			}
		}
		ok = ok && sc.params()
		if ok {
			sc.skipOWS()
			if d, w := sc.peek(); w > 0 && d != ',' {
				ok = false
			}
		}
		if ok && n > 0 {
			sc.commit(c, string(key[:n]), &v)
		}
		if !ok {
			sc.i = start
			sc.skipEntry()
		}
		if !sc.is(',') {
			return // only at the end: skipEntry stops at a comma
		}
	}
}

// key reads a key (lcalpha or '*', then lcalpha, digits, "_-.*"). The keys
// the gate reads are short: a longer one is read but reported with n = 0.
func (sc *cmcdScanner) key(buf *[4]byte) (n int, ok bool) {
	first := true
	for {
		c, w := sc.peek()
		if w == 0 || !(isLower(c) || c == '*' || (!first && (isDigitByte(c) || c == '_' || c == '-' || c == '.'))) {
			if first {
				return 0, false
			}
			if n > len(buf) {
				n = 0
			}
			return n, true
		}
		if n < len(buf) {
			buf[n] = c
		}
		n++
		first = false
		sc.i += w
	}
}

// params reads an item's parameters (;key[=bare item]), which the gate
// ignores.
func (sc *cmcdScanner) params() bool {
	for sc.is(';') {
		for sc.is(' ') {
		}
		var key [4]byte
		if _, ok := sc.key(&key); !ok {
			return false
		}
		if sc.is('=') {
			var v cmcdValue
			if !sc.bareItem(&v) {
				return false
			}
		}
	}
	return true
}

// item reads a member's value: a bare item or an inner list.
func (sc *cmcdScanner) item(v *cmcdValue) bool {
	if sc.is('(') {
		return sc.innerList(v)
	}
	return sc.bareItem(v)
}

// bareItem reads a bare item into v. It does not recurse, which keeps its
// values on the stack.
func (sc *cmcdScanner) bareItem(v *cmcdValue) bool {
	c, w := sc.peek()
	switch {
	case w == 0:
		return false
	case c == '-' || isDigitByte(c):
		return sc.number(v)
	case c == '"':
		sc.i += w
		return sc.quoted(v)
	case isAlpha(c) || c == '*':
		return sc.token(v)
	case c == '?':
		sc.i += w
		v.kind = 'o'
		return sc.is('0') || sc.is('1')
	case c == ':':
		sc.i += w
		v.kind = 'o'
		for {
			c, ok := sc.next()
			switch {
			case !ok:
				return false
			case c == ':':
				return true
			case !isAlpha(c) && !isDigitByte(c) && c != '+' && c != '/' && c != '=':
				return false
			}
		}
	}
	return false
}

func (sc *cmcdScanner) innerList(v *cmcdValue) bool {
	v.kind = 'l'
	for {
		for sc.is(' ') {
		}
		if sc.is(')') {
			return sc.params()
		}
		var it cmcdValue
		if !sc.bareItem(&it) || !sc.params() {
			return false
		}
		if it.kind == 'i' {
			if v.nums == 0 || it.num < v.num {
				v.num = it.num
			}
			v.neg = v.neg || it.neg
			v.nums++
		}
		if c, w := sc.peek(); w == 0 || (c != ' ' && c != ')') {
			return false
		}
	}
}

// number reads an integer or a decimal (RFC 8941 §3.3.1-2), keeping the
// integer part.
func (sc *cmcdScanner) number(v *cmcdValue) bool {
	v.kind = 'i'
	v.neg = sc.is('-')
	digits := 0
	for {
		c, w := sc.peek()
		if w == 0 || !isDigitByte(c) {
			break
		}
		if digits++; digits > 15 {
			return false
		}
		v.num = v.num*10 + int64(c-'0')
		sc.i += w
	}
	if digits == 0 {
		return false
	}
	if sc.is('.') {
		frac := 0
		for {
			c, w := sc.peek()
			if w == 0 || !isDigitByte(c) {
				break
			}
			frac++
			sc.i += w
		}
		if frac == 0 || frac > 3 || digits > 12 {
			return false
		}
	}
	if v.neg {
		v.num = -v.num
	}
	return true
}

// quoted reads a string's content after its opening quote: printable ASCII,
// with \" and \\ as the only escapes.
func (sc *cmcdScanner) quoted(v *cmcdValue) bool {
	v.kind, v.start = 's', sc.i
	for {
		c, w := sc.peek()
		if w == 0 {
			return false
		}
		if c == '"' {
			v.end = sc.i
			sc.i += w
			return true
		}
		if w > 1 || (sc.pct && c == ' ') {
			v.escaped = true
		}
		sc.i += w
		switch {
		case c == '\\':
			v.escaped = true
			if e, ok := sc.next(); !ok || (e != '"' && e != '\\') {
				return false
			}
		case c < 0x20 || c > 0x7e:
			return false
		}
	}
}

// token reads a token (RFC 8941 §3.3.4).
func (sc *cmcdScanner) token(v *cmcdValue) bool {
	v.kind, v.start = 't', sc.i
	for {
		c, w := sc.peek()
		if w == 0 || !isTokenByte(c) {
			v.end = sc.i
			return true
		}
		if w > 1 || (sc.pct && c == ' ') {
			v.escaped = true
		}
		sc.i += w
	}
}

// skipEntry moves from the start of a malformed entry to the next comma
// that is not inside a string. A quote opens a string only where a string
// may start, so that a stray one does not swallow the entries after it.
func (sc *cmcdScanner) skipEntry() {
	inString := false
	var prev byte
	for {
		c, w := sc.peek()
		switch {
		case w == 0:
			return
		case inString && c == '\\':
			sc.i += w
			_, w = sc.peek()
		case inString && c == '"':
			inString = false
		case !inString && c == '"' && (prev == '=' || prev == '(' || prev == ' ' || prev == ';'):
			inString = true
		case c == ',' && !inString:
			return
		}
		prev = c
		sc.i += w
	}
}

// wantedCMCDKey reports whether key is one that commit reads.
func wantedCMCDKey(key []byte) bool {
	switch len(key) {
	case 1:
		return key[0] == 'd'
	case 2:
		return (key[0] == 'b' && key[1] == 'l') || (key[0] == 'o' && key[1] == 't')
	case 3:
		return key[1] == 'i' && key[2] == 'd' && (key[0] == 's' || key[0] == 'c')
	}
	return false
}

// commit stores a member the gate reads, when its value has the right type.
func (sc *cmcdScanner) commit(c *CMCD, key string, v *cmcdValue) {
	switch key {
	case "sid":
		if v.kind == 's' {
			c.SessionID = sc.text(v)
		}
	case "cid":
		if v.kind == 's' {
			c.ContentID = sc.text(v)
		}
	case "ot":
		if v.kind == 't' {
			c.ObjectType = sc.text(v)
		}
	case "d":
		if v.kind == 'i' && !v.neg && v.num <= cmcdMaxMillis {
			c.Duration = time.Duration(v.num) * time.Millisecond
		}
	case "bl":
		if (v.kind == 'i' || (v.kind == 'l' && v.nums > 0)) && !v.neg && v.num <= cmcdMaxMillis {
			c.BufferLength = time.Duration(v.num) * time.Millisecond
		}
	}
}

// text returns a string's content or a token, decoded; a substring of the
// input when there was nothing to decode.
func (sc *cmcdScanner) text(v *cmcdValue) string {
	raw := sc.s[v.start:v.end]
	if !v.escaped {
		return raw
	}
	var b strings.Builder
	b.Grow(len(raw))
	dec := cmcdScanner{s: raw, pct: sc.pct}
	for {
		c, ok := dec.next()
		if !ok {
			return b.String()
		}
		if c == '\\' && v.kind == 's' {
			c, _ = dec.next()
		}
		b.WriteByte(c)
	}
}

func isHex(c byte) bool { return isDigitByte(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }

func unhex(c byte) byte {
	if isDigitByte(c) {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }
func isLower(c byte) bool     { return c >= 'a' && c <= 'z' }
func isAlpha(c byte) bool     { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// isTokenByte reports whether c may follow a token's first character: tchar
// (RFC 9110 §5.6.2), ':' or '/'.
func isTokenByte(c byte) bool {
	if isAlpha(c) || isDigitByte(c) {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~:/", c) >= 0
}
