// Package identity reads who a request belongs to from trusted headers, and
// holds what every identifier shares: the Identity, the Error that becomes a
// 400 or 401 answer, valid ids and per-user limits.
package identity

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// Identity is who a request belongs to.
type Identity struct {
	UserID    string
	SessionID string
	// Limit overrides the default limit for this user when positive.
	Limit int
	// PlaylistQuery, when set, is an escaped name=value pair that every
	// same-host URI of an HLS playlist answered to this request gets
	// appended: the token came in the query, and a player that cannot set
	// headers must keep it on every request.
	PlaylistQuery string
	// SessionQuery, when set, is the escaped SessionParam pair the session
	// id came in: a manifest answered to this request hands it on in its
	// URIs, as it hands on PlaylistQuery.
	SessionQuery string
	// CMCD is what the player sent as Common Media Client Data, read once
	// per request; zero when it sent none or -cmcd is off.
	CMCD CMCD
}

// Error is why a request carries no usable identity. It becomes a 401 or
// 400 problem answer and a streamgate_invalid_requests_total reason.
type Error struct {
	Status int
	// Reason is the metric label: a short, fixed word.
	Reason string
	Detail string
	// Challenge, when set, is sent as WWW-Authenticate.
	Challenge string
}

// Error implements error: the detail, or the reason when there is none.
func (e *Error) Error() string {
	if e.Detail != "" {
		return e.Detail
	}
	return e.Reason
}

// Identifier reads the identity of a request.
type Identifier interface {
	Identify(r *http.Request) (Identity, *Error)
}

// IsToken reports whether s is an RFC 9110 token: the syntax of a header
// name, a cookie name and a request method.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// MaxIDLength is the longest valid user or session id, in bytes.
const MaxIDLength = 128

// ValidID reports whether s is 1–128 bytes of visible ASCII (0x21–0x7E),
// and not "." or "..", which cannot be a path segment of the admin API.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLength || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// MaxLimit is the largest per-user limit a token or a header may set.
const MaxLimit = 1_000_000

// ParseLimit reads a per-user limit: 1 to MaxLimit in plain decimal digits.
func ParseLimit(s string) (int, bool) {
	if len(s) == 0 || len(s) > 7 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, n >= 1 && n <= MaxLimit
}

// HeaderIdentity trusts two request headers. It is right only behind a layer
// that authenticates the player and sets them.
type HeaderIdentity struct {
	userHeader, sessionHeader string
	// limitHeader, when set, carries the user's limit.
	limitHeader string
	// cmcd: CMCD is read, and its sid stands in for a missing session header.
	cmcd bool
	// param: a SessionParam query parameter stands in for a missing
	// session header (-mint-sessions).
	param bool
}

var _ Identifier = HeaderIdentity{}

// NewHeaderIdentity reads the user and session ids from the named headers.
func NewHeaderIdentity(userHeader, sessionHeader string) HeaderIdentity {
	return HeaderIdentity{
		userHeader:    textproto.CanonicalMIMEHeaderKey(userHeader),
		sessionHeader: textproto.CanonicalMIMEHeaderKey(sessionHeader),
	}
}

// WithLimitHeader returns h reading each user's limit from the named header
// as well (-limit-header): a whole number from 1 to MaxLimit; absent or empty
// means the default limit.
func (h HeaderIdentity) WithLimitHeader(name string) HeaderIdentity {
	h.limitHeader = ""
	if name != "" {
		h.limitHeader = textproto.CanonicalMIMEHeaderKey(name)
	}
	return h
}

// WithCMCD returns h reading CMCD (-cmcd) when on: its sid is the session
// id of a request without the session header.
func (h HeaderIdentity) WithCMCD(on bool) HeaderIdentity {
	h.cmcd = on
	return h
}

// WithSessionParam returns h reading the SessionParam query parameter
// (-mint-sessions) when on: the session id of a request without the
// session header or a CMCD sid.
func (h HeaderIdentity) WithSessionParam(on bool) HeaderIdentity {
	h.param = on
	return h
}

// Identify implements Identifier.
func (h HeaderIdentity) Identify(r *http.Request) (Identity, *Error) {
	users := r.Header[h.userHeader]
	if len(users) == 0 || users[0] == "" {
		return Identity{}, &Error{Status: http.StatusUnauthorized, Reason: "missing_user",
			Detail: "The request has no " + h.userHeader + " header."}
	}
	if len(users) > 1 || !ValidID(users[0]) {
		return Identity{}, &Error{Status: http.StatusBadRequest, Reason: "malformed_user",
			Detail: "The " + h.userHeader + " header must appear once and hold 1 to 128 visible ASCII characters."}
	}
	id := Identity{UserID: users[0]}
	sessions := r.Header[h.sessionHeader]
	if len(sessions) > 0 && (len(sessions) > 1 || sessions[0] != "") {
		if len(sessions) > 1 || !ValidID(sessions[0]) {
			return Identity{}, &Error{Status: http.StatusBadRequest, Reason: "malformed_session",
				Detail: "The " + h.sessionHeader + " header must appear once and hold 1 to 128 visible ASCII characters."}
		}
		id.SessionID = sessions[0]
	}
	if ierr := id.FinishSession(r, h.cmcd, h.param, "the "+h.sessionHeader+" header"); ierr != nil {
		return Identity{}, ierr
	}
	if h.limitHeader != "" {
		if limits := r.Header[h.limitHeader]; len(limits) > 0 && (len(limits) > 1 || limits[0] != "") {
			n, ok := ParseLimit(limits[0])
			if len(limits) > 1 || !ok {
				return Identity{}, &Error{Status: http.StatusBadRequest, Reason: "malformed_limit",
					Detail: "The " + h.limitHeader + " header must appear once and hold a whole number from 1 to " + strconv.Itoa(MaxLimit) + "."}
			}
			id.Limit = n
		}
	}
	return id, nil
}
