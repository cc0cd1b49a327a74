package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/streamgate/streamgate/proxy"
)

// RequireToken returns a middleware that admits only requests carrying
// "Authorization: Bearer <token>". An empty token turns it off. The comparison
// runs on SHA-256 digests in constant time, so neither the token's bytes nor
// its length leak through timing.
func RequireToken(token string) func(http.Handler) http.Handler {
	if token == "" {
		return func(next http.Handler) http.Handler { return next }
	}
	want := sha256.Sum256([]byte(token))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, ok := bearer(r)
			sum := sha256.Sum256([]byte(got))
			if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="streamgate-admin"`)
				proxy.WriteProblem(w, http.StatusUnauthorized, "admin-token",
					"Unauthorized", "This admin endpoint needs Authorization: Bearer <admin token>.")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// bearer returns the token of an "Authorization: Bearer" header; the scheme
// is case-insensitive (RFC 9110).
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
