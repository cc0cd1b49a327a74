package limiter

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUserSessionsInlineAndOut walks a user's sessions between the inline
// one and the overflow array in both directions, checking after each step
// which sessions it holds and where: the first session is inline, a second
// moves them all out into an array with room for a third, which stays put
// while the household grows and shrinks within it, and one left goes back
// inline.
func TestUserSessionsInlineAndOut(t *testing.T) {
	keys := func(u *user) []uint64 {
		var out []uint64
		for _, e := range u.sessions() {
			out = append(out, e.key)
		}
		return out
	}
	h := testHeap(t)
	var u user
	u.setBlob(newBlob(h, "alice"))
	steps := []struct {
		name   string
		do     func()
		want   []uint64
		inline bool
		// moved says the array is another than the step before's.
		moved bool
	}{
		{name: "empty", do: func() {}, want: nil, inline: true},
		{name: "first starts inline", do: func() { u.start(h, "a", 1, 10, Device{}).expires = 100 }, want: []uint64{1}, inline: true},
		{name: "second moves both out", do: func() { u.start(h, "b", 2, 20, Device{}).expires = 200 }, want: []uint64{1, 2}, moved: true},
		{name: "third appends", do: func() { u.start(h, "c", 3, 30, Device{}).expires = 300 }, want: []uint64{1, 2, 3}},
		{name: "fourth moves them to a larger array", do: func() { u.start(h, "e", 5, 40, Device{}).expires = 140 }, want: []uint64{1, 2, 3, 5}, moved: true},
		{name: "back to three moves them back to a household's", do: func() { u.remove(h, 3) }, want: []uint64{1, 2, 3}, moved: true},
		{name: "remove the middle", do: func() { u.remove(h, 1) }, want: []uint64{1, 3}},
		{name: "prune to one goes back inline", do: func() { require.Equal(t, 1, u.prune(h, 150, 0)) }, want: []uint64{3}, inline: true, moved: true},
		{name: "prune to none clears", do: func() { require.Equal(t, 1, u.prune(h, 400, 0)) }, want: nil, inline: true},
		{name: "a new first is inline again", do: func() { u.start(h, "d", 4, 500, Device{}).expires = 600 }, want: []uint64{4}, inline: true},
		{name: "remove the inline one", do: func() { u.remove(h, 0) }, want: nil, inline: true},
	}
	ids := map[uint64]string{1: "a", 2: "b", 3: "c", 4: "d", 5: "e"}
	for _, st := range steps {
		before := u.more
		st.do()
		assert.Equal(t, st.moved, u.more != before, "%s: the array moved", st.name)
		assert.Equal(t, st.want, keys(&u), st.name)
		assert.Equal(t, st.inline, u.more == nil, st.name)
		assert.Equal(t, "alice", u.id(), st.name)
		want := newBlob(h, "alice")
		for i, e := range u.sessions() {
			assert.Equal(t, ids[e.key], metaID(u.meta(i)), "%s: each meta stays with its session", st.name)
			want += packMeta(ids[e.key], Device{})
		}
		assert.Equal(t, want, u.blobString(), "%s: the blob holds the id and the metas held, nothing else", st.name)
		if len(st.want) == 0 {
			assert.Equal(t, entry{}, u.first[0], "%s: the record keeps no stale session", st.name)
		}
		for i := range u.sessions() {
			u.sessions()[i].lastSeen = int64(i + 1) // writes through the view
			assert.Equal(t, int64(i+1), u.sessions()[i].lastSeen, st.name)
		}
	}
}

