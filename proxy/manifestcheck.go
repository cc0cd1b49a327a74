package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
)

// A manifest passes without a session (SPEC: stock players fetch their first
// manifest before they send CMCD), and is told by its path's ending. An
// origin that serves path info (Apache's AcceptPathInfo, a CGI script)
// answers /seg-1.m4s/x.m3u8 or /cgi/seg/x.m3u8 with the segment: media
// without a slot (a red-team pass). So the answer to a manifest request
// proxied without a session must be one: its body starts as an HLS playlist
// or an XML document does, or, compressed, its type names a manifest.

// sessionlessKey marks, in a request's context, a manifest request proxied
// without a session.
type sessionlessKey struct{}

// errNotManifest is the origin answering a sessionless manifest request
// with something else.
var errNotManifest = errors.New("the origin's answer to a manifest request without a session is no manifest")

// sessionless marks r, a manifest request without a session, for
// checkManifest. Its answer is asked whole and plain, to be read from its
// first byte; a manifest is small.
func sessionless(r *http.Request) *http.Request {
	r.Header.Del("Range")
	r.Header.Del("If-Range")
	r.Header.Del("Accept-Encoding")
	return r.WithContext(context.WithValue(r.Context(), sessionlessKey{}, true))
}

// manifestHead is how much of a body checkManifest reads ahead: a
// manifest's first line after a byte-order mark and some blank lines.
const manifestHead = 64

// checkManifest refuses the answer to a sessionless manifest request that
// is no manifest. Others, and answers other than 2xx, pass as they are.
func checkManifest(resp *http.Response) error {
	if resp.Request == nil || resp.StatusCode < 200 || resp.StatusCode > 299 || resp.Request.Method == http.MethodHead ||
		resp.Request.Context().Value(sessionlessKey{}) == nil {
		return nil
	}
	mpd := hasSuffixFold(resp.Request.URL.Path, ".mpd")
	if enc := resp.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		if ct := strings.ToLower(resp.Header.Get("Content-Type")); strings.Contains(ct, "mpegurl") || strings.Contains(ct, "dash+xml") {
			return nil
		}
		return errNotManifest
	}
	br := bufio.NewReaderSize(resp.Body, manifestHead)
	head, _ := br.Peek(manifestHead)
	resp.Body = readCloser{br, resp.Body}
	if !looksLikeManifest(head, mpd) {
		return errNotManifest
	}
	return nil
}

// looksLikeManifest reports whether head, a body's first bytes, may start
// an HLS playlist (#EXTM3U) or, for an MPD, an XML document. An empty body
// holds nothing to play.
func looksLikeManifest(head []byte, mpd bool) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	head = bytes.TrimLeft(head, " \t\r\n")
	if len(head) == 0 {
		return true
	}
	if mpd {
		return head[0] == '<'
	}
	const tag = "#EXTM3U"
	return bytes.HasPrefix(head, []byte(tag)) || len(head) < len(tag) && strings.HasPrefix(tag, string(head))
}

type readCloser struct {
	io.Reader
	io.Closer
}

// checkingManifests runs checkManifest before next.
func checkingManifests(next func(*http.Response) error) func(*http.Response) error {
	return func(resp *http.Response) error {
		if err := checkManifest(resp); err != nil {
			return err
		}
		if next != nil {
			return next(resp)
		}
		return nil
	}
}
