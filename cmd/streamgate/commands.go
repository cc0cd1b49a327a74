package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/streamgate/streamgate/cmd/internal/cli"
)

// command is a subcommand: streamgate NAME [flags].
type command func(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error

// commands are the subcommands; with none named, streamgate runs the gate.
var commands = map[string]command{
	"inject":  kubeCommand("inject", false),
	"status":  statusCommand,
	"webhook": kubeCommand("webhook", true),
}

// kubeBinary is the binary of the Kubernetes tooling. It is not linked into
// streamgate: its Kubernetes API types cost the sidecar of every pod 3-4
// MiB of resident memory (their package initialisers touch the binary's
// pages) for commands that the sidecar never runs.
const kubeBinary = "streamgate-kube"

// kubeCommand runs `streamgate-kube name args...` in streamgate's place, as
// git runs git-NAME: its output is streamgate's, its exit status
// streamgate's (128 + the signal's number when a signal killed it, as a
// shell reports it), and the signal that ends streamgate's context goes on
// to it as SIGTERM, once. A server (webhook) runs in a process group of its
// own, so that a signal sent to streamgate's group (Ctrl-C, systemd) does
// not reach it a second time, which would kill it mid-drain; a command that
// reads the terminal stays in streamgate's group.
func kubeCommand(name string, server bool) command {
	return func(ctx context.Context, args []string, _ func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
		path, err := findKube()
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, path, append([]string{name}, args...)...)
		// Its errors then say "streamgate:", as the user typed.
		cmd.Args[0] = "streamgate"
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
		if server {
			cmd.Stdin = nil
			ownProcessGroup(cmd)
		}
		// No WaitDelay: streamgate waits for the drain as long as it takes
		// (-webhook-shutdown-timeout bounds it), as git waits for git-NAME.
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		err = cmd.Run()
		// Once the context ended Run reports that, whatever the child did,
		// so what it did is read from its state.
		st := cmd.ProcessState
		if st == nil {
			return fmt.Errorf("%s %s: %w", kubeBinary, name, err)
		}
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return cli.ExitStatus(128 + int(ws.Signal()))
		}
		if code := st.ExitCode(); code != 0 {
			return cli.ExitStatus(code)
		}
		return nil
	}
}

// findKube is streamgate-kube next to streamgate's own binary, as make
// build and the image install them, or else on PATH.
func findKube() (string, error) {
	self, err := os.Executable()
	if err == nil {
		// LookPath of a path checks that it is an executable file.
		if p, err := exec.LookPath(filepath.Join(filepath.Dir(self), kubeBinary)); err == nil {
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
