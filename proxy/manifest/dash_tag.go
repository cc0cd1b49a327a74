package manifest

import (
	"bytes"
)

// mpdElement is what the rewriter does with an element.
type mpdElement uint8

const (
	elemOther          mpdElement = iota
	elemBaseURL                   // the text is a URI, the base of relative ones
	elemLocation                  // the text is a URI
	elemTemplate                  // SegmentTemplate: media, initialization, index, bitstreamSwitching
	elemSegmentURL                // SegmentURL: media, index
	elemSourceURL                 // Initialization, RepresentationIndex, BitstreamSwitching: sourceURL
	elemCMCDParameters            // ClientDataReporting's CMCDParameters: sessionID
	elemMPD
)

func mpdElementOf(name []byte) mpdElement {
	switch string(name) {
	case "BaseURL":
		return elemBaseURL
	case "Location":
		return elemLocation
	case "SegmentTemplate":
		return elemTemplate
	case "SegmentURL":
		return elemSegmentURL
	case "Initialization", "RepresentationIndex", "BitstreamSwitching":
		return elemSourceURL
	case "CMCDParameters":
		return elemCMCDParameters
	case "MPD":
		return elemMPD
	}
	return elemOther
}

// isURIAttributeOf reports whether an element's attribute holds a URI.
func isURIAttributeOf(e mpdElement, attr []byte) bool {
	switch e {
	case elemTemplate:
		switch string(attr) {
		case "media", "initialization", "index", "bitstreamSwitching":
			return true
		}
	case elemSegmentURL:
		return string(attr) == "media" || string(attr) == "index"
	case elemSourceURL:
		return string(attr) == "sourceURL"
	}
	return false
}

// tagName returns the name of the start tag tag ("<name …").
func tagName(tag []byte) []byte {
	end := 1
	for end < len(tag) && isNameByte(tag[end]) {
		end++
	}
	return tag[1:end]
}

