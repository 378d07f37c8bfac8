#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "io/half.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c reads and writes little-endian data in place: port the byte swaps first"
#endif

/* Offsets and dims arrive as JSON numbers (doubles): beyond 2^53 they are not exact. */
#define ST_MAX_JSON_INT 9007199254740992.0

static const struct {
    const char *name;
    size_t size;
} dtype_table[DR_ST_DTYPE_COUNT] = {
    [DR_ST_F32] = {"F32", 4}, [DR_ST_F16] = {"F16", 2}, [DR_ST_BF16] = {"BF16", 2}, [DR_ST_F64] = {"F64", 8},
    [DR_ST_I64] = {"I64", 8}, [DR_ST_I32] = {"I32", 4}, [DR_ST_I16] = {"I16", 2},   [DR_ST_I8] = {"I8", 1},
    [DR_ST_U8] = {"U8", 1},   [DR_ST_BOOL] = {"BOOL", 1},
};

/* Valid safetensors dtypes director does not read. */
static const char *const unsupported_dtypes[] = {"U16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3",
                                                 "F6_E3M2", "F4", "C64"};

const char *dr_st_dtype_name(dr_st_dtype dtype) {
    return (unsigned)dtype < DR_ST_DTYPE_COUNT ? dtype_table[dtype].name : "?";
}

size_t dr_st_dtype_size(dr_st_dtype dtype) { return (unsigned)dtype < DR_ST_DTYPE_COUNT ? dtype_table[dtype].size : 0; }

/* ---------------------------------------------------------------- reading */

