package limitertest

import (
	"context"
	"fmt"

	"github.com/streamgate/streamgate/limiter"
)

// FaultyStore is a store that fails on demand: a real store cannot be made
// to time out, or to hand back a degraded decision, at a chosen request.
// Its zero value admits nothing and fails nothing; set the funcs needed.
type FaultyStore struct {
	AdmitFunc func(limiter.Request) (limiter.Decision, error)
	// AdmitCtx, when set, is used instead of AdmitFunc.
	AdmitCtx func(context.Context, limiter.Request) (limiter.Decision, error)
	EndFunc  func() error
	PingFunc func(context.Context) error
}

// ErrStoreDown is a store failure as the Redis store reports one.
var ErrStoreDown = fmt.Errorf("asking redis: %w", limiter.ErrUnavailable)

func (s *FaultyStore) Admit(ctx context.Context, req limiter.Request) (limiter.Decision, error) {
	switch {
	case s.AdmitCtx != nil:
		return s.AdmitCtx(ctx, req)
	case s.AdmitFunc != nil:
		return s.AdmitFunc(req)
	}
	return limiter.Decision{}, ErrStoreDown
}

func (s *FaultyStore) End(context.Context, string, string, limiter.EndReason) (bool, error) {
	if s.EndFunc != nil {
		return false, s.EndFunc()
	}
	return false, nil
}

func (s *FaultyStore) EndAll(context.Context, string, limiter.EndReason) (int, error) { return 0, nil }

func (s *FaultyStore) List(context.Context, string) ([]limiter.Session, error) {
	return []limiter.Session{}, nil
}

func (s *FaultyStore) Ping(ctx context.Context) error {
	if s.PingFunc != nil {
		return s.PingFunc(ctx)
	}
	return nil
}

func (s *FaultyStore) Close() error { return nil }

var _ limiter.Store = (*FaultyStore)(nil)
