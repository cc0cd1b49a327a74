package main

import (
	"context"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSoakShort is CI's short soak: 6 s each of 40 users × 5 devices through two
// replicas on one Redis (at the default -refresh-interval and at 0) and
// through one replica on the memory store. `make soak` runs the long one.
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: skipped with -short")
	}
	for _, tool := range []string{"redis-server", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: make deps installs it", tool)
		}
	}
	bin, err := buildStreamgate(t.TempDir())
	require.NoError(t, err)
	tests := []struct {
		name    string
		store   string
		refresh time.Duration
		// exact: the store must show no over-admission and no cut.
		exact bool
	}{
		{"memory", "memory", -1, true},
		{"redis, refresh interval 0", "redis", 0, true},
		{"redis, default refresh interval", "redis", -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{
				Duration: 6 * time.Second, Users: 40, Devices: 5, Limit: 3,
				TTL: 3 * time.Second, Period: 300 * time.Millisecond,
				RefreshInterval: tt.refresh, Store: tt.store, Binary: bin, StoreTimeout: time.Second,
			}
			res, err := Run(context.Background(), o)
			require.NoError(t, err)
			t.Logf("%s: %s", tt.name, res)
			assert.Zero(t, res.Failed, "every request got an answer")
			assert.Greater(t, res.Refused, 0, "five devices for three slots: some wait")
			assert.Greater(t, res.Sessions, o.Users*o.Limit, "devices ended sessions and others took their slots")
			if tt.exact {
				assert.Zero(t, res.OverAdmitted, "over-admissions")
				assert.Zero(t, res.Cuts, "playing devices refused")
			}
		})
	}
}

// TestCheck checks the strict over-admission count on made-up logs.
func TestCheck(t *testing.T) {
	t.Parallel()
	const ttl = 3 * time.Second
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	ok := func(session string, send, recv int) event {
		return event{session: session, send: ms(send), recv: ms(recv), status: http.StatusOK}
	}
	held := []event{ok("a", 0, 10), ok("b", 0, 10), ok("c", 0, 10), ok("a", 300, 310), ok("b", 300, 310), ok("c", 300, 310)}
	tests := []struct {
		name      string
		log       []event
		over, cut int
	}{
		{"a fourth while three are held", append(held[:6:6], ok("d", 500, 510)), 1, 0},
		{"a fourth after the three expired", append(held[:6:6], ok("d", 3400, 3410)), 0, 0},
		{"a fourth at the edge of the TTL is not provable", append(held[:6:6], ok("d", 3260, 3270)), 0, 0},
		{"a fourth after one was deleted", append(held[:6:6], event{session: "c", end: true, send: ms(400), recv: ms(405)}, ok("d", 500, 510)), 0, 0},
		{"a fourth after one was refused", append(held[:6:6], event{session: "c", send: ms(400), recv: ms(405), status: http.StatusTooManyRequests}, ok("d", 500, 510)), 0, 1},
		{"a refusal of a silent session is no cut", append(held[:6:6], event{session: "c", send: ms(3400), recv: ms(3405), status: http.StatusTooManyRequests}), 0, 0},
		{"a refusal answered after the TTL is no cut", append(held[:6:6], event{session: "c", send: ms(3000), recv: ms(3300), status: http.StatusTooManyRequests}), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := check(tt.log, Options{TTL: ttl, Limit: 3})
			assert.Equal(t, tt.over, res.OverAdmitted, "over-admissions")
			assert.Equal(t, tt.cut, res.Cuts, "cuts")
		})
	}
}
