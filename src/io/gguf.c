#include "io/gguf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "io/half.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c reads and writes little-endian data in place: port the byte swaps first"
#endif

#define GGUF_HEADER_SIZE 24
#define GGUF_MAX_KEY 65535
/* Smallest possible encodings, used to refuse counts the file cannot hold before allocating. */
#define GGUF_MIN_KV_BYTES 14     /* key length, 1-byte key, type, 1-byte value */
#define GGUF_MIN_TENSOR_BYTES 33 /* name length, 1-byte name, n_dims, one dim, type, offset */

size_t dr_ggml_type_size(uint32_t type) {
    switch (type) {
    case DR_GGML_F32: return 4;
    case DR_GGML_F16: return 2;
    case DR_GGML_BF16: return 2;
    case DR_GGML_I8: return 1;
    case DR_GGML_I16: return 2;
    case DR_GGML_I32: return 4;
    case DR_GGML_I64: return 8;
    case DR_GGML_F64: return 8;
    default: return 0;
    }
}

const char *dr_ggml_type_name(uint32_t type) {
    switch (type) {
    case DR_GGML_F32: return "F32";
    case DR_GGML_F16: return "F16";
    case DR_GGML_BF16: return "BF16";
    case DR_GGML_I8: return "I8";
    case DR_GGML_I16: return "I16";
    case DR_GGML_I32: return "I32";
    case DR_GGML_I64: return "I64";
    case DR_GGML_F64: return "F64";
    default: return "?";
    }
}

/* Size of a scalar value type; 0 for STRING, ARRAY and unknown types. */
static size_t value_size(uint32_t type) {
    switch (type) {
    case DR_GGUF_U8: case DR_GGUF_I8: case DR_GGUF_BOOL: return 1;
    case DR_GGUF_U16: case DR_GGUF_I16: return 2;
    case DR_GGUF_U32: case DR_GGUF_I32: case DR_GGUF_F32: return 4;
    case DR_GGUF_U64: case DR_GGUF_I64: case DR_GGUF_F64: return 8;
    default: return 0;
    }
}

static int64_t decode_int(uint32_t type, const unsigned char *p) {
    switch (type) {
    case DR_GGUF_U8: case DR_GGUF_BOOL: return p[0];
    case DR_GGUF_I8: return (int8_t)p[0];
    case DR_GGUF_U16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case DR_GGUF_I16: { int16_t v; memcpy(&v, p, 2); return v; }
    case DR_GGUF_U32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case DR_GGUF_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case DR_GGUF_U64: case DR_GGUF_I64: { int64_t v; memcpy(&v, p, 8); return v; }
    case DR_GGUF_F32: { float v; memcpy(&v, p, 4); return (int64_t)v; }
    case DR_GGUF_F64: { double v; memcpy(&v, p, 8); return (int64_t)v; }
    default: return 0;
    }
}

static double decode_float(uint32_t type, const unsigned char *p) {
    if (type == DR_GGUF_F32) { float v; memcpy(&v, p, 4); return v; }
    if (type == DR_GGUF_F64) { double v; memcpy(&v, p, 8); return v; }
    if (type == DR_GGUF_U64) { uint64_t v; memcpy(&v, p, 8); return (double)v; }
    return (double)decode_int(type, p);
}

/* ---------------------------------------------------------------- reading */

typedef struct cursor {
    const unsigned char *base, *p, *end;
    const char *path;
    dr_err *err;
} cursor;

static int need(cursor *c, uint64_t n, const char *what) {
    if ((uint64_t)(c->end - c->p) < n)
        return dr_err_set(c->err, DR_EFORMAT, "%s: truncated: %s at byte %zu needs %llu bytes, %zu left", c->path, what,
                          (size_t)(c->p - c->base), (unsigned long long)n, (size_t)(c->end - c->p));
    return DR_OK;
}

static int read_u32(cursor *c, uint32_t *v, const char *what) {
    int rc = need(c, 4, what);
    if (rc) return rc;
    memcpy(v, c->p, 4);
    c->p += 4;
    return DR_OK;
}

static int read_u64(cursor *c, uint64_t *v, const char *what) {
    int rc = need(c, 8, what);
    if (rc) return rc;
    memcpy(v, c->p, 8);
    c->p += 8;
    return DR_OK;
}

