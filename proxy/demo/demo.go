// Package demo is the origin built into streamgate (-demo), so a new user
// can watch the gate work with curl or a real player and no origin of their
// own. It serves real H.264/AAC media, embedded in the binary (media/make.sh
// encodes it): CMAF fragments with the video in two renditions and the audio
// in a third, announced both by HLS playlists and by DASH MPDs, as a VOD and
// as a live stream that loops the same media in wall-clock time.
package demo

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// LiveWindow is the number of segments a live playlist lists, and the DASH
// time-shift buffer in segments.
const LiveWindow = 6

// LiveDelay is how many segments behind the live edge a DASH player is asked
// to play (suggestedPresentationDelay).
const LiveDelay = 3

// maxLiveSegment is the highest live segment number: its sequence number
// (n+1) must fit the 32 bits of mfhd.
const maxLiveSegment = 1<<32 - 2

// LiveStart is the default origin of the live timeline: live segment number
// n starts at LiveStart + n × SegmentDuration and carries the media of
// segment n mod Segments. A fixed instant, so that every replica and every
// restart agree on what is live now.
var LiveStart = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// Options configure an Origin. The zero value is the default.
type Options struct {
	// Now is the clock of the live stream; default time.Now.
	Now func() time.Time
	// LiveStart overrides the package's LiveStart when not zero.
	LiveStart time.Time
}

// Origin serves the demo playlists, manifests and segments.
type Origin struct {
	renditions []*rendition
	target     int
	modTime    time.Time
	now        func() time.Time
	liveStart  time.Time
	vodMaster  []byte
	vodMPD     []byte
}

// New returns the demo origin. It fails only if the embedded media is
// broken, which the package's tests would have caught.
func New(opts Options) (*Origin, error) {
	rs, err := media()
	if err != nil {
		return nil, err
	}
	o := &Origin{renditions: rs, target: targetDuration(rs), modTime: time.Now().UTC().Truncate(time.Second),
		now: opts.Now, liveStart: opts.LiveStart}
	if o.now == nil {
		o.now = time.Now
	}
	if o.liveStart.IsZero() {
		o.liveStart = LiveStart
	}
	o.vodMaster = hlsMaster(rs)
	o.vodMPD = dashMPD(rs, nil)
	return o, nil
}

// segmentStart is when live segment number n starts on the wall clock.
func segmentStart(start time.Time, n int64) time.Time {
	return start.Add(time.Duration(n) * SegmentDuration * time.Second)
}

// liveEdge returns the number of the newest live segment whose whole
// duration has passed at now: the last one a live playlist lists. It is -1
// before the first segment has ended.
func (o *Origin) liveEdge() int64 {
	elapsed := o.now().Sub(o.liveStart)
	if elapsed < SegmentDuration*time.Second {
		return -1
	}
	return int64(elapsed/(SegmentDuration*time.Second)) - 1
}

func (o *Origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	if p == "" || p == "index.html" {
		o.index(w)
		return
	}
	mode, rest, _ := strings.Cut(p, "/")
	live := mode == "live"
	if !live && mode != "vod" {
		http.NotFound(w, r)
		return
	}
	switch rest {
	case "master.m3u8":
		o.playlist(w, r, rest, o.vodMaster, live)
		return
	case "manifest.mpd":
		body := o.vodMPD
		if live {
			body = dashMPD(o.renditions, &mpdLive{start: o.liveStart, now: o.now()})
		}
		w.Header().Set("Content-Type", "application/dash+xml")
		o.serve(w, r, rest, body, live, 2)
		return
	}
	name, file, _ := strings.Cut(rest, "/")
	rd := o.rendition(name)
	if rd == nil {
		http.NotFound(w, r)
		return
	}
	switch {
	case file == "index.m3u8" && live:
		last := o.liveEdge()
		first := max(0, last-LiveWindow+1)
		o.playlist(w, r, file, hlsLive(rd, o.target, o.liveStart, first, last), live)
	case file == "index.m3u8":
		o.playlist(w, r, file, hlsVOD(rd, o.target), live)
	case file == "init.mp4":
		o.media(w, r, rd, file, rd.init)
	default:
		o.segment(w, r, rd, file, live)
	}
}

func (o *Origin) rendition(name string) *rendition {
	for _, r := range o.renditions {
		if r.name == name {
			return r
		}
	}
	return nil
}

func (o *Origin) index(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, `streamgate demo origin: %d s of H.264/AAC in %d s CMAF segments
  HLS  /vod/master.m3u8   /live/master.m3u8
  DASH /vod/manifest.mpd  /live/manifest.mpd
  media /{vod,live}/{180p,360p,audio}/{index.m3u8,init.mp4,seg-N.m4s}
`, Segments*SegmentDuration, SegmentDuration)
}

func (o *Origin) playlist(w http.ResponseWriter, r *http.Request, name string, body []byte, live bool) {
	w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
	o.serve(w, r, name, body, live, 2)
}

// serve answers with a manifest: a VOD's is cached for maxAge seconds; a
// live one changes every segment, so it is cached for at most one second
// and has no Last-Modified.
func (o *Origin) serve(w http.ResponseWriter, r *http.Request, name string, body []byte, live bool, maxAge int) {
	mod := o.modTime
	if live {
		mod, maxAge = time.Time{}, 1
	}
	w.Header().Set("Cache-Control", "max-age="+strconv.Itoa(maxAge))
	http.ServeContent(w, r, name, mod, bytes.NewReader(body))
}

// media answers with an init segment or a fragment. Every URL always has the
// same bytes (a live segment's number fixes its times), so they are cached
// for a day; ServeContent answers Range requests with 206, as a CDN would.
func (o *Origin) media(w http.ResponseWriter, r *http.Request, rd *rendition, name string, body []byte) {
	if rd.kind == audio {
		w.Header().Set("Content-Type", "audio/mp4")
	} else {
		w.Header().Set("Content-Type", "video/mp4")
	}
	w.Header().Set("Cache-Control", "max-age=86400")
	http.ServeContent(w, r, name, o.modTime, bytes.NewReader(body))
}

func (o *Origin) segment(w http.ResponseWriter, r *http.Request, rd *rendition, file string, live bool) {
	num, ok := strings.CutPrefix(file, "seg-")
	num, ok2 := strings.CutSuffix(num, ".m4s")
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || !ok2 || err != nil || n < 0 || num != strconv.FormatInt(n, 10) {
		http.NotFound(w, r)
		return
	}
	if !live {
		if n >= Segments {
			http.NotFound(w, r)
			return
		}
		o.media(w, r, rd, file, rd.segments[n])
		return
	}
	// A live segment is served even before its time: its bytes are known,
	// and ffmpeg's DASH reader (5.1) does not wait for a segment's
	// availability time but asks ahead, skipping every number answered with
	// 404 until it is far ahead of the clock. Players that do wait are told
	// what is live by the playlists and the MPD's clock.
	if n > maxLiveSegment {
		http.NotFound(w, r)
		return
	}
	body, err := liveSegment(rd, n)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	o.media(w, r, rd, file, body)
}

// liveSegment returns live segment number n: the media of segment n mod
// Segments, moved to loop n / Segments by adding whole loops to its decode
// time, with n+1 as its fragment sequence number, so that times and
// sequence numbers keep increasing across loops.
func liveSegment(rd *rendition, n int64) ([]byte, error) {
	loop, i := uint64(n/Segments), n%Segments
	f := rd.frags[i]
	return retime(rd.segments[i], f, loop*rd.loop+f.baseTime, uint32(n+1))
}
