package tokenauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Timings of a JWKS URL. An identity provider rotates keys by publishing the
// new one first; a token naming a kid we do not know triggers a refetch, but
// at most once a minute, so that tokens with made-up kids cannot turn the
// gate into a load generator against the provider.
const (
	// JWKSMinRefetch is the shortest time between two fetches of a JWKS URL.
	JWKSMinRefetch = time.Minute
	// JWKSMaxAge is how old a fetched key set may grow before it is refetched
	// in the background, so that a key the provider withdrew stops verifying.
	JWKSMaxAge = 15 * time.Minute
	// jwksFetchTimeout bounds one fetch, body included.
	jwksFetchTimeout = 10 * time.Second
	// jwksMaxBytes bounds the size of a key set.
	jwksMaxBytes = 1 << 20
)

// ErrJWKSUnavailable is wrapped by NewJWTIdentity's error when the JWKS URL
// did not answer with a usable key set: the provider is down, not the
// configuration wrong.
var ErrJWKSUnavailable = errors.New("JWKS URL unavailable")

// remoteJWKS is a key set served at an https:// URL. Readers take the current
// set from an atomic pointer; fetches are serialised by mu.
type remoteJWKS struct {
	url     string
	client  *http.Client
	now     func() time.Time
	logger  *slog.Logger
	fetches *prometheus.CounterVec

	keys    atomic.Pointer[keySet]
	fetched atomic.Int64 // Unix nanoseconds of the last successful fetch

	ctx    context.Context // cancelled by close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the background refresh, if one runs

	mu      sync.Mutex // held for the whole of a fetch
	lastTry time.Time  // guarded by mu
	closed  bool       // guarded by mu
}

// newRemoteJWKS fetches the key set once. It fails when the URL does not
// answer with a usable key set: starting without keys would refuse every
// player, and a crash-looping pod says so louder than a log line.
func newRemoteJWKS(url string, client *http.Client, now func() time.Time, logger *slog.Logger, fetches *prometheus.CounterVec) (*remoteJWKS, error) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &remoteJWKS{url: url, client: client, now: now, logger: logger, fetches: fetches, ctx: ctx, cancel: cancel}
	r.mu.Lock()
	err := r.fetch()
	r.mu.Unlock()
	if err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *remoteJWKS) current() keySet { return *r.keys.Load() }

// refetchFor is called when a token names a kid that no key carries. It
// fetches the set again unless one was fetched less than JWKSMinRefetch ago,
// and returns the set to look in.
func (r *remoteJWKS) refetchFor(kid string) keySet {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Someone else's fetch, while we waited for the lock, may have brought it.
	if s := r.current(); s.hasID(kid) || r.closed || r.now().Sub(r.lastTry) < JWKSMinRefetch {
		return s
	}
	_ = r.fetch() // logged; the old set stays
	return r.current()
}

// refreshIfStale starts a background fetch when the set is older than
// JWKSMaxAge. It never waits: if a fetch runs already, there is nothing to do.
func (r *remoteJWKS) refreshIfStale() {
	now := r.now()
	if now.UnixNano()-r.fetched.Load() < int64(JWKSMaxAge) || !r.mu.TryLock() {
		return
	}
	if r.closed || now.Sub(r.lastTry) < JWKSMinRefetch {
		r.mu.Unlock()
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer r.mu.Unlock()
		_ = r.fetch()
	}()
}

// fetch replaces the key set with the one served now. mu must be held. A
// failure keeps the old set: a provider's outage must not log every player out.
func (r *remoteJWKS) fetch() error {
	r.lastTry = r.now()
	keys, err := r.get()
	if err != nil {
		r.fetches.WithLabelValues("error").Inc()
		r.logger.Warn("JWKS fetch failed; keeping the keys already known", "url", r.url, "err", err)
		// One %w: a caller printing joined errors one per line must see one line.
		return fmt.Errorf("%w: fetching %s: %v", ErrJWKSUnavailable, r.url, err)
	}
	r.fetches.WithLabelValues("ok").Inc()
	r.keys.Store(&keys)
	r.fetched.Store(r.now().UnixNano())
	r.logger.Info("JWKS fetched", "url", r.url, "keys", len(keys))
	return nil
}

func (r *remoteJWKS) get() (keySet, error) {
	ctx, cancel := context.WithTimeout(r.ctx, jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// A redirect must not downgrade the fetch to plain HTTP.
	if resp.Request.URL.Scheme != "https" {
		return nil, fmt.Errorf("redirected to %s; keys are fetched over https only", resp.Request.URL.Redacted())
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > jwksMaxBytes {
		return nil, errors.New("key set larger than 1 MiB")
	}
	keys, skipped, err := parseJWKS(body)
	for _, s := range skipped {
		r.logger.Debug("JWKS key skipped", "url", r.url, "reason", s.Error())
	}
	return keys, err
}

// close stops a background fetch and waits for it.
func (r *remoteJWKS) close() {
	r.cancel()
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.wg.Wait()
	r.client.CloseIdleConnections()
}
