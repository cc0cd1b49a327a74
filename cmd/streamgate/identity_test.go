package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIdentityFlagsExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, []byte("too short"), 0o600))
	garbage := filepath.Join(dir, "keys.json")
	require.NoError(t, os.WriteFile(garbage, []byte("{}"), 0o600))
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"jwt without keys", []string{"-demo", "-identity", "jwt"}, 2, "-jwt-keys"},
		{"an unknown identity", []string{"-demo", "-identity", "cookie"}, 2, "-identity"},
		{"a JWKS URL over plain http", []string{"-demo", "-identity", "jwt", "-jwt-keys", "http://idp.example/jwks"}, 2, "-jwt-keys"},
		{"jwt flags in header mode", []string{"-demo", "-jwt-issuer", "https://idp.example"}, 2, "-jwt-issuer"},
		{"a limit header in jwt mode", []string{"-demo", "-identity", "jwt", "-jwt-secret-file", short, "-limit-header", "X-Plan"}, 2, "-limit-header"},
		{"a bad limit header name", []string{"-demo", "-limit-header", "X Plan"}, 2, "-limit-header"},
		{"a key file that does not exist", []string{"-demo", "-identity", "jwt", "-jwt-keys", filepath.Join(dir, "absent.pem")}, 2, "-jwt-keys"},
		{"a key file without keys", []string{"-demo", "-identity", "jwt", "-jwt-keys", garbage}, 2, "-jwt-keys"},
		{"a short secret", []string{"-demo", "-identity", "jwt", "-jwt-secret-file", short}, 2, "-jwt-secret-file"},
		{"a JWKS URL that does not answer", []string{"-demo", "-identity", "jwt", "-jwt-keys", "https://127.0.0.1:1/jwks.json"}, 1, "-jwt-keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			args := append([]string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-log-level", "error"}, tt.args...)
			err := run(context.Background(), args, func(string) string { return "" }, &bytes.Buffer{}, &stderr)
			var out bytes.Buffer
			assert.Equal(t, tt.code, exitCode(err, &out))
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			require.Len(t, lines, 1, "one line: %q", out.String())
			assert.Contains(t, lines[0], tt.want)
		})
	}
}

// TestRunJWTDemo runs streamgate -demo -identity jwt as an operator would and
// plays the demo with a token in the query, as a player that cannot set
// headers does.
func TestRunJWTDemo(t *testing.T) {
	t.Parallel()
	secret, secretFile := writeSecret(t)
	in := start(t, "-demo", "-identity", "jwt", "-jwt-secret-file", secretFile, "-max-streams", "3")
	p := newPlayer(t, in.proxyURL)

	resp, body := p.do(t, http.MethodGet, "/vod/master.m3u8", "", "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, body)
	assert.Equal(t, "Bearer", resp.Header.Get("WWW-Authenticate"))

	mintToken := func(session string, plan int) string {
		claims := jwt.MapClaims{"sub": "judy", "sid": session, "exp": time.Now().Add(time.Hour).Unix(), "max_streams": plan}
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
		require.NoError(t, err)
		return s
	}
	tok := mintToken("tv", 1)
	resp, body = p.do(t, http.MethodGet, "/vod/master.m3u8?token="+tok, "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Contains(t, body, "360p/index.m3u8?token="+tok+"\n", "the variants carry the token")
	assert.Contains(t, body, `URI="audio/index.m3u8?token=`+tok+`"`, "so does the audio rendition")

	resp, body = p.do(t, http.MethodGet, "/vod/360p/index.m3u8?token="+tok, "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Contains(t, body, "seg-0.m4s?token="+tok+"\n")
	assert.Contains(t, body, `#EXT-X-MAP:URI="init.mp4?token=`+tok+`"`)

	resp, body = p.do(t, http.MethodGet, "/vod/master.m3u8?token="+mintToken("phone", 1), "", "")
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "a one-screen plan: %s", body)
	assert.Contains(t, body, `"limit":1`)
	require.NoError(t, in.stop(t))
}

// writeSecret writes a random HS256 secret to a file for -jwt-secret-file,
// and returns it and the file.
func writeSecret(t *testing.T) ([]byte, string) {
	t.Helper()
	secret := make([]byte, 32)
	_, err := rand.Read(secret)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(file, secret, 0o600))
	return secret, file
}
