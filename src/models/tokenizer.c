/* tokenizer.c - byte-level BPE: pre-tokenizer, encode/decode, training, tokenizer.json
 * (see tokenizer.h and docs/TOKENIZER.md). */
#include "models/tokenizer.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "models/unicode.h"

/* The Llama 3 split regex, exactly as it appears (unescaped) in Llama 3's tokenizer.json. */
static const char LLAMA3_SPLIT_REGEX[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

enum { KIND_TEXT = 1, KIND_ADDED = 2, KIND_SPECIAL = 4 };

/* ------------------------------------------------------------------------------------
 * Byte strings: an arena of entries and open-addressing maps from bytes to entry index.
 * ------------------------------------------------------------------------------------ */

typedef struct strtab {
    char *arena;
    size_t arena_len, arena_cap;
    uint32_t *off, *len;
    int n, cap;
} strtab;

typedef struct strmap {
    int32_t *slots; /* entry index or -1 */
    uint32_t mask;  /* capacity - 1 (a power of two), 0 when empty */
    int count;
} strmap;

static uint64_t hash_bytes(const void *p, size_t n) {
    const uint8_t *s = p;
    uint64_t h = 1469598103934665603ull; /* FNV-1a, then a final mix against clustering */
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    h ^= h >> 31;
    h *= 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

static void strtab_free(strtab *t) {
    free(t->arena), free(t->off), free(t->len);
    memset(t, 0, sizeof *t);
}

/* Append an entry (a NUL is stored after it so entries are also C strings); returns its
 * index or -1 on out of memory. */
static int strtab_add(strtab *t, const void *bytes, size_t n) {
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 1024;
        uint32_t *off = realloc(t->off, sizeof *off * (size_t)cap);
        if (!off) return -1;
        t->off = off;
        uint32_t *len = realloc(t->len, sizeof *len * (size_t)cap);
        if (!len) return -1;
        t->len = len;
        t->cap = cap;
    }
    if (t->arena_len + n + 1 > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap : 16384;
        while (t->arena_len + n + 1 > cap) cap *= 2;
        if (cap > UINT32_MAX) return -1;
        char *a = realloc(t->arena, cap);
        if (!a) return -1;
        t->arena = a;
        t->arena_cap = cap;
    }
    memcpy(t->arena + t->arena_len, bytes, n);
    t->arena[t->arena_len + n] = 0;
    t->off[t->n] = (uint32_t)t->arena_len;
    t->len[t->n] = (uint32_t)n;
    t->arena_len += n + 1;
    return t->n++;
}

static inline const char *strtab_get(const strtab *t, int i, size_t *n) {
    *n = t->len[i];
    return t->arena + t->off[i];
}

static void strmap_free(strmap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static int strmap_find(const strmap *m, const strtab *t, const void *bytes, size_t n) {
    if (!m->mask) return -1;
    for (uint32_t i = (uint32_t)hash_bytes(bytes, n) & m->mask;; i = (i + 1) & m->mask) {
        int32_t e = m->slots[i];
        if (e < 0) return -1;
        if (t->len[e] == n && !memcmp(t->arena + t->off[e], bytes, n)) return e;
    }
}

static void strmap_place(strmap *m, const strtab *t, int32_t e) {
    uint32_t i = (uint32_t)hash_bytes(t->arena + t->off[e], t->len[e]) & m->mask;
    while (m->slots[i] >= 0) i = (i + 1) & m->mask;
    m->slots[i] = e;
}

/* Insert entry e (the caller checked it is absent). Returns 0 or DR_ENOMEM. */
static int strmap_insert(strmap *m, const strtab *t, int32_t e) {
    if ((uint32_t)(m->count + 1) * 2 > m->mask) { /* keep the load under one half */
        uint32_t cap = m->mask ? (m->mask + 1) * 2 : 1024;
        int32_t *slots = malloc(sizeof *slots * cap), *old = m->slots;
        if (!slots) return DR_ENOMEM;
        memset(slots, 0xff, sizeof *slots * cap);
        uint32_t old_cap = m->mask ? m->mask + 1 : 0;
        m->slots = slots;
        m->mask = cap - 1;
        for (uint32_t i = 0; i < old_cap; i++)
            if (old[i] >= 0) strmap_place(m, t, old[i]);
        free(old);
    }
    strmap_place(m, t, e);
    m->count++;
    return DR_OK;
}

/* ------------------------------------------------------------------------------------
 * Pair map: (left id, right id) -> (rank, merged id), open addressing.
 * ------------------------------------------------------------------------------------ */

typedef struct pair_slot {
    uint64_t key; /* left << 32 | right; UINT64_MAX = empty */
    int32_t rank, merged;
} pair_slot;

typedef struct pairmap {
    pair_slot *slots;
    uint32_t mask;
    int count;
} pairmap;

static inline uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }
static inline uint32_t pair_hash(uint64_t k) {
    k *= 0x9E3779B97F4A7C15ull;
    return (uint32_t)(k >> 32) ^ (uint32_t)k;
}

static const pair_slot *pairmap_find(const pairmap *m, int32_t a, int32_t b) {
    if (!m->mask) return NULL;
    uint64_t k = pair_key(a, b);
    for (uint32_t i = pair_hash(k) & m->mask;; i = (i + 1) & m->mask) {
        if (m->slots[i].key == k) return &m->slots[i];
        if (m->slots[i].key == UINT64_MAX) return NULL;
    }
}

static int pairmap_insert(pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t merged) {
    if ((uint32_t)(m->count + 1) * 2 > m->mask) {
        uint32_t cap = m->mask ? (m->mask + 1) * 2 : 1024, old_cap = m->mask ? m->mask + 1 : 0;
        pair_slot *slots = malloc(sizeof *slots * cap), *old = m->slots;
        if (!slots) return DR_ENOMEM;
        for (uint32_t i = 0; i < cap; i++) slots[i].key = UINT64_MAX;
        m->slots = slots;
        m->mask = cap - 1;
        for (uint32_t i = 0; i < old_cap; i++) {
            if (old[i].key == UINT64_MAX) continue;
            uint32_t j = pair_hash(old[i].key) & m->mask;
            while (slots[j].key != UINT64_MAX) j = (j + 1) & m->mask;
            slots[j] = old[i];
        }
        free(old);
    }
    uint64_t k = pair_key(a, b);
    uint32_t i = pair_hash(k) & m->mask;
    while (m->slots[i].key != UINT64_MAX) i = (i + 1) & m->mask;
    m->slots[i] = (pair_slot){k, rank, merged};
    m->count++;
    return DR_OK;
}

/* ------------------------------------------------------------------------------------
 * The tokenizer.
 * ------------------------------------------------------------------------------------ */

struct dr_tokenizer {
    strtab tokens;     /* raw bytes of every id (byte-level mapping undone) */
    uint8_t *kind;     /* KIND_* bits per id */
    int kind_cap;
    int n_text;        /* ids carrying KIND_TEXT */
    strmap text_map;   /* bytes -> id, text vocab */
    strmap added_map;  /* content -> id, added tokens */
    int32_t *merge_left, *merge_right; /* merges in rank order */
    int n_merges, merge_cap;
    pairmap merges;
    int32_t byte_id[256];
    bool ignore_merges;
    uint8_t added_first[256];  /* 1 when some added token starts with this byte */
    int *added_lens;           /* distinct added-token lengths, longest first */
    int n_added_lens, cap_added_lens;
    strtab words;              /* training words, sorted */
};

/* GPT-2's byte-level alphabet: printable bytes stand for themselves, the other 68 bytes
 * become U+0100 + k in byte order, so every token is a printable string. */
static uint32_t byte_to_char(uint8_t b) {
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE)) return b;
    uint32_t k = 0;
    for (int c = 0; c < b; c++)
        if (!((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE))) k++;
    return 256 + k;
}

static void byte_level_tables(uint32_t to_char[256], int16_t from_char[324]) {
    for (int c = 0; c < 324; c++) from_char[c] = -1;
    for (int b = 0; b < 256; b++) {
        to_char[b] = byte_to_char((uint8_t)b);
        from_char[to_char[b]] = (int16_t)b;
    }
}

static int tok_reserve_kind(dr_tokenizer *tok) {
    if (tok->tokens.n < tok->kind_cap) return DR_OK;
    int cap = tok->kind_cap ? tok->kind_cap * 2 : 1024;
    uint8_t *k = realloc(tok->kind, (size_t)cap);
    if (!k) return DR_ENOMEM;
    tok->kind = k;
    tok->kind_cap = cap;
    return DR_OK;
}

/* Append a token with the next id. */
static int tok_append(dr_tokenizer *tok, const void *bytes, size_t n, uint8_t kind) {
    if (tok->tokens.n >= DR_TOKENIZER_MAX_TOKENS) return DR_ERANGE;
    if (tok_reserve_kind(tok)) return DR_ENOMEM;
    int id = strtab_add(&tok->tokens, bytes, n);
    if (id < 0) return DR_ENOMEM;
    tok->kind[id] = kind;
    if (kind & KIND_TEXT) {
        if (strmap_insert(&tok->text_map, &tok->tokens, id)) return DR_ENOMEM;
        tok->n_text++;
    }
    return id;
}

