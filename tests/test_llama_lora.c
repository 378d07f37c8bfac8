/* Tests of src/models/llama_lora.c: adapters start at the base model exactly; the
 * adapter gradients match finite differences of the whole model's loss (attention only
 * and with the MLP); a few AdamW steps on the adapters lower the loss while the base
 * stays frozen and the change of every matrix is s B A (rank <= r); save/load. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "models/llama.h"
#include "models/llama_lora.h"
#include "nn/optim.h"
#include "testutil.h"

static void make_model(dr_llama *m, uint64_t seed) {
    dr_llama_config c = {.vocab_size = 29, .dim = 16, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .head_dim = 4,
                         .ffn_hidden = 24, .rope_theta = 10000.0f, .norm_eps = 1e-5f, .max_seq_len = 32,
                         .tied_embeddings = false};
    dr_err err = {0};
    assert_int_equal(dr_llama_init(m, &c, &err), DR_OK);
    dr_rng rng;
    dr_rng_seed(&rng, seed);
    for (size_t i = 0; i < m->params.total; i++) m->params.data[i] = 0.3f * dr_rng_normal(&rng);
    for (int i = 0; i < m->params.count; i++)
        if (strstr(m->params.items[i].name, "norm.weight")) dr_params_fill(&m->params, m->params.items[i].name, 1.0f);
}

enum { B = 2, T = 7 };

typedef struct lora_ctx {
    dr_llama *m;
    dr_llama_lora *l;
    int tokens[B * T], targets[B * T];
} lora_ctx;

static double lora_loss(void *ctx) {
    lora_ctx *c = ctx;
    dr_llama_lora_apply(c->l);
    float loss = 0.0f;
    assert_int_equal(dr_llama_forward(c->m, c->tokens, c->targets, B, T, &loss, NULL), DR_OK);
    return loss;
}

static void lora_grads(lora_ctx *c) {
    dr_err err = {0};
    lora_loss(c);
    if (c->m->params.grad) dr_params_zero_grad(&c->m->params);
    assert_int_equal(dr_llama_backward(c->m, 1.0f, &err), DR_OK);
    if (c->l->params.grad) dr_params_zero_grad(&c->l->params);
    assert_int_equal(dr_llama_lora_backward(c->l, &err), DR_OK);
}

static void make_batch(lora_ctx *c, int vocab) {
    dr_rng rng;
    dr_rng_seed(&rng, 3);
    for (int i = 0; i < B * T; i++) {
        c->tokens[i] = (int)dr_rng_below(&rng, (uint32_t)vocab);
        c->targets[i] = i % 6 == 5 ? -1 : (int)dr_rng_below(&rng, (uint32_t)vocab);
    }
}

static void test_starts_at_base(void **state) {
    (void)state;
    dr_llama m;
    make_model(&m, 1);
    float *before = malloc(sizeof(float) * m.params.total);
    memcpy(before, m.params.data, sizeof(float) * m.params.total);
    dr_llama_lora l;
    dr_err err = {0};
    dr_llama_lora_opts o = {.rank = 4, .alpha = 8.0f, .mlp = true};
    assert_int_equal(dr_llama_lora_init(&l, &m, &o, 5, &err), DR_OK);
    assert_int_equal(l.n_targets, 2 * 7);
    assert_true(l.scale == 2.0f);
    dr_llama_lora_apply(&l);
    assert_memory_equal(m.params.data, before, sizeof(float) * m.params.total);
    dr_llama_lora_opts bad = {.rank = 0, .alpha = 1.0f};
    dr_llama_lora l2;
    assert_int_equal(dr_llama_lora_init(&l2, &m, &bad, 5, &err), DR_EINVAL);
    dr_llama_lora_free(&l);
    dr_llama_free(&m);
    free(before);
}

static void check_gradients(bool mlp) {
    dr_llama m;
    make_model(&m, mlp ? 11 : 12);
    dr_llama_lora l;
    dr_err err = {0};
    dr_llama_lora_opts o = {.rank = 3, .alpha = 6.0f, .mlp = mlp};
    assert_int_equal(dr_llama_lora_init(&l, &m, &o, 7, &err), DR_OK);
    dr_rng rng;
    dr_rng_seed(&rng, 9);
    for (size_t i = 0; i < l.params.total; i++) l.params.data[i] = 0.2f * dr_rng_normal(&rng); /* B != 0 */
    lora_ctx c = {.m = &m, .l = &l};
    make_batch(&c, m.cfg.vocab_size);
    lora_grads(&c);
    float *analytic = malloc(sizeof(float) * l.params.total);
    memcpy(analytic, l.params.grad, sizeof(float) * l.params.total);
    double e = tu_gradcheck(lora_loss, &c, l.params.data, analytic, (long)l.params.total, 5e-3f, 120, 2e-3);
    fprintf(stderr, "lora gradient check (%s): worst error %.2e over %zu adapter values\n", mlp ? "attn+mlp" : "attn",
            e, l.params.total);
    assert_true(e < 3e-2); /* as the whole-model check of test_llama.c; a wrong backward gives O(1) */
    free(analytic);
    dr_llama_lora_free(&l);
    dr_llama_free(&m);
}

