package limiter

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.b.String()), "\n")
}

// TestTransitionLogFlapping checks that a store flapping between failing and
// answering logs one outage's pair of lines at once, and then one line per
// gap with the count of the outages held back and the state at its end.
func TestTransitionLogFlapping(t *testing.T) {
	tests := []struct {
		name     string
		endsDown bool
		want     string
	}{
		{"flaps and ends answering", false, `"msg":"session store recovered","policy":"open","outages":5,"failed_calls":10`},
		{"flaps and ends failing", true, `"msg":"session store failing; deciding by -store-failure until it answers again","policy":"open","outages":6`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := &lockedBuffer{}
			l := newTransitionLog(slog.New(slog.NewJSONHandler(buf, nil)), FailOpen)
			l.gap = 300 * time.Millisecond
			defer l.close()
			boom := errors.New("boom")
			l.failing(boom)
			l.recovered(3)
			require.Len(t, buf.lines(), 2, "one outage: its two lines at once")
			for range 5 {
				l.failing(boom)
				l.recovered(2)
			}
			if tt.endsDown {
				l.failing(boom)
			}
			assert.Len(t, buf.lines(), 2, "flaps within the gap are held back")
			require.Eventually(t, func() bool { return len(buf.lines()) == 3 }, 5*time.Second, 10*time.Millisecond)
			assert.Contains(t, buf.lines()[2], tt.want)
		})
	}
}
