/* prompt.c - prompt validation, white-space normalization, first-sentence split and unknown
 * words (see prompt.h). */
#include "models/prompt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "models/unicode.h"

static bool is_line_break(uint32_t c) {
    return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x85 || c == 0x2028 || c == 0x2029;
}

/* C0/C1 control characters other than white space: never part of a caption. */
static bool is_control(uint32_t c) {
    if (dr_unicode_class(c) & DR_UC_SPACE) return false;
    return c < 0x20 || (c >= 0x7F && c <= 0x9F);
}

void dr_prompt_free(dr_prompt *p) {
    if (!p) return;
    free(p->full);
    free(p->subject);
    p->full = p->subject = NULL;
}

/* ---- sentence boundaries ---- */

static bool is_terminator(uint32_t c) { return c == '.' || c == '!' || c == '?' || c == 0x2026; }
/* Full-width CJK terminators end a sentence without a following space. */
static bool is_cjk_terminator(uint32_t c) { return c == 0x3002 || c == 0xFF01 || c == 0xFF1F; }
static bool is_closer(uint32_t c) {
    return c == '"' || c == '\'' || c == ')' || c == ']' || c == 0x201D || c == 0x2019 || c == 0xBB;
}
static bool is_opener(uint32_t c) {
    return c == '"' || c == '\'' || c == '(' || c == '[' || c == 0x201C || c == 0x2018 || c == 0xAB;
}

/* Is the word that ends just before s[end] (a '.') an abbreviation or an initial, after which
 * a period does not end the sentence? `next` is the first character after the space. */
static bool is_abbreviation(const char *s, size_t end, char next) {
    static const char *const list[] = {"mr", "mrs", "ms", "mx", "dr", "prof", "sr", "jr", "st", "mt",
                                       "vs", "cf", "approx", "ca", "fig", "no"};
    size_t start = end;
    while (start > 0 && s[start - 1] != ' ') start--;
    /* Skip opening quotes and brackets (ASCII ones; enough for the word shapes below). */
    while (start < end && is_opener((uint8_t)s[start])) start++;
    size_t n = end - start;
    if (n == 0 || n > 8) return false;
    char w[9];
    for (size_t i = 0; i < n; i++) w[i] = (char)(s[start + i] >= 'A' && s[start + i] <= 'Z' ? s[start + i] | 0x20 : s[start + i]);
    w[n] = 0;
    /* Initials and dotted abbreviations: "J", "U.S", "e.g", "i.e", "a.m". */
    bool dotted = n % 2 == 1;
    for (size_t i = 0; i < n && dotted; i++) dotted = i % 2 ? w[i] == '.' : (w[i] >= 'a' && w[i] <= 'z');
    if (dotted) return true;
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
        if (!strcmp(w, list[i])) {
            /* "no." is an abbreviation only before a number ("No. 5"). */
            if (!strcmp(w, "no")) return next >= '0' && next <= '9';
            return true;
        }
    return false;
}

size_t dr_first_sentence_length(const char *s, size_t len, const unsigned char *breaks) {
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        if (breaks && breaks[i] && i > 0) return i; /* a line break in the raw prompt */
        uint32_t c;
        int l = dr_utf8_decode(u + i, len - i, &c);
        if (!l) return len; /* not reached for validated text */
        if (is_cjk_terminator(c)) {
            size_t j = i + (size_t)l;
            while (j < len && (l = dr_utf8_decode(u + j, len - j, &c)) && is_closer(c)) j += (size_t)l;
            return j;
        }
        if (!is_terminator(c)) {
            i += (size_t)l;
            continue;
        }
        /* A run of terminators ("?!", "...") and then closing quotes or brackets. */
        size_t j = i + (size_t)l;
        bool single_period = c == '.';
        while (j < len && (l = dr_utf8_decode(u + j, len - j, &c)) && is_terminator(c)) j += (size_t)l, single_period = false;
        while (j < len && (l = dr_utf8_decode(u + j, len - j, &c)) && is_closer(c)) j += (size_t)l;
        if (j == len) return len;
        if (s[j] != ' ') { /* "2.5", "e.g", "a.b": inside a token */
            i = j;
            continue;
        }
        if (breaks && breaks[j]) return j;
        /* A lower-case continuation ("waits... then", "etc. and") is the same sentence. */
        if (j + 1 < len && s[j + 1] >= 'a' && s[j + 1] <= 'z') {
            i = j;
            continue;
        }
        if (single_period && s[i] == '.' && is_abbreviation(s, i, j + 1 < len ? s[j + 1] : 0)) {
            i = j;
            continue;
        }
        return j;
    }
    return len;
}

