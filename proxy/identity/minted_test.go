package identity_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/proxy/identity"
)

func TestMintSessionID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := identity.MintSessionID()
		require.Len(t, id, 22, "128 bits of URL-safe base64")
		require.True(t, identity.ValidID(id))
		for _, c := range id {
			require.True(t, c == '-' || c == '_' || (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'z'), "URL-safe: %q", id)
		}
		require.False(t, seen[id])
		seen[id] = true
	}
}

// TestSessionSources: the configured header first, then the CMCD sid, then
// sg_session, which is read only with -mint-sessions.
func TestSessionSources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		target      string
		header      string // X-Session-Id
		cmcd        string // CMCD-Session
		param       bool   // -mint-sessions
		wantSession string
		wantQuery   string
		wantStatus  int // of the error; 0: none
	}{
		{name: "header wins", target: "/v/seg.m4s?sg_session=p", header: "h", cmcd: `sid="c"`, param: true, wantSession: "h"},
		{name: "CMCD before the parameter", target: "/v/seg.m4s?sg_session=p", cmcd: `sid="c"`, param: true, wantSession: "c"},
		{name: "the parameter", target: "/v/seg.m4s?a=1&sg_session=p-1&b=2", param: true, wantSession: "p-1", wantQuery: "sg_session=p-1"},
		{name: "the parameter escaped", target: "/v/seg.m4s?sg%5Fsession=p%21", param: true, wantSession: "p!", wantQuery: "sg%5Fsession=p%21"},
		{name: "the parameter when minting is off", target: "/v/seg.m4s?sg_session=p", wantStatus: http.StatusBadRequest},
		{name: "the parameter twice", target: "/v/seg.m4s?sg_session=p&sg_session=q", param: true, wantStatus: http.StatusBadRequest},
		{name: "an empty parameter", target: "/v/seg.m4s?sg_session=", param: true, wantStatus: http.StatusBadRequest},
		{name: "a parameter with a space", target: "/v/seg.m4s?sg_session=a+b", param: true, wantStatus: http.StatusBadRequest},
		{name: "a manifest without any", target: "/v/master.M3U8", param: true},
		{name: "media without any", target: "/v/seg.m4s?x=sg_session", param: true, wantStatus: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, tt.target, nil)
			r.Header.Set("X-User-Id", "u")
			if tt.header != "" {
				r.Header.Set("X-Session-Id", tt.header)
			}
			if tt.cmcd != "" {
				r.Header.Set("CMCD-Session", tt.cmcd)
			}
			id, ierr := identity.NewHeaderIdentity("X-User-Id", "X-Session-Id").WithCMCD(true).WithSessionParam(tt.param).Identify(r)
			if tt.wantStatus != 0 {
				require.NotNil(t, ierr)
				assert.Equal(t, tt.wantStatus, ierr.Status)
				return
			}
			require.Nil(t, ierr)
			assert.Equal(t, tt.wantSession, id.SessionID)
			assert.Equal(t, tt.wantQuery, id.SessionQuery)
		})
	}
}
