/* gguf.h - a generic reader and writer for GGUF v3, the llama.cpp model container.
 *
 * Layout (little-endian): "GGUF", u32 version, u64 tensor count, u64 key-value count;
 * the key-values (string key, u32 value type, value); the tensor infos (string name,
 * u32 n_dims, u64 dims fastest-varying first, u32 ggml type, u64 offset into the data
 * section); padding to the alignment ("general.alignment", u32, default 32); the data
 * section, each tensor at an aligned offset. Strings are a u64 length and that many
 * bytes without a terminator.
 *
 * This module knows nothing about llama: an exporter (e.g. DirectorLLM -> llama.cpp)
 * adds its keys and tensors with the writer, and tests read the file back with the
 * reader. The reader memory-maps the file read-only and validates everything before
 * returning: counts larger than the file could hold, strings running past the end,
 * unknown value or tensor types, nested arrays, duplicate keys or tensor names,
 * misaligned, overlapping or out-of-bounds tensor data are each a DR_EFORMAT /
 * DR_EUNSUPPORTED error naming the file and the key or tensor.
 *
 * Shapes: the writer and dr_gguf_tensor.shape use the PyTorch order (slowest first,
 * e.g. a Linear weight is [out, in]); dr_gguf_tensor.ne is the on-disk GGUF order. */
#ifndef DIRECTOR_IO_GGUF_H
#define DIRECTOR_IO_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define DR_GGUF_VERSION 3
#define DR_GGUF_DEFAULT_ALIGNMENT 32
#define DR_GGUF_MAX_DIMS 4
#define DR_GGUF_MAX_NAME 64 /* tensor names are shorter than this (ggml's GGML_MAX_NAME) */

typedef enum dr_gguf_type {
    DR_GGUF_U8 = 0,
    DR_GGUF_I8 = 1,
    DR_GGUF_U16 = 2,
    DR_GGUF_I16 = 3,
    DR_GGUF_U32 = 4,
    DR_GGUF_I32 = 5,
    DR_GGUF_F32 = 6,
    DR_GGUF_BOOL = 7,
    DR_GGUF_STRING = 8,
    DR_GGUF_ARRAY = 9,
    DR_GGUF_U64 = 10,
    DR_GGUF_I64 = 11,
    DR_GGUF_F64 = 12,
} dr_gguf_type;

/* ggml tensor types this module reads and writes (all unquantized). */
typedef enum dr_ggml_type {
    DR_GGML_F32 = 0,
    DR_GGML_F16 = 1,
    DR_GGML_I8 = 24,
    DR_GGML_I16 = 25,
    DR_GGML_I32 = 26,
    DR_GGML_I64 = 27,
    DR_GGML_F64 = 28,
    DR_GGML_BF16 = 30,
} dr_ggml_type;

/* Bytes per element of a ggml type, 0 if unknown here. */
size_t dr_ggml_type_size(uint32_t type);
const char *dr_ggml_type_name(uint32_t type);

/* A string inside the mapped file: not NUL-terminated. */
typedef struct dr_gguf_str {
    const char *data;
    uint64_t len;
} dr_gguf_str;

typedef struct dr_gguf_kv {
    char *key;
    dr_gguf_type type;
    dr_gguf_type elem_type; /* for arrays */
    uint64_t count;         /* array length; 1 for scalars and strings */
    union {
        uint64_t u; /* U8..U64 and BOOL */
        int64_t i;  /* I8..I64 */
        double f;   /* F32, F64 */
    } value;
    dr_gguf_str str;      /* STRING */
    const void *array;    /* numeric arrays: the raw little-endian elements (maybe unaligned) */
    dr_gguf_str *strings; /* string arrays: `count` strings */
} dr_gguf_kv;

typedef struct dr_gguf_tensor {
    char *name;
    int ndim;
    int64_t ne[DR_GGUF_MAX_DIMS];    /* GGUF order: fastest-varying first */
    int64_t shape[DR_GGUF_MAX_DIMS]; /* PyTorch order: shape[d] = ne[ndim - 1 - d] */
    uint32_t type;                   /* dr_ggml_type */
    uint64_t offset;                 /* into the data section */
    size_t numel, nbytes;
    const void *data;
} dr_gguf_tensor;

