package manifest

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"sync"
)

// mpdTokenMax bounds what the DASH rewriter holds of one start tag or one
// BaseURL text: a longer one passes on unchanged. Real ones are far shorter
// (a SegmentTemplate is a few hundred bytes), and the bound keeps a hostile
// origin from growing our buffers.
const mpdTokenMax = 64 << 10

// mpdChunk is how much of the origin's body one Read takes in.
const mpdChunk = 32 << 10

// mpdBuffers are a reader's buffers, pooled: an MPD is rewritten on every
// reload of a live stream.
type mpdBuffers struct {
	in, out, pending, scratch, scratch2 []byte
}

var mpdPool = sync.Pool{New: func() any { return &mpdBuffers{in: make([]byte, mpdChunk)} }}

// mpdState is where the rewriter stands in the XML.
type mpdState uint8

const (
	mpdText    mpdState = iota // character data
	mpdOpen                    // after '<', the markup's kind not yet known
	mpdTag                     // in a start tag, gathered in pending
	mpdTagPass                 // in a start tag passed on as it is
	mpdEnd                     // in an end tag
	mpdComment                 // in <!-- -->
	mpdCDATA                   // in <![CDATA[ ]]>
	mpdPI                      // in <? ?>
	mpdDecl                    // in <!DOCTYPE …> or another declaration
)

// mpdReader is a DASH MPD body with query pairs added to every same-host
// URI (BaseURL and Location text, SegmentTemplate@media, @initialization,
// @index, @bitstreamSwitching, SegmentURL@media and @index, and @sourceURL
// of Initialization, RepresentationIndex and BitstreamSwitching),
// produced as the origin's body arrives: never read whole, a start tag at a
// time. Everything else is passed on byte for byte: comments, CDATA,
// namespaces, whitespace, entities. A body whose first element is not MPD
// passes unchanged.
type mpdReader struct {
	body io.ReadCloser // the origin's body
	gzip bool          // body is gzip-encoded; decoded on the first Read
	src  io.Reader     // nil until opened
	bufs *mpdBuffers   // nil until opened and once closed

	uris      []uriRewriter // for URIs
	templates []uriRewriter // for templates: a '$' in a pair doubled
	sessionID string        // put in CMCDParameters@sessionID when set
	location  string        // a dynamic MPD's own URI, for a Location; empty: none

	out []byte // rewritten bytes not yet read: out[off:]
	off int
	err error

	st      mpdState
	pending []byte // the start tag or URI text being gathered
	quote   byte   // the quote an attribute value is in, or 0
	match   int    // how much of a comment's, CDATA's or PI's end has been seen
	depth   int    // '[' nesting in a declaration
	named   bool   // the start tag's name is complete
	uriText bool   // the text being gathered is a BaseURL or Location
	textLen int    // in mpdOpen after a URI text: its length in pending
	started bool   // the first element has been seen
	// opened counts the elements open; slash says that the start tag being
	// passed on ended its last chunk in '/', so that a '>' next closes it.
	opened int
	slash  bool
	// baseText is set when the URI text being gathered is a BaseURL's.
	baseText bool
	// foreignAt is the depth (opened) of the element in which a BaseURL
	// pointed away from the request's host, 0 for none: within it a
	// relative URI may resolve against that base, and is left alone.
	foreignAt   int
	passthrough bool // not an MPD: copy the rest as is

	scratch, scratch2 []byte
}

// newMPDReader rewrites the MPD in body for a request to requestHost: each
// pair ("name=value", escaped for a query) is added to the URIs that point
// back at that host, replacing one of the same name. A non-empty sessionID
// is also put in an existing ServiceDescription's CMCDParameters@sessionID,
// where players that read it (dash.js) take their CMCD session id from.
func newMPDReader(body io.ReadCloser, gzipped bool, requestHost string, pairs []string, sessionID string) *mpdReader {
	r := &mpdReader{body: body, gzip: gzipped, sessionID: sessionID}
	for _, p := range pairs {
		r.uris = append(r.uris, newURIRewriter(requestHost, p))
		// In a template, '$' starts an identifier; "$$" is a dollar sign.
		r.templates = append(r.templates, newURIRewriter(requestHost, strings.ReplaceAll(p, "$", "$$")))
	}
	return r
}

// Read implements io.Reader.
func (r *mpdReader) Read(b []byte) (int, error) {
	for r.off == len(r.out) {
		if r.err != nil {
			return 0, r.err
		}
		r.fill()
	}
	n := copy(b, r.out[r.off:])
	r.off += n
	return n, nil
}

