package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
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
	if resp.Request == nil || resp.StatusCode < 200 || resp.StatusCode > 299 || resp.Request.Method == http.MethodHead {
		return nil
	}
	// A manifest's path ends so: other answers, nearly all, skip the walk
	// up the request's contexts.
	mpd := hasSuffixFold(resp.Request.URL.Path, ".mpd")
	if !mpd && !hasSuffixFold(resp.Request.URL.Path, ".m3u8") || resp.Request.Context().Value(sessionlessKey{}) == nil {
		return nil
	}
	enc := strings.ToLower(resp.Header.Get("Content-Encoding"))
	switch enc {
	case "", "identity":
		br := bufio.NewReaderSize(resp.Body, manifestHead)
		head, err := br.Peek(manifestHead)
		resp.Body = readCloser{br, resp.Body}
		if !looksLikeManifest(head, mpd, err != nil) {
			return errNotManifest
		}
		return nil
	case "gzip", "x-gzip":
		// Stored compressed (S3, a CDN): the first bytes decoded tell.
		br := bufio.NewReaderSize(resp.Body, gzipHead)
		raw, err := br.Peek(gzipHead)
		resp.Body = readCloser{br, resp.Body}
		var head []byte
		whole := false
		if zr, zerr := gzip.NewReader(bytes.NewReader(raw)); zerr == nil {
			head = make([]byte, manifestHead)
			n, rerr := io.ReadFull(zr, head)
			head, whole = head[:n], rerr == io.EOF || rerr == io.ErrUnexpectedEOF && err != nil
		}
		if !looksLikeManifest(head, mpd, whole) {
			return errNotManifest
		}
		return nil
	}
	// Another coding: its type must name a manifest.
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	if strings.Contains(ct, "mpegurl") || strings.Contains(ct, "dash+xml") || mpd && strings.Contains(ct, "xml") {
		return nil
	}
	return errNotManifest
}

// gzipHead is how much of a compressed body checkManifest reads ahead to
// decode the first bytes of the manifest.
const gzipHead = 4 << 10

// looksLikeManifest reports whether head, a body's first bytes, may start
// an HLS playlist (#EXTM3U) or, for an MPD, an XML document, after a
// byte-order mark and blanks; whole says head is the whole body. A body of
// blanks alone holds nothing to play; a head of blanks alone tells nothing.
func looksLikeManifest(head []byte, mpd, whole bool) bool {
	head = manifestText(head)
	switch {
	case len(head) == 0:
		return whole
	case mpd:
		return head[0] == '<'
	}
	const tag = "#EXTM3U"
	return bytes.HasPrefix(head, []byte(tag)) || whole && strings.HasPrefix(tag, string(head))
}

// manifestStart reports whether b, the first bytes written of a manifest's
// answer that are not a byte-order mark or blanks, may start one; ok is
// false while b holds only those (hintWriter reads the answers of sessions
// as they pass, and cannot wait for more).
func manifestStart(b []byte, mpd bool) (start, ok bool) {
	b = manifestText(b)
	if len(b) == 0 {
		return false, false
	}
	if mpd {
		return b[0] == '<', true
	}
	return b[0] == '#', true
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

// manifestText is b past a byte-order mark and blanks, where a manifest's
// first tag starts.
func manifestText(b []byte) []byte {
	return bytes.TrimLeft(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), " \t\r\n")
}
