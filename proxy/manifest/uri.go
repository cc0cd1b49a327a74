package manifest

import (
	"bytes"
	"net/url"
	"strings"

	"github.com/streamgate/streamgate/proxy/identity"
)

// uriRewriter appends query pairs to the URIs that point back at host.
type uriRewriter struct {
	// host and port are the request's Host, lower-cased; port may be empty.
	host, port string
	// pair is the pairs "name=value", escaped, joined with '&'; names are
	// their parameters' decoded names, whose existing occurrences are
	// dropped so that a URI never carries one twice.
	pair  string
	names []string
}

func newURIRewriter(requestHost string, pairs ...string) uriRewriter {
	w := uriRewriter{pair: strings.Join(pairs, "&"), names: pairNames(pairs)}
	if h, p, ok := splitHostPort([]byte(requestHost)); ok {
		w.host, w.port = string(bytes.ToLower(h)), string(p)
	}
	return w
}

// appendURI appends uri, with the pair added to its query when it points at
// the request's own host. A fragment stays last.
func (w uriRewriter) appendURI(dst, uri []byte) []byte {
	if !w.pointsHome(uri) {
		return append(dst, uri...)
	}
	base, frag := uri, []byte(nil)
	if i := bytes.IndexByte(uri, '#'); i >= 0 {
		base, frag = uri[:i], uri[i:]
	}
	path, query, hasQuery := bytes.Cut(base, []byte("?"))
	dst = append(dst, path...)
	dst = append(dst, '?')
	if hasQuery {
		mark := len(dst)
		for len(query) > 0 {
			var param []byte
			param, query, _ = bytes.Cut(query, []byte("&"))
			key, _, _ := bytes.Cut(param, []byte("="))
			if len(param) > 0 && w.isOurParam(key) {
				continue
			}
			if len(dst) > mark && dst[len(dst)-1] != '&' {
				dst = append(dst, '&')
			}
			dst = append(dst, param...)
		}
		if len(dst) > mark && dst[len(dst)-1] != '&' {
			dst = append(dst, '&')
		}
	}
	dst = append(dst, w.pair...)
	return append(dst, frag...)
}

func (w uriRewriter) isOurParam(rawKey []byte) bool {
	return isParamOf(rawKey, w.names)
}

// pairNames returns the decoded parameter names of escaped name=value pairs.
func pairNames(pairs []string) []string {
	names := make([]string, len(pairs))
	for i, p := range pairs {
		rawName, _, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(rawName); err == nil {
			names[i] = n
		} else {
			names[i] = rawName
		}
	}
	return names
}

// isParamOf reports whether a raw query key decodes to one of names.
func isParamOf(rawKey []byte, names []string) bool {
	return paramOf(rawKey, names, func(k, n string) bool { return k == n })
}

// paramOf reports whether a raw query key decodes to a name of names, as
// same says.
func paramOf(rawKey []byte, names []string, same func(k, n string) bool) bool {
	k := string(rawKey)
	if bytes.IndexByte(rawKey, '%') >= 0 || bytes.IndexByte(rawKey, '+') >= 0 {
		var err error
		if k, err = url.QueryUnescape(k); err != nil {
			return false
		}
	}
	for _, n := range names {
		if same(k, n) {
			return true
		}
	}
	return false
}

// StripQuery returns rawQuery, a request's query, without the parameters
// named names, in any spelling an origin may read as them
// (identity.SameName), the rest as it was: what the gate took from the
// query (a token, sg_session) is not the origin's to see. The URIs of an
// origin's manifests keep what the origin wrote (uriRewriter).
func StripQuery(rawQuery string, names ...string) string {
	found := false
	for _, n := range names {
		if identity.MayHoldName(rawQuery, n) {
			found = true
			break
		}
	}
	if !found && !strings.ContainsAny(rawQuery, "%+") {
		return rawQuery // the common case: nothing of ours, no allocation
	}
	out := make([]byte, 0, len(rawQuery))
	for rest := rawQuery; rest != ""; {
		var param string
		param, rest, _ = strings.Cut(rest, "&")
		key, _, _ := strings.Cut(param, "=")
		if param == "" || paramOf([]byte(key), names, identity.SameName) {
			continue
		}
		if len(out) > 0 {
			out = append(out, '&')
		}
		out = append(out, param...)
	}
	return string(out)
}