static int tok_register_added(dr_tokenizer *tok, int id) {
    size_t n;
    const char *s = strtab_get(&tok->tokens, id, &n);
    if (strmap_insert(&tok->added_map, &tok->tokens, id)) return DR_ENOMEM;
    tok->added_first[(uint8_t)s[0]] = 1;
    for (int i = 0; i < tok->n_added_lens; i++)
        if (tok->added_lens[i] == (int)n) return DR_OK;
    if (tok->n_added_lens == tok->cap_added_lens) {
        int cap = tok->cap_added_lens ? tok->cap_added_lens * 2 : 16;
        int *lens = realloc(tok->added_lens, sizeof *lens * (size_t)cap);
        if (!lens) return DR_ENOMEM;
        tok->added_lens = lens, tok->cap_added_lens = cap;
    }
    int i = tok->n_added_lens++;
    while (i > 0 && tok->added_lens[i - 1] < (int)n) tok->added_lens[i] = tok->added_lens[i - 1], i--;
    tok->added_lens[i] = (int)n;
    return DR_OK;
}

static int tok_add_merge(dr_tokenizer *tok, int32_t a, int32_t b, int32_t merged) {
    if (tok->n_merges == tok->merge_cap) {
        int cap = tok->merge_cap ? tok->merge_cap * 2 : 1024;
        int32_t *l = realloc(tok->merge_left, sizeof *l * (size_t)cap);
        if (!l) return DR_ENOMEM;
        tok->merge_left = l;
        int32_t *r = realloc(tok->merge_right, sizeof *r * (size_t)cap);
        if (!r) return DR_ENOMEM;
        tok->merge_right = r;
        tok->merge_cap = cap;
    }
    if (pairmap_insert(&tok->merges, a, b, tok->n_merges, merged)) return DR_ENOMEM;
    tok->merge_left[tok->n_merges] = a;
    tok->merge_right[tok->n_merges] = b;
    tok->n_merges++;
    return DR_OK;
}

void dr_tokenizer_free(dr_tokenizer *tok) {
    if (!tok) return;
    strtab_free(&tok->tokens);
    strtab_free(&tok->words);
    strmap_free(&tok->text_map);
    strmap_free(&tok->added_map);
    free(tok->merges.slots);
    free(tok->merge_left), free(tok->merge_right), free(tok->kind), free(tok->added_lens);
    free(tok);
}

int dr_tokenizer_vocab_size(const dr_tokenizer *tok) { return tok->tokens.n; }
int dr_tokenizer_text_vocab_size(const dr_tokenizer *tok) { return tok->n_text; }
int dr_tokenizer_num_merges(const dr_tokenizer *tok) { return tok->n_merges; }
int dr_tokenizer_num_words(const dr_tokenizer *tok) { return tok->words.n; }

int dr_tokenizer_merge(const dr_tokenizer *tok, int rank, int *left, int *right) {
    if (rank < 0 || rank >= tok->n_merges) return -1;
    *left = tok->merge_left[rank];
    *right = tok->merge_right[rank];
    return pairmap_find(&tok->merges, *left, *right)->merged;
}

const char *dr_tokenizer_word(const dr_tokenizer *tok, int i) {
    size_t n;
    return i >= 0 && i < tok->words.n ? strtab_get(&tok->words, i, &n) : NULL;
}

const char *dr_tokenizer_token(const dr_tokenizer *tok, int id, size_t *len) {
    if (id < 0 || id >= tok->tokens.n) return NULL;
    return strtab_get(&tok->tokens, id, len);
}

int dr_tokenizer_token_id(const dr_tokenizer *tok, const char *bytes, size_t len) {
    int id = strmap_find(&tok->added_map, &tok->tokens, bytes, len);
    return id >= 0 ? id : strmap_find(&tok->text_map, &tok->tokens, bytes, len);
}

int dr_tokenizer_special_id(const dr_tokenizer *tok, const char *name) {
    return strmap_find(&tok->added_map, &tok->tokens, name, strlen(name));
}

bool dr_tokenizer_is_special(const dr_tokenizer *tok, int id) {
    return id >= 0 && id < tok->tokens.n && (tok->kind[id] & KIND_SPECIAL);
}

bool dr_tokenizer_is_added(const dr_tokenizer *tok, int id) {
    return id >= 0 && id < tok->tokens.n && (tok->kind[id] & KIND_ADDED);
}

int dr_tokenizer_token_string(const dr_tokenizer *tok, int id, char *buf, size_t size) {
    if (id < 0 || id >= tok->tokens.n || size == 0) return -1;
    size_t n;
    const char *s = strtab_get(&tok->tokens, id, &n);
    if (!(tok->kind[id] & KIND_TEXT)) { /* added token: its content as it is */
        if (n + 1 > size) return -1;
        memcpy(buf, s, n);
        buf[n] = 0;
        return (int)n;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t tmp[4];
        int l = dr_utf8_encode(byte_to_char((uint8_t)s[i]), tmp);
        if (k + (size_t)l + 1 > size) return -1;
        memcpy(buf + k, tmp, (size_t)l);
        k += (size_t)l;
    }
    buf[k] = 0;
    return (int)k;
}

int dr_tokenizer_add_token(dr_tokenizer *tok, const char *content, bool special, int *id, dr_err *err) {
    size_t n = strlen(content);
    if (!n || dr_utf8_validate((const uint8_t *)content, n) != n)
        return dr_err_set(err, DR_EINVAL, "added token must be non-empty valid UTF-8");
    if (dr_tokenizer_token_id(tok, content, n) >= 0)
        return dr_err_set(err, DR_EINVAL, "token '%s' is already in the vocabulary", content);
    int r = tok_append(tok, content, n, (uint8_t)(KIND_ADDED | (special ? KIND_SPECIAL : 0)));
    if (r < 0) return dr_err_set(err, r, "cannot add token '%s': %s", content, dr_err_name(r));
    int rc = tok_register_added(tok, r);
    if (rc) return dr_err_set(err, rc, "cannot add token '%s': out of memory", content);
    if (id) *id = r;
    return DR_OK;
}

int dr_tokenizer_add_pose_tokens(dr_tokenizer *tok, int codebooks, int codes, int *first_id, dr_err *err) {
    if (codebooks <= 0 || codes <= 0 || (long)codebooks * codes > 65536)
        return dr_err_set(err, DR_EINVAL, "pose tokens: bad shape %d x %d", codebooks, codes);
    int first = tok->tokens.n;
    for (int k = 0; k < codebooks; k++)
        for (int c = 0; c < codes; c++) {
            char name[48];
            snprintf(name, sizeof name, "<|pose_%d_%d|>", k, c);
            int rc = dr_tokenizer_add_token(tok, name, true, NULL, err);
            if (rc) return rc;
        }
    if (first_id) *first_id = first;
    return DR_OK;
}

/* ------------------------------------------------------------------------------------
 * Pre-tokenizer: the Llama 3 regex, alternative by alternative, over code points.
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3}
 *   | ' '?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
 * Every character is matched by some alternative, so the pieces tile the text.
 * ------------------------------------------------------------------------------------ */

static inline uint32_t fold_ascii(uint32_t c) {
    if (c >= 'A' && c <= 'Z') return c | 0x20;
    if (c == 0x17F) return 's'; /* LATIN SMALL LETTER LONG S case-folds to 's' */
    return c;
}

/* End (exclusive, in code points) of the piece that starts at i. */
static size_t piece_end(const uint32_t *cp, const uint8_t *cls, size_t n, size_t i) {
    const unsigned LN = DR_UC_LETTER | DR_UC_NUMBER, SLN = DR_UC_SPACE | LN;
    /* 1. contractions, case-insensitive */
    if (cp[i] == '\'' && i + 1 < n) {
        uint32_t a = fold_ascii(cp[i + 1]);
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if (i + 2 < n) {
            uint32_t b = fold_ascii(cp[i + 2]);
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
        }
    }
    /* 2. an optional non-letter/number/newline followed by letters */
    size_t j = i;
    if (!(cls[i] & (LN | DR_UC_NEWLINE)) && i + 1 < n && (cls[i + 1] & DR_UC_LETTER)) j = i + 1;
    if (cls[j] & DR_UC_LETTER) {
        while (j < n && (cls[j] & DR_UC_LETTER)) j++;
        return j;
    }
    /* 3. one to three numbers */
    if (cls[i] & DR_UC_NUMBER) {
        j = i;
        while (j < n && j - i < 3 && (cls[j] & DR_UC_NUMBER)) j++;
        return j;
    }
    /* 4. an optional space, then punctuation/symbols, then newlines */
    j = (cp[i] == ' ' && i + 1 < n && !(cls[i + 1] & SLN)) ? i + 1 : i;
    if (!(cls[j] & SLN)) {
        while (j < n && !(cls[j] & SLN)) j++;
        while (j < n && (cls[j] & DR_UC_NEWLINE)) j++;
        return j;
    }
    /* Only white space is left: i starts a run [i, end). */
    size_t end = i, last_newline = n;
    while (end < n && (cls[end] & DR_UC_SPACE)) {
        if (cls[end] & DR_UC_NEWLINE) last_newline = end;
        end++;
    }
    /* 5. \s*[\r\n]+ : greedy \s* backs off to the last newline of the run */
    if (last_newline < n) return last_newline + 1;
    /* 6. \s+(?!\S) : the whole run at the end of text, else all but its last character */
    if (end == n) return end;
    if (end - 1 > i) return end - 1;
    /* 7. \s+ */
    return end;
}