// fill rewrites the next chunk of the body.
func (r *mpdReader) fill() {
	r.out, r.off = r.out[:0], 0
	if r.bufs == nil {
		if r.err = r.open(); r.err != nil {
			return
		}
	}
	n, err := r.src.Read(r.bufs.in)
	r.feed(r.bufs.in[:n])
	if err == io.EOF {
		// What was held is passed on: a body cut inside a tag is not ours
		// to repair.
		r.out = append(r.out, r.pending...)
		r.pending = r.pending[:0]
	}
	r.err = err
}

func (r *mpdReader) open() error {
	if r.body == nil {
		return io.ErrClosedPipe
	}
	r.src = r.body
	if r.gzip {
		zr, err := gzip.NewReader(r.body)
		if err != nil {
			return err
		}
		r.src = zr
	}
	r.src = &capped{r: r.src, left: MaxManifest}
	r.bufs = mpdPool.Get().(*mpdBuffers)
	r.out, r.pending, r.scratch, r.scratch2 = r.bufs.out[:0], r.bufs.pending[:0], r.bufs.scratch[:0], r.bufs.scratch2[:0]
	return nil
}

// Close implements io.Closer.
func (r *mpdReader) Close() error {
	if r.bufs != nil {
		// Buffers grown by a hostile MPD are left to the collector.
		if cap(r.out) <= 4*mpdChunk && cap(r.pending) <= 2*mpdTokenMax {
			r.bufs.out, r.bufs.pending, r.bufs.scratch, r.bufs.scratch2 = r.out[:0], r.pending[:0], r.scratch[:0], r.scratch2[:0]
			mpdPool.Put(r.bufs)
		}
		r.bufs = nil
		r.out, r.off, r.pending, r.scratch, r.scratch2 = nil, 0, nil, nil, nil
	}
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	return err
}

// feed runs the state machine over one chunk, appending to r.out.
func (r *mpdReader) feed(in []byte) {
	for len(in) > 0 {
		if r.passthrough {
			r.out = append(r.out, in...)
			return
		}
		switch r.st {
		case mpdText:
			i := bytes.IndexByte(in, '<')
			text := in
			if i >= 0 {
				text = in[:i]
			}
			if r.uriText {
				r.gather(text)
			} else {
				r.out = append(r.out, text...)
			}
			if i < 0 {
				return
			}
			// A URI text is rewritten once its end tag follows: classify
			// decides.
			r.textLen = len(r.pending)
			r.pending = append(r.pending, '<')
			r.st, in = mpdOpen, in[i+1:]
		case mpdOpen:
			r.pending = append(r.pending, in[0])
			in = in[1:]
			r.classify()
		case mpdTag:
			in = r.tag(in)
		case mpdTagPass:
			in = r.tagPass(in)
		case mpdEnd:
			i := bytes.IndexByte(in, '>')
			if i < 0 {
				r.out = append(r.out, in...)
				return
			}
			r.out = append(r.out, in[:i+1]...)
			r.st, in = mpdText, in[i+1:]
			r.closeElement()
		case mpdComment:
			in = r.until(in, "-->")
		case mpdCDATA:
			in = r.until(in, "]]>")
		case mpdPI:
			in = r.until(in, "?>")
		case mpdDecl:
			in = r.decl(in)
		}
	}
}

// gather holds text of a URI that is still arriving; past the bound it is
// passed on as it is.
func (r *mpdReader) gather(text []byte) {
	if len(r.pending)+len(text) > mpdTokenMax {
		r.out = append(r.out, r.pending...)
		r.out = append(r.out, text...)
		r.pending, r.uriText = r.pending[:0], false
		return
	}
	r.pending = append(r.pending, text...)
}

// classify decides what markup r.pending starts, once it can tell.
func (r *mpdReader) classify() {
	if r.uriText {
		if len(r.pending) < r.textLen+2 {
			return
		}
		text := r.pending[:r.textLen]
		if r.pending[r.textLen+1] == '/' {
			r.out = r.appendURIText(r.out, text)
		} else {
			r.out = append(r.out, text...) // not a plain text: left alone
		}
		r.pending = append(r.pending[:0], r.pending[r.textLen:]...)
		r.uriText = false
	}
	p := r.pending
	next := mpdDecl
	switch {
	case len(p) == 2 && p[1] == '/':
		next = mpdEnd
	case len(p) == 2 && p[1] == '?':
		next = mpdPI
	case len(p) == 2 && isNameStart(p[1]):
		r.st, r.named, r.quote = mpdTag, false, 0
		return
	case len(p) == 2 && p[1] != '!':
		next = mpdText // a stray '<': not ours to judge
	case hasPrefixOrIsPrefix(p, "<!--"):
		if len(p) < 4 {
			return
		}
		next = mpdComment
	case hasPrefixOrIsPrefix(p, "<![CDATA["):
		if len(p) < 9 {
			return
		}
		next = mpdCDATA
	}
	r.out = append(r.out, p...)
	r.pending = r.pending[:0]
	r.st, r.match, r.depth, r.quote = next, 0, 0, 0
}

