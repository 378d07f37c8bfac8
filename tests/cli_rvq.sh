#!/bin/sh
# CLI tests of `director train rvq` and `director rvq encode|decode|eval` on a tiny synthesized
# dataset: training writes a model and a checkpoint, --resume continues to the same bytes as an
# uninterrupted run, tokens round-trip through files, and bad inputs fail cleanly (non-zero
# exit, a message naming the file, no output written).
# usage: sh cli_rvq.sh <director-binary> <source-dir>
set -eu
BIN=$1
SRC=$2
T=$(mktemp -d "${TMPDIR:-/tmp}/cli_rvq.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BIN" data synth --clips 40 --seed 5 --out "$T/data" --quiet
SMALL="--depth 3 --codes 16 --dim 8 --channels 16 --batch 8 --eval-every 5 --val-clips 8 --quiet"

# train, and the same run in two halves through a checkpoint
"$BIN" train rvq --data "$T/data" --out "$T/a.safetensors" --steps 12 $SMALL || fail "train"
[ -s "$T/a.safetensors" ] && [ -s "$T/a.ckpt.safetensors" ] || fail "no model or checkpoint written"
"$BIN" train rvq --data "$T/data" --out "$T/b.safetensors" --steps 6 --ckpt-every 6 $SMALL || fail "train half"
"$BIN" train rvq --data "$T/data" --out "$T/c.safetensors" --steps 12 --resume "$T/b.ckpt.safetensors" $SMALL ||
    fail "resume"
cmp -s "$T/a.safetensors" "$T/c.safetensors" || fail "resumed run differs from the uninterrupted one"

# encode a dataset clip, decode it with all and with fewer levels
"$BIN" rvq encode "$T/data" --split test --clip 0 --model "$T/a.safetensors" --out "$T/tok.json" || fail "encode"
grep -q '"format": "director-pose-tokens"' "$T/tok.json" || fail "tokens file format"
[ "$(grep -c '^  \[' "$T/tok.json")" -eq 20 ] || fail "expected 20 key frames of tokens"
"$BIN" rvq decode "$T/tok.json" --model "$T/a.safetensors" --out "$T/poses.json" || fail "decode"
"$BIN" rvq decode "$T/tok.json" --model "$T/a.safetensors" --out "$T/poses1.json" --levels 1 || fail "decode 1 level"
grep -q '"director-pose-sequence"' "$T/poses.json" || fail "decoded poses format"
# the decoded sequence is itself an input: 20 frames are taken as the key frames
"$BIN" rvq encode "$T/poses.json" --model "$T/a.safetensors" --out "$T/tok2.json" || fail "re-encode"
"$BIN" rvq eval --data "$T/data" --split val --model "$T/a.safetensors" > "$T/eval.txt" || fail "eval"
grep -q "levels  error_px" "$T/eval.txt" || fail "eval output"
[ "$(grep -c 'perplexity' "$T/eval.txt")" -eq 1 ] || fail "eval perplexity table"
# a beam search when encoding: the same tables; a beam of 0 is refused
"$BIN" rvq eval --data "$T/data" --split val --model "$T/a.safetensors" --beam 8 > "$T/evalb.txt" || fail "eval --beam"
grep -q "levels  error_px" "$T/evalb.txt" || fail "eval --beam output"
"$BIN" rvq encode "$T/data" --split test --clip 0 --model "$T/a.safetensors" --beam 8 --out "$T/tokb.json" || fail "encode --beam"
if "$BIN" rvq eval --data "$T/data" --split val --model "$T/a.safetensors" --beam 0 > /dev/null 2> "$T/err.txt"; then
    fail "--beam 0 accepted"
fi
# without --model, the shipped tokenizer (models/ relative to the working directory)
(cd "$SRC" && "$BIN" rvq encode "$T/data" --split test --clip 0 --out "$T/tokd.json") || fail "encode with the default model"
grep -q '"depth": 6' "$T/tokd.json" || fail "default model: not the shipped 6-level tokenizer"
# --init: a new run from a trained model's weights, its architecture kept
"$BIN" train rvq --data "$T/data" --out "$T/i.safetensors" --init "$T/a.safetensors" --steps 3 --channels 99 $SMALL ||
    fail "train --init"
"$BIN" rvq eval --data "$T/data" --split val --model "$T/i.safetensors" | grep -q "depth 3 x 16 codes" || fail "--init model"
if "$BIN" train rvq --data "$T/data" --out "$T/j.safetensors" --init "$T/a.safetensors" --resume "$T/a.ckpt.safetensors" \
    $SMALL 2> "$T/err.txt"; then fail "--init with --resume accepted"; fi
# --blocks: pointwise blocks between the convolutions, kept in the file; bad lists refused
"$BIN" train rvq --data "$T/data" --out "$T/p.safetensors" --steps 3 --blocks 1,0,2,0,4 $SMALL || fail "train --blocks"
"$BIN" rvq eval --data "$T/data" --split val --model "$T/p.safetensors" > /dev/null || fail "eval of a --blocks model"
for bad in "" "1,,2" "1,-2" "1,2,x" "1,65" "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0"; do
    if "$BIN" train rvq --data "$T/data" --out "$T/x.safetensors" --blocks "$bad" $SMALL 2> "$T/err.txt"; then
        fail "--blocks '$bad' accepted"
    fi
    grep -q -- "--blocks" "$T/err.txt" || fail "--blocks '$bad' message: $(cat "$T/err.txt")"
done
# the rate-distortion reference of the data, and the model beside it
"$BIN" rvq bound --data "$T/data" --model "$T/a.safetensors" > "$T/bound.txt" || fail "bound"
grep -q "windows of 1 key frame with all 18 keypoints present" "$T/bound.txt" || fail "bound header: $(cat "$T/bound.txt")"
[ "$(grep -c '^ *[0-9]* *[0-9]* *[0-9.]* *[0-9.]*$' "$T/bound.txt")" -eq 10 ] || fail "bound table: $(cat "$T/bound.txt")"
grep -q "on the [0-9]* complete key frames: rms [0-9.]* px/joint" "$T/bound.txt" || fail "bound: no model line"
"$BIN" rvq bound --data "$T/data" --window 2 > "$T/bound2.txt" || fail "bound --window 2"
# relative to the bounding box: the position is no longer coded, so the reference error falls
"$BIN" rvq bound --data "$T/data" --relative centre > "$T/boundc.txt" || fail "bound --relative centre"
"$BIN" rvq bound --data "$T/data" --relative box > "$T/boundb.txt" || fail "bound --relative box"
grep -q "relative to the box centre$" "$T/boundc.txt" || fail "bound --relative centre header"
abs54=$(awk '$1 == 54 {print $4}' "$T/bound.txt"); rel54=$(awk '$1 == 54 {print $4}' "$T/boundc.txt")
awk -v a="$abs54" -v r="$rel54" 'BEGIN { exit !(r > 0 && r < a) }' || fail "centre-relative 54-bit error $rel54 not below $abs54"
if "$BIN" rvq bound --data "$T/data" --relative hips > /dev/null 2> "$T/err.txt"; then fail "--relative hips accepted"; fi
grep -q "relative must be" "$T/err.txt" || fail "--relative message: $(cat "$T/err.txt")"
if "$BIN" rvq bound --data "$T/data" --relative box --model "$T/a.safetensors" > /dev/null 2>&1; then
    fail "--relative with --model accepted"
fi
if "$BIN" rvq bound --data "$T/data" --window 21 > /dev/null 2> "$T/err.txt"; then fail "--window 21 accepted"; fi
if "$BIN" rvq bound --data "$T/data" --window 20 --clips 1 > /dev/null 2> "$T/err.txt"; then
    fail "a covariance from at most one window accepted"
fi
grep -q "too few" "$T/err.txt" || fail "too-few-windows message: $(cat "$T/err.txt")"
# against the clean twin (same seed, no detector jitter): the noise level and the clean errors
"$BIN" data synth --clips 40 --seed 5 --detector-noise 0 --out "$T/clean" --quiet || fail "clean twin"
cmp -s "$T/data/val.jsonl" "$T/clean/val.jsonl" || fail "the clean twin has other clips"
"$BIN" rvq eval --data "$T/data" --clean "$T/clean" --split val --model "$T/a.safetensors" > "$T/evalc.txt" || fail "eval --clean"
grep -q "noisy input [0-9.]* px" "$T/evalc.txt" || fail "eval --clean: no noise level"
grep -q "clean_error_px" "$T/evalc.txt" || fail "eval --clean: no clean errors"
"$BIN" data synth --clips 400 --seed 5 --detector-noise 0 --out "$T/other" --quiet || fail "other twin"
if "$BIN" rvq eval --data "$T/data" --clean "$T/other" --split val --model "$T/a.safetensors" > /dev/null 2> "$T/err.txt"; then
    fail "a dataset of another size accepted as the clean twin"
fi
grep -q "is not the twin of" "$T/err.txt" || fail "twin mismatch message: $(cat "$T/err.txt")"

# failures: clean message, non-zero exit, nothing written
sed 's/\[\([0-9]*\), /[99, /' "$T/tok.json" > "$T/bad.json"
if "$BIN" rvq decode "$T/bad.json" --model "$T/a.safetensors" --out "$T/bad_out.json" 2> "$T/err.txt"; then
    fail "out-of-range token accepted"
fi
grep -q "bad.json" "$T/err.txt" && grep -q "outside" "$T/err.txt" || fail "bad token message: $(cat "$T/err.txt")"
[ ! -e "$T/bad_out.json" ] || fail "output written after an error"
if "$BIN" rvq decode "$T/tok.json" --model "$T/a.safetensors" --out "$T/x.json" --levels 4 2> "$T/err.txt"; then
    fail "--levels above the depth accepted"
fi
printf 'not a model' > "$T/junk.safetensors"
if "$BIN" rvq encode "$T/data" --model "$T/junk.safetensors" --out "$T/x.json" 2> "$T/err.txt"; then
    fail "junk model accepted"
fi
grep -q "junk.safetensors" "$T/err.txt" || fail "junk model message: $(cat "$T/err.txt")"
if "$BIN" train rvq --data "$T/nowhere" --out "$T/x.safetensors" --quiet 2> "$T/err.txt"; then
    fail "missing dataset accepted"
fi
[ ! -e "$T/x.safetensors" ] || fail "model written after an error"
if "$BIN" train rvq --data "$T/data" --out "$T/x.safetensors" --batch 0 2> /dev/null; then fail "--batch 0 accepted"; fi
if "$BIN" rvq frobnicate 2> /dev/null; then fail "unknown subcommand accepted"; fi
"$BIN" rvq --help > /dev/null || fail "rvq --help"
"$BIN" train rvq --help > /dev/null || fail "train rvq --help"
echo "cli_rvq: ok"
