/* llm_train.c - DirectorLLM training loop (llm_train.h). */
#include "models/llm_train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parallel.h"
#include "core/progress.h"
#include "core/rng.h"
#include "models/llama_lora.h"
#include "nn/optim.h"

/* ---- examples ---------------------------------------------------------------------- */

void dr_llm_data_init(dr_llm_data *d) { memset(d, 0, sizeof *d); }

void dr_llm_data_free(dr_llm_data *d) {
    free(d->offset);
    free(d->length);
    free(d->tokens);
    memset(d, 0, sizeof *d);
}

int dr_llm_data_add(dr_llm_data *d, const dr_llama_config *cfg, const int *prompt, int n_prompt, const int *codes,
                    dr_err *err) {
    const int len = n_prompt + dr_llama_pose_slots(cfg) + 4;
    if (cfg->pose_levels <= 0) return dr_err_set(err, DR_EINVAL, "llm data: the model has no pose vocabulary");
    if (len > cfg->max_seq_len)
        return dr_err_set(err, DR_ERANGE, "llm data: example %d is %d tokens long, the model's max_seq_len is %d",
                          d->count, len, cfg->max_seq_len);
    if (d->count == d->capacity) {
        int cap = d->capacity ? 2 * d->capacity : 256;
        long *off = realloc(d->offset, sizeof(long) * (size_t)cap);
        if (off) d->offset = off;
        int *ln = realloc(d->length, sizeof(int) * (size_t)cap);
        if (ln) d->length = ln;
        if (!off || !ln) return dr_err_set(err, DR_ENOMEM, "llm data: out of memory");
        d->capacity = cap;
    }
    if (d->used + len > d->room) {
        long room = d->room ? 2 * d->room : 65536;
        while (room < d->used + len) room *= 2;
        int *t = realloc(d->tokens, sizeof(int) * (size_t)room);
        if (!t) return dr_err_set(err, DR_ENOMEM, "llm data: out of memory");
        d->tokens = t;
        d->room = room;
    }
    int n = dr_llama_build_sequence(cfg, prompt, n_prompt, codes, d->tokens + d->used, len);
    if (n != len)
        return dr_err_set(err, DR_ERANGE,
                          "llm data: example %d has a prompt token outside [0, %d) or a pose code outside [0, %d)",
                          d->count, cfg->n_text, cfg->pose_codebook);
    d->offset[d->count] = d->used;
    d->length[d->count] = len;
    d->used += len;
    d->count++;
    if (len > d->max_len) d->max_len = len;
    return DR_OK;
}

/* ---- batches ------------------------------------------------------------------------- */

/* Example order: the g-th sample drawn is position g % count of a permutation of the
 * examples that is reshuffled for every epoch g / count from (seed, epoch). */
typedef struct sample_order {
    uint64_t seed;
    int count;
    long epoch;
    int *perm;
} sample_order;

static int order_example(sample_order *o, long g) {
    long epoch = g / o->count;
    if (epoch != o->epoch) {
        for (int i = 0; i < o->count; i++) o->perm[i] = i;
        dr_rng rng = dr_rng_fork(o->seed, (uint64_t)epoch);
        dr_rng_shuffle(&rng, o->perm, o->count);
        o->epoch = epoch;
    }
    return o->perm[g % o->count];
}

static bool is_pose_part(const dr_llama_config *c, int tok) {
    return tok >= dr_llama_pose_base(c) || tok == dr_llama_special(c, DR_LLAMA_POSE_END) ||
           tok == dr_llama_special(c, DR_LLAMA_EOS);
}

/* Rows [0, n_rows) take examples rows[i]; the rest of the B rows are padding. Returns
 * the number of real (non-padding) input tokens. */
static long fill_batch(const dr_llm_data *d, const dr_llama_config *c, const int *rows, int n_rows, int B, int T,
                       bool pose_only, int *inputs, int *targets) {
    const int pad = dr_llama_special(c, DR_LLAMA_PAD);
    long real = 0;
    for (int i = 0; i < B; i++) {
        const int *seq = i < n_rows ? d->tokens + d->offset[rows[i]] : NULL;
        const int n_in = i < n_rows ? d->length[rows[i]] - 1 : 0;
        for (int t = 0; t < T; t++) {
            if (t < n_in) {
                inputs[i * T + t] = seq[t];
                targets[i * T + t] = pose_only && !is_pose_part(c, seq[t + 1]) ? -1 : seq[t + 1];
            } else {
                inputs[i * T + t] = pad;
                targets[i * T + t] = -1;
            }
        }
        real += n_in < T ? n_in : T;
    }
    return real;
}

/* ---- evaluation ------------------------------------------------------------------------ */