func hasPrefixOrIsPrefix(p []byte, s string) bool {
	if len(p) <= len(s) {
		return string(p) == s[:len(p)]
	}
	return string(p[:len(s)]) == s
}

// until passes markup on up to and including end, which may be split
// across chunks.
func (r *mpdReader) until(in []byte, end string) []byte {
	for i, c := range in {
		switch {
		case c == end[r.match]:
			r.match++
		case r.match == 2 && c == end[0] && end[0] == end[1]:
			// "--->" or "]]]>": the last two still count
		case c == end[0]:
			r.match = 1
		default:
			r.match = 0
		}
		if r.match == len(end) {
			r.out = append(r.out, in[:i+1]...)
			r.st, r.match = mpdText, 0
			return in[i+1:]
		}
	}
	r.out = append(r.out, in...)
	return nil
}

// decl passes a declaration on up to its '>', past any internal subset.
func (r *mpdReader) decl(in []byte) []byte {
	for i, c := range in {
		switch {
		case r.quote != 0:
			if c == r.quote {
				r.quote = 0
			}
		case c == '"' || c == '\'':
			r.quote = c
		case c == '[':
			r.depth++
		case c == ']' && r.depth > 0:
			r.depth--
		case c == '>' && r.depth == 0:
			r.out = append(r.out, in[:i+1]...)
			r.st = mpdText
			return in[i+1:]
		}
	}
	r.out = append(r.out, in...)
	return nil
}

// tagPass passes a start tag on up to its '>'.
func (r *mpdReader) tagPass(in []byte) []byte {
	i := 0
	for {
		var j int
		if r.quote != 0 {
			j = bytes.IndexByte(in[i:], r.quote)
		} else {
			j = bytes.IndexAny(in[i:], "\"'>")
		}
		if j < 0 {
			r.out = append(r.out, in...)
			r.slash = r.quote == 0 && len(in) > 0 && in[len(in)-1] == '/'
			return nil
		}
		i += j
		switch c := in[i]; {
		case r.quote != 0:
			r.quote = 0
		case c == '>':
			r.out = append(r.out, in[:i+1]...)
			r.st = mpdText
			if !(i > 0 && in[i-1] == '/' || i == 0 && r.slash) {
				r.opened++
			}
			r.slash = false
			return in[i+1:]
		default:
			r.quote = c
		}
		i++
	}
}

// tag gathers a start tag. Once its name is known, one the rewriter has no
// business with is passed on as it arrives; one it rewrites is held to its
// '>', up to mpdTokenMax.
func (r *mpdReader) tag(in []byte) []byte {
	scan := in
	if room := mpdTokenMax - len(r.pending); len(scan) > room {
		scan = scan[:room]
	}
	for i, c := range scan {
		switch {
		case r.quote != 0:
			if c == r.quote {
				r.quote = 0
			}
			continue
		case c == '"' || c == '\'':
			r.quote = c
			continue
		case c == '>':
			r.pending = append(r.pending, in[:i+1]...)
			r.out = r.appendTag(r.out, r.pending)
			if !bytes.HasSuffix(r.pending, []byte("/>")) {
				r.opened++
			}
			r.pending = r.pending[:0]
			r.st = mpdText
			return in[i+1:]
		}
		if !r.named && !isNameByte(c) {
			r.named = true
			r.pending = append(r.pending, in[:i]...)
			if r.nameNotOurs(r.pending) {
				r.out = append(r.out, r.pending...)
				r.pending = r.pending[:0]
				r.st, r.slash = mpdTagPass, false
			}
			return in[i:]
		}
	}
	if len(scan) < len(in) {
		// Past the bound: pass it all on, as it is, to the tag's end.
		r.out = append(r.out, r.pending...)
		r.out = append(r.out, scan...)
		r.pending = r.pending[:0]
		r.st, r.slash = mpdTagPass, r.quote == 0 && len(scan) > 0 && scan[len(scan)-1] == '/'
		return in[len(scan):]
	}
	r.pending = append(r.pending, in...)
	return nil
}

// nameNotOurs reports, for a tag whose name is complete, that the rewriter
// leaves it as it is. The first element decides whether this is an MPD.
func (r *mpdReader) nameNotOurs(tag []byte) bool {
	if !r.started {
		return false // appendTag decides
	}
	return mpdElementOf(localName(tagName(tag))) == elemOther
}

// closeElement notes an end tag: an element closed, and with it, perhaps,
// the scope of a BaseURL that pointed away.
func (r *mpdReader) closeElement() {
	r.opened = max(r.opened-1, 0)
	if r.opened < r.foreignAt {
		r.foreignAt = 0
	}
}