static void free_tables(dr_st_file *f) {
    for (int i = 0; i < f->count; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->meta_count; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    f->tensors = NULL;
    f->meta_keys = f->meta_values = NULL;
    f->count = f->meta_count = 0;
}

void dr_st_close(dr_st_file *f) {
    if (!f) return;
    free_tables(f);
    dr_unmap_file(f->map, f->map_size);
    f->map = NULL;
    f->map_size = 0;
}

/* A JSON number that is an exact integer in [0, 2^53]. */
static bool json_uint(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return false;
    double d = item->valuedouble;
    if (!(d >= 0.0 && d <= ST_MAX_JSON_INT) || d != floor(d)) return false;
    *out = (uint64_t)d;
    return true;
}

static int cmp_str_ptr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct {
    size_t begin, end;
    int index;
} st_span;

static int cmp_span(const void *a, const void *b) {
    const st_span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->index - y->index;
}

static int parse_dtype(const char *s, dr_st_dtype *out) {
    for (int d = 0; d < DR_ST_DTYPE_COUNT; d++)
        if (!strcmp(s, dtype_table[d].name)) {
            *out = (dr_st_dtype)d;
            return DR_OK;
        }
    for (size_t i = 0; i < sizeof unsupported_dtypes / sizeof unsupported_dtypes[0]; i++)
        if (!strcmp(s, unsupported_dtypes[i])) return DR_EUNSUPPORTED;
    return DR_EFORMAT;
}

static int parse_metadata(dr_st_file *f, const cJSON *meta, dr_err *err) {
    const char *path = f->path;
    if (!cJSON_IsObject(meta)) return dr_err_set(err, DR_EFORMAT, "%s: __metadata__ is not a JSON object", path);
    int n = cJSON_GetArraySize(meta);
    f->meta_keys = calloc((size_t)n + 1, sizeof(char *));
    f->meta_values = calloc((size_t)n + 1, sizeof(char *));
    if (!f->meta_keys || !f->meta_values) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    for (const cJSON *it = meta->child; it; it = it->next) {
        if (!it->string) return dr_err_set(err, DR_EFORMAT, "%s: __metadata__ entry without a key", path);
        if (!cJSON_IsString(it) || !it->valuestring)
            return dr_err_set(err, DR_EFORMAT, "%s: __metadata__ value of '%s' is not a string", path, it->string);
        int i = f->meta_count;
        f->meta_keys[i] = strdup(it->string);
        f->meta_values[i] = strdup(it->valuestring);
        if (!f->meta_keys[i] || !f->meta_values[i]) {
            free(f->meta_keys[i]);
            free(f->meta_values[i]);
            return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
        }
        f->meta_count++;
    }
    char **sorted = malloc(sizeof(char *) * ((size_t)f->meta_count + 1));
    if (!sorted) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    memcpy(sorted, f->meta_keys, sizeof(char *) * (size_t)f->meta_count);
    qsort(sorted, (size_t)f->meta_count, sizeof(char *), cmp_str_ptr);
    for (int i = 1; i < f->meta_count; i++)
        if (!strcmp(sorted[i - 1], sorted[i])) {
            int rc = dr_err_set(err, DR_EFORMAT, "%s: duplicate __metadata__ key '%s'", path, sorted[i]);
            free(sorted);
            return rc;
        }
    free(sorted);
    return DR_OK;
}

static int parse_tensor(dr_st_file *f, const cJSON *item, size_t data_size, dr_st_tensor *t, dr_err *err) {
    const char *path = f->path, *name = t->name;
    if (!cJSON_IsObject(item)) return dr_err_set(err, DR_EFORMAT, "%s: tensor '%s': entry is not a JSON object", path, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dtype) || !dtype->valuestring)
        return dr_err_set(err, DR_EFORMAT, "%s: tensor '%s': missing or non-string \"dtype\"", path, name);
    if (!cJSON_IsArray(shape)) return dr_err_set(err, DR_EFORMAT, "%s: tensor '%s': missing or non-array \"shape\"", path, name);
    if (!cJSON_IsArray(offsets))
        return dr_err_set(err, DR_EFORMAT, "%s: tensor '%s': missing or non-array \"data_offsets\"", path, name);

    int rc = parse_dtype(dtype->valuestring, &t->dtype);
    if (rc == DR_EUNSUPPORTED)
        return dr_err_set(err, rc, "%s: tensor '%s': dtype %s is not supported", path, name, dtype->valuestring);
    if (rc) return dr_err_set(err, rc, "%s: tensor '%s': unknown dtype \"%.32s\"", path, name, dtype->valuestring);

    int ndim = cJSON_GetArraySize(shape);
    if (ndim > DR_ST_MAX_DIMS)
        return dr_err_set(err, DR_EUNSUPPORTED, "%s: tensor '%s': %d dimensions, more than the supported %d", path, name,
                          ndim, DR_ST_MAX_DIMS);
    t->ndim = ndim;
    size_t numel = 1;
    int d = 0;
    for (const cJSON *dim = shape->child; dim; dim = dim->next, d++) {
        uint64_t v;
        if (!json_uint(dim, &v))
            return dr_err_set(err, DR_EFORMAT, "%s: tensor '%s': dimension %d is not a non-negative integer", path, name, d);
        t->shape[d] = (int64_t)v;
        if (__builtin_mul_overflow(numel, (size_t)v, &numel))
            return dr_err_set(err, DR_ERANGE, "%s: tensor '%s': element count overflows", path, name);
    }
    size_t nbytes;
    if (__builtin_mul_overflow(numel, dr_st_dtype_size(t->dtype), &nbytes))
        return dr_err_set(err, DR_ERANGE, "%s: tensor '%s': byte size overflows", path, name);
    t->numel = numel;
    t->nbytes = nbytes;

    uint64_t begin, end;
    if (cJSON_GetArraySize(offsets) != 2 || !json_uint(offsets->child, &begin) || !json_uint(offsets->child->next, &end))
        return dr_err_set(err, DR_EFORMAT, "%s: tensor '%s': \"data_offsets\" must be two non-negative integers", path,
                          name);
    if (begin > end)
        return dr_err_set(err, DR_EFORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin", path, name,
                          (unsigned long long)begin, (unsigned long long)end);
    if (end > data_size)
        return dr_err_set(err, DR_EFORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] beyond the %zu-byte data section",
                          path, name, (unsigned long long)begin, (unsigned long long)end, data_size);
    if (end - begin != nbytes)
        return dr_err_set(err, DR_EFORMAT, "%s: tensor '%s': shape and dtype %s need %zu bytes but data_offsets span %llu",
                          path, name, dtype_table[t->dtype].name, nbytes, (unsigned long long)(end - begin));
    t->offset = (size_t)begin;
    return DR_OK;
}

