package proxytest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// Keys are signing keys of every kind the gate accepts.
type Keys struct {
	RSA, RSA2 *rsa.PrivateKey
	EC        *ecdsa.PrivateKey
	Ed        ed25519.PrivateKey
	Secret    []byte // an HS256 secret of 32 printable bytes
}

// TestKeys are generated once per test binary: an RSA key takes a while,
// and every test that needs one may share it.
var TestKeys = sync.OnceValue(func() Keys {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	var k Keys
	var err error
	k.RSA, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.RSA2, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.EC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	_, k.Ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	k.Secret = make([]byte, 32)
	_, err = rand.Read(k.Secret)
	must(err)
	// The secret file is read with its trailing line break trimmed, so a
	// random last byte of '\n' or '\r' would shorten it: printable bytes only.
	for i, b := range k.Secret {
		k.Secret[i] = 'A' + b%58
	}
	return k
})

// Mint signs claims with key, naming kid in the header when it is not empty.
func Mint(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// ClaimsFor are valid claims for user and session at now, for an hour.
func ClaimsFor(now time.Time, user, session string) jwt.MapClaims {
	return jwt.MapClaims{"sub": user, "sid": session, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

// WriteJWKS writes a JSON Web Key Set, marshalled by go-jose, to a file.
func WriteJWKS(t testing.TB, keys ...jose.JSONWebKey) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	require.NoError(t, err)
	return WriteFile(t, "keys.json", b)
}

// PEMPublic is pub in PKIX PEM.
func PEMPublic(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// WriteFile writes data to a file name in a fresh temporary folder and
// returns its path.
func WriteFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// BearerRequest is a request carrying token as Authorization: Bearer.
func BearerRequest(t testing.TB, token string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://gate.example/seg.ts", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}
