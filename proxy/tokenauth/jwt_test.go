package tokenauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/tokenauth"
)

func TestJWTIdentityAlgorithms(t *testing.T) {
	t.Parallel()
	k := jwtKeys()
	tests := []struct {
		name   string
		keys   func(t *testing.T) tokenauth.JWTOptions
		method jwt.SigningMethod
		key    any
		kid    string
	}{
		{"RS256 from a JWKS file", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: writeJWKS(t, jose.JSONWebKey{Key: &k.rsa.PublicKey, KeyID: "r1", Algorithm: "RS256", Use: "sig"})}
		}, jwt.SigningMethodRS256, k.rsa, "r1"},
		{"ES256 from a JWKS file", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: writeJWKS(t, jose.JSONWebKey{Key: &k.ec.PublicKey, KeyID: "e1"})}
		}, jwt.SigningMethodES256, k.ec, "e1"},
		{"EdDSA from a JWKS file", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: writeJWKS(t, jose.JSONWebKey{Key: k.ed.Public(), KeyID: "d1", Algorithm: "EdDSA"})}
		}, jwt.SigningMethodEdDSA, k.ed, "d1"},
		{"RS256 from a PEM file, token naming a kid", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: writeTestFile(t, "rsa.pem", pemPublic(t, &k.rsa.PublicKey))}
		}, jwt.SigningMethodRS256, k.rsa, "whatever"},
		{"ES256 from a PEM file", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: writeTestFile(t, "ec.pem", pemPublic(t, &k.ec.PublicKey))}
		}, jwt.SigningMethodES256, k.ec, ""},
		{"EdDSA from a PEM file", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: writeTestFile(t, "ed.pem", pemPublic(t, k.ed.Public()))}
		}, jwt.SigningMethodEdDSA, k.ed, ""},
		{"HS256 from a secret file with a trailing newline", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{SecretFile: writeTestFile(t, "secret", append(append([]byte{}, k.secret...), '\n'))}
		}, jwt.SigningMethodHS256, k.secret, ""},
		{"RS256 among several keys, no kid", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: writeJWKS(t,
				jose.JSONWebKey{Key: &k.rsa2.PublicKey, KeyID: "other"},
				jose.JSONWebKey{Key: &k.rsa.PublicKey, KeyID: "r1"},
				jose.JSONWebKey{Key: &k.ec.PublicKey, KeyID: "e1"})}
		}, jwt.SigningMethodRS256, k.rsa, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := tt.keys(t)
			opts.SessionClaim, opts.Cookie, opts.Param, opts.CacheSize = "sid", "streamgate_token", "token", 16
			g := newJWTGate(t, jwtGateOptions{jwt: &opts})
			token := mint(t, tt.method, tt.key, tt.kid, claimsFor(g.clock.Now(), "alice", "phone"))

			resp, body := g.get(t, "/seg.ts", token)
			require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
			assert.Equal(t, "segment-bytes", string(body))
			assert.Equal(t, "Bearer "+token, g.origin.lastRequest().Header.Get("Authorization"), "the token reaches the origin unchanged")
			sessions, err := g.memory.List(t.Context(), "alice")
			require.NoError(t, err)
			require.Len(t, sessions, 1)
			assert.Equal(t, "phone", sessions[0].ID)

			resp, _ = g.get(t, "/seg.ts", token) // again, from the cache
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, 1.0, gatheredValue(t, g.reg, "streamgate_token_verifications_total", "result", "verified"))
			assert.Equal(t, 1.0, gatheredValue(t, g.reg, "streamgate_token_verifications_total", "result", "cached"))
		})
	}
}

