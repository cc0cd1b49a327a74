package proxy

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadDeadlineKeepsTheHangUp plays the race that left a request
// waiting out the header timeout: the player hangs up (exchange's
// AfterFunc sets a past deadline) just before answer sets the header
// deadline, or lifts it once the headers came. Either must leave the read
// woken.
func TestReadDeadlineKeepsTheHangUp(t *testing.T) {
	for name, deadline := range map[string]time.Time{
		"header deadline set":    time.Now().Add(time.Hour),
		"header deadline lifted": {},
	} {
		t.Run(name, func(t *testing.T) {
			ours, origin := net.Pipe()
			t.Cleanup(func() { _ = ours.Close(); _ = origin.Close() })
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			wake(ours) // what exchange's AfterFunc does

			setReadDeadline(ctx, ours, deadline)

			read := make(chan error, 1)
			go func() { _, err := ours.Read(make([]byte, 1)); read <- err }()
			select {
			case err := <-read:
				var ne net.Error
				require.ErrorAs(t, err, &ne)
				assert.True(t, ne.Timeout())
			case <-time.After(10 * time.Second):
				_ = ours.Close() // ends the read
				t.Fatal("the read still waits for the origin after the player hung up")
			}
		})
	}
}
