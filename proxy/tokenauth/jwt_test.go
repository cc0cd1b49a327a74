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

	"github.com/streamgate/streamgate/limiter/storetest"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/proxytest"
	"github.com/streamgate/streamgate/proxy/tokenauth"
)

func TestJWTIdentityAlgorithms(t *testing.T) {
	t.Parallel()
	k := proxytest.TestKeys()
	tests := []struct {
		name   string
		keys   func(t *testing.T) tokenauth.JWTOptions
		method jwt.SigningMethod
		key    any
		kid    string
	}{
		{"RS256 from a JWKS file", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: proxytest.WriteJWKS(t, jose.JSONWebKey{Key: &k.RSA.PublicKey, KeyID: "r1", Algorithm: "RS256", Use: "sig"})}
		}, jwt.SigningMethodRS256, k.RSA, "r1"},
		{"ES256 from a JWKS file", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: proxytest.WriteJWKS(t, jose.JSONWebKey{Key: &k.EC.PublicKey, KeyID: "e1"})}
		}, jwt.SigningMethodES256, k.EC, "e1"},
		{"EdDSA from a JWKS file", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: proxytest.WriteJWKS(t, jose.JSONWebKey{Key: k.Ed.Public(), KeyID: "d1", Algorithm: "EdDSA"})}
		}, jwt.SigningMethodEdDSA, k.Ed, "d1"},
		{"RS256 from a PEM file, token naming a kid", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: proxytest.WriteFile(t, "rsa.pem", proxytest.PEMPublic(t, &k.RSA.PublicKey))}
		}, jwt.SigningMethodRS256, k.RSA, "whatever"},
		{"ES256 from a PEM file", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: proxytest.WriteFile(t, "ec.pem", proxytest.PEMPublic(t, &k.EC.PublicKey))}
		}, jwt.SigningMethodES256, k.EC, ""},
		{"EdDSA from a PEM file", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: proxytest.WriteFile(t, "ed.pem", proxytest.PEMPublic(t, k.Ed.Public()))}
		}, jwt.SigningMethodEdDSA, k.Ed, ""},
		{"HS256 from a secret file with a trailing newline", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{SecretFile: proxytest.WriteFile(t, "secret", append(append([]byte{}, k.Secret...), '\n'))}
		}, jwt.SigningMethodHS256, k.Secret, ""},
		{"RS256 among several keys, no kid", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: proxytest.WriteJWKS(t,
				jose.JSONWebKey{Key: &k.RSA2.PublicKey, KeyID: "other"},
				jose.JSONWebKey{Key: &k.RSA.PublicKey, KeyID: "r1"},
				jose.JSONWebKey{Key: &k.EC.PublicKey, KeyID: "e1"})}
		}, jwt.SigningMethodRS256, k.RSA, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := tt.keys(t)
			opts.SessionClaim, opts.Cookie, opts.Param, opts.CacheSize = "sid", "streamgate_token", "token", 16
			g := proxytest.NewGate(t, proxytest.GateOptions{JWT: &opts})
			token := proxytest.Mint(t, tt.method, tt.key, tt.kid, proxytest.ClaimsFor(g.Clock.Now(), "alice", "phone"))

			resp, body := g.Get(t, "/seg.ts", token)
			require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
			assert.Equal(t, "segment-bytes", string(body))
			assert.Equal(t, "Bearer "+token, g.Origin.LastRequest().Header.Get("Authorization"), "the token reaches the origin unchanged")
			sessions, err := g.Memory.List(t.Context(), "alice")
			require.NoError(t, err)
			require.Len(t, sessions, 1)
			assert.Equal(t, "phone", sessions[0].ID)

			resp, _ = g.Get(t, "/seg.ts", token) // again, from the cache
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, 1.0, proxytest.MetricValue(t, g.Reg, "streamgate_token_verifications_total", "result", "verified"))
			assert.Equal(t, 1.0, proxytest.MetricValue(t, g.Reg, "streamgate_token_verifications_total", "result", "cached"))
		})
	}
}