func TestJWTIdentityRefusals(t *testing.T) {
	t.Parallel()
	k := jwtKeys()
	pemRSA := pemPublic(t, &k.rsa.PublicKey)
	opts := tokenauth.JWTOptions{
		Keys:       writeJWKS(t, jose.JSONWebKey{Key: &k.rsa.PublicKey, KeyID: "r1"}, jose.JSONWebKey{Key: &k.ec.PublicKey, KeyID: "e1"}),
		SecretFile: writeTestFile(t, "secret", k.secret), Issuer: "https://id.example", Audience: "streamgate",
		SessionClaim: "sid", LimitClaim: "max_streams", Cookie: "streamgate_token", Param: "token", CacheSize: 64,
	}
	g := newJWTGate(t, jwtGateOptions{jwt: &opts})
	now := g.clock.Now()
	valid := func() jwt.MapClaims {
		c := claimsFor(now, "bob", "tv")
		c["iss"], c["aud"] = "https://id.example", []string{"other", "streamgate"}
		return c
	}
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := valid()
		change(c)
		return c
	}
	rs := func(c jwt.MapClaims) string { return mint(t, jwt.SigningMethodRS256, k.rsa, "r1", c) }
	good := rs(valid())
	parts := strings.Split(good, ".")
	otherUser, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(otherUser), `"bob"`, `"eve"`, 1))) + "." + parts[2]
	none := mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", valid())
	otherEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)

	tests := []struct {
		name   string
		token  string
		status int
		reason string
		detail string
	}{
		{"expired", rs(with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() })), 401, "expired_token", "expired"},
		{"expired within the nbf/iat leeway still expired", rs(with(func(c jwt.MapClaims) { c["exp"] = now.Add(-5 * time.Second).Unix() })), 401, "expired_token", "expired"},
		{"no exp", rs(with(func(c jwt.MapClaims) { delete(c, "exp") })), 401, "invalid_token", "required claim"},
		{"not yet valid", rs(with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() })), 401, "invalid_token", "nbf"},
		{"issued in the future", rs(with(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Minute).Unix() })), 401, "invalid_token", "iat"},
		{"wrong issuer", rs(with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })), 401, "invalid_token", "iss"},
		{"no issuer", rs(with(func(c jwt.MapClaims) { delete(c, "iss") })), 401, "invalid_token", "required claim"},
		{"wrong audience", rs(with(func(c jwt.MapClaims) { c["aud"] = "someone-else" })), 401, "invalid_token", "aud"},
		{"wrong key", mint(t, jwt.SigningMethodRS256, k.rsa2, "r1", valid()), 401, "invalid_token", "signature"},
		{"unknown kid", mint(t, jwt.SigningMethodRS256, k.rsa, "r9", valid()), 401, "invalid_token", "kid"},
		{"kid not a string", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, valid())
			tok.Header["kid"] = 7
			s, err := tok.SignedString(k.rsa)
			require.NoError(t, err)
			return s
		}(), 401, "invalid_token", "kid"},
		{"crit header", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, valid())
			tok.Header["kid"], tok.Header["crit"] = "r1", []string{"exp"}
			s, err := tok.SignedString(k.rsa)
			require.NoError(t, err)
			return s
		}(), 401, "invalid_token", "crit"},
		{"tampered payload", tampered, 401, "invalid_token", "signature"},
		{"alg none", none, 401, "invalid_token", "alg"},
		{"alg none with a signature", strings.TrimSuffix(none, ".") + "." + parts[2], 401, "invalid_token", "alg"},
		{"HS256 signed with the RSA public key (PEM)", mint(t, jwt.SigningMethodHS256, pemRSA, "r1", valid()), 401, "invalid_token", "signature"},
		{"HS256 signed with the RSA public key, no kid", mint(t, jwt.SigningMethodHS256, pemRSA, "", valid()), 401, "invalid_token", "signature"},
		{"RS512 with the right RSA key", mint(t, jwt.SigningMethodRS512, k.rsa, "r1", valid()), 401, "invalid_token", "alg"},
		{"PS256 with the right RSA key", mint(t, jwt.SigningMethodPS256, k.rsa, "r1", valid()), 401, "invalid_token", "alg"},
		{"ES256 naming the RSA key's kid", mint(t, jwt.SigningMethodES256, k.ec, "r1", valid()), 401, "invalid_token", "kid"},
		{"ES256 by an unknown EC key", mint(t, jwt.SigningMethodES256, otherEC, "e1", valid()), 401, "invalid_token", "signature"},
		{"HS384 with the secret", mint(t, jwt.SigningMethodHS384, k.secret, "", valid()), 401, "invalid_token", "alg"},
		{"missing sub", rs(with(func(c jwt.MapClaims) { delete(c, "sub") })), 401, "invalid_token", "sub"},
		{"sub not a string", rs(with(func(c jwt.MapClaims) { c["sub"] = 42 })), 401, "invalid_token", "sub"},
		{"sub with a space", rs(with(func(c jwt.MapClaims) { c["sub"] = "bob smith" })), 400, "malformed_user", "sub"},
		{"missing session claim", rs(with(func(c jwt.MapClaims) { delete(c, "sid") })), 400, "missing_session", "sid"},
		{"session claim null", rs(with(func(c jwt.MapClaims) { c["sid"] = nil })), 400, "missing_session", "sid"},
		{"session claim a number", rs(with(func(c jwt.MapClaims) { c["sid"] = 12 })), 400, "malformed_session", "sid"},
		{"session claim too long", rs(with(func(c jwt.MapClaims) { c["sid"] = strings.Repeat("s", 129) })), 400, "malformed_session", "sid"},
		{"limit claim zero", rs(with(func(c jwt.MapClaims) { c["max_streams"] = 0 })), 400, "malformed_limit", "max_streams"},
		{"limit claim fractional", rs(with(func(c jwt.MapClaims) { c["max_streams"] = 2.5 })), 400, "malformed_limit", "max_streams"},
		{"limit claim a word", rs(with(func(c jwt.MapClaims) { c["max_streams"] = "two" })), 400, "malformed_limit", "max_streams"},
		{"garbage", "not-a-jwt", 401, "invalid_token", "well-formed"},
		{"garbage with dots", "a.b.c", 401, "invalid_token", "well-formed"},
		{"four segments", good + ".x", 401, "invalid_token", "well-formed"},
		{"padded base64", parts[0] + "=." + parts[1] + "." + parts[2], 401, "invalid_token", "well-formed"},
		{"oversized", strings.Repeat("a", 20<<10), 401, "invalid_token", "16 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := "/refused/" + strings.ReplaceAll(tt.name, " ", "-")
			resp, body := g.get(t, path, tt.token)
			require.Equal(t, tt.status, resp.StatusCode, "body: %s", body)
			p := problemOf(t, resp, body)
			assert.Equal(t, float64(tt.status), p["status"])
			assert.Contains(t, p["detail"], tt.detail)
			if tt.status == http.StatusUnauthorized {
				assert.Equal(t, `Bearer error="invalid_token"`, resp.Header.Get("WWW-Authenticate"))
			} else {
				assert.Empty(t, resp.Header.Get("WWW-Authenticate"))
			}
			assert.False(t, pathSeen(g.origin, path), "nothing reaches the origin")
			assert.GreaterOrEqual(t, gatheredValue(t, g.reg, "streamgate_invalid_requests_total", "reason", tt.reason), 1.0)
		})
	}

	t.Run("the valid token passes", func(t *testing.T) {
		t.Parallel()
		resp, body := g.get(t, "/ok.ts", good)
		assert.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
	})
	t.Run("exp is not extended by the leeway", func(t *testing.T) {
		t.Parallel()
		c := with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() })
		id, err := tokenauth.NewJWTIdentity(withNow(opts, func() time.Time { return now }))
		require.NoError(t, err)
		t.Cleanup(func() { _ = id.Close() })
		_, ierr := id.Identify(bearerRequest(t, rs(c)))
		require.NotNil(t, ierr)
		assert.Equal(t, "expired_token", ierr.Reason)
	})
	t.Run("nbf and iat within the leeway pass", func(t *testing.T) {
		t.Parallel()
		c := with(func(c jwt.MapClaims) {
			c["nbf"], c["iat"] = now.Add(25*time.Second).Unix(), now.Add(25*time.Second).Unix()
		})
		resp, body := g.get(t, "/leeway.ts", rs(c))
		assert.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
	})
}

