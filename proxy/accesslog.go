package proxy

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// Decisions of the gate as the access log's streamgate.decision names them.
const (
	DecisionNew              = "new"
	DecisionRefresh          = "refresh"
	DecisionRejected         = "rejected"
	DecisionEnded            = "ended"
	DecisionInvalid          = "invalid"
	DecisionStoreUnavailable = "store_unavailable"
)

// DefaultAccessLogBuffer is how many lines may wait for the writer before
// new ones are dropped. They take memory only while they wait (lineQueue).
const DefaultAccessLogBuffer = 8192

// AccessLogOptions configures NewAccessLog.
type AccessLogOptions struct {
	// Writer receives one JSON line per request, from one goroutine only,
	// through a buffer flushed whenever no line is waiting.
	Writer io.Writer
	// Buffer is how many lines may wait; default DefaultAccessLogBuffer.
	Buffer int
	// Registerer gets streamgate_access_log_dropped_total; nil registers nothing.
	Registerer prometheus.Registerer
	// Logger reports the first write error; nil discards it.
	Logger *slog.Logger
}

// AccessLog writes one line per proxy-listener request with Elastic Common
// Schema field names. The request path only copies a few fields into a
// bounded queue; one goroutine formats and writes them, so a slow or stuck
// writer costs dropped lines (counted), never a stalled request.
type AccessLog struct {
	queue   lineQueue
	out     *bufio.Writer
	dropped prometheus.Counter
	logger  *slog.Logger
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// NewAccessLog starts the writing goroutine; Close stops it.
func NewAccessLog(opts AccessLogOptions) *AccessLog {
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultAccessLogBuffer
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l := &AccessLog{
		queue: lineQueue{max: opts.Buffer},
		out:   bufio.NewWriterSize(opts.Writer, 64<<10),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "streamgate_access_log_dropped_total",
			Help: "Access log lines dropped because the writer fell behind (-access-log).",
		}),
		logger: opts.Logger,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(l.dropped)
	}
	go l.drain()
	return l
}

// Handler wraps next so that each request it serves is logged.
func (l *AccessLog) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		aw := writerPool.Get().(*accessWriter)
		*aw = accessWriter{ResponseWriter: w}
		start := time.Now()
		// Deferred so that a response aborted by a panic (http.ErrAbortHandler) is logged too.
		defer func() {
			e := accessEntry{
				start: start, duration: time.Since(start),
				method: r.Method, path: r.URL.Path, remoteAddr: r.RemoteAddr,
				userAgent: firstHeader(r.Header, "User-Agent"),
				status:    aw.status, bytes: aw.bytes, rec: aw.rec,
			}
			if e.status == 0 {
				e.status = http.StatusOK
			}
			// Nothing holds the writer once the handler has returned.
			*aw = accessWriter{}
			writerPool.Put(aw)
			if !l.queue.push(&e) {
				l.dropped.Inc()
			}
		}()
		next.ServeHTTP(aw, r)
	})
}

// Close writes the lines already queued and stops the goroutine, giving up
// when ctx ends (a writer that blocks forever). Lines logged after Close are
// dropped and counted.
func (l *AccessLog) Close(ctx context.Context) error {
	l.once.Do(func() { close(l.stop) })
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drainInterval is how often the goroutine wakes to write what is queued.
// Waking on a tick rather than on each line keeps the request path to an
// append under a lock: a send that had to wake a parked reader would cost
// a futex call per request.
const drainInterval = 10 * time.Millisecond

// lineQueue holds the lines waiting for the writer. A channel of Buffer
// lines kept its whole buffer live, 8,192 lines of 184 bytes with pointers
// in each, which the collector scanned on every cycle and paced the heap
// by: 4–5 MiB more resident memory with the log on, under the playlist
// benchmark. The lines wait in a slice instead, which the writer swaps for
// the one it has just written: two slices as long as what waits between
// two ticks, a hundred lines at 10,000 requests a second.
type lineQueue struct {
	mu      sync.Mutex
	pending []accessEntry
	max     int
}

// push queues e, unless max lines wait already.
func (q *lineQueue) push(e *accessEntry) bool {
	q.mu.Lock()
	ok := len(q.pending) < q.max
	if ok {
		q.pending = append(q.pending, *e)
	}
	q.mu.Unlock()
	return ok
}

// swap returns the lines waiting and queues the next ones in spare; last
// says nothing will be written after these, so that push refuses the next.
func (q *lineQueue) swap(spare []accessEntry, last bool) []accessEntry {
	q.mu.Lock()
	lines := q.pending
	q.pending = spare[:0]
	if last {
		q.max = 0
	}
	q.mu.Unlock()
	return lines
}

// keptLines is the longest slice the writer keeps for reuse however little
// it held; a longer one goes once a tick fills less than a quarter of it, so
// that a burst's memory, or a stalled writer's, goes with it.
const keptLines = 1024

func (l *AccessLog) drain() {
	defer close(l.done)
	var buf []byte
	f := &lineFormatter{}
	failed := false
	check := func(err error) {
		if err != nil && !failed {
			failed = true
			l.logger.Warn("access log not written", "err", err)
		}
	}
	tick := time.NewTicker(drainInterval)
	defer tick.Stop()
	var spare []accessEntry
	for {
		stopping := false
		select {
		case <-tick.C:
		case <-l.stop:
			stopping = true
		}
		lines := l.queue.swap(spare, stopping)
		for i := range lines {
			buf = f.appendLine(buf[:0], &lines[i])
			_, err := l.out.Write(buf)
			check(err)
		}
		clear(lines) // what the lines point to may go
		spare = lines
		if cap(lines) > keptLines && len(lines) < cap(lines)/4 {
			spare = nil // the burst is over: its memory goes
		}
		check(l.out.Flush())
		if stopping {
			return
		}
	}
}

// accessRecord is what the gate tells the access log about a request.
type accessRecord struct {
	decision          string
	userID, sessionID string
	// client is the address -trusted-proxies made of X-Forwarded-For, when
	// the peer is a trusted proxy; source.ip is then the client's, not the proxy's.
	client netip.Addr
}

type accessEntry struct {
	start                               time.Time
	duration                            time.Duration
	method, path, remoteAddr, userAgent string
	status                              int
	bytes                               int64
	rec                                 accessRecord
}

// writerPool saves the one allocation per request the access log would add.
var writerPool = sync.Pool{New: func() any { return new(accessWriter) }}

// accessWriter counts what goes out and carries the gate's record. It keeps
// Flusher, and the rest through Unwrap for http.ResponseController.
type accessWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	rec    accessRecord
}