func TestJWTIdentityRefusals(t *testing.T) {
	t.Parallel()
	k := proxytest.TestKeys()
	pemRSA := proxytest.PEMPublic(t, &k.RSA.PublicKey)
	opts := tokenauth.JWTOptions{
		Keys:       proxytest.WriteJWKS(t, jose.JSONWebKey{Key: &k.RSA.PublicKey, KeyID: "r1"}, jose.JSONWebKey{Key: &k.EC.PublicKey, KeyID: "e1"}),
		SecretFile: proxytest.WriteFile(t, "secret", k.Secret), Issuer: "https://id.example", Audience: "streamgate",
		SessionClaim: "sid", LimitClaim: "max_streams", Cookie: "streamgate_token", Param: "token", CacheSize: 64,
	}
	g := proxytest.NewGate(t, proxytest.GateOptions{JWT: &opts})
	now := g.Clock.Now()
	valid := func() jwt.MapClaims {
		c := proxytest.ClaimsFor(now, "bob", "tv")
		c["iss"], c["aud"] = "https://id.example", []string{"other", "streamgate"}
		return c
	}
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := valid()
		change(c)
		return c
	}
	rs := func(c jwt.MapClaims) string { return proxytest.Mint(t, jwt.SigningMethodRS256, k.RSA, "r1", c) }
	good := rs(valid())
	parts := strings.Split(good, ".")
	otherUser, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(otherUser), `"bob"`, `"eve"`, 1))) + "." + parts[2]
	none := proxytest.Mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", valid())
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
		{"wrong key", proxytest.Mint(t, jwt.SigningMethodRS256, k.RSA2, "r1", valid()), 401, "invalid_token", "signature"},
		{"unknown kid", proxytest.Mint(t, jwt.SigningMethodRS256, k.RSA, "r9", valid()), 401, "invalid_token", "kid"},
		{"kid not a string", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, valid())
			tok.Header["kid"] = 7
			s, err := tok.SignedString(k.RSA)
			require.NoError(t, err)
			return s
		}(), 401, "invalid_token", "kid"},
		{"crit header", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, valid())
			tok.Header["kid"], tok.Header["crit"] = "r1", []string{"exp"}
			s, err := tok.SignedString(k.RSA)
			require.NoError(t, err)
			return s
		}(), 401, "invalid_token", "crit"},
		{"tampered payload", tampered, 401, "invalid_token", "signature"},
		{"alg none", none, 401, "invalid_token", "alg"},
		{"alg none with a signature", strings.TrimSuffix(none, ".") + "." + parts[2], 401, "invalid_token", "alg"},
		{"HS256 signed with the RSA public key (PEM)", proxytest.Mint(t, jwt.SigningMethodHS256, pemRSA, "r1", valid()), 401, "invalid_token", "signature"},
		{"HS256 signed with the RSA public key, no kid", proxytest.Mint(t, jwt.SigningMethodHS256, pemRSA, "", valid()), 401, "invalid_token", "signature"},
		{"RS512 with the right RSA key", proxytest.Mint(t, jwt.SigningMethodRS512, k.RSA, "r1", valid()), 401, "invalid_token", "alg"},
		{"PS256 with the right RSA key", proxytest.Mint(t, jwt.SigningMethodPS256, k.RSA, "r1", valid()), 401, "invalid_token", "alg"},
		{"ES256 naming the RSA key's kid", proxytest.Mint(t, jwt.SigningMethodES256, k.EC, "r1", valid()), 401, "invalid_token", "kid"},
		{"ES256 by an unknown EC key", proxytest.Mint(t, jwt.SigningMethodES256, otherEC, "e1", valid()), 401, "invalid_token", "signature"},
		{"HS384 with the secret", proxytest.Mint(t, jwt.SigningMethodHS384, k.Secret, "", valid()), 401, "invalid_token", "alg"},
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
			resp, body := g.Get(t, path, tt.token)
			require.Equal(t, tt.status, resp.StatusCode, "body: %s", body)
			p := proxytest.ProblemOf(t, resp, body)
			assert.Equal(t, float64(tt.status), p["status"])
			assert.Contains(t, p["detail"], tt.detail)
			if tt.status == http.StatusUnauthorized {
				assert.Equal(t, `Bearer error="invalid_token"`, resp.Header.Get("WWW-Authenticate"))
			} else {
				assert.Empty(t, resp.Header.Get("WWW-Authenticate"))
			}
			assert.False(t, g.Origin.PathSeen(path), "nothing reaches the origin")
			assert.GreaterOrEqual(t, proxytest.MetricValue(t, g.Reg, "streamgate_invalid_requests_total", "reason", tt.reason), 1.0)
		})
	}

	t.Run("the valid token passes", func(t *testing.T) {
		t.Parallel()
		resp, body := g.Get(t, "/ok.ts", good)
		assert.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
	})
	t.Run("exp is not extended by the leeway", func(t *testing.T) {
		t.Parallel()
		c := with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() })
		id, err := tokenauth.NewJWTIdentity(withNow(opts, func() time.Time { return now }))
		require.NoError(t, err)
		t.Cleanup(func() { _ = id.Close() })
		_, ierr := id.Identify(proxytest.BearerRequest(t, rs(c)))
		require.NotNil(t, ierr)
		assert.Equal(t, "expired_token", ierr.Reason)
	})
	t.Run("nbf and iat within the leeway pass", func(t *testing.T) {
		t.Parallel()
		c := with(func(c jwt.MapClaims) {
			c["nbf"], c["iat"] = now.Add(25*time.Second).Unix(), now.Add(25*time.Second).Unix()
		})
		resp, body := g.Get(t, "/leeway.ts", rs(c))
		assert.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
	})
}

