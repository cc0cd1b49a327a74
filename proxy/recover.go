package proxy

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
)

// Recover turns a handler panic into a 500 problem answer and one error log
// line, so that one bad request never kills the process. http.ErrAbortHandler
// is re-raised: it is how httputil.ReverseProxy aborts a response whose body
// broke half-way, and net/http handles it by closing the connection.
func Recover(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rw := &recordingWriter{ResponseWriter: w}
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				logger.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				if rw.wroteHeader {
					// Too late for a status: abort so the client sees a broken
					// response rather than a truncated one it might trust.
					panic(http.ErrAbortHandler)
				}
				writeProblem(w, http.StatusInternalServerError, newProblem(http.StatusInternalServerError, "internal-error",
					"Internal error", "The gate failed to handle this request; the failure is logged."))
			}()
			next.ServeHTTP(rw, r)
		})
	}
}

// recordingWriter remembers whether the status line went out. It keeps the
// writer's optional abilities (Flush, Hijack, and the rest via Unwrap for
// http.ResponseController) so streaming is never buffered.
type recordingWriter struct {
	http.ResponseWriter
	wroteHeader bool
}

func (w *recordingWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// ReadFrom passes a spliced body on (splice.go).
func (w *recordingWriter) ReadFrom(src io.Reader) (int64, error) {
	w.wroteHeader = true
	return readFrom(w.ResponseWriter, src)
}

func (w *recordingWriter) Flush() {
	w.wroteHeader = true
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *recordingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