func TestJWTIdentityNoToken(t *testing.T) {
	t.Parallel()
	opts := tokenauth.JWTOptions{SecretFile: writeTestFile(t, "secret", jwtKeys().secret), SessionClaim: "sid",
		Cookie: "streamgate_token", Param: "token"}
	g := newJWTGate(t, jwtGateOptions{jwt: &opts})
	tests := []struct {
		name   string
		header http.Header
		query  string
		status int
		chall  string
	}{
		{"nothing", nil, "", 401, "Bearer"},
		{"another scheme only", http.Header{"Authorization": {"Basic YTpi"}}, "", 401, "Bearer"},
		{"empty cookie and parameter", http.Header{"Cookie": {"streamgate_token="}}, "?token=", 401, "Bearer"},
		{"empty bearer", http.Header{"Authorization": {"Bearer "}}, "", 401, `Bearer error="invalid_token"`},
		{"two bearer headers", http.Header{"Authorization": {"Bearer a.b.c", "Bearer d.e.f"}}, "", 401, `Bearer error="invalid_token"`},
		{"two token parameters", nil, "?token=a.b.c&token=d.e.f", 401, `Bearer error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodGet, g.URL+"/none.ts"+tt.query, nil)
			require.NoError(t, err)
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, body := g.do(t, req)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, tt.chall, resp.Header.Get("WWW-Authenticate"))
			problemOf(t, resp, body)
		})
	}
	assert.Zero(t, g.origin.hits.Load(), "nothing reaches the origin")
}

func TestJWTTokenOrder(t *testing.T) {
	t.Parallel()
	k := jwtKeys()
	opts := tokenauth.JWTOptions{SecretFile: writeTestFile(t, "secret", k.secret), SessionClaim: "sid",
		Cookie: "sg_tok", Param: "tk", CacheSize: 64}
	g := newJWTGate(t, jwtGateOptions{jwt: &opts})
	now := g.clock.Now()
	tok := func(session string) string {
		return mint(t, jwt.SigningMethodHS256, k.secret, "", claimsFor(now, "carol", session))
	}
	bearer, cookie, query := tok("from-bearer"), tok("from-cookie"), tok("from-query")

	tests := []struct {
		name                  string
		bearer, cookie, query string
		want                  string
	}{
		{"bearer first", bearer, cookie, query, "from-bearer"},
		{"cookie before the query", "", cookie, query, "from-cookie"},
		{"query last", "", "", query, "from-query"},
		{"a bad bearer is not rescued by a good cookie", "garbage", cookie, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := g.URL + "/order.ts"
			if tt.query != "" {
				u += "?tk=" + tt.query
			}
			req, err := http.NewRequest(http.MethodPost, u, nil)
			require.NoError(t, err)
			req.URL.Path = proxy.HeartbeatPath
			if tt.bearer != "" {
				req.Header.Set("Authorization", "bearer "+tt.bearer)
			}
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: "other", Value: "x"})
				req.AddCookie(&http.Cookie{Name: "sg_tok", Value: tt.cookie})
			}
			resp, _ := g.do(t, req)
			if tt.want == "" {
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				return
			}
			require.Equal(t, http.StatusNoContent, resp.StatusCode)
			sessions, err := g.memory.List(t.Context(), "carol")
			require.NoError(t, err)
			var ids []string
			for _, s := range sessions {
				ids = append(ids, s.ID)
			}
			assert.Contains(t, ids, tt.want)
		})
	}
}

func TestJWTCacheHonoursExp(t *testing.T) {
	t.Parallel()
	k := jwtKeys()
	clock := newJWTClock()
	id, err := tokenauth.NewJWTIdentity(tokenauth.JWTOptions{SecretFile: writeTestFile(t, "secret", k.secret), SessionClaim: "sid",
		CacheSize: 4, Now: clock.Now, Logger: discardLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = id.Close() })
	c := claimsFor(clock.Now(), "dave", "laptop")
	c["exp"] = clock.Now().Add(10 * time.Second).Unix()
	token := mint(t, jwt.SigningMethodHS256, k.secret, "", c)

	got, ierr := id.Identify(bearerRequest(t, token))
	require.Nil(t, ierr)
	assert.Equal(t, identity.Identity{UserID: "dave", SessionID: "laptop"}, got)
	got, ierr = id.Identify(bearerRequest(t, token))
	require.Nil(t, ierr, "cached")
	assert.Equal(t, "dave", got.UserID)

	clock.Advance(11 * time.Second)
	_, ierr = id.Identify(bearerRequest(t, token))
	require.NotNil(t, ierr, "a cached token expires at its exp")
	assert.Equal(t, "expired_token", ierr.Reason)

	// The cache is bounded: more tokens than it holds all still verify.
	for i := range 10 {
		tok := mint(t, jwt.SigningMethodHS256, k.secret, "", claimsFor(clock.Now(), "dave", "s"+string(rune('a'+i))))
		_, ierr := id.Identify(bearerRequest(t, tok))
		require.Nil(t, ierr)
	}
}

func TestNewJWTIdentityRejectsBadKeys(t *testing.T) {
	t.Parallel()
	k := jwtKeys()
	small, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	tests := []struct {
		name string
		opts func(t *testing.T) tokenauth.JWTOptions
		want string
	}{
		{"nothing", func(t *testing.T) tokenauth.JWTOptions { return tokenauth.JWTOptions{} }, "-jwt-keys or -jwt-secret-file"},
		{"missing key file", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: t.TempDir() + "/absent.json"}
		}, "no such file"},
		{"missing secret file", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{SecretFile: t.TempDir() + "/absent"}
		}, "-jwt-secret-file"},
		{"short secret", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{SecretFile: writeTestFile(t, "s", []byte("short"))}
		}, "at least 32"},
		{"not a key file", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: writeTestFile(t, "k", []byte("hello"))}
		}, "neither"},
		{"a private key PEM", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: writeTestFile(t, "k", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))}
		}, "never a private key"},
		{"P-384 key", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: writeTestFile(t, "k", pemPublic(t, &small.PublicKey))}
		}, "P-256"},
		{"JWKS with only an encryption key", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: writeJWKS(t, jose.JSONWebKey{Key: &k.rsa.PublicKey, KeyID: "x", Use: "enc"})}
		}, "no usable signing key"},
		{"JWKS key marked for another alg", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: writeJWKS(t, jose.JSONWebKey{Key: &k.rsa.PublicKey, KeyID: "x", Algorithm: "PS256"})}
		}, "no usable signing key"},
		{"JWKS with a symmetric key", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: writeJWKS(t, jose.JSONWebKey{Key: k.secret, KeyID: "x"})}
		}, "-jwt-secret-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := tt.opts(t)
			o.SessionClaim, o.Logger = "sid", discardLogger()
			_, err := tokenauth.NewJWTIdentity(o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestJWTMetricsRegister(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	id, err := tokenauth.NewJWTIdentity(tokenauth.JWTOptions{SecretFile: writeTestFile(t, "s", jwtKeys().secret), SessionClaim: "sid",
		Registerer: reg, Logger: discardLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = id.Close() })
	_, ierr := id.Identify(bearerRequest(t, "garbage"))
	require.NotNil(t, ierr)
	assert.Equal(t, 1.0, gatheredValue(t, reg, "streamgate_token_verifications_total", "result", "refused"))
}

// TestJWTAlgorithmConfusion is the classic attack on a gate that knows only a
// public key: sign HS256 with the public key's PEM bytes as the HMAC secret.
func TestJWTAlgorithmConfusion(t *testing.T) {
	t.Parallel()
	k := jwtKeys()
	pemRSA := pemPublic(t, &k.rsa.PublicKey)
	id, err := tokenauth.NewJWTIdentity(tokenauth.JWTOptions{Keys: writeTestFile(t, "rsa.pem", pemRSA), SessionClaim: "sid", Logger: discardLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = id.Close() })
	now := time.Now()
	for _, secret := range [][]byte{pemRSA, k.rsa.PublicKey.N.Bytes()} {
		_, ierr := id.Identify(bearerRequest(t, mint(t, jwt.SigningMethodHS256, secret, "", claimsFor(now, "mallory", "s"))))
		require.NotNil(t, ierr)
		assert.Equal(t, http.StatusUnauthorized, ierr.Status)
		assert.Equal(t, "invalid_token", ierr.Reason)
	}
	got, ierr := id.Identify(bearerRequest(t, mint(t, jwt.SigningMethodRS256, k.rsa, "", claimsFor(now, "alice", "s"))))
	require.Nil(t, ierr, "the genuine RS256 token passes")
	assert.Equal(t, "alice", got.UserID)
}