static int read_str(cursor *c, dr_gguf_str *s, const char *what) {
    uint64_t len;
    int rc = read_u64(c, &len, what);
    if (rc) return rc;
    if ((uint64_t)(c->end - c->p) < len)
        return dr_err_set(c->err, DR_EFORMAT, "%s: %s: string length %llu runs past the end of the file (%zu bytes left)",
                          c->path, what, (unsigned long long)len, (size_t)(c->end - c->p));
    s->data = (const char *)c->p;
    s->len = len;
    c->p += len;
    return DR_OK;
}

/* A key or a tensor name: non-empty, no NUL byte, at most max_len bytes; returned as a C string. */
static int read_name(cursor *c, char **out, uint64_t max_len, const char *what) {
    dr_gguf_str s = {NULL, 0};
    int rc = read_str(c, &s, what);
    if (rc) return rc;
    if (s.len == 0) return dr_err_set(c->err, DR_EFORMAT, "%s: %s is empty", c->path, what);
    if (s.len > max_len)
        return dr_err_set(c->err, DR_EFORMAT, "%s: %s is %llu bytes long, more than %llu", c->path, what,
                          (unsigned long long)s.len, (unsigned long long)max_len);
    if (memchr(s.data, 0, s.len)) return dr_err_set(c->err, DR_EFORMAT, "%s: %s contains a NUL byte", c->path, what);
    *out = strndup(s.data, s.len);
    if (!*out) return dr_err_set(c->err, DR_ENOMEM, "%s: out of memory", c->path);
    return DR_OK;
}

static int read_value(cursor *c, dr_gguf_kv *kv) {
    const char *key = kv->key;
    char what[160];
    snprintf(what, sizeof what, "value of key '%.100s'", key);
    kv->count = 1;
    size_t size = value_size(kv->type);
    if (size) {
        int rc = need(c, size, what);
        if (rc) return rc;
        if (kv->type == DR_GGUF_BOOL && c->p[0] > 1)
            return dr_err_set(c->err, DR_EFORMAT, "%s: key '%s': bool value %u is not 0 or 1", c->path, key, c->p[0]);
        if (kv->type == DR_GGUF_F32 || kv->type == DR_GGUF_F64) kv->value.f = decode_float(kv->type, c->p);
        else kv->value.i = decode_int(kv->type, c->p);
        c->p += size;
        return DR_OK;
    }
    if (kv->type == DR_GGUF_STRING) return read_str(c, &kv->str, what);
    if (kv->type != DR_GGUF_ARRAY)
        return dr_err_set(c->err, DR_EFORMAT, "%s: key '%s': unknown value type %u", c->path, key, (unsigned)kv->type);

    uint32_t elem = 0;
    uint64_t count = 0;
    int rc = read_u32(c, &elem, what);
    if (!rc) rc = read_u64(c, &count, what);
    if (rc) return rc;
    kv->elem_type = (dr_gguf_type)elem;
    kv->count = count;
    size_t left = (size_t)(c->end - c->p);
    if (elem == DR_GGUF_STRING) {
        if (count > left / 8)
            return dr_err_set(c->err, DR_EFORMAT, "%s: key '%s': array of %llu strings cannot fit in the %zu bytes left",
                              c->path, key, (unsigned long long)count, left);
        kv->strings = malloc(sizeof(dr_gguf_str) * (size_t)(count ? count : 1));
        if (!kv->strings) return dr_err_set(c->err, DR_ENOMEM, "%s: out of memory", c->path);
        for (uint64_t i = 0; i < count; i++) {
            snprintf(what, sizeof what, "string %llu of key '%.100s'", (unsigned long long)i, key);
            rc = read_str(c, &kv->strings[i], what);
            if (rc) return rc;
        }
        return DR_OK;
    }
    if (elem == DR_GGUF_ARRAY)
        return dr_err_set(c->err, DR_EUNSUPPORTED, "%s: key '%s': nested arrays are not supported", c->path, key);
    size = value_size(elem);
    if (!size)
        return dr_err_set(c->err, DR_EFORMAT, "%s: key '%s': unknown array element type %u", c->path, key, (unsigned)elem);
    if (count > left / size)
        return dr_err_set(c->err, DR_EFORMAT, "%s: key '%s': array of %llu elements runs past the end of the file",
                          c->path, key, (unsigned long long)count);
    if (elem == DR_GGUF_BOOL)
        for (uint64_t i = 0; i < count; i++)
            if (c->p[i] > 1)
                return dr_err_set(c->err, DR_EFORMAT, "%s: key '%s': bool element %llu is %u, not 0 or 1", c->path, key,
                                  (unsigned long long)i, c->p[i]);
    kv->array = c->p;
    c->p += count * size;
    return DR_OK;
}

