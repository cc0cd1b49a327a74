// Command origin is the benchmark's origin: a ~2 KiB HLS playlist at
// /playlist.m3u8 and 256 KiB segments at /seg.ts, served from memory so that
// the origin costs the same for every target.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "listen address")
	flag.Parse()
	playlist := makePlaylist()
	segment := make([]byte, 256<<10)
	for i := range segment {
		segment[i] = byte(i)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, ".m3u8"):
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			w.Header().Set("Content-Length", strconv.Itoa(len(playlist)))
			_, _ = w.Write(playlist)
		case strings.HasSuffix(r.URL.Path, ".ts"):
			w.Header().Set("Content-Type", "video/mp2t")
			w.Header().Set("Content-Length", strconv.Itoa(len(segment)))
			_, _ = w.Write(segment)
		default:
			http.NotFound(w, r)
		}
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("origin listening on %s", ln.Addr())
	log.Fatal((&http.Server{Handler: h}).Serve(ln))
}

// makePlaylist returns a live media playlist of about 2 KiB.
func makePlaylist() []byte {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:1000\n")
	for i := 0; b.Len() < 2000; i++ {
		b.WriteString("#EXTINF:4.000,\nsegment-" + strconv.Itoa(1000+i) + "-1080p-avc1.ts\n")
	}
	return []byte(b.String())
}
