package main

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamgate/streamgate/cmd/internal/cli"
	"github.com/streamgate/streamgate/config"
	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/tokenauth"
)

// newIdentity builds the Identifier that -identity names. close releases
// what it holds (a JWKS URL's background refresh). Keys and secrets are read
// here, at start: a file that is missing or holds no usable key is a bad
// flag value (exit status 2); a JWKS URL that does not answer is not.
func newIdentity(cfg config.Config, reg prometheus.Registerer, logger *slog.Logger) (id identity.Identifier, close func(), err error) {
	if cfg.Identity != config.IdentityJWT {
		return identity.NewHeaderIdentity(cfg.UserHeader, cfg.SessionHeader).WithLimitHeader(cfg.LimitHeader).WithCMCD(cfg.CMCD).WithSessionParam(cfg.MintSessions), func() {}, nil
	}
	j, err := tokenauth.NewJWTIdentity(tokenauth.JWTOptions{
		Keys: cfg.JWTKeys, SecretFile: cfg.JWTSecretFile,
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience,
		SessionClaim: cfg.JWTSessionClaim, LimitClaim: cfg.JWTLimitClaim,
		Cookie: cfg.TokenCookie, Param: cfg.TokenParam, CacheSize: cfg.JWTCacheSize, CMCD: cfg.CMCD, SessionParam: cfg.MintSessions,
		Registerer: reg, Logger: logger,
	})
	switch {
	case errors.Is(err, tokenauth.ErrJWKSUnavailable):
		return nil, nil, err
	case err != nil:
		return nil, nil, cli.Usage(err)
	}
	return j, func() { _ = j.Close() }, nil
}
