package main

import (
	"github.com/streamgate/streamgate/config"
	"github.com/streamgate/streamgate/limiter"
)

// sessionRules are the session rules every store applies (the memory
// store, Redis and its local fallback alike), from the flags.
func sessionRules(cfg config.Config) limiter.Rules {
	return limiter.Rules{MaxLease: cfg.MaxLease, BindNetwork: cfg.BindNetwork()}
}