/* Every tensor name once; the tensors tile the data section exactly. */
static int check_layout(dr_st_file *f, size_t data_size, dr_err *err) {
    const char *path = f->path;
    size_t n = (size_t)f->count;
    char **names = malloc(sizeof(char *) * (n + 1));
    st_span *spans = malloc(sizeof(st_span) * (n + 1));
    if (!names || !spans) {
        free(names);
        free(spans);
        return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < n; i++) {
        names[i] = f->tensors[i].name;
        spans[i] = (st_span){f->tensors[i].offset, f->tensors[i].offset + f->tensors[i].nbytes, (int)i};
    }
    int rc = DR_OK;
    qsort(names, n, sizeof(char *), cmp_str_ptr);
    for (size_t i = 1; i < n && !rc; i++)
        if (!strcmp(names[i - 1], names[i])) rc = dr_err_set(err, DR_EFORMAT, "%s: duplicate tensor name '%s'", path, names[i]);
    qsort(spans, n, sizeof(st_span), cmp_span);
    size_t covered = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *name = f->tensors[spans[i].index].name;
        if (spans[i].begin < covered)
            rc = dr_err_set(err, DR_EFORMAT, "%s: tensor '%s': bytes [%zu, %zu) overlap tensor '%s'", path, name,
                            spans[i].begin, spans[i].end, f->tensors[spans[i - 1].index].name);
        else if (spans[i].begin > covered)
            rc = dr_err_set(err, DR_EFORMAT, "%s: tensor '%s': %zu unused bytes before it in the data section", path, name,
                            spans[i].begin - covered);
        else
            covered = spans[i].end;
    }
    if (!rc && covered != data_size)
        rc = dr_err_set(err, DR_EFORMAT, "%s: %zu bytes after the last tensor (data section of %zu bytes)", path,
                        data_size - covered, data_size);
    free(names);
    free(spans);
    return rc;
}

static int parse_header(dr_st_file *f, const unsigned char *buf, size_t size, dr_err *err) {
    const char *path = f->path;
    if (size < 8)
        return dr_err_set(err, DR_EFORMAT, "%s: truncated: %zu bytes, less than the 8-byte header length", path, size);
    uint64_t header_len;
    memcpy(&header_len, buf, 8);
    if (header_len > DR_ST_MAX_HEADER)
        return dr_err_set(err, DR_EFORMAT, "%s: header length %llu exceeds the limit of %u bytes (not a safetensors file?)",
                          path, (unsigned long long)header_len, DR_ST_MAX_HEADER);
    if (header_len > size - 8)
        return dr_err_set(err, DR_EFORMAT, "%s: truncated: header length %llu but only %zu bytes follow", path,
                          (unsigned long long)header_len, size - 8);
    const char *json = (const char *)buf + 8;
    size_t json_len = (size_t)header_len;
    if (json_len < 2 || json[0] != '{')
        return dr_err_set(err, DR_EFORMAT, "%s: header is not a JSON object (not a safetensors file?)", path);

    const char *parse_end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, json_len, &parse_end, 0);
    if (!root) {
        long at = parse_end && parse_end >= json && parse_end <= json + json_len ? (long)(parse_end - json) : -1;
        return dr_err_set(err, DR_EFORMAT, "%s: header is not valid JSON (near byte %ld of %zu)", path, at, json_len);
    }
    int rc = DR_OK;
    for (const char *p = parse_end; p < json + json_len && !rc; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            rc = dr_err_set(err, DR_EFORMAT, "%s: unexpected bytes after the JSON header (at byte %ld)", path,
                            (long)(p - json));
    if (!rc && !cJSON_IsObject(root)) rc = dr_err_set(err, DR_EFORMAT, "%s: header is not a JSON object", path);

    size_t data_size = size - 8 - json_len;
    int entries = rc ? 0 : cJSON_GetArraySize(root);
    if (!rc) {
        f->tensors = calloc((size_t)entries + 1, sizeof(dr_st_tensor));
        if (!f->tensors) rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    }
    bool seen_meta = false;
    for (const cJSON *it = rc ? NULL : root->child; it && !rc; it = it->next) {
        if (!it->string) {
            rc = dr_err_set(err, DR_EFORMAT, "%s: header entry without a name", path);
        } else if (!strcmp(it->string, "__metadata__")) {
            if (seen_meta) rc = dr_err_set(err, DR_EFORMAT, "%s: __metadata__ appears twice", path);
            seen_meta = true;
            if (!rc) rc = parse_metadata(f, it, err);
        } else {
            dr_st_tensor *t = &f->tensors[f->count];
            t->name = strdup(it->string);
            if (!t->name) {
                rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
                break;
            }
            f->count++;
            rc = parse_tensor(f, it, data_size, t, err);
        }
    }
    cJSON_Delete(root);
    if (!rc) rc = check_layout(f, data_size, err);
    if (!rc) {
        const unsigned char *data = buf + 8 + json_len;
        for (int i = 0; i < f->count; i++) f->tensors[i].data = data + f->tensors[i].offset;
    }
    return rc;
}

int dr_st_parse(dr_st_file *f, const void *buf, size_t size, const char *name, dr_err *err) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", name ? name : "<memory>");
    int rc = parse_header(f, buf, size, err);
    if (rc) free_tables(f);
    return rc;
}

int dr_st_open(dr_st_file *f, const char *path, dr_err *err) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    void *map;
    size_t size;
    int rc = dr_map_file(path, 8, "the 8-byte header length", &map, &size, err);
    if (rc) return rc;
    f->map = map;
    f->map_size = size;
    rc = parse_header(f, map, size, err);
    if (rc) dr_st_close(f);
    return rc;
}

