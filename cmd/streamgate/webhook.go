package main

import (
	"context"
	"io"

	"github.com/streamgate/streamgate/deploy/inject"
)

// webhookCommand is `streamgate webhook`: the same injection as a mutating
// admission webhook, served until ctx ends (SIGTERM).
func webhookCommand(ctx context.Context, args []string, _ func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return asUsage(inject.WebhookCommand(ctx, args, stdout, stderr, buildVersion()))
}