func TestJWTIdentityNoToken(t *testing.T) {
	t.Parallel()
	opts := tokenauth.JWTOptions{SecretFile: proxytest.WriteFile(t, "secret", proxytest.TestKeys().Secret), SessionClaim: "sid",
		Cookie: "streamgate_token", Param: "token"}
	g := proxytest.NewGate(t, proxytest.GateOptions{JWT: &opts})
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
			resp, body := g.Do(t, req)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, tt.chall, resp.Header.Get("WWW-Authenticate"))
			proxytest.ProblemOf(t, resp, body)
		})
	}
	assert.Zero(t, g.Origin.Hits.Load(), "nothing reaches the origin")
}

func TestJWTTokenOrder(t *testing.T) {
	t.Parallel()
	k := proxytest.TestKeys()
	opts := tokenauth.JWTOptions{SecretFile: proxytest.WriteFile(t, "secret", k.Secret), SessionClaim: "sid",
		Cookie: "sg_tok", Param: "tk", CacheSize: 64}
	g := proxytest.NewGate(t, proxytest.GateOptions{JWT: &opts})
	now := g.Clock.Now()
	tok := func(session string) string {
		return proxytest.Mint(t, jwt.SigningMethodHS256, k.Secret, "", proxytest.ClaimsFor(now, "carol", session))
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
			resp, _ := g.Do(t, req)
			if tt.want == "" {
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				return
			}
			require.Equal(t, http.StatusNoContent, resp.StatusCode)
			sessions, err := g.Memory.List(t.Context(), "carol")
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
	k := proxytest.TestKeys()
	clock := storetest.NewClock(time.Now())
	id, err := tokenauth.NewJWTIdentity(tokenauth.JWTOptions{SecretFile: proxytest.WriteFile(t, "secret", k.Secret), SessionClaim: "sid",
		CacheSize: 4, Now: clock.Now, Logger: discardLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = id.Close() })
	c := proxytest.ClaimsFor(clock.Now(), "dave", "laptop")
	c["exp"] = clock.Now().Add(10 * time.Second).Unix()
	token := proxytest.Mint(t, jwt.SigningMethodHS256, k.Secret, "", c)

	got, ierr := id.Identify(proxytest.BearerRequest(t, token))
	require.Nil(t, ierr)
	assert.Equal(t, identity.Identity{UserID: "dave", SessionID: "laptop"}, got)
	got, ierr = id.Identify(proxytest.BearerRequest(t, token))
	require.Nil(t, ierr, "cached")
	assert.Equal(t, "dave", got.UserID)

	clock.Advance(11 * time.Second)
	_, ierr = id.Identify(proxytest.BearerRequest(t, token))
	require.NotNil(t, ierr, "a cached token expires at its exp")
	assert.Equal(t, "expired_token", ierr.Reason)

	// The cache is bounded: more tokens than it holds all still verify.
	for i := range 10 {
		tok := proxytest.Mint(t, jwt.SigningMethodHS256, k.Secret, "", proxytest.ClaimsFor(clock.Now(), "dave", "s"+string(rune('a'+i))))
		_, ierr := id.Identify(proxytest.BearerRequest(t, tok))
		require.Nil(t, ierr)
	}
}

func TestNewJWTIdentityRejectsBadKeys(t *testing.T) {
	t.Parallel()
	k := proxytest.TestKeys()
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
			return tokenauth.JWTOptions{SecretFile: proxytest.WriteFile(t, "s", []byte("short"))}
		}, "at least 32"},
		{"not a key file", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: proxytest.WriteFile(t, "k", []byte("hello"))}
		}, "neither"},
		{"a private key PEM", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: proxytest.WriteFile(t, "k", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))}
		}, "never a private key"},
		{"P-384 key", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: proxytest.WriteFile(t, "k", proxytest.PEMPublic(t, &small.PublicKey))}
		}, "P-256"},
		{"JWKS with only an encryption key", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: proxytest.WriteJWKS(t, jose.JSONWebKey{Key: &k.RSA.PublicKey, KeyID: "x", Use: "enc"})}
		}, "no usable signing key"},
		{"JWKS key marked for another alg", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: proxytest.WriteJWKS(t, jose.JSONWebKey{Key: &k.RSA.PublicKey, KeyID: "x", Algorithm: "PS256"})}
		}, "no usable signing key"},
		{"JWKS with a symmetric key", func(t *testing.T) tokenauth.JWTOptions {
			return tokenauth.JWTOptions{Keys: proxytest.WriteJWKS(t, jose.JSONWebKey{Key: k.Secret, KeyID: "x"})}
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
	id, err := tokenauth.NewJWTIdentity(tokenauth.JWTOptions{SecretFile: proxytest.WriteFile(t, "s", proxytest.TestKeys().Secret), SessionClaim: "sid",
		Registerer: reg, Logger: discardLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = id.Close() })
	_, ierr := id.Identify(proxytest.BearerRequest(t, "garbage"))
	require.NotNil(t, ierr)
	assert.Equal(t, 1.0, proxytest.MetricValue(t, reg, "streamgate_token_verifications_total", "result", "refused"))
}

// TestJWTAlgorithmConfusion is the classic attack on a gate that knows only a
// public key: sign HS256 with the public key's PEM bytes as the HMAC secret.
func TestJWTAlgorithmConfusion(t *testing.T) {
	t.Parallel()
	k := proxytest.TestKeys()
	pemRSA := proxytest.PEMPublic(t, &k.RSA.PublicKey)
	id, err := tokenauth.NewJWTIdentity(tokenauth.JWTOptions{Keys: proxytest.WriteFile(t, "rsa.pem", pemRSA), SessionClaim: "sid", Logger: discardLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = id.Close() })
	now := time.Now()
	for _, secret := range [][]byte{pemRSA, k.RSA.PublicKey.N.Bytes()} {
		_, ierr := id.Identify(proxytest.BearerRequest(t, proxytest.Mint(t, jwt.SigningMethodHS256, secret, "", proxytest.ClaimsFor(now, "mallory", "s"))))
		require.NotNil(t, ierr)
		assert.Equal(t, http.StatusUnauthorized, ierr.Status)
		assert.Equal(t, "invalid_token", ierr.Reason)
	}
	got, ierr := id.Identify(proxytest.BearerRequest(t, proxytest.Mint(t, jwt.SigningMethodRS256, k.RSA, "", proxytest.ClaimsFor(now, "alice", "s"))))
	require.Nil(t, ierr, "the genuine RS256 token passes")
	assert.Equal(t, "alice", got.UserID)
}