const dr_st_tensor *dr_st_find(const dr_st_file *f, const char *name) {
    for (int i = 0; i < f->count; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *dr_st_meta(const dr_st_file *f, const char *key) {
    for (int i = 0; i < f->meta_count; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
    return NULL;
}

int dr_st_read_f32(const dr_st_file *f, const dr_st_tensor *t, float *out, size_t n, dr_err *err) {
    if (n != t->numel)
        return dr_err_set(err, DR_EINVAL, "%s: tensor '%s': has %zu elements, caller expected %zu", f->path, t->name,
                          t->numel, n);
    const unsigned char *src = t->data;
    switch (t->dtype) {
    case DR_ST_F32:
        if (n) memcpy(out, src, n * 4);
        return DR_OK;
    case DR_ST_F16:
    case DR_ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            out[i] = t->dtype == DR_ST_F16 ? dr_f16_to_f32(h) : dr_bf16_to_f32(h);
        }
        return DR_OK;
    case DR_ST_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, src + 8 * i, 8);
            out[i] = (float)d;
        }
        return DR_OK;
    default:
        return dr_err_set(err, DR_EUNSUPPORTED, "%s: tensor '%s': dtype %s is not a floating-point type", f->path,
                          t->name, dr_st_dtype_name(t->dtype));
    }
}

/* ---------------------------------------------------------------- writing */

void dr_st_writer_init(dr_st_writer *w) { memset(w, 0, sizeof *w); }

void dr_st_writer_free(dr_st_writer *w) {
    for (int i = 0; i < w->count; i++) free(w->tensors[i].name);
    free(w->tensors);
    for (int i = 0; i < w->meta_count; i++) {
        free(w->meta_keys[i]);
        free(w->meta_values[i]);
    }
    free(w->meta_keys);
    free(w->meta_values);
    memset(w, 0, sizeof *w);
}

int dr_st_writer_add(dr_st_writer *w, const char *name, dr_st_dtype dtype, int ndim, const int64_t *shape,
                     const float *data, dr_err *err) {
    if (!name || !name[0] || !strcmp(name, "__metadata__"))
        return dr_err_set(err, DR_EINVAL, "safetensors writer: invalid tensor name '%s'", name ? name : "(null)");
    if (dtype != DR_ST_F32 && dtype != DR_ST_F16 && dtype != DR_ST_BF16)
        return dr_err_set(err, DR_EUNSUPPORTED, "safetensors writer: tensor '%s': cannot write dtype %s", name,
                          dr_st_dtype_name(dtype));
    if (ndim < 0 || ndim > DR_ST_MAX_DIMS)
        return dr_err_set(err, DR_EINVAL, "safetensors writer: tensor '%s': %d dimensions", name, ndim);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || (double)shape[d] > ST_MAX_JSON_INT || __builtin_mul_overflow(numel, (size_t)shape[d], &numel))
            return dr_err_set(err, DR_EINVAL, "safetensors writer: tensor '%s': bad dimension %lld", name,
                              (long long)shape[d]);
    }
    if (numel > 0 && !data) return dr_err_set(err, DR_EINVAL, "safetensors writer: tensor '%s': no data", name);
    for (int i = 0; i < w->count; i++)
        if (!strcmp(w->tensors[i].name, name))
            return dr_err_set(err, DR_EINVAL, "safetensors writer: duplicate tensor name '%s'", name);
    if (w->count == w->capacity) {
        int cap = w->capacity ? 2 * w->capacity : 16;
        dr_st_write_tensor *t = realloc(w->tensors, sizeof *t * (size_t)cap);
        if (!t) return dr_err_set(err, DR_ENOMEM, "safetensors writer: out of memory");
        w->tensors = t;
        w->capacity = cap;
    }
    dr_st_write_tensor *t = &w->tensors[w->count];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name) return dr_err_set(err, DR_ENOMEM, "safetensors writer: out of memory");
    t->dtype = dtype;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->numel = numel;
    t->data = data;
    w->count++;
    return DR_OK;
}

