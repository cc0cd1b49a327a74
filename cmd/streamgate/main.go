// Command streamgate is a reverse proxy that refuses a user's playback
// session beyond the concurrent-stream limit. main only wires the process to
// run, which the end-to-end tests call directly.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/streamgate/streamgate/cmd/internal/cli"
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

// exitCode prints err and returns the process's exit status (cli.ExitCode).
func exitCode(err error, stderr io.Writer) int { return cli.ExitCode("streamgate", err, stderr) }
