package limiter_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/limitertest"
)

// TestMemoryStateFileOption: with MemoryOptions.StateFile the store reads
// the file when it is made and writes it when it is closed; nobody else
// has to.
func TestMemoryStateFileOption(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	path := filepath.Join(t.TempDir(), "state.jsonl")
	open := func(logs *limitertest.SyncBuffer) *limiter.Memory {
		m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: stateTTL, MaxUsers: 1000, Clock: clock.Now, SweepInterval: -1,
			StateFile: path, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
		require.NoError(t, err)
		return m
	}

	var firstLogs limitertest.SyncBuffer
	first := open(&firstLogs)
	assert.Contains(t, firstLogs.String(), `"msg":"no state file yet; starting empty"`)
	_, err := first.Admit(context.Background(), limiter.Request{UserID: "alice", SessionID: "tv", Limit: 3})
	require.NoError(t, err)
	require.NoError(t, first.Close())
	assert.Contains(t, firstLogs.String(), `"msg":"state file written"`)
	require.NoError(t, first.Close(), "a second Close writes nothing more")
	assert.Equal(t, 1, firstLogs.Count(`"msg":"state file written"`))

	var secondLogs limitertest.SyncBuffer
	second := open(&secondLogs)
	t.Cleanup(func() { _ = second.Close() })
	assert.Contains(t, secondLogs.String(), `"msg":"state file restored"`)
	assert.Len(t, list(t, second, "alice"), 1, "alice's session came back")
}

func TestMemoryStateFileUnwritable(t *testing.T) {
	t.Parallel()
	_, err := limiter.NewMemory(limiter.MemoryOptions{TTL: stateTTL,
		StateFile: filepath.Join(t.TempDir(), "missing", "state.jsonl")})
	require.ErrorIs(t, err, limiter.ErrStateFile)
	assert.Contains(t, err.Error(), "no such file or directory")
}
