#!/usr/bin/env bash
# Encodes the demo origin's media once, with Debian's ffmpeg; the output is
# committed beside this script and embedded in the binary (go:embed), so a
# build never runs ffmpeg. Rerun it only to change the media:
#
#   bash proxy/demo/media/make.sh
#
# What it makes: 64 s of a test pattern with a running clock (testsrc2, with
# the frame number and the time burnt in) and a stereo tone that beeps every
# second, cut into 2 s CMAF fragments, one folder per rendition:
#
#   180p/  320x180 H.264 Main, 25 fps, ~90 kb/s
#   360p/  640x360 H.264 Main, 25 fps, ~180 kb/s
#   audio/ AAC-LC stereo 48 kHz, 64 kb/s
#
# each holding init.mp4 and seg-0.m4s … seg-31.m4s (moof+mdat). A keyframe
# opens every segment (closed GOP of 50 frames, no scene cuts, no B-frames,
# so decode and presentation times are equal). 64 s, not 60, because it is a
# whole number of AAC frames (3000 × 1024 samples): the live origin loops the
# media, and a loop that is not whole in both tracks would let the sound drift
# from the picture by a frame every minute. The sound is one frame shorter
# than 64 s so that, with the encoder's one frame of priming, the audio track
# lasts exactly 64 s.
#
# Deterministic: one thread, bitexact flags, no metadata, so a rerun with the
# same ffmpeg gives the same bytes.
set -euo pipefail

cd "$(dirname "$0")"
command -v ffmpeg >/dev/null || { echo "make.sh: needs ffmpeg (Debian package ffmpeg)" >&2; exit 1; }

dur=64
fps=25
gop=$((2 * fps))
# 64 s of sound less one AAC frame of 1024 samples at 48 kHz.
audio_samples=$((dur * 48000 - 1024))

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ffmpeg -hide_banner -nostdin -v error -y \
  -f lavfi -i "testsrc2=size=640x360:rate=${fps}:duration=${dur},drawtext=text='streamgate demo %{pts\\:hms}  frame %{n}':x=10:y=h-30:fontsize=20:fontcolor=white:box=1:boxcolor=black@0.6" \
  -f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=48000,atrim=end_sample=${audio_samples},pan=stereo|c0=c0|c1=c0" \
  -filter_complex "[0:v]split=2[hi][lo];[lo]scale=320:180:flags=bicubic[lo2]" \
  -map '[lo2]' -map '[hi]' -map 1:a \
  -c:v libx264 -preset slow -profile:v main -level:v 3.0 -pix_fmt yuv420p -bf 0 \
  -g "$gop" -keyint_min "$gop" -sc_threshold 0 -x264-params "threads=1:open-gop=0" \
  -b:v:0 90k -maxrate:v:0 110k -bufsize:v:0 180k \
  -b:v:1 180k -maxrate:v:1 220k -bufsize:v:1 360k \
  -c:a aac -b:a 64k -ar 48000 -ac 2 \
  -threads 1 -fflags +bitexact -flags +bitexact -map_metadata -1 -map_chapters -1 \
  -f dash -seg_duration 2 -use_template 1 -use_timeline 0 -single_file 0 \
  -adaptation_sets "id=0,streams=v id=1,streams=a" \
  -init_seg_name 'init-$RepresentationID$.mp4' -media_seg_name 'seg-$RepresentationID$-$Number$.m4s' \
  "$tmp/out.mpd"

# One folder per rendition, segments numbered from 0.
i=0
for name in 180p 360p audio; do
  rm -rf "$name"
  mkdir "$name"
  mv "$tmp/init-$i.mp4" "$name/init.mp4"
  for f in "$tmp"/seg-$i-*.m4s; do
    n=${f##*-}
    n=${n%.m4s}
    mv "$f" "$name/seg-$((n - 1)).m4s"
  done
  i=$((i + 1))
done
du -sh 180p 360p audio