static int read_tensor_info(cursor *c, int64_t index, dr_gguf_tensor *t) {
    char what[160];
    snprintf(what, sizeof what, "name of tensor %lld", (long long)index);
    int rc = read_name(c, &t->name, DR_GGUF_MAX_NAME - 1, what);
    if (rc) return rc;
    snprintf(what, sizeof what, "info of tensor '%s'", t->name);
    uint32_t ndim;
    rc = read_u32(c, &ndim, what);
    if (rc) return rc;
    if (ndim < 1 || ndim > DR_GGUF_MAX_DIMS)
        return dr_err_set(c->err, DR_EFORMAT, "%s: tensor '%s': %u dimensions (1 to %d allowed)", c->path, t->name, ndim,
                          DR_GGUF_MAX_DIMS);
    t->ndim = (int)ndim;
    size_t numel = 1;
    for (uint32_t d = 0; d < ndim; d++) {
        uint64_t ne;
        rc = read_u64(c, &ne, what);
        if (rc) return rc;
        if (ne > (uint64_t)INT64_MAX || __builtin_mul_overflow(numel, (size_t)ne, &numel))
            return dr_err_set(c->err, DR_ERANGE, "%s: tensor '%s': dimensions overflow the element count", c->path, t->name);
        t->ne[d] = (int64_t)ne;
        t->shape[ndim - 1 - d] = (int64_t)ne;
    }
    rc = read_u32(c, &t->type, what);
    if (!rc) rc = read_u64(c, &t->offset, what);
    if (rc) return rc;
    size_t size = dr_ggml_type_size(t->type);
    if (!size)
        return dr_err_set(c->err, DR_EUNSUPPORTED, "%s: tensor '%s': ggml type %u is not supported (unquantized types only)",
                          c->path, t->name, t->type);
    if (__builtin_mul_overflow(numel, size, &t->nbytes))
        return dr_err_set(c->err, DR_ERANGE, "%s: tensor '%s': byte size overflows", c->path, t->name);
    t->numel = numel;
    return DR_OK;
}

