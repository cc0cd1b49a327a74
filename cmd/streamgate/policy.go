package main

import (
	"github.com/streamgate/streamgate/config"
	"github.com/streamgate/streamgate/limiter"
)

// rules are the session rules of the flags, the same for every store.
func rules(cfg config.Config) limiter.Rules {
	r := limiter.Rules{Shadow: !cfg.Enforce, TombstoneTTL: cfg.TombstoneTTL}
	if cfg.OnLimit == config.OnLimitEvictOldest {
		r.OnLimit = limiter.EvictOldest
	}
	if cfg.TombstoneTTL == 0 {
		r.TombstoneTTL = -1 // -tombstone-ttl 0 keeps none; the zero Rules mean the default
	}
	return r
}
