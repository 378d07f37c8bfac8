#!/bin/sh
# CLI tests of `director tokenize` with the shipped models/tokenizer.json: token lines match the
# count, a prompt's subject sentence and unknown words are shown, and bad inputs fail cleanly
# (exit 1 with a message naming the problem, exit 2 for usage errors).
# usage: sh cli_tokenize.sh <director-binary> <source-dir>
set -eu
BIN=$1
SRC=$2
TOK="$SRC/models/tokenizer.json"
T=$(mktemp -d "${TMPDIR:-/tmp}/cli_tokenize.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BIN" tokenize --help | grep -q "usage: director tokenize" || fail "--help"

# every caption word of the shipped tokenizer is one token
"$BIN" tokenize --tokenizer "$TOK" "The video shows a woman running in a park." > "$T/out" || fail "tokenize"
head -1 "$T/out" | grep -q '^# 10 tokens$' || fail "expected 10 tokens: $(head -1 "$T/out")"
[ "$(grep -vc '^#' "$T/out")" -eq 10 ] || fail "token line count"
grep -q "	Ġwoman$" "$T/out" || fail "token spelling"

# the same text from a file, with the begin token and specials
printf 'Hi <|pad|>' > "$T/text"
"$BIN" tokenize --tokenizer "$TOK" --file "$T/text" --begin --special > "$T/out2" || fail "tokenize --file"
sed -n 2p "$T/out2" | grep -q "<|begin_of_text|>" || fail "begin token first"
tail -1 "$T/out2" | grep -q "<|pad|>" || fail "special token matched"

# a prompt: the first sentence is tokenized, unknown words are listed
"$BIN" tokenize --tokenizer "$TOK" --prompt "A man juggles zebras in a park. He wears a red hoodie." > "$T/out3" ||
    fail "tokenize --prompt"
grep -q "^# subject: A man juggles zebras in a park.$" "$T/out3" || fail "subject line"
grep -q "^# unknown words: juggles, zebras$" "$T/out3" || fail "unknown words: $(grep unknown "$T/out3")"

# bad inputs
if "$BIN" tokenize --tokenizer "$TOK" --prompt "   " 2> "$T/err"; then fail "blank prompt accepted"; fi
grep -q "white space" "$T/err" || fail "blank prompt message"
printf 'ok \377 bad' > "$T/bad"
if "$BIN" tokenize --tokenizer "$TOK" --file "$T/bad" 2> "$T/err"; then fail "invalid UTF-8 accepted"; fi
grep -q "byte offset 3" "$T/err" || fail "invalid UTF-8 message: $(cat "$T/err")"
if "$BIN" tokenize --tokenizer "$T/missing.json" hi 2> "$T/err"; then fail "missing tokenizer accepted"; fi
grep -q "missing.json" "$T/err" || fail "missing tokenizer message"
printf '{"model": 3}' > "$T/broken.json"
if "$BIN" tokenize --tokenizer "$T/broken.json" hi 2> "$T/err"; then fail "broken tokenizer accepted"; fi
grep -q "broken.json" "$T/err" || fail "broken tokenizer message"
if "$BIN" tokenize --tokenizer "$TOK" --max 3 "one two three four" 2> "$T/err"; then fail "over-long text accepted"; fi
grep -q "limit of 3 tokens" "$T/err" || fail "too many tokens message"
set +e
"$BIN" tokenize 2> /dev/null
[ $? -eq 2 ] || fail "no text: expected exit 2"
"$BIN" tokenize --bogus x 2> /dev/null
[ $? -eq 2 ] || fail "unknown option: expected exit 2"
echo "cli_tokenize: ok"
