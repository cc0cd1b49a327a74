// Package demo is a synthetic HLS origin built into streamgate (-demo), so a
// new user can watch the gate work with curl and no origin of their own.
// Playlists are real HLS; segments are valid MPEG-TS made of null packets,
// generated once in memory.
package demo

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SegmentDuration is the length each segment claims to have.
const SegmentDuration = 4

// Segments is the number of segments of each rendition (a 2-minute VOD).
const Segments = 30

type rendition struct {
	name       string
	bandwidth  int
	resolution string
	segment    []byte
}

// Origin serves the demo playlists and segments.
type Origin struct {
	renditions []rendition
	modTime    time.Time
}

// New returns the demo origin.
func New() *Origin {
	o := &Origin{modTime: time.Now().UTC().Truncate(time.Second)}
	for _, r := range []struct {
		name, res string
		bw        int
	}{{"360p", "640x360", 800_000}, {"720p", "1280x720", 2_500_000}, {"1080p", "1920x1080", 5_000_000}} {
		o.renditions = append(o.renditions, rendition{name: r.name, bandwidth: r.bw, resolution: r.res,
			segment: tsSegment(r.bw * SegmentDuration / 8)})
	}
	return o
}

// tsSegment returns about size bytes of MPEG-TS null packets (PID 0x1FFF),
// which every demuxer accepts and skips.
func tsSegment(size int) []byte {
	const packet = 188
	n := max(size/packet, 1)
	b := make([]byte, n*packet)
	for i := 0; i < n; i++ {
		p := b[i*packet : (i+1)*packet]
		p[0], p[1], p[2], p[3] = 0x47, 0x1f, 0xff, 0x10|byte(i&0x0f)
		for j := 4; j < packet; j++ {
			p[j] = 0xff
		}
	}
	return b
}

func (o *Origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/")
	switch {
	case path == "" || path == "index.html":
		o.index(w)
	case path == "master.m3u8":
		o.master(w, r)
	default:
		name, file, ok := strings.Cut(path, "/")
		rd := o.rendition(name)
		if !ok || rd == nil {
			http.NotFound(w, r)
			return
		}
		if file == "index.m3u8" {
			o.media(w, r, rd)
			return
		}
		o.segment(w, r, rd, file)
	}
}

func (o *Origin) rendition(name string) *rendition {
	for i := range o.renditions {
		if o.renditions[i].name == name {
			return &o.renditions[i]
		}
	}
	return nil
}

func (o *Origin) index(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "streamgate demo origin: GET /master.m3u8, /{360p,720p,1080p}/index.m3u8, /{rendition}/seg-N.ts\n")
}

func (o *Origin) master(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	for _, rd := range o.renditions {
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,RESOLUTION=%s,CODECS=\"avc1.64001f,mp4a.40.2\"\n%s/index.m3u8\n",
			rd.bandwidth, rd.resolution, rd.name)
	}
	o.playlist(w, r, "master.m3u8", b.Bytes())
}

func (o *Origin) media(w http.ResponseWriter, r *http.Request, rd *rendition) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n", SegmentDuration)
	for i := 0; i < Segments; i++ {
		fmt.Fprintf(&b, "#EXTINF:%d.000,\nseg-%d.ts\n", SegmentDuration, i)
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	o.playlist(w, r, "index.m3u8", b.Bytes())
}

func (o *Origin) playlist(w http.ResponseWriter, r *http.Request, name string, body []byte) {
	w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
	w.Header().Set("Cache-Control", "max-age=2")
	http.ServeContent(w, r, name, o.modTime, bytes.NewReader(body))
}

func (o *Origin) segment(w http.ResponseWriter, r *http.Request, rd *rendition, file string) {
	num, ok := strings.CutPrefix(file, "seg-")
	num, ok2 := strings.CutSuffix(num, ".ts")
	n, err := strconv.Atoi(num)
	if !ok || !ok2 || err != nil || n < 0 || n >= Segments {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "video/mp2t")
	w.Header().Set("Cache-Control", "max-age=86400")
	// ServeContent answers Range requests with 206, as a CDN origin would.
	http.ServeContent(w, r, file, o.modTime, bytes.NewReader(rd.segment))
}
