package limiter

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDialCutOutlastsTheClientsDeadline plays the race that let a hung
// Redis cost a call the whole dial timeout: the call's deadline ends the
// handshake of the connection it dialed before the client has set its own
// deadline for the handshake, which must not undo it.
func TestDialCutOutlastsTheClientsDeadline(t *testing.T) {
	ours, redis := net.Pipe()
	t.Cleanup(func() { _ = ours.Close(); _ = redis.Close() })
	g := newDialGate()
	g.dial = func(context.Context, string, *net.Dialer, *tls.Config) (net.Conn, error) { return ours, nil }
	ctx, cancel := context.WithDeadline(t.Context(), time.Now()) // the call's store timeout has passed
	defer cancel()
	c, err := g.DialCtx(ctx, "redis:6379", &net.Dialer{}, nil)
	require.NoError(t, err)
	pc := c.(*probedConn)
	t.Cleanup(func() { _ = pc.Close() })
	require.Eventually(t, pc.cut.Load, 10*time.Second, time.Millisecond, "the call's deadline cut the handshake")

	require.NoError(t, c.SetDeadline(time.Now().Add(time.Hour)), "the client's handshake deadline")

	read := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 1)); read <- err }()
	select {
	case err := <-read:
		var ne net.Error
		require.ErrorAs(t, err, &ne)
		assert.True(t, ne.Timeout())
	case <-time.After(10 * time.Second):
		_ = ours.Close() // ends the read
		t.Fatal("the handshake still waits for Redis after the call's deadline")
	}
}
