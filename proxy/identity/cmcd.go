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

// cmcdMaxMillis bounds d and bl: larger values (over 31 years) are not
// media times, and would overflow a time.Duration.
const cmcdMaxMillis = 1e12

// cmcdScanner reads an RFC 8941 dictionary from s: a header value as it
// is, or a query value decoded on the stack. Generic so that each form
// gets its own code, with every byte access inlined.
type cmcdScanner[S ~string | ~[]byte] struct {
	s S
	i int
}

// peek returns the byte at the scan position and its width: 1, or 0 at the
// end.
func (sc *cmcdScanner[S]) peek() (byte, int) {
	if sc.i < len(sc.s) {
		return sc.s[sc.i], 1
	}
	return 0, 0
}

// next returns the decoded byte at the scan position and moves past it.
func (sc *cmcdScanner[S]) next() (byte, bool) {
	c, w := sc.peek()
	sc.i += w
	return c, w > 0
}

// is reports whether the next byte is c, and moves past it if so.
func (sc *cmcdScanner[S]) is(c byte) bool {
	if d, w := sc.peek(); w > 0 && d == c {
		sc.i += w
		return true
	}
	return false
}

func (sc *cmcdScanner[S]) skipOWS() {
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
func (sc *cmcdScanner[S]) dictionary(c *cmcdFound) {
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
func (sc *cmcdScanner[S]) key(buf *[4]byte) (n int, ok bool) {
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
func (sc *cmcdScanner[S]) params() bool {
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
func (sc *cmcdScanner[S]) item(v *cmcdValue) bool {
	if sc.is('(') {
		return sc.innerList(v)
	}
	return sc.bareItem(v)
}

// bareItem reads a bare item into v. It does not recurse, which keeps its
// values on the stack.
func (sc *cmcdScanner[S]) bareItem(v *cmcdValue) bool {
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

func (sc *cmcdScanner[S]) innerList(v *cmcdValue) bool {
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
func (sc *cmcdScanner[S]) number(v *cmcdValue) bool {
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
func (sc *cmcdScanner[S]) quoted(v *cmcdValue) bool {
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
func (sc *cmcdScanner[S]) token(v *cmcdValue) bool {
	v.kind, v.start = 't', sc.i
	for {
		c, w := sc.peek()
		if w == 0 || !isTokenByte(c) {
			v.end = sc.i
			return true
		}
		sc.i += w
	}
}

// skipEntry moves from the start of a malformed entry to the next comma
// that is not inside a string. A quote opens a string only where a string
// may start, so that a stray one does not swallow the entries after it.
func (sc *cmcdScanner[S]) skipEntry() {
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
func (sc *cmcdScanner[S]) commit(c *cmcdFound, key string, v *cmcdValue) {
	switch key {
	case "sid":
		if v.kind == 's' {
			c.sid = cmcdSpan{v.start, v.end, v.escaped, true}
		}
	case "cid":
		if v.kind == 's' {
			c.cid = cmcdSpan{v.start, v.end, v.escaped, true}
		}
	case "ot":
		if v.kind == 't' {
			c.ot = cmcdSpan{v.start, v.end, false, true}
		}
	case "d":
		if v.kind == 'i' && !v.neg && v.num <= cmcdMaxMillis {
			c.d, c.hasD = time.Duration(v.num)*time.Millisecond, true
		}
	case "bl":
		if (v.kind == 'i' || (v.kind == 'l' && v.nums > 0)) && !v.neg && v.num <= cmcdMaxMillis {
			c.bl, c.hasBL = time.Duration(v.num)*time.Millisecond, true
		}
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