static void test_gradients_attention(void **state) {
    (void)state;
    check_gradients(false);
}

static void test_gradients_mlp(void **state) {
    (void)state;
    check_gradients(true);
}

static void test_training_keeps_base_frozen(void **state) {
    (void)state;
    dr_llama m;
    make_model(&m, 21);
    float *base = malloc(sizeof(float) * m.params.total);
    memcpy(base, m.params.data, sizeof(float) * m.params.total);
    dr_llama_lora l;
    dr_err err = {0};
    dr_llama_lora_opts o = {.rank = 2, .alpha = 4.0f, .mlp = false};
    assert_int_equal(dr_llama_lora_init(&l, &m, &o, 7, &err), DR_OK);
    assert_int_equal(dr_params_alloc_optim(&l.params), DR_OK);
    lora_ctx c = {.m = &m, .l = &l};
    make_batch(&c, m.cfg.vocab_size);
    dr_adamw_config adam = dr_adamw_default();
    adam.weight_decay = 0.0f;
    double first = lora_loss(&c), last = first;
    for (int step = 1; step <= 30; step++) {
        lora_grads(&c);
        dr_adamw_step(&l.params, 1e-2f, step, &adam);
    }
    last = lora_loss(&c);
    fprintf(stderr, "lora training: loss %.4f -> %.4f in 30 steps\n", first, last);
    assert_true(last < first - 0.1);
    assert_null(m.params.m); /* no optimizer state for the base */
    /* everything but the adapted matrices is unchanged; those changed by s B A */
    for (int i = 0; i < m.params.count; i++) {
        const dr_param *p = &m.params.items[i];
        const float *now = m.params.data + p->offset, *was = base + p->offset;
        bool adapted = strstr(p->name, "_proj") && !strstr(p->name, "mlp.");
        if (!adapted) {
            assert_memory_equal(now, was, sizeof(float) * p->numel);
            continue;
        }
        const dr_llama_lora_target *t = NULL;
        for (int k = 0; k < l.n_targets; k++)
            if (l.targets[k].w == now) t = &l.targets[k];
        assert_non_null(t);
        assert_memory_equal(t->w0, was, sizeof(float) * p->numel); /* frozen copy untouched */
        double worst = 0, moved = 0;
        for (int r = 0; r < t->out; r++)
            for (int col = 0; col < t->in; col++) {
                double ba = 0;
                for (int k = 0; k < o.rank; k++) ba += (double)t->b[r * o.rank + k] * t->a[k * t->in + col];
                double d = now[(size_t)r * t->in + col] - was[(size_t)r * t->in + col];
                worst = fmax(worst, fabs(d - l.scale * ba));
                moved = fmax(moved, fabs(d));
            }
        assert_true(worst < 1e-5);
        assert_true(moved > 1e-3);
    }
    /* adapters save and load into a fresh attachment on the same base */
    char dir[1024], path[1200];
    tu_tmpdir(dir, sizeof dir, "lora");
    snprintf(path, sizeof path, "%s/adapter.safetensors", dir);
    assert_int_equal(dr_llama_lora_save(&l, path, &err), DR_OK);
    float *trained = malloc(sizeof(float) * m.params.total);
    memcpy(trained, m.params.data, sizeof(float) * m.params.total);
    dr_llama m2;
    make_model(&m2, 21);
    dr_llama_lora l2;
    assert_int_equal(dr_llama_lora_init(&l2, &m2, &o, 99, &err), DR_OK);
    assert_int_equal(dr_llama_lora_load(&l2, path, &err), DR_OK);
    assert_memory_equal(m2.params.data, trained, sizeof(float) * m.params.total);
    dr_llama_lora_opts other = {.rank = 3, .alpha = 4.0f};
    dr_llama_lora l3;
    assert_int_equal(dr_llama_lora_init(&l3, &m2, &other, 1, &err), DR_OK);
    assert_int_equal(dr_llama_lora_load(&l3, path, &err), DR_EFORMAT);
    dr_llama_lora_free(&l3);
    dr_llama_lora_free(&l2);
    dr_llama_free(&m2);
    free(trained);
    free(base);
    dr_llama_lora_free(&l);
    dr_llama_free(&m);
}

