package limitertest

import (
	"bytes"
	"strings"
	"sync"
)

// SyncBuffer is a log sink that goroutines may write to while the test
// reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Count is how many times s was written so far.
func (b *SyncBuffer) Count(s string) int {
	return strings.Count(b.String(), s)
}
