package limiter

import "hash/maphash"

// The memory store compares hashes, never the ids' bytes, so that a decision
// reads no string from memory: at millions of sessions each such read is a
// cache miss. The seeds are drawn when the store is made and kept secret, so
// a player cannot aim for a collision.
//
// A user is keyed by 128 bits (two seeds): the chance that two of 10 million
// users share a key is about 10^-25. A session is keyed by 64 bits, as it is
// only ever compared with the few sessions of its own user: the chance that
// a new session passes for one of three active ones is 3 in 2^64.
type key [2]uint64

type keyer struct{ a, b maphash.Seed }

func newKeyer() keyer { return keyer{a: maphash.MakeSeed(), b: maphash.MakeSeed()} }

// user returns the key of a user id.
func (k keyer) user(id string) key { return key{k.userFirst(id), k.userSecond(id)} }

// userFirst is the first half of a user id's key, which places the user:
// its shard and index slot.
func (k keyer) userFirst(id string) uint64 { return maphash.String(k.a, id) }

// userSecond is the second half, which only tells users apart.
func (k keyer) userSecond(id string) uint64 { return maphash.String(k.b, id) }

// session returns the key of a session id.
func (k keyer) session(id string) uint64 { return maphash.String(k.a, id) }
