// Command streamgate is a reverse proxy that refuses a user's playback
// session beyond the concurrent-stream limit. main only wires the process to
// run, which the end-to-end tests call directly.
package main

import (
	"io"
	"os"

	"github.com/streamgate/streamgate/cmd/internal/cli"
)

func main() {
	err := run(cli.SignalContext(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err and returns the process's exit status (cli.ExitCode).
func exitCode(err error, stderr io.Writer) int { return cli.ExitCode("streamgate", err, stderr) }
