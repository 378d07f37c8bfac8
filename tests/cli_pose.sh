#!/bin/sh
# CLI tests of `director pose render|convert` and `director data import-bvh`:
# MP4 (h264, yuv420p, frame count, moov before mdat), GIF, PNG frames and contact sheet,
# the sequence -> OpenPose -> sequence round trip, and clean failures.
# usage: sh cli_pose.sh <director-binary> <source-dir>
set -eu
BIN=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/cli_pose.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A small BVH: a CMU-named figure waving its left arm, 1 s at 60 fps.
{
  echo "HIERARCHY"
  echo "ROOT Hips"; echo "{"; echo "OFFSET 0 0 0"; echo "CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation"
  for side in Left Right; do
    if [ $side = Left ]; then s=1; else s=-1; fi
    echo "JOINT ${side}UpLeg"; echo "{"; echo "OFFSET $((9 * s)) -4 0"; echo "CHANNELS 3 Zrotation Yrotation Xrotation"
    echo "JOINT ${side}Leg"; echo "{"; echo "OFFSET 0 -42 0"; echo "CHANNELS 3 Zrotation Yrotation Xrotation"
    echo "JOINT ${side}Foot"; echo "{"; echo "OFFSET 0 -40 0"; echo "CHANNELS 3 Zrotation Yrotation Xrotation"
    echo "End Site"; echo "{"; echo "OFFSET 0 -5 12"; echo "}"; echo "}"; echo "}"; echo "}"
  done
  echo "JOINT Spine"; echo "{"; echo "OFFSET 0 22 0"; echo "CHANNELS 3 Zrotation Yrotation Xrotation"
  echo "JOINT Neck"; echo "{"; echo "OFFSET 0 28 0"; echo "CHANNELS 3 Zrotation Yrotation Xrotation"
  echo "JOINT Head"; echo "{"; echo "OFFSET 0 9 0"; echo "CHANNELS 3 Zrotation Yrotation Xrotation"
  echo "End Site"; echo "{"; echo "OFFSET 0 16 0"; echo "}"; echo "}"
  for side in Left Right; do
    if [ $side = Left ]; then s=1; else s=-1; fi
    echo "JOINT ${side}Arm"; echo "{"; echo "OFFSET $((18 * s)) -3 0"; echo "CHANNELS 3 Zrotation Yrotation Xrotation"
    echo "JOINT ${side}ForeArm"; echo "{"; echo "OFFSET $((28 * s)) 0 0"; echo "CHANNELS 3 Zrotation Yrotation Xrotation"
    echo "JOINT ${side}Hand"; echo "{"; echo "OFFSET $((25 * s)) 0 0"; echo "CHANNELS 3 Zrotation Yrotation Xrotation"
    echo "End Site"; echo "{"; echo "OFFSET $((8 * s)) 0 0"; echo "}"; echo "}"; echo "}"; echo "}"
  done
  echo "}"; echo "}"; echo "}"
  echo "MOTION"; echo "Frames: 61"; echo "Frame Time: 0.0166667"
  i=0
  while [ $i -lt 61 ]; do
    # 6 root + 6 legs x 3 + spine, neck, head x 3 + 6 arms x 3 = 51 values; the left arm (value 34) waves
    line="0 95 0"
    c=3
    while [ $c -lt 51 ]; do
      if [ $c -eq 33 ]; then line="$line $((i * 2 - 60))"; else line="$line 0"; fi
      c=$((c + 1))
    done
    echo "$line"
    i=$((i + 1))
  done
} > "$T/wave.bvh"

"$BIN" data import-bvh "$T/wave.bvh" --out "$T/wave.json" --caption "a person waves" --azimuth 20 --focal 35 \
  || fail "import-bvh"
grep -q '"format": "director-pose-sequence"' "$T/wave.json" || fail "sequence header"
grep -q '"prompt": "a person waves"' "$T/wave.json" || fail "caption"
# 1 s at 30 fps: 31 frames
[ "$(grep -c '^  \[\[' "$T/wave.json")" -eq 31 ] || fail "expected 31 frames"

# MP4: h264, yuv420p, 31 frames, index first
"$BIN" pose render "$T/wave.json" --out "$T/wave.mp4" --quiet || fail "render mp4"
probe=$(ffprobe -v error -select_streams v:0 -count_frames \
  -show_entries stream=codec_name,pix_fmt,nb_read_frames,width,height -of default=nw=1 "$T/wave.mp4")
