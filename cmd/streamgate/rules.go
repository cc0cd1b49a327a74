package main

import (
	"github.com/streamgate/streamgate/config"
	"github.com/streamgate/streamgate/limiter"
)

// sessionRules are the session rules every store applies (the memory
// store, Redis and its local fallback alike), from the flags.
func sessionRules(cfg config.Config) limiter.Rules {
	r := limiter.Rules{MaxLease: cfg.MaxLease, Shadow: !cfg.Enforce, TombstoneTTL: cfg.TombstoneTTL,
		BindNetwork: cfg.BindNetwork()}
	if cfg.OnLimit == config.OnLimitEvictOldest {
		r.OnLimit = limiter.EvictOldest
	}
	if cfg.TombstoneTTL == 0 {
		r.TombstoneTTL = -1 // -tombstone-ttl 0 keeps none; the zero Rules mean the default
	}
	return r
}
