/* safetensors.h - read and write safetensors model files.
 *
 * The format (Hugging Face safetensors): an 8-byte little-endian header length N, N
 * bytes of JSON mapping each tensor name to {"dtype", "shape", "data_offsets": [begin,
 * end]} (offsets relative to the data section that follows the header) plus an
 * optional "__metadata__" object of string -> string, then the data section, which
 * the tensors tile exactly (no overlap, no holes). director stores every model and
 * checkpoint this way (nn/params.h), so a file is both loadable here and readable by
 * any safetensors tool.
 *
 * Reading memory-maps the file read-only and validates the whole header up front:
 * any inconsistency (truncation, bad JSON, unknown dtype, shape and byte-size
 * disagreeing, offsets out of bounds or overlapping, duplicate names) is a DR_EFORMAT
 * error naming the file and the tensor, never a crash. Tensor data pointers point
 * into the mapping and may be unaligned; read them with dr_st_read_f32 (which converts
 * F16/BF16/F64 to float) or memcpy.
 *
 * Writing collects tensors (pointers to caller-owned float data, stored as F32, F16 or
 * BF16) and metadata, then writes the file atomically. The header is padded with
 * spaces so the data section starts 8-byte aligned, and tensors are laid out widest
 * dtype first so every tensor is aligned to its element size. */
#ifndef DIRECTOR_IO_SAFETENSORS_H
#define DIRECTOR_IO_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define DR_ST_MAX_DIMS 8
/* Headers larger than this are refused as hostile (real ones are a few hundred KB at most). */
#define DR_ST_MAX_HEADER (100u * 1024u * 1024u)

typedef enum dr_st_dtype {
    DR_ST_F32,
    DR_ST_F16,
    DR_ST_BF16,
    DR_ST_F64,
    DR_ST_I64,
    DR_ST_I32,
    DR_ST_I16,
    DR_ST_I8,
    DR_ST_U8,
    DR_ST_BOOL,
    DR_ST_DTYPE_COUNT
} dr_st_dtype;

/* "F32", "BF16", ... as spelled in the header. */
const char *dr_st_dtype_name(dr_st_dtype dtype);
size_t dr_st_dtype_size(dr_st_dtype dtype);

typedef struct dr_st_tensor {
    char *name;
    dr_st_dtype dtype;
    int ndim; /* 0 for a scalar */
    int64_t shape[DR_ST_MAX_DIMS];
    size_t numel;
    size_t nbytes;
    size_t offset;    /* of the first byte, relative to the data section */
    const void *data; /* into the mapping (possibly unaligned) */
} dr_st_tensor;

typedef struct dr_st_file {
    char path[4096];
    void *map; /* the read-only mapping when opened from a file (NULL for dr_st_parse) */
    size_t map_size;
    dr_st_tensor *tensors; /* in header order */
    int count;
    char **meta_keys, **meta_values;
    int meta_count;
} dr_st_file;

/* Map and validate a file. On failure f is left closed (dr_st_close is still safe). */
int dr_st_open(dr_st_file *f, const char *path, dr_err *err);
/* Validate a file already in memory; `buf` must outlive f. `name` is used in messages. */
int dr_st_parse(dr_st_file *f, const void *buf, size_t size, const char *name, dr_err *err);
void dr_st_close(dr_st_file *f);

const dr_st_tensor *dr_st_find(const dr_st_file *f, const char *name);
/* Metadata value or NULL. */
const char *dr_st_meta(const dr_st_file *f, const char *key);
/* Convert a floating-point tensor (F32/F16/BF16/F64) to float; n must equal t->numel.
 * Other dtypes are DR_EUNSUPPORTED. */
int dr_st_read_f32(const dr_st_file *f, const dr_st_tensor *t, float *out, size_t n, dr_err *err);

/* ---- writing ---- */
typedef struct dr_st_write_tensor {
    char *name;
    dr_st_dtype dtype; /* F32, F16 or BF16 on disk */
    int ndim;
    int64_t shape[DR_ST_MAX_DIMS];
    size_t numel;
    const float *data; /* caller-owned until dr_st_writer_write returns */
} dr_st_write_tensor;

typedef struct dr_st_writer {
    dr_st_write_tensor *tensors;
    int count, capacity;
    char **meta_keys, **meta_values;
    int meta_count, meta_capacity;
} dr_st_writer;

void dr_st_writer_init(dr_st_writer *w);
/* Add a tensor stored as `dtype` (F32, F16 or BF16) from float data. Names must be
 * unique, non-empty and not "__metadata__"; dims must be >= 0. */
int dr_st_writer_add(dr_st_writer *w, const char *name, dr_st_dtype dtype, int ndim, const int64_t *shape,
                     const float *data, dr_err *err);
/* Add (or replace) a metadata entry. */
int dr_st_writer_meta(dr_st_writer *w, const char *key, const char *value, dr_err *err);
/* Write everything to `path` atomically (temporary file + rename). */
int dr_st_writer_write(const dr_st_writer *w, const char *path, dr_err *err);
void dr_st_writer_free(dr_st_writer *w);

#endif
