package proxy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestHeadersEndedAcrossReads cuts answers at every pair of places, as TCP
// may deliver them, and checks that the end of the headers is seen in the
// read that brings it, where it is, and in no read before it.
func TestHeadersEndedAcrossReads(t *testing.T) {
	for _, answer := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody",
		"HTTP/1.1 200 OK\nContent-Length: 4\n\nbody",
		"HTTP/1.1 200 OK\nA: \r\nB: x\n\r\nbody\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
	} {
		end := headersEnd(answer)
		for i := 1; i < len(answer); i++ {
			for j := i + 1; j <= len(answer); j++ {
				c := &watchedConn{}
				reads := []string{answer[:i], answer[i:j]}
				for k, r := range reads {
					got := c.headersEnd([]byte(r))
					upTo := len(reads[0])
					if k == 1 {
						upTo = j
					}
					before := upTo - len(r)
					want := -1
					if before < end && end <= upTo {
						want = end - before
					}
					if !assert.Equal(t, want, got, "%q cut at %d and %d, read %d", answer, i, j, k) {
						return
					}
					if got >= 0 {
						break
					}
				}
			}
		}
	}
}

// headersEnd is where the blank line of answer ends, found the slow way.
func headersEnd(answer string) int {
	lines := strings.SplitAfter(answer, "\n")
	n := 0
	for i, l := range lines {
		n += len(l)
		if i > 0 && (l == "\n" || l == "\r\n") {
			return n
		}
	}
	return -1
}