static int cmp_str_ptr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int cmp_tensor_offset(const void *a, const void *b) {
    const dr_gguf_tensor *x = *(const dr_gguf_tensor *const *)a, *y = *(const dr_gguf_tensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* Names unique (keys among keys, tensors among tensors); sorted copy of pointers. */
static int check_unique(const char *path, char **names, size_t n, const char *what, dr_err *err) {
    char **sorted = malloc(sizeof(char *) * (n ? n : 1));
    if (!sorted) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    memcpy(sorted, names, sizeof(char *) * n);
    qsort(sorted, n, sizeof(char *), cmp_str_ptr);
    int rc = DR_OK;
    for (size_t i = 1; i < n && !rc; i++)
        if (!strcmp(sorted[i - 1], sorted[i])) rc = dr_err_set(err, DR_EFORMAT, "%s: duplicate %s '%s'", path, what, sorted[i]);
    free(sorted);
    return rc;
}

static int check_data(dr_gguf_file *f, const unsigned char *base, size_t size, dr_err *err) {
    const char *path = f->path;
    size_t n = (size_t)f->tensor_count;
    if (n > 0 && f->data_offset > size)
        return dr_err_set(err, DR_EFORMAT, "%s: truncated: the data section would start at byte %zu of a %zu-byte file",
                          path, f->data_offset, size);
    size_t data_size = size > f->data_offset ? size - f->data_offset : 0;
    for (size_t i = 0; i < n; i++) {
        dr_gguf_tensor *t = &f->tensors[i];
        if (t->offset % f->alignment)
            return dr_err_set(err, DR_EFORMAT, "%s: tensor '%s': offset %llu is not a multiple of the alignment %u", path,
                              t->name, (unsigned long long)t->offset, f->alignment);
        if (t->offset > data_size || t->nbytes > data_size - t->offset)
            return dr_err_set(err, DR_EFORMAT,
                              "%s: tensor '%s': %zu bytes at offset %llu run past the end of the %zu-byte data section",
                              path, t->name, t->nbytes, (unsigned long long)t->offset, data_size);
        t->data = base + f->data_offset + t->offset;
    }
    /* No two tensors share bytes (zero-size tensors share none). */
    const dr_gguf_tensor **order = malloc(sizeof *order * (n ? n : 1));
    if (!order) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) order[i] = &f->tensors[i];
    qsort(order, n, sizeof *order, cmp_tensor_offset);
    int rc = DR_OK;
    uint64_t end = 0;
    const dr_gguf_tensor *last = NULL;
    for (size_t i = 0; i < n && !rc; i++) {
        if (order[i]->nbytes == 0) continue;
        if (last && order[i]->offset < end)
            rc = dr_err_set(err, DR_EFORMAT, "%s: tensor '%s': data at offset %llu overlaps tensor '%s'", path,
                            order[i]->name, (unsigned long long)order[i]->offset, last->name);
        end = order[i]->offset + order[i]->nbytes;
        last = order[i];
    }
    free(order);
    return rc;
}

static void free_tables(dr_gguf_file *f) {
    for (int64_t i = 0; f->kvs && i < f->kv_count; i++) {
        free(f->kvs[i].key);
        free(f->kvs[i].strings);
    }
    for (int64_t i = 0; f->tensors && i < f->tensor_count; i++) free(f->tensors[i].name);
    free(f->kvs);
    free(f->tensors);
    f->kvs = NULL;
    f->tensors = NULL;
    f->kv_count = f->tensor_count = 0;
}

void dr_gguf_close(dr_gguf_file *f) {
    if (!f) return;
    free_tables(f);
    dr_unmap_file(f->map, f->map_size);
    f->map = NULL;
    f->map_size = 0;
}

static int parse(dr_gguf_file *f, const unsigned char *buf, size_t size, dr_err *err) {
    const char *path = f->path;
    cursor c = {buf, buf, buf + size, path, err};
    if (size < GGUF_HEADER_SIZE)
        return dr_err_set(err, DR_EFORMAT, "%s: truncated: %zu bytes, less than the %d-byte GGUF header", path, size,
                          GGUF_HEADER_SIZE);
    if (memcmp(buf, "GGUF", 4)) return dr_err_set(err, DR_EFORMAT, "%s: not a GGUF file (bad magic)", path);
    c.p += 4;
    uint64_t n_tensors, n_kv;
    read_u32(&c, &f->version, "version");
    read_u64(&c, &n_tensors, "tensor count");
    read_u64(&c, &n_kv, "key-value count");
    if (f->version != 2 && f->version != 3)
        return dr_err_set(err, DR_EUNSUPPORTED, "%s: GGUF version %u is not supported (2 or 3)", path, f->version);
    size_t left = size - GGUF_HEADER_SIZE;
    if (n_kv > left / GGUF_MIN_KV_BYTES)
        return dr_err_set(err, DR_EFORMAT, "%s: %llu key-values cannot fit in a %zu-byte file", path,
                          (unsigned long long)n_kv, size);
    if (n_tensors > left / GGUF_MIN_TENSOR_BYTES)
        return dr_err_set(err, DR_EFORMAT, "%s: %llu tensors cannot fit in a %zu-byte file", path,
                          (unsigned long long)n_tensors, size);
    f->kvs = calloc((size_t)n_kv + 1, sizeof(dr_gguf_kv));
    f->tensors = calloc((size_t)n_tensors + 1, sizeof(dr_gguf_tensor));
    if (!f->kvs || !f->tensors) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);

    char what[96];
    for (uint64_t i = 0; i < n_kv; i++) {
        dr_gguf_kv *kv = &f->kvs[i];
        snprintf(what, sizeof what, "key of key-value %llu", (unsigned long long)i);
        int rc = read_name(&c, &kv->key, GGUF_MAX_KEY, what);
        if (rc) return rc;
        f->kv_count++; /* owns kv->key from here on */
        uint32_t type;
        rc = read_u32(&c, &type, what);
        if (rc) return rc;
        kv->type = (dr_gguf_type)type;
        rc = read_value(&c, kv);
        if (rc) return rc;
    }
    char **names = malloc(sizeof(char *) * ((size_t)(n_kv > n_tensors ? n_kv : n_tensors) + 1));
    if (!names) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    for (uint64_t i = 0; i < n_kv; i++) names[i] = f->kvs[i].key;
    int rc = check_unique(path, names, (size_t)n_kv, "key", err);
    for (uint64_t i = 0; i < n_tensors && !rc; i++) {
        rc = read_tensor_info(&c, (int64_t)i, &f->tensors[i]);
        if (f->tensors[i].name) f->tensor_count++;
    }
    for (uint64_t i = 0; i < n_tensors && !rc; i++) names[i] = f->tensors[i].name;
    if (!rc) rc = check_unique(path, names, (size_t)n_tensors, "tensor name", err);
    free(names);
    if (rc) return rc;

    f->alignment = DR_GGUF_DEFAULT_ALIGNMENT;
    const dr_gguf_kv *align = dr_gguf_find_kv(f, "general.alignment");
    if (align) {
        if (align->type != DR_GGUF_U32 || align->value.u == 0 || (align->value.u & (align->value.u - 1)))
            return dr_err_set(err, DR_EFORMAT, "%s: general.alignment must be a u32 power of two", path);
        f->alignment = (uint32_t)align->value.u;
    }
    size_t info_end = (size_t)(c.p - buf);
    f->data_offset = (info_end + f->alignment - 1) / f->alignment * f->alignment;
    return check_data(f, buf, size, err);
}

