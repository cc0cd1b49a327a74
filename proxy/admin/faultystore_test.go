package admin_test

import (
	"context"
	"fmt"

	"github.com/streamgate/streamgate/limiter"
)

// faultyStore is a store that fails on demand: a real store cannot be made
// to time out, or to hand back a degraded decision, at a chosen request.
type faultyStore struct {
	admit func(limiter.Request) (limiter.Decision, error)
	// admitCtx, when set, is used instead of admit.
	admitCtx func(context.Context, limiter.Request) (limiter.Decision, error)
	end      func() error
	ping     func(context.Context) error
}

func (s *faultyStore) Admit(ctx context.Context, req limiter.Request) (limiter.Decision, error) {
	if s.admitCtx != nil {
		return s.admitCtx(ctx, req)
	}
	return s.admit(req)
}

func (s *faultyStore) End(context.Context, string, string, limiter.EndReason) (bool, error) {
	if s.end != nil {
		return false, s.end()
	}
	return false, nil
}

func (s *faultyStore) EndAll(context.Context, string, limiter.EndReason) (int, error) { return 0, nil }

func (s *faultyStore) List(context.Context, string) ([]limiter.Session, error) {
	return []limiter.Session{}, nil
}

func (s *faultyStore) Ping(ctx context.Context) error {
	if s.ping != nil {
		return s.ping(ctx)
	}
	return nil
}

func (s *faultyStore) Close() error { return nil }

var errStoreDown = fmt.Errorf("asking redis: %w", limiter.ErrUnavailable)