/* Decode text into code points and classes; offs[k] is the byte offset of code point k
 * (offs[count] = len). Returns the count, or -(byte offset + 1) of invalid UTF-8. */
static long decode_text(const uint8_t *s, size_t len, uint32_t *cp, uint8_t *cls, size_t *offs) {
    size_t k = 0, i = 0;
    while (i < len) {
        uint32_t c;
        int n = dr_utf8_decode(s + i, len - i, &c);
        if (!n) return -(long)i - 1;
        cp[k] = c;
        cls[k] = (uint8_t)dr_unicode_class(c);
        offs[k++] = i;
        i += (size_t)n;
    }
    offs[k] = len;
    return (long)k;
}

int dr_pretokenize(const char *text, size_t len, size_t *ends, int max_pieces) {
    uint32_t *cp = malloc(sizeof *cp * (len + 1));
    uint8_t *cls = malloc(len + 1);
    size_t *offs = malloc(sizeof *offs * (len + 1));
    int count = DR_ENOMEM;
    if (cp && cls && offs) {
        long n = decode_text((const uint8_t *)text, len, cp, cls, offs);
        if (n < 0) {
            count = DR_EFORMAT;
        } else {
            count = 0;
            for (size_t i = 0; i < (size_t)n;) {
                size_t e = piece_end(cp, cls, (size_t)n, i);
                if (count < max_pieces) ends[count] = offs[e];
                count++;
                i = e;
            }
        }
    }
    free(cp), free(cls), free(offs);
    return count;
}

/* ------------------------------------------------------------------------------------
 * Encoding.
 * ------------------------------------------------------------------------------------ */

typedef struct bpe_symbol {
    int32_t id, prev, next, len; /* len 0 = merged away */
} bpe_symbol;

typedef struct bpe_merge {
    int32_t rank, pos, merged;
} bpe_merge;

/* Scratch for one encode call, sized by the text length. */
typedef struct encoder {
    const dr_tokenizer *tok;
    uint32_t *cp;
    uint8_t *cls;
    size_t *offs;
    bpe_symbol *sym;
    bpe_merge *heap;
    int32_t *ids;
    int max_ids, n_ids;
    bool overflow;
} encoder;

static inline bool merge_before(const bpe_merge *a, const bpe_merge *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(bpe_merge *h, int *n, bpe_merge m) {
    int i = (*n)++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!merge_before(&m, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = m;
}

static bpe_merge heap_pop(bpe_merge *h, int *n) {
    bpe_merge top = h[0], last = h[--*n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && merge_before(&h[c + 1], &h[c])) c++;
        if (!merge_before(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = last;
    return top;
}

static void emit(encoder *e, int32_t id) {
    if (e->ids) {
        if (e->n_ids >= e->max_ids) {
            e->overflow = true;
            return;
        }
        e->ids[e->n_ids] = id;
    }
    e->n_ids++;
}

/* BPE over the bytes of one piece: merge the lowest-ranked adjacent pair (leftmost on
 * ties) until no pair has a merge - the order Hugging Face's tokenizers uses. */
static void encode_piece(encoder *e, const uint8_t *s, int n) {
    const dr_tokenizer *tok = e->tok;
    if (n == 1) {
        emit(e, tok->byte_id[s[0]]);
        return;
    }
    if (tok->ignore_merges) {
        int id = strmap_find(&tok->text_map, &tok->tokens, s, (size_t)n);
        if (id >= 0) {
            emit(e, id);
            return;
        }
    }
    bpe_symbol *sym = e->sym;
    bpe_merge *heap = e->heap;
    int heap_n = 0;
    for (int i = 0; i < n; i++) sym[i] = (bpe_symbol){tok->byte_id[s[i]], i - 1, i + 1 < n ? i + 1 : -1, 1};
    for (int i = 0; i + 1 < n; i++) {
        const pair_slot *p = pairmap_find(&tok->merges, sym[i].id, sym[i + 1].id);
        if (p) heap_push(heap, &heap_n, (bpe_merge){p->rank, i, p->merged});
    }
    while (heap_n > 0) {
        bpe_merge top = heap_pop(heap, &heap_n);
        bpe_symbol *left = &sym[top.pos];
        if (left->len == 0 || left->next < 0) continue;
        bpe_symbol *right = &sym[left->next];
        const pair_slot *p = pairmap_find(&tok->merges, left->id, right->id);
        if (!p || p->merged != top.merged) continue; /* stale: a neighbour changed */
        left->id = top.merged;
        left->len += right->len;
        right->len = 0;
        left->next = right->next;
        if (left->next >= 0) sym[left->next].prev = top.pos;
        if (left->prev >= 0) {
            p = pairmap_find(&tok->merges, sym[left->prev].id, left->id);
            if (p) heap_push(heap, &heap_n, (bpe_merge){p->rank, left->prev, p->merged});
        }
        if (left->next >= 0) {
            p = pairmap_find(&tok->merges, left->id, sym[left->next].id);
            if (p) heap_push(heap, &heap_n, (bpe_merge){p->rank, top.pos, p->merged});
        }
    }
    for (int i = 0; i >= 0; i = sym[i].next) emit(e, sym[i].id);
}

/* Plain text (no added tokens inside): pre-tokenize, then BPE each piece. */
static void encode_plain(encoder *e, const uint8_t *s, size_t len) {
    if (!len) return;
    long n = decode_text(s, len, e->cp, e->cls, e->offs); /* validated by the caller */
    for (size_t i = 0; i < (size_t)n && !e->overflow;) {
        size_t end = piece_end(e->cp, e->cls, (size_t)n, i);
        encode_piece(e, s + e->offs[i], (int)(e->offs[end] - e->offs[i]));
        i = end;
    }
}

/* The leftmost-longest added token at or after `from`, or false. */
static bool find_added(const dr_tokenizer *tok, const uint8_t *s, size_t len, size_t from, bool allow_special,
                       size_t *at, size_t *mlen, int *id) {
    if (!tok->added_map.count) return false;
    for (size_t i = from; i < len; i++) {
        if (!tok->added_first[s[i]]) continue;
        for (int k = 0; k < tok->n_added_lens; k++) {
            size_t L = (size_t)tok->added_lens[k];
            if (i + L > len) continue;
            int t = strmap_find(&tok->added_map, &tok->tokens, s + i, L);
            if (t < 0 || ((tok->kind[t] & KIND_SPECIAL) && !allow_special)) continue;
            *at = i, *mlen = L, *id = t;
            return true;
        }
    }
    return false;
}

int dr_tokenizer_encode(const dr_tokenizer *tok, const char *text, size_t len, unsigned flags, int32_t *ids,
                        int max_ids, int *n_ids, dr_err *err) {
    const uint8_t *s = (const uint8_t *)text;
    *n_ids = 0;
    size_t bad = dr_utf8_validate(s, len);
    if (bad != len) return dr_err_set(err, DR_EFORMAT, "invalid UTF-8 at byte offset %zu", bad);
    if (len > (size_t)INT32_MAX / 4) return dr_err_set(err, DR_ERANGE, "text of %zu bytes is too long to tokenize", len);
    encoder e = {.tok = tok, .ids = ids, .max_ids = ids ? max_ids : 0};
    if (flags & DR_TOKENIZE_ADD_BEGIN) {
        int begin = dr_tokenizer_special_id(tok, DR_TOKEN_BEGIN);
        if (begin < 0) return dr_err_set(err, DR_ENOTFOUND, "tokenizer has no %s token", DR_TOKEN_BEGIN);
        emit(&e, begin);
    }
    e.cp = malloc(sizeof *e.cp * (len + 1));
    e.cls = malloc(len + 1);
    e.offs = malloc(sizeof *e.offs * (len + 1));
    e.sym = malloc(sizeof *e.sym * (len + 1));
    e.heap = malloc(sizeof *e.heap * (3 * len + 3)); /* initial pairs + two per merge */
    int rc = DR_OK;
    if (!e.cp || !e.cls || !e.offs || !e.sym || !e.heap) {
        rc = dr_err_set(err, DR_ENOMEM, "out of memory tokenizing %zu bytes", len);
    } else {
        size_t pos = 0, at, mlen;
        int id;
        bool allow = (flags & DR_TOKENIZE_ALLOW_SPECIAL) != 0;
        while (pos < len && !e.overflow) {
            if (!find_added(tok, s, len, pos, allow, &at, &mlen, &id)) {
                encode_plain(&e, s + pos, len - pos);
                break;
            }
            encode_plain(&e, s + pos, at - pos);
            emit(&e, id);
            pos = at + mlen;
        }
        if (e.overflow)
            rc = dr_err_set(err, DR_ERANGE, "text of %zu bytes gives more than the limit of %d tokens", len, max_ids);
    }
    free(e.cp), free(e.cls), free(e.offs), free(e.sym), free(e.heap);
    *n_ids = rc ? 0 : e.n_ids;
    return rc;
}

int dr_tokenizer_decode(const dr_tokenizer *tok, const int32_t *ids, int n_ids, unsigned flags, char **text,
                        size_t *len, dr_err *err) {
    *text = NULL;
    *len = 0;
    size_t total = 0;
    for (int i = 0; i < n_ids; i++) {
        if (ids[i] < 0 || ids[i] >= tok->tokens.n)
            return dr_err_set(err, DR_ERANGE, "token id %d at position %d is outside the vocabulary (%d tokens)",
                              (int)ids[i], i, tok->tokens.n);
        total += tok->tokens.len[ids[i]];
    }
    char *out = malloc(total + 1);
    if (!out) return dr_err_set(err, DR_ENOMEM, "out of memory decoding %d tokens", n_ids);
    size_t at = 0;
    for (int i = 0; i < n_ids; i++) {
        if ((flags & DR_DETOKENIZE_SKIP_SPECIAL) && (tok->kind[ids[i]] & KIND_SPECIAL)) continue;
        size_t n;
        const char *b = strtab_get(&tok->tokens, ids[i], &n);
        memcpy(out + at, b, n);
        at += n;
    }
    out[at] = 0;
    *text = out;
    *len = at;
    return DR_OK;
}

/* ------------------------------------------------------------------------------------
 * tokenizer.json: reading.
 * ------------------------------------------------------------------------------------ */

/* A byte-level string ("Ġworld") back to raw bytes (" world"). Returns the byte count or
 * -1 when a character is outside the byte-level alphabet. out has room for strlen(s). */
static long from_byte_level(const char *s, const int16_t from_char[324], uint8_t *out) {
    size_t n = strlen(s), i = 0;
    long k = 0;
    while (i < n) {
        uint32_t c;
        int l = dr_utf8_decode((const uint8_t *)s + i, n - i, &c);
        if (!l || c >= 324 || from_char[c] < 0) return -1;
        out[k++] = (uint8_t)from_char[c];
        i += (size_t)l;
    }
    return k;
}

static const cJSON *get(const cJSON *obj, const char *key) { return cJSON_GetObjectItemCaseSensitive(obj, key); }

static bool is_null_or_absent(const cJSON *v) { return !v || cJSON_IsNull(v); }

static bool get_bool(const cJSON *obj, const char *key, bool dflt) {
    const cJSON *v = get(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

/* Integral JSON number in [0, DR_TOKENIZER_MAX_TOKENS). */
static bool get_id(const cJSON *v, int *id) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0 && d < DR_TOKENIZER_MAX_TOKENS) || d != (double)(int)d) return false;
    *id = (int)d;
    return true;
}

static int check_pipeline(const cJSON *root, const char *name, dr_err *err) {
    const cJSON *norm = get(root, "normalizer");
    if (!is_null_or_absent(norm))
        return dr_err_set(err, DR_EUNSUPPORTED, "%s: normalizers are not supported (Llama 3 has none)", name);
    const cJSON *pre = get(root, "pre_tokenizer");
    const cJSON *type = get(pre, "type");
    const cJSON *list = get(pre, "pretokenizers");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "Sequence") || !cJSON_IsArray(list) ||
        cJSON_GetArraySize(list) != 2)
        return dr_err_set(err, DR_EUNSUPPORTED,
                          "%s: pre_tokenizer must be Sequence[Split(Llama 3 regex), ByteLevel] (the Llama 3 kind)",
                          name);
    const cJSON *split = cJSON_GetArrayItem(list, 0), *bl = cJSON_GetArrayItem(list, 1);
    const cJSON *stype = get(split, "type"), *regex = get(get(split, "pattern"), "Regex");
    const cJSON *behavior = get(split, "behavior");
    if (!cJSON_IsString(stype) || strcmp(stype->valuestring, "Split") || !cJSON_IsString(regex) ||
        strcmp(regex->valuestring, LLAMA3_SPLIT_REGEX) ||
        (behavior && (!cJSON_IsString(behavior) || strcmp(behavior->valuestring, "Isolated"))) ||
        get_bool(split, "invert", false))
        return dr_err_set(err, DR_EUNSUPPORTED,
                          "%s: the pre_tokenizer Split must use the Llama 3 regex, behavior Isolated (the only "
                          "split implemented)",
                          name);
    const cJSON *bltype = get(bl, "type");
    if (!cJSON_IsString(bltype) || strcmp(bltype->valuestring, "ByteLevel") || get_bool(bl, "use_regex", true) ||
        get_bool(bl, "add_prefix_space", false))
        return dr_err_set(err, DR_EUNSUPPORTED,
                          "%s: the second pre_tokenizer must be ByteLevel with use_regex false and no prefix space",
                          name);
    const cJSON *dec = get(root, "decoder"), *dtype = get(dec, "type");
    if (!cJSON_IsString(dtype) || strcmp(dtype->valuestring, "ByteLevel"))
        return dr_err_set(err, DR_EUNSUPPORTED, "%s: decoder must be ByteLevel", name);
    return DR_OK;
}

static int check_model(const cJSON *model, const char *name, dr_err *err) {
    if (!cJSON_IsObject(model)) return dr_err_set(err, DR_EFORMAT, "%s: no \"model\" object", name);
    const cJSON *type = get(model, "type");
    if (type && (!cJSON_IsString(type) || strcmp(type->valuestring, "BPE")))
        return dr_err_set(err, DR_EUNSUPPORTED, "%s: model type must be BPE", name);
    if (get_bool(model, "byte_fallback", false))
        return dr_err_set(err, DR_EUNSUPPORTED, "%s: byte_fallback BPE is not supported", name);
    if (!is_null_or_absent(get(model, "unk_token")))
        return dr_err_set(err, DR_EUNSUPPORTED, "%s: unk_token is not supported (byte-level BPE needs none)", name);
    const char *affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = get(model, affixes[i]);
        if (!is_null_or_absent(v) && !(cJSON_IsString(v) && !v->valuestring[0]))
            return dr_err_set(err, DR_EUNSUPPORTED, "%s: %s is not supported", name, affixes[i]);
    }
    const cJSON *dropout = get(model, "dropout");
    if (!is_null_or_absent(dropout) && !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0.0))
        return dr_err_set(err, DR_EUNSUPPORTED, "%s: BPE dropout is not supported", name);
    if (!cJSON_IsObject(get(model, "vocab"))) return dr_err_set(err, DR_EFORMAT, "%s: model has no \"vocab\" object", name);
    if (!cJSON_IsArray(get(model, "merges"))) return dr_err_set(err, DR_EFORMAT, "%s: model has no \"merges\" array", name);
    return DR_OK;
}

