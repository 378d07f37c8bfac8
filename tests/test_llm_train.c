/* Tests of src/models/llm_train.c: example building, a tiny model that learns a
 * prompt -> pose-token mapping (and then generates it under constrained decoding),
 * bit-exact resume from a checkpoint, the pose-only loss. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parallel.h"
#include "models/llama_lora.h"
#include "models/llm_train.h"
#include "testutil.h"

/* 3 key frames x 2 levels of 8 codes, 12 text tokens. */
static dr_llama_config small_config(void) {
    dr_llama_config c = {.dim = 32, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .head_dim = 8, .ffn_hidden = 64,
                         .rope_theta = 10000.0f, .norm_eps = 1e-5f, .max_seq_len = 16, .tied_embeddings = false,
                         .n_text = 12, .pose_levels = 2, .pose_codebook = 8, .pose_keyframes = 3};
    c.vocab_size = c.n_text + DR_LLAMA_NUM_SPECIALS + c.pose_levels * c.pose_codebook;
    return c;
}

/* Example e: prompt (e % 12, (e * 5) % 12), codes a function of the prompt. */
static void example(int e, int *prompt, int *codes) {
    prompt[0] = e % 12;
    prompt[1] = (e * 5) % 12;
    for (int i = 0; i < 6; i++) codes[i] = (prompt[0] * (i + 1) + prompt[1] + i) % 8;
}

static void build_data(dr_llm_data *d, const dr_llama_config *c, int n) {
    dr_llm_data_init(d);
    dr_err err;
    for (int e = 0; e < n; e++) {
        int prompt[2], codes[6];
        example(e, prompt, codes);
        assert_int_equal(dr_llm_data_add(d, c, prompt, 2, codes, &err), DR_OK);
    }
}

static void test_data(void **state) {
    (void)state;
    dr_llama_config c = small_config();
    dr_llm_data d;
    dr_err err;
    build_data(&d, &c, 3);
    assert_int_equal(d.count, 3);
    assert_int_equal(d.max_len, 2 + 6 + 4);
    assert_int_equal(d.tokens[d.offset[1]], c.n_text + DR_LLAMA_BOS);
    int prompt[20] = {0}, codes[6] = {0};
    assert_int_equal(dr_llm_data_add(&d, &c, prompt, 20, codes, &err), DR_ERANGE); /* longer than max_seq_len */
    assert_non_null(strstr(err.msg, "max_seq_len"));
    codes[3] = 8;
    assert_int_equal(dr_llm_data_add(&d, &c, prompt, 2, codes, &err), DR_ERANGE); /* code out of range */
    assert_int_equal(d.count, 3);
    dr_llm_data_free(&d);
}

static dr_llm_train_opts quick_opts(void) {
    dr_llm_train_opts o = dr_llm_train_default_opts();
    o.batch = 8, o.steps = 300, o.warmup = 20, o.lr = 3e-3f, o.lr_min = 3e-4f, o.weight_decay = 0.0f;
    o.eval_every = 0, o.checkpoint_every = 0, o.quiet = true, o.seed = 3;
    return o;
}

static void test_learns_and_generates(void **state) {
    (void)state;
    dr_llama_config c = small_config();
    dr_llama m;
    dr_err err;
    assert_int_equal(dr_llama_init(&m, &c, &err), DR_OK);
    dr_llama_init_weights(&m, 1);
    dr_llm_data d;
    build_data(&d, &c, 12);
    dr_llm_eval before, after;
    assert_int_equal(dr_llm_evaluate(&m, &d, 8, 0, true, &before, &err), DR_OK);
    dr_llm_train_opts o = quick_opts();
    o.pose_loss_only = true;
    assert_int_equal(dr_llm_train(&m, &d, &d, &o, 0, &after, &err), DR_OK);
    if (!(after.loss < 0.2 * before.loss && after.pose_acc > 0.95))
        fail_msg("did not learn: loss %.3f -> %.3f, pose accuracy %.3f -> %.3f", before.loss, after.loss,
                 before.pose_acc, after.pose_acc);
    /* greedy constrained generation reproduces the memorised codes */
    int right = 0;
    for (int e = 0; e < 12; e++) {
        int prompt[2], codes[6], got[6];
        example(e, prompt, codes);
        dr_llama_sampling greedy = {0.0f, 0, 1.0f, false};
        assert_int_equal(dr_llama_generate_pose(&m, prompt, 2, 1, &greedy, 0, got, &err), DR_OK);
        right += !memcmp(codes, got, sizeof codes);
    }
    assert_true(right >= 11);
    dr_llm_data_free(&d);
    dr_llama_free(&m);
}

