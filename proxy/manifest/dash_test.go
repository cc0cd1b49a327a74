package manifest

import (
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// UpdateGolden is shared with the external test package (hls_test.go): one
// -update flag rewrites every golden file of the package.
var UpdateGolden = flag.Bool("update", false, "rewrite the golden files under testdata")

const (
	testHost = "stream.example.com"
	testPair = "tkn=TOKEN"
)

// rewriteMPD runs body through the rewriter, reading the source through
// wrap and the output readSize bytes at a time.
func rewriteMPD(t testing.TB, in []byte, wrap func(io.Reader) io.Reader, readSize int, pairs []string, sessionID string) []byte {
	t.Helper()
	r := newMPDReader(io.NopCloser(wrap(bytes.NewReader(in))), false, testHost, pairs, sessionID)
	defer r.Close()
	var out bytes.Buffer
	buf := make([]byte, readSize)
	for {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.Bytes()
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
}

func identityReader(r io.Reader) io.Reader { return r }

func TestMPDRewritingGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file string
		pairs      []string
		sessionID  string
	}{
		{name: "ffmpeg-timeline", file: "ffmpeg-timeline.mpd", pairs: []string{testPair}},
		{name: "ffmpeg-number", file: "ffmpeg-number.mpd", pairs: []string{testPair}},
		{name: "features", file: "features.mpd", pairs: []string{testPair}},
		{name: "not-an-mpd", file: "not-an-mpd.xml", pairs: []string{testPair}},
		{name: "cmcd-session", file: "cmcd-session.mpd", pairs: []string{"sg_session=S3ss10n", testPair}, sessionID: "S3ss10n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, err := os.ReadFile(filepath.Join("testdata", "dash", tc.file))
			require.NoError(t, err)
			got := rewriteMPD(t, in, identityReader, 32<<10, tc.pairs, tc.sessionID)
			golden := filepath.Join("testdata", "dash", tc.name+".golden")
			if *UpdateGolden {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
			for _, v := range []struct {
				name string
				wrap func(io.Reader) io.Reader
				size int
			}{{"one byte at a time", iotest.OneByteReader, 7}, {"halves", iotest.HalfReader, 1}, {"data with EOF", iotest.DataErrReader, 4096}} {
				assert.Equal(t, string(want), string(rewriteMPD(t, in, v.wrap, v.size, tc.pairs, tc.sessionID)), v.name)
			}
		})
	}
}

