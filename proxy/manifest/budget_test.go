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
	assert.True(t, rewriteBudget.TryAcquire(MaxRewriteMemory), "the whole budget came back")
	rewriteBudget.Release(MaxRewriteMemory)
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("origin reset") }
