package main

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

	"github.com/streamgate/streamgate/cmd/internal/cli"
	"github.com/streamgate/streamgate/deploy/inject"
	"github.com/streamgate/streamgate/proxy"
)

const webhookUsage = `Usage: streamgate webhook -tls-cert FILE -tls-key FILE [flags]

Serves the streamgate injection as a Kubernetes mutating admission webhook
(POST /mutate, AdmissionReview v1): a pod created with the annotation
streamgate.io/inject: "true" gets the same sidecar that streamgate inject
adds, by a JSON patch. GET /healthz answers 200. deploy/webhook holds its
Deployment, Service, cert-manager Certificate and MutatingWebhookConfiguration.

Flags (the streamgate flags at the end are passed to every sidecar):
`

// webhookConfig is what `streamgate webhook` serves.
type webhookConfig struct {
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
	Options inject.Options
}

// parseWebhook parses the webhook's flags. -listen is the webhook's own
// listener; the proxy's -listen is set by the injection anyway.
func parseWebhook(args []string, version string, stdout io.Writer) (webhookConfig, error) {
	c := webhookConfig{Options: inject.Options{Port: "http"}}
	fs := flag.NewFlagSet("streamgate webhook", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&c.Listen, "listen", ":8443", "HTTPS listener `address`")
	fs.StringVar(&c.CertFile, "tls-cert", "", "TLS certificate `file` (PEM), read again when it changes; required")
	fs.StringVar(&c.KeyFile, "tls-key", "", "TLS private key `file` (PEM); required")
	fs.DurationVar(&c.ShutdownTimeout, "webhook-shutdown-timeout", 10*time.Second, "how long in-flight reviews may finish after SIGTERM")
	fs.StringVar(&c.LogFormat, "webhook-log-format", "json", "the webhook's log format: json or text")
	fs.StringVar(&c.LogLevel, "webhook-log-level", "info", "the webhook's log level: debug, info, warn or error")
	bindInjectOptions(fs, &c.Options, version)
	rest, err := cli.ParseInterleaved(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		cli.PrintFlagUsage(stdout, fs, webhookUsage)
		return c, err
	case err != nil:
		return c, err
	case len(rest) > 0:
		return c, fmt.Errorf("unexpected argument %q (see -help)", rest[0])
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

// webhookCommand is `streamgate webhook`: the same injection as a mutating
// admission webhook, served until ctx ends (SIGTERM), then drained.
func webhookCommand(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	return runWebhookCommand(ctx, args, stdout, stderr, cli.Version(version))
}

// runWebhookCommand is `streamgate webhook` for a build of version. Bad
// flags are a usage error (cli.Usage).
func runWebhookCommand(ctx context.Context, args []string, stdout, stderr io.Writer, version string) error {
	c, err := parseWebhook(args, version, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return cli.Usage(err)
	}
	in, err := inject.New(c.Options)
	if err != nil {
		return cli.Usage(err)
	}
	certs, err := newCertReloader(c.CertFile, c.KeyFile)
	if err != nil {
		return cli.Usage(err)
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("webhook listener -listen %s: %w", c.Listen, err)
	}
	logger := cli.NewLogger(c.LogFormat, c.LogLevel, stderr)
	logger.Info("streamgate webhook listening", "addr", ln.Addr().String(), "port", c.Options.Port, "image", in.Image(), "version", version)
	return serveWebhook(ctx, ln, certs, in, logger, c.ShutdownTimeout)
}

// serveWebhook serves the webhook over TLS on ln until ctx ends.
func serveWebhook(ctx context.Context, ln net.Listener, certs *certReloader, in *inject.Injector, logger *slog.Logger, drain time.Duration) error {
	mux := http.NewServeMux()
	mux.Handle("/mutate", inject.NewWebhook(in, logger))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	// The proxy's server limits, and on top whole-request deadlines: an
	// AdmissionReview is small and the API server gives up after 10s anyway.
	srv := proxy.NewServer(mux, logger)
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	// Handshakes the API server abandons are no news.
	srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
	srv.TLSConfig = &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: certs.GetCertificate,
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