// TestHouseholdGrowsInPlace: a household's second session moves the
// sessions and the blob into blocks with room for a third, which starts
// in place, as a user of three who loses one stays; a fourth moves them,
// one left goes back inline; and a user freed after all that gives back
// every byte, so the blocks were given back at the sizes they were
// handed out.
func TestHouseholdGrowsInPlace(t *testing.T) {
	h := testHeap(t)
	var u user
	u.setBlob(newBlob(h, "alice"))
	dev := Device{UserAgent: "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0)", Address: "192.0.2.7:50312"}
	type place struct {
		blob *byte
		more *entry
	}
	at := func() place { return place{u.blob, u.more} }
	u.start(h, "tv", 1, 10, dev)
	u.start(h, "phone", 2, 20, dev)
	two := at()
	u.start(h, "laptop", 3, 30, dev)
	assert.Equal(t, two, at(), "the third session starts in place")
	u.remove(h, 1)
	assert.Equal(t, two, at(), "a household that loses one stays in place")
	u.start(h, "tablet", 4, 40, dev)
	assert.Equal(t, two, at(), "nor does the next take more room")
	u.start(h, "console", 5, 50, dev)
	four := at()
	assert.NotEqual(t, two.blob, four.blob, "a fourth moves the blob")
	assert.NotEqual(t, two.more, four.more, "and the sessions")
	for _, id := range []string{"console", "tablet", "laptop", "tv"} {
		for i := range u.sessions() {
			assert.Equal(t, metaDevice(u.meta(i)), dev, "each session keeps its device")
		}
		assert.Equal(t, "alice", u.id())
		i := slices.IndexFunc(u.sessions(), func(e entry) bool { return metaID(u.meta(slices.Index(u.sessions(), e))) == id })
		require.GreaterOrEqual(t, i, 0, id)
		u.remove(h, i)
	}
	assert.Nil(t, u.more, "none left: the record is inline")
	assert.Equal(t, newBlob(testHeap(t), "alice"), u.blobString(), "the blob is the id alone, no stale meta")
	for i, id := range []string{"tv", "phone", "laptop"} {
		u.start(h, id, uint64(10+i), 100, dev).expires = 200
	}
	require.Equal(t, 3, u.prune(h, 300, 0))
	assert.Nil(t, u.more, "a household that expires at once leaves the record inline")
	assert.Equal(t, entry{}, u.first[0], "with nothing of the blob's room left in the inline slot")
	assert.Equal(t, newBlob(testHeap(t), "alice"), u.blobString())
	u.free(h)
	assert.Zero(t, h.bytesHeld(), "every block went back at its size")
}

// TestTableRecordsHoldNoPointer: the collector marks the memory table and
// the refresh cache on every cycle; session arrays without pointers are not
// scanned at all. A field that holds one (a string, a slice) belongs in the
// user's blob (user.blob, cachedUser.sids).
func TestTableRecordsHoldNoPointer(t *testing.T) {
	assert.Empty(t, pointerFields(reflect.TypeFor[entry]()), "fields of entry that hold a pointer")
	assert.Empty(t, pointerFields(reflect.TypeFor[cachedSession]()), "fields of cachedSession that hold a pointer")
}

func pointerFields(ty reflect.Type) (bad []string) {
	switch ty.Kind() {
	case reflect.Struct:
		for i := range ty.NumField() {
			for _, b := range pointerFields(ty.Field(i).Type) {
				bad = append(bad, ty.Field(i).Name+"."+b)
			}
		}
	case reflect.Array:
		return pointerFields(ty.Elem())
	case reflect.Pointer, reflect.String, reflect.Slice, reflect.Map, reflect.Chan,
		reflect.Func, reflect.Interface, reflect.UnsafePointer:
		return []string{ty.String()}
	}
	return bad
}

// TestBlobKeepsTheUserID: the id's length prefix takes more than one byte
// past 127 bytes; the metas after it are cut at the right place either way.
func TestBlobKeepsTheUserID(t *testing.T) {
	h := testHeap(t)
	for _, id := range []string{"", "a", strings.Repeat("x", 127), strings.Repeat("y", 128), strings.Repeat("z", 20_000)} {
		var u user
		u.setBlob(newBlob(h, id))
		u.start(h, "s1", 1, 10, Device{UserAgent: "TV"})
		u.start(h, "s2", 2, 10, Device{})
		assert.Equal(t, id, u.id(), "len %d", len(id))
		assert.Equal(t, "s1", metaID(u.meta(0)), "len %d", len(id))
		assert.Equal(t, Device{UserAgent: "TV"}, metaDevice(u.meta(0)), "len %d", len(id))
		assert.Equal(t, "s2", metaID(u.meta(1)), "len %d", len(id))
	}
}

// TestUserSessionsGrowPastTheDefaultLimit: a user over the default limit's
// three sessions grows its array a session at a time, shrinks it in place
// and grows it again, keeping every session with its own meta; the record
// keeps only the array's pointer and length.
func TestUserSessionsGrowPastTheDefaultLimit(t *testing.T) {
	h := testHeap(t)
	var u user
	u.setBlob(newBlob(h, "bob"))
	for i := range 10 {
		u.start(h, "s"+strconv.Itoa(i), uint64(i), 1, Device{})
	}
	u.keepOnly(h, func(i int, _ *entry, _ string) bool { return i%3 == 0 }) // 0, 3, 6, 9
	for i := 10; i < 15; i++ {
		u.start(h, "s"+strconv.Itoa(i), uint64(i), 1, Device{})
	}
	want := []uint64{0, 3, 6, 9, 10, 11, 12, 13, 14}
	require.Len(t, u.sessions(), len(want))
	for i, e := range u.sessions() {
		assert.Equal(t, want[i], e.key)
		assert.Equal(t, "s"+strconv.Itoa(int(want[i])), metaID(u.meta(i)))
	}
	assert.Equal(t, "bob", u.id())
	assert.Equal(t, uintptr(160), unsafe.Sizeof(user{}), "a record is 160 bytes")
}
