package config_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBrowserDefaults(t *testing.T) {
	t.Parallel()
	c, err := parse([]string{"-demo"}, nil)
	require.NoError(t, err)
	assert.Empty(t, c.CORSOrigins)
	assert.Nil(t, c.CORSOriginList())
	assert.False(t, c.MintSessions)
}

func TestCORSOrigins(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  env
		want []string // the list in force; nil with bad
		bad  bool
	}{
		{name: "one origin", args: []string{"-cors-origins", "https://player.example.com"}, want: []string{"https://player.example.com"}},
		{name: "a list, spaced and in capitals", args: []string{"-cors-origins", "https://A.example , http://127.0.0.1:8000"},
			want: []string{"https://a.example", "http://127.0.0.1:8000"}},
		{name: "an IPv6 origin", args: []string{"-cors-origins", "http://[::1]:3000"}, want: []string{"http://[::1]:3000"}},
		{name: "any origin", args: []string{"-cors-origins", "*"}, want: []string{"*"}},
		{name: "from the environment", env: env{"STREAMGATE_CORS_ORIGINS": "https://tv.example"}, want: []string{"https://tv.example"}},
		{name: "a path", args: []string{"-cors-origins", "https://a.example/"}, bad: true},
		{name: "no scheme", args: []string{"-cors-origins", "a.example"}, bad: true},
		{name: "another scheme", args: []string{"-cors-origins", "ftp://a.example"}, bad: true},
		{name: "a user", args: []string{"-cors-origins", "https://u@a.example"}, bad: true},
		{name: "a query", args: []string{"-cors-origins", "https://a.example?x"}, bad: true},
		{name: "a bad port", args: []string{"-cors-origins", "https://a.example:x"}, bad: true},
		{name: "a star in a list", args: []string{"-cors-origins", "*,https://a.example"}, bad: true},
		{name: "only commas", args: []string{"-cors-origins", " , "}, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parse(append([]string{"-demo"}, tt.args...), tt.env)
			if tt.bad {
				require.Error(t, err)
				assert.Len(t, strings.Split(err.Error(), "\n"), 1, "one line: %v", err)
				assert.Contains(t, err.Error(), "-cors-origins")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.CORSOriginList())
		})
	}
}

func TestMintSessionsFromEnvironment(t *testing.T) {
	t.Parallel()
	c, err := parse([]string{"-demo"}, env{"STREAMGATE_MINT_SESSIONS": "true"})
	require.NoError(t, err)
	assert.True(t, c.MintSessions)
}