int dr_gguf_parse(dr_gguf_file *f, const void *buf, size_t size, const char *name, dr_err *err) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", name ? name : "<memory>");
    int rc = parse(f, buf, size, err);
    if (rc) free_tables(f);
    return rc;
}

int dr_gguf_open(dr_gguf_file *f, const char *path, dr_err *err) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    void *map;
    size_t size;
    int rc = dr_map_file(path, GGUF_HEADER_SIZE, "the GGUF header", &map, &size, err);
    if (rc) return rc;
    f->map = map;
    f->map_size = size;
    rc = parse(f, map, size, err);
    if (rc) dr_gguf_close(f);
    return rc;
}

const dr_gguf_kv *dr_gguf_find_kv(const dr_gguf_file *f, const char *key) {
    for (int64_t i = 0; i < f->kv_count; i++)
        if (!strcmp(f->kvs[i].key, key)) return &f->kvs[i];
    return NULL;
}

const dr_gguf_tensor *dr_gguf_find_tensor(const dr_gguf_file *f, const char *name) {
    for (int64_t i = 0; i < f->tensor_count; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

int64_t dr_gguf_array_int(const dr_gguf_kv *kv, uint64_t i) {
    return decode_int(kv->elem_type, (const unsigned char *)kv->array + i * value_size(kv->elem_type));
}

double dr_gguf_array_float(const dr_gguf_kv *kv, uint64_t i) {
    return decode_float(kv->elem_type, (const unsigned char *)kv->array + i * value_size(kv->elem_type));
}

bool dr_gguf_str_eq(dr_gguf_str s, const char *c) {
    size_t n = strlen(c);
    return s.len == n && (n == 0 || !memcmp(s.data, c, n));
}

int dr_gguf_read_f32(const dr_gguf_file *f, const dr_gguf_tensor *t, float *out, size_t n, dr_err *err) {
    if (n != t->numel)
        return dr_err_set(err, DR_EINVAL, "%s: tensor '%s': has %zu elements, caller expected %zu", f->path, t->name,
                          t->numel, n);
    const unsigned char *src = t->data;
    switch (t->type) {
    case DR_GGML_F32:
        if (n) memcpy(out, src, 4 * n);
        return DR_OK;
    case DR_GGML_F16:
    case DR_GGML_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            out[i] = t->type == DR_GGML_F16 ? dr_f16_to_f32(h) : dr_bf16_to_f32(h);
        }
        return DR_OK;
    case DR_GGML_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, src + 8 * i, 8);
            out[i] = (float)d;
        }
        return DR_OK;
    default:
        return dr_err_set(err, DR_EUNSUPPORTED, "%s: tensor '%s': type %s is not floating point", f->path, t->name,
                          dr_ggml_type_name(t->type));
    }
}

