package identity

import (
	"net/url"
	"strings"
)

// SameName reports whether an origin may read the parameter or cookie name
// k as name. Frameworks read names loosely: Go trims the spaces around a
// cookie's name, PHP turns spaces and dots into underscores and reads
// "name[]" as name, and many match without case. A credential the gate
// removes must go under every such spelling, or a client sends a second one
// the gate never read (a red-team pass: "streamgate_token =B" beside the
// verified token reached a Go origin as the token).
func SameName(k, name string) bool {
	if strings.IndexByte(k, '%') >= 0 {
		if u, err := url.PathUnescape(k); err == nil {
			k = u // a framework that decodes cookie names (older PHP, HHVM)
		}
	}
	k = trimBlank(k)
	if i := strings.IndexByte(k, '['); i >= 0 {
		if strings.IndexByte(k[i:], ']') >= 0 {
			k = trimBlank(k[:i]) // "name[...]" is name's array
		} else {
			k = k[:i] + "_" + k[i+1:] // PHP reads an unclosed '[' as '_'
		}
	}
	if len(k) != len(name) {
		return false
	}
	for i := 0; i < len(k); i++ {
		if looseByte(k[i]) != looseByte(name[i]) {
			return false
		}
	}
	return true
}

func looseByte(c byte) byte {
	switch {
	case c == ' ' || c == '.' || c == '[':
		return '_'
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	}
	return c
}

func trimBlank(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// MayHoldName reports whether s may hold name in a spelling SameName takes:
// a cheap test before a query or cookie header is parsed.
func MayHoldName(s, name string) bool {
	if strings.IndexByte(s, '%') >= 0 {
		return true // an escape may spell any of it
	}
	for i := 0; i+len(name) <= len(s); i++ {
		j := 0
		for j < len(name) && looseByte(s[i+j]) == looseByte(name[j]) {
			j++
		}
		if j == len(name) {
			return true
		}
	}
	return false
}
