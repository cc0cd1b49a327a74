package proxy

import (
	"io"
	"net/http"
	"strings"
)

// CORSOptions configures CORS.
type CORSOptions struct {
	// Origins are the web origins (scheme://host[:port], lower case) whose
	// pages may call the gate, or the single entry "*" for any page. Empty
	// turns CORS off (-cors-origins, default empty).
	Origins []string
	// RequestHeaders are the identity and limit headers a page may send
	// besides Authorization, Range and the CMCD headers.
	RequestHeaders []string
}

// CORS headers the gate answers with.
const (
	corsAllowMethods = "GET, HEAD, POST, DELETE, OPTIONS"
	// corsExposeHeaders lets a web player read a 429's Retry-After and a
	// segment's length and range.
	corsExposeHeaders = "Retry-After, Content-Length, Content-Range"
	// corsMaxAge is how long, in seconds, a browser may keep a preflight's
	// answer; Chromium caps it at 7200.
	corsMaxAge = "600"
)

// corsRequestHeaders are allowed in every preflight answer, after the
// configured identity headers.
var corsRequestHeaders = []string{"Authorization", "Range", "CMCD-Object", "CMCD-Request", "CMCD-Session", "CMCD-Status"}

// CORS returns the middleware that lets pages on other origins play through
// the gate: it answers their preflights itself (204, never proxied, no
// identity asked), and gives every answer to them, the gate's own 4xx, 503
// and 204 as well as the origin's, the Access-Control-Allow-Origin that lets
// the page read it. With no origins it returns next itself: off costs
// nothing. A request without Origin passes after one map lookup, without an
// allocation; a request from an origin not allowed passes untouched.
func CORS(opts CORSOptions) func(http.Handler) http.Handler {
	if len(opts.Origins) == 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	c := &cors{
		allowed:      make(map[string][]string, len(opts.Origins)),
		allowHeaders: []string{strings.Join(append(append([]string(nil), opts.RequestHeaders...), corsRequestHeaders...), ", ")},
	}
	for _, o := range opts.Origins {
		if o == "*" {
			c.any = true
			continue
		}
		o = strings.ToLower(o)
		c.allowed[o] = []string{o}
	}
	return func(next http.Handler) http.Handler {
		c := *c
		c.next = next
		return &c
	}
}

// Header values, each a slice of its own made once, so that setting them
// allocates nothing.
var (
	corsStar        = []string{"*"}
	corsTrue        = []string{"true"}
	corsMethods     = []string{corsAllowMethods}
	corsExpose      = []string{corsExposeHeaders}
	corsMaxAgeValue = []string{corsMaxAge}
	corsVaryOrigin  = []string{"Origin"}
)

type cors struct {
	// any answers every origin with "*" and no credentials; allowed maps
	// the origins answered with themselves, credentials allowed (cookie
	// tokens need them), to that answer's header value.
	any          bool
	allowed      map[string][]string
	allowHeaders []string
	next         http.Handler
}

func (c *cors) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origins := r.Header["Origin"]
	if len(origins) != 1 {
		c.next.ServeHTTP(w, r)
		return
	}
	origin := corsStar
	if !c.any {
		var ok bool
		if origin, ok = c.allowed[origins[0]]; !ok {
			c.next.ServeHTTP(w, r)
			return
		}
	}
	if r.Method == http.MethodOptions && len(r.Header["Access-Control-Request-Method"]) > 0 {
		h := w.Header()
		c.setOrigin(h, origin)
		h["Access-Control-Allow-Methods"] = corsMethods
		h["Access-Control-Allow-Headers"] = c.allowHeaders
		h["Access-Control-Max-Age"] = corsMaxAgeValue
		w.WriteHeader(http.StatusNoContent)
		return
	}
	c.next.ServeHTTP(&corsWriter{ResponseWriter: w, c: c, origin: origin}, r)
}

// setOrigin sets the headers that let the page of origin read an answer.
func (c *cors) setOrigin(h http.Header, origin []string) {
	h["Access-Control-Allow-Origin"] = origin
	if c.any {
		return
	}
	h["Access-Control-Allow-Credentials"] = corsTrue
	addVaryOrigin(h)
}

// addVaryOrigin adds Origin to Vary unless one of its values lists it
// already.
func addVaryOrigin(h http.Header) {
	vary := h["Vary"]
	if len(vary) == 0 {
		h["Vary"] = corsVaryOrigin
		return
	}
	for _, v := range vary {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, "Origin") {
				return
			}
		}
	}
	h["Vary"] = append(vary[:len(vary):len(vary)], "Origin")
}

// corsWriter adds the CORS headers to an answer, the gate's own or the
// origin's, as its header is written: an origin that sent its own
// Access-Control-Allow-Origin keeps it, since a second one would make the
// browser refuse both.
type corsWriter struct {
	http.ResponseWriter
	c           *cors
	origin      []string
	wroteHeader bool
}

func (w *corsWriter) WriteHeader(code int) {
	if code >= 200 && !w.wroteHeader {
		w.wroteHeader = true
		h := w.Header()
		if _, ok := h["Access-Control-Allow-Origin"]; !ok {
			w.c.setOrigin(h, w.origin)
		}
		if _, ok := h["Access-Control-Expose-Headers"]; !ok {
			h["Access-Control-Expose-Headers"] = corsExpose
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *corsWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom passes a spliced body on (splice.go).
func (w *corsWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return readFrom(w.ResponseWriter, src)
}

// Unwrap gives http.ResponseController, and so the proxy's flushes, the
// writer underneath.
func (w *corsWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