/* ---------------------------------------------------------------- writing */

void dr_gguf_writer_init(dr_gguf_writer *w) {
    memset(w, 0, sizeof *w);
    w->alignment = DR_GGUF_DEFAULT_ALIGNMENT;
}

void dr_gguf_writer_free(dr_gguf_writer *w) {
    free(w->kv_bytes);
    for (int64_t i = 0; i < w->kv_count; i++) free(w->keys[i]);
    free(w->keys);
    for (int64_t i = 0; i < w->tensor_count; i++) free(w->tensors[i].name);
    free(w->tensors);
    dr_gguf_writer_init(w);
}

static void append(dr_gguf_writer *w, const void *data, size_t n) {
    if (w->failed) return;
    if (w->kv_size + n > w->kv_capacity) {
        size_t cap = w->kv_capacity ? w->kv_capacity : 4096;
        while (cap < w->kv_size + n) cap *= 2;
        unsigned char *b = realloc(w->kv_bytes, cap);
        if (!b) {
            w->failed = 1;
            return;
        }
        w->kv_bytes = b;
        w->kv_capacity = cap;
    }
    memcpy(w->kv_bytes + w->kv_size, data, n);
    w->kv_size += n;
}

static void append_u32(dr_gguf_writer *w, uint32_t v) { append(w, &v, 4); }
static void append_u64(dr_gguf_writer *w, uint64_t v) { append(w, &v, 8); }

static void append_str(dr_gguf_writer *w, const char *s) {
    size_t n = strlen(s);
    append_u64(w, n);
    append(w, s, n);
}

/* Validate the key, record it and write key + type. */
static int begin_kv(dr_gguf_writer *w, const char *key, dr_gguf_type type, dr_err *err) {
    if (!key || !key[0] || strlen(key) > GGUF_MAX_KEY)
        return dr_err_set(err, DR_EINVAL, "gguf writer: invalid key '%s'", key ? key : "(null)");
    for (int64_t i = 0; i < w->kv_count; i++)
        if (!strcmp(w->keys[i], key)) return dr_err_set(err, DR_EINVAL, "gguf writer: duplicate key '%s'", key);
    if (w->kv_count == w->keys_capacity) {
        int64_t cap = w->keys_capacity ? 2 * w->keys_capacity : 32;
        char **k = realloc(w->keys, sizeof(char *) * (size_t)cap);
        if (!k) return dr_err_set(err, DR_ENOMEM, "gguf writer: out of memory");
        w->keys = k;
        w->keys_capacity = cap;
    }
    char *copy = strdup(key);
    if (!copy) return dr_err_set(err, DR_ENOMEM, "gguf writer: out of memory");
    w->keys[w->kv_count++] = copy;
    append_str(w, key);
    append_u32(w, (uint32_t)type);
    return DR_OK;
}

static int end_kv(dr_gguf_writer *w, dr_err *err) {
    return w->failed ? dr_err_set(err, DR_ENOMEM, "gguf writer: out of memory") : DR_OK;
}

int dr_gguf_add_u32(dr_gguf_writer *w, const char *key, uint32_t v, dr_err *err) {
    bool is_alignment = key && !strcmp(key, "general.alignment");
    if (is_alignment && (v == 0 || (v & (v - 1))))
        return dr_err_set(err, DR_EINVAL, "gguf writer: general.alignment %u is not a power of two", v);
    int rc = begin_kv(w, key, DR_GGUF_U32, err);
    if (rc) return rc;
    append_u32(w, v);
    if (is_alignment) w->alignment = v;
    return end_kv(w, err);
}

int dr_gguf_add_i32(dr_gguf_writer *w, const char *key, int32_t v, dr_err *err) {
    int rc = begin_kv(w, key, DR_GGUF_I32, err);
    if (rc) return rc;
    append(w, &v, 4);
    return end_kv(w, err);
}

int dr_gguf_add_u64(dr_gguf_writer *w, const char *key, uint64_t v, dr_err *err) {
    int rc = begin_kv(w, key, DR_GGUF_U64, err);
    if (rc) return rc;
    append_u64(w, v);
    return end_kv(w, err);
}

