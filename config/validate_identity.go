package config

import (
	"net/url"
	"strings"

	"github.com/streamgate/streamgate/proxy/identity"
)

// validateIdentity checks -identity and the flags that go with it. That key
// and secret files exist and parse is checked when the process starts, not
// here: Validate opens nothing.
func (c Config) validateIdentity(bad func(flagName, format string, args ...any)) {
	switch c.Identity {
	case IdentityHeader:
		for _, f := range []struct{ flag, value string }{
			{"jwt-keys", c.JWTKeys}, {"jwt-secret-file", c.JWTSecretFile},
			{"jwt-issuer", c.JWTIssuer}, {"jwt-audience", c.JWTAudience},
		} {
			if f.value != "" {
				bad(f.flag, "only used with -identity jwt; identity comes from headers now")
			}
		}
		if c.LimitHeader != "" {
			switch {
			case !identity.IsToken(c.LimitHeader):
				bad("limit-header", "%q is not a valid HTTP header name", c.LimitHeader)
			case strings.EqualFold(c.LimitHeader, c.UserHeader) || strings.EqualFold(c.LimitHeader, c.SessionHeader):
				bad("limit-header", "%q is already the -user-header or -session-header", c.LimitHeader)
			}
		}
	case IdentityJWT:
		if c.JWTKeys == "" && c.JWTSecretFile == "" {
			bad("jwt-keys", "required with -identity jwt (a JWKS file, a PEM public key file or an https:// JWKS URL), unless -jwt-secret-file is given")
		}
		if strings.Contains(c.JWTKeys, "://") {
			if u, err := url.Parse(c.JWTKeys); err != nil || u.Scheme != "https" || u.Host == "" {
				bad("jwt-keys", "%q: a JWKS URL must be https://host/…; keys fetched over plain HTTP could be anyone's", c.JWTKeys)
			}
		}
		if c.JWTSessionClaim == "" {
			bad("jwt-session-claim", "must name the claim holding the session id")
		}
		if c.JWTCacheSize < 0 {
			bad("jwt-cache-size", "must not be negative (0 turns the cache off)")
		}
		if c.TokenCookie != "" && !identity.IsToken(c.TokenCookie) {
			bad("token-cookie", "%q is not a valid cookie name", c.TokenCookie)
		}
		if c.TokenParam != "" && strings.ContainsAny(c.TokenParam, "&=#;?% +\t") {
			bad("token-param", "%q is not a plain query parameter name", c.TokenParam)
		}
		if c.LimitHeader != "" {
			bad("limit-header", "header identity only; with -identity jwt the limit comes from the token's -jwt-limit-claim")
		}
	default:
		bad("identity", "%q; want header or jwt", c.Identity)
	}
}