static void test_resume_is_exact(void **state) {
    (void)state;
    dr_llama_config c = small_config();
    dr_err err;
    dr_llm_data d;
    build_data(&d, &c, 10); /* not a multiple of the batch: epochs straddle batches */
    dr_llm_train_opts o = quick_opts();
    o.steps = 12, o.warmup = 3;
    char dir[1024], ckpt[1200];
    tu_tmpdir(dir, sizeof dir, "llm-train");
    snprintf(ckpt, sizeof ckpt, "%s/llm.ckpt", dir);

    dr_llama straight;
    assert_int_equal(dr_llama_init(&straight, &c, &err), DR_OK);
    dr_llama_init_weights(&straight, 2);
    assert_int_equal(dr_llm_train(&straight, &d, NULL, &o, 0, NULL, &err), DR_OK);

    dr_llama first, resumed;
    assert_int_equal(dr_llama_init(&first, &c, &err), DR_OK);
    dr_llama_init_weights(&first, 2);
    dr_llm_train_opts part = o;
    part.checkpoint = ckpt;
    part.stop_step = 5; /* interrupted after step 5, same 12-step schedule */
    assert_int_equal(dr_llm_train(&first, &d, NULL, &part, 0, NULL, &err), DR_OK);
    long step = -1;
    assert_int_equal(dr_llm_load_checkpoint(&resumed, ckpt, &step, &err), DR_OK);
    assert_int_equal(step, 5);
    assert_memory_equal(resumed.params.data, first.params.data, sizeof(float) * first.params.total);
    assert_int_equal(dr_llm_train(&resumed, &d, NULL, &o, step, NULL, &err), DR_OK);
    assert_memory_equal(resumed.params.data, straight.params.data, sizeof(float) * straight.params.total);
    /* a checkpoint also loads as a plain model (its weights); a missing one is reported */
    dr_llama plain;
    assert_int_equal(dr_llama_load(&plain, ckpt, &err), DR_OK);
    assert_memory_equal(plain.params.data, first.params.data, sizeof(float) * first.params.total);
    dr_llama_free(&plain);
    snprintf(ckpt, sizeof ckpt, "%s/none.ckpt", dir);
    assert_int_not_equal(dr_llm_load_checkpoint(&plain, ckpt, &step, &err), DR_OK);
    assert_non_null(strstr(err.msg, "none.ckpt"));
    dr_llama_free(&first);
    dr_llama_free(&resumed);
    dr_llm_data_free(&d);
    dr_llama_free(&straight);
}

/* A LoRA run (adapters on attention and MLP, embedding and head trained) interrupted after
 * step 5 and resumed from its checkpoint ends bit-identical to the straight run: the
 * merged model, the adapters and their moments. The base file beside the checkpoint holds
 * the pretrained matrices, and mismatched LoRA options are refused. */
