package identity

import (
	"net/http"
	"testing"
)

// BenchmarkCMCDHeader is the cost of reading a media request's CMCD headers
// as Shaka and dash.js send them: it must not allocate.
func BenchmarkCMCDHeader(b *testing.B) {
	h := http.Header{
		"Cmcd-Session": {`cid="movie-42",sf=d,sid="6e2fb550-c457-11e9-bb97-0800200c9a66",st=v,v=2`},
		"Cmcd-Object":  {`br=3200,d=4004,ot=v,tb=6000`},
		"Cmcd-Request": {`bl=(21300;v 19800;a),dl=1000,mtp=25400,su`},
	}
	b.ReportAllocs()
	for b.Loop() {
		if c := ReadCMCD(h, "token=abc"); c.SessionID == "" || c.Duration == 0 {
			b.Fatal("not read")
		}
	}
}

// BenchmarkCMCDQuery is the same in query mode, percent-encoded as hls.js
// sends it: decoded on the fly, without an allocation.
func BenchmarkCMCDQuery(b *testing.B) {
	q := "token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln&CMCD=" + hlsjsQuery
	b.ReportAllocs()
	for b.Loop() {
		if c := ReadCMCD(nil, q); c.SessionID == "" || c.Duration == 0 {
			b.Fatal("not read")
		}
	}
}
