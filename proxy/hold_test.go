package proxy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy"
)

// TestLongDownloadHoldsItsSlot: three downloads that trickle for longer
// than two TTLs keep their sessions active, so a fourth session is refused
// while they flow, and admitted once they have ended and expired. A body
// of announced length is spliced (splice.go), a chunked one copied.
func TestLongDownloadHoldsItsSlot(t *testing.T) {
	t.Parallel()
	t.Run("chunked", func(t *testing.T) { testLongDownloadHoldsItsSlot(t, false) })
	t.Run("spliced", func(t *testing.T) { testLongDownloadHoldsItsSlot(t, true) })
}

func testLongDownloadHoldsItsSlot(t *testing.T, length bool) {
	t.Parallel()
	const ttl = 1500 * time.Millisecond
	trickling := make(chan struct{}, 3) // each download signals once it has flowed 2 TTLs
	stop := make(chan struct{})
	var stopOnce sync.Once
	release := func() { stopOnce.Do(func() { close(stop) }) }
	defer release()
	g := newHardGate(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		if length {
			w.Header().Set("Content-Length", strconv.Itoa(1<<30))
		}
		rc := http.NewResponseController(w)
		start, signalled := time.Now(), false
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := w.Write([]byte("x")); err != nil {
				return
			}
			_ = rc.Flush()
			if !signalled && time.Since(start) > 2*ttl {
				signalled = true
				trickling <- struct{}{}
			}
			select {
			case <-stop:
				return
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
		}
	}, hardOptions{ttl: ttl, hardening: proxy.Hardening{HoldEvery: ttl / 3}})

	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest(http.MethodGet, g.URL+"/movie.mp4", nil)
			if !assert.NoError(t, err) {
				return
			}
			req.Header.Set("X-User-Id", "carol")
			req.Header.Set("X-Session-Id", "download-"+strconv.Itoa(i))
			resp, err := g.client.Do(req)
			if !assert.NoError(t, err) {
				return
			}
			defer resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			_, _ = io.Copy(io.Discard, resp.Body)
		}()
	}
	for range 3 {
		select {
		case <-trickling:
		case <-time.After(20 * time.Second):
			t.Fatal("the downloads never flowed for two TTLs")
		}
	}
	resp, body := g.raw(t, "GET /movie.mp4 HTTP/1.1", "X-User-Id: carol", "X-Session-Id: fourth")
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "the three downloads still hold their slots: %s", body)
	assert.Len(t, g.sessionsOf(t, "carol"), 3)

	release()
	wg.Wait()
	eventually(t, "the downloads' sessions expire once they end", func() bool { return len(g.sessionsOf(t, "carol")) == 0 })
	resp, body = g.raw(t, "GET /seg-1.ts HTTP/1.1", "X-User-Id: carol", "X-Session-Id: fourth")
	assert.Equal(t, http.StatusOK, resp.StatusCode, string(body))
}

// TestTrickledBodyEnds: a request body that sends nothing for the idle
// bound ends its request instead of holding the connection forever.
func TestTrickledBodyEnds(t *testing.T) {
	t.Parallel()
	bodyErr := make(chan error, 1)
	g := newHardGate(t, func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		bodyErr <- err
	}, hardOptions{hardening: proxy.Hardening{BodyIdle: 300 * time.Millisecond}})

	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	// The client waits for its body writer before Do returns: end the pipe
	// with the context, so that a gate that never ends the request fails
	// this test instead of hanging it.
	context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/upload", pr)
	require.NoError(t, err)
	req.Header.Set("X-User-Id", "dave")
	req.Header.Set("X-Session-Id", "s")
	go func() { _, _ = pw.Write([]byte("one byte, then silence")) }()
	resp, err := g.client.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		assert.GreaterOrEqual(t, resp.StatusCode, 400, "the request did not succeed")
	}
	require.NoError(t, ctx.Err(), "the gate ended the request, not the client's patience")
	select {
	case err := <-bodyErr:
		assert.Error(t, err, "the origin saw the body cut short")
	case <-time.After(10 * time.Second):
		t.Fatal("the origin's request never ended")
	}
	assert.False(t, errors.Is(err, context.DeadlineExceeded))
}

// TestEndedDownloadIsCut: a download whose session is ended while its body
// flows, by the operator or by a newer session under evict-oldest, is cut
// at its next hold check instead of flowing on as one stream more than the
// limit allows.
func TestEndedDownloadIsCut(t *testing.T) {
	t.Parallel()
	for name, rules := range map[string]limiter.Rules{
		"ended by the operator":   {},
		"replaced (evict-oldest)": {OnLimit: limiter.EvictOldest},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const ttl = 1500 * time.Millisecond
			flowing := make(chan struct{}, 1)
			g := newHardGate(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/movie.mp4" {
					return // the newer session's segment
				}
				w.Header().Set("Content-Type", "video/mp4")
				rc := http.NewResponseController(w)
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				for {
					if _, err := w.Write([]byte("x")); err != nil {
						return
					}
					_ = rc.Flush()
					select {
					case flowing <- struct{}{}:
					default:
					}
					select {
					case <-r.Context().Done():
						return
					case <-tick.C:
					}
				}
			}, hardOptions{ttl: ttl, limit: 1, rules: rules, hardening: proxy.Hardening{HoldEvery: ttl / 3}})

			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/movie.mp4", nil)
			require.NoError(t, err)
			req.Header.Set("X-User-Id", "erin")
			req.Header.Set("X-Session-Id", "download")
			resp, err := g.client.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			<-flowing

			if rules.OnLimit == limiter.EvictOldest {
				resp, body := g.raw(t, "GET /seg-1.ts HTTP/1.1", "X-User-Id: erin", "X-Session-Id: newer")
				require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			} else {
				ended, err := g.memory.End(ctx, "erin", "download", limiter.EndedByOperator)
				require.NoError(t, err)
				require.True(t, ended)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			require.NoError(t, ctx.Err(), "the download flowed on after its session was ended")
		})
	}
}
