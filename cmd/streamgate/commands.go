package main

import (
	"context"
	"io"
)

// command is a subcommand: streamgate NAME [flags].
type command func(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error

// commands are the subcommands; with none named, streamgate runs the gate.
var commands = map[string]command{
	"inject":  injectCommand,
	"status":  statusCommand,
	"webhook": webhookCommand,
}
