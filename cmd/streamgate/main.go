// Command streamgate is a reverse proxy that refuses a user's playback
// session beyond the concurrent-stream limit. main only wires the process to
// run, which the end-to-end tests call directly.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	go func() {
		<-ctx.Done()
		stop() // a second signal during the drain kills the process at once
	}()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}

// usageError is a bad flag or value: exit status 2, as flag.ExitOnError does.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitCode prints err, one line per joined error, and returns the status.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var lines interface{ Unwrap() []error }
	if errors.As(err, &lines) {
		for _, e := range lines.Unwrap() {
			fmt.Fprintf(stderr, "streamgate: %v\n", e)
		}
	} else {
		fmt.Fprintf(stderr, "streamgate: %v\n", err)
	}
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
