package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httputil"
)

// A body of spliceMinBytes or more goes from the origin's socket to
// the player's with splice(2), through a pipe in the kernel, instead of
// being read into a buffer and written out again: side by side on 256 KiB
// segments (bench/), the two copies through user space were most of the
// proxy's CPU per segment. Smaller bodies are copied, as a splice costs
// more calls than it saves there.
const spliceMinBytes = 64 << 10

// spliceBody is the body of a large answer on a getTransport
// connection. Read serves whoever copies it the usual way; WriteTo sends
// what the connection's buffer holds and then hands the socket, limited to
// the rest of the body, to w's ReadFrom: net/http's, at the end of the
// chain of writers, splices a TCP source into a player's TCP connection.
type spliceBody struct {
	c    *originConn
	left int64
	done func(whole bool)
	over bool
}

func (b *spliceBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		b.finish(true)
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.c.br.Read(p)
	b.left -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // the origin closed before the end it announced
	}
	return n, err
}

// WriteTo sends the rest of the body to w.
func (b *spliceBody) WriteTo(w io.Writer) (int64, error) {
	var sent int64
	if k := min(int64(b.c.br.Buffered()), b.left); k > 0 {
		p, _ := b.c.br.Peek(int(k))
		n, err := w.Write(p)
		_, _ = b.c.br.Discard(n)
		b.left -= int64(n)
		sent += int64(n)
		if err != nil {
			return sent, err
		}
	}
	if b.left > 0 {
		n, err := readFrom(w, &io.LimitedReader{R: b.c.nc, N: b.left})
		b.left -= n
		sent += n
		if err != nil {
			return sent, err
		}
		if b.left > 0 {
			return sent, io.ErrUnexpectedEOF
		}
	}
	b.finish(true)
	return sent, nil
}

// Close drops the connection of a body not sent whole.
func (b *spliceBody) Close() error {
	b.finish(false)
	return nil
}

func (b *spliceBody) finish(whole bool) {
	if !b.over {
		b.over = true
		b.done(whole && b.left == 0)
	}
}

// readFrom hands src to w's ReadFrom when it has one, and copies it through
// a pooled buffer otherwise. The writers the gate wraps around a response
// have ReadFrom for this: each keeps its own account and passes src on.
func readFrom(w io.Writer, src io.Reader) (int64, error) {
	if rf, ok := w.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	buf := copyBuffers.Get().(*[copyBufferSize]byte)
	defer copyBuffers.Put(buf)
	return io.CopyBuffer(writerOnly{w}, src, buf[:])
}

// writerOnly hides a writer's ReadFrom, so that copying into it from
// ReadFrom does not come back to itself.
type writerOnly struct{ io.Writer }

// handOverKey is the context key of the request's untypedWriter, which
// takes a spliceBody over from the ReverseProxy.
type handOverKey struct{}

// handOver wraps the GET proxy's ModifyResponse: an answer whose body can
// be spliced leaves the ReverseProxy with an empty body, its headers
// (Content-Length among them) written as usual, and its body is sent once
// the ReverseProxy has returned (Upstream.ServeHTTP). The ReverseProxy would
// copy it through a buffer, and has no way to be told otherwise.
func handOver(next func(*http.Response) error) func(*http.Response) error {
	return func(resp *http.Response) error {
		if next != nil {
			if err := next(resp); err != nil {
				return err
			}
		}
		if b, ok := resp.Body.(*spliceBody); ok {
			if w, ok := resp.Request.Context().Value(handOverKey{}).(*untypedWriter); ok {
				w.body, resp.Body = b, http.NoBody
			}
		}
		return nil
	}
}

// serveGet proxies a GET through the GET proxy, then sends
// the body it handed over. A body that breaks half-way aborts the
// response, as the ReverseProxy does: the player's connection is cut, so
// that it cannot take what came for the whole.
func serveGet(gets *httputil.ReverseProxy, w *untypedWriter, r *http.Request) {
	gets.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), handOverKey{}, w)))
	b := w.body
	if b == nil {
		return
	}
	w.body = nil
	_, err := b.WriteTo(w)
	_ = b.Close()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
}

// isPlainGet reports whether r goes through the GET proxy: a GET without
// a body, not asking for an upgrade.
func isPlainGet(r *http.Request) bool {
	return r.Method == http.MethodGet && r.ContentLength == 0 && r.Header["Upgrade"] == nil
}