int dr_gguf_add_f32(dr_gguf_writer *w, const char *key, float v, dr_err *err) {
    int rc = begin_kv(w, key, DR_GGUF_F32, err);
    if (rc) return rc;
    append(w, &v, 4);
    return end_kv(w, err);
}

int dr_gguf_add_bool(dr_gguf_writer *w, const char *key, bool v, dr_err *err) {
    int rc = begin_kv(w, key, DR_GGUF_BOOL, err);
    if (rc) return rc;
    unsigned char b = v ? 1 : 0;
    append(w, &b, 1);
    return end_kv(w, err);
}

int dr_gguf_add_string(dr_gguf_writer *w, const char *key, const char *v, dr_err *err) {
    if (!v) return dr_err_set(err, DR_EINVAL, "gguf writer: key '%s': NULL string", key ? key : "(null)");
    int rc = begin_kv(w, key, DR_GGUF_STRING, err);
    if (rc) return rc;
    append_str(w, v);
    return end_kv(w, err);
}

int dr_gguf_add_string_array(dr_gguf_writer *w, const char *key, const char *const *v, size_t n, dr_err *err) {
    for (size_t i = 0; i < n; i++)
        if (!v[i]) return dr_err_set(err, DR_EINVAL, "gguf writer: key '%s': string %zu is NULL", key ? key : "(null)", i);
    int rc = begin_kv(w, key, DR_GGUF_ARRAY, err);
    if (rc) return rc;
    append_u32(w, DR_GGUF_STRING);
    append_u64(w, n);
    for (size_t i = 0; i < n; i++) append_str(w, v[i]);
    return end_kv(w, err);
}

static int add_numeric_array(dr_gguf_writer *w, const char *key, dr_gguf_type elem, const void *v, size_t n, dr_err *err) {
    if (n && !v) return dr_err_set(err, DR_EINVAL, "gguf writer: key '%s': NULL array", key ? key : "(null)");
    int rc = begin_kv(w, key, DR_GGUF_ARRAY, err);
    if (rc) return rc;
    append_u32(w, elem);
    append_u64(w, n);
    if (n) append(w, v, n * value_size(elem));
    return end_kv(w, err);
}

int dr_gguf_add_i32_array(dr_gguf_writer *w, const char *key, const int32_t *v, size_t n, dr_err *err) {
    return add_numeric_array(w, key, DR_GGUF_I32, v, n, err);
}

int dr_gguf_add_f32_array(dr_gguf_writer *w, const char *key, const float *v, size_t n, dr_err *err) {
    return add_numeric_array(w, key, DR_GGUF_F32, v, n, err);
}

int dr_gguf_add_tensor(dr_gguf_writer *w, const char *name, uint32_t type, int ndim, const int64_t *shape,
                       const float *data, dr_err *err) {
    if (!name || !name[0] || strlen(name) >= DR_GGUF_MAX_NAME)
        return dr_err_set(err, DR_EINVAL, "gguf writer: tensor name '%s' is empty or %d bytes or longer",
                          name ? name : "(null)", DR_GGUF_MAX_NAME);
    if (type != DR_GGML_F32 && type != DR_GGML_F16)
        return dr_err_set(err, DR_EUNSUPPORTED, "gguf writer: tensor '%s': cannot write type %s", name,
                          dr_ggml_type_name(type));
    if (ndim < 1 || ndim > DR_GGUF_MAX_DIMS)
        return dr_err_set(err, DR_EINVAL, "gguf writer: tensor '%s': %d dimensions", name, ndim);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 1 || __builtin_mul_overflow(numel, (size_t)shape[d], &numel))
            return dr_err_set(err, DR_EINVAL, "gguf writer: tensor '%s': bad dimension %lld", name, (long long)shape[d]);
    if (!data) return dr_err_set(err, DR_EINVAL, "gguf writer: tensor '%s': no data", name);
    for (int64_t i = 0; i < w->tensor_count; i++)
        if (!strcmp(w->tensors[i].name, name)) return dr_err_set(err, DR_EINVAL, "gguf writer: duplicate tensor '%s'", name);
    if (w->tensor_count == w->tensors_capacity) {
        int64_t cap = w->tensors_capacity ? 2 * w->tensors_capacity : 32;
        dr_gguf_write_tensor *t = realloc(w->tensors, sizeof *t * (size_t)cap);
        if (!t) return dr_err_set(err, DR_ENOMEM, "gguf writer: out of memory");
        w->tensors = t;
        w->tensors_capacity = cap;
    }
    dr_gguf_write_tensor *t = &w->tensors[w->tensor_count];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name) return dr_err_set(err, DR_ENOMEM, "gguf writer: out of memory");
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->type = type;
    t->numel = numel;
    t->data = data;
    w->tensor_count++;
    return DR_OK;
}

