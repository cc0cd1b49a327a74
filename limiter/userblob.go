package limiter

import (
	"encoding/binary"
	"strings"
	"unsafe"
)

// A user's blob packs its id and the metas of its sessions (packMeta) in one
// string, which holds no pointer: the uvarint length of the id, the id, then
// each session's meta in the order of user.sessions, entry.metaLen bytes
// each. It is allocated anew when a session starts or leaves, and read in
// place otherwise. The refresh cache packs its session ids the same way
// (cachedUser.sids), and both drop items with keepPacked.

// newBlob is the blob of a user id without sessions, in h.
func newBlob(h *tableHeap, id string) string {
	var prefix [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(prefix[:], uint64(len(id)))
	return h.concat(unsafe.String(&prefix[0], n), id)
}

// idSpan is where the id ends in blob and its length's prefix, which
// uvarint writes, ends.
func idSpan(blob string) (start, end int) {
	var n uint64
	for i := 0; i < len(blob) && i < binary.MaxVarintLen64; i++ {
		c := blob[i]
		n |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			start = i + 1
			return start, min(start+int(n), len(blob))
		}
	}
	return 0, 0 // no blob: a user under construction
}

// blobString is the user's blob.
func (u *user) blobString() string { return unsafe.String(u.blob, u.blobLen) }

// setBlob makes b the user's blob. A blob is far below 4 GiB: an id is at
// most a header's size and every meta is clipped (clip).
func (u *user) setBlob(b string) {
	u.blob, u.blobLen = unsafe.StringData(b), uint32(len(b))
}

// moreSessions is the sessions' array, nMore long, and as its capacity the
// room its block has (moreRoom), which is all that a record keeps of it.
func (u *user) moreSessions() []entry {
	if u.more == nil {
		return nil
	}
	return unsafe.Slice(u.more, moreRoom(int(u.nMore)))[:u.nMore]
}

// householdRoom is the sessions an array has room for from the second
// session on: the default limit's three. A user's sessions usually start
// one after the other, so an array sized to them moved at every start and
// left the smaller block behind in a free list, which reuses it only for
// another user's second session: after a household's evening had started
// everywhere, every user of three held 224 bytes of garbage besides its
// 336 of sessions.
const householdRoom = 3

// moreRoom is the capacity of a sessions' array of n: n, and never less
// than householdRoom, so that a record need not keep it.
func moreRoom(n int) int { return max(n, householdRoom) }

// setMore makes s, made by add or cut from moreSessions, the sessions'
// array; nil puts it away. The limit's ceiling keeps nMore far below 2^32.
func (u *user) setMore(s []entry) {
	if len(s) == 0 {
		u.more, u.nMore = nil, 0
		return
	}
	u.more, u.nMore = unsafe.SliceData(s), uint32(len(s))
}

// free gives u's sessions' array, blob and tombstones back to h and zeroes
// u, which holds nothing then.
func (u *user) free(h *tableHeap) {
	h.freeBlock(u.blobString(), u.blobRoom())
	h.freeEntries(u.moreSessions())
	u.setEnded(h, nil)
	*u = user{}
}

// blobRoom is the size of the blob's block. While a user holds one session
// at most, it is the blob's length. A second session gives the blob room
// for a household's metas (addMeta), as it gives the sessions room in
// their array: a blob moved at every start left each smaller one in a
// free list. The inline slot is empty then, and its metaLen keeps the
// block's size, so that the record grows by no byte.
func (u *user) blobRoom() int {
	if u.more != nil {
		return int(u.first[0].metaLen)
	}
	return int(u.blobLen)
}

// setBlobRoom keeps room as the blob's block size in the empty inline slot,
// once the sessions are in their array (blobRoom).
func (u *user) setBlobRoom(room int) { u.first[0] = entry{metaLen: uint32(room)} }

// addMeta appends meta to the blob; the sessions are in their array (more)
// before and after. Within a household it fits the room the second
// session made; beyond, the blob moves to a block of its length.
func (u *user) addMeta(h *tableHeap, meta string) {
	room, n := u.blobRoom(), int(u.blobLen)+len(meta)
	if n <= room {
		copy(unsafe.Slice(u.blob, room)[u.blobLen:], meta)
		u.blobLen = uint32(n)
		return
	}
	room = blockSize(n)
	u.moveBlob(h, meta, room)
	u.setBlobRoom(room)
}

// moveBlob moves the blob, meta appended, to a block of room bytes (of
// its length, when that is more) and gives the old block back.
func (u *user) moveBlob(h *tableHeap, meta string, room int) {
	old, oldRoom := u.blobString(), u.blobRoom()
	u.setBlob(h.concatRoom(old, meta, room))
	h.freeBlock(old, oldRoom)
}

// secondMeta moves the blob, with the second session's meta, to a block
// with room for the metas of a household, a third like the longer of the
// two, and what the block's class adds; the caller moves the sessions to
// their array and zeroes the inline slot, then sets its metaLen to the
// room returned.
func (u *user) secondMeta(h *tableHeap, meta string) (room int) {
	third := max(len(meta), int(u.first[0].metaLen))
	room = blockSize(int(u.blobLen) + len(meta) + third*(householdRoom-2))
	u.moveBlob(h, meta, room)
	return room
}

// keepMetas makes blob, the metas kept and the id, the user's blob once
// keepOnly has settled the sessions; room is the old block's size. Blob
// stays in its block while the sessions stay in their array, and so does
// the room the inline slot keeps.
func (u *user) keepMetas(h *tableHeap, blob string, room int) {
	old := u.blobString()
	if u.more != nil {
		b := unsafe.Slice(u.blob, room)
		clear(b[copy(b, blob):]) // no stale id or device stays behind
		u.blobLen = uint32(len(blob))
		return
	}
	u.setBlob(h.concat(blob, ""))
	h.freeBlock(old, room)
}

// id is the user id.
func (u *user) id() string {
	b := u.blobString()
	start, end := idSpan(b)
	return b[start:end]
}

// metasAt is where the metas start in the blob.
func (u *user) metasAt() int {
	_, end := idSpan(u.blobString())
	return end
}

// meta is session i's meta, a slice of the blob.
func (u *user) meta(i int) string {
	off := u.metasAt()
	sessions := u.sessions()
	for _, e := range sessions[:i] {
		off += int(e.metaLen)
	}
	return u.blobString()[off : off+int(sessions[i].metaLen)]
}

// keepPacked keeps the items for which keep is true, in place and in their
// order, when each item's string is packed in s from from on (size bytes
// each, in the items' order). keep gets each item with its index and string
// as they were before, and may change the item. It returns how many items
// it kept and the packed string of those: s itself when none was dropped,
// so that nothing is allocated then. Dropped items' places are zeroed.
func keepPacked[T any](items []T, s string, from int, size func(*T) int, keep func(i int, it *T, str string) bool) (int, string) {
	var b strings.Builder
	kept, off, dropped := 0, from, false
	for i := range items {
		it := items[i]
		str := s[off : off+size(&it)]
		off += len(str)
		switch {
		case !keep(i, &it, str):
			if !dropped {
				dropped = true
				b.Grow(len(s))
				b.WriteString(s[:off-len(str)]) // the prefix and the items before, all kept
			}
			continue
		case dropped:
			b.WriteString(str)
		}
		items[kept] = it
		kept++
	}
	if !dropped {
		return kept, s
	}
	clear(items[kept:])
	return kept, b.String()
}