/* ---- parsing ---- */

int dr_prompt_parse(dr_prompt *p, const char *raw, size_t len, dr_err *err) {
    memset(p, 0, sizeof *p);
    if (!raw || len == 0) return dr_err_set(err, DR_EINVAL, "the prompt is empty");
    if (len > DR_PROMPT_MAX_BYTES)
        return dr_err_set(err, DR_ERANGE, "the prompt is %zu bytes long; the limit is %d bytes (%d KB)", len,
                          DR_PROMPT_MAX_BYTES, DR_PROMPT_MAX_BYTES / 1024);
    const uint8_t *u = (const uint8_t *)raw;
    size_t bad = dr_utf8_validate(u, len);
    if (bad != len) return dr_err_set(err, DR_EFORMAT, "the prompt is not valid UTF-8 (at byte offset %zu)", bad);
    char *full = malloc(len + 1);
    unsigned char *breaks = calloc(len + 1, 1);
    if (!full || !breaks) {
        free(full), free(breaks);
        return dr_err_set(err, DR_ENOMEM, "out of memory");
    }
    /* White-space runs become one space (none at the ends); a run holding a line break is
     * remembered as a sentence boundary. */
    size_t k = 0;
    bool pending_space = false, pending_break = false, has_word = false;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        int l = dr_utf8_decode(u + i, len - i, &c);
        unsigned cls = dr_unicode_class(c);
        if (cls & DR_UC_SPACE) {
            pending_space = true;
            pending_break |= is_line_break(c);
        } else if (is_control(c)) {
            free(full), free(breaks);
            return dr_err_set(err, DR_EFORMAT, "the prompt contains the control character U+%04X at byte offset %zu",
                              (unsigned)c, i);
        } else {
            if (pending_space && k > 0) {
                breaks[k] = pending_break;
                full[k++] = ' ';
            }
            pending_space = pending_break = false;
            has_word |= (cls & (DR_UC_LETTER | DR_UC_NUMBER)) != 0;
            memcpy(full + k, raw + i, (size_t)l);
            k += (size_t)l;
        }
        i += (size_t)l;
    }
    full[k] = 0;
    if (!has_word) {
        free(full), free(breaks);
        return dr_err_set(err, DR_EINVAL, k ? "the prompt has no words (no letters or digits)"
                                             : "the prompt is only white space");
    }
    size_t n = dr_first_sentence_length(full, k, breaks);
    free(breaks);
    p->subject = malloc(n + 1);
    if (!p->subject) {
        free(full);
        return dr_err_set(err, DR_ENOMEM, "out of memory");
    }
    memcpy(p->subject, full, n);
    p->subject[n] = 0;
    p->full = full;
    p->subject_whole = n == k;
    return DR_OK;
}

/* ---- word lists ---- */