/* dr_llama_lora_step, with the embedding and head trained in full: the loss falls
 * faster than with adapters alone, only the embedding, head and adapted matrices move,
 * and clipping bounds the step's gradient norm. */
static void test_step_with_embeddings(void **state) {
    (void)state;
    double final_loss[2];
    for (int emb = 0; emb < 2; emb++) {
        dr_llama m;
        make_model(&m, 31);
        float *base = malloc(sizeof(float) * m.params.total);
        memcpy(base, m.params.data, sizeof(float) * m.params.total);
        dr_llama_lora l;
        dr_err err = {0};
        dr_llama_lora_opts o = {.rank = 2, .alpha = 4.0f, .mlp = true, .train_embeddings = emb};
        assert_int_equal(dr_llama_lora_init(&l, &m, &o, 7, &err), DR_OK);
        dr_llama_lora_apply(&l);
        lora_ctx c = {.m = &m, .l = &l};
        make_batch(&c, m.cfg.vocab_size);
        dr_adamw_config adam = dr_adamw_default();
        float norm = 0.0f;
        for (int step = 1; step <= 25; step++) {
            float loss;
            assert_int_equal(dr_llama_forward(&m, c.tokens, c.targets, B, T, &loss, &err), DR_OK);
            dr_params_zero_grad(&m.params);
            assert_int_equal(dr_llama_backward(&m, 1.0f, &err), DR_OK);
            assert_int_equal(dr_llama_lora_step(&l, 1e-2f, step, &adam, 0.5f, &norm, &err), DR_OK);
            assert_true(norm > 0.0f && isfinite(norm));
            /* clipped: what the optimizer saw has norm <= 0.5 */
            double ss = 0;
            for (size_t i = 0; i < l.params.total; i++) ss += (double)l.params.grad[i] * l.params.grad[i];
            assert_true(sqrt(ss) <= 0.5 + 1e-4);
        }
        final_loss[emb] = lora_loss(&c);
        for (int i = 0; i < m.params.count; i++) {
            const dr_param *p = &m.params.items[i];
            bool table = !strcmp(p->name, "model.embed_tokens.weight") || !strcmp(p->name, "lm_head.weight");
            bool moved = memcmp(m.params.data + p->offset, base + p->offset, sizeof(float) * p->numel) != 0;
            bool adapted = strstr(p->name, "_proj") != NULL;
            assert_int_equal(moved, adapted || (table && emb));
        }
        assert_null(m.params.m);
        free(base);
        dr_llama_lora_free(&l);
        dr_llama_free(&m);
    }
    fprintf(stderr, "lora step: loss after 25 steps %.4f (adapters) / %.4f (adapters + embedding and head)\n",
            final_loss[0], final_loss[1]);
    assert_true(final_loss[1] < final_loss[0]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts_at_base),
        cmocka_unit_test(test_gradients_attention),
        cmocka_unit_test(test_gradients_mlp),
        cmocka_unit_test(test_training_keeps_base_frozen),
        cmocka_unit_test(test_step_with_embeddings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