echo "$probe" | grep -qx "codec_name=h264" || fail "mp4 codec: $probe"
echo "$probe" | grep -qx "pix_fmt=yuv420p" || fail "mp4 pixel format: $probe"
echo "$probe" | grep -qx "nb_read_frames=31" || fail "mp4 frame count: $probe"
echo "$probe" | grep -qx "width=512" || fail "mp4 width: $probe"
moov=$(grep -obUa moov "$T/wave.mp4" | head -1 | cut -d: -f1)
mdat=$(grep -obUa mdat "$T/wave.mp4" | head -1 | cut -d: -f1)
[ -n "$moov" ] && [ -n "$mdat" ] && [ "$moov" -lt "$mdat" ] || fail "moov atom not before mdat (no faststart)"

# Odd size and a different rate: padded to even, duration kept (1 s at 12 fps = 13 frames)
"$BIN" pose render "$T/wave.json" --out "$T/small.mp4" --size 161x99 --fps 12 -q || fail "render odd mp4"
probe=$(ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=nb_read_frames,width,height \
  -of default=nw=1 "$T/small.mp4")
echo "$probe" | grep -qx "width=162" || fail "odd width not padded: $probe"
echo "$probe" | grep -qx "nb_read_frames=13" || fail "resampled frame count: $probe"

# GIF
"$BIN" pose render "$T/wave.json" --out "$T/wave.gif" --size 256x160 -q || fail "render gif"
[ "$(head -c 6 "$T/wave.gif")" = "GIF89a" ] || fail "gif header"
probe=$(ffprobe -v error -count_frames -show_entries stream=codec_name,nb_read_frames -of default=nw=1 "$T/wave.gif")
echo "$probe" | grep -qx "codec_name=gif" || fail "gif codec: $probe"
echo "$probe" | grep -qx "nb_read_frames=31" || fail "gif frame count: $probe"

# Contact sheet and PNG frames
"$BIN" pose render "$T/wave.json" --out "$T/sheet.png" --sheet 6 || fail "sheet"
probe=$(ffprobe -v error -show_entries stream=codec_name,width,height -of default=nw=1 "$T/sheet.png")
echo "$probe" | grep -qx "codec_name=png" || fail "sheet codec: $probe"
echo "$probe" | grep -qx "width=514" || fail "sheet width (2 cells of 256 + gap): $probe"
"$BIN" pose render "$T/wave.json" --out "$T/frames" -q || fail "png frames"
[ "$(ls "$T/frames" | grep -c '^frame_[0-9]*\.png$')" -eq 31 ] || fail "png frame count"

# Round trip: sequence -> OpenPose folder -> sequence, byte for byte
"$BIN" pose convert "$T/wave.json" --to openpose --out "$T/op" --prefix wave || fail "to openpose"
[ -f "$T/op/wave_000000000030_keypoints.json" ] || fail "openpose file names"
grep -q '"version":1.3' "$T/op/wave_000000000000_keypoints.json" || fail "openpose version"
"$BIN" pose convert "$T/op" --to sequence --out "$T/back.json" --prompt "a person waves" || fail "from openpose"
cmp -s "$T/wave.json" "$T/back.json" || fail "round trip differs"
# and the OpenPose folder renders too (detected by content)
"$BIN" pose render "$T/op" --out "$T/op.gif" -q || fail "render openpose folder"

# The real CMU capture, when installed (Debian assimp-testmodels)
CMU=/usr/share/assimp/models/BVH/01_01.bvh
if [ -f "$CMU" ]; then
  "$BIN" pose render "$CMU" --out "$T/cmu.mp4" -q || fail "render CMU"
  n=$(ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$T/cmu.mp4")
  [ "$n" -eq 688 ] || fail "CMU frame count $n"
fi

# Failures: clear message, non-zero exit, nothing left behind
echo "not a pose" > "$T/junk.txt"
if "$BIN" pose render "$T/junk.txt" --out "$T/junk.mp4" 2> "$T/err"; then fail "junk accepted"; fi
grep -q "junk.txt" "$T/err" || fail "error does not name the file"
[ ! -e "$T/junk.mp4" ] || fail "output left behind"
head -c 700 "$T/wave.bvh" > "$T/cut.bvh"
if "$BIN" data import-bvh "$T/cut.bvh" --out "$T/cut.json" 2> "$T/err"; then fail "truncated BVH accepted"; fi
grep -q "truncated" "$T/err" || fail "truncated BVH message: $(cat "$T/err")"
[ ! -e "$T/cut.json" ] || fail "output left behind"
set +e
"$BIN" pose render "$T/wave.json" --out "$T/x.jpg" 2> /dev/null; [ $? -eq 2 ] || fail "unknown output type"
"$BIN" pose convert "$T/wave.json" --to csv --out "$T/x" 2> /dev/null; [ $? -eq 2 ] || fail "bad --to"
"$BIN" pose render --help > /dev/null || fail "--help"
"$BIN" data import-bvh --help > /dev/null || fail "--help"
set -e
echo "cli_pose: ok"
