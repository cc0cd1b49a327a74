package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/streamgate/streamgate/cmd/internal/cli"
	"github.com/streamgate/streamgate/deploy/inject"
)

const injectUsage = `Usage: streamgate inject [flags] [FILE ...]

Reads Kubernetes YAML (Deployments, StatefulSets, DaemonSets, ReplicaSets,
Pods; one or several documents, or a List) from the files, or from standard
input when none is given or FILE is -, and writes it to standard output with
the streamgate sidecar added in front of the container port -port, the
Prometheus scrape annotations set, and the Services of the same input that
target that port pointed at streamgate. Every other document is written back
unchanged. Injecting again replaces the sidecar, so it is safe to repeat.

  streamgate inject -port http -max-streams 2 deploy.yaml | kubectl apply -f -

Flags (the streamgate flags at the end are passed to the sidecar):
`

// injectCommand is `streamgate inject`: the sidecar added to Kubernetes YAML.
func injectCommand(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runInjectCommand(args, stdin, stdout, stderr, cli.Version(version))
}

// runInjectCommand is `streamgate inject` for a build of version, which
// picks the default image tag. Bad flags or input are a usage error (cli.Usage).
func runInjectCommand(args []string, stdin io.Reader, stdout, stderr io.Writer, version string) error {
	var o inject.Options
	fs := flag.NewFlagSet("streamgate inject", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	bindInjectOptions(fs, &o, version)
	files, err := cli.ParseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		cli.PrintFlagUsage(stdout, fs, injectUsage)
		return nil
	}
	if err != nil {
		return cli.Usage(err)
	}
	in, err := inject.New(o)
	if err != nil {
		return cli.Usage(err)
	}
	input, err := readInputs(files, stdin)
	if err != nil {
		return cli.Usage(err)
	}
	out, rep, err := in.Stream(input)
	if err != nil {
		return cli.Usage(err)
	}
	if _, err := stdout.Write(out); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	for _, s := range rep.Injected {
		fmt.Fprintf(stderr, "injected %s\n", s)
	}
	for _, s := range rep.Retargeted {
		fmt.Fprintf(stderr, "retargeted %s to %s\n", s, inject.ProxyPortName)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(stderr, "skipped %s\n", s)
	}
	for _, s := range rep.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", s)
	}
	return nil
}

// readInputs reads the files, or stdin for none or "-", into one stream.
func readInputs(files []string, stdin io.Reader) ([]byte, error) {
	if len(files) == 0 {
		files = []string{"-"}
	}
	var all bytes.Buffer
	for i, f := range files {
		var b []byte
		var err error
		if f == "-" {
			b, err = io.ReadAll(stdin)
		} else {
			b, err = os.ReadFile(f)
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f, err)
		}
		if i > 0 {
			if all.Len() > 0 && !bytes.HasSuffix(all.Bytes(), []byte("\n")) {
				all.WriteByte('\n')
			}
			all.WriteString("---\n")
		}
		all.Write(b)
	}
	return all.Bytes(), nil
}
