package limiter

import "unsafe"

// userRef is how golang-lru keys a user of the memory table: its record's
// address, as an integer. The record lies in userArena, out of Go's heap
// (tableHeap), and stays at that address until the user leaves the LRU, so
// the address names it as well as a pointer would. A pointer-typed key
// made every collection check two words a user, the key in golang-lru's
// map and in its list node, for a heap object they never point at: a cycle
// over 10,000 users of the LRU alone cost 1.0 ms with *user keys and
// 0.64 ms with integers (README, "Memory and the collector").
//
// Under the race detector, and where the system has no anonymous
// mappings, records do lie in Go's heap; tableHeap keeps their chunks
// reachable there, so an integer key cannot outlive its record either.
type userRef uintptr

// refOf is u's key in its shard's LRU.
func refOf(u *user) userRef { return userRef(unsafe.Pointer(u)) }

// user is the record r names. The conversion reads r's bits as a pointer
// rather than converting the integer, which the race detector's pointer
// checks would refuse for a record that lies in Go's heap.
func (r userRef) user() *user { return *(**user)(unsafe.Pointer(&r)) }
