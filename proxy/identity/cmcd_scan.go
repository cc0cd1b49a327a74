package identity

import (
	"strings"
	"time"
)

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
