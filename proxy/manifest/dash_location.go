package manifest

import "bytes"

// A live (dynamic) MPD is reloaded by the player from the URL it was first
// given, which carries no sg_session: each reload would mint a new session
// and take a new slot. So a minted live MPD also gets a Location naming
// itself with the session, which dash.js and Shaka reload from instead
// (ISO/IEC 23009-1 §5.3.1.2). A static MPD is fetched once and gets none.

// appendLocation appends, after the MPD start tag tag, a Location element
// holding r.location when the MPD is dynamic. Its prefix is the MPD's, so
// that it lands in the DASH namespace however the document names it.
func (r *mpdReader) appendLocation(dst, tag []byte) []byte {
	if r.location == "" || bytes.HasSuffix(tag, []byte("/>")) || !isDynamic(tag) {
		return dst
	}
	name := tagName(tag)
	prefix := name[:len(name)-len(localName(name))]
	dst = append(dst, '<')
	dst = append(dst, prefix...)
	dst = append(dst, "Location>"...)
	dst = appendXMLEscaped(dst, []byte(r.location), 0)
	dst = append(dst, "</"...)
	dst = append(dst, prefix...)
	return append(dst, "Location>"...)
}

// isDynamic reports whether an MPD start tag has type="dynamic".
func isDynamic(tag []byte) bool {
	i := 1 + len(tagName(tag))
	for {
		a, ok := nextAttr(tag, i)
		if !ok {
			return false
		}
		if string(a.name) == "type" {
			return string(tag[a.valueStart:a.valueEnd]) == "dynamic"
		}
		i = a.valueEnd + 1
	}
}
