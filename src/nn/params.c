/* params.c - named parameter table, contiguous buffers, safetensors model files.
 * File conventions (docs/FORMATS.md, "Model files"): tensors under their declared names
 * as F32; __metadata__ "director.kind", "director.version" = "1", "director.config";
 * checkpoints add "optim.m.<name>", "optim.v.<name>", "director.step" and
 * "director.train_state". */
#include "nn/params.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parallel.h"
#include "io/safetensors.h"

#define PARAMS_FILE_VERSION "1"
#define OPTIM_M_PREFIX "optim.m."
#define OPTIM_V_PREFIX "optim.v."

void dr_params_init(dr_params *p) { memset(p, 0, sizeof *p); }

void dr_params_free(dr_params *p) {
    free(p->items);
    dr_free(p->data);
    dr_free(p->grad);
    dr_free(p->m);
    dr_free(p->v);
    memset(p, 0, sizeof *p);
}

int dr_params_add(dr_params *p, const char *name, bool no_decay, int ndim, const int64_t *shape) {
    if (p->data) return DR_EINVAL; /* the layout is frozen once allocated */
    if (!name || !name[0] || strlen(name) >= sizeof p->items[0].name) return DR_EINVAL;
    if (ndim < 1 || ndim > DR_PARAM_MAX_DIMS) return DR_EINVAL;
    if (dr_params_find(p, name) >= 0) return DR_EINVAL;
    size_t numel = 1;
    for (int d = 0; d < ndim; d++)
        if (shape[d] <= 0 || __builtin_mul_overflow(numel, (size_t)shape[d], &numel)) return DR_EINVAL;
    size_t total;
    if (__builtin_add_overflow(p->total, numel, &total) || total > SIZE_MAX / sizeof(float) / 2) return DR_ERANGE;
    if (p->count == p->capacity) {
        int cap = p->capacity ? 2 * p->capacity : 32;
        dr_param *items = realloc(p->items, sizeof *items * (size_t)cap);
        if (!items) return DR_ENOMEM;
        p->items = items;
        p->capacity = cap;
    }
    dr_param *t = &p->items[p->count];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->offset = p->total;
    t->numel = numel;
    t->no_decay = no_decay;
    p->total = total;
    return p->count++;
}

int dr_params_add1(dr_params *p, const char *name, bool no_decay, int64_t d0) {
    return dr_params_add(p, name, no_decay, 1, &d0);
}

int dr_params_add2(dr_params *p, const char *name, bool no_decay, int64_t d0, int64_t d1) {
    int64_t shape[2] = {d0, d1};
    return dr_params_add(p, name, no_decay, 2, shape);
}

static int alloc_buffer(float **buf, size_t total) {
    if (*buf) return DR_OK;
    *buf = dr_calloc((total ? total : 1) * sizeof(float));
    return *buf ? DR_OK : DR_ENOMEM;
}

int dr_params_alloc(dr_params *p) { return alloc_buffer(&p->data, p->total); }
int dr_params_alloc_grad(dr_params *p) { return alloc_buffer(&p->grad, p->total); }

int dr_params_alloc_optim(dr_params *p) {
    int rc = alloc_buffer(&p->m, p->total);
    return rc ? rc : alloc_buffer(&p->v, p->total);
}

void dr_params_zero_grad(dr_params *p) {
    if (p->grad) memset(p->grad, 0, p->total * sizeof(float));
}

int dr_params_find(const dr_params *p, const char *name) {
    for (int i = 0; i < p->count; i++)
        if (!strcmp(p->items[i].name, name)) return i;
    return -1;
}

float *dr_params_get(const dr_params *p, const char *name) {
    int i = dr_params_find(p, name);
    return i >= 0 && p->data ? p->data + p->items[i].offset : NULL;
}

float *dr_params_grad(const dr_params *p, const char *name) {
    int i = dr_params_find(p, name);
    return i >= 0 && p->grad ? p->grad + p->items[i].offset : NULL;
}

void dr_params_init_normal(dr_params *p, const char *name, dr_rng *rng, float std) {
    int i = dr_params_find(p, name);
    if (i >= 0 && p->data) dr_rng_fill_normal(rng, p->data + p->items[i].offset, (long)p->items[i].numel, 0.0f, std);
}

void dr_params_init_uniform(dr_params *p, const char *name, dr_rng *rng, float bound) {
    int i = dr_params_find(p, name);
    if (i >= 0 && p->data)
        dr_rng_fill_uniform(rng, p->data + p->items[i].offset, (long)p->items[i].numel, -bound, bound);
}

void dr_params_fill(dr_params *p, const char *name, float value) {
    int i = dr_params_find(p, name);
    if (i < 0 || !p->data) return;
    float *x = p->data + p->items[i].offset;
    for (size_t k = 0; k < p->items[i].numel; k++) x[k] = value;
}

