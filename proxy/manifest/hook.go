// Package manifest rewrites streaming manifests on their way from the origin
// to the player: when a player's token came in the query, or the gate minted
// its session, every URI of the manifest that points back at this host gets
// the token or sg_session appended, so that a player that cannot set
// headers keeps its identity on each request. HLS playlists are rewritten
// line by line (hls.go), DASH MPDs a start tag at a time (dash.go); the URI
// rule they share lives in uri.go.
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

// playlistToken travels with a request whose manifests are to be rewritten:
// what to add to their URIs, and the host the player believes it is
// talking to.
type playlistToken struct {
	// user is whose request it is: its rewrites share one part of the
	// rewrite budget (budget.go).
	user  string
	pairs []string
	host  string
	// session is the session id sg_session carries: an MPD also gets it in
	// CMCDParameters@sessionID.
	session string
	// self is, for an MPD with a session, the last segment of its path and
	// its query as the player sent them: a live MPD's Location.
	self string
}

// WithPlaylistQuery marks r, user's request, for manifest rewriting when
// its identity came from the query: pair is the identity's PlaylistQuery.
// Requests with no pair are returned as they are, at no cost.
func WithPlaylistQuery(r *http.Request, user, pair string) *http.Request {
	if pair == "" {
		return r
	}
	return WithQuery(r, user, "", pair)
}

// WithQuery marks r, user's request, so that the manifest answered to it gets pairs (escaped
// name=value pairs: the query token, sg_session) added to every URI that
// points back at this host, and that the URL sent to the origin goes
// without them. session, when set, is the session id sg_session carries
// (minted now, or brought back): an MPD also gets it in
// CMCDParameters@sessionID, and a live one a Location naming itself with it.
// Empty pairs are skipped; with none left r is returned as it is.
func WithQuery(r *http.Request, user, session string, pairs ...string) *http.Request {
	var kept []string
	for _, p := range pairs {
		if p != "" {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		return r
	}
	pt := &playlistToken{user: user, pairs: kept, host: r.Host, session: session}
	if session != "" && hasSuffixFold(r.URL.Path, ".mpd") {
		p := r.URL.EscapedPath()
		// "./" keeps a segment with a colon from reading as a scheme.
		pt.self = "./" + p[strings.LastIndexByte(p, '/')+1:]
		if r.URL.RawQuery != "" {
			pt.self += "?" + r.URL.RawQuery
		}
	}
	return r.WithContext(context.WithValue(r.Context(), playlistKey{}, pt))
}

func playlistTokenOf(r *http.Request) *playlistToken {
	pt, _ := r.Context().Value(playlistKey{}).(*playlistToken)
	return pt
}

// AskPlainPlaylist is part of the ReverseProxy's Rewrite. For a marked
// request it removes the marked parameters from the URL sent to the origin,
// and a manifest's asks the origin for the whole body, uncompressed, so that
// it can be rewritten as it streams (a gzip answer is decoded all the same).
func AskPlainPlaylist(pr *httputil.ProxyRequest) {
	pt := playlistTokenOf(pr.In)
	if pt == nil {
		return
	}
	pr.Out.URL.RawQuery = StripQuery(pr.Out.URL.RawQuery, pairNames(pt.pairs)...)
	if p := pr.In.URL.Path; hasSuffixFold(p, ".m3u8") || hasSuffixFold(p, ".mpd") {
		h := pr.Out.Header
		h.Del("Accept-Encoding")
		// Only a whole manifest can be rewritten: ffmpeg asks for
		// "bytes=0-", which origins answer 206. The player gets the whole
		// rewritten manifest in a 200, which RFC 9110 §14.2 allows.
		h.Del("Range")
		h.Del("If-Range")
	}
}

// PlaylistHook is the ReverseProxy's ModifyResponse: none at all unless
// manifests are to be rewritten (rewrite), else rewritePlaylists.
func PlaylistHook(rewrite bool, logger *slog.Logger) func(*http.Response) error {
	if !rewrite {
		return nil
	}
	return rewritePlaylists(logger)
}

// rewritePlaylists is the ReverseProxy's ModifyResponse: an HLS playlist or
// a DASH MPD answered to a marked request gets the marked pairs added to
// every URI that points back at this host. Every other response, segments
// above all, passes after one context lookup, untouched and without an
// allocation.
func rewritePlaylists(logger *slog.Logger) func(*http.Response) error {
	return func(resp *http.Response) error {
		pt := playlistTokenOf(resp.Request)
		if pt == nil || resp.StatusCode != http.StatusOK {
			return nil
		}
		hls := isPlaylist(resp)
		if !hls && !isMPD(resp.Header.Get("Content-Type"), resp.Request.URL.Path) {
			return nil
		}
		var gzipped bool
		switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
		case "", "identity":
		case "gzip", "x-gzip":
			gzipped = true
		default:
			logger.Warn("manifest not rewritten: unsupported Content-Encoding; players using the token query parameter will lose their identity on its URIs",
				"encoding", enc, "path", resp.Request.URL.Path)
			return nil
		}
		h := resp.Header
		h.Del("Content-Encoding")
		// The body now differs from the origin's representation, and carries a
		// bearer token or a session id that no shared cache may keep, nor a
		// Referer carry to a third party.
		for _, k := range []string{"Etag", "Content-Md5", "Digest", "Content-Digest", "Repr-Digest", "Accept-Ranges"} {
			h.Del(k)
		}
		h.Set("Cache-Control", "private, no-store")
		h.Set("Referrer-Policy", "no-referrer")
		if hls {
			resp.Body = newPlaylistReader(resp.Body, gzipped, newURIRewriter(pt.host, pt.pairs...))
		} else {
			mpd := newMPDReader(resp.Body, gzipped, pt.host, pt.pairs, pt.session)
			if pt.self != "" {
				mpd.location = string(newURIRewriter(pt.host, pt.pairs...).appendURI(nil, []byte(pt.self)))
			}
			resp.Body = mpd
		}
		return correctLength(resp, pt.user)
	}
}

// correctLength gives user's rewritten playlist its new Content-Length when the
// origin sent one: the origin had the whole playlist, so holding it costs the
// player nothing. What is held counts against MaxRewriteMemory until the
// player has it, and against the user's share of it (budget.go); a playlist
// past MaxManifest is refused (502). A
// playlist the origin streams without a length (chunked, as some LL-HLS
// origins do) streams on, line by line, chunked, and is cut at MaxManifest.
func correctLength(resp *http.Response, user string) error {
	h := resp.Header
	if resp.ContentLength < 0 || resp.Request.Method == http.MethodHead {
		// A HEAD answer's length was the origin's playlist's, not ours.
		h.Del("Content-Length")
		resp.ContentLength = -1
		return nil
	}
	body, held, err := readHeld(resp.Request.Context(), user, resp.Body)
	if err != nil {
		return err // ReverseProxy closes resp.Body and answers 502 (503 when busy), or 499 when the player left
	}
	_ = resp.Body.Close()
	resp.ContentLength = int64(len(body))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	resp.Body = &heldBody{Reader: bytes.NewReader(body), held: held}
	return nil
}

// isPlaylist reports whether a 200 answer is an HLS playlist (RFC 8216 §4:
// by its media type, or its path's .m3u8 for origins that label it
// generically).
func isPlaylist(resp *http.Response) bool {
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
