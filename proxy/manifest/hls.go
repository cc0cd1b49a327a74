package manifest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"sync"
)

// A playlist line longer than this is passed on unchanged; real ones are far
// shorter, and the bound keeps a hostile origin from growing our buffers.
const playlistLineMax = 64 << 10

// playlistBatch is how much rewritten output one Read gathers from lines
// already received before handing it on.
const playlistBatch = 32 << 10

var playlistReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, playlistLineMax) }}

// playlistReader is an HLS playlist body with a query pair appended to every
// same-host URI, produced line by line as the origin's body arrives: never
// read whole, so a blocking LL-HLS reload or a long VOD playlist streams
// through. A body that does not start with #EXTM3U is passed on unchanged.
type playlistReader struct {
	body io.ReadCloser // the origin's body
	gzip bool          // body is gzip-encoded; decoded on the first Read
	br   *bufio.Reader // nil once closed
	uris uriRewriter

	out []byte // rewritten bytes not yet read: out[off:]
	off int
	err error

	started     bool // the first line has been seen
	passthrough bool // not a playlist: copy the rest as is
	midLine     bool // inside a line longer than playlistLineMax
}

func newPlaylistReader(body io.ReadCloser, gzipped bool, uris uriRewriter) *playlistReader {
	return &playlistReader{body: body, gzip: gzipped, uris: uris}
}

// Read implements io.Reader.
func (p *playlistReader) Read(b []byte) (int, error) {
	for p.off == len(p.out) {
		if p.err != nil {
			return 0, p.err
		}
		p.fill()
	}
	n := copy(b, p.out[p.off:])
	p.off += n
	return n, nil
}

// fill rewrites at least one line, and then every further line that has
// already arrived, so that the output flows in batches rather than a flush
// per line.
func (p *playlistReader) fill() {
	p.out, p.off = p.out[:0], 0
	if p.br == nil {
		if p.err = p.open(); p.err != nil {
			return
		}
	}
	for {
		line, err := p.br.ReadSlice('\n')
		switch {
		case err == bufio.ErrBufferFull:
			// Pass an overlong line on as it is, up to its end.
			if !p.started {
				p.started, p.passthrough = true, true
			}
			p.out = append(p.out, line...)
			p.midLine = true
			return
		case err != nil && err != io.EOF:
			p.err = err
			return
		}
		if len(line) > 0 {
			p.out = p.line(p.out, line)
		}
		if err == io.EOF {
			p.err = io.EOF
			return
		}
		if len(p.out) >= playlistBatch || !p.lineBuffered() {
			return
		}
	}
}

func (p *playlistReader) open() error {
	if p.body == nil {
		return io.ErrClosedPipe
	}
	var src io.Reader = p.body
	if p.gzip {
		zr, err := gzip.NewReader(p.body)
		if err != nil {
			return err
		}
		src = zr
	}
	p.br = playlistReaders.Get().(*bufio.Reader)
	p.br.Reset(&capped{r: src, left: MaxManifest})
	return nil
}

// lineBuffered reports whether a whole line has arrived, so that reading it
// will not wait on the origin.
func (p *playlistReader) lineBuffered() bool {
	buf, _ := p.br.Peek(p.br.Buffered())
	return bytes.IndexByte(buf, '\n') >= 0
}

// line appends line, rewritten, to dst.
func (p *playlistReader) line(dst, line []byte) []byte {
	if p.midLine {
		p.midLine = line[len(line)-1] != '\n'
		return append(dst, line...)
	}
	if !p.started {
		p.started = true
		p.passthrough = !isPlaylistHeader(line)
	}
	if p.passthrough {
		return append(dst, line...)
	}
	return p.uris.appendLine(dst, line)
}

// Close implements io.Closer.
func (p *playlistReader) Close() error {
	if p.br != nil {
		p.br.Reset(nil)
		playlistReaders.Put(p.br)
		p.br = nil
	}
	if p.body == nil {
		return nil
	}
	err := p.body.Close()
	p.body = nil
	return err
}

// isPlaylistHeader reports whether the first line is #EXTM3U (RFC 8216 §4.3.1.1).
func isPlaylistHeader(line []byte) bool {
	line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
	return string(bytes.TrimRight(line, " \t\r\n")) == "#EXTM3U"
}

// The attributes that hold URIs: URI (EXT-X-KEY, -MAP, -MEDIA,
// -I-FRAME-STREAM-INF, -SESSION-DATA, -SESSION-KEY, -PART, -PRELOAD-HINT,
// -RENDITION-REPORT), SERVER-URI (EXT-X-CONTENT-STEERING) and the
// interstitials' X-ASSET-URI and X-ASSET-LIST (EXT-X-DATERANGE).
func isURIAttribute(name []byte) bool {
	switch string(name) {
	case "URI", "SERVER-URI", "X-ASSET-URI", "X-ASSET-LIST":
		return true
	}
	return false
}

// appendLine appends one playlist line, its line ending kept, with its URI
// or its URI attributes rewritten.
func (w uriRewriter) appendLine(dst, line []byte) []byte {
	body := bytes.TrimRight(line, "\r\n")
	eol := line[len(body):]
	text := bytes.Trim(body, " \t")
	switch {
	case len(text) == 0:
		return append(dst, line...)
	case text[0] == '#':
		if !bytes.HasPrefix(text, []byte("#EXT")) ||
			(!bytes.Contains(text, []byte(`URI="`)) && !bytes.Contains(text, []byte(`X-ASSET-LIST="`))) {
			return append(dst, line...)
		}
		dst = w.appendAttributes(dst, body)
		return append(dst, eol...)
	}
	lead := len(body) - len(bytes.TrimLeft(body, " \t"))
	dst = append(dst, body[:lead]...)
	dst = w.appendURI(dst, text)
	dst = append(dst, body[lead+len(text):]...)
	return append(dst, eol...)
}

// appendAttributes rewrites the quoted URI attributes of a tag line
// (RFC 8216 §4.2: NAME=VALUE pairs separated by commas, where a quoted
// string holds no quote and may hold commas). Anything it does not
// understand is copied as it is.
func (w uriRewriter) appendAttributes(dst, tag []byte) []byte {
	colon := bytes.IndexByte(tag, ':')
	if colon < 0 {
		return append(dst, tag...)
	}
	dst = append(dst, tag[:colon+1]...)
	rest := tag[colon+1:]
	for len(rest) > 0 {
		eq := bytes.IndexByte(rest, '=')
		if eq < 0 {
			break
		}
		name := rest[:eq]
		if bytes.ContainsAny(name, `,"`) {
			break
		}
		dst = append(dst, rest[:eq+1]...)
		rest = rest[eq+1:]
		if len(rest) > 0 && rest[0] == '"' {
			end := bytes.IndexByte(rest[1:], '"')
			if end < 0 {
				break
			}
			value := rest[1 : 1+end]
			dst = append(dst, '"')
			if isURIAttribute(bytes.TrimSpace(name)) {
				dst = w.appendURI(dst, value)
			} else {
				dst = append(dst, value...)
			}
			dst = append(dst, '"')
			rest = rest[end+2:]
		}
		comma := bytes.IndexByte(rest, ',')
		if comma < 0 {
			break
		}
		dst = append(dst, rest[:comma+1]...)
		rest = rest[comma+1:]
	}
	return append(dst, rest...)
}
