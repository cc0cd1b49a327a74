package demo

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMediaLoadsAndLoopsWhole(t *testing.T) {
	rs, err := media()
	require.NoError(t, err)
	require.Len(t, rs, 3)
	for _, r := range rs {
		require.Len(t, r.segments, Segments, r.name)
		// Both tracks loop after exactly Segments × SegmentDuration seconds,
		// so the live loop keeps sound and picture together.
		assert.Equal(t, uint64(r.timescale)*Segments*SegmentDuration, r.loop, r.name)
		for i := range r.frags {
			assert.InDelta(t, SegmentDuration, r.duration(i), 0.022, "%s segment %d is within an AAC frame of 2 s", r.name, i)
			assert.False(t, bytes.Contains(r.segments[i][:64], []byte("sidx")), "sidx dropped")
		}
	}
	assert.Equal(t, "avc1.4d401e", rs[0].codec)
	assert.Equal(t, uint32(48000), rs[2].timescale)
	assert.Equal(t, rs[0].timescale, rs[1].timescale, "the video renditions share one SegmentTemplate")
	for i := range rs[0].frags {
		assert.Equal(t, rs[0].frags[i].duration, rs[1].frags[i].duration)
	}
}

func TestLiveSegmentRetimesOnlyTfdtAndMfhd(t *testing.T) {
	rs, err := media()
	require.NoError(t, err)
	for _, r := range rs {
		t.Run(r.name, func(t *testing.T) {
			const n = 3*Segments + 5 // the sixth segment of the fourth loop
			orig := r.segments[5]
			got, err := liveSegment(r, n)
			require.NoError(t, err)
			require.Len(t, got, len(orig))

			f, err := parseFragment(got, 0)
			require.NoError(t, err)
			assert.Equal(t, 3*r.loop+r.frags[5].baseTime, f.baseTime, "three whole loops later")
			assert.Equal(t, uint32(n+1), binary.BigEndian.Uint32(got[f.mfhdAt:]))
			assert.Equal(t, r.frags[5].duration, f.duration)

			// Nothing else moved: put the original fields back and compare.
			back, err := retime(got, f, r.frags[5].baseTime, binary.BigEndian.Uint32(orig[f.mfhdAt:]))
			require.NoError(t, err)
			assert.Equal(t, orig, back)
			assert.NotEqual(t, orig, got)

			// Consecutive numbers follow on without a gap, across a loop.
			last, err := liveSegment(r, 2*Segments-1)
			require.NoError(t, err)
			next, err := liveSegment(r, 2*Segments)
			require.NoError(t, err)
			lf, err := parseFragment(last, 0)
			require.NoError(t, err)
			nf, err := parseFragment(next, 0)
			require.NoError(t, err)
			assert.Equal(t, lf.baseTime+lf.duration, nf.baseTime)
		})
	}
}

// fragmentBytes builds a minimal moof (mfhd, traf with tfhd, tfdt of the
// given version, trun of two samples with explicit durations) and an mdat.
func fragmentBytes(tfdtVersion byte) []byte {
	boxOf := func(typ string, payload ...[]byte) []byte {
		body := bytes.Join(payload, nil)
		b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
		return append(append(b, typ...), body...)
	}
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	tfdt := boxOf("tfdt", []byte{tfdtVersion, 0, 0, 0}, u32(0), u32(7))
	if tfdtVersion == 0 {
		tfdt = boxOf("tfdt", []byte{0, 0, 0, 0}, u32(7))
	}
	trun := boxOf("trun", []byte{0, 0, 0x01, 0x00}, u32(2), u32(10), u32(30)) // sample-duration present
	traf := boxOf("traf", boxOf("tfhd", []byte{0, 0, 0, 0}, u32(1)), tfdt, trun)
	moof := boxOf("moof", boxOf("mfhd", []byte{0, 0, 0, 0}, u32(1)), traf)
	return append(moof, boxOf("mdat", []byte("xx"))...)
}

func TestParseFragmentAndRetime(t *testing.T) {
	tests := []struct {
		name    string
		version byte
		base    uint64
		wantErr bool
	}{
		{name: "64-bit tfdt", version: 1, base: 1 << 40},
		{name: "32-bit tfdt", version: 0, base: 1000},
		{name: "32-bit tfdt overflowing", version: 0, base: 1 << 33, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seg := fragmentBytes(tt.version)
			f, err := parseFragment(seg, 99)
			require.NoError(t, err)
			assert.Equal(t, uint64(7), f.baseTime)
			assert.Equal(t, uint64(40), f.duration, "durations from the trun, not the default")
			assert.Equal(t, 2, f.sampleCount)
			out, err := retime(seg, f, tt.base, 42)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			g, err := parseFragment(out, 99)
			require.NoError(t, err)
			assert.Equal(t, tt.base, g.baseTime)
			assert.Equal(t, uint32(42), binary.BigEndian.Uint32(out[g.mfhdAt:]))
			assert.Equal(t, fragmentBytes(tt.version), seg, "the input is not modified")
		})
	}
}

func TestParseFragmentRefusesBrokenBoxes(t *testing.T) {
	good := fragmentBytes(1)
	tests := []struct {
		name string
		seg  []byte
	}{
		{name: "empty", seg: nil},
		{name: "cut in a box header", seg: good[:5]},
		{name: "cut inside the moof", seg: good[:40]},
		{name: "a size past the end", seg: append([]byte{0xff, 0xff, 0xff, 0xf0}, good[4:]...)},
		{name: "a size smaller than its header", seg: append([]byte{0, 0, 0, 4}, good[4:]...)},
		{name: "no moof", seg: good[len(good)-10:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFragment(tt.seg, 1)
			assert.Error(t, err)
		})
	}
}

func TestParseInitReadsTimescaleAndCodec(t *testing.T) {
	rs, err := media()
	require.NoError(t, err)
	info, err := parseInit(rs[1].init)
	require.NoError(t, err)
	assert.Equal(t, uint32(12800), info.timescale)
	assert.Equal(t, "avc1.4d401e", info.codec, "H.264 Main, level 3.0")
	_, err = parseInit(rs[1].init[:100])
	assert.Error(t, err)
}
