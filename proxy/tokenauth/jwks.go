package tokenauth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// The algorithms -identity jwt accepts. Each key verifies exactly one of them,
// decided by the key's type, never by the token's header.
const (
	algRS256 = "RS256"
	algES256 = "ES256"
	algEdDSA = "EdDSA"
	algHS256 = "HS256"
)

// acceptedAlgs is what the parser lets through to key selection; "none" and
// every other name are refused before any key is looked at.
var acceptedAlgs = []string{algRS256, algES256, algEdDSA, algHS256}

// minRSABits refuses RSA keys too short to sign anything worth trusting.
const minRSABits = 2048

// minSecretBytes is RFC 7518 §3.2: an HS256 key is at least as long as its hash.
const minSecretBytes = 32

// verifyKey is one key that may verify tokens and the one algorithm it is
// pinned to: an RSA key verifies RS256 only, a P-256 key ES256, an Ed25519
// key EdDSA, a shared secret HS256. So a token cannot pick how its signature
// is checked (alg "none", HS256 signed with an RSA public key, …).
type verifyKey struct {
	id  string
	alg string
	key any
}

// keySet is an immutable list of keys; a refetch replaces it whole.
type keySet []verifyKey

// pinnedAlg returns the algorithm a public key verifies. jwkAlg, a JWK's
// optional "alg", must agree with the key's type when it is given.
func pinnedAlg(key any, jwkAlg string) (string, error) {
	var alg string
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return "", fmt.Errorf("RSA key of %d bits; at least %d are needed", k.N.BitLen(), minRSABits)
		}
		alg = algRS256
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("EC key on %s; only P-256 (ES256) is accepted", k.Curve.Params().Name)
		}
		alg = algES256
	case ed25519.PublicKey:
		alg = algEdDSA
	default:
		return "", fmt.Errorf("unsupported key type %T; want RSA, EC P-256 or Ed25519", key)
	}
	if jwkAlg != "" && jwkAlg != alg {
		return "", fmt.Errorf("key is marked for %s; only %s is accepted for a key of its type", jwkAlg, alg)
	}
	return alg, nil
}

// parseKeyFile reads -jwt-keys when it names a file: a JWKS (or a single
// JWK) when it starts with '{', else PEM.
func parseKeyFile(data []byte) (keySet, []error, error) {
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		return parseJWKS(trimmed)
	}
	keys, err := parsePEMKeys(data)
	return keys, nil, err
}

// parseJWKS parses a JSON Web Key Set, or a lone JWK. Keys that cannot verify
// a token here (encryption keys, other curves, symmetric keys) are skipped and
// reported in skipped, as RFC 7517 §5 asks; a set with no usable key is an
// error. Key material is decoded by go-jose, not by hand.
func parseJWKS(data []byte) (keys keySet, skipped []error, err error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	raw := set.Keys
	if raw == nil { // a lone JWK
		raw = []json.RawMessage{data}
	}
	for i, r := range raw {
		k, err := parseJWK(r)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		reasons := make([]string, len(skipped))
		for i, e := range skipped {
			reasons[i] = e.Error()
		}
		return nil, skipped, fmt.Errorf("no usable signing key among %d (%s)", len(raw), strings.Join(reasons, "; "))
	}
	return keys, skipped, nil
}

func parseJWK(raw json.RawMessage) (verifyKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return verifyKey{}, err
	}
	name := jwk.KeyID
	if name == "" {
		name = "(no kid)"
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return verifyKey{}, fmt.Errorf("%s: use %q is not sig", name, jwk.Use)
	}
	if _, ok := jwk.Key.([]byte); ok {
		return verifyKey{}, fmt.Errorf("%s: symmetric keys belong in -jwt-secret-file, not in a key set", name)
	}
	key := jwk.Key
	if !jwk.IsPublic() {
		key = jwk.Public().Key // a private key published by mistake: only its public half is used
	}
	alg, err := pinnedAlg(key, jwk.Algorithm)
	if err != nil {
		return verifyKey{}, fmt.Errorf("%s: %w", name, err)
	}
	return verifyKey{id: jwk.KeyID, alg: alg, key: key}, nil
}

// parsePEMKeys reads every public key of a PEM file: PKIX "PUBLIC KEY",
// PKCS #1 "RSA PUBLIC KEY" or the key of a "CERTIFICATE". PEM keys have no
// kid, so they verify any token of their algorithm.
func parsePEMKeys(data []byte) (keySet, error) {
	var keys keySet
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var key any
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				key = cert.PublicKey
			}
		default:
			return nil, fmt.Errorf("PEM block %d is %q; want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE (never a private key)", n, block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		alg, err := pinnedAlg(key, "")
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		keys = append(keys, verifyKey{alg: alg, key: key})
	}
	if len(keys) == 0 {
		return nil, errors.New("neither a JSON Web Key Set nor a PEM public key")
	}
	return keys, nil
}

// loadSecret reads the HS256 secret. A trailing newline, which editors and
// `echo` add, is not part of it.
func loadSecret(path string) (verifyKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return verifyKey{}, err
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) < minSecretBytes {
		return verifyKey{}, fmt.Errorf("the secret is %d bytes; HS256 needs at least %d", len(b), minSecretBytes)
	}
	return verifyKey{alg: algHS256, key: b}, nil
}

// candidates returns the keys that may verify a token signed with alg and
// naming kid (hasKid false: the token names none). A kid picks the keys
// with that id; keys without an id (PEM keys, the secret) are tried when no
// key carries it.
func (s keySet) candidates(alg, kid string, hasKid bool) []verifyKey {
	var byID, anon []verifyKey
	for _, k := range s {
		if k.alg != alg {
			continue
		}
		switch {
		case !hasKid || k.id == "":
			anon = append(anon, k)
		case k.id == kid:
			byID = append(byID, k)
		}
	}
	if len(byID) > 0 {
		return byID
	}
	return anon
}

// hasID reports whether any key carries kid.
func (s keySet) hasID(kid string) bool {
	for _, k := range s {
		if k.id == kid {
			return true
		}
	}
	return false
}