/* ---------------------------------------------------------------- files */

/* The config must be a JSON object: a file whose config cannot be parsed could not rebuild its model. */
static int check_config(const char *path, const char *config_json, dr_err *err) {
    cJSON *cfg = cJSON_Parse(config_json);
    bool ok = cJSON_IsObject(cfg);
    cJSON_Delete(cfg);
    return ok ? DR_OK : dr_err_set(err, DR_EINVAL, "%s: model config is not a JSON object", path);
}

static int add_prefixed(dr_st_writer *w, const char *prefix, const dr_param *t, const float *buf, dr_err *err) {
    char name[sizeof t->name + 16];
    snprintf(name, sizeof name, "%s%s", prefix, t->name);
    return dr_st_writer_add(w, name, DR_ST_F32, t->ndim, t->shape, buf + t->offset, err);
}

static int save_file(const dr_params *p, const char *path, const char *kind, const char *config_json, bool checkpoint,
                     long step, const char *train_state_json, dr_err *err) {
    if (!p->data) return dr_err_set(err, DR_EINVAL, "%s: parameters were never allocated", path);
    if (!kind || !kind[0]) return dr_err_set(err, DR_EINVAL, "%s: model kind is empty", path);
    if (!config_json) config_json = "{}";
    int rc = check_config(path, config_json, err);
    if (rc) return rc;
    if (checkpoint && (!p->m || !p->v))
        return dr_err_set(err, DR_EINVAL, "%s: checkpoint without optimizer state (call dr_params_alloc_optim)", path);
    dr_st_writer w;
    dr_st_writer_init(&w);
    rc = dr_st_writer_meta(&w, "director.kind", kind, err);
    if (!rc) rc = dr_st_writer_meta(&w, "director.version", PARAMS_FILE_VERSION, err);
    if (!rc) rc = dr_st_writer_meta(&w, "director.config", config_json, err);
    if (!rc && checkpoint) {
        char buf[32];
        snprintf(buf, sizeof buf, "%ld", step);
        rc = dr_st_writer_meta(&w, "director.step", buf, err);
        if (!rc) rc = dr_st_writer_meta(&w, "director.train_state", train_state_json ? train_state_json : "{}", err);
    }
    for (int i = 0; i < p->count && !rc; i++) rc = add_prefixed(&w, "", &p->items[i], p->data, err);
    for (int i = 0; checkpoint && i < p->count && !rc; i++) rc = add_prefixed(&w, OPTIM_M_PREFIX, &p->items[i], p->m, err);
    for (int i = 0; checkpoint && i < p->count && !rc; i++) rc = add_prefixed(&w, OPTIM_V_PREFIX, &p->items[i], p->v, err);
    if (rc) dr_err_prefix(err, "%s", path);
    else rc = dr_st_writer_write(&w, path, err);
    dr_st_writer_free(&w);
    return rc;
}

int dr_params_save(const dr_params *p, const char *path, const char *kind, const char *config_json, dr_err *err) {
    return save_file(p, path, kind, config_json, false, 0, NULL, err);
}

int dr_params_save_checkpoint(const dr_params *p, const char *path, const char *kind, const char *config_json,
                              long step, const char *train_state_json, dr_err *err) {
    return save_file(p, path, kind, config_json, true, step, train_state_json, err);
}

static void format_shape(char *buf, size_t size, int ndim, const int64_t *shape) {
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && n < size; d++) n += (size_t)snprintf(buf + n, size - n, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (n < size) snprintf(buf + n, size - n, "]");
}

/* The tensor `prefix + t->name` of f, present, floating point, with t's shape. */
static int match_tensor(const dr_st_file *f, const char *prefix, const dr_param *t, const dr_st_tensor **out, dr_err *err) {
    char name[sizeof t->name + 16];
    snprintf(name, sizeof name, "%s%s", prefix, t->name);
    const dr_st_tensor *s = dr_st_find(f, name);
    if (!s) return dr_err_set(err, DR_ENOTFOUND, "%s: tensor '%s' is missing", f->path, name);
    if (s->dtype != DR_ST_F32 && s->dtype != DR_ST_F16 && s->dtype != DR_ST_BF16)
        return dr_err_set(err, DR_EUNSUPPORTED, "%s: tensor '%s' has dtype %s; expected F32, F16 or BF16", f->path, name,
                          dr_st_dtype_name(s->dtype));
    bool same = s->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = s->shape[d] == t->shape[d];
    if (!same) {
        char want[128], got[128];
        format_shape(want, sizeof want, t->ndim, t->shape);
        format_shape(got, sizeof got, s->ndim, s->shape);
        return dr_err_set(err, DR_EFORMAT, "%s: tensor '%s' has shape %s; the model expects %s", f->path, name, got, want);
    }
    *out = s;
    return DR_OK;
}

