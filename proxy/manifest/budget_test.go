package manifest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sharesHeld is how many users have an entry in the shares' map.
func sharesHeld() int {
	userShares.Lock()
	defer userShares.Unlock()
	return len(userShares.m)
}

// TestUserShareOfTheRewriteBudget: one user's held rewrites stop at its
// share, where another user's still fit, and every entry of the shares'
// map goes with the last rewrite that used it, whatever way it ended.
func TestUserShareOfTheRewriteBudget(t *testing.T) {
	ctx := context.Background()
	manifest := bytes.Repeat([]byte("a"), 6<<20)
	var held []*heldBody
	for range 2 {
		b, h, err := readHeld(ctx, "ivy", bytes.NewReader(manifest))
		require.NoError(t, err)
		held = append(held, &heldBody{Reader: bytes.NewReader(b), held: h})
	}
	_, _, err := readHeld(ctx, "ivy", bytes.NewReader(manifest))
	assert.ErrorIs(t, err, ErrBusy, "a third 6 MiB rewrite is past ivy's 16 MiB share")
	b, h, err := readHeld(ctx, "june", bytes.NewReader(manifest))
	require.NoError(t, err, "another user's rewrite fits")
	assert.Len(t, b, len(manifest))
	held = append(held, &heldBody{Reader: bytes.NewReader(b), held: h})
	assert.Equal(t, 2, sharesHeld())

	_, _, err = readHeld(ctx, "kim", bytes.NewReader(bytes.Repeat([]byte("a"), MaxUserRewriteMemory+1)))
	assert.ErrorIs(t, err, ErrTooLarge, "one rewrite is at most a share")
	_, _, err = readHeld(ctx, "kim", io.MultiReader(bytes.NewReader(manifest), errReader{}))
	assert.Error(t, err)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, _, err = readHeld(canceled, "kim", bytes.NewReader(manifest))
	assert.ErrorIs(t, err, context.Canceled)

	for _, b := range held {
		require.NoError(t, b.Close())
		require.NoError(t, b.Close(), "a second Close gives nothing back twice")
	}
	assert.Zero(t, sharesHeld(), "no entry outlives its rewrites")
	assert.Equal(t, int64(MaxRewriteMemory), rewriteBudget.available(), "the whole budget came back")
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("origin reset") }

// TestOneUsersRewritesDoNotWaitOnEachOther: one user's two rewrites grow
// their buffers while they hold what they have. The larger, past 8 MiB,
// waits for its whole share; the smaller, which fits in what is left, must
// not queue behind it, or neither could finish until both gave up (503).
func TestOneUsersRewritesDoNotWaitOnEachOther(t *testing.T) {
	ctx := context.Background()
	type result struct {
		body *heldBody
		err  error
	}
	read := func(r io.Reader) <-chan result {
		done := make(chan result, 1)
		go func() {
			b, h, err := readHeld(ctx, "ivy", r)
			if err != nil {
				done <- result{err: err}
				return
			}
			done <- result{body: &heldBody{Reader: bytes.NewReader(b), held: h}}
		}()
		return done
	}
	largeR, largeW := io.Pipe()
	smallR, smallW := io.Pipe()
	large, small := read(largeR), read(smallR)
	// The small one holds 4 MiB, one byte short of full; the large one
	// fills 8 MiB and waits for 8 more, the whole share less those 4.
	_, err := smallW.Write(bytes.Repeat([]byte("s"), 4<<20-1))
	require.NoError(t, err)
	_, err = largeW.Write(bytes.Repeat([]byte("l"), 8<<20))
	require.NoError(t, err)
	go func() {
		_, _ = largeW.Write([]byte("l"))
		_ = largeW.Close()
	}()
	// Full, the small one needs 4 MiB more, which are free.
	go func() {
		_, _ = smallW.Write([]byte("ss"))
		_ = smallW.Close()
	}()
	s := <-small
	require.NoError(t, s.err, "the small rewrite waited behind the large one")
	assert.Equal(t, 4<<20+1, s.body.Len())
	require.NoError(t, s.body.Close(), "the player has it: the large one can grow")
	l := <-large
	require.NoError(t, l.err)
	assert.Equal(t, 8<<20+1, l.body.Len())
	require.NoError(t, l.body.Close())
	assert.Zero(t, sharesHeld())
}