/* What the file says about one id: its vocab entry and/or its added-token entry. */
typedef struct pending_token {
    const char *vocab_text; /* byte-level string from model.vocab, or NULL */
    const char *added_text; /* raw content from added_tokens, or NULL */
    bool special;
} pending_token;

static int load_tokens(dr_tokenizer *tok, const cJSON *root, const cJSON *model, const int16_t from_char[324],
                       const char *name, dr_err *err) {
    const cJSON *vocab = get(model, "vocab"), *added = get(root, "added_tokens");
    if (added && !cJSON_IsArray(added) && !cJSON_IsNull(added))
        return dr_err_set(err, DR_EFORMAT, "%s: \"added_tokens\" is not an array", name);
    int n_vocab = cJSON_GetArraySize(vocab), n_added = cJSON_IsArray(added) ? cJSON_GetArraySize(added) : 0;
    if (n_vocab < 256) return dr_err_set(err, DR_EFORMAT, "%s: vocab has %d tokens, fewer than the 256 bytes", name, n_vocab);
    if (n_vocab > DR_TOKENIZER_MAX_TOKENS || n_added > DR_TOKENIZER_MAX_TOKENS)
        return dr_err_set(err, DR_ERANGE, "%s: too many tokens (limit %d)", name, DR_TOKENIZER_MAX_TOKENS);
    /* Ids must tile 0..N-1, so no id can exceed the number of entries. */
    int cap = n_vocab + n_added, n_ids = 0, rc = DR_OK;
    pending_token *by_id = calloc((size_t)cap, sizeof *by_id);
    uint8_t *buf = NULL;
    if (!by_id) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", name);
    const cJSON *item;
    cJSON_ArrayForEach(item, vocab) {
        int id = 0;
        if (!get_id(item, &id))
            rc = dr_err_set(err, DR_EFORMAT, "%s: vocab token \"%.64s\" has a bad id (not an integer in [0, %d))",
                            name, item->string, DR_TOKENIZER_MAX_TOKENS);
        else if (id >= cap)
            rc = dr_err_set(err, DR_EFORMAT, "%s: vocab token \"%.64s\" has id %d but there are only %d tokens", name,
                            item->string, id, cap);
        else if (by_id[id].vocab_text)
            rc = dr_err_set(err, DR_EFORMAT, "%s: id %d is used twice in the vocab (\"%.64s\", \"%.64s\")", name, id,
                            by_id[id].vocab_text, item->string);
        if (rc) goto done;
        by_id[id].vocab_text = item->string;
        if (id >= n_ids) n_ids = id + 1;
    }
    if (cJSON_IsArray(added)) {
        cJSON_ArrayForEach(item, added) {
            int id = 0;
            const cJSON *content = get(item, "content");
            if (!cJSON_IsObject(item) || !get_id(get(item, "id"), &id) || !cJSON_IsString(content) ||
                !content->valuestring[0]) {
                rc = dr_err_set(err, DR_EFORMAT, "%s: an added token lacks a valid \"id\" or \"content\"", name);
                goto done;
            }
            const char *text = content->valuestring;
            if (get_bool(item, "lstrip", false) || get_bool(item, "rstrip", false) ||
                get_bool(item, "single_word", false))
                rc = dr_err_set(err, DR_EUNSUPPORTED,
                                "%s: added token \"%.64s\": lstrip/rstrip/single_word are not supported", name, text);
            else if (id >= cap)
                rc = dr_err_set(err, DR_EFORMAT, "%s: added token \"%.64s\" has id %d but there are only %d tokens",
                                name, text, id, cap);
            else if (by_id[id].added_text)
                rc = dr_err_set(err, DR_EFORMAT, "%s: id %d is used by two added tokens (\"%.64s\", \"%.64s\")", name,
                                id, by_id[id].added_text, text);
            if (rc) goto done;
            by_id[id].added_text = text;
            by_id[id].special = get_bool(item, "special", false);
            if (id >= n_ids) n_ids = id + 1;
        }
    }
    size_t buf_cap = 256;
    for (int id = 0; id < n_ids; id++) {
        size_t n = strlen(by_id[id].vocab_text ? by_id[id].vocab_text : by_id[id].added_text ? by_id[id].added_text : "");
        if (n + 1 > buf_cap) buf_cap = n + 1;
    }
    if (!(buf = malloc(buf_cap))) {
        rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    for (int id = 0; id < n_ids; id++) {
        const pending_token *p = &by_id[id];
        if (!p->vocab_text && !p->added_text) {
            rc = dr_err_set(err, DR_EFORMAT, "%s: token ids are not contiguous: no token has id %d (of %d)", name, id,
                            n_ids);
            goto done;
        }
        long len;
        if (p->vocab_text) {
            len = from_byte_level(p->vocab_text, from_char, buf);
            if (len <= 0) {
                rc = dr_err_set(err, DR_EFORMAT, "%s: vocab token \"%.64s\" (id %d) is not a byte-level string", name,
                                p->vocab_text, id);
                goto done;
            }
            /* GPT-2 style files list some vocab tokens again as added tokens: fine if the same. */
            if (p->added_text && (strlen(p->added_text) != (size_t)len || memcmp(p->added_text, buf, (size_t)len))) {
                rc = dr_err_set(err, DR_EFORMAT, "%s: id %d is both vocab token \"%.64s\" and added token \"%.64s\"",
                                name, id, p->vocab_text, p->added_text);
                goto done;
            }
        } else {
            len = (long)strlen(p->added_text);
            if (dr_utf8_validate((const uint8_t *)p->added_text, (size_t)len) != (size_t)len) {
                rc = dr_err_set(err, DR_EFORMAT, "%s: added token %d is not valid UTF-8", name, id);
                goto done;
            }
            memcpy(buf, p->added_text, (size_t)len);
        }
        if ((p->vocab_text && strmap_find(&tok->text_map, &tok->tokens, buf, (size_t)len) >= 0) ||
            (p->added_text && strmap_find(&tok->added_map, &tok->tokens, buf, (size_t)len) >= 0)) {
            rc = dr_err_set(err, DR_EFORMAT, "%s: token \"%.64s\" appears twice (second time as id %d)", name,
                            p->vocab_text ? p->vocab_text : p->added_text, id);
            goto done;
        }
        uint8_t kind = (uint8_t)((p->vocab_text ? KIND_TEXT : 0) | (p->added_text ? KIND_ADDED : 0) |
                                 (p->added_text && p->special ? KIND_SPECIAL : 0));
        int got = tok_append(tok, buf, (size_t)len, kind);
        if (got < 0 || (p->added_text && tok_register_added(tok, got))) {
            rc = dr_err_set(err, got == DR_ERANGE ? DR_ERANGE : DR_ENOMEM, "%s: cannot store token %d", name, id);
            goto done;
        }
    }
    /* Every byte needs a token, or some text could not be encoded. */
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        int id = strmap_find(&tok->text_map, &tok->tokens, &c, 1);
        if (id < 0) {
            rc = dr_err_set(err, DR_EFORMAT, "%s: the vocab has no token for byte 0x%02X (byte-level BPE needs all 256)",
                            name, b);
            goto done;
        }
        tok->byte_id[b] = id;
    }
done:
    free(buf);
    free(by_id);
    return rc;
}

