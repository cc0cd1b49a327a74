package proxytest

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/proxy"
)

// StartServer serves h with the product's server limits on a loopback
// socket until the test ends.
func StartServer(t testing.TB, h http.Handler, logger *slog.Logger) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config = proxy.NewServer(h, logger)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// NewClient is a client of its own, whose idle connections are closed when
// the test ends so that no goroutine outlives it.
func NewClient(t testing.TB) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// Do sends req with c and returns the response with its whole body read.
func Do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

// ProblemOf decodes a problem answer.
func ProblemOf(t testing.TB, resp *http.Response, body []byte) map[string]any {
	t.Helper()
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), "body: %s", body)
	var p map[string]any
	require.NoError(t, json.Unmarshal(body, &p))
	return p
}

// AssertProblem checks an RFC 9457 answer and returns its decoded fields.
func AssertProblem(t testing.TB, resp *http.Response, body []byte, status int) map[string]any {
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

// MetricValue returns the value of one series of reg: a counter's or
// gauge's value, a histogram's sample count; 0 when the series does not
// exist. labels are name, value pairs.
func MetricValue(t testing.TB, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	require.Zero(t, len(labels)%2, "labels are name, value pairs")
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, labels) {
				switch {
				case m.Counter != nil:
					return m.Counter.GetValue()
				case m.Gauge != nil:
					return m.Gauge.GetValue()
				case m.Histogram != nil:
					return float64(m.Histogram.GetSampleCount())
				}
			}
		}
	}
	return 0
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i < len(labels); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
