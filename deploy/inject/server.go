package inject

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

const webhookUsage = `Usage: streamgate webhook -tls-cert FILE -tls-key FILE [flags]

Serves the streamgate injection as a Kubernetes mutating admission webhook
(POST /mutate, AdmissionReview v1): a pod created with the annotation
streamgate.io/inject: "true" gets the same sidecar that streamgate inject
adds, by a JSON patch. GET /healthz answers 200. deploy/webhook holds its
Deployment, Service, cert-manager Certificate and MutatingWebhookConfiguration.

Flags (the streamgate flags at the end are passed to every sidecar):
`

// WebhookConfig is what `streamgate webhook` serves.
type WebhookConfig struct {
	// Listen is the HTTPS listener address (-listen, default ":8443").
	Listen string
	// CertFile and KeyFile are the TLS certificate and key, read again when
	// they change (-tls-cert, -tls-key; required).
	CertFile, KeyFile string
	// ShutdownTimeout bounds the drain after SIGTERM
	// (-webhook-shutdown-timeout, default 10s).
	ShutdownTimeout time.Duration
	// LogFormat is json or text (-webhook-log-format, default json);
	// LogLevel is debug, info, warn or error (-webhook-log-level, default
	// info). -log-format and -log-level go to the sidecars.
	LogFormat, LogLevel string
	// Options are the injection's.
	Options Options
}

// parseWebhook parses the webhook's flags. -listen is the webhook's own
// listener; the proxy's -listen is set by the injection anyway.
func parseWebhook(args []string, version string, stdout io.Writer) (WebhookConfig, error) {
	c := WebhookConfig{Options: Options{Port: "http"}}
	fs := flag.NewFlagSet("streamgate webhook", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&c.Listen, "listen", ":8443", "HTTPS listener `address`")
	fs.StringVar(&c.CertFile, "tls-cert", "", "TLS certificate `file` (PEM), read again when it changes; required")
	fs.StringVar(&c.KeyFile, "tls-key", "", "TLS private key `file` (PEM); required")
	fs.DurationVar(&c.ShutdownTimeout, "webhook-shutdown-timeout", 10*time.Second, "how long in-flight reviews may finish after SIGTERM")
	fs.StringVar(&c.LogFormat, "webhook-log-format", "json", "the webhook's log format: json or text")
	fs.StringVar(&c.LogLevel, "webhook-log-level", "info", "the webhook's log level: debug, info, warn or error")
	bindOptions(fs, &c.Options, version)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout, fs, webhookUsage)
		return c, err
	case err != nil:
		return c, err
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected argument %q (see -help)", fs.Arg(0))
	}
	var errs []error
	if c.CertFile == "" || c.KeyFile == "" {
		errs = append(errs, errors.New("flags -tls-cert and -tls-key are required: the API server calls webhooks over HTTPS only"))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("invalid value for flag -listen: %q is not host:port", c.Listen))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("invalid value for flag -webhook-log-format: %q; want json or text", c.LogFormat))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("invalid value for flag -webhook-log-level: %q; want debug, info, warn or error", c.LogLevel))
	}
	return c, errors.Join(errs...)
}

// WebhookCommand is `streamgate webhook`: it serves until ctx ends, then
// drains. Bad flags come back as a UsageError.
func WebhookCommand(ctx context.Context, args []string, stdout, stderr io.Writer, version string) error {
	c, err := parseWebhook(args, version, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return UsageError{err}
	}
	in, err := New(c.Options)
	if err != nil {
		return UsageError{err}
	}
	certs, err := newCertReloader(c.CertFile, c.KeyFile)
	if err != nil {
		return UsageError{err}
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("webhook listener -listen %s: %w", c.Listen, err)
	}
	logger := newLogger(c.LogFormat, c.LogLevel, stderr)
	logger.Info("streamgate webhook listening", "addr", ln.Addr().String(), "port", c.Options.Port, "image", in.image, "version", version)
	return serveWebhook(ctx, ln, certs, in, logger, c.ShutdownTimeout)
}

// serveWebhook serves the webhook over TLS on ln until ctx ends.
func serveWebhook(ctx context.Context, ln net.Listener, certs *certReloader, in *Injector, logger *slog.Logger, drain time.Duration) error {
	mux := http.NewServeMux()
	mux.Handle("/mutate", NewWebhook(in, logger))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: certs.GetCertificate,
		},
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	logger.Info("webhook draining", "timeout", drain.String())
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("webhook stopped")
	return nil
}

func newLogger(format, level string, w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated by parseWebhook
	opts := &slog.HandlerOptions{Level: l}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
