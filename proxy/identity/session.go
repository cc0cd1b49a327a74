package identity

import (
	"net/http"
	"strings"
)

// FinishSession completes an identity whose configured source (a header or
// a token claim, named by source for the answer's detail) has been read:
// with cmcd on it reads the request's CMCD once into id.CMCD, and its sid
// becomes the session id when the source gave none; with param on
// (-mint-sessions), then the SessionParam query parameter. A manifest may
// go without a session id (stock players fetch their first one before they
// send CMCD): id.SessionID then stays empty and the gate proxies it
// without taking a slot, or mints one. Any other request without one is a
// 400.
func (id *Identity) FinishSession(r *http.Request, cmcd, param bool, source string) *Error {
	if cmcd {
		id.CMCD = ReadCMCD(r.Header, r.URL.RawQuery)
		if id.SessionID == "" && id.CMCD.SessionID != "" {
			if !ValidID(id.CMCD.SessionID) {
				return &Error{Status: http.StatusBadRequest, Reason: "malformed_session",
					Detail: "The CMCD session id (sid) must hold 1 to 128 visible ASCII characters."}
			}
			id.SessionID = id.CMCD.SessionID
		}
	}
	if param && id.SessionID == "" {
		if ierr := id.sessionFromParam(r.URL.RawQuery); ierr != nil {
			return ierr
		}
	}
	if id.SessionID != "" || IsManifest(r.URL.Path) {
		return nil
	}
	detail := "The request carries no session id; send one in " + source
	if cmcd {
		detail += " or as the CMCD sid"
	}
	if param {
		detail += ", or play from a manifest fetched through this gate, whose URIs carry " + SessionParam
	}
	return &Error{Status: http.StatusBadRequest, Reason: "missing_session", Detail: detail + "."}
}

// IsManifest reports whether path names a manifest: an HLS playlist or a
// DASH MPD, by its ending (.m3u8 or .mpd, any case), as SPEC defines it.
// A path an origin may cut before that ending is none: at ";" (path
// parameters, which Tomcat, Jetty and Spring drop), at "?" or "#" (decoded
// from %3F or %23, by an origin that decodes and parses again) or at NUL
// (an origin in C). "/seg-1.ts;.m3u8" would otherwise be a segment
// fetched as a manifest, which needs no session, and so no slot. So is a
// path with "%" once decoded (%253B is ";" to an origin that decodes twice,
// as the dot-segment rule has it too), and one whose last segment is the
// ending alone: "/seg-1.ts/.m3u8" is seg-1.ts with path info to Apache.
func IsManifest(path string) bool {
	var n int
	switch {
	case hasSuffixFold(path, ".m3u8"):
		n = len(".m3u8")
	case hasSuffixFold(path, ".mpd"):
		n = len(".mpd")
	default:
		return false
	}
	if len(path) == n || path[len(path)-n-1] == '/' {
		return false
	}
	return !strings.ContainsAny(path, ";?#%\x00")
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}
