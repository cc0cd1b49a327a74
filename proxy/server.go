package proxy

import (
	"log/slog"
	"net/http"
	"time"
)

// Server limits. There is deliberately no ReadTimeout or WriteTimeout: a
// segment may take as long as the player's link needs, and an upload as long
// as it takes. Slow or oversized headers are what these bound.
const (
	// ReadHeaderTimeout bounds how long a client may take to send its headers.
	ReadHeaderTimeout = 10 * time.Second
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout = 120 * time.Second
	// MaxHeaderBytes bounds a request's headers (net/http's default is 1 MiB).
	MaxHeaderBytes = 64 << 10
)

// NewServer returns an http.Server for h with the limits above and errors
// logged through logger.
func NewServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// Handler composes the proxy listener's chain in one place: recover →
// cors → gate → upstream. cors, when given, is the CORS middleware: it
// answers preflights before the gate asks for an identity.
func Handler(logger *slog.Logger, gate func(http.Handler) http.Handler, upstream http.Handler, cors ...func(http.Handler) http.Handler) http.Handler {
	h := gate(upstream)
	for _, c := range cors {
		h = c(h)
	}
	return Recover(logger)(h)
}