// pointsHome reports whether uri, resolved against the playlist's URL, stays
// on the request's host: a relative reference, or an http(s) or
// scheme-relative URI naming that host. Anything else (another host, skd:,
// data:) is left alone so that the token never travels to a third party.
//
// A variable reference ({$name}, RFC 8216 §4.3.2.3) is substituted by the
// player, after us: a URI is rewritten only when the part before the first
// variable already fixes where it points. Browsers' URL parsers drop tabs and
// control characters and read '\' as '/', so that "/\tevil.example" can
// mean another host: a URI holding any of them, or starting or ending with a
// space, is left alone.
func (w uriRewriter) pointsHome(uri []byte) bool {
	if len(uri) == 0 || uri[0] == ' ' || uri[len(uri)-1] == ' ' {
		return false
	}
	for _, c := range uri {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	known, complete := uri, true
	if i := bytes.Index(uri, []byte("{$")); i >= 0 {
		known, complete = uri[:i], false
	}
	if bytes.HasPrefix(known, []byte("//")) {
		return w.authorityIsHome(known[2:], "", complete)
	}
	for i, c := range known {
		switch {
		case c == ':':
			scheme := string(bytes.ToLower(known[:i]))
			rest := known[i+1:]
			if (scheme != "http" && scheme != "https") || !bytes.HasPrefix(rest, []byte("//")) {
				return false
			}
			return w.authorityIsHome(rest[2:], scheme, complete)
		case c == '/' || c == '?' || c == '#':
			// A relative reference; only "/" then a variable could still
			// become "//host".
			return !(i == 0 && c == '/' && len(known) == 1 && !complete)
		case isAlpha(c) || (i > 0 && (isDigit(c) || c == '+' || c == '-' || c == '.')):
			// could still be a scheme
		default:
			return true // no scheme has this character: a relative path
		}
	}
	if complete {
		return len(known) > 0
	}
	// The known part could yet become "http:" or "https:".
	return !hasPrefixFold("https", known)
}

func (w uriRewriter) authorityIsHome(rest []byte, scheme string, complete bool) bool {
	end := bytes.IndexAny(rest, "/?#")
	if end < 0 {
		if !complete {
			return false // a variable could extend the host name
		}
		end = len(rest)
	}
	auth := rest[:end]
	if bytes.IndexByte(auth, '@') >= 0 || w.host == "" {
		return false
	}
	host, port, ok := splitHostPort(auth)
	if !ok || !bytes.EqualFold(host, []byte(w.host)) {
		return false
	}
	p := string(port)
	if p == "" {
		switch scheme {
		case "http":
			p = "80"
		case "https":
			p = "443"
		}
	}
	// The request's Host often has no port behind a load balancer; a
	// default port then matches.
	if w.port == "" {
		return p == "" || p == "80" || p == "443"
	}
	return p == w.port || (p == "" && (w.port == "80" || w.port == "443"))
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port".
func splitHostPort(hp []byte) (host, port []byte, ok bool) {
	if len(hp) > 0 && hp[0] == '[' {
		end := bytes.IndexByte(hp, ']')
		if end < 0 {
			return nil, nil, false
		}
		host, hp = hp[1:end], hp[end+1:]
		if len(hp) == 0 {
			return host, nil, true
		}
		if hp[0] != ':' {
			return nil, nil, false
		}
		port = hp[1:]
	} else if i := bytes.LastIndexByte(hp, ':'); i >= 0 {
		host, port = hp[:i], hp[i+1:]
	} else {
		host = hp
	}
	for _, c := range port {
		if !isDigit(c) {
			return nil, nil, false
		}
	}
	return host, port, len(host) > 0
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// hasPrefixFold reports whether s is a prefix of full, ignoring ASCII case.
func hasPrefixFold(full string, s []byte) bool {
	return len(s) <= len(full) && bytes.EqualFold(s, []byte(full[:len(s)]))
}
