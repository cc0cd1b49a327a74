// Command reference is the benchmark's reference: a bare, tuned
// httputil.ReverseProxy with no gate — pooled 32 KiB buffers and many idle
// upstream connections, as a careful operator would write it.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

type pool struct{ p sync.Pool }

func (b *pool) Get() []byte  { return b.p.Get().(*[32 << 10]byte)[:] }
func (b *pool) Put(s []byte) { b.p.Put((*[32 << 10]byte)(s)) }

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "listen address")
	upstream := flag.String("upstream", "", "origin URL")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil || target.Host == "" {
		log.Fatalf("bad -upstream %q", *upstream)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	t.DisableCompression = true
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport:  t,
		BufferPool: &pool{p: sync.Pool{New: func() any { return new([32 << 10]byte) }}},
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("reference listening on %s", ln.Addr())
	log.Fatal((&http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}).Serve(ln))
}