func TestMPDRewritingCases(t *testing.T) {
	t.Parallel()
	const head = `<MPD xmlns="urn:mpeg:dash:schema:mpd:2011">`
	for _, tc := range []struct {
		name, in, want string
		pair           string
	}{
		{name: "template placeholders kept", in: head + `<SegmentTemplate media="$RepresentationID$/$Bandwidth$/$Time$-$Number%05d$.m4s"/>`,
			want: head + `<SegmentTemplate media="$RepresentationID$/$Bandwidth$/$Time$-$Number%05d$.m4s?tkn=TOKEN"/>`},
		{name: "a dollar in the pair is doubled in templates only", pair: "tkn=a$b",
			in:   head + `<SegmentTemplate media="s-$Number$.m4s"/><SegmentURL media="s.m4s"/>`,
			want: head + `<SegmentTemplate media="s-$Number$.m4s?tkn=a$$b"/><SegmentURL media="s.m4s?tkn=a$b"/>`},
		{name: "escaped query gets an escaped separator", in: head + `<SegmentURL media="a.m4s?x=1&amp;y=2"/>`,
			want: head + `<SegmentURL media="a.m4s?x=1&amp;y=2&amp;tkn=TOKEN"/>`},
		{name: "our pair is not repeated", in: head + `<SegmentURL media="a.m4s?tkn=old&amp;x=1"/>`,
			want: head + `<SegmentURL media="a.m4s?x=1&amp;tkn=TOKEN"/>`},
		{name: "another host is left alone", in: head + `<BaseURL>https://cdn.example.org/v/</BaseURL>`,
			want: head + `<BaseURL>https://cdn.example.org/v/</BaseURL>`},
		{name: "a template under another host's BaseURL is left alone",
			in:   head + `<BaseURL>https://cdn.thirdparty.example/v/</BaseURL><Period><AdaptationSet><SegmentTemplate media="seg-$Number$.m4s" initialization="init.mp4"/></AdaptationSet></Period></MPD>`,
			want: head + `<BaseURL>https://cdn.thirdparty.example/v/</BaseURL><Period><AdaptationSet><SegmentTemplate media="seg-$Number$.m4s" initialization="init.mp4"/></AdaptationSet></Period></MPD>`},
		{name: "another host's BaseURL reaches as far as its parent",
			in: head + `<Period><AdaptationSet><BaseURL>//cdn.example.org/a/</BaseURL><Representation><BaseURL>hi/</BaseURL></Representation>` +
				`<SegmentTemplate media="a-$Number$.m4s" initialization="https://stream.example.com/a/init.mp4"/></AdaptationSet>` +
				`<AdaptationSet><SegmentTemplate media="v-$Number$.m4s"/></AdaptationSet></Period><Period><BaseURL>p2/</BaseURL></Period></MPD>`,
			want: head + `<Period><AdaptationSet><BaseURL>//cdn.example.org/a/</BaseURL><Representation><BaseURL>hi/</BaseURL></Representation>` +
				`<SegmentTemplate media="a-$Number$.m4s" initialization="https://stream.example.com/a/init.mp4?tkn=TOKEN"/></AdaptationSet>` +
				`<AdaptationSet><SegmentTemplate media="v-$Number$.m4s?tkn=TOKEN"/></AdaptationSet></Period><Period><BaseURL>p2/?tkn=TOKEN</BaseURL></Period></MPD>`},
		{name: "a Location on another host is no base", in: head + `<Location>https://other.example.net/m.mpd</Location><SegmentURL media="s.m4s"/>`,
			want: head + `<Location>https://other.example.net/m.mpd</Location><SegmentURL media="s.m4s?tkn=TOKEN"/>`},
		{name: "same host, default port", in: head + `<BaseURL>https://STREAM.example.com:443/v/</BaseURL>`,
			want: head + `<BaseURL>https://STREAM.example.com:443/v/?tkn=TOKEN</BaseURL>`},
		{name: "other attributes untouched", in: head + `<SegmentURL mediaRange="0-99" media = 'a.m4s' x:media="b"/>`,
			want: head + `<SegmentURL mediaRange="0-99" media = 'a.m4s?tkn=TOKEN' x:media="b"/>`},
		{name: "a quote in a value is escaped for its quotes", pair: "tkn=it's",
			in:   head + `<SegmentURL media='a.m4s'/>`,
			want: head + `<SegmentURL media='a.m4s?tkn=it&apos;s'/>`},
		{name: "an unknown entity is left alone", in: head + `<SegmentURL media="&x;.m4s"/>`,
			want: head + `<SegmentURL media="&x;.m4s"/>`},
		{name: "a BaseURL interrupted by a comment is left alone", in: head + `<BaseURL>v/<!--c-->w/</BaseURL>`,
			want: head + `<BaseURL>v/<!--c-->w/</BaseURL>`},
		{name: "self-closing and empty BaseURL", in: head + `<BaseURL/><BaseURL></BaseURL><BaseURL>  </BaseURL>`,
			want: head + `<BaseURL/><BaseURL></BaseURL><BaseURL>  </BaseURL>`},
		{name: "a tag cut by the end of the body passes as it is", in: head + `<SegmentURL media="a`,
			want: head + `<SegmentURL media="a`},
		{name: "comment ends counted across dashes", in: head + `<!-- <SegmentURL media="a"/> --->` + `<SegmentURL media="b"/>`,
			want: head + `<!-- <SegmentURL media="a"/> --->` + `<SegmentURL media="b?tkn=TOKEN"/>`},
		{name: "CDATA with brackets", in: head + `<x><![CDATA[ ]] ]]] <SegmentURL media="a"/> ]]]></x><SegmentURL media="b"/>`,
			want: head + `<x><![CDATA[ ]] ]]] <SegmentURL media="a"/> ]]]></x><SegmentURL media="b?tkn=TOKEN"/>`},
		{name: "a '>' inside an attribute value", in: head + `<SegmentURL title="a>b" media="c"/>`,
			want: head + `<SegmentURL title="a>b" media="c?tkn=TOKEN"/>`},
		{name: "no MPD element", in: `<?xml version="1.0"?><!-- x --><SegmentURL media="c"/>`,
			want: `<?xml version="1.0"?><!-- x --><SegmentURL media="c"/>`},
		{name: "a byte-order mark and a prefix", in: "\xef\xbb\xbf<d:MPD xmlns:d=\"urn:mpeg:dash:schema:mpd:2011\"><d:BaseURL>v/</d:BaseURL>",
			want: "\xef\xbb\xbf<d:MPD xmlns:d=\"urn:mpeg:dash:schema:mpd:2011\"><d:BaseURL>v/?tkn=TOKEN</d:BaseURL>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pair := tc.pair
			if pair == "" {
				pair = testPair
			}
			got := rewriteMPD(t, []byte(tc.in), identityReader, 4096, []string{pair}, "")
			assert.Equal(t, tc.want, string(got))
			got = rewriteMPD(t, []byte(tc.in), iotest.OneByteReader, 3, []string{pair}, "")
			assert.Equal(t, tc.want, string(got), "one byte at a time")
		})
	}
}

