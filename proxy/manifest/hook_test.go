package manifest

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStripQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{name: "nothing of ours", in: "a=1&b=2", want: "a=1&b=2"},
		{name: "empty", in: "", want: ""},
		{name: "first", in: "token=x&a=1", want: "a=1"},
		{name: "middle", in: "a=1&sg_session=s&b=2", want: "a=1&b=2"},
		{name: "both, and the last", in: "a=1&sg_session=s&token=t", want: "a=1"},
		{name: "escaped name", in: "%74oken=t&a=%20", want: "a=%20"},
		{name: "a value that names ours", in: "q=token&a=1", want: "q=token&a=1"},
		{name: "only ours", in: "token=t", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, StripQuery(tt.in, "token", "sg_session"))
		})
	}
}

// TestMintedSessionInMPD: an MPD answered to a minted request gets the
// session id in its URIs and in CMCDParameters@sessionID, where dash.js
// takes its CMCD sid from.
func TestMintedSessionInMPD(t *testing.T) {
	t.Parallel()
	in, err := os.ReadFile(filepath.Join("testdata", "dash", "cmcd-session.mpd"))
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "http://stream.example.com/live/manifest.mpd", nil)
	req = WithQuery(req, "ivy", "minted-1", "sg_session=minted-1")
	resp := &http.Response{StatusCode: http.StatusOK, Request: req, ContentLength: int64(len(in)),
		Header: http.Header{"Content-Type": {"application/dash+xml"}, "Content-Length": {strconv.Itoa(len(in))}, "Etag": {`"1"`}},
		Body:   io.NopCloser(bytes.NewReader(in))}
	require.NoError(t, rewritePlaylists(slog.New(slog.DiscardHandler))(resp))
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Contains(t, string(out), `sessionID="minted-1"`)
	assert.Contains(t, string(out), "sg_session=minted-1")
	assert.Equal(t, strconv.Itoa(len(out)), resp.Header.Get("Content-Length"))
	assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
	assert.Empty(t, resp.Header.Get("Etag"))
}

// TestAskPlainPlaylist: what a marked request sends the origin: none of the
// marked parameters, and for a manifest neither Accept-Encoding nor Range.
func TestAskPlainPlaylist(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, target, wantQuery string
		whole                   bool
	}{
		{name: "manifest", target: "/v/Master.M3U8?token=t&x=1", wantQuery: "x=1", whole: true},
		{name: "MPD", target: "/v/manifest.mpd?sg_session=s&token=t", whole: true},
		{name: "segment", target: "/v/seg.m4s?token=t&sg_session=s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := WithQuery(httptest.NewRequest(http.MethodGet, tt.target, nil), "ivy", "", "token=t", "sg_session=s")
			in.Header.Set("Range", "bytes=0-")
			in.Header.Set("Accept-Encoding", "gzip")
			out := in.Clone(in.Context())
			AskPlainPlaylist(&httputil.ProxyRequest{In: in, Out: out})
			assert.Equal(t, tt.wantQuery, out.URL.RawQuery)
			assert.Equal(t, tt.whole, out.Header.Get("Range") == "")
			assert.Equal(t, tt.whole, out.Header.Get("Accept-Encoding") == "")
		})
	}
}

// TestMintedLiveMPDLocation: a minted live MPD names itself, with the
// session, in a Location, so that the player's reloads keep the session; a
// static one is left without.
func TestMintedLiveMPDLocation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, mpd, want string
	}{
		{name: "dynamic", mpd: `<?xml version="1.0"?>` + "\n" + `<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic"><Period/></MPD>`,
			want: `type="dynamic"><Location>./live.mpd?token=t&amp;sg_session=m1</Location><Period/>`},
		{name: "prefixed", mpd: `<d:MPD xmlns:d="urn:mpeg:dash:schema:mpd:2011" type='dynamic'><d:Period/></d:MPD>`,
			want: `type='dynamic'><d:Location>./live.mpd?token=t&amp;sg_session=m1</d:Location><d:Period/>`},
		{name: "static", mpd: `<MPD type="static"><Period/></MPD>`, want: `<MPD type="static"><Period/></MPD>`},
		{name: "no type", mpd: `<MPD><Period/></MPD>`, want: `<MPD><Period/></MPD>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "http://stream.example.com/x/live.mpd?token=t", nil)
			req = WithQuery(req, "ivy", "m1", "token=t", "sg_session=m1")
			resp := &http.Response{StatusCode: http.StatusOK, Request: req, ContentLength: -1,
				Header: http.Header{"Content-Type": {"application/dash+xml"}}, Body: io.NopCloser(bytes.NewReader([]byte(tt.mpd)))}
			require.NoError(t, rewritePlaylists(slog.New(slog.DiscardHandler))(resp))
			out, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Contains(t, string(out), tt.want)
		})
	}
}
