package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/manifest"
)

// StatusClientClosedRequest is nginx's 499: the player hung up before the
// origin answered. Players abandon segment requests all the time, so it is
// logged at debug level only.
const StatusClientClosedRequest = 499

// UpstreamOptions configures the reverse proxy to the origin.
type UpstreamOptions struct {
	// URL is the origin base URL; its path is put in front of each request's path.
	URL *url.URL
	// HeaderTimeout is the longest wait for the origin's response headers.
	HeaderTimeout time.Duration
	// RewritePlaylists appends the token, or a minted or query session id,
	// to the URIs of HLS playlists and DASH MPDs answered to requests that
	// carried it in the query (-identity jwt, -mint-sessions), and removes it
	// from the URL sent to the origin.
	RewritePlaylists bool
	// MintSessions removes identity.SessionParam from every URL sent to the
	// origin (-mint-sessions).
	MintSessions bool
	// TokenParam, in token mode, is removed from every URL sent to the
	// origin, wherever the token the gate verified came from: a second
	// token in the query must not reach an origin that may read it.
	TokenParam string
	// SharedCache keeps the origin's Cache-Control unchanged (-shared-cache);
	// by default answers are made private (cachecontrol.go).
	SharedCache bool
	Metrics     *Metrics
	Logger      *slog.Logger
}

// Upstream is the reverse proxy to the origin.
type Upstream struct {
	*httputil.ReverseProxy
	// watch bounds the wait for the origin's headers, when Transport's
	// timer does not (headerwatch.go).
	watch *headerWatch
	// gets proxies the GET requests without a body over a getTransport,
	// when the origin is plain HTTP dialed directly; nil otherwise.
	gets *httputil.ReverseProxy
}

// NewUpstream returns the reverse proxy to the origin. Bodies stream through
// pooled buffers and are never read whole: what one read from the origin
// brought goes on to the player before the next read (untypedWriter);
// Range requests and 206 answers pass unchanged. Against a plain-HTTP origin
// dialed directly, GETs without a body go through a second ReverseProxy, the
// same but for its transport (getTransport), whose large bodies are
// spliced (splice.go).
func NewUpstream(opts UpstreamOptions) Upstream {
	target := opts.URL
	transport, watch := newTransport(target, opts.HeaderTimeout)
	// The query parameters of ours that the origin never gets, whatever
	// the request's identity came from: a minted session id (it has no use
	// for it, and its logs should not keep it) and a token (one the gate
	// did not verify must not reach an origin that may read it).
	var strip []string
	if opts.MintSessions {
		strip = append(strip, identity.SessionParam)
	}
	if opts.TokenParam != "" {
		strip = append(strip, opts.TokenParam)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// Keep the chain of proxies in front of us, as nginx's
			// $proxy_add_x_forwarded_for does; SetXForwarded appends the peer.
			if xff := pr.In.Header["X-Forwarded-For"]; xff != nil {
				pr.Out.Header["X-Forwarded-For"] = xff
			}
			pr.SetXForwarded()
			if opts.RewritePlaylists {
				manifest.AskPlainPlaylist(pr)
			}
			if len(strip) > 0 {
				pr.Out.URL.RawQuery = manifest.StripQuery(pr.Out.URL.RawQuery, strip...)
			}
		},
		ModifyResponse: checkingManifests(modifyResponse(watch, opts.SharedCache, manifest.PlaylistHook(opts.RewritePlaylists, opts.Logger))),
		Transport:      transport,
		BufferPool:     bufferPool{},
		ErrorHandler:   upstreamErrorHandler(opts.Metrics, opts.Logger),
		ErrorLog:       slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
		// No FlushInterval: untypedWriter flushes after each write instead.
		// ReverseProxy's own flushing costs a timer per response (100 ms:
		// about 0.4 µs of a playlist's CPU), or with -1 a goroutine that
		// sends the headers alone (a third of the playlist rate).
	}
	up := Upstream{watch: watch, ReverseProxy: rp}
	if target.Scheme == "http" && directly(transport, target) {
		gets := *rp
		gets.Transport = newGetTransport(originDialer.DialContext, target, opts.HeaderTimeout, transport)
		gets.ModifyResponse = handOver(rp.ModifyResponse)
		up.gets = &gets
	}
	return up
}

