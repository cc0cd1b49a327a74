package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamgate/streamgate/config"
	"github.com/streamgate/streamgate/proxy"
)

// openAccessLog returns where -access-log writes: stdout, nothing (off), or
// a file opened for appending now, so that a bad path stops the start with
// exit status 2 rather than losing every line later.
func openAccessLog(dest string, stdout io.Writer) (io.Writer, func(), error) {
	switch dest {
	case config.AccessLogOff:
		return nil, func() {}, nil
	case config.AccessLogStdout:
		return stdout, func() {}, nil
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("invalid value for flag -access-log: %w", err)}
	}
	return f, func() { _ = f.Close() }, nil
}

// withAccessLog puts the access log in front of h, or nothing at all when
// out is nil (-access-log off): no wrapper, no goroutine, no metric.
func withAccessLog(h http.Handler, out io.Writer, reg prometheus.Registerer, logger *slog.Logger) (http.Handler, func()) {
	if out == nil {
		return h, func() {}
	}
	l := proxy.NewAccessLog(proxy.AccessLogOptions{Writer: out, Registerer: reg, Logger: logger})
	return l.Handler(h), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := l.Close(ctx); err != nil {
			logger.Warn("access log: lines still queued at exit were not written", "err", err)
		}
	}
}