static void test_lora_resume_is_exact(void **state) {
    (void)state;
    dr_llama_config c = small_config();
    dr_err err;
    dr_llm_data d;
    build_data(&d, &c, 10);
    dr_llm_train_opts o = quick_opts();
    o.steps = 12, o.warmup = 3;
    char dir[1024], ckpt[1200], base[1300];
    tu_tmpdir(dir, sizeof dir, "llm-lora-train");
    snprintf(ckpt, sizeof ckpt, "%s/lora.ckpt", dir);
    snprintf(base, sizeof base, "%s.base", ckpt);
    const dr_llama_lora_opts lo = {.rank = 2, .alpha = 4.0f, .mlp = true, .train_embeddings = true};

    dr_llama straight, pretrained;
    dr_llama_lora ls;
    assert_int_equal(dr_llama_init(&straight, &c, &err), DR_OK);
    dr_llama_init_weights(&straight, 2);
    assert_int_equal(dr_llama_init(&pretrained, &c, &err), DR_OK);
    memcpy(pretrained.params.data, straight.params.data, sizeof(float) * straight.params.total);
    assert_int_equal(dr_llama_lora_init(&ls, &straight, &lo, 3, &err), DR_OK);
    o.lora = &ls;
    assert_int_equal(dr_llm_train(&straight, &d, NULL, &o, 0, NULL, &err), DR_OK);

    dr_llama first, resumed;
    dr_llama_lora lf, lr;
    assert_int_equal(dr_llama_init(&first, &c, &err), DR_OK);
    dr_llama_init_weights(&first, 2);
    assert_int_equal(dr_llama_lora_init(&lf, &first, &lo, 3, &err), DR_OK);
    dr_llm_train_opts part = o;
    part.lora = &lf;
    part.checkpoint = ckpt;
    part.stop_step = 5;
    assert_int_equal(dr_llm_train(&first, &d, NULL, &part, 0, NULL, &err), DR_OK);

    /* the base file is the pretrained model, whatever the adapters did */
    dr_llama b;
    assert_int_equal(dr_llama_load(&b, base, &err), DR_OK);
    for (int l = 0; l < c.n_layers; l++) {
        const long n = (long)c.n_heads * c.head_dim * c.dim;
        assert_memory_equal(b.layers[l].wq, pretrained.layers[l].wq, sizeof(float) * n);
        assert_memory_equal(b.layers[l].w_down, pretrained.layers[l].w_down, sizeof(float) * c.dim * c.ffn_hidden);
    }
    dr_llama_free(&b);

    /* other options than the checkpoint's are refused */
    dr_llama_lora_opts other = lo;
    other.rank = 3;
    long step = -1;
    assert_int_not_equal(dr_llama_lora_load_checkpoint(&lr, &resumed, ckpt, &other, &step, NULL, &err), DR_OK);
    assert_non_null(strstr(err.msg, "differ"));

    assert_int_equal(dr_llama_lora_load_checkpoint(&lr, &resumed, ckpt, &lo, &step, NULL, &err), DR_OK);
    assert_int_equal(step, 5);
    assert_memory_equal(resumed.params.data, first.params.data, sizeof(float) * first.params.total);
    assert_memory_equal(lr.params.data, lf.params.data, sizeof(float) * lf.params.total);
    dr_llm_train_opts rest = o;
    rest.lora = &lr;
    assert_int_equal(dr_llm_train(&resumed, &d, NULL, &rest, step, NULL, &err), DR_OK);
    assert_memory_equal(resumed.params.data, straight.params.data, sizeof(float) * straight.params.total);
    assert_memory_equal(lr.params.data, ls.params.data, sizeof(float) * ls.params.total);
    assert_memory_equal(lr.params.m, ls.params.m, sizeof(float) * ls.params.total);
    assert_memory_equal(lr.params.v, ls.params.v, sizeof(float) * ls.params.total);
    /* the adapters really trained: the merged q_proj moved away from the base */
    assert_true(memcmp(straight.layers[0].wq, pretrained.layers[0].wq,
                       sizeof(float) * (size_t)c.n_heads * c.head_dim * c.dim) != 0);
    /* a full-training checkpoint is not a LoRA checkpoint */
    dr_llama_lora_free(&lr);
    dr_llama_free(&resumed);
    assert_int_not_equal(dr_llama_lora_load_checkpoint(&lr, &resumed, base, &lo, &step, NULL, &err), DR_OK);
    assert_non_null(strstr(err.msg, "not a LoRA checkpoint"));

    dr_llama_lora_free(&lf);
    dr_llama_lora_free(&ls);
    dr_llama_free(&first);
    dr_llama_free(&pretrained);
    dr_llama_free(&straight);
    dr_llm_data_free(&d);
}

/* Two micro-batches of 4 draw the same examples as one batch of 8 and, with equal
 * sequence lengths, give the same averaged gradient: the models stay together. */
static void test_accumulation(void **state) {
    (void)state;
    dr_llama_config c = small_config();
    dr_err err;
    dr_llm_data d;
    build_data(&d, &c, 12);
    dr_llama a, b;
    assert_int_equal(dr_llama_init(&a, &c, &err), DR_OK);
    assert_int_equal(dr_llama_init(&b, &c, &err), DR_OK);
    dr_llama_init_weights(&a, 5);
    dr_llama_init_weights(&b, 5);
    dr_llm_train_opts o = quick_opts();
    o.steps = 4, o.warmup = 1;
    assert_int_equal(dr_llm_train(&a, &d, NULL, &o, 0, NULL, &err), DR_OK);
    o.batch = 4, o.accum = 2;
    assert_int_equal(dr_llm_train(&b, &d, NULL, &o, 0, NULL, &err), DR_OK);
    double diff = tu_max_abs_diff(a.params.data, b.params.data, (long)a.params.total);
    if (diff > 1e-5) fail_msg("accumulated run differs by %g", diff);
    /* and training moved the weights at all */
    dr_llama init;
    assert_int_equal(dr_llama_init(&init, &c, &err), DR_OK);
    dr_llama_init_weights(&init, 5);
    assert_true(tu_max_abs_diff(a.params.data, init.params.data, (long)a.params.total) > 1e-3);
    dr_llama_free(&init);
    dr_llama_free(&a);
    dr_llama_free(&b);
    dr_llm_data_free(&d);
}

int main(void) {
    dr_set_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data),
        cmocka_unit_test(test_learns_and_generates),
        cmocka_unit_test(test_resume_is_exact),
        cmocka_unit_test(test_lora_resume_is_exact),
        cmocka_unit_test(test_accumulation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
