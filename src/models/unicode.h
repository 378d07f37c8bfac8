/* unicode.h - the little Unicode that text handling in director needs.
 *
 * Strict UTF-8 decoding and validation (no over-long forms, no surrogates, nothing
 * above U+10FFFF), and the character classes of the Llama 3 pre-tokenizer regex:
 * letters (\p{L}), numbers (\p{N}) and white space (\s, the Unicode White_Space
 * property). The letter and number ranges are a generated table (unicode_tables.c,
 * from python3's unicodedata by scripts/gen-unicode-tables), so no regex or ICU
 * library is needed. Used by the tokenizer and the prompt module. */
#ifndef DIRECTOR_MODELS_UNICODE_H
#define DIRECTOR_MODELS_UNICODE_H

#include <stddef.h>
#include <stdint.h>

enum {
    DR_UC_LETTER = 1,     /* general category L* */
    DR_UC_NUMBER = 2,     /* general category N* */
    DR_UC_SPACE = 4,      /* White_Space */
    DR_UC_NEWLINE = 8,    /* '\r' or '\n' (also DR_UC_SPACE) */
};

typedef struct dr_unicode_range {
    uint32_t lo, hi; /* inclusive */
    uint8_t cls;     /* DR_UC_LETTER or DR_UC_NUMBER */
} dr_unicode_range;

extern const dr_unicode_range dr_unicode_ranges[];
extern const int dr_unicode_num_ranges;

/* Decode one code point from s[0..n) (n >= 1). Returns its length in bytes (1-4), or 0
 * when the bytes there are not valid UTF-8. */
int dr_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);
/* Encode a code point (<= 0x10FFFF, not a surrogate) into out[4]; returns the length. */
int dr_utf8_encode(uint32_t cp, uint8_t out[4]);
/* Returns the byte offset of the first invalid UTF-8 sequence, or n when all is valid. */
size_t dr_utf8_validate(const uint8_t *s, size_t n);

/* The DR_UC_* class bits of a code point (0 for punctuation, symbols, marks, ...). */
unsigned dr_unicode_class(uint32_t cp);

#endif