static bool is_optim_name(const char *name) {
    return !strncmp(name, OPTIM_M_PREFIX, strlen(OPTIM_M_PREFIX)) || !strncmp(name, OPTIM_V_PREFIX, strlen(OPTIM_V_PREFIX));
}

/* Validate everything first, then copy, so a failed load leaves the values untouched. */
static int load_open(dr_params *p, const dr_st_file *f, bool allow_extra, bool with_optim, dr_err *err) {
    const char *prefixes[3] = {"", OPTIM_M_PREFIX, OPTIM_V_PREFIX};
    float *bufs[3] = {p->data, p->m, p->v};
    int nsets = with_optim ? 3 : 1;
    const dr_st_tensor **found = malloc(sizeof *found * (size_t)(p->count ? p->count : 1) * 3);
    if (!found) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", f->path);
    int rc = DR_OK;
    for (int s = 0; s < nsets && !rc; s++)
        for (int i = 0; i < p->count && !rc; i++) rc = match_tensor(f, prefixes[s], &p->items[i], &found[s * p->count + i], err);
    if (!rc && !allow_extra)
        for (int k = 0; k < f->count && !rc; k++) {
            const char *name = f->tensors[k].name;
            /* Optimizer state of a checkpoint is not an extra tensor: a checkpoint loads as a model. */
            if (is_optim_name(name) ? dr_params_find(p, name + strlen(OPTIM_M_PREFIX)) < 0 : dr_params_find(p, name) < 0)
                rc = dr_err_set(err, DR_EFORMAT, "%s: tensor '%s' is not part of this model", f->path, name);
        }
    for (int s = 0; s < nsets && !rc; s++)
        for (int i = 0; i < p->count && !rc; i++) {
            const dr_param *t = &p->items[i];
            rc = dr_st_read_f32(f, found[s * p->count + i], bufs[s] + t->offset, t->numel, err);
        }
    free(found);
    return rc;
}

int dr_params_load(dr_params *p, const char *path, bool allow_extra, dr_err *err) {
    if (dr_params_alloc(p)) return dr_err_set(err, DR_ENOMEM, "%s: out of memory for %zu parameters", path, p->total);
    dr_st_file f;
    int rc = dr_st_open(&f, path, err);
    if (rc) return rc;
    rc = load_open(p, &f, allow_extra, false, err);
    dr_st_close(&f);
    return rc;
}

/* A whole decimal long, nothing else. */
static bool parse_long(const char *s, long *out) {
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

int dr_params_load_checkpoint(dr_params *p, const char *path, long *step, char **train_state_json, dr_err *err) {
    if (train_state_json) *train_state_json = NULL;
    if (dr_params_alloc(p) || dr_params_alloc_optim(p))
        return dr_err_set(err, DR_ENOMEM, "%s: out of memory for %zu parameters", path, p->total);
    dr_st_file f;
    int rc = dr_st_open(&f, path, err);
    if (rc) return rc;
    long s = 0;
    const char *state = dr_st_meta(&f, "director.train_state");
    if (!parse_long(dr_st_meta(&f, "director.step"), &s) || s < 0)
        rc = dr_err_set(err, DR_EFORMAT, "%s: not a checkpoint: metadata director.step is missing or not a step number",
                        path);
    else if (!state)
        rc = dr_err_set(err, DR_EFORMAT, "%s: not a checkpoint: metadata director.train_state is missing", path);
    if (!rc) rc = load_open(p, &f, false, true, err);
    if (!rc && train_state_json) {
        *train_state_json = strdup(state);
        if (!*train_state_json) rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    }
    if (!rc && step) *step = s;
    dr_st_close(&f);
    return rc;
}

int dr_model_file_info(const char *path, char **kind, char **config_json, dr_err *err) {
    if (kind) *kind = NULL;
    if (config_json) *config_json = NULL;
    dr_st_file f;
    int rc = dr_st_open(&f, path, err);
    if (rc) return rc;
    const char *k = dr_st_meta(&f, "director.kind"), *c = dr_st_meta(&f, "director.config");
    const char *version = dr_st_meta(&f, "director.version");
    if (!k || !c)
        rc = dr_err_set(err, DR_EFORMAT, "%s: not a director model file: metadata director.%s is missing", path,
                        !k ? "kind" : "config");
    else if (!version || strcmp(version, PARAMS_FILE_VERSION))
        rc = dr_err_set(err, DR_EUNSUPPORTED, "%s: model file version '%s' is not supported (expected %s)", path,
                        version ? version : "(missing)", PARAMS_FILE_VERSION);
    if (!rc && kind && !(*kind = strdup(k))) rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    if (!rc && config_json && !(*config_json = strdup(c))) rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    if (rc && kind) {
        free(*kind);
        *kind = NULL;
    }
    dr_st_close(&f);
    return rc;
}
