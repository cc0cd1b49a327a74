package manifest

import (
	"bytes"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

const (
	fuzzHost = "stream.example.com"
	fuzzPair = "tkn=PAIRVALUE"
)

// rewriteAll runs a playlist body through the rewriter, reading the source
// through wrap and the output readSize bytes at a time.
func rewriteAll(t *testing.T, in []byte, wrap func(io.Reader) io.Reader, readSize int) []byte {
	t.Helper()
	p := newPlaylistReader(io.NopCloser(wrap(bytes.NewReader(in))), false, newURIRewriter(fuzzHost, fuzzPair))
	defer p.Close()
	var out bytes.Buffer
	buf := make([]byte, readSize)
	for {
		n, err := p.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.Bytes()
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
}

func stripQuerySeparators(s string) string {
	return strings.NewReplacer("?", "", "&", "").Replace(s)
}

// FuzzPlaylistRewrite checks the rewriter on any input: it never panics,
// its output does not depend on how the body arrives, it only ever adds the
// pair (and the separators before it) to a line, and it never adds it to a
// URI that net/url says is on another host.
func FuzzPlaylistRewrite(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "hls", "*.m3u8"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"#EXTM3U\nseg.ts\n",
		"#EXTM3U\r\n//evil.example/a.ts\r\n",
		"#EXTM3U\n/\\evil.example/a.ts\n",
		"#EXTM3U\n\t//evil.example/a.ts\n",
		"#EXTM3U\n#EXT-X-KEY:URI=\"//evil.example/k\",IV=0x1\n",
		"#EXTM3U\n#EXT-X-MAP:URI=\"a,b\",BYTERANGE=\"1@0\"\n",
		"#EXTM3U\nhttps://stream.example.com:8443/x.ts\n",
		"#EXTM3U\n{$v}x.ts\n/{$v}\nh{$v}\nhttps://stream.example.com{$v}/x\n",
		"#EXTM3U\nx.ts?tkn=old&tkn=older#f\n",
		"\xef\xbb\xbf#EXTM3U\nx.ts",
		"#EXTM3U",
		"not a playlist\nx.ts\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole := rewriteAll(t, in, func(r io.Reader) io.Reader { return r }, 32<<10)
		for _, v := range []struct {
			wrap func(io.Reader) io.Reader
			size int
		}{{iotest.OneByteReader, 7}, {iotest.HalfReader, 1}, {iotest.DataErrReader, 4096}} {
			if got := rewriteAll(t, in, v.wrap, v.size); !bytes.Equal(got, whole) {
				t.Fatalf("output depends on how the body arrives:\n%q\n%q", whole, got)
			}
		}
		inLines := strings.Split(string(in), "\n")
		outLines := strings.Split(string(whole), "\n")
		if len(inLines) != len(outLines) {
			t.Fatalf("%d lines became %d", len(inLines), len(outLines))
		}
		for i, il := range inLines {
			ol := outLines[i]
			if il == ol {
				continue
			}
			if !strings.Contains(ol, fuzzPair) {
				t.Fatalf("line %d changed without the pair: %q -> %q", i, il, ol)
			}
			if !strings.Contains(il, "tkn") && stripQuerySeparators(strings.ReplaceAll(ol, fuzzPair, "")) != stripQuerySeparators(il) {
				t.Fatalf("line %d changed beyond the pair: %q -> %q", i, il, ol)
			}
			uri := strings.Trim(il, " \t\r")
			if strings.HasPrefix(uri, "#") {
				continue
			}
			if u, err := url.Parse(uri); err == nil && u.Host != "" && !strings.EqualFold(u.Hostname(), fuzzHost) {
				t.Fatalf("the pair went to another host %q: %q -> %q", u.Host, il, ol)
			}
		}
	})
}