static int cmp_word(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void lower_ascii(char *s) {
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z') *s = (char)(*s | 0x20);
}

void dr_wordlist_free(dr_wordlist *wl) {
    if (!wl) return;
    dr_words_free(wl->words, wl->n);
    wl->words = NULL;
    wl->n = 0;
}

void dr_words_free(char **words, int n) {
    for (int i = 0; words && i < n; i++) free(words[i]);
    free(words);
}

/* Sort and drop duplicates. */
static void wordlist_finish(dr_wordlist *wl) {
    if (wl->n < 2) return;
    qsort(wl->words, (size_t)wl->n, sizeof *wl->words, cmp_word);
    int k = 1;
    for (int i = 1; i < wl->n; i++) {
        if (!strcmp(wl->words[i], wl->words[k - 1])) free(wl->words[i]);
        else wl->words[k++] = wl->words[i];
    }
    wl->n = k;
}

int dr_wordlist_from_tokenizer(dr_wordlist *wl, const dr_tokenizer *tok, dr_err *err) {
    wl->n = 0;
    int n = dr_tokenizer_num_words(tok);
    wl->words = malloc(sizeof *wl->words * (size_t)(n ? n : 1));
    if (!wl->words) return dr_err_set(err, DR_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        wl->words[i] = strdup(dr_tokenizer_word(tok, i));
        if (!wl->words[i]) {
            dr_wordlist_free(wl);
            return dr_err_set(err, DR_ENOMEM, "out of memory");
        }
        lower_ascii(wl->words[i]);
        wl->n++;
    }
    wordlist_finish(wl);
    return DR_OK;
}

int dr_wordlist_load(dr_wordlist *wl, const char *path, dr_err *err) {
    wl->words = NULL;
    wl->n = 0;
    char *data;
    size_t size;
    int rc = dr_read_file(path, 64u << 20, &data, &size, err);
    if (rc) return rc;
    size_t bad = dr_utf8_validate((const uint8_t *)data, size);
    if (bad != size || strlen(data) != size) {
        free(data);
        return dr_err_set(err, DR_EFORMAT, "%s: not a UTF-8 text file (byte offset %zu)", path,
                          bad != size ? bad : strlen(data));
    }
    int lines = 1;
    for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
    wl->words = malloc(sizeof *wl->words * (size_t)lines);
    if (!wl->words) {
        free(data);
        return dr_err_set(err, DR_ENOMEM, "out of memory");
    }
    for (char *line = data; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        char *end = line + strlen(line);
        while (*line == ' ' || *line == '\t' || *line == '\r') line++;
        while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) *--end = 0;
        if (*line) {
            if (!(wl->words[wl->n] = strdup(line))) {
                free(data);
                dr_wordlist_free(wl);
                return dr_err_set(err, DR_ENOMEM, "out of memory");
            }
            lower_ascii(wl->words[wl->n++]);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(data);
    wordlist_finish(wl);
    return DR_OK;
}

bool dr_wordlist_contains(const dr_wordlist *wl, const char *word, size_t len) {
    int lo = 0, hi = wl->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const char *w = wl->words[mid];
        size_t wn = strlen(w);
        int c = memcmp(w, word, wn < len ? wn : len);
        if (!c) c = wn < len ? -1 : wn > len ? 1 : 0;
        if (!c) return true;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return false;
}

int dr_prompt_unknown_words(const dr_wordlist *wl, const char *text, char ***words, int *n_words, dr_err *err) {
    *words = NULL;
    *n_words = 0;
    size_t len = strlen(text);
    const uint8_t *u = (const uint8_t *)text;
    if (dr_utf8_validate(u, len) != len) return dr_err_set(err, DR_EFORMAT, "text is not valid UTF-8");
    if (wl->n == 0) return DR_OK; /* no word list: no basis for a warning */
    char **out = NULL, *w = malloc(len + 1);
    int n = 0, cap = 0;
    if (!w) return dr_err_set(err, DR_ENOMEM, "out of memory");
    for (size_t i = 0; i < len;) {
        uint32_t c;
        int l = dr_utf8_decode(u + i, len - i, &c);
        if (!(dr_unicode_class(c) & DR_UC_LETTER)) {
            i += (size_t)l;
            continue;
        }
        size_t j = i;
        while (j < len && (l = dr_utf8_decode(u + j, len - j, &c)) && (dr_unicode_class(c) & DR_UC_LETTER)) j += (size_t)l;
        memcpy(w, text + i, j - i);
        w[j - i] = 0;
        lower_ascii(w);
        i = j;
        if (dr_wordlist_contains(wl, w, strlen(w))) continue;
        bool seen = false;
        for (int k = 0; k < n && !seen; k++) seen = !strcmp(out[k], w);
        if (seen) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            char **o = realloc(out, sizeof *o * (size_t)cap);
            if (!o) goto oom;
            out = o;
        }
        if (!(out[n] = strdup(w))) goto oom;
        n++;
    }
    free(w);
    *words = out;
    *n_words = n;
    return DR_OK;
oom:
    free(w);
    dr_words_free(out, n);
    return dr_err_set(err, DR_ENOMEM, "out of memory");
}