// localName drops a namespace prefix: DASH elements are matched whatever
// prefix the document gives their namespace.
func localName(name []byte) []byte {
	if i := bytes.LastIndexByte(name, ':'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// appendTag appends a complete start tag, its URI attributes rewritten.
func (r *mpdReader) appendTag(dst, tag []byte) []byte {
	elem := mpdElementOf(localName(tagName(tag)))
	if !r.started {
		r.started = true
		if elem != elemMPD {
			r.passthrough = true
			return append(dst, tag...)
		}
		return r.appendLocation(append(dst, tag...), tag)
	}
	selfClosing := bytes.HasSuffix(tag, []byte("/>"))
	switch elem {
	case elemBaseURL, elemLocation:
		r.uriText, r.baseText = !selfClosing, elem == elemBaseURL
		return append(dst, tag...)
	case elemTemplate, elemSegmentURL, elemSourceURL:
		return r.appendAttributes(dst, tag, elem)
	case elemCMCDParameters:
		if r.sessionID != "" {
			return r.appendSessionID(dst, tag, selfClosing)
		}
	}
	return append(dst, tag...)
}

// mpdAttr is one attribute of a start tag: tag[valueStart:valueEnd] is its
// raw value, between quotes.
type mpdAttr struct {
	name                 []byte
	valueStart, valueEnd int
	quote                byte
}

// nextAttr finds the attribute at or after tag[i], past the whitespace
// before it; ok is false at the end of the tag or at anything it does not
// understand.
func nextAttr(tag []byte, i int) (a mpdAttr, ok bool) {
	for i < len(tag) && isSpace(tag[i]) {
		i++
	}
	start := i
	for i < len(tag) && isNameByte(tag[i]) {
		i++
	}
	a.name = tag[start:i]
	if len(a.name) == 0 {
		return a, false
	}
	for i < len(tag) && isSpace(tag[i]) {
		i++
	}
	if i == len(tag) || tag[i] != '=' {
		return a, false
	}
	i++
	for i < len(tag) && isSpace(tag[i]) {
		i++
	}
	if i == len(tag) || (tag[i] != '"' && tag[i] != '\'') {
		return a, false
	}
	a.quote = tag[i]
	a.valueStart = i + 1
	end := bytes.IndexByte(tag[a.valueStart:], a.quote)
	if end < 0 {
		return a, false
	}
	a.valueEnd = a.valueStart + end
	return a, true
}

// appendAttributes appends tag with the values of elem's URI attributes
// rewritten; every other byte is kept.
func (r *mpdReader) appendAttributes(dst, tag []byte, elem mpdElement) []byte {
	rws := r.uris
	if elem == elemTemplate {
		rws = r.templates
	}
	pos, copied := 1+len(tagName(tag)), 0
	for {
		a, ok := nextAttr(tag, pos)
		if !ok {
			return append(dst, tag[copied:]...)
		}
		if isURIAttributeOf(elem, a.name) {
			dst = append(dst, tag[copied:a.valueStart]...)
			dst = r.appendURIValue(dst, tag[a.valueStart:a.valueEnd], a.quote, rws)
			copied = a.valueEnd
		}
		pos = a.valueEnd + 1
	}
}

// appendSessionID appends a CMCDParameters tag with sessionID set to the
// minted session, replacing one the origin put there.
func (r *mpdReader) appendSessionID(dst, tag []byte, selfClosing bool) []byte {
	i := 1 + len(tagName(tag))
	for {
		a, ok := nextAttr(tag, i)
		if !ok {
			break
		}
		if string(a.name) == "sessionID" {
			dst = append(dst, tag[:a.valueStart]...)
			dst = appendXMLEscaped(dst, []byte(r.sessionID), a.quote)
			return append(dst, tag[a.valueEnd:]...)
		}
		i = a.valueEnd + 1
	}
	end := len(tag) - 1
	if selfClosing {
		end--
	}
	for end > 0 && isSpace(tag[end-1]) {
		end--
	}
	dst = append(dst, tag[:end]...)
	dst = append(dst, ` sessionID="`...)
	dst = appendXMLEscaped(dst, []byte(r.sessionID), '"')
	dst = append(dst, '"')
	return append(dst, tag[end:]...)
}

// appendURIText appends the text of a BaseURL or Location, the URI in it
// rewritten and the whitespace around it kept. A BaseURL that is not
// rewritten, because it points away from the request's host (a CDN's, or
// one of a player's alternatives), is the base of the relative URIs that
// follow it in its parent element: those are left alone from then on, so
// that the token never travels there. A template given before such a
// BaseURL, in an element that encloses it, is rewritten all the same: the
// MPD is rewritten as it streams, and what was written is not taken back.
func (r *mpdReader) appendURIText(dst, text []byte) []byte {
	core := bytes.TrimRight(bytes.TrimLeft(text, " \t\r\n"), " \t\r\n")
	lead := len(text) - len(bytes.TrimLeft(text, " \t\r\n"))
	dst = append(dst, text[:lead]...)
	n := len(dst)
	dst = r.appendURIValue(dst, core, 0, r.uris)
	if r.baseText && len(r.uris) > 0 && len(core) > 0 && len(dst)-n == len(core) {
		// Left as it was. The BaseURL's parent is the element open
		// before it.
		if parent := r.opened - 1; r.foreignAt == 0 || parent < r.foreignAt {
			r.foreignAt = max(parent, 1)
		}
	}
	return append(dst, text[lead+len(core):]...)
}

// appendURIValue appends raw, an XML-escaped URI in an attribute quoted with
// quote (0 in text), with the pairs added when it points at the request's
// host; otherwise, or when it holds an entity we cannot read, as it is.
func (r *mpdReader) appendURIValue(dst, raw []byte, quote byte, rws []uriRewriter) []byte {
	if len(rws) == 0 || len(raw) == 0 {
		return append(dst, raw...)
	}
	uri := raw
	if bytes.IndexByte(raw, '&') >= 0 {
		var ok bool
		if r.scratch, ok = appendXMLUnescaped(r.scratch[:0], raw); !ok {
			return append(dst, raw...)
		}
		uri = r.scratch
	}
	if !rws[0].pointsHome(uri) || (r.foreignAt > 0 && isRelativeRef(uri)) {
		return append(dst, raw...)
	}
	for _, w := range rws {
		r.scratch2 = w.appendURI(r.scratch2[:0], uri)
		r.scratch, r.scratch2 = r.scratch2, r.scratch
		uri = r.scratch
	}
	return appendXMLEscaped(dst, uri, quote)
}

// appendXMLEscaped appends s with what XML requires escaped: '&', '<', and
// the quote around an attribute value.
func appendXMLEscaped(dst, s []byte, quote byte) []byte {
	for _, c := range s {
		switch {
		case c == '&':
			dst = append(dst, "&amp;"...)
		case c == '<':
			dst = append(dst, "&lt;"...)
		case c == '"' && quote == '"':
			dst = append(dst, "&quot;"...)
		case c == '\'' && quote == '\'':
			dst = append(dst, "&apos;"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendXMLUnescaped appends s with its predefined entities and character
// references decoded; ok is false for anything else (an entity a DTD would
// define), which the caller then leaves alone.
func appendXMLUnescaped(dst, s []byte) ([]byte, bool) {
	for len(s) > 0 {
		amp := bytes.IndexByte(s, '&')
		if amp < 0 {
			return append(dst, s...), true
		}
		dst = append(dst, s[:amp]...)
		s = s[amp+1:]
		semi := bytes.IndexByte(s, ';')
		if semi < 0 {
			return dst, false
		}
		ref := s[:semi]
		s = s[semi+1:]
		switch string(ref) {
		case "amp":
			dst = append(dst, '&')
		case "lt":
			dst = append(dst, '<')
		case "gt":
			dst = append(dst, '>')
		case "quot":
			dst = append(dst, '"')
		case "apos":
			dst = append(dst, '\'')
		default:
			c, ok := charRef(ref)
			if !ok {
				return dst, false
			}
			dst = append(dst, c)
		}
	}
	return dst, true
}

// charRef decodes "#NN" or "#xHH" when it is ASCII, all a URI may hold.
func charRef(ref []byte) (byte, bool) {
	if len(ref) < 2 || ref[0] != '#' {
		return 0, false
	}
	base, digits := 10, ref[1:]
	if digits[0] == 'x' {
		base, digits = 16, digits[1:]
	}
	if len(digits) == 0 || len(digits) > 6 {
		return 0, false
	}
	v := 0
	for _, c := range digits {
		var d int
		switch {
		case isDigit(c):
			d = int(c - '0')
		case base == 16 && c|0x20 >= 'a' && c|0x20 <= 'f':
			d = int(c|0x20-'a') + 10
		default:
			return 0, false
		}
		v = v*base + d
	}
	if v == 0 || v > 0x7f {
		return 0, false
	}
	return byte(v), true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// isNameStart and isNameByte cover the ASCII of XML names; a byte of a
// multi-byte character counts as part of a name.
func isNameStart(c byte) bool { return isAlpha(c) || c == '_' || c == ':' || c >= 0x80 }
func isNameByte(c byte) bool {
	return isNameStart(c) || isDigit(c) || c == '-' || c == '.'
}

// isRelativeRef reports whether uri is a relative reference without an
// authority (RFC 3986 §4.2), one that a BaseURL resolves.
func isRelativeRef(uri []byte) bool {
	if bytes.HasPrefix(uri, []byte("//")) {
		return false
	}
	for _, c := range uri {
		switch {
		case c == ':':
			return false // a scheme: absolute
		case c == '/' || c == '?' || c == '#':
			return true
		}
	}
	return true
}
