package limiter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUserSessionsInlineAndOut walks a user's sessions between the inline
// one and the overflow array in both directions, checking after each step
// which sessions it holds and where: the first session is inline, a second
// moves them all out, and the last one leaving clears the record.
func TestUserSessionsInlineAndOut(t *testing.T) {
	keys := func(u *user) []uint64 {
		var out []uint64
		for _, e := range u.sessions() {
			out = append(out, e.key)
		}
		return out
	}
	var u user
	steps := []struct {
		name   string
		do     func()
		want   []uint64
		inline bool
	}{
		{name: "empty", do: func() {}, want: nil, inline: true},
		{name: "first starts inline", do: func() { u.start("a", 1, 10, Device{}).expires = 100 }, want: []uint64{1}, inline: true},
		{name: "second moves both out", do: func() { u.start("b", 2, 20, Device{}).expires = 200 }, want: []uint64{1, 2}},
		{name: "third appends", do: func() { u.start("c", 3, 30, Device{}).expires = 300 }, want: []uint64{1, 2, 3}},
		{name: "remove the middle", do: func() { u.remove(1) }, want: []uint64{1, 3}},
		{name: "prune to one stays out", do: func() { require.Equal(t, 1, u.prune(150, 0)) }, want: []uint64{3}},
		{name: "prune to none clears", do: func() { require.Equal(t, 1, u.prune(400, 0)) }, want: nil, inline: true},
		{name: "a new first is inline again", do: func() { u.start("d", 4, 500, Device{}).expires = 600 }, want: []uint64{4}, inline: true},
		{name: "remove the inline one", do: func() { u.remove(0) }, want: nil, inline: true},
	}
	for _, st := range steps {
		st.do()
		assert.Equal(t, st.want, keys(&u), st.name)
		assert.Equal(t, st.inline, u.more == nil, st.name)
		if len(st.want) == 0 {
			assert.Equal(t, entry{}, u.first[0], "%s: the record keeps no stale session", st.name)
		}
		for i := range u.sessions() {
			u.sessions()[i].lastSeen = int64(i + 1) // writes through the view
			assert.Equal(t, int64(i+1), u.sessions()[i].lastSeen, st.name)
		}
	}
}
