package tokenauth_test

import (
	"io"
	"log/slog"
	"time"

	"github.com/streamgate/streamgate/proxy/tokenauth"
)

func withNow(o tokenauth.JWTOptions, now func() time.Time) tokenauth.JWTOptions {
	o.Now = now
	return o
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
