package main

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrintable(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"plain", "Mozilla/5.0 (X11; Linux) Firefox/128.0", "Mozilla/5.0 (X11; Linux) Firefox/128.0"},
		{"non-ASCII letters stay", "Lecteur vidéo 日本", "Lecteur vidéo 日本"},
		{"escape sequence", "a\x1b[2Jb", `a\x1b[2Jb`},
		{"carriage return and newline", "a\r\nb", `a\x0d\x0ab`},
		{"tab", "a\tb", `a\tb`},
		{"DEL", "a\x7fb", `a\x7fb`},
		{"C1 CSI", "a\u009b31mb", `a\u009b31mb`},
		{"right-to-left override", "a\u202eb", `a\u202eb`},
		{"not UTF-8", "a\xffb", `a\xffb`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, printable(tt.in))
		})
	}
}

// TestStatusPrintsNoControlCharacters: a player whose User-Agent carries
// what a terminal would obey (a C1 CSI, a bidi override, a tab, bytes that
// are not UTF-8), sent on a raw socket since Go's client would refuse
// some of it, shows up in `streamgate status` escaped.
func TestStatusPrintsNoControlCharacters(t *testing.T) {
	t.Parallel()
	origin := newOrigin(t, segmentOrigin)
	in := start(t, "-upstream", origin.URL)
	u, err := url.Parse(in.proxyURL)
	require.NoError(t, err)
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	ua := "evil\u009b2J\u202eliame\tx\xff"
	_, err = conn.Write([]byte("GET /seg-1.ts HTTP/1.1\r\nHost: gate\r\nX-User-Id: mallory\r\nX-Session-Id: tv\r\n" +
		"User-Agent: " + ua + "\r\nConnection: close\r\n\r\n"))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the gate admitted the player")

	code, out, errs := status(t, nil, "-admin", in.adminURL, "mallory")
	require.Equal(t, 0, code, errs)
	// The admin API's JSON already turned the stray byte into U+FFFD.
	assert.Contains(t, out, `evil\u009b2J\u202eliame\tx`+"\ufffd")
	assert.True(t, utf8.ValidString(out), "valid UTF-8: %q", out)
	for _, r := range out {
		assert.True(t, r == '\n' || unicode.IsPrint(r), "%U in %q", r, out)
	}
	assert.False(t, strings.Contains(out, "\t"), "no tab shifts the table")
}