int dr_llm_evaluate(dr_llama *m, const dr_llm_data *data, int batch, int max_batches, bool pose_loss_only,
                    dr_llm_eval *out, dr_err *err) {
    memset(out, 0, sizeof *out);
    if (!data || data->count == 0) return DR_OK;
    const dr_llama_config *c = &m->cfg;
    const int T = data->max_len - 1, B = batch;
    int *inputs = malloc(sizeof(int) * (size_t)B * T), *targets = malloc(sizeof(int) * (size_t)B * T);
    int *preds = malloc(sizeof(int) * (size_t)B * T), *rows = malloc(sizeof(int) * (size_t)B);
    int rc = DR_OK;
    if (!inputs || !targets || !preds || !rows) {
        rc = dr_err_set(err, DR_ENOMEM, "llm evaluate: out of memory");
        goto done;
    }
    double loss_sum = 0.0;
    long tokens = 0, pose_total = 0, pose_right = 0;
    const int pose_base = dr_llama_pose_base(c);
    for (int start = 0, b = 0; start < data->count && (max_batches <= 0 || b < max_batches); start += B, b++) {
        int n_rows = data->count - start < B ? data->count - start : B;
        for (int i = 0; i < n_rows; i++) rows[i] = start + i;
        fill_batch(data, c, rows, n_rows, B, T, pose_loss_only, inputs, targets);
        float loss;
        if ((rc = dr_llama_forward(m, inputs, targets, B, T, &loss, err)) != DR_OK) goto done;
        loss_sum += (double)loss * m->acts.num_valid;
        tokens += m->acts.num_valid;
        dr_llama_argmax(m, preds);
        for (long i = 0; i < (long)B * T; i++)
            if (targets[i] >= pose_base) {
                pose_total++;
                pose_right += preds[i] == targets[i];
            }
    }
    out->loss = tokens ? loss_sum / (double)tokens : 0.0;
    out->pose_acc = pose_total ? (double)pose_right / (double)pose_total : 0.0;
    out->tokens = tokens;
done:
    free(inputs), free(targets), free(preds), free(rows);
    return rc;
}

/* ---- training -------------------------------------------------------------------------- */

dr_llm_train_opts dr_llm_train_default_opts(void) {
    dr_llm_train_opts o = {
        .batch = 16, .accum = 1, .steps = 2000, .warmup = 100, .lr = 1e-3f, .lr_min = 1e-4f, .weight_decay = 0.1f,
        .grad_clip = 1.0f, .pose_loss_only = false, .eval_every = 200, .eval_batches = 0, .checkpoint_every = 500,
        .checkpoint = NULL, .seed = 1, .quiet = false,
    };
    return o;
}

static int save_checkpoint(const dr_llama *m, const dr_llm_train_opts *o, long step, dr_err *err) {
    if (!o->checkpoint) return DR_OK;
    char *config = dr_llama_config_to_json(&m->cfg);
    char state[256];
    snprintf(state, sizeof state, "{\"seed\": %llu, \"batch\": %d, \"accum\": %d, \"steps\": %ld}",
             (unsigned long long)o->seed, o->batch, o->accum, o->steps);
    int rc = !config  ? dr_err_set(err, DR_ENOMEM, "llm train: out of memory")
             : o->lora ? dr_llama_lora_save_checkpoint(o->lora, o->checkpoint, step, state, err)
                       : dr_params_save_checkpoint(&m->params, o->checkpoint, "llm", config, step, state, err);
    free(config);
    return rc;
}

