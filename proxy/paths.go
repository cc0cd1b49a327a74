package proxy

import (
	"net/http"
	"strings"
)

// ReservedPrefix is the proxy listener's own path space: only the two
// control endpoints answer under it, and nothing under it reaches the origin.
const ReservedPrefix = "/_streamgate/"

type pathVerdict uint8

const (
	pathOK       pathVerdict = iota
	pathDot                  // a . or .. segment, raw or percent-encoded
	pathReserved             // under /_streamgate/ but not a control endpoint
)

// checkPath judges the request's decoded path, which is what ReverseProxy
// joins to -upstream's path: a ".." there climbs out of it at the origin.
// A segment of %2e forms left after decoding (a double-encoded dot, which
// some origins decode again) counts as a dot too, and so does a segment
// ended by a backslash, which some origins treat as a slash. Leading slashes
// are folded for the reserved check so that "//_streamgate/session" cannot
// pass as an ordinary path. A segment's path parameters (from ";" on) are
// left out, as Tomcat, Jetty and Spring drop them: "..;" climbs there.
func checkPath(r *http.Request) pathVerdict {
	p := r.URL.Path
	start, end := 0, -1 // the segment, up to its parameters once a ';' came
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' && p[i] != '\\' {
			if p[i] == ';' && end < 0 {
				end = i
			}
			continue
		}
		if end < 0 {
			end = i
		}
		if end-start <= 6 && isDotSegment(p[start:end]) {
			return pathDot
		}
		start, end = i+1, -1
	}
	q := strings.TrimLeft(p, "/")
	const name = "_streamgate"
	if len(q) >= len(name) && strings.EqualFold(q[:len(name)], name) &&
		(len(q) == len(name) || q[len(name)] == '/' || q[len(name)] == '\\') &&
		p != HeartbeatPath && p != SessionPath {
		return pathReserved
	}
	return pathOK
}

// isDotSegment reports whether seg is "." or "..", each dot perhaps written
// %2e (any case).
func isDotSegment(seg string) bool {
	dots := 0
	for seg != "" {
		switch {
		case seg[0] == '.':
			seg = seg[1:]
		case len(seg) >= 3 && seg[0] == '%' && seg[1] == '2' && (seg[2] == 'e' || seg[2] == 'E'):
			seg = seg[3:]
		default:
			return false
		}
		dots++
	}
	return dots == 1 || dots == 2
}
