package tokenauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamgate/streamgate/proxy/identity"
)

// JWTLeeway is the clock skew allowed on a token's nbf and iat. exp gets
// none: a token is believed until its exp and not a second longer.
const JWTLeeway = 30 * time.Second

// DefaultTokenCacheSize is how many verified tokens are kept by default.
const DefaultTokenCacheSize = 65536

// The challenges of RFC 6750 §3: a request without a token is told how to
// authenticate; one with a bad token is told why it failed.
const (
	challengeBearer       = "Bearer"
	challengeInvalidToken = `Bearer error="invalid_token"`
)

// JWTOptions configures JWTIdentity. Each field is the flag of the same name.
type JWTOptions struct {
	// Keys is -jwt-keys: a JWKS file, a PEM public key file, or an https://
	// JWKS URL. At least one of Keys and SecretFile is needed.
	Keys string
	// SecretFile is -jwt-secret-file: a file holding the HS256 shared secret
	// (at least 32 bytes; a trailing newline is ignored).
	SecretFile string
	// Issuer and Audience, when set, must match the token's iss and aud.
	Issuer, Audience string
	// SessionClaim names the claim holding the session id (-jwt-session-claim); required.
	SessionClaim string
	// LimitClaim names an integer claim that overrides the default limit for
	// its user (-jwt-limit-claim); empty ignores limits in tokens.
	LimitClaim string
	// Cookie and Param name the cookie and query parameter a token may also
	// come in (-token-cookie, -token-param); empty turns that place off.
	Cookie, Param string
	// CacheSize bounds the verified-token cache, in tokens; 0 turns it off.
	CacheSize int
	// CMCD is -cmcd: read the request's CMCD, and take its sid as the
	// session id of a token without the session claim.
	CMCD bool
	// SessionParam is -mint-sessions: take the identity.SessionParam query
	// parameter as the session id of a token without the session claim,
	// after CMCD.
	SessionParam bool
	// HTTPClient fetches a JWKS URL; nil uses a plain client (system roots).
	HTTPClient *http.Client
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Registerer receives the identity's metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Logger receives key-loading warnings; nil discards them.
	Logger *slog.Logger
}

// JWTIdentity verifies a signed token on each request: the user is its sub,
// the session its session claim. Verified tokens are cached until their exp.
type JWTIdentity struct {
	static       keySet
	remote       *remoteJWKS
	parser       *jwt.Parser
	now          func() time.Time
	sessionClaim string
	limitClaim   string
	cmcd         bool
	sessionParam bool
	cookie       string
	param        string
	// paramPrefix is the escaped "param=" put in front of a token appended to playlist URIs.
	paramPrefix string
	cache       *tokenCache
	metrics     jwtMetrics
}

var _ identity.Identifier = (*JWTIdentity)(nil)