int dr_llm_train(dr_llama *m, const dr_llm_data *train, const dr_llm_data *val, const dr_llm_train_opts *o,
                 long start_step, dr_llm_eval *final, dr_err *err) {
    const dr_llama_config *c = &m->cfg;
    if (!train || train->count == 0) return dr_err_set(err, DR_EINVAL, "llm train: no training examples");
    if (o->batch <= 0 || o->accum <= 0 || o->steps <= 0 || start_step < 0 || !(o->lr > 0.0f))
        return dr_err_set(err, DR_EINVAL, "llm train: batch, accum, steps and lr must be positive");
    if (dr_params_alloc_grad(&m->params) || (!o->lora && dr_params_alloc_optim(&m->params)))
        return dr_err_set(err, DR_ENOMEM, "llm train: out of memory for gradients and optimizer state");
    if (o->lora) dr_llama_lora_apply(o->lora);
    const int B = o->batch;
    const int T = train->max_len - 1;
    int *inputs = malloc(sizeof(int) * (size_t)B * T), *targets = malloc(sizeof(int) * (size_t)B * T);
    int *rows = malloc(sizeof(int) * (size_t)B);
    sample_order order = {.seed = o->seed, .count = train->count, .epoch = -1,
                          .perm = malloc(sizeof(int) * (size_t)train->count)};
    int rc = DR_OK;
    if (!inputs || !targets || !rows || !order.perm) {
        rc = dr_err_set(err, DR_ENOMEM, "llm train: out of memory");
        goto done;
    }
    dr_adamw_config adam = dr_adamw_default();
    adam.weight_decay = o->weight_decay;
    const long end = o->stop_step > 0 && o->stop_step < o->steps ? o->stop_step : o->steps;
    if (final) memset(final, 0, sizeof *final);
    dr_progress prog;
    dr_progress_begin(&prog, "train llm", start_step, o->steps, o->quiet);

    dr_llm_eval ev = {0};
    bool have_eval = false;
    double t_start = dr_now();
    long real_tokens = 0;
    for (long step = start_step; step < end; step++) {
        dr_params_zero_grad(&m->params);
        double loss = 0.0;
        for (int a = 0; a < o->accum; a++) {
            long g0 = (step * o->accum + a) * (long)B;
            for (int i = 0; i < B; i++) rows[i] = order_example(&order, g0 + i);
            real_tokens += fill_batch(train, c, rows, B, B, T, o->pose_loss_only, inputs, targets);
            float l;
            if ((rc = dr_llama_forward(m, inputs, targets, B, T, &l, err)) != DR_OK ||
                (rc = dr_llama_backward(m, 1.0f / (float)o->accum, err)) != DR_OK)
                goto done;
            loss += l / o->accum;
        }
        if (!isfinite(loss)) {
            rc = dr_err_set(err, DR_ERANGE, "llm train: the loss is %g at step %ld (lower --lr?)", loss, step + 1);
            goto done;
        }
        float lr = dr_lr_schedule(step, o->warmup, o->steps, o->lr, o->lr_min);
        if (o->lora) {
            if ((rc = dr_llama_lora_step(o->lora, lr, (int)(step + 1), &adam, o->grad_clip, NULL, err)) != DR_OK)
                goto done;
        } else {
            if (o->grad_clip > 0.0f) dr_clip_grad_norm(m->params.grad, m->params.total, o->grad_clip);
            dr_adamw_step(&m->params, lr, (int)(step + 1), &adam);
        }

        const bool last = step + 1 == end;
        if (val && val->count > 0 && (last || (o->eval_every > 0 && (step + 1) % o->eval_every == 0))) {
            if ((rc = dr_llm_evaluate(m, val, B, last ? 0 : o->eval_batches, o->pose_loss_only, &ev, err)) != DR_OK)
                goto done;
            have_eval = true;
        }
        if (o->checkpoint && (last || (o->checkpoint_every > 0 && (step + 1) % o->checkpoint_every == 0)) &&
            (rc = save_checkpoint(m, o, step + 1, err)) != DR_OK)
            goto done;
        char extra[160];
        double rate = real_tokens / (dr_now() - t_start + 1e-9);
        if (have_eval)
            snprintf(extra, sizeof extra, "loss %.4f  val %.4f  pose acc %.3f  lr %.2e  %.0f tok/s", loss, ev.loss,
                     ev.pose_acc, lr, rate);
        else
            snprintf(extra, sizeof extra, "loss %.4f  lr %.2e  %.0f tok/s", loss, lr, rate);
        if (last) dr_progress_end(&prog, extra);
        else dr_progress_update(&prog, step + 1, extra);
    }
    if (final) *final = ev;
done:
    free(inputs), free(targets), free(rows), free(order.perm);
    return rc;
}

int dr_llm_load_checkpoint(dr_llama *m, const char *path, long *step, dr_err *err) {
    memset(m, 0, sizeof *m);
    dr_llama_config cfg;
    char *state = NULL;
    int rc = dr_llama_read_config(path, &cfg, err);
    if (rc) return rc;
    if ((rc = dr_llama_init(m, &cfg, err)) != DR_OK) return rc;
    rc = dr_params_load_checkpoint(&m->params, path, step, &state, err);
    free(state);
    if (rc) dr_llama_free(m);
    return rc;
}

/* ---- tokenizer glue ---------------------------------------------------------------------- */

int dr_llm_check_tokenizer(const dr_llama_config *cfg, const dr_tokenizer *tok, const char *tok_path, dr_err *err) {
    static const char *const names[DR_LLAMA_NUM_SPECIALS] = {DR_TOKEN_BEGIN, DR_TOKEN_END, DR_TOKEN_POSE_BEGIN,
                                                             DR_TOKEN_POSE_END, DR_TOKEN_PAD};
    if (dr_tokenizer_text_vocab_size(tok) != cfg->n_text)
        return dr_err_set(err, DR_EFORMAT, "%s: %d text tokens, but the model was built for %d", tok_path,
                          dr_tokenizer_text_vocab_size(tok), cfg->n_text);
    for (int i = 0; i < DR_LLAMA_NUM_SPECIALS; i++) {
        int id = dr_tokenizer_special_id(tok, names[i]);
        if (id != dr_llama_special(cfg, i))
            return dr_err_set(err, DR_EFORMAT, "%s: %s has id %d, the model expects %d", tok_path, names[i], id,
                              dr_llama_special(cfg, i));
    }
    return DR_OK;
}

int dr_llm_encode_prompt(const dr_tokenizer *tok, const char *text, int *ids, int max_ids, int *n_ids, dr_err *err) {
    /* the tokenizer writes int32_t ids; int is 32 bits on every platform director builds on */
    _Static_assert(sizeof(int) == sizeof(int32_t), "int must be 32 bits");
    return dr_tokenizer_encode(tok, text, strlen(text), 0, (int32_t *)ids, max_ids, n_ids, err);
}
