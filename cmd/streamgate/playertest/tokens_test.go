package playertest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// jwtSecret is the HS256 key of the token tests.
var jwtSecret = []byte("playertest-shared-secret-0123456789abcdef")

// jwtArgs are the gate flags of token identity with jwtSecret.
func jwtArgs(t *testing.T) []string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "jwt-secret")
	require.NoError(t, os.WriteFile(file, jwtSecret, 0o600))
	return []string{"-identity", "jwt", "-jwt-secret-file", file}
}

// token signs a token for user, with a session claim when session is not
// empty, valid for an hour.
func token(t *testing.T, user, session string) string {
	t.Helper()
	claims := jwt.MapClaims{"sub": user, "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}
	if session != "" {
		claims["sid"] = session
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(jwtSecret)
	require.NoError(t, err)
	return s
}