int dr_st_writer_meta(dr_st_writer *w, const char *key, const char *value, dr_err *err) {
    if (!key || !value) return dr_err_set(err, DR_EINVAL, "safetensors writer: NULL metadata key or value");
    char *v = strdup(value);
    if (!v) return dr_err_set(err, DR_ENOMEM, "safetensors writer: out of memory");
    for (int i = 0; i < w->meta_count; i++)
        if (!strcmp(w->meta_keys[i], key)) {
            free(w->meta_values[i]);
            w->meta_values[i] = v;
            return DR_OK;
        }
    if (w->meta_count == w->meta_capacity) {
        int cap = w->meta_capacity ? 2 * w->meta_capacity : 8;
        char **k = realloc(w->meta_keys, sizeof(char *) * (size_t)cap);
        if (k) w->meta_keys = k;
        char **vs = k ? realloc(w->meta_values, sizeof(char *) * (size_t)cap) : NULL;
        if (!vs) {
            free(v);
            return dr_err_set(err, DR_ENOMEM, "safetensors writer: out of memory");
        }
        w->meta_values = vs;
        w->meta_capacity = cap;
    }
    w->meta_keys[w->meta_count] = strdup(key);
    if (!w->meta_keys[w->meta_count]) {
        free(v);
        return dr_err_set(err, DR_ENOMEM, "safetensors writer: out of memory");
    }
    w->meta_values[w->meta_count++] = v;
    return DR_OK;
}

/* Layout order: widest dtype first (stable), so each tensor starts at a multiple of its element size. */
static int *layout_order(const dr_st_writer *w) {
    int *order = malloc(sizeof(int) * ((size_t)w->count + 1));
    if (!order) return NULL;
    int k = 0;
    for (size_t size = 8; size >= 1; size /= 2)
        for (int i = 0; i < w->count; i++)
            if (dr_st_dtype_size(w->tensors[i].dtype) == size) order[k++] = i;
    return order;
}

static char *build_header(const dr_st_writer *w, const int *order) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    bool ok = true;
    if (w->meta_count) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        ok = meta != NULL;
        for (int i = 0; ok && i < w->meta_count; i++) ok = cJSON_AddStringToObject(meta, w->meta_keys[i], w->meta_values[i]);
    }
    size_t offset = 0;
    for (int k = 0; ok && k < w->count; k++) {
        const dr_st_write_tensor *t = &w->tensors[order[k]];
        size_t nbytes = t->numel * dr_st_dtype_size(t->dtype);
        cJSON *item = cJSON_AddObjectToObject(root, t->name);
        cJSON *shape = item ? cJSON_AddArrayToObject(item, "shape") : NULL;
        cJSON *offs = item ? cJSON_AddArrayToObject(item, "data_offsets") : NULL;
        ok = item && shape && offs && cJSON_AddStringToObject(item, "dtype", dr_st_dtype_name(t->dtype));
        for (int d = 0; ok && d < t->ndim; d++) ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        ok = ok && cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset)) &&
             cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(offset + nbytes)));
        offset += nbytes;
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

static int write_tensor_data(FILE *fp, const dr_st_write_tensor *t) {
    if (t->dtype == DR_ST_F32) return t->numel == 0 || fwrite(t->data, 4, t->numel, fp) == t->numel ? 0 : -1;
    uint16_t chunk[4096];
    for (size_t i = 0; i < t->numel;) {
        size_t n = t->numel - i < 4096 ? t->numel - i : 4096;
        for (size_t j = 0; j < n; j++)
            chunk[j] = t->dtype == DR_ST_F16 ? dr_f32_to_f16(t->data[i + j]) : dr_f32_to_bf16(t->data[i + j]);
        if (fwrite(chunk, 2, n, fp) != n) return -1;
        i += n;
    }
    return 0;
}

int dr_st_writer_write(const dr_st_writer *w, const char *path, dr_err *err) {
    int *order = layout_order(w);
    char *header = order ? build_header(w, order) : NULL;
    if (!header) {
        free(order);
        return dr_err_set(err, DR_ENOMEM, "%s: out of memory building the safetensors header", path);
    }
    size_t json_len = strlen(header);
    size_t padded = (json_len + 8 + 7) / 8 * 8 - 8; /* data section starts 8-byte aligned */
    dr_atomic_file af;
    int rc = dr_atomic_open(&af, path, err);
    if (!rc) {
        uint64_t len = padded;
        bool ok = fwrite(&len, 8, 1, af.fp) == 1 && fwrite(header, 1, json_len, af.fp) == json_len;
        for (size_t i = json_len; ok && i < padded; i++) ok = fputc(' ', af.fp) != EOF;
        for (int k = 0; ok && k < w->count; k++) ok = write_tensor_data(af.fp, &w->tensors[order[k]]) == 0;
        if (!ok) {
            int e = errno;
            dr_atomic_abort(&af);
            rc = dr_err_set(err, DR_EIO, "%s: write failed: %s", path, strerror(e));
        } else {
            rc = dr_atomic_commit(&af, err);
        }
    }
    free(header);
    free(order);
    return rc;
}