// ServeHTTP proxies r to the origin.
func (u Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	uw := &untypedWriter{ResponseWriter: w}
	if u.gets != nil && isPlainGet(r) {
		serveGet(u.gets, uw, r)
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		// An upload goes on to the origin while its answer comes back:
		// net/http would otherwise take what is left of it from under the
		// transport once the answer's headers are written, and the
		// transport would close the origin's connection mid-answer.
		_ = http.NewResponseController(w).EnableFullDuplex()
	}
	u.ReverseProxy.ServeHTTP(uw, r)
}

// CloseIdleConnections closes the idle connections to the origin.
func (u Upstream) CloseIdleConnections() {
	if t, ok := u.Transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
	if u.gets != nil {
		u.gets.Transport.(*getTransport).CloseIdleConnections()
	}
}

// untypedWriter keeps a response the origin sent without a Content-Type
// without one: net/http would otherwise guess one from the first bytes.
//
// It also flushes after every write, so that what the origin has sent never
// waits in net/http's buffers (4 KiB of a response of known length would
// otherwise wait for the next bytes, or the end). That costs no extra write
// to the socket: a body that comes in one read (a playlist) leaves in the
// one write the end of the handler would have made, and a segment's large
// writes bypass the buffers anyway.
type untypedWriter struct {
	http.ResponseWriter
	flusher  http.Flusher
	resolved bool
	// body is a body the ReverseProxy handed over (handOver).
	body *spliceBody
}

// ReadFrom passes a spliced body on, and flushes what may be left in
// net/http's buffers when it was copied instead.
func (w *untypedWriter) ReadFrom(src io.Reader) (int64, error) {
	n, err := readFrom(w.ResponseWriter, src)
	if err == nil {
		if f := flusherOf(w.ResponseWriter); f != nil {
			f.Flush()
		}
	}
	return n, err
}

func (w *untypedWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	if err == nil {
		if !w.resolved {
			w.flusher, w.resolved = flusherOf(w.ResponseWriter), true
		}
		if w.flusher != nil {
			w.flusher.Flush()
		}
	}
	return n, err
}

// flusherOf is the first writer of w's chain that can flush, as
// http.ResponseController finds it, without its allocation per response.
func flusherOf(w http.ResponseWriter) http.Flusher {
	f, _ := writerOf[http.Flusher](w)
	return f
}

// writerOf is the first writer of w's chain, following Unwrap, that is a T.
func writerOf[T any](w http.ResponseWriter) (T, bool) {
	for {
		if t, ok := w.(T); ok {
			return t, true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			var zero T
			return zero, false
		}
		w = u.Unwrap()
	}
}

