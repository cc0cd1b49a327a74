package manifest

import (
	"context"
	"sync"
)

// memBudget counts the bytes rewrites may take. Unlike a FIFO semaphore it
// lets any waiter that fits go first: a rewrite grows its buffer while it
// holds what it has, so a large one waiting at the head of the queue for
// room that a smaller one holds would keep that smaller one, queued behind
// it, from finishing and giving the room back, until both gave up.
type memBudget struct {
	mu   sync.Mutex
	free int64
	// changed is closed, and replaced, when bytes come back.
	changed chan struct{}
}

func newMemBudget(n int64) *memBudget {
	return &memBudget{free: n, changed: make(chan struct{})}
}

// acquire takes n bytes, waiting until they are free or ctx ends; nothing
// once ctx has ended (the player left).
func (b *memBudget) acquire(ctx context.Context, n int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for {
		b.mu.Lock()
		if n <= b.free {
			b.free -= n
			b.mu.Unlock()
			return nil
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release gives n bytes back.
func (b *memBudget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.free += n
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

// available is what is free now.
func (b *memBudget) available() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.free
}
