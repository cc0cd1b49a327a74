package proxy

import (
	"net/netip"
	"strings"
)

// ClientAddr tells a request's client address: the peer's, unless the peer
// is one of TrustedProxies, when X-Forwarded-For is read from its right end
// and the first hop that is not a trusted proxy is the client. A client can
// write anything in X-Forwarded-For; only what our own proxies appended is
// believed.
type ClientAddr struct {
	// TrustedProxies is -trusted-proxies; empty believes no header.
	TrustedProxies []netip.Prefix
}

// of returns the client's address for a request from peer (host:port) with
// the given X-Forwarded-For values; the zero Addr when the peer cannot be
// parsed.
func (c ClientAddr) of(peer string, xff []string) netip.Addr {
	ap, err := netip.ParseAddrPort(peer)
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap()
	if len(c.TrustedProxies) == 0 || !c.trusted(addr) {
		return addr
	}
	for i := len(xff) - 1; i >= 0; i-- {
		v := xff[i]
		for v != "" {
			hop := v
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				hop, v = v[j+1:], v[:j]
			} else {
				v = ""
			}
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue
			}
			a, err := netip.ParseAddr(hop)
			if err != nil {
				// Not an address: what lies left of it cannot be trusted either.
				return addr
			}
			addr = a.Unmap()
			if !c.trusted(addr) {
				return addr
			}
		}
	}
	return addr
}

func (c ClientAddr) trusted(a netip.Addr) bool {
	for _, p := range c.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
