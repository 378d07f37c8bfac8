#!/bin/sh
# CLI tests of `director interp` and `director train interp|textenc`: linear densification of a
# 20-frame key-frame file and of a 200-frame file with a key-frame list, the model path with a
# tiny no-text model written by `director train interp` on a tiny synthetic dataset (output
# passes through the key frames), and clean failures (wrong key-frame counts, unordered
# indices, missing files, bad options) with no output left behind.
# usage: sh cli_interp.sh <director-binary> <source-dir>
set -eu
BIN=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/cli_interp.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# seq N FILE [KEYFRAMES]: a pose sequence of N frames, a figure moving right 2 px a frame.
seq_file() {
  awk -v n="$1" -v kf="${3:-}" 'BEGIN {
    printf "{\"format\": \"director-pose-sequence\", \"version\": 1, \"fps\": 30, \"width\": 512, \"height\": 320, \"skeleton\": \"coco18\",\n"
    printf " \"prompt\": \"a person walks to the right\",\n"
    if (kf != "") printf " \"keyframes\": [%s],\n", kf
    printf " \"frames\": [\n"
    for (f = 0; f < n; f++) {
      printf "  ["
      for (j = 0; j < 18; j++) printf "%s[%d, %d, 0.9]", (j ? ", " : ""), 100 + 2 * f + 5 * j, 80 + 8 * j
      printf "]%s\n", (f + 1 < n ? "," : "")
    }
    printf " ]}\n"
  }' > "$2"
}
frames_of() { grep -c '^  \[' "$1"; }

seq_file 20 "$T/kf20.json"
"$BIN" interp "$T/kf20.json" --linear --out "$T/lin.json" || fail "linear interp of 20 key frames"
[ "$(frames_of "$T/lin.json")" = 200 ] || fail "linear output does not have 200 frames"
grep -q '"keyframes": \[0, 10, 20' "$T/lin.json" || fail "output lacks the key-frame indices"
grep -q '"prompt": "a person walks to the right"' "$T/lin.json" || fail "output lacks the prompt"
# frame 5 lies halfway between key frames 0 and 1 (x 100 and 102): x 101
sed -n '10p' "$T/lin.json" | grep -q '^  \[\[101, 80, 0.899999976\]' || fail "frame 5 is not the linear midpoint"

# a 200-frame clip listing its 20 key frames
KF=$(awk 'BEGIN { for (k = 0; k < 20; k++) printf "%s%d", (k ? ", " : ""), 10 * k }')
seq_file 200 "$T/clip.json" "$KF"
"$BIN" interp "$T/clip.json" --linear --out "$T/lin2.json" || fail "linear interp of a clip with key frames"
[ "$(frames_of "$T/lin2.json")" = 200 ] || fail "clip output does not have 200 frames"

# wrong key-frame counts and orders fail cleanly, with no output file
seq_file 19 "$T/kf19.json"
if "$BIN" interp "$T/kf19.json" --linear --out "$T/bad.json" 2> "$T/err"; then fail "19 key frames accepted"; fi
grep -q "expected 20 key frames" "$T/err" || fail "no clear message for 19 key frames: $(cat "$T/err")"
[ ! -e "$T/bad.json" ] || fail "output written after an error"
seq_file 200 "$T/clip19.json" "$(echo "$KF" | sed 's/, 190$//')"
if "$BIN" interp "$T/clip19.json" --linear --out "$T/bad.json" 2> "$T/err"; then fail "19 key-frame indices accepted"; fi
grep -q "expected 20 key frames" "$T/err" || fail "no clear message for 19 indices: $(cat "$T/err")"
seq_file 200 "$T/unordered.json" "$(echo "$KF" | sed 's/^0, 10, 20/0, 20, 10/')"
if "$BIN" interp "$T/unordered.json" --linear --out "$T/bad.json" 2> "$T/err"; then fail "unordered key frames accepted"; fi
grep -q "key frame 2" "$T/err" || fail "no clear message for unordered key frames: $(cat "$T/err")"
if "$BIN" interp "$T/missing.json" --linear --out "$T/bad.json" 2> "$T/err"; then fail "missing input accepted"; fi
grep -q "missing.json" "$T/err" || fail "missing input not named: $(cat "$T/err")"
set +e
"$BIN" interp "$T/kf20.json" 2> /dev/null; rc=$?
[ $rc = 2 ] || fail "interp without --out: exit $rc, want 2"
"$BIN" interp "$T/kf20.json" --out "$T/x.json" --steps many 2> /dev/null; rc=$?
[ $rc = 2 ] || fail "bad --steps: exit $rc, want 2"
"$BIN" train interp --data "$T" 2> /dev/null; rc=$?
[ $rc = 2 ] || fail "train interp without --out: exit $rc, want 2"
"$BIN" interp "$T/kf20.json" --out "$T/x.json" --model "$T/none.safetensors" 2> "$T/err"; rc=$?
[ $rc = 1 ] || fail "missing model: exit $rc, want 1"
set -e
grep -q "none.safetensors" "$T/err" || fail "missing model not named"
"$BIN" interp --help > /dev/null || fail "interp --help"
"$BIN" train interp --help > /dev/null || fail "train interp --help"
"$BIN" train textenc --help > /dev/null || fail "train textenc --help"

# the model path: a tiny no-text interpolator trained for 3 steps on a tiny synthetic dataset
"$BIN" data synth --out "$T/ds" --clips 30 --seed 3 --quiet > /dev/null 2>&1 || fail "data synth"
"$BIN" train interp --data "$T/ds" --out "$T/m.safetensors" --no-text --steps 3 --batch 2 --dim 16 --heads 2 \
  --mlp 16 --val-every 2 --quiet || fail "train interp --no-text"
[ -e "$T/m.safetensors" ] && [ -e "$T/m.safetensors.ckpt" ] || fail "model or checkpoint missing"
"$BIN" train interp --data "$T/ds" --out "$T/m.safetensors" --no-text --steps 4 --batch 2 --dim 16 --heads 2 \
  --mlp 16 --val-every 2 --quiet --resume || fail "train interp --resume"
"$BIN" interp "$T/kf20.json" --model "$T/m.safetensors" --steps 5 --seed 2 --out "$T/m1.json" || fail "interp with a model"
"$BIN" interp "$T/kf20.json" --model "$T/m.safetensors" --steps 5 --seed 2 --out "$T/m2.json" || fail "interp again"
cmp -s "$T/m1.json" "$T/m2.json" || fail "the same seed gave different poses"
[ "$(frames_of "$T/m1.json")" = 200 ] || fail "model output does not have 200 frames"
# inpainting (the default) puts key frame 3 (x 106) exactly at frame 30
sed -n '35p' "$T/m1.json" | grep -q '^  \[\[106, 80, 0.899999976\]' || fail "frame 30 is not key frame 3"
echo "cli_interp: ok"
