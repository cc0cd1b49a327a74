package tokenauth_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter/storetest"
	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/proxytest"
	"github.com/streamgate/streamgate/proxy/tokenauth"
)

// jwksServer is an identity provider's JWKS endpoint on a real TLS socket,
// whose keys the test rotates and which it can take down.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []jose.JSONWebKey
	down    bool
	fetches atomic.Int64
}

func newJWKSServer(t *testing.T, keys ...jose.JSONWebKey) *jwksServer {
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.down {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: s.keys})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(down bool, keys ...jose.JSONWebKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down, s.keys = down, keys
}

func (s *jwksServer) client(t *testing.T) *http.Client {
	c := s.Client()
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestJWKSURLRotation(t *testing.T) {
	t.Parallel()
	k := proxytest.TestKeys()
	idp := newJWKSServer(t, jose.JSONWebKey{Key: &k.RSA.PublicKey, KeyID: "2026-a", Algorithm: "RS256", Use: "sig"})
	clock := storetest.NewClock(time.Now())
	id, err := tokenauth.NewJWTIdentity(tokenauth.JWTOptions{Keys: idp.URL + "/.well-known/jwks.json", HTTPClient: idp.client(t),
		SessionClaim: "sid", Now: clock.Now, Logger: discardLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = id.Close() })
	require.EqualValues(t, 1, idp.fetches.Load(), "fetched once at start")

	identify := func(key any, kid, session string) *identity.Error {
		_, ierr := id.Identify(proxytest.BearerRequest(t, proxytest.Mint(t, jwt.SigningMethodRS256, key, kid, proxytest.ClaimsFor(clock.Now(), "erin", session))))
		return ierr
	}
	require.Nil(t, identify(k.RSA, "2026-a", "s1"))
	require.Nil(t, identify(k.RSA, "2026-a", "s2"))
	assert.EqualValues(t, 1, idp.fetches.Load(), "a known kid needs no fetch")

	// The provider publishes a new key; a minute after the first fetch, the
	// first token naming it makes the gate fetch again.
	idp.set(false, jose.JSONWebKey{Key: &k.RSA.PublicKey, KeyID: "2026-a"}, jose.JSONWebKey{Key: &k.RSA2.PublicKey, KeyID: "2026-b"})
	clock.Advance(tokenauth.JWKSMinRefetch)
	require.Nil(t, identify(k.RSA2, "2026-b", "s3"), "the new key is fetched on its first token")
	assert.EqualValues(t, 2, idp.fetches.Load())
	require.Nil(t, identify(k.RSA2, "2026-b", "s4"))
	require.Nil(t, identify(k.RSA, "2026-a", "s5"), "the old key still verifies while published")
	assert.EqualValues(t, 2, idp.fetches.Load())

	// Made-up kids cost at most one fetch a minute.
	for i := range 20 {
		ierr := identify(k.RSA, "made-up-"+string(rune('a'+i)), "x")
		require.NotNil(t, ierr)
		assert.Equal(t, http.StatusUnauthorized, ierr.Status)
	}
	assert.EqualValues(t, 2, idp.fetches.Load(), "no fetch within a minute of the last")
	clock.Advance(tokenauth.JWKSMinRefetch)
	require.NotNil(t, identify(k.RSA, "made-up-z", "x"))
	require.NotNil(t, identify(k.RSA, "made-up-y", "x"))
	assert.EqualValues(t, 3, idp.fetches.Load(), "one fetch for a minute's worth of unknown kids")

	// The provider withdraws the old key: once the set is stale it is
	// refetched in the background, and the old key stops verifying.
	idp.set(false, jose.JSONWebKey{Key: &k.RSA2.PublicKey, KeyID: "2026-b"})
	clock.Advance(tokenauth.JWKSMaxAge)
	_ = identify(k.RSA2, "2026-b", "s6") // starts the background refresh
	require.Eventually(t, func() bool { return identify(k.RSA, "2026-a", "s7") != nil }, 10*time.Second, 5*time.Millisecond,
		"a withdrawn key stops verifying after the background refresh")
	assert.EqualValues(t, 4, idp.fetches.Load())
	require.Nil(t, identify(k.RSA2, "2026-b", "s8"))
}

func TestJWKSURLDown(t *testing.T) {
	t.Parallel()
	k := proxytest.TestKeys()

	t.Run("down at start", func(t *testing.T) {
		t.Parallel()
		idp := newJWKSServer(t)
		idp.set(true)
		_, err := tokenauth.NewJWTIdentity(tokenauth.JWTOptions{Keys: idp.URL, HTTPClient: idp.client(t), SessionClaim: "sid", Logger: discardLogger()})
		require.Error(t, err)
		assert.True(t, errors.Is(err, tokenauth.ErrJWKSUnavailable), "err: %v", err)
		assert.Contains(t, err.Error(), "503")
	})

	t.Run("unreachable at start", func(t *testing.T) {
		t.Parallel()
		idp := newJWKSServer(t)
		url, client := idp.URL, idp.client(t)
		idp.Close()
		_, err := tokenauth.NewJWTIdentity(tokenauth.JWTOptions{Keys: url, HTTPClient: client, SessionClaim: "sid", Logger: discardLogger()})
		require.ErrorIs(t, err, tokenauth.ErrJWKSUnavailable)
	})

	t.Run("not a key set", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`<html>login</html>`))
		}))
		t.Cleanup(srv.Close)
		c := srv.Client()
		t.Cleanup(c.CloseIdleConnections)
		_, err := tokenauth.NewJWTIdentity(tokenauth.JWTOptions{Keys: srv.URL, HTTPClient: c, SessionClaim: "sid", Logger: discardLogger()})
		require.ErrorIs(t, err, tokenauth.ErrJWKSUnavailable)
		assert.Contains(t, err.Error(), "JSON Web Key Set")
	})

	t.Run("redirected to plain http", func(t *testing.T) {
		t.Parallel()
		plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.RSA.PublicKey, KeyID: "a"}}})
		}))
		t.Cleanup(plain.Close)
		srv := httptest.NewTLSServer(http.RedirectHandler(plain.URL, http.StatusFound))
		t.Cleanup(srv.Close)
		c := srv.Client()
		t.Cleanup(c.CloseIdleConnections)
		_, err := tokenauth.NewJWTIdentity(tokenauth.JWTOptions{Keys: srv.URL, HTTPClient: c, SessionClaim: "sid", Logger: discardLogger()})
		require.ErrorIs(t, err, tokenauth.ErrJWKSUnavailable)
		assert.Contains(t, err.Error(), "https only")
	})

	t.Run("down after start keeps the known keys", func(t *testing.T) {
		t.Parallel()
		idp := newJWKSServer(t, jose.JSONWebKey{Key: &k.EC.PublicKey, KeyID: "e1"})
		clock := storetest.NewClock(time.Now())
		opts := tokenauth.JWTOptions{Keys: idp.URL, HTTPClient: idp.client(t), SessionClaim: "sid", CacheSize: 8, Now: clock.Now}
		g := proxytest.NewGate(t, proxytest.GateOptions{JWT: &opts})
		idp.set(true)
		clock.Advance(tokenauth.JWKSMaxAge + tokenauth.JWKSMinRefetch)

		for i, session := range []string{"a", "b", "c"} {
			tok := proxytest.Mint(t, jwt.SigningMethodES256, k.EC, "e1", proxytest.ClaimsFor(clock.Now(), "frank", session))
			resp, body := g.Get(t, "/seg.ts", tok)
			require.Equal(t, http.StatusOK, resp.StatusCode, "request %d: %s", i, body)
		}
		require.Eventually(t, func() bool {
			return proxytest.MetricValue(t, g.Reg, "streamgate_jwks_fetches_total", "result", "error") >= 1
		},
			10*time.Second, 5*time.Millisecond, "the background refresh failed")

		tok := proxytest.Mint(t, jwt.SigningMethodES256, k.EC, "e2", proxytest.ClaimsFor(clock.Now(), "frank", "d"))
		resp, body := g.Get(t, "/seg.ts", tok)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "an unknown kid while the provider is down: %s", body)
		assert.Equal(t, `Bearer error="invalid_token"`, resp.Header.Get("WWW-Authenticate"))
		assert.EqualValues(t, 1, proxytest.MetricValue(t, g.Reg, "streamgate_jwks_fetches_total", "result", "ok"))
	})
}
