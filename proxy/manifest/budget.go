package manifest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"time"
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
	// MaxUserRewriteMemory is how much one user's rewritten manifests may
	// hold at once, and so the most one rewritten manifest may be. A
	// player that does not read holds its manifest for as long as it keeps
	// the connection, and one account may open connection after
	// connection: without a share of its own, one client could hold the
	// whole budget and leave every other user's manifests a 503.
	MaxUserRewriteMemory = MaxRewriteMemory / 4
	// budgetWait is how long a rewrite waits for its share before it is
	// answered 503.
	budgetWait = time.Second
)

// ErrTooLarge is a manifest that decodes to more than MaxManifest, or whose
// rewritten form would not fit in MaxUserRewriteMemory on its own: 502.
var ErrTooLarge = errors.New("manifest larger than 16 MiB decoded or rewritten")

// ErrBusy is a rewrite that could not get its memory within a second, from
// its user's share or from MaxRewriteMemory: 503.
var ErrBusy = errors.New("manifest rewriting is at its memory bound")

var rewriteBudget = newMemBudget(MaxRewriteMemory)

// userShares are the users' shares of the rewrite budget. A user has an
// entry only while one of its rewrites is read or held, so the map is
// bounded by the requests in flight.
var userShares = struct {
	sync.Mutex
	m map[string]*userShare
}{m: make(map[string]*userShare)}

type userShare struct {
	sem *memBudget
	// refs counts the rewrites that use the entry: it goes with the last.
	refs int
}

// hold is what one rewrite holds: n bytes of both the budget and its
// user's share.
type hold struct {
	user  string
	share *userShare
	n     int64
}

func newHold(user string) *hold {
	userShares.Lock()
	s := userShares.m[user]
	if s == nil {
		s = &userShare{sem: newMemBudget(MaxUserRewriteMemory)}
		userShares.m[user] = s
	}
	s.refs++
	userShares.Unlock()
	return &hold{user: user, share: s}
}

// grow takes n more bytes, its user's share first, waiting at most
// budgetWait in all.
func (h *hold) grow(ctx context.Context, n int64) error {
	wctx, cancel := context.WithTimeout(ctx, budgetWait)
	defer cancel()
	if err := h.share.sem.acquire(wctx, n); err != nil {
		return err
	}
	if err := rewriteBudget.acquire(wctx, n); err != nil {
		h.share.sem.release(n)
		return err
	}
	h.n += n
	return nil
}

// release gives everything back; h is not used again.
func (h *hold) release() {
	rewriteBudget.release(h.n)
	h.share.sem.release(h.n)
	userShares.Lock()
	if h.share.refs--; h.share.refs == 0 {
		delete(userShares.m, h.user)
	}
	userShares.Unlock()
}

// readHeld reads r, the rewritten manifest of user's request, whole,
// acquiring each growth of its buffer first. The decoded input is capped at
// MaxManifest by the rewriter; the output, which a token appended to every
// URI makes larger, at the user's share. It returns the bytes and what they
// hold, which heldBody releases when the player's copy is done.
func readHeld(ctx context.Context, user string, r io.Reader) ([]byte, *hold, error) {
	const first = 64 << 10
	h := newHold(user)
	var buf []byte
	fail := func(err error) ([]byte, *hold, error) {
		h.release()
		return nil, nil, err
	}
	for {
		if len(buf) == cap(buf) {
			grow := max(int64(cap(buf)), first)
			if h.n+grow > MaxUserRewriteMemory {
				grow = MaxUserRewriteMemory - h.n
			}
			if grow <= 0 {
				return fail(ErrTooLarge)
			}
			if err := h.grow(ctx, grow); err != nil {
				if ctx.Err() != nil {
					return fail(ctx.Err())
				}
				return fail(ErrBusy)
			}
			nb := make([]byte, len(buf), h.n)
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, h, nil
		}
		if err != nil {
			return fail(err)
		}
		if len(buf) == MaxUserRewriteMemory {
			return fail(ErrTooLarge)
		}
	}
}

// heldBody is a rewritten manifest held whole; Close gives its memory back
// to the budget.
type heldBody struct {
	*bytes.Reader
	held *hold
	once sync.Once
}

func (b *heldBody) Close() error {
	b.once.Do(b.held.release)
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
