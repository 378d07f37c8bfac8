#!/bin/sh
# CLI tests of `director data synth|stats|import|preview`: a small dataset, its statistics,
# determinism across thread counts, importing captioned sequences, and clean failures.
# usage: sh cli_data.sh <director-binary> <source-dir>
set -eu
BIN=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/cli_data.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# synth: the folder, the splits, progress on stderr, same bytes with 1 and 2 threads
"$BIN" data synth --clips 300 --seed 7 --out "$T/a" --threads 1 2> "$T/err" || fail "synth"
grep -q "synth" "$T/err" || fail "no progress on stderr"
"$BIN" data synth --clips 300 --seed 7 --out "$T/b" --threads 2 --quiet 2> "$T/err2" || fail "synth 2 threads"
[ ! -s "$T/err2" ] || fail "--quiet printed: $(cat "$T/err2")"
for f in train.poses train.jsonl val.poses val.jsonl test.poses test.jsonl meta.json; do
  [ -f "$T/a/$f" ] || fail "missing $f"
  cmp -s "$T/a/$f" "$T/b/$f" || fail "$f differs between 1 and 2 threads"
done
ls "$T" | grep -q tmp && fail "temporary folder left behind"

# stats
"$BIN" data stats "$T/a" > "$T/stats" || fail "stats"
grep -q "^train" "$T/stats" || fail "stats: no train line"
grep -q "walking" "$T/stats" || fail "stats: no per-action counts"
grep -q "missing keypoints" "$T/stats" || fail "stats: no missing rates"
total=$(awk '/clips  200 frames/ {s += $2} END {print s}' "$T/stats")
[ "$total" = 300 ] || fail "stats: splits add up to $total, not 300"

# preview
"$BIN" data preview --action running --direction left --speed fast --camera static --out "$T/p.png" > "$T/cap" || fail "preview"
grep -q "left" "$T/cap" || fail "preview caption does not say left: $(cat "$T/cap")"
head -c 8 "$T/p.png" | od -c | grep -q "P   N   G" || fail "preview is not a PNG"

# import: a 3-frame sequence at 15 fps on a 256x160 canvas, with a caption
cat > "$T/seq.json" <<'EOF'
{"format": "director-pose-sequence", "version": 1, "fps": 15, "width": 256, "height": 160, "skeleton": "coco18",
 "frames": [[[100,40,0.9],[100,50,0.9],[90,50,0.8],[0,0,0],[0,0,0],[110,50,0.8],[0,0,0],[0,0,0],[95,90,0.7],[0,0,0],[0,0,0],[105,90,0.7],[0,0,0],[0,0,0],[0,0,0],[0,0,0],[0,0,0],[0,0,0]],
            [[102,40,0.9],[102,50,0.9],[92,50,0.8],[0,0,0],[0,0,0],[112,50,0.8],[0,0,0],[0,0,0],[97,90,0.7],[0,0,0],[0,0,0],[107,90,0.7],[0,0,0],[0,0,0],[0,0,0],[0,0,0],[0,0,0],[0,0,0]],
            [[104,40,0.9],[104,50,0.9],[94,50,0.8],[0,0,0],[0,0,0],[114,50,0.8],[0,0,0],[0,0,0],[99,90,0.7],[0,0,0],[0,0,0],[109,90,0.7],[0,0,0],[0,0,0],[0,0,0],[0,0,0],[0,0,0],[0,0,0]]]}
EOF
"$BIN" data import --out "$T/a" --caption "The video shows a man walking. He wears a red shirt." --action walking "$T/seq.json" > "$T/imp" \
  || fail "import"
grep -q "added 1 clip" "$T/imp" || fail "import output: $(cat "$T/imp")"
tail -n 1 "$T/a/train.jsonl" | grep -q '"subject":"The video shows a man walking."' || fail "imported subject: $(tail -n 1 "$T/a/train.jsonl")"
"$BIN" data stats "$T/a" > "$T/stats2" || fail "stats after import"
total=$(awk '/clips  200 frames/ {s += $2} END {print s}' "$T/stats2")
[ "$total" = 301 ] || fail "after import: $total clips"
grep -Eq '"imported":[[:space:]]*1' "$T/a/meta.json" || fail "meta.json not updated"
printf 'The video shows a girl jumping.\nThe video shows a boy sitting.\n' > "$T/caps.txt"
"$BIN" data import --out "$T/new" --split val --captions "$T/caps.txt" "$T/seq.json" "$T/seq.json" > /dev/null || fail "import --captions"
[ -f "$T/new/val.poses" ] && [ -f "$T/new/meta.json" ] || fail "import into a new folder"

# failures: usage errors exit 2, bad input exits 1 with a message naming the file, nothing half-written
set +e
"$BIN" data synth --seed 1 --out "$T/x" 2> "$T/e"; [ $? -eq 2 ] || fail "synth without --clips"
"$BIN" data synth --clips -5 --out "$T/x" 2> "$T/e"; [ $? -eq 2 ] || fail "negative clip count"
"$BIN" data synth --clips 10 --detector-noise -1 --out "$T/x" 2> "$T/e"; [ $? -eq 2 ] || fail "negative detector noise"
"$BIN" data synth --clips 10 --bogus 1 --out "$T/x" 2> "$T/e"; [ $? -eq 2 ] || fail "unknown option"
"$BIN" data nonsense 2> "$T/e"; [ $? -eq 2 ] || fail "unknown subcommand"
"$BIN" data preview --action flying --out "$T/x.png" 2> "$T/e"; [ $? -eq 2 ] || fail "unknown action"
"$BIN" data import --out "$T/a" --captions "$T/caps.txt" "$T/seq.json" 2> "$T/e"; [ $? -eq 1 ] || fail "caption count mismatch"
grep -q "caps.txt" "$T/e" || fail "mismatch error does not name the file: $(cat "$T/e")"
"$BIN" data import --out "$T/a" "$T/seq.json" 2> "$T/e"; [ $? -eq 2 ] || fail "import without any caption"
head -c 100 "$T/a/train.poses" > "$T/trunc.poses"
mkdir "$T/bad" && cp "$T/trunc.poses" "$T/bad/train.poses" && cp "$T/a/train.jsonl" "$T/bad/train.jsonl"
"$BIN" data stats "$T/bad" 2> "$T/e"; [ $? -eq 1 ] || fail "stats on a truncated dataset"
grep -q "train.poses" "$T/e" || fail "truncation error does not name the file: $(cat "$T/e")"
set -e
[ ! -e "$T/x" ] || fail "a failed synth left output"
echo "cli_data: ok"
