// Command streamgate-kube is streamgate's Kubernetes tooling: inject adds
// the sidecar to Kubernetes YAML, webhook does the same to pods as a
// mutating admission webhook. `streamgate inject` and `streamgate webhook`
// run it; it is a binary of its own so that the sidecar does not carry the
// Kubernetes API types.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/streamgate/streamgate/cmd/internal/cli"
)

// version is stamped at build time, as streamgate's is: -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	err := run(cli.SignalContext(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	// Named as it was called: "streamgate" when streamgate runs it.
	os.Exit(cli.ExitCode(filepath.Base(os.Args[0]), err, os.Stderr))
}

// command is a subcommand: streamgate-kube NAME [flags].
type command func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error

var commands = map[string]command{
	"inject":  injectCommand,
	"webhook": webhookCommand,
}

const usage = `Usage: streamgate-kube COMMAND [flags]

streamgate's Kubernetes tooling, also run as streamgate COMMAND:

  inject    adds the streamgate sidecar to Kubernetes YAML
  webhook   adds it to pods as a mutating admission webhook

streamgate-kube COMMAND -help prints a command's flags.
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return cli.Usage(errors.New("a command is needed: inject or webhook"))
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	case "-version", "--version", "version":
		fmt.Fprintf(stdout, "streamgate-kube %s (%s)\n", cli.Version(version), runtime.Version())
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return cli.Usage(fmt.Errorf("unknown command %q: want inject or webhook", args[0]))
	}
	return cmd(ctx, args[1:], stdin, stdout, stderr)
}