static int load_merges(dr_tokenizer *tok, const cJSON *merges, const int16_t from_char[324], const char *name,
                       dr_err *err) {
    int rc = DR_OK, index = 0;
    const cJSON *m;
    uint8_t *buf = NULL;
    size_t cap = 0;
    cJSON_ArrayForEach(m, merges) {
        const char *a, *b;
        char *split_copy = NULL;
        if (cJSON_IsString(m)) { /* "a b" */
            const char *sp = strchr(m->valuestring, ' ');
            if (!sp || strchr(sp + 1, ' ') || sp == m->valuestring || !sp[1]) {
                rc = dr_err_set(err, DR_EFORMAT, "%s: merge %d \"%.64s\" is not two tokens separated by one space", name,
                                index, m->valuestring);
                break;
            }
            split_copy = strdup(m->valuestring);
            if (!split_copy) {
                rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", name);
                break;
            }
            split_copy[sp - m->valuestring] = 0;
            a = split_copy;
            b = split_copy + (sp - m->valuestring) + 1;
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(cJSON_GetArrayItem(m, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(m, 1))) {
            a = cJSON_GetArrayItem(m, 0)->valuestring;
            b = cJSON_GetArrayItem(m, 1)->valuestring;
        } else {
            rc = dr_err_set(err, DR_EFORMAT, "%s: merge %d is neither \"a b\" nor [\"a\", \"b\"]", name, index);
            break;
        }
        size_t la = strlen(a), lb = strlen(b);
        if (la + lb + 1 > cap) {
            cap = (la + lb + 1) * 2;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                free(split_copy);
                rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", name);
                break;
            }
            buf = nb;
        }
        long na = from_byte_level(a, from_char, buf);
        long nb = na > 0 ? from_byte_level(b, from_char, buf + na) : -1;
        int ia = na > 0 ? strmap_find(&tok->text_map, &tok->tokens, buf, (size_t)na) : -1;
        int ib = nb > 0 ? strmap_find(&tok->text_map, &tok->tokens, buf + na, (size_t)nb) : -1;
        int im = ia >= 0 && ib >= 0 ? strmap_find(&tok->text_map, &tok->tokens, buf, (size_t)(na + nb)) : -1;
        if (ia < 0 || ib < 0 || im < 0) {
            rc = dr_err_set(err, DR_EFORMAT, "%s: merge %d (\"%.64s\" \"%.64s\") refers to a token not in the vocab", name,
                            index, a, b);
        } else if (pairmap_find(&tok->merges, ia, ib)) {
            rc = dr_err_set(err, DR_EFORMAT, "%s: merge %d (\"%.64s\" \"%.64s\") is listed twice", name, index, a, b);
        } else if (tok_add_merge(tok, ia, ib, im)) {
            rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", name);
        }
        free(split_copy);
        if (rc) break;
        index++;
    }
    free(buf);
    return rc;
}

static int load_words(dr_tokenizer *tok, const cJSON *root, const char *name, dr_err *err) {
    const cJSON *words = get(get(root, "director"), "training_words");
    if (!words) return DR_OK;
    if (!cJSON_IsArray(words)) return dr_err_set(err, DR_EFORMAT, "%s: director.training_words is not an array", name);
    const cJSON *w;
    const char *prev = NULL;
    cJSON_ArrayForEach(w, words) {
        if (!cJSON_IsString(w) || (prev && strcmp(prev, w->valuestring) >= 0))
            return dr_err_set(err, DR_EFORMAT, "%s: director.training_words must be sorted unique strings", name);
        if (strtab_add(&tok->words, w->valuestring, strlen(w->valuestring)) < 0)
            return dr_err_set(err, DR_ENOMEM, "%s: out of memory", name);
        prev = w->valuestring;
    }
    return DR_OK;
}

int dr_tokenizer_load_json(dr_tokenizer **out, const char *json, size_t len, const char *name, dr_err *err) {
    *out = NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (!root) {
        long at = end && end >= json && end <= json + len ? (long)(end - json) : -1;
        return dr_err_set(err, DR_EFORMAT, "%s: not valid JSON (near byte %ld)", name, at);
    }
    int rc;
    dr_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) {
        cJSON_Delete(root);
        return dr_err_set(err, DR_ENOMEM, "%s: out of memory", name);
    }
    uint32_t to_char[256];
    int16_t from_char[324];
    byte_level_tables(to_char, from_char);
    const cJSON *model = get(root, "model");
    if (!cJSON_IsObject(root)) rc = dr_err_set(err, DR_EFORMAT, "%s: top level is not a JSON object", name);
    else if ((rc = check_model(model, name, err))) {
    } else if ((rc = check_pipeline(root, name, err))) {
    } else if ((rc = load_tokens(tok, root, model, from_char, name, err))) {
    } else if ((rc = load_merges(tok, get(model, "merges"), from_char, name, err))) {
    } else {
        rc = load_words(tok, root, name, err);
    }
    tok->ignore_merges = get_bool(model, "ignore_merges", false);
    cJSON_Delete(root);
    if (rc) {
        dr_tokenizer_free(tok);
        return rc;
    }
    *out = tok;
    return DR_OK;
}

