package manifest

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzDASHRewrite checks the MPD rewriter on any input: it never panics, its
// output does not depend on how the body arrives, it only ever adds the pair
// (with its separator), and in a document that parses it never gives the
// pair to a URI on another host.
func FuzzDASHRewrite(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "dash", "*.mpd"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		`<MPD><BaseURL>//evil.example/a/</BaseURL><BaseURL>/\evil.example/</BaseURL></MPD>`,
		`<MPD><SegmentURL media="https://stream.example.com:8443/x"/><SegmentURL media='a?b=1&amp;c'/></MPD>`,
		`<MPD><SegmentTemplate media="$Number$" initialization="&#x2F;&#x2F;evil.example/i"/></MPD>`,
		`<MPD><!-- --><![CDATA[<SegmentURL media="a"/>]]><?pi?><!DOCTYPE x [<!ELEMENT a "b>">]></MPD>`,
		`<MPD><BaseURL>a<b/>c</BaseURL><Location>x</Location>`,
		`<MPD><SegmentURL media="a`, `<`, `<!`, `<!-`, `<MPD>`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole := rewriteMPD(t, in, identityReader, 32<<10, []string{fuzzPair}, "")
		for _, v := range []struct {
			wrap func(io.Reader) io.Reader
			size int
		}{{iotest.OneByteReader, 7}, {iotest.HalfReader, 1}, {iotest.DataErrReader, 4096}} {
			if got := rewriteMPD(t, in, v.wrap, v.size, []string{fuzzPair}, ""); !bytes.Equal(got, whole) {
				t.Fatalf("output depends on how the body arrives:\n%q\n%q", whole, got)
			}
		}
		if !bytes.Contains(in, []byte("tkn")) && !bytes.Contains(in, []byte("&")) {
			// Without entities in the input, the only change is the pair,
			// its separator, and the escaping of a '<' in a rewritten value.
			norm := strings.NewReplacer(fuzzPair, "", "&amp;", "", "&lt;", "<", "?", "")
			if norm.Replace(string(whole)) != norm.Replace(string(in)) {
				t.Fatalf("changed beyond the pair:\n%q\n%q", in, whole)
			}
		}
		if !parses(in) {
			return
		}
		if !parses(whole) {
			t.Fatalf("a document that parsed no longer does:\n%q\n%q", in, whole)
		}
		checkHosts(t, whole)
	})
}

func parses(doc []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	for {
		_, err := d.Token()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// checkHosts fails when a URI holding the pair names another host.
func checkHosts(t *testing.T, doc []byte) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	var text strings.Builder
	check := func(uri string) {
		if !strings.Contains(uri, fuzzPair) {
			return
		}
		if u, err := url.Parse(strings.TrimSpace(uri)); err == nil && u.Host != "" && !strings.EqualFold(u.Hostname(), testHost) {
			t.Fatalf("the pair went to another host %q: %q", u.Host, uri)
		}
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			text.Reset()
			for _, a := range tok.Attr {
				check(a.Value)
			}
		case xml.CharData:
			text.Write(tok)
		case xml.EndElement:
			check(text.String())
		}
	}
}
