package limiter

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

// keyPrefix starts every key streamgate writes, so that it can share a Redis.
const keyPrefix = "streamgate:"

// maxDeviceField bounds what a session stores of its player, in either
// store, so that a huge User-Agent cannot inflate it.
const maxDeviceField = 256

// redisKey is the user's hash. The braces make the user id the hash tag, so
// that Redis Cluster places the key by user. An id holding "}" is still one
// key per user: only its tag is shorter.
func redisKey(userID string) string {
	return keyPrefix + "{" + userID + "}"
}

// stopKey holds the time of the user's last free stop (redis_end.lua), in
// the slot of redisKey(userID).
func stopKey(userID string) string {
	return redisKey(userID) + ":stop"
}

// heldKey is set while a player's stop keeps sessionID active for its media
// (redis_end.lua), in the slot of redisKey(userID).
func heldKey(userID, sessionID string) string {
	return redisKey(userID) + ":held:" + sessionID
}

// encodeDevice packs a Device as "<len(ua)>:<ua><address>", so that neither
// field needs escaping. The Lua scripts store it and never read it.
func encodeDevice(d Device) string {
	ua, addr := truncate(d.UserAgent, maxDeviceField), truncate(d.Address, maxDeviceField)
	if d.ContentID == "" {
		return strconv.Itoa(len(ua)) + ":" + ua + addr
	}
	// The content id follows the user agent as "<length>;<cid>": an address
	// never starts with digits and a semicolon, so records written before
	// content ids were kept read as they did.
	cid := truncate(d.ContentID, maxDeviceField)
	return strconv.Itoa(len(ua)) + ":" + ua + strconv.Itoa(len(cid)) + ";" + cid + addr
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func decodeDevice(s string) (Device, error) {
	n, rest, ok := strings.Cut(s, ":")
	l, err := strconv.Atoi(n)
	if !ok || err != nil || l < 0 || l > len(rest) {
		return Device{}, errBadRecord
	}
	d := Device{UserAgent: rest[:l], Address: rest[l:]}
	if n, after, ok := strings.Cut(d.Address, ";"); ok && n != "" && isDigits(n) {
		if c, err := strconv.Atoi(n); err == nil && c <= len(after) {
			d.ContentID, d.Address = after[:c], after[c:]
		}
	}
	return d, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

var errBadRecord = errors.New("malformed session record in redis")

// record is one session as stored (see redis_lib.lua), times in µs of
// Redis's clock. Records of the previous format,
// "<lastSeen>:<startedAt>:<device>", read as expiring at lastSeen + TTL.
type record struct {
	expires, lastSeen, started int64
	buffered                   int64 // the latest of the tracks
	networks                   int
	device                     string
}

func parseRecord(s string, ttlMicros int64) (record, error) {
	if i := strings.IndexAny(s, ";:"); i >= 0 && s[i] == ':' {
		seen, rest, ok1 := strings.Cut(s, ":")
		started, dev, ok2 := strings.Cut(rest, ":")
		ls, err1 := strconv.ParseInt(seen, 10, 64)
		st, err2 := strconv.ParseInt(started, 10, 64)
		if !ok1 || !ok2 || err1 != nil || err2 != nil {
			return record{}, errBadRecord
		}
		return record{expires: ls + ttlMicros, lastSeen: ls, started: st, device: dev}, nil
	}
	// expires;lastSeen;started;bu1;bu2;bu3;hint;net1;seen1;net2;seen2;networks;shared;bound;device
	var f [14]string
	rest := s
	for i := range f {
		var ok bool
		if f[i], rest, ok = strings.Cut(rest, ";"); !ok {
			return record{}, errBadRecord
		}
	}
	var n [7]int64
	for i, j := range [...]int{0, 1, 2, 3, 4, 5, 11} {
		v, err := strconv.ParseInt(f[j], 10, 64)
		if err != nil {
			return record{}, errBadRecord
		}
		n[i] = v
	}
	return record{expires: n[0], lastSeen: n[1], started: n[2], buffered: max(n[3], n[4], n[5]), networks: int(n[6]), device: rest}, nil
}

// isMark reports whether a hash field is a tombstone or a lapsed mark, not
// a session: a session id never starts with a space.
func isMark(field string) bool { return strings.HasPrefix(field, " ") }

// reasonCode is an EndReason as the scripts store it.
func reasonCode(r EndReason) string {
	switch r {
	case EndedByOperator:
		return "o"
	case Replaced:
		return "r"
	}
	return ""
}

func reasonOf(code string) EndReason {
	if code == "r" {
		return Replaced
	}
	return EndedByOperator
}

// sessionsFrom turns field/record pairs into the active sessions, oldest
// first (ties by id: a hash has no order of its own), and the soonest expiry.
// Marks are skipped.
func sessionsFrom(pairs []string, now int64, ttl time.Duration) ([]Session, time.Duration, error) {
	ttlMicros := ttl.Microseconds()
	out := make([]Session, 0, len(pairs)/2)
	soonest := int64(-1)
	for i := 0; i+1 < len(pairs); i += 2 {
		if isMark(pairs[i]) {
			continue
		}
		rec, err := parseRecord(pairs[i+1], ttlMicros)
		if err != nil {
			return nil, 0, err
		}
		left := rec.expires - now
		if left <= 0 {
			continue
		}
		dev, err := decodeDevice(rec.device)
		if err != nil {
			return nil, 0, err
		}
		if soonest < 0 || left < soonest {
			soonest = left
		}
		id, _, _ := splitBoundField(pairs[i]) // a session bound to a network
		s := Session{
			ID:        id,
			Networks:  rec.networks,
			StartedAt: time.UnixMicro(rec.started).UTC(),
			LastSeen:  time.UnixMicro(rec.lastSeen).UTC(),
			ExpiresAt: time.UnixMicro(rec.expires).UTC(),
			Device:    dev,
		}
		if rec.buffered > 0 {
			s.BufferedUntil = time.UnixMicro(rec.buffered).UTC()
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Session) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	// A session bound to several networks is listed once per network.
	return out, time.Duration(max(soonest, 0)) * time.Microsecond, nil
}
