package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/streamgate/streamgate/cmd/internal/cli"
)

// command is a subcommand: streamgate NAME [flags].
type command func(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error

// commands are the subcommands; with none named, streamgate runs the gate.
var commands = map[string]command{
	"inject":  kubeCommand("inject"),
	"status":  statusCommand,
	"webhook": kubeCommand("webhook"),
}

// kubeBinary is the binary of the Kubernetes tooling. It is not linked into
// streamgate: its Kubernetes API types cost the sidecar of every pod 3-4
// MiB of resident memory (their package initialisers touch the binary's
// pages) for commands that the sidecar never runs.
const kubeBinary = "streamgate-kube"

// kubeStopGrace is how long streamgate-kube may take to finish after
// streamgate passed it SIGTERM: the webhook's default drain and some.
const kubeStopGrace = 30 * time.Second

// kubeCommand runs `streamgate-kube name args...` in streamgate's place, as
// git runs git-NAME: its output is streamgate's, its exit status
// streamgate's, and a SIGTERM to streamgate goes on to it.
func kubeCommand(name string) command {
	return func(ctx context.Context, args []string, _ func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
		path, err := findKube()
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, path, append([]string{name}, args...)...)
		// Its errors then say "streamgate:", as the user typed.
		cmd.Args[0] = "streamgate"
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = kubeStopGrace
		err = cmd.Run()
		// After a SIGTERM Run reports the cancelled context whatever the
		// status, so the status is read from the process.
		if st := cmd.ProcessState; st != nil && st.Exited() {
			if st.ExitCode() == 0 {
				return nil
			}
			return cli.ExitStatus(st.ExitCode())
		}
		return fmt.Errorf("%s %s: %w", kubeBinary, name, err)
	}
}

// findKube is streamgate-kube next to streamgate's own binary, as make
// build and the image install them, or else on PATH.
func findKube() (string, error) {
	self, err := os.Executable()
	if err == nil {
		p := filepath.Join(filepath.Dir(self), kubeBinary)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath(kubeBinary)
	if err != nil {
		return "", fmt.Errorf("this command is %s's, which is neither next to streamgate nor on PATH "+
			"(make build puts both in bin/; go install github.com/streamgate/streamgate/cmd/%s@latest)", kubeBinary, kubeBinary)
	}
	return p, nil
}
