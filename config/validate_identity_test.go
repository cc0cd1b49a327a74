package config_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/config"
)

func TestIdentityDefaults(t *testing.T) {
	t.Parallel()
	c, err := parse([]string{"-demo"}, nil)
	require.NoError(t, err)
	assert.Equal(t, config.IdentityHeader, c.Identity)
	assert.Empty(t, c.JWTKeys)
	assert.Empty(t, c.JWTSecretFile)
	assert.Empty(t, c.JWTIssuer)
	assert.Empty(t, c.JWTAudience)
	assert.Equal(t, "sid", c.JWTSessionClaim)
	assert.Equal(t, "max_streams", c.JWTLimitClaim)
	assert.Equal(t, 65536, c.JWTCacheSize)
	assert.Equal(t, "streamgate_token", c.TokenCookie)
	assert.Equal(t, "token", c.TokenParam)
	assert.Empty(t, c.LimitHeader)
}

func TestIdentityValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  env
		bad  []string // flags named in the error, one line each; none: valid
	}{
		{name: "jwt with a key file", args: []string{"-identity", "jwt", "-jwt-keys", "/etc/streamgate/jwks.json"}},
		{name: "jwt with a JWKS URL", args: []string{"-identity", "jwt", "-jwt-keys", "https://idp.example/.well-known/jwks.json"}},
		{name: "jwt with a secret only", args: []string{"-identity", "jwt", "-jwt-secret-file", "/run/secrets/hs256"}},
		{name: "jwt from the environment", env: env{"STREAMGATE_IDENTITY": "jwt", "STREAMGATE_JWT_KEYS": "/k.pem", "STREAMGATE_TOKEN_PARAM": "t"}},
		{name: "jwt with every place turned off but the header", args: []string{"-identity", "jwt", "-jwt-keys", "/k.pem",
			"-token-cookie", "", "-token-param", "", "-jwt-limit-claim", "", "-jwt-cache-size", "0"}},
		{name: "header with a limit header", args: []string{"-limit-header", "X-Plan-Streams"}},
		{name: "jwt without keys", args: []string{"-identity", "jwt"}, bad: []string{"-jwt-keys"}},
		{name: "an unknown identity", args: []string{"-identity", "oauth"}, bad: []string{"-identity"}},
		{name: "a plain http JWKS URL", args: []string{"-identity", "jwt", "-jwt-keys", "http://idp.example/jwks"}, bad: []string{"-jwt-keys"}},
		{name: "another scheme", args: []string{"-identity", "jwt", "-jwt-keys", "file:///etc/jwks.json"}, bad: []string{"-jwt-keys"}},
		{name: "jwt flags in header mode", args: []string{"-jwt-keys", "/k.pem", "-jwt-audience", "sg"}, bad: []string{"-jwt-keys", "-jwt-audience"}},
		{name: "an empty session claim", args: []string{"-identity", "jwt", "-jwt-keys", "/k.pem", "-jwt-session-claim", ""}, bad: []string{"-jwt-session-claim"}},
		{name: "a negative cache", args: []string{"-identity", "jwt", "-jwt-keys", "/k.pem", "-jwt-cache-size", "-1"}, bad: []string{"-jwt-cache-size"}},
		{name: "a bad cookie name", args: []string{"-identity", "jwt", "-jwt-keys", "/k.pem", "-token-cookie", "a b"}, bad: []string{"-token-cookie"}},
		{name: "a bad parameter name", args: []string{"-identity", "jwt", "-jwt-keys", "/k.pem", "-token-param", "a&b"}, bad: []string{"-token-param"}},
		{name: "a limit header with jwt", args: []string{"-identity", "jwt", "-jwt-keys", "/k.pem", "-limit-header", "X-Plan"}, bad: []string{"-limit-header"}},
		{name: "a limit header that is the user header", args: []string{"-limit-header", "x-user-id"}, bad: []string{"-limit-header"}},
		{name: "a limit header that is no header name", args: []string{"-limit-header", "X:Plan"}, bad: []string{"-limit-header"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(append([]string{"-demo"}, tt.args...), tt.env)
			if tt.bad == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			lines := strings.Split(err.Error(), "\n")
			require.Len(t, lines, len(tt.bad), "one line per problem: %v", err)
			for i, flag := range tt.bad {
				assert.Contains(t, lines[i], flag)
			}
		})
	}
}
