package identity

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const ms = time.Millisecond

// hlsjsQuery is a CMCD query parameter as hls.js and dash.js send it: the
// dictionary through encodeURIComponent, which leaves "(", ")" and "*" as
// they are.
const hlsjsQuery = "bl%3D2100%2Cbr%3D3200%2Ccid%3D%22movie-42%22%2Cd%3D4004%2Cmtp%3D25400%2Cot%3Dv%2Csf%3Dh%2C" +
	"sid%3D%226e2fb550-c457-11e9-bb97-0800200c9a66%22%2Csu%2Ctb%3D6000"

func TestCMCDHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     CMCD
	}{
		{name: "session header", in: `cid="movie-42",sf=d,sid="6e2fb550-c457-11e9-bb97-0800200c9a66",st=v,v=2`,
			want: CMCD{SessionID: "6e2fb550-c457-11e9-bb97-0800200c9a66", ContentID: "movie-42"}},
		{name: "object header", in: `br=3200,d=4004,ot=v,tb=6000`, want: CMCD{Duration: 4004 * ms, ObjectType: "v"}},
		{name: "v1 request header", in: `bl=21300,dl=1000,mtp=25400,su`, want: CMCD{BufferLength: 21300 * ms}},
		{name: "v2 buffer per track: the shortest", in: `bl=(2100;v 1800;a),br=(3000;v)`, want: CMCD{BufferLength: 1800 * ms}},
		{name: "v2 single track", in: `bl=(2000)`, want: CMCD{BufferLength: 2000 * ms}},
		{name: "empty list", in: `bl=(),d=10`, want: CMCD{Duration: 10 * ms}},
		{name: "all in one line, v2 example", in: `bl=(0),bs,cid="content-id-123",d=4000,mtp=(15000),nor=("seg-2.m4v" "seg-3.m4v"),ot=i,sid="session-id-123",st=v,sta=s,su,v=2`,
			want: CMCD{SessionID: "session-id-123", ContentID: "content-id-123", ObjectType: "i", Duration: 4000 * ms}},
		{name: "escapes", in: `sid="a\"b\\c"`, want: CMCD{SessionID: `a"b\c`}},
		{name: "spaces around commas, as a proxy joins headers", in: "sid=\"x\" ,\t d=5 , ot=m", want: CMCD{SessionID: "x", Duration: 5 * ms, ObjectType: "m"}},
		{name: "parameters on items", in: `d=4000;x=1;y,ot=av;z="q",sid="s";p`, want: CMCD{SessionID: "s", Duration: 4000 * ms, ObjectType: "av"}},
		{name: "a decimal keeps its integer part", in: `d=4004.5`, want: CMCD{Duration: 4004 * ms}},
		{name: "custom keys and booleans", in: `com.example-hello="world",com.example-flag,bs=?1,x=:aGk=:,sid="k"`, want: CMCD{SessionID: "k"}},
		{name: "the last of a repeated key", in: `sid="a",sid="b"`, want: CMCD{SessionID: "b"}},
		{name: "malformed entries are skipped", in: `d=abc,sid="ok",bl=-5,cid=unquoted,ot="v",x=1"2,d=7`, want: CMCD{SessionID: "ok", Duration: 7 * ms}},
		{name: "unterminated string", in: `d=3,sid="abc`, want: CMCD{Duration: 3 * ms}},
		{name: "comma inside a skipped string", in: `sid=="a,b",d=9`, want: CMCD{Duration: 9 * ms}},
		{name: "bad escape", in: `sid="a\nb",d=1`, want: CMCD{Duration: 1 * ms}},
		{name: "control character", in: "sid=\"a\x01\",d=2", want: CMCD{Duration: 2 * ms}},
		{name: "uppercase key", in: `SID="x",d=2`, want: CMCD{Duration: 2 * ms}},
		{name: "too many digits", in: `d=1234567890123456,bl=5`, want: CMCD{BufferLength: 5 * ms}},
		{name: "beyond a media time", in: `d=999999999999999`, want: CMCD{}},
		{name: "negative in a list", in: `bl=(100 -1)`, want: CMCD{}},
		{name: "sid not a string", in: `sid=abc,sid=12`, want: CMCD{}},
		{name: "empty", in: ``, want: CMCD{}},
		{name: "only commas", in: `,,,`, want: CMCD{}},
		{name: "trailing comma", in: `d=1,`, want: CMCD{Duration: 1 * ms}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got CMCD
			got.AddHeader(tc.in)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestCMCDQuery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, rawQuery string
		want           CMCD
	}{
		{name: "hls.js, dash.js: encodeURIComponent", rawQuery: "token=abc&CMCD=" + hlsjsQuery,
			want: CMCD{SessionID: "6e2fb550-c457-11e9-bb97-0800200c9a66", ContentID: "movie-42", ObjectType: "v",
				Duration: 4004 * ms, BufferLength: 2100 * ms}},
		{name: "parentheses escaped too", rawQuery: "CMCD=bl%3D%282000%29%2Csid%3D%22s%22",
			want: CMCD{SessionID: "s", BufferLength: 2000 * ms}},
		{name: "v2 lists with parameters", rawQuery: "CMCD=bl%3D(2100%3Bv%201800%3Ba)%2Cbr%3D(3000%3Bv)%2Ccid%3D%22c%22%2Cd%3D4000%2Cot%3Dv%2Csid%3D%22s%20p%5C%22q%22%2Cv%3D2",
			want: CMCD{SessionID: `s p"q`, ContentID: "c", ObjectType: "v", Duration: 4000 * ms, BufferLength: 1800 * ms}},
		{name: "not escaped at all", rawQuery: `CMCD=sid="x",d=5`, want: CMCD{SessionID: "x", Duration: 5 * ms}},
		{name: "plus is a space", rawQuery: `CMCD=sid%3D%22a+b%22`, want: CMCD{SessionID: "a b"}},
		{name: "lower-case hex", rawQuery: `CMCD=sid%3d%22x%22`, want: CMCD{SessionID: "x"}},
		{name: "the first CMCD parameter", rawQuery: `CMCD=sid%3D%22one%22&CMCD=sid%3D%22two%22`, want: CMCD{SessionID: "one"}},
		{name: "a parameter ParseQuery rejects is passed over", rawQuery: `CMCD=sid%3D%22a%2&CMCD=sid%3D%22b%22`, want: CMCD{SessionID: "b"}},
		{name: "semicolon", rawQuery: `CMCD=d%3D1;x&CMCD=d%3D2`, want: CMCD{Duration: 2 * ms}},
		{name: "other names", rawQuery: `cmcd=d%3D1&XCMCD=d%3D2`, want: CMCD{}},
		{name: "none", rawQuery: ``, want: CMCD{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, ReadCMCD(http.Header{}, tc.rawQuery))
		})
	}
}