static bool write_padding(FILE *fp, uint64_t *pos, uint32_t alignment) {
    static const unsigned char zeros[256];
    while (*pos % alignment) {
        size_t n = alignment - *pos % alignment;
        if (n > sizeof zeros) n = sizeof zeros;
        if (fwrite(zeros, 1, n, fp) != n) return false;
        *pos += n;
    }
    return true;
}

static bool write_tensor_data(FILE *fp, const dr_gguf_write_tensor *t) {
    if (t->type == DR_GGML_F32) return fwrite(t->data, 4, t->numel, fp) == t->numel;
    uint16_t chunk[4096];
    for (size_t i = 0; i < t->numel;) {
        size_t n = t->numel - i < 4096 ? t->numel - i : 4096;
        for (size_t j = 0; j < n; j++) chunk[j] = dr_f32_to_f16(t->data[i + j]);
        if (fwrite(chunk, 2, n, fp) != n) return false;
        i += n;
    }
    return true;
}

int dr_gguf_write(const dr_gguf_writer *w, const char *path, dr_err *err) {
    if (w->failed) return dr_err_set(err, DR_ENOMEM, "%s: out of memory while collecting the GGUF contents", path);
    dr_atomic_file af;
    int rc = dr_atomic_open(&af, path, err);
    if (rc) return rc;
    FILE *fp = af.fp;
    uint32_t version = DR_GGUF_VERSION;
    uint64_t n_tensors = (uint64_t)w->tensor_count, n_kv = (uint64_t)w->kv_count;
    bool ok = fwrite("GGUF", 1, 4, fp) == 4 && fwrite(&version, 4, 1, fp) == 1 && fwrite(&n_tensors, 8, 1, fp) == 1 &&
              fwrite(&n_kv, 8, 1, fp) == 1 && (w->kv_size == 0 || fwrite(w->kv_bytes, 1, w->kv_size, fp) == w->kv_size);
    uint64_t pos = GGUF_HEADER_SIZE + w->kv_size, offset = 0;
    for (int64_t i = 0; ok && i < w->tensor_count; i++) {
        const dr_gguf_write_tensor *t = &w->tensors[i];
        uint64_t len = strlen(t->name), nbytes = t->numel * dr_ggml_type_size(t->type);
        uint32_t ndim = (uint32_t)t->ndim;
        ok = fwrite(&len, 8, 1, fp) == 1 && fwrite(t->name, 1, len, fp) == len && fwrite(&ndim, 4, 1, fp) == 1;
        for (int d = t->ndim - 1; ok && d >= 0; d--) { /* fastest-varying first */
            uint64_t ne = (uint64_t)t->shape[d];
            ok = fwrite(&ne, 8, 1, fp) == 1;
        }
        ok = ok && fwrite(&t->type, 4, 1, fp) == 1 && fwrite(&offset, 8, 1, fp) == 1;
        pos += 8 + len + 4 + 8 * (uint64_t)t->ndim + 4 + 8;
        offset += (nbytes + w->alignment - 1) / w->alignment * w->alignment;
    }
    ok = ok && write_padding(fp, &pos, w->alignment);
    for (int64_t i = 0; ok && i < w->tensor_count; i++) {
        const dr_gguf_write_tensor *t = &w->tensors[i];
        ok = write_tensor_data(fp, t);
        pos += t->numel * dr_ggml_type_size(t->type);
        ok = ok && write_padding(fp, &pos, w->alignment);
    }
    if (!ok) {
        int e = errno;
        dr_atomic_abort(&af);
        return dr_err_set(err, DR_EIO, "%s: write failed: %s", path, strerror(e));
    }
    return dr_atomic_commit(&af, err);
}
