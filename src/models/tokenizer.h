/* tokenizer.h - byte-level BPE text tokenizer, Llama 3 style (docs/TOKENIZER.md).
 *
 * Text becomes token ids in three steps: added tokens written literally in the text
 * ("<|begin_of_text|>") are cut out first (leftmost-longest), the rest is split into
 * pieces by the Llama 3 pre-tokenizer regex (implemented by hand, no regex library),
 * and each piece's bytes are merged by BPE rank into vocabulary tokens. Every byte has
 * a token, so any valid UTF-8 round-trips exactly. The same tokenizer is read from and
 * written to a Hugging Face `tokenizer.json` of the Llama 3 kind, so a real Llama 3
 * tokenizer works here and ours works in `tokenizers`/transformers. director trains its
 * own small one on the caption corpus (`director train tokenizer`).
 *
 * Id layout of a director tokenizer: text tokens 0..T-1 (the 256 bytes first, then the
 * merges in rank order), then the 5 special tokens below at T..T+4; the LLM appends
 * 6 x 512 pose tokens "<|pose_k_c|>" after those (dr_tokenizer_add_pose_tokens() adds
 * them as special added tokens for export). A loaded tokenizer is read-only and may be
 * shared by threads; encode/decode allocate only per call. */
#ifndef DIRECTOR_MODELS_TOKENIZER_H
#define DIRECTOR_MODELS_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define DR_TOKEN_BEGIN "<|begin_of_text|>"
#define DR_TOKEN_END "<|end_of_text|>"
#define DR_TOKEN_POSE_BEGIN "<|pose_begin|>"
#define DR_TOKEN_POSE_END "<|pose_end|>"
#define DR_TOKEN_PAD "<|pad|>"

/* Limits on what a tokenizer file may declare (hostile files are refused, not obeyed). */
#define DR_TOKENIZER_MAX_TOKENS (1 << 22)          /* ids 0 .. 4M-1 */
#define DR_TOKENIZER_MAX_FILE_BYTES (256u << 20)   /* a real Llama 3 tokenizer.json is ~9 MB */

/* Flags for dr_tokenizer_encode. */
#define DR_TOKENIZE_ADD_BEGIN 1u     /* prepend <|begin_of_text|> */
#define DR_TOKENIZE_ALLOW_SPECIAL 2u /* special tokens written in the text are matched as such
                                        (off: "<|pad|>" in a user prompt is plain text) */
/* Flags for dr_tokenizer_decode. */
#define DR_DETOKENIZE_SKIP_SPECIAL 1u /* leave special tokens out of the text */

typedef struct dr_tokenizer dr_tokenizer;

/* ---- loading and saving (Hugging Face tokenizer.json) ---- */

/* Load a tokenizer.json: model BPE (vocab; merges as "a b" strings or ["a", "b"] pairs;
 * ignore_merges), pre_tokenizer Sequence[Split(Llama 3 regex), ByteLevel], decoder
 * ByteLevel, added_tokens. Anything else (another regex, a normalizer, byte_fallback,
 * unk tokens, ...) is refused with DR_EUNSUPPORTED; malformed files with DR_EFORMAT
 * naming the file and the problem. */
int dr_tokenizer_load(dr_tokenizer **out, const char *path, dr_err *err);
/* The same from memory; `name` is used in error messages. */
int dr_tokenizer_load_json(dr_tokenizer **out, const char *json, size_t len, const char *name, dr_err *err);
/* Write the Llama 3 layout (merges as pairs, added tokens, a TemplateProcessing post-
 * processor that adds <|begin_of_text|> when the tokenizer has it), atomically. The
 * training word list, if any, goes in a top-level "director" object that Hugging Face
 * ignores. */
int dr_tokenizer_save(const dr_tokenizer *tok, const char *path, dr_err *err);
/* The same into a malloc'd NUL-terminated string. */
int dr_tokenizer_to_json(const dr_tokenizer *tok, char **json, size_t *len, dr_err *err);
void dr_tokenizer_free(dr_tokenizer *tok);

/* ---- training ---- */

typedef struct dr_tokenizer_train_opts {
    int vocab_size;    /* text tokens including the 256 byte tokens (>= 256) */
    int min_frequency; /* a pair must occur at least this often to be merged (>= 1; 2 is usual) */
} dr_tokenizer_train_opts;

/* Train byte-level BPE on n_texts UTF-8 texts: pre-tokenize, then repeatedly merge the
 * most frequent adjacent pair (ties: lower left id, then lower right id), until
 * vocab_size text tokens or no pair reaches min_frequency. Deterministic: the same texts
 * in the same order give the same file. Adds the 5 special tokens after the text
 * vocabulary and keeps the corpus words (lower-cased letter runs) for
 * dr_tokenizer_word(). A text that is not valid UTF-8 is an error naming its index. */