int dr_tokenizer_load(dr_tokenizer **out, const char *path, dr_err *err) {
    char *data;
    size_t size;
    *out = NULL;
    int rc = dr_read_file(path, DR_TOKENIZER_MAX_FILE_BYTES, &data, &size, err);
    if (rc) return rc;
    rc = dr_tokenizer_load_json(out, data, size, path, err);
    free(data);
    return rc;
}

/* ------------------------------------------------------------------------------------
 * tokenizer.json: writing (by hand, for the Hugging Face layout and key order).
 * ------------------------------------------------------------------------------------ */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (b->n + n + 1 > cap) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_put(b, tmp, n < (int)sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string from UTF-8 bytes. */
static void sb_json_string(sbuf *b, const char *s, size_t n) {
    sb_put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        sb_put(b, s + run, i - run);
        run = i + 1;
        if (c == '"') sb_puts(b, "\\\"");
        else if (c == '\\') sb_puts(b, "\\\\");
        else if (c == '\n') sb_puts(b, "\\n");
        else if (c == '\r') sb_puts(b, "\\r");
        else if (c == '\t') sb_puts(b, "\\t");
        else sb_printf(b, "\\u%04x", c);
    }
    sb_put(b, s + run, n - run);
    sb_put(b, "\"", 1);
}

/* A token's bytes as a byte-level JSON string. */
static void sb_byte_level(sbuf *b, const uint32_t to_char[256], const char *s, size_t n) {
    char tmp[4 * 256];
    sb_put(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; i < n && k + 4 <= sizeof tmp; i++) {
            uint32_t c = to_char[(uint8_t)s[i]];
            if (c == '"' || c == '\\') tmp[k++] = '\\';
            k += (size_t)dr_utf8_encode(c, (uint8_t *)tmp + k);
        }
        sb_put(b, tmp, k);
    }
    sb_put(b, "\"", 1);
}

int dr_tokenizer_to_json(const dr_tokenizer *tok, char **json, size_t *len, dr_err *err) {
    uint32_t to_char[256];
    int16_t from_char[324];
    byte_level_tables(to_char, from_char);
    sbuf b = {0};
    size_t n;
    const char *s;
    sb_puts(&b, "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [");
    bool first = true;
    for (int id = 0; id < tok->tokens.n; id++) {
        if (!(tok->kind[id] & KIND_ADDED)) continue;
        s = strtab_get(&tok->tokens, id, &n);
        sb_printf(&b, "%s\n    {\n      \"id\": %d,\n      \"content\": ", first ? "" : ",", id);
        sb_json_string(&b, s, n);
        sb_printf(&b,
                  ",\n      \"single_word\": false,\n      \"lstrip\": false,\n      \"rstrip\": false,\n"
                  "      \"normalized\": false,\n      \"special\": %s\n    }",
                  tok->kind[id] & KIND_SPECIAL ? "true" : "false");
        first = false;
    }
    sb_puts(&b, first ? "],\n" : "\n  ],\n");
    sb_puts(&b, "  \"normalizer\": null,\n  \"pre_tokenizer\": {\n    \"type\": \"Sequence\",\n    \"pretokenizers\": [\n"
                "      {\n        \"type\": \"Split\",\n        \"pattern\": {\n          \"Regex\": ");
    sb_json_string(&b, LLAMA3_SPLIT_REGEX, strlen(LLAMA3_SPLIT_REGEX));
    sb_puts(&b, "\n        },\n        \"behavior\": \"Isolated\",\n        \"invert\": false\n      },\n"
                "      {\n        \"type\": \"ByteLevel\",\n        \"add_prefix_space\": false,\n"
                "        \"trim_offsets\": true,\n        \"use_regex\": false\n      }\n    ]\n  },\n");
    /* Post-processor as in Llama 3: add <|begin_of_text|> in front when the file has it. */
    int begin = dr_tokenizer_special_id(tok, DR_TOKEN_BEGIN);
    sb_puts(&b, "  \"post_processor\": {\n    \"type\": \"Sequence\",\n    \"processors\": [\n"
                "      {\n        \"type\": \"ByteLevel\",\n        \"add_prefix_space\": true,\n"
                "        \"trim_offsets\": false,\n        \"use_regex\": true\n      }");
    if (begin >= 0) {
        const char *bt = "{\"SpecialToken\": {\"id\": \"" DR_TOKEN_BEGIN "\", \"type_id\": 0}}";
        sb_printf(&b, ",\n      {\n        \"type\": \"TemplateProcessing\",\n        \"single\": [%s, ", bt);
        sb_printf(&b, "{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}],\n        \"pair\": [%s, ", bt);
        sb_printf(&b, "{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, %s, ", bt);
        sb_puts(&b, "{\"Sequence\": {\"id\": \"B\", \"type_id\": 1}}],\n        \"special_tokens\": {\n");
        sb_printf(&b, "          \"%s\": {\"id\": \"%s\", \"ids\": [%d], \"tokens\": [\"%s\"]}\n        }\n      }",
                  DR_TOKEN_BEGIN, DR_TOKEN_BEGIN, begin, DR_TOKEN_BEGIN);
    }
    sb_puts(&b, "\n    ]\n  },\n");
    sb_puts(&b, "  \"decoder\": {\n    \"type\": \"ByteLevel\",\n    \"add_prefix_space\": true,\n"
                "    \"trim_offsets\": true,\n    \"use_regex\": true\n  },\n");
    sb_printf(&b,
              "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n"
              "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n"
              "    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": %s,\n    \"vocab\": {",
              tok->ignore_merges ? "true" : "false");
    first = true;
    for (int id = 0; id < tok->tokens.n; id++) {
        if (!(tok->kind[id] & KIND_TEXT)) continue;
        s = strtab_get(&tok->tokens, id, &n);
        sb_puts(&b, first ? "\n      " : ",\n      ");
        sb_byte_level(&b, to_char, s, n);
        sb_printf(&b, ": %d", id);
        first = false;
    }
    sb_puts(&b, "\n    },\n    \"merges\": [");
    for (int i = 0; i < tok->n_merges; i++) {
        sb_puts(&b, i ? ",\n      [" : "\n      [");
        s = strtab_get(&tok->tokens, tok->merge_left[i], &n);
        sb_byte_level(&b, to_char, s, n);
        sb_puts(&b, ", ");
        s = strtab_get(&tok->tokens, tok->merge_right[i], &n);
        sb_byte_level(&b, to_char, s, n);
        sb_puts(&b, "]");
    }
    sb_puts(&b, tok->n_merges ? "\n    ]\n  }" : "]\n  }");
    if (tok->words.n) {
        sb_puts(&b, ",\n  \"director\": {\n    \"format\": \"director-tokenizer\",\n    \"version\": 1,\n"
                    "    \"training_words\": [");
        for (int i = 0; i < tok->words.n; i++) {
            s = strtab_get(&tok->words, i, &n);
            sb_puts(&b, i % 8 ? ", " : (i ? ",\n      " : "\n      "));
            sb_json_string(&b, s, n);
        }
        sb_puts(&b, "\n    ]\n  }");
    }
    sb_puts(&b, "\n}\n");
    if (b.oom) {
        free(b.p);
        return dr_err_set(err, DR_ENOMEM, "out of memory writing tokenizer JSON");
    }
    *json = b.p;
    *len = b.n;
    return DR_OK;
}

int dr_tokenizer_save(const dr_tokenizer *tok, const char *path, dr_err *err) {
    char *json;
    size_t len;
    int rc = dr_tokenizer_to_json(tok, &json, &len, err);
    if (rc) return rc;
    rc = dr_write_file_atomic(path, json, len, err);
    free(json);
    return rc;
}

/* ------------------------------------------------------------------------------------
 * Training.
 * ------------------------------------------------------------------------------------ */

typedef struct train_word {
    int32_t *sym;
    int n;
    int64_t count;
} train_word;

/* Statistics of one adjacent pair over the corpus. */
typedef struct train_pair {
    int32_t a, b;
    int64_t count;
    int32_t *words; /* indices of words that contained the pair (may be stale) */
    int n_words, cap_words;
} train_pair;

typedef struct train_cand {
    int64_t count;
    int32_t a, b;
} train_cand;

typedef struct trainer {
    train_pair *pairs;
    int n_pairs, cap_pairs;
    int32_t *slots; /* pair index or -1, keyed by (a, b) */
    uint32_t mask;
    train_cand *heap;
    size_t n_heap, cap_heap;
    bool oom;
} trainer;

static bool cand_before(const train_cand *x, const train_cand *y) {
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

static void cand_push(trainer *t, train_cand c) {
    if (t->n_heap == t->cap_heap) {
        size_t cap = t->cap_heap ? t->cap_heap * 2 : 4096;
        train_cand *h = realloc(t->heap, sizeof *h * cap);
        if (!h) {
            t->oom = true;
            return;
        }
        t->heap = h, t->cap_heap = cap;
    }
    size_t i = t->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_before(&c, &t->heap[p])) break;
        t->heap[i] = t->heap[p];
        i = p;
    }
    t->heap[i] = c;
}

static train_cand cand_pop(trainer *t) {
    train_cand top = t->heap[0], last = t->heap[--t->n_heap];
    size_t i = 0, n = t->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && cand_before(&t->heap[c + 1], &t->heap[c])) c++;
        if (!cand_before(&t->heap[c], &last)) break;
        t->heap[i] = t->heap[c];
        i = c;
    }
    if (n > 0) t->heap[i] = last;
    return top;
}

