package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStatusShowsTheNetworksOfEachSession: behind a trusted proxy, a session
// played from two client networks at once is shown with both in the NETWORKS
// column and flagged; one played from one network shows 1.
func TestStatusShowsTheNetworksOfEachSession(t *testing.T) {
	t.Parallel()
	origin := newOrigin(t, segmentOrigin)
	in := start(t, "-upstream", origin.URL, "-admin-token", "s3cret", "-trusted-proxies", "127.0.0.1/32")
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(client.CloseIdleConnections)
	from := func(session, xff string) {
		req, err := http.NewRequest(http.MethodGet, in.proxyURL+"/seg-1.ts", nil)
		require.NoError(t, err)
		req.Header.Set("X-User-Id", "alice")
		req.Header.Set("X-Session-Id", session)
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := client.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	from("tv", "203.0.113.9")
	from("tv", "198.51.100.9") // another /24 while tv plays
	from("phone", "203.0.113.9")
	from("phone", "203.0.113.10") // the same /24

	code, out, errs := status(t, nil, "-admin", in.adminURL, "-token", "s3cret", "alice")
	require.Equal(t, 0, code, errs)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5, out)
	assert.Regexp(t, `^SESSION\s+STARTED\s+LAST SEEN\s+EXPIRES IN\s+DEVICE\s+ADDRESS\s+NETWORKS$`, lines[2])
	assert.Regexp(t, regexp.MustCompile(`^tv\s.*\s203\.0\.113\.9\s+2 \(shared\?\)$`), lines[3])
	assert.Regexp(t, regexp.MustCompile(`^phone\s.*\s203\.0\.113\.9\s+1$`), lines[4])
}
