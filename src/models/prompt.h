/* prompt.h - checking and splitting the user's prompt before generation.
 *
 * `director generate "The video shows a woman running through a grassy field. She wears..."`
 * needs the prompt checked (valid UTF-8, not empty, not absurdly long, no control
 * characters), its white space normalized the way the training captions are written, the
 * subject-level prompt (the first sentence, which the LLM and the interpolator read) split off
 * from the full prompt (which the preview renderer reads), and the words the models never saw
 * listed so the command can warn about them. Sentence splitting knows abbreviations ("Mr.",
 * "e.g."), initials, decimals ("2.5") and ellipses. */
#ifndef DIRECTOR_MODELS_PROMPT_H
#define DIRECTOR_MODELS_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "models/tokenizer.h"

#define DR_PROMPT_MAX_BYTES (64 * 1024) /* longer prompts are refused, not truncated */

typedef struct dr_prompt {
    char *full;         /* normalized prompt: white space runs -> one space, trimmed */
    char *subject;      /* its first sentence (terminator and closing quotes included) */
    bool subject_whole; /* true when the prompt is a single sentence */
} dr_prompt;

/* Check and normalize len bytes of raw prompt. Errors (with a message for the user):
 * DR_EINVAL empty or without any letter or digit, DR_ERANGE longer than
 * DR_PROMPT_MAX_BYTES, DR_EFORMAT invalid UTF-8 or a control character (byte offset given). */
int dr_prompt_parse(dr_prompt *p, const char *raw, size_t len, dr_err *err);
void dr_prompt_free(dr_prompt *p);

/* Byte length of the first sentence of normalized text `s` (dr_prompt_parse uses it; exposed
 * for tests and for splitting captions the same way). `breaks` marks, per byte, where the raw
 * text had a line break (a sentence boundary even without punctuation); may be NULL. */
size_t dr_first_sentence_length(const char *s, size_t len, const unsigned char *breaks);

/* A known-word list: sorted, unique, lower-cased words. */
typedef struct dr_wordlist {
    char **words;
    int n;
} dr_wordlist;

/* The training words stored in a director tokenizer (empty list for other tokenizers). */
int dr_wordlist_from_tokenizer(dr_wordlist *wl, const dr_tokenizer *tok, dr_err *err);
/* A text file with one word per line (any order, any case; blank lines skipped). */
int dr_wordlist_load(dr_wordlist *wl, const char *path, dr_err *err);
void dr_wordlist_free(dr_wordlist *wl);
bool dr_wordlist_contains(const dr_wordlist *wl, const char *word, size_t len);

/* The words of `text` (maximal letter runs, ASCII lower-cased) that are not in wl, each once,
 * in order of first appearance, as a malloc'd array of malloc'd strings (free with
 * dr_words_free). An empty wl (a tokenizer that was not trained by director) means the
 * training words are unknown: then nothing is reported. */
int dr_prompt_unknown_words(const dr_wordlist *wl, const char *text, char ***words, int *n_words, dr_err *err);
void dr_words_free(char **words, int n);

#endif