/* Index of pair (a, b), created when absent (or -1 on out of memory). */
static int pair_index(trainer *t, int32_t a, int32_t b, bool create) {
    uint64_t k = pair_key(a, b);
    if (t->mask) {
        for (uint32_t i = pair_hash(k) & t->mask;; i = (i + 1) & t->mask) {
            int32_t e = t->slots[i];
            if (e < 0) break;
            if (t->pairs[e].a == a && t->pairs[e].b == b) return e;
        }
    }
    if (!create) return -1;
    if ((uint32_t)(t->n_pairs + 1) * 2 > t->mask) {
        uint32_t cap = t->mask ? (t->mask + 1) * 2 : 4096;
        int32_t *slots = malloc(sizeof *slots * cap);
        if (!slots) return -1;
        memset(slots, 0xff, sizeof *slots * cap);
        free(t->slots);
        t->slots = slots, t->mask = cap - 1;
        for (int e = 0; e < t->n_pairs; e++) {
            uint32_t i = pair_hash(pair_key(t->pairs[e].a, t->pairs[e].b)) & t->mask;
            while (slots[i] >= 0) i = (i + 1) & t->mask;
            slots[i] = e;
        }
    }
    if (t->n_pairs == t->cap_pairs) {
        int cap = t->cap_pairs ? t->cap_pairs * 2 : 4096;
        train_pair *p = realloc(t->pairs, sizeof *p * (size_t)cap);
        if (!p) return -1;
        t->pairs = p, t->cap_pairs = cap;
    }
    int e = t->n_pairs++;
    t->pairs[e] = (train_pair){a, b, 0, NULL, 0, 0};
    uint32_t i = pair_hash(k) & t->mask;
    while (t->slots[i] >= 0) i = (i + 1) & t->mask;
    t->slots[i] = e;
    return e;
}

/* Add delta occurrences of every adjacent pair of word w (index wi). New occurrences also
 * record the word, so a merge visits only the words that can contain its pair. */
static void count_pairs(trainer *t, const train_word *w, int wi, int64_t delta) {
    for (int i = 0; i + 1 < w->n; i++) {
        int e = pair_index(t, w->sym[i], w->sym[i + 1], true);
        if (e < 0) {
            t->oom = true;
            return;
        }
        train_pair *p = &t->pairs[e];
        p->count += delta;
        if (delta > 0 && (p->n_words == 0 || p->words[p->n_words - 1] != wi)) {
            if (p->n_words == p->cap_words) {
                int cap = p->cap_words ? p->cap_words * 2 : 4;
                int32_t *ws = realloc(p->words, sizeof *ws * (size_t)cap);
                if (!ws) {
                    t->oom = true;
                    return;
                }
                p->words = ws, p->cap_words = cap;
            }
            p->words[p->n_words++] = wi;
        }
    }
}

static void push_word_pairs(trainer *t, const train_word *w) {
    for (int i = 0; i + 1 < w->n; i++) {
        int e = pair_index(t, w->sym[i], w->sym[i + 1], false);
        if (e >= 0 && t->pairs[e].count > 0) cand_push(t, (train_cand){t->pairs[e].count, w->sym[i], w->sym[i + 1]});
    }
}

static void trainer_free(trainer *t) {
    for (int i = 0; i < t->n_pairs; i++) free(t->pairs[i].words);
    free(t->pairs), free(t->slots), free(t->heap);
}

/* Lower-case ASCII letters (the training-word list is for spotting unknown words; the
 * captions are English). */
static void lower_ascii(char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 'A' && s[i] <= 'Z') s[i] = (char)(s[i] | 0x20);
}

static int cmp_str(const void *x, const void *y) { return strcmp(*(const char *const *)x, *(const char *const *)y); }

/* Collect the distinct pieces (with counts) and the distinct lower-cased letter runs. */
static int collect_corpus(const char *const *texts, int n_texts, strtab *pieces, int64_t **counts, strtab *words,
                          dr_err *err) {
    strmap piece_map = {0}, word_map = {0};
    int64_t *cnt = NULL;
    int cnt_cap = 0, rc = DR_OK;
    size_t scratch_cap = 0;
    uint32_t *cp = NULL;
    uint8_t *cls = NULL;
    size_t *offs = NULL;
    char *lower = NULL;
    for (int t = 0; t < n_texts && !rc; t++) {
        const uint8_t *s = (const uint8_t *)texts[t];
        size_t len = strlen(texts[t]);
        if (len + 1 > scratch_cap) {
            scratch_cap = (len + 1) * 2;
            free(cp), free(cls), free(offs), free(lower);
            cp = malloc(sizeof *cp * scratch_cap);
            cls = malloc(scratch_cap);
            offs = malloc(sizeof *offs * scratch_cap);
            lower = malloc(scratch_cap);
            if (!cp || !cls || !offs || !lower) {
                rc = dr_err_set(err, DR_ENOMEM, "out of memory reading the corpus");
                break;
            }
        }
        long n = decode_text(s, len, cp, cls, offs);
        if (n < 0) {
            rc = dr_err_set(err, DR_EFORMAT, "text %d: invalid UTF-8 at byte offset %ld", t, -n - 1);
            break;
        }
        for (size_t i = 0; i < (size_t)n;) {
            size_t e = piece_end(cp, cls, (size_t)n, i);
            const char *p = (const char *)s + offs[i];
            size_t plen = offs[e] - offs[i];
            int id = strmap_find(&piece_map, pieces, p, plen);
            if (id < 0) {
                id = strtab_add(pieces, p, plen);
                if (id < 0 || strmap_insert(&piece_map, pieces, id)) {
                    rc = dr_err_set(err, DR_ENOMEM, "out of memory counting words");
                    break;
                }
                if (id >= cnt_cap) {
                    cnt_cap = cnt_cap ? cnt_cap * 2 : 4096;
                    int64_t *c = realloc(cnt, sizeof *c * (size_t)cnt_cap);
                    if (!c) {
                        rc = dr_err_set(err, DR_ENOMEM, "out of memory counting words");
                        break;
                    }
                    cnt = c;
                }
                cnt[id] = 0;
            }
            cnt[id]++;
            i = e;
        }
        /* Words: maximal runs of letters. */
        for (size_t i = 0; i < (size_t)n && !rc;) {
            if (!(cls[i] & DR_UC_LETTER)) {
                i++;
                continue;
            }
            size_t j = i;
            while (j < (size_t)n && (cls[j] & DR_UC_LETTER)) j++;
            size_t wl = offs[j] - offs[i];
            memcpy(lower, s + offs[i], wl);
            lower_ascii(lower, wl);
            if (strmap_find(&word_map, words, lower, wl) < 0) {
                int id = strtab_add(words, lower, wl);
                if (id < 0 || strmap_insert(&word_map, words, id))
                    rc = dr_err_set(err, DR_ENOMEM, "out of memory counting words");
            }
            i = j;
        }
    }
    free(cp), free(cls), free(offs), free(lower);
    strmap_free(&piece_map), strmap_free(&word_map);
    *counts = cnt;
    return rc;
}

/* Replace every non-overlapping (a, b) in w, left to right, by m. */
static void apply_merge(train_word *w, int32_t a, int32_t b, int32_t m) {
    int k = 0;
    for (int i = 0; i < w->n; i++) {
        if (i + 1 < w->n && w->sym[i] == a && w->sym[i + 1] == b) {
            w->sym[k++] = m;
            i++;
        } else {
            w->sym[k++] = w->sym[i];
        }
    }
    w->n = k;
}

static bool word_has_pair(const train_word *w, int32_t a, int32_t b) {
    for (int i = 0; i + 1 < w->n; i++)
        if (w->sym[i] == a && w->sym[i + 1] == b) return true;
    return false;
}

