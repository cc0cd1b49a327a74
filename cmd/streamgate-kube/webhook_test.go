package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/cmd/internal/cli"
	"github.com/streamgate/streamgate/deploy/inject"
	"github.com/streamgate/streamgate/limiter/redistest"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with the given
// serial number and returns it; files get mtime at, so that a rewrite is
// seen as a change however coarse the file system's clock.
func writeCert(t *testing.T, certFile, keyFile string, serial int64, at time.Time) *x509.Certificate {
	t.Helper()
	cert := redistest.SelfSignedCert(t, certFile, keyFile, serial)
	require.NoError(t, os.Chtimes(certFile, at, at))
	require.NoError(t, os.Chtimes(keyFile, at, at))
	return cert
}

// TestServeWebhookTLS serves the webhook on a loopback port over TLS, checks
// that a renewed certificate is served without a restart, and that
// cancelling the context drains and returns.
func TestServeWebhookTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first := writeCert(t, certFile, keyFile, 1, time.Now().Add(-time.Minute))
	certs, err := newCertReloader(certFile, keyFile)
	require.NoError(t, err)
	in, err := inject.New(inject.Options{Port: "http"})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveWebhook(ctx, ln, certs, in, slog.New(slog.DiscardHandler), 5*time.Second) }()

	client := func(trust *x509.Certificate) *http.Client {
		pool := x509.NewCertPool()
		pool.AddCert(trust)
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			DisableKeepAlives: true,
		}}
	}
	base := "https://" + ln.Addr().String()
	resp, err := client(first).Get(base + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ok\n", string(body))

	review := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"version":"v1","kind":"ConfigMap"},"operation":"CREATE","object":{}}}`
	resp, err = client(first).Post(base+"/mutate", "application/json", bytes.NewReader([]byte(review)))
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u1","allowed":true}}`, string(body))

	second := writeCert(t, certFile, keyFile, 2, time.Now())
	resp, err = client(second).Get(base + "/healthz")
	require.NoError(t, err, "the renewed certificate is served")
	resp.Body.Close()
	require.NotNil(t, resp.TLS)
	assert.Equal(t, int64(2), resp.TLS.PeerCertificates[0].SerialNumber.Int64())

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("serveWebhook did not return after cancel")
	}
}

func TestCertReloaderKeepsLastGoodPair(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeCert(t, certFile, keyFile, 7, time.Now().Add(-time.Minute))
	r, err := newCertReloader(certFile, keyFile)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(certFile, []byte("half-written"), 0o600))
	c, err := r.GetCertificate(nil)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	require.NoError(t, err)
	assert.Equal(t, int64(7), leaf.SerialNumber.Int64())

	_, err = newCertReloader(filepath.Join(dir, "missing.crt"), keyFile)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "loading the TLS certificate -tls-cert")
}

func TestWebhookCommandUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeCert(t, certFile, keyFile, 1, time.Now())
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no TLS", args: nil, want: "flags -tls-cert and -tls-key are required"},
		{name: "bad listen", args: []string{"-tls-cert", certFile, "-tls-key", keyFile, "-listen", "8443"}, want: `invalid value for flag -listen: "8443" is not host:port`},
		{name: "bad log level", args: []string{"-tls-cert", certFile, "-tls-key", keyFile, "-webhook-log-level", "loud"}, want: "invalid value for flag -webhook-log-level"},
		{name: "bad pass-through", args: []string{"-tls-cert", certFile, "-tls-key", keyFile, "-max-streams", "-1"}, want: "invalid value for flag -max-streams: must be greater than zero"},
		{name: "unreadable cert", args: []string{"-tls-cert", filepath.Join(dir, "nope"), "-tls-key", keyFile}, want: "loading the TLS certificate"},
		{name: "stray argument", args: []string{"-tls-cert", certFile, "-tls-key", keyFile, "extra"}, want: `unexpected argument "extra"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := runWebhookCommand(context.Background(), tc.args, io.Discard, io.Discard, "test")
			require.Error(t, err)
			assert.True(t, cli.IsUsage(err))
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
