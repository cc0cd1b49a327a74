package limiter_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
)

const stateTTL = time.Minute

// newStateMemory returns a memory store on clock, so that a saving store and
// a restoring one can share one timeline.
func newStateMemory(t *testing.T, clock *fakeClock) *limiter.Memory {
	t.Helper()
	m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: stateTTL, MaxUsers: 1000, Clock: clock.Now, SweepInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func list(t *testing.T, s limiter.Store, user string) []limiter.Session {
	t.Helper()
	l, err := s.List(context.Background(), user)
	require.NoError(t, err)
	return l
}

func TestStateFileRoundTrip(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	saved := newStateMemory(t, clock)
	dev := limiter.Device{UserAgent: "Player/2", Address: "192.0.2.1:4000"}
	_, err := saved.Admit(context.Background(), limiter.Request{UserID: "alice", SessionID: "tv", Limit: 3, Device: dev})
	require.NoError(t, err)
	clock.Advance(10 * time.Second)
	mustAdmit(t, saved, "alice", "phone", 3)
	mustAdmit(t, saved, "alice", "laptop", 3)
	mustAdmit(t, saved, "bob", "s1", 3)
	mustAdmit(t, saved, "tv", "alice", 3) // ids are data, not structure

	path := filepath.Join(t.TempDir(), "state.jsonl")
	n, err := saved.SaveStateFile(path)
	require.NoError(t, err)
	assert.Equal(t, 3, n)

	clock.Advance(5 * time.Second) // the restart takes a while
	restored := newStateMemory(t, clock)
	n, err = restored.LoadStateFile(path)
	require.NoError(t, err)
	assert.Equal(t, 3, n)

	for _, u := range []string{"alice", "bob", "tv"} {
		assert.Equal(t, list(t, saved, u), list(t, restored, u), u)
	}
	assert.Equal(t, dev, list(t, restored, "alice")[0].Device)
	assert.Equal(t, saved.Stats(), restored.Stats())

	d := mustAdmit(t, restored, "alice", "fourth", 3)
	assert.Equal(t, limiter.Rejected, d.Result, "a restart grants no fourth stream")
	assert.Equal(t, limiter.Refreshed, mustAdmit(t, restored, "alice", "phone", 3).Result)
}

func TestStateFileDropsSessionsThatExpiredMeanwhile(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	saved := newStateMemory(t, clock)
	mustAdmit(t, saved, "alice", "old", 3)
	mustAdmit(t, saved, "bob", "old", 3)
	clock.Advance(stateTTL / 2)
	mustAdmit(t, saved, "alice", "new", 3)
	path := filepath.Join(t.TempDir(), "state.jsonl")
	_, err := saved.SaveStateFile(path)
	require.NoError(t, err)

	clock.Advance(stateTTL / 2) // "old" sessions are now exactly one TTL old
	restored := newStateMemory(t, clock)
	n, err := restored.LoadStateFile(path)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "bob had no live session left")
	assert.Equal(t, []string{"new"}, sessionIDs(t, restored, "alice"))
	assert.Empty(t, sessionIDs(t, restored, "bob"))
	assert.Equal(t, limiter.Stats{TrackedUsers: 1, ActiveSessions: 1}, restored.Stats())
}

func TestStateFileSavesOnlyActiveSessions(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	saved := newStateMemory(t, clock)
	mustAdmit(t, saved, "gone", "s1", 3)
	clock.Advance(stateTTL)
	mustAdmit(t, saved, "here", "s1", 3)
	path := filepath.Join(t.TempDir(), "state.jsonl")
	n, err := saved.SaveStateFile(path)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.NotContains(t, string(b), `"gone"`)
}

func TestStateFileKeepsSessionsAlreadyInTheTable(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	saved := newStateMemory(t, clock)
	mustAdmit(t, saved, "alice", "from-file", 3)
	mustAdmit(t, saved, "bob", "from-file", 3)
	path := filepath.Join(t.TempDir(), "state.jsonl")
	_, err := saved.SaveStateFile(path)
	require.NoError(t, err)

	restored := newStateMemory(t, clock)
	mustAdmit(t, restored, "alice", "live", 3)
	n, err := restored.LoadStateFile(path)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, []string{"live"}, sessionIDs(t, restored, "alice"))
	assert.Equal(t, []string{"from-file"}, sessionIDs(t, restored, "bob"))
}

func TestStateFileWrittenAtomically(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := newStateMemory(t, clock)
	mustAdmit(t, m, "alice", "s1", 3)
	dir := t.TempDir()
	path := filepath.Join(dir, "state.jsonl")
	require.NoError(t, os.WriteFile(path, []byte("previous contents\n"), 0o644))

	for range 2 { // over an old file, then over its own
		_, err := m.SaveStateFile(path)
		require.NoError(t, err)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Len(t, entries, 1, "no temporary file is left behind")
		assert.Equal(t, "state.jsonl", entries[0].Name())
		info, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o600), info.Mode().Perm(), "sessions ids may be secrets")
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Contains(t, string(b), `"alice"`)
		assert.True(t, strings.HasSuffix(string(b), "\n"))
	}
}

func TestStateFileSaveFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	m := newStateMemory(t, newFakeClock())
	mustAdmit(t, m, "alice", "s1", 3)
	dir := t.TempDir()
	_, err := m.SaveStateFile(filepath.Join(dir, "missing-dir", "state.jsonl"))
	require.Error(t, err)
	assert.ErrorIs(t, err, fs.ErrNotExist)

	// The target is a directory: the rename fails after the temp file was written.
	target := filepath.Join(dir, "is-a-dir")
	require.NoError(t, os.Mkdir(target, 0o700))
	_, err = m.SaveStateFile(target)
	require.Error(t, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "the temporary file is removed")
	assert.Equal(t, "is-a-dir", entries[0].Name())
}

func TestStateFileLoadErrors(t *testing.T) {
	t.Parallel()
	const header = `{"format":"streamgate-state","version":1,"savedAt":"2026-01-02T03:04:05Z"}` + "\n"
	// The fake clock starts at 2026-01-02T03:04:05Z: these sessions are live.
	alice := `{"userId":"alice","sessions":[{"sessionId":"s1","startedAt":"2026-01-02T03:04:00Z","lastSeen":"2026-01-02T03:04:00Z"}]}` + "\n"
	bob := `{"userId":"bob","sessions":[{"sessionId":"s1","startedAt":"2026-01-02T03:04:00Z","lastSeen":"2026-01-02T03:04:00Z"}]}` + "\n"

	tests := []struct {
		name     string
		contents string
		restored []string
		errText  string
	}{
		{name: "corrupt lines are skipped and reported", contents: header + alice + "{not json\n" + `{"sessions":[]}` + "\n" + bob,
			restored: []string{"alice", "bob"}, errText: "skipped 2 unreadable lines"},
		{name: "a truncated last line", contents: header + alice + bob[:20], restored: []string{"alice"}, errText: "skipped 1"},
		{name: "not a state file", contents: "hello\n" + alice, errText: "not a streamgate state file"},
		{name: "another JSON format", contents: `{"format":"something-else","version":1}` + "\n" + alice, errText: "not a streamgate state file"},
		{name: "a future version", contents: `{"format":"streamgate-state","version":99}` + "\n" + alice, errText: "unsupported state file version 99"},
		{name: "an empty file", contents: "", errText: "empty file"},
		{name: "a header only", contents: header},
		{name: "sessions without an id are dropped", contents: header + `{"userId":"carol","sessions":[{"sessionId":"","lastSeen":"2026-01-02T03:04:00Z"}]}` + "\n" + bob,
			restored: []string{"bob"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "state.jsonl")
			require.NoError(t, os.WriteFile(path, []byte(tt.contents), 0o600))
			m := newStateMemory(t, newFakeClock())
			n, err := m.LoadStateFile(path)
			if tt.errText == "" {
				assert.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.errText)
				assert.Contains(t, err.Error(), path, "the error names the file")
			}
			assert.Equal(t, len(tt.restored), n)
			assert.Equal(t, len(tt.restored), m.Stats().TrackedUsers)
			for _, u := range tt.restored {
				assert.Equal(t, []string{"s1"}, sessionIDs(t, m, u), u)
			}
		})
	}
}

func TestStateFileMissing(t *testing.T) {
	t.Parallel()
	m := newStateMemory(t, newFakeClock())
	n, err := m.LoadStateFile(filepath.Join(t.TempDir(), "never-written.jsonl"))
	require.Error(t, err)
	assert.ErrorIs(t, err, fs.ErrNotExist, "a first start is told apart from a broken file")
	assert.Zero(t, n)
	assert.Equal(t, limiter.Stats{}, m.Stats())
}

func TestStateFileRestoreRespectsCapacity(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	saved := newStateMemory(t, clock)
	for _, u := range []string{"u1", "u2", "u3"} {
		mustAdmit(t, saved, u, "s1", 3)
		clock.Advance(time.Second)
	}
	path := filepath.Join(t.TempDir(), "state.jsonl")
	_, err := saved.SaveStateFile(path)
	require.NoError(t, err)

	small, err := limiter.NewMemory(limiter.MemoryOptions{TTL: stateTTL, MaxUsers: 2, Clock: clock.Now, SweepInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = small.Close() })
	_, err = small.LoadStateFile(path)
	require.NoError(t, err)
	assert.Equal(t, 2, small.Stats().TrackedUsers)
	assert.Empty(t, sessionIDs(t, small, "u1"), "the least recently active user is the one left out")
	assert.Equal(t, []string{"s1"}, sessionIDs(t, small, "u3"))
}
