package demo

import (
	"bytes"
	"fmt"
	"time"
)

// mpdTime formats an instant as an MPD xs:dateTime.
func mpdTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// mpdLive carries what a dynamic MPD adds to a static one.
type mpdLive struct {
	start time.Time // availabilityStartTime: segment number n starts at start + n × SegmentDuration
	now   time.Time // publishTime and the UTCTiming clock
}

// dashMPD returns the MPD of the media: one Period, one video AdaptationSet
// with a Representation per video rendition, one audio AdaptationSet. Each
// set has one SegmentTemplate (its renditions were cut alike) numbering
// segments from 0, as the files and the live timeline are numbered. live nil
// gives a static (VOD) MPD.
func dashMPD(renditions []*rendition, live *mpdLive) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011,http://dashif.org/guidelines/dash-if-simple"`)
	total := Segments * SegmentDuration
	if live == nil {
		fmt.Fprintf(&b, ` type="static" mediaPresentationDuration="PT%dS" minBufferTime="PT%dS">`+"\n", total, SegmentDuration)
	} else {
		fmt.Fprintf(&b, ` type="dynamic" availabilityStartTime="%s" publishTime="%s" minimumUpdatePeriod="PT%dS" timeShiftBufferDepth="PT%dS" suggestedPresentationDelay="PT%dS" minBufferTime="PT%dS">`+"\n",
			mpdTime(live.start), mpdTime(live.now), SegmentDuration, LiveWindow*SegmentDuration, LiveDelay*SegmentDuration, SegmentDuration)
	}
	b.WriteString(`  <Period id="0" start="PT0S">` + "\n")
	for i, k := range []kind{video, audio} {
		var set []*rendition
		for _, r := range renditions {
			if r.kind == k {
				set = append(set, r)
			}
		}
		if len(set) == 0 {
			continue
		}
		if k == video {
			last := set[len(set)-1]
			fmt.Fprintf(&b, `    <AdaptationSet id="%d" contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1" maxWidth="%d" maxHeight="%d" frameRate="25" par="16:9">`+"\n",
				i, last.width, last.height)
		} else {
			fmt.Fprintf(&b, `    <AdaptationSet id="%d" contentType="audio" mimeType="audio/mp4" segmentAlignment="true" startWithSAP="1" lang="und">`+"\n", i)
			b.WriteString(`      <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2"/>` + "\n")
		}
		writeTemplate(&b, set[0], live != nil)
		for _, r := range set {
			if k == video {
				fmt.Fprintf(&b, `      <Representation id="%s" codecs="%s" bandwidth="%d" width="%d" height="%d" sar="1:1"/>`+"\n",
					r.name, r.codec, r.peak, r.width, r.height)
			} else {
				fmt.Fprintf(&b, `      <Representation id="%s" codecs="%s" bandwidth="%d" audioSamplingRate="%d"/>`+"\n",
					r.name, r.codec, r.peak, r.timescale)
			}
		}
		b.WriteString("    </AdaptationSet>\n")
	}
	b.WriteString("  </Period>\n")
	if live != nil {
		// The player's clock may differ from the origin's; this one is what
		// the segment numbers follow. direct: the time is in the value.
		fmt.Fprintf(&b, `  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:direct:2014" value="%s"/>`+"\n", live.now.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	b.WriteString("</MPD>\n")
	return b.Bytes()
}

// writeTemplate writes the SegmentTemplate of an AdaptationSet whose
// renditions are timed like r. Live, every segment lasts SegmentDuration as
// far as the MPD tells (an audio segment is within a frame of it). The VOD
// lists each segment's exact duration in a SegmentTimeline instead: ffmpeg
// (5.1) reads a static duration-only template as having one segment more
// than ceil(mediaPresentationDuration / duration) and asks for it.
func writeTemplate(b *bytes.Buffer, r *rendition, live bool) {
	const names = `startNumber="0" initialization="$RepresentationID$/init.mp4" media="$RepresentationID$/seg-$Number$.m4s"`
	if live {
		fmt.Fprintf(b, `      <SegmentTemplate timescale="%d" duration="%d" %s/>`+"\n", r.timescale, uint64(r.timescale)*SegmentDuration, names)
		return
	}
	fmt.Fprintf(b, `      <SegmentTemplate timescale="%d" %s>`+"\n        <SegmentTimeline>\n", r.timescale, names)
	for i := 0; i < len(r.frags); {
		d, repeat := r.frags[i].duration, 0
		for i+repeat+1 < len(r.frags) && r.frags[i+repeat+1].duration == d {
			repeat++
		}
		if i == 0 {
			fmt.Fprintf(b, `          <S t="0" d="%d"`, d)
		} else {
			fmt.Fprintf(b, `          <S d="%d"`, d)
		}
		if repeat > 0 {
			fmt.Fprintf(b, ` r="%d"`, repeat)
		}
		b.WriteString("/>\n")
		i += repeat + 1
	}
	b.WriteString("        </SegmentTimeline>\n      </SegmentTemplate>\n")
}
