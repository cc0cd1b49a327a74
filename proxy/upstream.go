package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
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
	// RewritePlaylists appends the token to the URIs of HLS playlists
	// answered to requests whose token came in the query (-identity jwt).
	RewritePlaylists bool
	Metrics          *Metrics
	Logger           *slog.Logger
}

// NewUpstream returns the reverse proxy to the origin. Bodies stream through
// pooled buffers and are never read whole; Range requests and 206 answers
// pass unchanged.
func NewUpstream(opts UpstreamOptions) *httputil.ReverseProxy {
	target := opts.URL
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// Keep the chain of proxies in front of us, as nginx's
			// $proxy_add_x_forwarded_for does; SetXForwarded appends the peer.
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
			if opts.RewritePlaylists {
				askPlainPlaylist(pr)
			}
		},
		ModifyResponse: playlistHook(opts),
		Transport:      NewTransport(opts.HeaderTimeout),
		BufferPool:     bufferPool{},
		ErrorHandler:   upstreamErrorHandler(opts.Metrics, opts.Logger),
		ErrorLog:       slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
}

// NewTransport is http.DefaultTransport tuned for one busy origin: many idle
// keep-alive connections (the default of 2 per host churns connections under
// load), bounded dial and header waits, and no transparent gzip so that
// responses pass through byte for byte.
func NewTransport(headerTimeout time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	t.ResponseHeaderTimeout = headerTimeout
	t.DisableCompression = true
	t.WriteBufferSize = 16 << 10
	t.ReadBufferSize = 16 << 10
	return t
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
			m.upstreamErrors.WithLabelValues("client_closed").Inc()
			logger.Debug("client closed request", "method", r.Method, "path", r.URL.Path)
			w.WriteHeader(StatusClientClosedRequest)
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