// An overlong tag or text passes on unchanged, and the rewriting resumes
// after it.
func TestMPDRewritingOverlongTokens(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", mpdTokenMax+10)
	in := `<MPD><SegmentURL media="a" title="` + long + `"/><BaseURL>` + long + `/</BaseURL><SegmentURL media="b"/></MPD>`
	want := `<MPD><SegmentURL media="a" title="` + long + `"/><BaseURL>` + long + `/</BaseURL><SegmentURL media="b?tkn=TOKEN"/></MPD>`
	assert.Equal(t, want, string(rewriteMPD(t, []byte(in), identityReader, 1000, []string{testPair}, "")))
	assert.Equal(t, want, string(rewriteMPD(t, []byte(in), iotest.HalfReader, 777, []string{testPair}, "")))
}

func TestMPDRewritingGzip(t *testing.T) {
	t.Parallel()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, err := zw.Write([]byte(`<MPD><BaseURL>v/</BaseURL></MPD>`))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	r := newMPDReader(io.NopCloser(&z), true, testHost, []string{testPair}, "")
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	assert.Equal(t, `<MPD><BaseURL>v/?tkn=TOKEN</BaseURL></MPD>`, string(got))

	r = newMPDReader(io.NopCloser(strings.NewReader("not gzip")), true, testHost, []string{testPair}, "")
	_, err = io.ReadAll(r)
	assert.Error(t, err)
}

// The rewriter passes on what has arrived without waiting for the rest of
// the body: a live MPD is never held whole.
func TestMPDRewritingStreams(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	r := newMPDReader(pr, false, testHost, []string{testPair}, "")
	t.Cleanup(func() { _ = r.Close() })
	go func() {
		_, _ = pw.Write([]byte(`<MPD><SegmentURL media="a"/><SegmentURL med`))
	}()
	got := make([]byte, 0, 64)
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 64)
	for !bytes.Contains(got, []byte(`<SegmentURL media="a?tkn=TOKEN"/>`)) {
		require.True(t, time.Now().Before(deadline), "got only %q", got)
		n, err := r.Read(buf)
		require.NoError(t, err)
		got = append(got, buf[:n]...)
	}
	go func() {
		_, _ = pw.Write([]byte(`ia="b"/></MPD>`))
		_ = pw.Close()
	}()
	rest, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, `<MPD><SegmentURL media="a?tkn=TOKEN"/><SegmentURL media="b?tkn=TOKEN"/></MPD>`, string(got)+string(rest))
}

func TestMPDReaderClose(t *testing.T) {
	t.Parallel()
	r := newMPDReader(io.NopCloser(strings.NewReader("<MPD><BaseURL>a</BaseURL></MPD>")), false, testHost, []string{testPair}, "")
	_, err := r.Read(make([]byte, 8))
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, r.Close(), "a second Close")
	_, err = r.Read(make([]byte, 8))
	assert.ErrorIs(t, err, io.ErrClosedPipe, "a Read after Close")
}
