package admin_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter/storetest"
	"github.com/streamgate/streamgate/proxy"
)

const testTTL = time.Minute

// testClock is a clock the tests move by hand.
type testClock = storetest.Clock

func newTestClock() *testClock {
	return storetest.NewClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
}

// startServer serves h with the product's server limits on a loopback socket.
func startServer(t *testing.T, h http.Handler, logger *slog.Logger) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config = proxy.NewServer(h, logger)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// newClient is a client of its own, whose idle connections are closed when
// the test ends so that no goroutine outlives it.
func newClient(t *testing.T) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

// assertProblem checks an RFC 9457 answer and returns its decoded fields.
func assertProblem(t *testing.T, resp *http.Response, body []byte, status int) map[string]any {
	t.Helper()
	assert.Equal(t, status, resp.StatusCode)
	assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	var p map[string]any
	require.NoError(t, json.Unmarshal(body, &p), "body: %s", body)
	assert.Equal(t, float64(status), p["status"])
	for _, field := range []string{"type", "title", "detail"} {
		v, ok := p[field].(string)
		if assert.True(t, ok, "field %s: %v", field, p[field]) {
			assert.NotEmpty(t, v, field)
		}
	}
	if typ, ok := p["type"].(string); ok {
		_, err := url.ParseRequestURI(typ)
		assert.NoError(t, err, "type is a URI")
	}
	return p
}
