package identity_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/proxy/identity"
)

func TestValidID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{name: "empty", id: "", want: false},
		{name: "one byte", id: "a", want: true},
		{name: "lowest visible character", id: "\x21", want: true},
		{name: "highest visible character", id: "\x7e", want: true},
		{name: "space", id: "a b", want: false},
		{name: "DEL", id: "a\x7f", want: false},
		{name: "a control character", id: "a\x00", want: false},
		{name: "tab", id: "\ta", want: false},
		{name: "a UTF-8 letter", id: "é", want: false},
		{name: "128 bytes", id: strings.Repeat("x", 128), want: true},
		{name: "129 bytes", id: strings.Repeat("x", 129), want: false},
		{name: "a UUID", id: "0b6f3a5e-8a1c-4c3e-9d2b-7f1e2a3b4c5d", want: true},
		{name: "a JWT-like token", id: "eyJ.abc_DEF-123.xyz=", want: true},
		{name: "a dot, which the admin API cannot address", id: ".", want: false},
		{name: "two dots", id: "..", want: false},
		{name: "three dots", id: "...", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, identity.ValidID(tt.id))
		})
	}
}

// TestIsManifest: manifests by their ending, and no path an origin may cut
// before it.
func TestIsManifest(t *testing.T) {
	for path, want := range map[string]bool{
		"/v/master.m3u8": true, "/v/MANIFEST.MPD": true, "/v/a;b/master.m3u8": false,
		"/v/seg-1.ts": false, "/v/seg-1.ts;.m3u8": false, "/v/seg-1.ts?.m3u8": false,
		"/v/seg-1.ts#.mpd": false, "/v/seg-1.ts\x00.m3u8": false, "/v/m3u8": false,
		// Decoded once by the gate, again by some origins.
		"/v/seg-1.ts%3B.m3u8": false, "/v/seg-1.ts%3f.mpd": false, "/v/seg-1.ts%23.m3u8": false, "/v/seg-1.ts%00.m3u8": false,
		"/v/seg-1.ts/.m3u8": false, "/.mpd": false, ".m3u8": false, "/v/a.m3u8": true, "/a.b/index.mpd": true,
	} {
		assert.Equal(t, want, identity.IsManifest(path), "%q", path)
	}
}

func TestHeaderIdentityNamesAreConfigurable(t *testing.T) {
	t.Parallel()
	id := identity.NewHeaderIdentity("x-account", "X-PLAYBACK-ID") // any case, as operators type them
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Account", "alice")
	r.Header.Set("X-Playback-Id", "tv")
	r.Header.Set("X-User-Id", "mallory") // the default names mean nothing now
	got, ierr := id.Identify(r)
	require.Nil(t, ierr)
	assert.Equal(t, identity.Identity{UserID: "alice", SessionID: "tv"}, got)

	r.Header.Del("X-Account")
	_, ierr = id.Identify(r)
	require.NotNil(t, ierr)
	assert.Equal(t, http.StatusUnauthorized, ierr.Status)
	assert.Equal(t, "missing_user", ierr.Reason)
	assert.Contains(t, ierr.Detail, "X-Account", "the answer names the header to send")
}
