package manifest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// Bounds on manifest rewriting (SPEC: Hardening, bounded work).
const (
	// MaxManifest is the most a manifest may decode to: far above any real
	// playlist or MPD (a ten-hour VOD playlist of 2 s segments is about
	// 2 MiB), and what stops a gzip bomb.
	MaxManifest = 16 << 20
	// MaxRewriteMemory is how much rewritten manifests may hold at once,
	// across all requests: a rewritten playlist is held whole to give it its
	// Content-Length, until its player has read it.
	MaxRewriteMemory = 64 << 20
	// budgetWait is how long a rewrite waits for its share before it is
	// answered 503.
	budgetWait = time.Second
)

// ErrTooLarge is a manifest that decodes to more than MaxManifest, or whose
// rewritten form would not fit in MaxRewriteMemory on its own: 502.
var ErrTooLarge = errors.New("manifest larger than 16 MiB decoded")

// ErrBusy is a rewrite that could not get its share of MaxRewriteMemory
// within a second: 503.
var ErrBusy = errors.New("manifest rewriting is at its memory bound")

var rewriteBudget = semaphore.NewWeighted(MaxRewriteMemory)

// readHeld reads r, the rewritten manifest, whole, acquiring each growth of
// its buffer from the global rewrite budget first. The decoded input is
// capped at MaxManifest by the rewriter; the output, which a token appended
// to every URI makes larger, at the whole budget. It returns the bytes and what it holds of
// the budget, which heldBody releases when the player's copy is done.
func readHeld(ctx context.Context, r io.Reader) ([]byte, int64, error) {
	const first = 64 << 10
	var held int64
	var buf []byte
	fail := func(err error) ([]byte, int64, error) {
		rewriteBudget.Release(held)
		return nil, 0, err
	}
	for {
		if len(buf) == cap(buf) {
			grow := max(int64(cap(buf)), first)
			if held+grow > MaxRewriteMemory {
				grow = MaxRewriteMemory - held
			}
			if grow <= 0 {
				return fail(ErrTooLarge)
			}
			wctx, cancel := context.WithTimeout(ctx, budgetWait)
			err := rewriteBudget.Acquire(wctx, grow)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return fail(ctx.Err())
				}
				return fail(ErrBusy)
			}
			held += grow
			nb := make([]byte, len(buf), held)
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, held, nil
		}
		if err != nil {
			return fail(err)
		}
		if len(buf) == MaxRewriteMemory {
			return fail(ErrTooLarge)
		}
	}
}

// heldBody is a rewritten manifest held whole; Close gives its memory back
// to the budget.
type heldBody struct {
	*bytes.Reader
	held int64
	once sync.Once
}

func (b *heldBody) Close() error {
	b.once.Do(func() { rewriteBudget.Release(b.held) })
	return nil
}

// capped ends a decoded manifest stream at MaxManifest: a manifest that
// streams without a length (or a gzip bomb) is cut there, with bounded work.
type capped struct {
	r    io.Reader
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