// NewJWTIdentity reads the keys (fetching a JWKS URL once) and returns the
// identifier. Close it to stop background key refreshes.
func NewJWTIdentity(opts JWTOptions) (*JWTIdentity, error) {
	if opts.Keys == "" && opts.SecretFile == "" {
		return nil, errors.New("-identity jwt needs -jwt-keys or -jwt-secret-file")
	}
	if opts.SessionClaim == "" {
		return nil, errors.New("-jwt-session-claim must name a claim")
	}
	j := &JWTIdentity{
		now: opts.Now, sessionClaim: opts.SessionClaim, limitClaim: opts.LimitClaim, cmcd: opts.CMCD, sessionParam: opts.SessionParam,
		cookie: opts.Cookie, param: opts.Param, paramPrefix: url.QueryEscape(opts.Param) + "=",
		cache: newTokenCache(opts.CacheSize), metrics: newJWTMetrics(opts.Registerer),
	}
	if j.now == nil {
		j.now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	popts := []jwt.ParserOption{
		jwt.WithValidMethods(acceptedAlgs), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithLeeway(JWTLeeway), jwt.WithTimeFunc(j.now), jwt.WithJSONNumber(), jwt.WithStrictDecoding(),
	}
	if opts.Issuer != "" {
		popts = append(popts, jwt.WithIssuer(opts.Issuer))
	}
	if opts.Audience != "" {
		popts = append(popts, jwt.WithAudience(opts.Audience))
	}
	j.parser = jwt.NewParser(popts...)

	if opts.SecretFile != "" {
		k, err := loadSecret(opts.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("-jwt-secret-file %s: %w", opts.SecretFile, err)
		}
		j.static = append(j.static, k)
	}
	switch {
	case opts.Keys == "":
	case strings.HasPrefix(opts.Keys, "https://"):
		client := opts.HTTPClient
		if client == nil {
			client = &http.Client{}
		}
		r, err := newRemoteJWKS(opts.Keys, client, j.now, opts.Logger, j.metrics.fetches)
		if err != nil {
			return nil, fmt.Errorf("-jwt-keys: %w", err)
		}
		j.remote = r
	default:
		data, err := os.ReadFile(opts.Keys)
		if err != nil {
			return nil, fmt.Errorf("-jwt-keys: %w", err)
		}
		keys, skipped, err := parseKeyFile(data)
		if err != nil {
			return nil, fmt.Errorf("-jwt-keys %s: %w", opts.Keys, err)
		}
		for _, s := range skipped {
			opts.Logger.Warn("-jwt-keys: key skipped", "file", opts.Keys, "reason", s.Error())
		}
		j.static = append(j.static, keys...)
	}
	return j, nil
}

// Close stops a background refresh of a JWKS URL and waits for it.
func (j *JWTIdentity) Close() error {
	if j.remote != nil {
		j.remote.close()
	}
	return nil
}

// Identify implements identity.Identifier.
func (j *JWTIdentity) Identify(r *http.Request) (identity.Identity, *identity.Error) {
	token, src, problem := findToken(r, j.cookie, j.param)
	switch {
	case problem != "":
		j.metrics.refused.Inc()
		return identity.Identity{}, invalidToken("invalid_token", string(problem))
	case token == "":
		j.metrics.refused.Inc()
		return identity.Identity{}, &identity.Error{Status: http.StatusUnauthorized, Reason: "missing_token", Challenge: challengeBearer,
			Detail: j.missingDetail()}
	}
	now := j.now()
	id, ok := j.cache.get(token, now.UnixNano())
	if ok {
		j.metrics.cached.Inc()
	} else {
		var exp int64
		var ierr *identity.Error
		if id, exp, ierr = j.verify(token, now); ierr != nil {
			j.metrics.refused.Inc()
			return identity.Identity{}, ierr
		}
		j.metrics.verified.Inc()
		if src == fromQuery {
			// Kept with the token, so that a query player's every segment
			// does not escape and copy it again.
			id.PlaylistQuery = j.playlistQuery(token)
		}
		j.cache.add(token, id, exp)
	}
	if src != fromQuery {
		id.PlaylistQuery = ""
	} else if id.PlaylistQuery == "" { // cached when it came in a header
		id.PlaylistQuery = j.playlistQuery(token)
	}
	if ierr := id.FinishSession(r, j.cmcd, j.sessionParam, "the token's "+j.sessionClaim+" claim"); ierr != nil {
		return identity.Identity{}, ierr
	}
	if j.cookie != "" && len(r.Header["Cookie"]) > 0 {
		keepOnlyCookie(r.Header, j.cookie, token)
	}
	return id, nil
}

func (j *JWTIdentity) playlistQuery(token string) string {
	return j.paramPrefix + url.QueryEscape(token)
}

func (j *JWTIdentity) missingDetail() string {
	places := "an Authorization: Bearer header"
	if j.cookie != "" {
		places += ", the " + j.cookie + " cookie"
	}
	if j.param != "" {
		places += ", the " + j.param + " query parameter"
	}
	return "The request carries no token; send one in " + places + "."
}

// verify checks the token's signature and claims and returns what it says
// and its exp in Unix nanoseconds.
func (j *JWTIdentity) verify(token string, now time.Time) (identity.Identity, int64, *identity.Error) {
	if len(token) > maxTokenBytes {
		return identity.Identity{}, 0, invalidToken("invalid_token", "The token is longer than 16 KiB.")
	}
	claims := jwt.MapClaims{}
	if _, err := j.parser.ParseWithClaims(token, claims, j.keyfunc); err != nil {
		return identity.Identity{}, 0, tokenError(err)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil || !now.Before(exp.Time) {
		return identity.Identity{}, 0, invalidToken("expired_token", "The token has expired.")
	}
	sub, err := claims.GetSubject()
	if err != nil || sub == "" {
		return identity.Identity{}, 0, invalidToken("invalid_token", "The token has no sub claim naming the user.")
	}
	if !identity.ValidID(sub) {
		return identity.Identity{}, 0, &identity.Error{Status: http.StatusBadRequest, Reason: "malformed_user",
			Detail: "The token's sub claim must hold 1 to 128 visible ASCII characters."}
	}
	id := identity.Identity{UserID: sub}
	switch v := claims[j.sessionClaim].(type) {
	case nil:
		// The session id may come from CMCD, or the request be a manifest
		// that needs none: Identify decides.
	case string:
		if !identity.ValidID(v) {
			return identity.Identity{}, 0, malformedSession(j.sessionClaim)
		}
		id.SessionID = v
	default:
		return identity.Identity{}, 0, malformedSession(j.sessionClaim)
	}
	if j.limitClaim != "" {
		if v, present := claims[j.limitClaim]; present && v != nil {
			n, ok := claimLimit(v)
			if !ok {
				return identity.Identity{}, 0, &identity.Error{Status: http.StatusBadRequest, Reason: "malformed_limit",
					Detail: fmt.Sprintf("The token's %s claim must be a whole number from 1 to %d.", j.limitClaim, identity.MaxLimit)}
			}
			id.Limit = n
		}
	}
	return id, exp.UnixNano(), nil
}

func malformedSession(claim string) *identity.Error {
	return &identity.Error{Status: http.StatusBadRequest, Reason: "malformed_session",
		Detail: "The token's " + claim + " claim must be a string of 1 to 128 visible ASCII characters."}
}

// claimLimit reads a limit claim: a JSON integer, or a string of digits as
// some identity providers write custom attributes.
func claimLimit(v any) (int, bool) {
	switch n := v.(type) {
	case json.Number:
		return identity.ParseLimit(n.String())
	case string:
		return identity.ParseLimit(n)
	}
	return 0, false
}

func invalidToken(reason, detail string) *identity.Error {
	return &identity.Error{Status: http.StatusUnauthorized, Reason: reason, Detail: detail, Challenge: challengeInvalidToken}
}

// tokenError turns a parser error into the answer. Details are fixed
// sentences: nothing the token said is echoed back.
func tokenError(err error) *identity.Error {
	checks := []struct {
		err    error
		reason string
		detail string
	}{
		{errCritHeader, "invalid_token", `The token has a "crit" header; this gate supports no JWS extension.`},
		{errBadKid, "invalid_token", `The token's "kid" header is not a string.`},
		{jwt.ErrTokenExpired, "expired_token", "The token has expired."},
		{jwt.ErrTokenMalformed, "invalid_token", "The token is not a well-formed signed JWT."},
		{jwt.ErrTokenUnverifiable, "invalid_token", "No configured key can verify this token: its alg or kid is unknown here."},
		{jwt.ErrTokenSignatureInvalid, "invalid_token", "The token's signature does not verify, or its alg is not one this gate accepts for the key."},
		{jwt.ErrTokenRequiredClaimMissing, "invalid_token", "The token lacks a required claim: exp, or iss or aud when this gate expects them."},
		{jwt.ErrTokenNotValidYet, "invalid_token", "The token is not valid yet (nbf)."},
		{jwt.ErrTokenUsedBeforeIssued, "invalid_token", "The token was issued in the future (iat)."},
		{jwt.ErrTokenInvalidIssuer, "invalid_token", "The token's iss is not the issuer this gate trusts."},
		{jwt.ErrTokenInvalidAudience, "invalid_token", "The token's aud does not name this gate's audience."},
	}
	for _, c := range checks {
		if errors.Is(err, c.err) {
			return invalidToken(c.reason, c.detail)
		}
	}
	return invalidToken("invalid_token", "The token is invalid.")
}

var (
	errCritHeader = errors.New(`token has a "crit" header; no JWS extension is supported`)
	errBadKid     = errors.New(`token's "kid" is not a string`)
	errNoKey      = errors.New("no key for the token's alg and kid")
)

// keyfunc picks the keys that may verify t: those pinned to t's alg (a key
// verifies one algorithm only, decided by its type) and, when t names a kid,
// carrying that kid. An unknown kid makes a JWKS URL refetch, at most once
// a minute.
func (j *JWTIdentity) keyfunc(t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		return nil, errCritHeader
	}
	var kid string
	raw, hasKid := t.Header["kid"]
	if hasKid {
		s, ok := raw.(string)
		if !ok {
			return nil, errBadKid
		}
		kid = s
	}
	keys := j.static
	if j.remote != nil {
		j.remote.refreshIfStale()
		remote := j.remote.current()
		if hasKid && !remote.hasID(kid) && !j.static.hasID(kid) {
			remote = j.remote.refetchFor(kid)
		}
		keys = append(append(keySet(nil), j.static...), remote...)
	}
	c := keys.candidates(t.Method.Alg(), kid, hasKid)
	switch len(c) {
	case 0:
		return nil, errNoKey
	case 1:
		return c[0].key, nil
	}
	set := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, len(c))}
	for i, k := range c {
		set.Keys[i] = k.key
	}
	return set, nil
}

// jwtMetrics count how identities were settled, and JWKS fetches.
type jwtMetrics struct {
	cached, verified, refused prometheus.Counter
	fetches                   *prometheus.CounterVec
}

func newJWTMetrics(reg prometheus.Registerer) jwtMetrics {
	verifications := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "streamgate_token_verifications_total",
		Help: "Tokens looked at by -identity jwt: cached (verified before, still valid), verified (signature checked now), refused (401/400).",
	}, []string{"result"})
	fetches := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "streamgate_jwks_fetches_total",
		Help: "Fetches of the -jwt-keys JWKS URL, by result (ok, error).",
	}, []string{"result"})
	fetches.WithLabelValues("ok")
	fetches.WithLabelValues("error")
	if reg != nil {
		reg.MustRegister(verifications, fetches)
	}
	return jwtMetrics{
		cached:   verifications.WithLabelValues("cached"),
		verified: verifications.WithLabelValues("verified"),
		refused:  verifications.WithLabelValues("refused"),
		fetches:  fetches,
	}
}
