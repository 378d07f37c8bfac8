/* params.h - a model's named parameters in one contiguous buffer (llm.c style).
 *
 * A model declares its tensors once (name, shape, weight-decay flag) with
 * dr_params_add(), then dr_params_alloc() lays them out in one buffer for the values,
 * and on demand one each for gradients and AdamW moments. Tensors are addressed by
 * the pointer returned from dr_params_get(). The table is also the model's file
 * format: dr_params_save() writes a safetensors file whose tensor names are these
 * names and whose __metadata__ carries the model's config, so a file alone rebuilds
 * the model; dr_params_save_checkpoint() adds optimizer state and the step for --resume. */
#ifndef DIRECTOR_NN_PARAMS_H
#define DIRECTOR_NN_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"

#define DR_PARAM_MAX_DIMS 4

typedef struct dr_param {
    char name[96];
    int ndim;
    int64_t shape[DR_PARAM_MAX_DIMS];
    size_t offset; /* in floats, into data / grad / m / v */
    size_t numel;
    bool no_decay; /* norms, biases, embeddings of positions...: excluded from weight decay */
} dr_param;

typedef struct dr_params {
    dr_param *items;
    int count, capacity;
    size_t total;  /* floats */
    float *data;   /* values; NULL until dr_params_alloc */
    float *grad;   /* NULL until dr_params_alloc_grad */
    float *m, *v;  /* AdamW moments; NULL until dr_params_alloc_optim */
} dr_params;

void dr_params_init(dr_params *p);
/* Declare a tensor; returns its index or a negative error. Shape is given as ndim ints. */
int dr_params_add(dr_params *p, const char *name, bool no_decay, int ndim, const int64_t *shape);
/* Convenience for 1-D and 2-D tensors. */
int dr_params_add1(dr_params *p, const char *name, bool no_decay, int64_t d0);
int dr_params_add2(dr_params *p, const char *name, bool no_decay, int64_t d0, int64_t d1);
int dr_params_alloc(dr_params *p);       /* values, zeroed */
int dr_params_alloc_grad(dr_params *p);  /* gradients, zeroed */
int dr_params_alloc_optim(dr_params *p); /* m, v, zeroed */
void dr_params_zero_grad(dr_params *p);
void dr_params_free(dr_params *p);

int dr_params_find(const dr_params *p, const char *name); /* index or -1 */
/* Value / gradient pointer of a named tensor; NULL if absent (a programming error). */
float *dr_params_get(const dr_params *p, const char *name);
float *dr_params_grad(const dr_params *p, const char *name);

/* Initialisers on one tensor. */
void dr_params_init_normal(dr_params *p, const char *name, dr_rng *rng, float std);
void dr_params_init_uniform(dr_params *p, const char *name, dr_rng *rng, float bound);
void dr_params_fill(dr_params *p, const char *name, float value);

/* Save values to a safetensors file (F32), atomically. `kind` (e.g. "rvq") and
 * `config_json` (the model's hyper-parameters as a JSON object) go into __metadata__
 * as "director.kind", "director.version" ("1") and "director.config". */
int dr_params_save(const dr_params *p, const char *path, const char *kind, const char *config_json, dr_err *err);
/* Load values by name from a safetensors file (F32/F16/BF16 converted to F32). Every
 * declared tensor must be present with the declared shape; extra tensors are an error
 * unless allow_extra. */
int dr_params_load(dr_params *p, const char *path, bool allow_extra, dr_err *err);

/* Checkpoint for --resume: values, AdamW moments (as "optim.m.<name>", "optim.v.<name>")
 * and the training step plus any extra state string (e.g. the RNG, the data cursor) in
 * metadata "director.train_state". */
int dr_params_save_checkpoint(const dr_params *p, const char *path, const char *kind, const char *config_json,
                              long step, const char *train_state_json, dr_err *err);
int dr_params_load_checkpoint(dr_params *p, const char *path, long *step, char **train_state_json, dr_err *err);

/* Read the metadata of a model file without loading it: kind and config JSON (malloc'd,
 * caller frees). Used by loaders to rebuild the model before loading values. */
int dr_model_file_info(const char *path, char **kind, char **config_json, dr_err *err);

#endif