int dr_tokenizer_train(dr_tokenizer **out, const char *const *texts, int n_texts, const dr_tokenizer_train_opts *opts,
                       dr_err *err) {
    *out = NULL;
    if (opts->vocab_size < 256 || opts->vocab_size > DR_TOKENIZER_MAX_TOKENS - 16)
        return dr_err_set(err, DR_EINVAL, "vocab size %d is outside [256, %d]", opts->vocab_size,
                          DR_TOKENIZER_MAX_TOKENS - 16);
    if (opts->min_frequency < 1) return dr_err_set(err, DR_EINVAL, "min frequency must be at least 1");
    dr_tokenizer *tok = calloc(1, sizeof *tok);
    strtab pieces = {0}, words = {0};
    int64_t *counts = NULL;
    train_word *tw = NULL;
    trainer t = {0};
    int rc = tok ? DR_OK : DR_ENOMEM;
    if (rc) return dr_err_set(err, rc, "out of memory");
    tok->ignore_merges = true;
    /* Ids 0..255: the bytes, in the order of their byte-level characters (GPT-2's order). */
    uint32_t to_char[256];
    int16_t from_char[324];
    byte_level_tables(to_char, from_char);
    for (uint32_t c = 0; c < 324 && !rc; c++) {
        if (from_char[c] < 0) continue;
        uint8_t byte = (uint8_t)from_char[c];
        int id = tok_append(tok, &byte, 1, KIND_TEXT);
        if (id < 0) rc = dr_err_set(err, DR_ENOMEM, "out of memory");
        else tok->byte_id[byte] = id;
    }
    if (!rc) rc = collect_corpus(texts, n_texts, &pieces, &counts, &words, err);
    if (!rc && !(tw = calloc((size_t)pieces.n + 1, sizeof *tw))) rc = dr_err_set(err, DR_ENOMEM, "out of memory");
    for (int i = 0; i < pieces.n && !rc; i++) {
        size_t n;
        const uint8_t *p = (const uint8_t *)strtab_get(&pieces, i, &n);
        tw[i].sym = malloc(sizeof *tw[i].sym * (n ? n : 1));
        if (!tw[i].sym) {
            rc = dr_err_set(err, DR_ENOMEM, "out of memory");
            break;
        }
        for (size_t k = 0; k < n; k++) tw[i].sym[k] = tok->byte_id[p[k]];
        tw[i].n = (int)n;
        tw[i].count = counts[i];
        count_pairs(&t, &tw[i], i, tw[i].count);
    }
    for (int e = 0; e < t.n_pairs && !rc; e++)
        cand_push(&t, (train_cand){t.pairs[e].count, t.pairs[e].a, t.pairs[e].b});
    int32_t *touched = NULL;
    if (!rc && !(touched = calloc((size_t)pieces.n + 1, sizeof *touched))) rc = dr_err_set(err, DR_ENOMEM, "out of memory");
    uint8_t *merged_bytes = NULL;
    size_t merged_cap = 0;
    int stamp = 0;
    while (!rc && !t.oom && tok->n_text < opts->vocab_size && t.n_heap > 0) {
        train_cand c = cand_pop(&t);
        int e = pair_index(&t, c.a, c.b, false);
        if (e < 0) continue;
        if (t.pairs[e].count != c.count) {
            /* Stale entry. Drops in a pair's count leave only older, higher entries in the
             * heap, so re-queue the pair at its current count (a duplicate is harmless). */
            if (t.pairs[e].count > 0) cand_push(&t, (train_cand){t.pairs[e].count, c.a, c.b});
            continue;
        }
        if (c.count < opts->min_frequency) break;
        /* The merged token; two merge paths can reach the same bytes, which then share an id. */
        size_t la, lb;
        const char *sa = strtab_get(&tok->tokens, c.a, &la);
        size_t lm = la + tok->tokens.len[c.b];
        if (lm > merged_cap) {
            merged_cap = lm * 2;
            uint8_t *nb = realloc(merged_bytes, merged_cap);
            if (!nb) {
                rc = dr_err_set(err, DR_ENOMEM, "out of memory");
                break;
            }
            merged_bytes = nb;
        }
        memcpy(merged_bytes, sa, la);
        const char *sb = strtab_get(&tok->tokens, c.b, &lb);
        memcpy(merged_bytes + la, sb, lb);
        int m = strmap_find(&tok->text_map, &tok->tokens, merged_bytes, lm);
        if (m < 0 && (m = tok_append(tok, merged_bytes, lm, KIND_TEXT)) < 0) {
            rc = dr_err_set(err, DR_ENOMEM, "out of memory");
            break;
        }
        if (tok_add_merge(tok, c.a, c.b, m)) {
            rc = dr_err_set(err, DR_ENOMEM, "out of memory");
            break;
        }
        /* Re-count the pairs of every word that holds (a, b). The pair's word list can grow
         * while we walk it (a word re-records pairs it still has), so walk a copy's length. */
        stamp++;
        int n_list = t.pairs[e].n_words;
        int32_t *list = t.pairs[e].words;
        t.pairs[e].words = NULL, t.pairs[e].n_words = t.pairs[e].cap_words = 0;
        for (int k = 0; k < n_list && !t.oom; k++) {
            int wi = list[k];
            if (touched[wi] == stamp || !word_has_pair(&tw[wi], c.a, c.b)) continue;
            touched[wi] = stamp;
            count_pairs(&t, &tw[wi], wi, -tw[wi].count);
            apply_merge(&tw[wi], c.a, c.b, m);
            count_pairs(&t, &tw[wi], wi, tw[wi].count);
            push_word_pairs(&t, &tw[wi]);
        }
        free(list);
    }
    if (!rc && t.oom) rc = dr_err_set(err, DR_ENOMEM, "out of memory training the tokenizer");
    free(merged_bytes);
    free(touched);
    /* The five special tokens after the text vocabulary. */
    const char *specials[] = {DR_TOKEN_BEGIN, DR_TOKEN_END, DR_TOKEN_POSE_BEGIN, DR_TOKEN_POSE_END, DR_TOKEN_PAD};
    for (int i = 0; i < 5 && !rc; i++) rc = dr_tokenizer_add_token(tok, specials[i], true, NULL, err);
    /* Training words, sorted. */
    if (!rc && words.n) {
        const char **sorted = malloc(sizeof *sorted * (size_t)words.n);
        if (!sorted) rc = dr_err_set(err, DR_ENOMEM, "out of memory");
        for (int i = 0; i < words.n && !rc; i++) sorted[i] = words.arena + words.off[i];
        if (!rc) {
            qsort(sorted, (size_t)words.n, sizeof *sorted, cmp_str);
            for (int i = 0; i < words.n && !rc; i++)
                if (strtab_add(&tok->words, sorted[i], strlen(sorted[i])) < 0) rc = dr_err_set(err, DR_ENOMEM, "out of memory");
        }
        free(sorted);
    }
    for (int i = 0; tw && i < pieces.n; i++) free(tw[i].sym);
    free(tw);
    free(counts);
    trainer_free(&t);
    strtab_free(&pieces);
    strtab_free(&words);
    if (rc) {
        dr_tokenizer_free(tok);
        return rc;
    }
    *out = tok;
    return DR_OK;
}

/* ------------------------------------------------------------------------------------
 * Corpora.
 * ------------------------------------------------------------------------------------ */

void dr_corpus_free(char **texts, int n_texts) {
    for (int i = 0; texts && i < n_texts; i++) free(texts[i]);
    free(texts);
}

static int corpus_push(char ***texts, int *n, int *cap, const char *s, size_t len) {
    if (*n == *cap) {
        int c = *cap ? *cap * 2 : 1024;
        char **t = realloc(*texts, sizeof *t * (size_t)c);
        if (!t) return DR_ENOMEM;
        *texts = t, *cap = c;
    }
    char *copy = malloc(len + 1);
    if (!copy) return DR_ENOMEM;
    memcpy(copy, s, len);
    copy[len] = 0;
    (*texts)[(*n)++] = copy;
    return DR_OK;
}

int dr_corpus_load_captions(const char *dir, const char *split, char ***texts, int *n_texts, dr_err *err) {
    char path[4096], name[256];
    *texts = NULL;
    *n_texts = 0;
    snprintf(name, sizeof name, "%s.jsonl", split);
    if (dr_path_join(path, sizeof path, dir, name)) return dr_err_set(err, DR_ERANGE, "%s: path too long", dir);
    char *data;
    size_t size;
    int rc = dr_read_file(path, (size_t)1 << 31, &data, &size, err);
    if (rc) return rc;
    int cap = 0, line_no = 0;
    for (char *line = data; line < data + size && !rc;) {
        char *nl = memchr(line, '\n', (size_t)(data + size - line));
        size_t len = nl ? (size_t)(nl - line) : (size_t)(data + size - line);
        line_no++;
        if (len) {
            cJSON *obj = cJSON_ParseWithLength(line, len);
            const cJSON *subject = get(obj, "subject"), *prompt = get(obj, "prompt");
            if (!cJSON_IsObject(obj) || !cJSON_IsString(subject) || !cJSON_IsString(prompt))
                rc = dr_err_set(err, DR_EFORMAT, "%s:%d: not a JSON object with string \"subject\" and \"prompt\"", path,
                                line_no);
            else if (corpus_push(texts, n_texts, &cap, subject->valuestring, strlen(subject->valuestring)) ||
                     corpus_push(texts, n_texts, &cap, prompt->valuestring, strlen(prompt->valuestring)))
                rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
            cJSON_Delete(obj);
        }
        line = nl ? nl + 1 : data + size;
    }
    free(data);
    if (!rc && !*n_texts) rc = dr_err_set(err, DR_EFORMAT, "%s: no captions", path);
    if (rc) {
        dr_corpus_free(*texts, *n_texts);
        *texts = NULL, *n_texts = 0;
    }
    return rc;
}

int dr_corpus_load_text(const char *path, char ***texts, int *n_texts, dr_err *err) {
    *texts = NULL;
    *n_texts = 0;
    char *data;
    size_t size;
    int rc = dr_read_file(path, (size_t)1 << 31, &data, &size, err);
    if (rc) return rc;
    if (strlen(data) != size) rc = dr_err_set(err, DR_EFORMAT, "%s: contains a NUL byte", path);
    int cap = 0;
    for (char *line = data; line < data + size && !rc;) {
        char *nl = memchr(line, '\n', (size_t)(data + size - line));
        size_t len = nl ? (size_t)(nl - line) : (size_t)(data + size - line);
        if (len && corpus_push(texts, n_texts, &cap, line, len)) rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
        line = nl ? nl + 1 : data + size;
    }
    free(data);
    if (!rc && !*n_texts) rc = dr_err_set(err, DR_EFORMAT, "%s: no text", path);
    if (rc) {
        dr_corpus_free(*texts, *n_texts);
        *texts = NULL, *n_texts = 0;
    }
    return rc;
}