typedef struct dr_gguf_file {
    char path[4096];
    void *map;
    size_t map_size;
    uint32_t version;
    uint32_t alignment;
    dr_gguf_kv *kvs;
    int64_t kv_count;
    dr_gguf_tensor *tensors;
    int64_t tensor_count;
    size_t data_offset; /* of the data section, from the start of the file */
} dr_gguf_file;

int dr_gguf_open(dr_gguf_file *f, const char *path, dr_err *err);
/* Parse a file already in memory; `buf` must outlive f; `name` is used in messages. */
int dr_gguf_parse(dr_gguf_file *f, const void *buf, size_t size, const char *name, dr_err *err);
void dr_gguf_close(dr_gguf_file *f);

const dr_gguf_kv *dr_gguf_find_kv(const dr_gguf_file *f, const char *key);
const dr_gguf_tensor *dr_gguf_find_tensor(const dr_gguf_file *f, const char *name);
/* Element i of a numeric array, converted (no range checks beyond i < count: caller's job). */
int64_t dr_gguf_array_int(const dr_gguf_kv *kv, uint64_t i);
double dr_gguf_array_float(const dr_gguf_kv *kv, uint64_t i);
/* Whether a string (value or array element) equals a C string. */
bool dr_gguf_str_eq(dr_gguf_str s, const char *c);
/* Tensor values as float (F32, F16, BF16, F64); n must equal t->numel. */
int dr_gguf_read_f32(const dr_gguf_file *f, const dr_gguf_tensor *t, float *out, size_t n, dr_err *err);

/* ---- writing ---- */
typedef struct dr_gguf_write_tensor {
    char *name;
    int ndim;
    int64_t shape[DR_GGUF_MAX_DIMS]; /* PyTorch order */
    uint32_t type;                   /* DR_GGML_F32 or DR_GGML_F16 */
    size_t numel;
    const float *data; /* caller-owned until dr_gguf_write returns */
} dr_gguf_write_tensor;

typedef struct dr_gguf_writer {
    unsigned char *kv_bytes; /* the serialized key-value section */
    size_t kv_size, kv_capacity;
    char **keys;
    int64_t kv_count, keys_capacity;
    dr_gguf_write_tensor *tensors;
    int64_t tensor_count, tensors_capacity;
    uint32_t alignment;
    int failed; /* a failed add (out of memory) poisons the writer; dr_gguf_write reports it */
} dr_gguf_writer;

void dr_gguf_writer_init(dr_gguf_writer *w);
void dr_gguf_writer_free(dr_gguf_writer *w);
/* Key-values, in the order they will appear. Keys must be unique and non-empty.
 * Adding "general.alignment" (u32, a power of two) changes the data alignment. */
int dr_gguf_add_u32(dr_gguf_writer *w, const char *key, uint32_t v, dr_err *err);
int dr_gguf_add_i32(dr_gguf_writer *w, const char *key, int32_t v, dr_err *err);
int dr_gguf_add_u64(dr_gguf_writer *w, const char *key, uint64_t v, dr_err *err);
int dr_gguf_add_f32(dr_gguf_writer *w, const char *key, float v, dr_err *err);
int dr_gguf_add_bool(dr_gguf_writer *w, const char *key, bool v, dr_err *err);
int dr_gguf_add_string(dr_gguf_writer *w, const char *key, const char *v, dr_err *err);
int dr_gguf_add_string_array(dr_gguf_writer *w, const char *key, const char *const *v, size_t n, dr_err *err);
int dr_gguf_add_i32_array(dr_gguf_writer *w, const char *key, const int32_t *v, size_t n, dr_err *err);
int dr_gguf_add_f32_array(dr_gguf_writer *w, const char *key, const float *v, size_t n, dr_err *err);
/* A tensor of `ndim` dims in PyTorch order, from float data, stored as F32 or F16. */
int dr_gguf_add_tensor(dr_gguf_writer *w, const char *name, uint32_t type, int ndim, const int64_t *shape,
                       const float *data, dr_err *err);
/* Write the file atomically. */
int dr_gguf_write(const dr_gguf_writer *w, const char *path, dr_err *err);

#endif
