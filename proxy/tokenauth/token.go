package tokenauth

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/streamgate/streamgate/proxy/identity"
)

// tokenSource says where a request's token came from.
type tokenSource uint8

const (
	fromNowhere tokenSource = iota
	fromBearer
	fromCookie
	fromQuery
)

// maxTokenBytes refuses absurd tokens before any parsing; real ones, even
// with many claims, are a few KiB.
const maxTokenBytes = 16 << 10

// tokenProblem, when not empty, is why the request's token cannot be used:
// the detail of a 401. A token given twice in one place is one: guessing
// which counts would let a proxy in front and the gate disagree.
type tokenProblem string

// findToken returns the request's token, looking in the Authorization header
// (scheme Bearer), then the cookie, then the query parameter. An empty cookie
// or parameter name turns that place off. Authorization headers of other
// schemes (Basic for the origin, say) are not ours and are passed over.
func findToken(r *http.Request, cookie, param string) (string, tokenSource, tokenProblem) {
	found := false
	var token string
	for _, v := range r.Header["Authorization"] {
		scheme, rest, _ := strings.Cut(v, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			continue
		}
		if found {
			return "", fromBearer, "The request has more than one Authorization: Bearer header."
		}
		found, token = true, strings.TrimSpace(rest)
	}
	if found {
		if token == "" {
			return "", fromBearer, "The Authorization: Bearer header holds no token."
		}
		return token, fromBearer, ""
	}
	if cookie != "" {
		if v := cookieValue(r.Header, cookie); v != "" {
			return v, fromCookie, ""
		}
	}
	if param != "" && r.URL.RawQuery != "" {
		v, n := queryValue(r.URL.RawQuery, param)
		switch {
		case n > 1:
			return "", fromQuery, tokenProblem("The query has more than one " + param + " parameter.")
		case n == 1 && v != "":
			return v, fromQuery, ""
		}
	}
	return "", fromNowhere, ""
}

// queryValue returns the value of the parameter name in a raw query and how
// many times it occurs, as url.ParseQuery would decode it, without building
// the whole map on every request. Parameters that do not unescape are
// skipped, as ParseQuery skips them.
func queryValue(rawQuery, name string) (value string, n int) {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if !queryKeyIs(k, name) {
			continue
		}
		if needsUnescape(v) {
			var err error
			if v, err = url.QueryUnescape(v); err != nil {
				continue
			}
		}
		value = v
		n++
	}
	return value, n
}

// queryKeyIs reports whether a raw query key decodes to name.
func queryKeyIs(rawKey, name string) bool {
	if !needsUnescape(rawKey) {
		return rawKey == name
	}
	k, err := url.QueryUnescape(rawKey)
	return err == nil && k == name
}

// cookieValue returns the value of the first cookie called name (RFC 6265
// §5.4 puts the one with the most specific path first: the one the site
// meant), its quotes removed. It scans the Cookie headers in place, where
// http.Request.Cookie parses and allocates every cookie on each request.
func cookieValue(h http.Header, name string) string {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || k != name {
				continue
			}
			return unquote(v)
		}
	}
	return ""
}

// needsUnescape reports whether a raw query part holds '%' or '+'. Two
// IndexByte scans run vectorised; ContainsAny goes byte by byte over a
// token of several hundred bytes.
func needsUnescape(s string) bool {
	return strings.IndexByte(s, '%') >= 0 || strings.IndexByte(s, '+') >= 0
}

// keepOnlyCookie removes from the Cookie headers every cookie an origin may
// read as name (identity.SameName) but the one, spelt exactly, that holds
// keep, the token the gate verified: a second token there, which the gate
// did not use, must not reach an origin that may read the cookie. Nothing is written when no other such cookie is there, the
// common case.
func keepOnlyCookie(h http.Header, name, keep string) {
	lines := h["Cookie"]
	if !slices.ContainsFunc(lines, func(line string) bool { return hasOtherCookie(line, name, keep) }) {
		return
	}
	kept := lines[:0:0]
	for _, line := range lines {
		var parts []string
		for _, part := range strings.Split(line, ";") {
			p := strings.TrimSpace(part)
			if k, v, _ := strings.Cut(p, "="); p == "" || identity.SameName(k, name) && !(k == name && unquote(v) == keep) {
				continue
			}
			parts = append(parts, p)
		}
		if len(parts) > 0 {
			kept = append(kept, strings.Join(parts, "; "))
		}
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = kept
}

// hasOtherCookie reports whether line holds a cookie keepOnlyCookie
// removes.
func hasOtherCookie(line, name, keep string) bool {
	if !identity.MayHoldName(line, name) {
		return false
	}
	for line != "" {
		var part string
		part, line, _ = strings.Cut(line, ";")
		if k, v, _ := strings.Cut(strings.TrimSpace(part), "="); identity.SameName(k, name) && !(k == name && unquote(v) == keep) {
			return true
		}
	}
	return false
}

// unquote removes a cookie value's double quotes (RFC 6265 §4.1.1).
func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}