func TestReadCMCDHeaders(t *testing.T) {
	t.Parallel()
	// As AVPlayer and dash.js in header mode send them; the query wins
	// over the headers for a key in both.
	req, err := http.NewRequest(http.MethodGet, "http://stream.example.com/v/3.m4s?CMCD=ot%3Dav", nil)
	require.NoError(t, err)
	req.Header.Set("CMCD-Session", `cid="movie-42",sid="s-1",sf=d`)
	req.Header.Set("CMCD-Object", `br=3000,d=2002,ot=v`)
	req.Header.Set("CMCD-Request", `bl=12000,su`)
	req.Header.Set("CMCD-Status", `bs,rtp=15000`)
	got := ReadCMCD(req.Header, req.URL.RawQuery)
	assert.Equal(t, CMCD{SessionID: "s-1", ContentID: "movie-42", ObjectType: "av", Duration: 2002 * ms, BufferLength: 12000 * ms}, got)
}

// FuzzCMCD checks the parser on any input: it never panics, and the query
// form decoded on the fly reads the same as the header form of the value
// url.ParseQuery decodes.
func FuzzCMCD(f *testing.F) {
	for _, s := range []string{
		hlsjsQuery, `sid%3D%22a%5C%22b%22`, `bl=(2100;v 1800;a),d=4000`, `sid="a\"b\\c",ot=v`,
		`d=4004.5,x=:aGk=:,b=?1`, `sid="abc`, `,,`, `sid=="a,b",d=9`, `a+b%20c`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var h CMCD
		h.AddHeader(raw)
		got := ReadCMCD(nil, "CMCD="+raw)
		vals, err := url.ParseQuery("CMCD=" + raw)
		if err != nil || len(vals["CMCD"]) == 0 {
			return
		}
		var want CMCD
		want.AddHeader(vals["CMCD"][0])
		if got != want {
			t.Fatalf("query %q read as %+v; its decoded value %q as %+v", raw, got, vals["CMCD"][0], want)
		}
	})
}