func (w *accessWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *accessWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom passes a spliced body on (splice.go), counting it.
func (w *accessWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := readFrom(w.ResponseWriter, src)
	w.bytes += n
	return n, err
}

func (w *accessWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *accessWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// noteDecision tells the access log, when there is one around w, how the
// gate decided and for whom. Without an access log it costs a type switch.
func noteDecision(w http.ResponseWriter, decision, userID, sessionID string) {
	if x, ok := writerOf[*accessWriter](w); ok {
		x.rec = accessRecord{decision: decision, userID: userID, sessionID: sessionID, client: x.rec.client}
	}
}

// noteClient tells the access log the client address the gate believed.
func noteClient(w http.ResponseWriter, client netip.Addr) {
	if x, ok := writerOf[*accessWriter](w); ok {
		x.rec.client = client
	}
}

// appendAccessLine formats one line. The field names are ECS's, flat with
// dots (Elasticsearch and Filebeat's expand_keys read them as objects). The
// path carries no query, where a token may travel; the session appears only
// as its handle.
func (f *lineFormatter) appendLine(b []byte, e *accessEntry) []byte {
	b = append(b, `{"@timestamp":"`...)
	b = f.appendTime(b, e.start)
	b = append(b, `","http.request.method":`...)
	b = appendJSONString(b, e.method)
	b = append(b, `,"url.path":`...)
	b = appendJSONString(b, e.path)
	b = append(b, `,"http.response.status_code":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"http.response.body.bytes":`...)
	b = strconv.AppendInt(b, e.bytes, 10)
	b = append(b, `,"event.duration":`...)
	b = strconv.AppendInt(b, int64(e.duration), 10)
	ip := e.remoteAddr
	if e.rec.client.IsValid() {
		ip = e.rec.client.String()
	} else if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	if ip != "" {
		b = append(b, `,"source.ip":`...)
		b = appendJSONString(b, ip)
	}
	if e.userAgent != "" {
		b = append(b, `,"user_agent.original":`...)
		b = appendJSONString(b, e.userAgent)
	}
	if e.rec.userID != "" {
		b = append(b, `,"user.id":`...)
		b = appendJSONString(b, e.rec.userID)
	}
	if e.rec.decision != "" {
		b = append(b, `,"streamgate.decision":`...)
		b = appendJSONString(b, e.rec.decision)
	}
	if e.rec.sessionID != "" {
		b = append(b, `,"streamgate.session":"`...)
		// SessionHandle, without its allocations.
		f.scratch = append(append(append(f.scratch[:0], e.rec.userID...), 0), e.rec.sessionID...)
		sum := sha256.Sum256(f.scratch)
		b = hex.AppendEncode(b, sum[:6])
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// lineFormatter keeps what the writing goroutine reuses from line to line.
type lineFormatter struct {
	scratch []byte
	// sec and prefix are the last second formatted, "2006-01-02T15:04:05":
	// formatting a time costs more than the rest of a line, and lines come
	// many to a second.
	sec    int64
	prefix []byte
}

// appendTime appends t in UTC as RFC 3339 with nanoseconds.
func (f *lineFormatter) appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	if sec := t.Unix(); sec != f.sec || f.prefix == nil {
		f.sec = sec
		f.prefix = t.AppendFormat(f.prefix[:0], "2006-01-02T15:04:05")
	}
	b = append(b, f.prefix...)
	ns := t.Nanosecond()
	b = append(b, '.')
	for d := 100_000_000; d > 0; d /= 10 {
		b = append(b, byte('0'+ns/d%10))
	}
	return append(b, 'Z')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
