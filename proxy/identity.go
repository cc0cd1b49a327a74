package proxy

import (
	"net/http"
	"net/textproto"
)

// Identity is who a request belongs to.
type Identity struct {
	UserID    string
	SessionID string
	// Limit overrides the default limit for this user when positive.
	Limit int
}

// IdentityError is why a request carries no usable identity. It becomes a
// 401 or 400 problem answer and a streamgate_invalid_requests_total reason.
type IdentityError struct {
	Status int
	// Reason is the metric label: a short, fixed word.
	Reason string
	Detail string
	// Challenge, when set, is sent as WWW-Authenticate.
	Challenge string
}

// Identifier reads the identity of a request.
type Identifier interface {
	Identify(r *http.Request) (Identity, *IdentityError)
}

// MaxIDLength is the longest valid user or session id, in bytes.
const MaxIDLength = 128

// ValidID reports whether s is 1–128 bytes of visible ASCII (0x21–0x7E).
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// HeaderIdentity trusts two request headers. It is right only behind a layer
// that authenticates the player and sets them.
type HeaderIdentity struct {
	userHeader, sessionHeader string
}

var _ Identifier = HeaderIdentity{}

// NewHeaderIdentity reads the user and session ids from the named headers.
func NewHeaderIdentity(userHeader, sessionHeader string) HeaderIdentity {
	return HeaderIdentity{
		userHeader:    textproto.CanonicalMIMEHeaderKey(userHeader),
		sessionHeader: textproto.CanonicalMIMEHeaderKey(sessionHeader),
	}
}

// Identify implements Identifier.
func (h HeaderIdentity) Identify(r *http.Request) (Identity, *IdentityError) {
	users := r.Header[h.userHeader]
	if len(users) == 0 || users[0] == "" {
		return Identity{}, &IdentityError{Status: http.StatusUnauthorized, Reason: "missing_user",
			Detail: "The request has no " + h.userHeader + " header."}
	}
	if len(users) > 1 || !ValidID(users[0]) {
		return Identity{}, &IdentityError{Status: http.StatusBadRequest, Reason: "malformed_user",
			Detail: "The " + h.userHeader + " header must appear once and hold 1 to 128 visible ASCII characters."}
	}
	sessions := r.Header[h.sessionHeader]
	if len(sessions) == 0 || sessions[0] == "" {
		return Identity{}, &IdentityError{Status: http.StatusBadRequest, Reason: "missing_session",
			Detail: "The request has no " + h.sessionHeader + " header."}
	}
	if len(sessions) > 1 || !ValidID(sessions[0]) {
		return Identity{}, &IdentityError{Status: http.StatusBadRequest, Reason: "malformed_session",
			Detail: "The " + h.sessionHeader + " header must appear once and hold 1 to 128 visible ASCII characters."}
	}
	return Identity{UserID: users[0], SessionID: sessions[0]}, nil
}
