// Package cli is what streamgate's commands share: how they report errors
// and exit, their version and their logger. The gate (cmd/streamgate) and
// its Kubernetes tooling (cmd/streamgate-kube) are separate binaries, so
// that the sidecar in every pod does not carry the Kubernetes API types.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// usageError is a bad flag or value: exit status 2, as flag.ExitOnError does.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Usage marks err as a bad flag or value, which exits with status 2.
func Usage(err error) error { return usageError{err} }

// IsUsage reports whether err is, or wraps, a usage error.
func IsUsage(err error) bool {
	var ue usageError
	return errors.As(err, &ue)
}

// ExitStatus is a status a child process already reported: the command
// exits with it and prints nothing more.
type ExitStatus int

func (s ExitStatus) Error() string { return fmt.Sprintf("exit status %d", int(s)) }

// ExitCode prints err as name's, one line per joined error, and returns the
// process's exit status: 0 without an error, 2 for a usage error, 1 for any
// other.
func ExitCode(name string, err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var status ExitStatus
	if errors.As(err, &status) {
		return int(status)
	}
	var lines interface{ Unwrap() []error }
	if errors.As(err, &lines) {
		for _, e := range lines.Unwrap() {
			fmt.Fprintf(stderr, "%s: %v\n", name, e)
		}
	} else {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
	}
	if IsUsage(err) {
		return 2
	}
	return 1
}

// Version is the build's version: stamped, if the build stamped one
// (-ldflags "-X main.version=v1.2.3"), else the module's, else "dev".
func Version(stamped string) string {
	if stamped != "" {
		return stamped
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// NewLogger is the one logger of every command: format json or text, level
// debug, info, warn or error, both validated by the caller.
func NewLogger(format, level string, w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// SignalContext ends at the first SIGTERM or interrupt, which starts a
// command's drain; a second one kills the process at once.
func SignalContext() context.Context {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx
}
