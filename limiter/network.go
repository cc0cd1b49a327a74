package limiter

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// DefaultSharedWindow is Rules.SharedWindow's default, as SPEC has it.
const DefaultSharedWindow = 10 * time.Second

// Network identifies a client network: an IPv4 /24 or an IPv6 /56, as
// NetworkOf makes it. 0 is unknown.
type Network uint64

// NetworkOf returns the network of a client address: its IPv4 /24 (an
// IPv4-mapped IPv6 address counts as IPv4) or its IPv6 /56.
func NetworkOf(a netip.Addr) Network {
	a = a.Unmap()
	switch {
	case a.Is4():
		b := a.As4()
		return Network(4<<60 | uint64(b[0])<<16 | uint64(b[1])<<8 | uint64(b[2]))
	case a.Is6():
		b := a.As16()
		var n uint64
		for _, x := range b[:7] {
			n = n<<8 | uint64(x)
		}
		return Network(6<<60 | n)
	}
	return 0
}

// String is the network as the Redis records hold it: hexadecimal.
func (n Network) String() string { return strconv.FormatUint(uint64(n), 16) }

// boundField is how Redis, and the refresh cache after it, name a session
// bound to network n under BindNetwork: "<id>\t<network>".
func boundField(id string, n Network) string { return id + "\t" + n.String() }

// splitBoundField undoes boundField; a field without a network is the id
// alone, n 0. ok is false when the network part is not a network.
func splitBoundField(field string) (id string, n Network, ok bool) {
	id, hex, bound := strings.Cut(field, "\t")
	if !bound {
		return id, 0, true
	}
	v, err := strconv.ParseUint(hex, 16, 64)
	return id, Network(v), err == nil
}

// netSeen is one network a session was used from, and when last.
type netSeen struct {
	net  Network
	seen int64
}

// seeNetwork notes that n used e at now and reports whether it made the
// session shared for the first time.
func (e *entry) seeNetwork(n Network, now, ttl, window int64) bool {
	slot := 0
	for i := range e.nets {
		if e.nets[i].net == n {
			e.nets[i].seen = now
			return false
		}
		if e.nets[i].seen < e.nets[slot].seen {
			slot = i
		}
	}
	concurrent, live := false, false
	for _, ns := range e.nets {
		if ns.net != 0 {
			concurrent = concurrent || now-ns.seen < window
			live = live || now-ns.seen < ttl
		}
	}
	e.nets[slot] = netSeen{net: n, seen: now}
	if live {
		e.networks = min(e.networks+1, 255)
	} else {
		e.networks = 1
	}
	if concurrent && !e.shared {
		e.shared = true
		return true
	}
	return false
}
