package main

import (
	"github.com/streamgate/streamgate/config"
	"github.com/streamgate/streamgate/proxy"
)

// hardening is the gate's share of SPEC's Hardening from the flags.
func hardening(cfg config.Config) proxy.Hardening {
	h := proxy.Hardening{
		UserHeader:    cfg.UserHeader,
		SessionHeader: cfg.SessionHeader,
		// A long body re-admits its session three times a TTL, as a player
		// fetching segments would.
		HoldEvery: cfg.SessionTTL / 3,
	}
	// Validate has checked the list.
	h.Client.TrustedProxies, _ = cfg.TrustedPrefixes()
	if cfg.Identity == config.IdentityJWT {
		h.SetIdentity = true
	} else {
		h.LimitHeader = cfg.LimitHeader
	}
	return h
}

// tokenParam is the query parameter the upstream removes from every URL it
// sends: the token's, in token mode.
func tokenParam(cfg config.Config) string {
	if cfg.Identity != config.IdentityJWT {
		return ""
	}
	return cfg.TokenParam
}