func (w *untypedWriter) WriteHeader(code int) {
	if h := w.Header(); code >= 200 {
		if _, ok := h["Content-Type"]; !ok {
			h["Content-Type"] = nil // present but empty: net/http neither sniffs nor sends it
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap gives http.ResponseController, and so the proxy's flushes and
// protocol upgrades, the writer underneath.
func (w *untypedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// newTransport is http.DefaultTransport tuned for one busy origin, at
// target: many idle keep-alive connections (the default of 2 per host
// churns connections under load), bounded dial and header waits, and no
// transparent gzip so that responses pass through byte for byte. It returns
// the watch that bounds the header wait when it can (headerwatch.go), nil
// when Transport's ResponseHeaderTimeout does.
func newTransport(target *url.URL, headerTimeout time.Duration) (*http.Transport, *headerWatch) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	dial := originDialer.DialContext
	t.DialContext = dial
	var watch *headerWatch
	if headerTimeout > 0 && target.Scheme == "http" && directly(t, target) {
		watch = newHeaderWatch(headerTimeout)
		t.DialContext = watch.dialer(dial)
	} else {
		t.ResponseHeaderTimeout = headerTimeout
	}
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	t.DisableCompression = true
	t.WriteBufferSize = 16 << 10
	t.ReadBufferSize = 16 << 10
	return t, watch
}

// originDialer dials the origin: a bounded wait, and keep-alive probes.
var originDialer = &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}

// directly reports whether t reaches target without a proxy (HTTP_PROXY and
// NO_PROXY, read once by net/http).
func directly(t *http.Transport, target *url.URL) bool {
	if t.Proxy == nil {
		return true
	}
	u, err := t.Proxy(&http.Request{URL: target})
	return err == nil && u == nil
}

// bufferPool hands httputil.ReverseProxy 128 KiB copy buffers. A segment
// then crosses in a couple of reads and writes instead of eight of each:
// measured side by side on 256 KiB segments (bench/), 32 KiB buffers cost
// about 30% more CPU per segment than 128 KiB, and 256 KiB saved nothing
// more. A buffer is held only while a response is being copied.
type bufferPool struct{}

const copyBufferSize = 128 << 10

// The pool holds array pointers: converting the slice back on Put allocates
// nothing, where pooling *[]byte would allocate a slice header per request.
var copyBuffers = sync.Pool{New: func() any { return new([copyBufferSize]byte) }}

func (bufferPool) Get() []byte { return copyBuffers.Get().(*[copyBufferSize]byte)[:] }

func (bufferPool) Put(b []byte) {
	if len(b) == copyBufferSize {
		copyBuffers.Put((*[copyBufferSize]byte)(b))
	}
}

func upstreamErrorHandler(m *Metrics, logger *slog.Logger) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		switch {
		case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
			answerClientClosed(w, r, m, logger, phaseUpstream)
		case errors.Is(err, manifest.ErrBusy):
			m.upstreamErrors.WithLabelValues("rewrite_busy").Inc()
			logger.Warn("manifest not rewritten: rewriting is at its memory bound, or this user's share of it", "path", r.URL.Path)
			w.Header().Set("Retry-After", "1")
			writeProblem(w, http.StatusServiceUnavailable, newProblem(http.StatusServiceUnavailable, "rewrite-busy",
				"Busy", "Too many manifests are being rewritten at once; try again shortly."))
		case errors.Is(err, errNotManifest):
			m.upstreamErrors.WithLabelValues("not_manifest").Inc()
			logger.Warn("manifest request without a session refused: the origin answered with something else", "path", r.URL.Path)
			writeProblem(w, http.StatusBadGateway, newProblem(http.StatusBadGateway, "not-a-manifest",
				"Not a manifest", "The origin's answer to this manifest request is no HLS playlist or DASH MPD; media needs a session id."))
		case errors.Is(err, manifest.ErrTooLarge):
			m.upstreamErrors.WithLabelValues("manifest_too_large").Inc()
			logger.Warn("manifest refused: it decodes, or rewrites, to more than 16 MiB", "path", r.URL.Path)
			writeProblem(w, http.StatusBadGateway, newProblem(http.StatusBadGateway, "manifest-too-large",
				"Manifest too large", "The origin's manifest decodes, or rewrites, to more than 16 MiB."))
		case isHeaderTimeout(err):
			m.upstreamErrors.WithLabelValues("timeout").Inc()
			logger.Warn("upstream timed out", "method", r.Method, "path", r.URL.Path, "err", err)
			writeProblem(w, http.StatusGatewayTimeout, newProblem(http.StatusGatewayTimeout, "upstream-timeout",
				"Origin timed out", "The origin sent no response headers in time."))
		default:
			m.upstreamErrors.WithLabelValues("unreachable").Inc()
			logger.Warn("upstream unreachable", "method", r.Method, "path", r.URL.Path, "err", err)
			writeProblem(w, http.StatusBadGateway, newProblem(http.StatusBadGateway, "upstream-unreachable",
				"Origin unreachable", "The origin could not be reached or broke the connection."))
		}
	}
}

// Phases of streamgate_client_closed_total: what the gate was waiting for
// when the player hung up.
const (
	phaseStore    = "store"
	phaseUpstream = "upstream"
)

// answerClientClosed counts and logs a request whose player hung up before
// it was answered, and writes the 499 that only the access log will see.
// It is no origin failure: it has its own counter.
func answerClientClosed(w http.ResponseWriter, r *http.Request, m *Metrics, logger *slog.Logger, phase string) {
	m.clientClosed.WithLabelValues(phase).Inc()
	logger.Debug("client closed request", "method", r.Method, "path", r.URL.Path, "phase", phase)
	w.WriteHeader(StatusClientClosedRequest)
}

// isHeaderTimeout tells a slow origin (504) from an unreachable one (502): a
// dial that times out means the origin is unreachable.
func isHeaderTimeout(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
