// Package manifest rewrites streaming manifests on their way from the origin
// to the player: when a player's token came in the query, every URI of the
// manifest that points back at this host gets the token appended, so that a
// player that cannot set headers keeps its identity on each request. HLS
// playlists are rewritten line by line (hls.go); the URI rule they share
// lives in uri.go, where a DASH rewriter can use it too.
package manifest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
)

// playlistKey is the request-context key of a playlistToken.
type playlistKey struct{}

// playlistToken travels with a request whose token came in the query: what
// to append, and the host the player believes it is talking to.
type playlistToken struct {
	pair string
	host string
}

// WithPlaylistQuery marks r for playlist rewriting when its identity came
// from the query: pair is the identity's PlaylistQuery. Requests with no
// pair are returned as they are, at no cost.
func WithPlaylistQuery(r *http.Request, pair string) *http.Request {
	if pair == "" {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), playlistKey{}, &playlistToken{pair: pair, host: r.Host}))
}

func playlistTokenOf(r *http.Request) *playlistToken {
	pt, _ := r.Context().Value(playlistKey{}).(*playlistToken)
	return pt
}

// AskPlainPlaylist is part of the ReverseProxy's Rewrite: a marked request
// for a .m3u8 asks the origin for an uncompressed body, so that it can be
// rewritten as it streams. A gzip answer is decoded all the same.
func AskPlainPlaylist(pr *httputil.ProxyRequest) {
	if playlistTokenOf(pr.In) != nil && hasSuffixFold(pr.In.URL.Path, ".m3u8") {
		pr.Out.Header.Del("Accept-Encoding")
	}
}

// PlaylistHook is the ReverseProxy's ModifyResponse: none at all unless
// playlists are to be rewritten (rewrite), else rewritePlaylists.
func PlaylistHook(rewrite bool, logger *slog.Logger) func(*http.Response) error {
	if !rewrite {
		return nil
	}
	return rewritePlaylists(logger)
}

// rewritePlaylists is the ReverseProxy's ModifyResponse: an HLS playlist
// answered to a marked request gets the token appended to every URI that
// points back at this host. Every other response, segments above all,
// passes after one context lookup, untouched and without an allocation.
func rewritePlaylists(logger *slog.Logger) func(*http.Response) error {
	return func(resp *http.Response) error {
		pt := playlistTokenOf(resp.Request)
		if pt == nil || !isPlaylist(resp) {
			return nil
		}
		var gzipped bool
		switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
		case "", "identity":
		case "gzip", "x-gzip":
			gzipped = true
		default:
			logger.Warn("playlist not rewritten: unsupported Content-Encoding; players using the token query parameter will lose their identity on its URIs",
				"encoding", enc, "path", resp.Request.URL.Path)
			return nil
		}
		h := resp.Header
		h.Del("Content-Encoding")
		// The body now differs from the origin's representation, and carries a
		// bearer token that no shared cache may keep.
		for _, k := range []string{"Etag", "Content-Md5", "Digest", "Content-Digest", "Repr-Digest", "Accept-Ranges"} {
			h.Del(k)
		}
		h.Set("Cache-Control", "private, no-store")
		resp.Body = newPlaylistReader(resp.Body, gzipped, newURIRewriter(pt.host, pt.pair))
		return correctLength(resp)
	}
}

// correctLength gives a rewritten playlist its new Content-Length when the
// origin sent one: the origin had the whole playlist, so holding it costs the
// player nothing. What is held counts against MaxRewriteMemory until the
// player has it (budget.go); a playlist past MaxManifest is refused (502). A
// playlist the origin streams without a length (chunked, as some LL-HLS
// origins do) streams on, line by line, chunked, and is cut at MaxManifest.
func correctLength(resp *http.Response) error {
	h := resp.Header
	if resp.ContentLength < 0 || resp.Request.Method == http.MethodHead {
		// A HEAD answer's length was the origin's playlist's, not ours.
		h.Del("Content-Length")
		resp.ContentLength = -1
		return nil
	}
	body, held, err := readHeld(resp.Request.Context(), resp.Body)
	if err != nil {
		return err // ReverseProxy closes resp.Body and answers 502 (503 when busy), or 499 when the player left
	}
	_ = resp.Body.Close()
	resp.ContentLength = int64(len(body))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	resp.Body = &heldBody{Reader: bytes.NewReader(body), held: held}
	return nil
}

// isPlaylist reports whether a response is an HLS playlist (RFC 8216 §4:
// by its media type, or its path's .m3u8 for origins that label it
// generically). Only whole 200 answers are rewritten.
func isPlaylist(resp *http.Response) bool {
	if resp.StatusCode != http.StatusOK {
		return false
	}
	if ct := resp.Header["Content-Type"]; len(ct) > 0 {
		mt, _, _ := strings.Cut(ct[0], ";")
		mt = strings.TrimSpace(mt)
		for _, t := range playlistTypes {
			if strings.EqualFold(mt, t) {
				return true
			}
		}
	}
	return hasSuffixFold(resp.Request.URL.Path, ".m3u8")
}

// playlistTypes are the media types of HLS playlists (RFC 8216 §4 and the
// legacy names players still meet).
var playlistTypes = []string{"application/vnd.apple.mpegurl", "application/x-mpegurl", "audio/mpegurl", "audio/x-mpegurl"}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}
