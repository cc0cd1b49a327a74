package proxy

import (
	"net/http"
	"net/textproto"
	"strings"
	"time"
)

// Hardening configures what the gate refuses, or changes, before a request
// may reach the origin, so that the origin sees exactly the identity the gate
// decided on, only paths under -upstream, and no protocol but HTTP (SPEC:
// Hardening). The zero value is safe: it protects X-User-Id and X-Session-Id.
type Hardening struct {
	// UserHeader and SessionHeader are -user-header and -session-header
	// (default X-User-Id, X-Session-Id); LimitHeader is -limit-header (empty:
	// none). A Connection header naming one of them is refused.
	UserHeader, SessionHeader, LimitHeader string
	// SetIdentity (token mode) sets UserHeader and SessionHeader on the
	// proxied request to the verified user and session, replacing whatever
	// the client sent.
	SetIdentity bool
	// HoldEvery is how often a response body still flowing re-admits its
	// session (about a third of -session-ttl); 0 turns it off.
	HoldEvery time.Duration
	// BodyIdle ends a request whose body sends no bytes this long
	// (default 30 s; negative: never).
	BodyIdle time.Duration
	// Client tells the client's address, whose network the store is given
	// (-trusted-proxies).
	Client ClientAddr
}

// DefaultBodyIdle is how long a request body may send nothing.
const DefaultBodyIdle = 30 * time.Second

// hardening is Hardening with its header names canonical and the list of
// headers a Connection header may not name.
type hardening struct {
	Hardening
	userKey, sessionKey string
	// guarded are lower-case names: Connection tokens are compared folded.
	guarded []string
}

func newHardening(h Hardening) hardening {
	if h.UserHeader == "" {
		h.UserHeader = "X-User-Id"
	}
	if h.SessionHeader == "" {
		h.SessionHeader = "X-Session-Id"
	}
	if h.BodyIdle == 0 {
		h.BodyIdle = DefaultBodyIdle
	}
	hd := hardening{Hardening: h,
		userKey:    textproto.CanonicalMIMEHeaderKey(h.UserHeader),
		sessionKey: textproto.CanonicalMIMEHeaderKey(h.SessionHeader),
		guarded:    []string{"authorization", "cookie", strings.ToLower(h.UserHeader), strings.ToLower(h.SessionHeader)},
	}
	if h.LimitHeader != "" {
		hd.guarded = append(hd.guarded, strings.ToLower(h.LimitHeader))
	}
	return hd
}

// screen refuses what must never reach the origin, and strips an h2c offer.
// It answers and returns false when the request stops here. A plain request
// costs a map lookup per header it checks and one pass over its path.
func (h *hardening) screen(w http.ResponseWriter, r *http.Request, m *Metrics) bool {
	if r.Method == http.MethodConnect {
		refuse(w, m, http.StatusBadRequest, "upgrade", "upgrade-refused", "Tunnel refused", "streamgate proxies plain HTTP requests only; CONNECT is not forwarded.")
		return false
	}
	if up := r.Header["Upgrade"]; len(up) > 0 {
		if !onlyH2C(up) {
			refuse(w, m, http.StatusBadRequest, "upgrade", "upgrade-refused", "Upgrade refused",
				"streamgate does not upgrade connections (WebSocket or any other protocol); send a plain HTTP request.")
			return false
		}
		stripH2C(r.Header)
	}
	if conn := r.Header["Connection"]; len(conn) > 0 {
		if name, ok := h.connectionNamesGuarded(conn); ok {
			refuse(w, m, http.StatusBadRequest, "connection_identity", "hop-by-hop-identity", "Bad Connection header",
				"The Connection header names "+name+", which would remove it on the way to the origin; the gate will not proxy such a request.")
			return false
		}
	}
	switch checkPath(r) {
	case pathDot:
		refuse(w, m, http.StatusBadRequest, "dot_segment", "dot-segment", "Bad path",
			"The path has a . or .. segment (perhaps percent-encoded); streamgate forwards only paths without them.")
		return false
	case pathReserved:
		refuse(w, m, http.StatusNotFound, "", "not-found", "Not found",
			"Under "+ReservedPrefix+" streamgate answers only "+HeartbeatPath+" and "+SessionPath+".")
		return false
	}
	return true
}

// connectionNamesGuarded reports the first guarded header a Connection
// header names: ReverseProxy deletes what Connection names, so the origin
// would see another identity than the one the gate decided on.
func (h *hardening) connectionNamesGuarded(values []string) (string, bool) {
	for _, v := range values {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			tok = strings.TrimSpace(tok)
			for _, g := range h.guarded {
				if strings.EqualFold(tok, g) {
					return tok, true
				}
			}
		}
	}
	return "", false
}

// looksGuarded reports whether name, which holds an underscore, reads as
// a guarded header once underscores are dashes: an origin that turns
// header names into CGI variables (X_User_Id and X-User-Id both become
// HTTP_X_USER_ID) could take it for the identity the gate decided on.
// nginx drops such headers by default; in token mode, where the gate sets
// the identity headers and the client sends whatever else it likes, the
// gate drops these (setIdentity). In header mode the front that sets the
// identity headers decides what else passes: a pass over every header name
// costs a tenth of a µs a request, a quarter of the gate's own work.
func (h *hardening) looksGuarded(name string) bool {
	dashed := strings.ReplaceAll(name, "_", "-")
	for _, g := range h.guarded {
		if strings.EqualFold(dashed, g) {
			return true
		}
	}
	return false
}

// setIdentity puts the verified identity on the request the origin gets,
// and drops the look-alikes of the identity headers (looksGuarded).
func (h *hardening) setIdentity(r *http.Request, user, session string) {
	for k := range r.Header {
		if strings.IndexByte(k, '_') >= 0 && h.looksGuarded(k) {
			delete(r.Header, k)
		}
	}
	r.Header[h.userKey] = []string{user}
	if session != "" {
		r.Header[h.sessionKey] = []string{session}
	} else {
		delete(r.Header, h.sessionKey)
	}
}

// onlyH2C reports whether every protocol offered in Upgrade is h2c, which a
// server may ignore (RFC 9113 §3.1 obsoletes it; RFC 9110 §7.8 lets a server
// answer as if no upgrade were offered).
func onlyH2C(values []string) bool {
	seen := false
	for _, v := range values {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			tok = strings.TrimSpace(tok)
			if tok == "" {
				continue
			}
			if !strings.EqualFold(tok, "h2c") {
				return false
			}
			seen = true
		}
	}
	return seen
}

// stripH2C removes an h2c offer: Upgrade, HTTP2-Settings, and their names
// from Connection, so that the request proxies as plain HTTP/1.1.
func stripH2C(h http.Header) {
	delete(h, "Upgrade")
	delete(h, "Http2-Settings")
	conn := h["Connection"]
	if len(conn) == 0 {
		return
	}
	var kept []string
	for _, v := range conn {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			tok = strings.TrimSpace(tok)
			if tok == "" || strings.EqualFold(tok, "upgrade") || strings.EqualFold(tok, "http2-settings") {
				continue
			}
			kept = append(kept, tok)
		}
	}
	if len(kept) == 0 {
		delete(h, "Connection")
		return
	}
	h["Connection"] = []string{strings.Join(kept, ", ")}
}

// refuse answers a problem; a 400 counts in streamgate_invalid_requests_total
// under reason.
func refuse(w http.ResponseWriter, m *Metrics, status int, reason, slug, title, detail string) {
	if reason != "" {
		m.invalid.WithLabelValues(reason).Inc()
	}
	writeProblem(w, status, newProblem(status, slug, title, detail))
}
