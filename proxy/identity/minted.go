package identity

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

// SessionParam is the query parameter that carries a session id the gate
// minted (-mint-sessions): every same-host URI of a manifest answered
// without a session id gets it, and a request carrying it has that session
// id when neither its configured source nor CMCD gave one. It never reaches
// the origin.
const SessionParam = "sg_session"

// mintedIDBytes is the randomness of a minted session id: 128 bits, far
// beyond guessing another player's.
const mintedIDBytes = 16

// MintSessionID returns a fresh random session id: 128 bits from
// crypto/rand, URL-safe base64, 22 characters, so that it goes in a query
// as it is.
func MintSessionID() string {
	var b [mintedIDBytes]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// sessionFromParam takes the session id from the SessionParam query
// parameter, if there is one; its raw pair becomes id.SessionQuery so that a
// manifest fetched with it hands it on. The parameter given twice, or an
// invalid id, is a 400.
func (id *Identity) sessionFromParam(rawQuery string) *Error {
	if !strings.Contains(rawQuery, SessionParam) && !strings.ContainsAny(rawQuery, "%+") {
		return nil
	}
	var pair, value string
	n := 0
	for rest := rawQuery; rest != ""; {
		var p string
		p, rest, _ = strings.Cut(rest, "&")
		k, v, _ := strings.Cut(p, "=")
		if k != SessionParam {
			if !strings.ContainsAny(k, "%+") {
				continue
			}
			if dk, err := url.QueryUnescape(k); err != nil || dk != SessionParam {
				continue
			}
		}
		if strings.ContainsAny(v, "%+") {
			dv, err := url.QueryUnescape(v)
			if err != nil {
				return malformedParam()
			}
			v = dv
		}
		pair, value = p, v
		n++
	}
	switch {
	case n == 0:
		return nil
	case n > 1 || !ValidID(value):
		return malformedParam()
	}
	id.SessionID, id.SessionQuery = value, pair
	return nil
}

func malformedParam() *Error {
	return &Error{Status: http.StatusBadRequest, Reason: "malformed_session",
		Detail: "The " + SessionParam + " query parameter must appear once and hold 1 to 128 visible ASCII characters."}
}