int dr_tokenizer_train(dr_tokenizer **out, const char *const *texts, int n_texts, const dr_tokenizer_train_opts *opts,
                       dr_err *err);

/* Training corpora, as arrays of malloc'd strings (free with dr_corpus_free). Captions:
 * the "subject" and "prompt" of every clip of <dir>/<split>.jsonl (pose/dataset.h).
 * Text: every non-empty line of a file. */
int dr_corpus_load_captions(const char *dir, const char *split, char ***texts, int *n_texts, dr_err *err);
int dr_corpus_load_text(const char *path, char ***texts, int *n_texts, dr_err *err);
void dr_corpus_free(char **texts, int n_texts);

/* ---- encoding and decoding ---- */

/* Encode len bytes of UTF-8 text. ids has room for max_ids; the count goes to *n_ids.
 * ids may be NULL to count only. Errors: DR_EFORMAT "invalid UTF-8 at byte offset N",
 * DR_ERANGE when more than max_ids tokens would be produced (nothing is truncated
 * silently; the message gives the limit), DR_ENOTFOUND for ADD_BEGIN without a begin
 * token. */
int dr_tokenizer_encode(const dr_tokenizer *tok, const char *text, size_t len, unsigned flags, int32_t *ids,
                        int max_ids, int *n_ids, dr_err *err);
/* Decode ids to a malloc'd NUL-terminated byte string (*len excludes the NUL). Any id
 * sequence decodes, but a sequence cut inside a character may give invalid UTF-8: the
 * bytes are returned as they are. Out-of-range ids are DR_ERANGE. */
int dr_tokenizer_decode(const dr_tokenizer *tok, const int32_t *ids, int n_ids, unsigned flags, char **text,
                        size_t *len, dr_err *err);

/* The pre-tokenizer alone (for tests and tools): split valid UTF-8 text into pieces by the
 * Llama 3 regex; writes up to max_pieces end offsets (exclusive, bytes) and returns the
 * piece count, or a negative DR_E* code on invalid UTF-8. */
int dr_pretokenize(const char *text, size_t len, size_t *ends, int max_pieces);

/* ---- vocabulary ---- */

int dr_tokenizer_vocab_size(const dr_tokenizer *tok);      /* all ids, added tokens included */
int dr_tokenizer_text_vocab_size(const dr_tokenizer *tok); /* ids of the BPE model's vocab */
int dr_tokenizer_num_merges(const dr_tokenizer *tok);
/* Merge number `rank` (0 = applied first): its two parts and the id it produces, or -1. */
int dr_tokenizer_merge(const dr_tokenizer *tok, int rank, int *left, int *right);
/* The bytes of token id (raw text: byte-level mapping undone), not NUL-terminated; NULL for a
 * bad id. */
const char *dr_tokenizer_token(const dr_tokenizer *tok, int id, size_t *len);
/* The token as tokenizer.json and GGUF's tokenizer.ggml.tokens spell it: the byte-level string
 * ("Ġworld") for a text token, the content for an added token. Writes a NUL-terminated string
 * into buf (4 * len + 1 bytes always suffice) and returns its length, or -1 for a bad id or a
 * buffer too small. */
int dr_tokenizer_token_string(const dr_tokenizer *tok, int id, char *buf, size_t size);
/* True for added tokens (special or not): GGUF token type "control"/"user defined". */
bool dr_tokenizer_is_added(const dr_tokenizer *tok, int id);
/* The id of a token given by its raw bytes (text vocab or added token), or -1. */
int dr_tokenizer_token_id(const dr_tokenizer *tok, const char *bytes, size_t len);
/* The id of an added token by its content ("<|pose_begin|>"), or -1. */
int dr_tokenizer_special_id(const dr_tokenizer *tok, const char *name);
bool dr_tokenizer_is_special(const dr_tokenizer *tok, int id);

/* Append an added token at id vocab_size (DR_EINVAL if that content exists already). */
int dr_tokenizer_add_token(dr_tokenizer *tok, const char *content, bool special, int *id, dr_err *err);
/* Append codebooks x codes special tokens "<|pose_k_c|>" (k-major) for export; *first_id
 * gets the id of <|pose_0_0|>. */
int dr_tokenizer_add_pose_tokens(dr_tokenizer *tok, int codebooks, int codes, int *first_id, dr_err *err);

/* The training words (sorted, lower-cased letter runs of the corpus); 0 for a tokenizer
 * that was not trained by director. */
int dr_tokenizer_num_words(const dr_tokenizer *tok);
const char *dr_tokenizer_word(const dr_tokenizer *tok, int i);

#endif
