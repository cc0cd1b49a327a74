package tokenauth_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/streamgate/streamgate/proxy/proxytest"
	"github.com/streamgate/streamgate/proxy/tokenauth"
)

// benchIdentity is a jwt identifier knowing one key of each kind.
func benchIdentity(b *testing.B, cacheSize int) *tokenauth.JWTIdentity {
	k := proxytest.TestKeys()
	id, err := tokenauth.NewJWTIdentity(tokenauth.JWTOptions{
		Keys: proxytest.WriteJWKS(b,
			jose.JSONWebKey{Key: &k.RSA.PublicKey, KeyID: "r1"},
			jose.JSONWebKey{Key: &k.EC.PublicKey, KeyID: "e1"},
			jose.JSONWebKey{Key: k.Ed.Public(), KeyID: "d1"}),
		SecretFile: proxytest.WriteFile(b, "secret", k.Secret), SessionClaim: "sid", LimitClaim: "max_streams",
		Cookie: "streamgate_token", Param: "token", CacheSize: cacheSize, Logger: discardLogger(),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = id.Close() })
	return id
}

func benchToken(b *testing.B, alg string) string {
	k := proxytest.TestKeys()
	c := proxytest.ClaimsFor(time.Now(), "bench-user-0001", "bench-session-0001")
	c["iss"], c["aud"], c["max_streams"] = "https://id.example.com/", "streamgate", 2
	switch alg {
	case "RS256":
		return proxytest.Mint(b, jwt.SigningMethodRS256, k.RSA, "r1", c)
	case "ES256":
		return proxytest.Mint(b, jwt.SigningMethodES256, k.EC, "e1", c)
	case "EdDSA":
		return proxytest.Mint(b, jwt.SigningMethodEdDSA, k.Ed, "d1", c)
	}
	return proxytest.Mint(b, jwt.SigningMethodHS256, k.Secret, "", c)
}

func identifyLoop(b *testing.B, id *tokenauth.JWTIdentity, r *http.Request) {
	b.ReportAllocs()
	for b.Loop() {
		if _, ierr := id.Identify(r); ierr != nil {
			b.Fatal(ierr.Detail)
		}
	}
}

// BenchmarkJWTVerifyCold is a token seen for the first time: parse, pick
// the key, check the signature and the claims. The cache is off.
func BenchmarkJWTVerifyCold(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA", "HS256"} {
		b.Run(alg, func(b *testing.B) {
			identifyLoop(b, benchIdentity(b, 0), proxytest.BearerRequest(b, benchToken(b, alg)))
		})
	}
}

// BenchmarkJWTVerifyCached is a session's every request after its first:
// the token is found in the cache, wherever it came from.
func BenchmarkJWTVerifyCached(b *testing.B) {
	token := benchToken(b, "RS256")
	cookie, err := http.NewRequest(http.MethodGet, "http://gate.example/seg.ts", nil)
	if err != nil {
		b.Fatal(err)
	}
	cookie.Header.Set("Cookie", "lang=en; streamgate_token="+token)
	query, err := http.NewRequest(http.MethodGet, "http://gate.example/seg.ts?_HLS_msn=12&token="+token, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		r    *http.Request
	}{{"bearer", proxytest.BearerRequest(b, token)}, {"cookie", cookie}, {"query", query}} {
		b.Run(c.name, func(b *testing.B) {
			id := benchIdentity(b, tokenauth.DefaultTokenCacheSize)
			if _, ierr := id.Identify(c.r); ierr != nil {
				b.Fatal(ierr.Detail)
			}
			identifyLoop(b, id, c.r)
		})
	}
	b.Run("bearer-parallel", func(b *testing.B) {
		id := benchIdentity(b, tokenauth.DefaultTokenCacheSize)
		r := proxytest.BearerRequest(b, token)
		if _, ierr := id.Identify(r); ierr != nil {
			b.Fatal(ierr.Detail)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, ierr := id.Identify(r); ierr != nil {
					b.Error(ierr.Detail)
					return
				}
			}
		})
	})
}
