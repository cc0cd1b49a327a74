package proxy

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBeginsRequestRefusesUploadText: the rest of an upload the origin has
// answered must not pass for a new request, or it arms the watch and the
// answer's body is cut one timeout later. Pieces of text bodies that an
// earlier check took for request lines, and request lines not whole.
func TestBeginsRequestRefusesUploadText(t *testing.T) {
	for _, p := range []string{
		"Hi how are you", "and his", "ing /usr/bin", "5 * 3",
		"GET /x HTTP/1.1",                // the line's end is not in this write
		"GET /x HTTP/1.0\r\n",            // Transport writes HTTP/1.1
		"GET http://o/x HTTP/1.1\r\n",    // absolute form: only to a proxy
		"GET /x\r\nHost: o HTTP/1.1\r\n", // " HTTP/1.1" is on another line
		"G(T /x HTTP/1.1\r\n",            // not a method
		" /x HTTP/1.1\r\n", "", "\r\n",
	} {
		assert.False(t, beginsRequest([]byte(p)), "%q", p)
	}
	for _, p := range []string{
		"GET /x HTTP/1.1\r\nHost: o\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\n",
		"POST /" + strings.Repeat("a", 8<<10) + " HTTP/1.1\r\n",
	} {
		assert.True(t, beginsRequest([]byte(p)), "%.40q", p)
	}
}

// TestTransportBeginsEachRequestInOneWrite holds beginsRequest to what
// net/http's Transport really writes on one keep-alive connection: each
// request's first write holds its request line whole, and none of an
// upload's writes passes for one, whatever its text.
func TestTransportBeginsEachRequestInOneWrite(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(origin.Close)
	var (
		mu     sync.Mutex
		writes [][]byte
		dials  int
	)
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		mu.Lock()
		dials++
		mu.Unlock()
		return recordingConn{Conn: c, record: func(p []byte) {
			mu.Lock()
			writes = append(writes, bytes.Clone(p))
			mu.Unlock()
		}}, err
	}}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	text := strings.Repeat("Hi how are you, and his ing /usr/bin is 5 * 3 or * /x h /y\n", 4<<10)
	long := "/" + strings.Repeat("l", 6<<10)
	reqs := []struct{ method, path, body string }{
		{"GET", "/first", ""},
		{"POST", "/upload", text},
		{"PUT", "/upload?again", text[7:]},
		{"GET", long, ""},
	}
	for _, r := range reqs {
		var body io.Reader
		if r.body != "" {
			body = strings.NewReader(r.body)
		}
		req, err := http.NewRequest(r.method, origin.URL+r.path, body)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
	}

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, dials, "the requests shared one connection")
	var begun []string
	for _, w := range writes {
		if beginsRequest(w) {
			line, _, _ := strings.Cut(string(w), "\r\n")
			begun = append(begun, line)
		}
	}
	want := make([]string, len(reqs))
	for i, r := range reqs {
		want[i] = r.method + " " + r.path + " HTTP/1.1"
	}
	assert.Equal(t, want, begun, "one write begins each request, in %d writes", len(writes))
}

// recordingConn hands each write to record.
type recordingConn struct {
	net.Conn
	record func([]byte)
}

func (c recordingConn) Write(p []byte) (int, error) {
	c.record(p)
	return c.Conn.Write(p)
}

// TestHeaderWatchWaitsForTheFinalAnswer reads answers as an origin may cut
// them over reads (net.Pipe gives one write to one read): an informational
// answer is not the answer, and the final one, once its headers came, is,
// even when its status line is cut or it shares a read with a 100
// Continue. After it, the upload's rest awaits nothing.
func TestHeaderWatchWaitsForTheFinalAnswer(t *testing.T) {
	for name, reads := range map[string][]string{
		"100 and 200 in one read": {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"},
		"103, then 200":           {"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"},
		"status line cut":         {"HTTP/1.1 ", "2", "00 OK\r\nContent-Length: 3\r\n\r\nabc"},
		"first bytes alone":       {"H", "TTP/1.1 204 No Content\r\n\r\n"},
	} {
		t.Run(name, func(t *testing.T) {
			ours, origin := net.Pipe()
			t.Cleanup(func() { _ = ours.Close(); _ = origin.Close() })
			go func() { _, _ = io.Copy(io.Discard, origin) }()
			go func() {
				for _, r := range reads {
					if _, err := origin.Write([]byte(r)); err != nil {
						return
					}
				}
			}()
			c := &watchedConn{Conn: ours, hw: newHeaderWatch(time.Hour)}
			_, err := c.Write([]byte("POST /up HTTP/1.1\r\nHost: o\r\nContent-Length: 8\r\n\r\n"))
			require.NoError(t, err)
			buf := make([]byte, 4096)
			for i := range reads {
				assert.Positive(t, c.since.Load(), "read %d: the final answer's headers are still awaited", i)
				_, err := c.Read(buf)
				require.NoError(t, err)
			}
			assert.Equal(t, int64(answeredMark), c.since.Load(), "the final answer's headers came")

			_, err = c.Write([]byte("the rest"))
			require.NoError(t, err)
			assert.Equal(t, int64(answeredMark), c.since.Load(), "the upload's rest awaits no answer")
		})
	}
}
