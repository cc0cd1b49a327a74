package proxy_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/limitertest"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/proxytest"
)

// panicky is an upstream that fails in the ways a handler can.
func panicky(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/panic":
		panic("something broke")
	case "/panic-error":
		panic(errors.New("an error value"))
	case "/panic-after-hints":
		w.Header().Set("Link", "</master.m3u8>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints) // informational: the answer is still to come
		panic("something broke")
	case "/abort":
		panic(http.ErrAbortHandler)
	case "/panic-mid-body":
		w.Header().Set("Content-Type", "video/mp2t")
		_, _ = io.WriteString(w, "half a segm")
		w.(http.Flusher).Flush()
		panic("origin went away mid-body")
	default:
		_, _ = io.WriteString(w, "fine")
	}
}

// newPanickyServer is the proxy listener's chain, as run() builds it, with a
// panicking handler in place of the reverse proxy.
func newPanickyServer(t *testing.T) (*httptest.Server, *limitertest.SyncBuffer, *http.Client) {
	t.Helper()
	store, err := limiter.NewMemory(limiter.MemoryOptions{TTL: testTTL, SweepInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	logs := &limitertest.SyncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	gate := proxy.Gate(proxy.GateOptions{
		Store: store, Identity: identity.NewHeaderIdentity("X-User-Id", "X-Session-Id"),
		Limit: 3, Metrics: proxy.NewMetrics(prometheus.NewRegistry(), store), Logger: logger,
	})
	srv := proxytest.StartServer(t, proxy.Handler(logger, gate, http.HandlerFunc(panicky)), logger)
	return srv, logs, proxytest.NewClient(t)
}

func panickyRequest(t *testing.T, srv *httptest.Server, path string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("X-User-Id", "alice")
	req.Header.Set("X-Session-Id", "tv")
	return req
}

func TestRecoverTurnsAPanicIntoA500(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/panic", "/panic-error", "/panic-after-hints"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			srv, logs, client := newPanickyServer(t)
			resp, body := proxytest.Do(t, client, panickyRequest(t, srv, path))
			proxytest.AssertProblem(t, resp, body, http.StatusInternalServerError)
			assert.True(t, containsAll(logs.String(), `"level":"ERROR"`, `"msg":"handler panic"`, `"path":"`+path+`"`, `"stack":`), logs.String())

			resp, body = proxytest.Do(t, client, panickyRequest(t, srv, "/next"))
			assert.Equal(t, http.StatusOK, resp.StatusCode, "the process keeps serving")
			assert.Equal(t, "fine", string(body))
		})
	}
}

func TestRecoverReRaisesErrAbortHandler(t *testing.T) {
	t.Parallel()
	srv, logs, client := newPanickyServer(t)
	resp, err := client.Do(panickyRequest(t, srv, "/abort"))
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err, "net/http closes the connection without an answer")
	assert.NotContains(t, logs.String(), "handler panic", "an abort is not a failure of the gate")

	resp, body := proxytest.Do(t, client, panickyRequest(t, srv, "/next"))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "fine", string(body))
}

func TestRecoverAbortsAResponseAlreadyStarted(t *testing.T) {
	t.Parallel()
	srv, logs, client := newPanickyServer(t)
	resp, err := client.Do(panickyRequest(t, srv, "/panic-mid-body"))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the status had gone out")
	_, err = io.ReadAll(resp.Body)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "the player sees a broken body, not a short one it might trust")
	assert.Contains(t, logs.String(), "handler panic")
}

func TestRecoverDirect(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.DiscardHandler)
	tests := []struct {
		name  string
		h     http.HandlerFunc
		panic any // what escapes Recover; nil for none
		code  int
	}{
		{name: "no panic", h: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }, code: http.StatusTeapot},
		{name: "a panic before the answer", h: func(http.ResponseWriter, *http.Request) { panic("x") }, code: http.StatusInternalServerError},
		{name: "ErrAbortHandler", h: func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }, panic: http.ErrAbortHandler},
		{name: "a panic after the status", h: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			panic("x")
		}, panic: http.ErrAbortHandler},
		{name: "a panic after a flush", h: func(w http.ResponseWriter, _ *http.Request) {
			w.(http.Flusher).Flush()
			panic("x")
		}, panic: http.ErrAbortHandler},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := proxy.Recover(logger)(tt.h)
			rec := httptest.NewRecorder()
			serve := func() { h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil)) }
			if tt.panic != nil {
				assert.PanicsWithValue(t, tt.panic, serve)
				return
			}
			assert.NotPanics(t, serve)
			assert.Equal(t, tt.code, rec.Code)
		})
	}
}

// TestRecoverKeepsTheWritersAbilities: streaming and deadlines reach the
// real connection through the wrapper.
func TestRecoverKeepsTheWritersAbilities(t *testing.T) {
	t.Parallel()
	checks := make(chan error, 3)
	h := proxy.Recover(slog.New(slog.DiscardHandler))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, isFlusher := w.(http.Flusher)
		if !isFlusher {
			checks <- errors.New("not a Flusher")
		}
		rc := http.NewResponseController(w)
		checks <- rc.SetWriteDeadline(time.Now().Add(time.Minute))
		checks <- rc.Flush()
	}))
	srv := proxytest.StartServer(t, h, slog.New(slog.DiscardHandler))
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, _ := proxytest.Do(t, proxytest.NewClient(t), req)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NoError(t, <-checks)
	assert.NoError(t, <-checks)
}
