package main

import (
	"context"
	"errors"
	"io"

	"github.com/streamgate/streamgate/deploy/inject"
)

// injectCommand is `streamgate inject`: the sidecar added to Kubernetes YAML.
func injectCommand(_ context.Context, args []string, _ func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return asUsage(inject.InjectCommand(args, stdin, stdout, stderr, buildVersion()))
}

// asUsage turns the inject package's usage errors into exit status 2.
func asUsage(err error) error {
	if ue, ok := errors.AsType[inject.UsageError](err); ok {
		return usageError{ue}
	}
	return err
}
