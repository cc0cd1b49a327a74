package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamgate/streamgate/cmd/internal/cli"
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
	f, err := openLogFile(dest)
	if err != nil {
		return nil, nil, cli.Usage(fmt.Errorf("invalid value for flag -access-log: %w", err))
	}
	stop := reopenOnHangup(f)
	return f, func() { stop(); _ = f.Close() }, nil
}

// logFile is an access log file that SIGHUP reopens at its path, so that
// logrotate may rename it and signal instead of copying and truncating.
type logFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func openLogFile(path string) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	return &logFile{path: path, f: f}, nil
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Reopen opens the path again and writes there from now on; on failure the
// old file stays in use.
func (l *logFile) Reopen() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	return old.Close()
}

func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// reopenOnHangup reopens f on each SIGHUP until the returned stop is called.
// A reopen that fails keeps writing to the old file rather than losing lines.
func reopenOnHangup(f *logFile) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				_ = f.Reopen()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
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
