package main

import (
	"fmt"
	"log/slog"

	"github.com/streamgate/streamgate/config"
	"github.com/streamgate/streamgate/limiter"
)

// newRedisStore is the store of -store redis://…: the shared Redis store
// behind the -store-failure policy, which also keeps this replica's own table
// for the local policy and the session gauges.
func newRedisStore(cfg config.Config, logger *slog.Logger) (limiter.Store, error) {
	logger = logger.With("store", "redis")
	r, err := limiter.NewRedis(limiter.RedisOptions{
		URL:             cfg.Store,
		TTL:             cfg.SessionTTL,
		Timeout:         cfg.StoreTimeout,
		RefreshInterval: cfg.EffectiveRefreshInterval(),
		MaxUsers:        cfg.MaxUsers,
		Rules:           sessionRules(cfg),
		Logger:          logger,
	})
	if err != nil {
		return nil, fmt.Errorf("-store: %w", err)
	}
	g, err := limiter.NewGuard(r, limiter.GuardOptions{Policy: cfg.StoreFailure, TTL: cfg.SessionTTL, MaxUsers: cfg.MaxUsers, Rules: sessionRules(cfg), Logger: logger})
	if err != nil {
		_ = r.Close()
		return nil, err
	}
	return g, nil
}
