package config

import (
	"cmp"
	"flag"
	"net/netip"
	"strings"
)

// Session bindings for -session-binding.
const (
	BindingOff     = "off"
	BindingNetwork = "network"
)

// Hardening holds the flags of SPEC's Hardening section.
type Hardening struct {
	// SharedCache keeps the origin's Cache-Control unchanged (-shared-cache,
	// default false): by default proxied answers are made private, so that a
	// cache in front of the gate never serves one user's answer to another.
	SharedCache bool
	// TrustedProxies is a comma-separated list of CIDR prefixes
	// (-trusted-proxies, default none): only from these peers is
	// X-Forwarded-For believed when telling the client's address.
	TrustedProxies string
	// SessionBinding is off or network (-session-binding, default off):
	// with network, one session id used from two client networks at once
	// counts as two sessions.
	SessionBinding string
}

// BindNetwork reports whether -session-binding is network.
func (h Hardening) BindNetwork() bool { return h.SessionBinding == BindingNetwork }

// TrustedPrefixes parses TrustedProxies; Validate has checked it. A bare
// address stands for itself (/32 or /128).
func (h Hardening) TrustedPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(h.TrustedProxies, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (c *Config) hardenFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.SharedCache, "shared-cache", c.SharedCache, "keep the origin's Cache-Control as it is; by default proxied answers get private (and lose public, s-maxage) so that no shared cache in front serves them to another user")
	c.SessionBinding = cmp.Or(c.SessionBinding, BindingOff)
	fs.StringVar(&c.SessionBinding, "session-binding", c.SessionBinding, "off, or network: a session id used from another client network (IPv4 /24, IPv6 /56) at the same time counts as another session; one silent 10s on its network moves")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", c.TrustedProxies, "comma-separated `CIDRs` of proxies in front whose X-Forwarded-For is believed (rightmost untrusted hop); empty: the client is the peer")
}

func (c Config) validateHardening(bad func(flagName, format string, args ...any)) {
	if c.SessionBinding != "" && c.SessionBinding != BindingOff && c.SessionBinding != BindingNetwork {
		bad("session-binding", "%q is not off or network", c.SessionBinding)
	}
	if _, err := c.TrustedPrefixes(); err != nil {
		bad("trusted-proxies", "%v (want CIDRs such as 10.0.0.0/8,fd00::/8)", err)
	}
}
