/* Tests of src/nn/params: table layout, initialisers, model files (save/load, F16/BF16
 * files, shape and name mismatches named in the error), checkpoints, file info. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/half.h"
#include "io/safetensors.h"
#include "nn/params.h"
#include "testutil.h"

static void declare_model(dr_params *p, int64_t hidden) {
    dr_params_init(p);
    assert_int_equal(dr_params_add2(p, "embed.weight", false, 10, hidden), 0);
    assert_int_equal(dr_params_add1(p, "norm.weight", true, hidden), 1);
    int64_t shape3[3] = {2, 3, hidden};
    assert_int_equal(dr_params_add(p, "conv.weight", false, 3, shape3), 2);
}

static void test_layout_and_init(void **state) {
    (void)state;
    dr_params p;
    declare_model(&p, 4);
    assert_true(dr_params_add1(&p, "norm.weight", true, 3) < 0); /* duplicate */
    assert_true(dr_params_add1(&p, "bad", true, 0) < 0);
    assert_true(dr_params_add1(&p, "", true, 3) < 0);
    char long_name[200];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    assert_true(dr_params_add1(&p, long_name, true, 3) < 0);
    assert_int_equal(p.count, 3);
    assert_int_equal(p.total, 40 + 4 + 24);
    assert_int_equal(p.items[1].offset, 40);
    assert_int_equal(p.items[2].offset, 44);
    assert_true(p.items[1].no_decay && !p.items[0].no_decay);
    assert_null(dr_params_get(&p, "embed.weight")); /* not allocated yet */
    assert_int_equal(dr_params_alloc(&p), 0);
    assert_true(dr_params_add1(&p, "late", false, 2) < 0); /* layout frozen */
    assert_int_equal(dr_params_alloc_grad(&p), 0);
    assert_ptr_equal(dr_params_get(&p, "norm.weight"), p.data + 40);
    assert_ptr_equal(dr_params_grad(&p, "conv.weight"), p.grad + 44);
    assert_null(dr_params_get(&p, "nope"));
    assert_int_equal(dr_params_find(&p, "conv.weight"), 2);
    assert_int_equal(dr_params_find(&p, "nope"), -1);

    dr_rng rng;
    dr_rng_seed(&rng, 1);
    dr_params_fill(&p, "norm.weight", 1.0f);
    dr_params_init_uniform(&p, "conv.weight", &rng, 0.5f);
    float *w = dr_params_get(&p, "conv.weight");
    for (int i = 0; i < 24; i++) assert_true(w[i] >= -0.5f && w[i] < 0.5f);
    for (int i = 0; i < 4; i++) assert_true(p.data[40 + i] == 1.0f);
    for (int i = 0; i < 40; i++) assert_true(p.data[i] == 0.0f); /* untouched */
    dr_params_free(&p);

    /* Normal init: moments of a large tensor. */
    dr_params_init(&p);
    dr_params_add2(&p, "big", false, 300, 300);
    dr_params_alloc(&p);
    dr_params_init_normal(&p, "big", &rng, 0.02f);
    double s = 0, s2 = 0;
    for (int i = 0; i < 90000; i++) s += p.data[i], s2 += (double)p.data[i] * p.data[i];
    assert_true(fabs(s / 90000) < 0.001);
    assert_true(fabs(sqrt(s2 / 90000) - 0.02) < 0.001);
    dr_params_zero_grad(&p); /* no grad buffer: no-op */
    dr_params_free(&p);
}

static void test_save_load(void **state) {
    (void)state;
    char dir[512], path[1024];
    tu_tmpdir(dir, sizeof dir, "params_save");
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    dr_params a, b;
    declare_model(&a, 4);
    dr_params_alloc(&a);
    dr_rng rng;
    dr_rng_seed(&rng, 9);
    dr_rng_fill_normal(&rng, a.data, (long)a.total, 0, 1);
    dr_err err = {0};
    const char *cfg = "{\"hidden\":4,\"layers\":1}";
    int rc = dr_params_save(&a, path, "toy", cfg, &err);
    if (rc) fail_msg("%s", err.msg);

    declare_model(&b, 4);
    rc = dr_params_load(&b, path, false, &err); /* allocates on demand */
    if (rc) fail_msg("%s", err.msg);
    assert_memory_equal(a.data, b.data, a.total * sizeof(float));

    char *kind, *config;
    assert_int_equal(dr_model_file_info(path, &kind, &config, &err), 0);
    assert_string_equal(kind, "toy");
    assert_string_equal(config, cfg);
    free(kind), free(config);

    /* Shape mismatch: file and tensor named, nothing overwritten. */
    dr_params c;
    declare_model(&c, 5);
    dr_params_alloc(&c);
    dr_params_fill(&c, "norm.weight", 7.0f);
    rc = dr_params_load(&c, path, false, &err);
    assert_int_equal(rc, DR_EFORMAT);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "embed.weight"));
    assert_non_null(strstr(err.msg, "[10, 4]"));
    assert_true(dr_params_get(&c, "norm.weight")[0] == 7.0f);
    dr_params_free(&c);

    /* Missing tensor. */
    dr_params_init(&c);
    dr_params_add2(&c, "embed.weight", false, 10, 4);
    dr_params_add1(&c, "other.bias", true, 4);
    rc = dr_params_load(&c, path, true, &err);
    assert_int_equal(rc, DR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "other.bias"));
    assert_non_null(strstr(err.msg, path));
    dr_params_free(&c);

    /* Extra tensors: refused unless allowed. */
    dr_params_init(&c);
    dr_params_add2(&c, "embed.weight", false, 10, 4);
    rc = dr_params_load(&c, path, false, &err);
    assert_int_equal(rc, DR_EFORMAT);
    assert_non_null(strstr(err.msg, "not part of this model"));
    assert_int_equal(dr_params_load(&c, path, true, &err), 0);
    assert_memory_equal(c.data, a.data, 40 * sizeof(float));
    dr_params_free(&c);

    /* Bad config and missing file. */
    assert_int_not_equal(dr_params_save(&a, path, "toy", "not json", &err), 0);
    snprintf(path, sizeof path, "%s/none.safetensors", dir);
    assert_int_equal(dr_params_load(&b, path, false, &err), DR_ENOTFOUND);
    assert_non_null(strstr(err.msg, path));
    assert_int_not_equal(dr_model_file_info(path, &kind, &config, &err), 0);
    dr_params_free(&a);
    dr_params_free(&b);
}

/* Files written by other tools in F16 / BF16 load with conversion; non-director files have no info. */
static void test_load_half_precision(void **state) {
    (void)state;
    char dir[512], path[1024];
    tu_tmpdir(dir, sizeof dir, "params_half");
    snprintf(path, sizeof path, "%s/h.safetensors", dir);
    dr_params p;
    declare_model(&p, 4);
    dr_params_alloc(&p);
    dr_rng rng;
    dr_rng_seed(&rng, 4);
    float *src = tu_randn(&rng, (long)p.total, 1.0f);
    dr_st_writer w;
    dr_st_writer_init(&w);
    dr_err err;
    for (int i = 0; i < p.count; i++)
        assert_int_equal(dr_st_writer_add(&w, p.items[i].name, i == 1 ? DR_ST_F16 : DR_ST_BF16, p.items[i].ndim,
                                          p.items[i].shape, src + p.items[i].offset, &err),
                         0);
    assert_int_equal(dr_st_writer_write(&w, path, &err), 0);
    dr_st_writer_free(&w);
    int rc = dr_params_load(&p, path, false, &err);
    if (rc) fail_msg("%s", err.msg);
    for (size_t i = 0; i < p.total; i++) {
        bool half = i >= 40 && i < 44;
        float ref = half ? dr_f16_to_f32(dr_f32_to_f16(src[i])) : dr_bf16_to_f32(dr_f32_to_bf16(src[i]));
        assert_true(p.data[i] == ref);
    }
    char *kind, *config;
    rc = dr_model_file_info(path, &kind, &config, &err);
    assert_int_equal(rc, DR_EFORMAT);
    assert_non_null(strstr(err.msg, "director.kind"));
    assert_null(kind);
    free(src);
    dr_params_free(&p);
}

static void test_checkpoint(void **state) {
    (void)state;
    char dir[512], path[1024], model_path[1024];
    tu_tmpdir(dir, sizeof dir, "params_ckpt");
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    snprintf(model_path, sizeof model_path, "%s/model.safetensors", dir);
    dr_params a, b;
    declare_model(&a, 3);
    dr_params_alloc(&a);
    dr_err err = {0};
    assert_int_not_equal(dr_params_save_checkpoint(&a, path, "toy", "{}", 5, "{}", &err), 0); /* no optim state */
    dr_params_alloc_optim(&a);
    dr_rng rng;
    dr_rng_seed(&rng, 17);
    dr_rng_fill_normal(&rng, a.data, (long)a.total, 0, 1);
    dr_rng_fill_normal(&rng, a.m, (long)a.total, 0, 1);
    dr_rng_fill_uniform(&rng, a.v, (long)a.total, 0, 1);
    const char *ts = "{\"rng\":[1,2,3,4],\"cursor\":77}";
    int rc = dr_params_save_checkpoint(&a, path, "toy", "{\"h\":3}", 1234, ts, &err);
    if (rc) fail_msg("%s", err.msg);
    assert_int_equal(dr_params_save(&a, model_path, "toy", "{\"h\":3}", &err), 0);

    declare_model(&b, 3);
    long step = 0;
    char *state_json = NULL;
    rc = dr_params_load_checkpoint(&b, path, &step, &state_json, &err);
    if (rc) fail_msg("%s", err.msg);
    assert_int_equal(step, 1234);
    assert_string_equal(state_json, ts);
    free(state_json);
    assert_memory_equal(a.data, b.data, a.total * sizeof(float));
    assert_memory_equal(a.m, b.m, a.total * sizeof(float));
    assert_memory_equal(a.v, b.v, a.total * sizeof(float));

    /* The checkpoint's tensor names follow the convention. */
    dr_st_file f;
    assert_int_equal(dr_st_open(&f, path, &err), 0);
    assert_non_null(dr_st_find(&f, "optim.m.embed.weight"));
    assert_non_null(dr_st_find(&f, "optim.v.conv.weight"));
    assert_string_equal(dr_st_meta(&f, "director.step"), "1234");
    assert_string_equal(dr_st_meta(&f, "director.version"), "1");
    dr_st_close(&f);

    /* A checkpoint loads as a plain model (optimizer tensors are not "extra"). */
    dr_params c;
    declare_model(&c, 3);
    assert_int_equal(dr_params_load(&c, path, false, &err), 0);
    assert_memory_equal(a.data, c.data, a.total * sizeof(float));
    dr_params_free(&c);

    /* A model file is not a checkpoint. */
    rc = dr_params_load_checkpoint(&b, model_path, &step, &state_json, &err);
    assert_int_equal(rc, DR_EFORMAT);
    assert_non_null(strstr(err.msg, model_path));
    assert_non_null(strstr(err.msg, "director.step"));
    assert_null(state_json);
    dr_params_free(&a);
    dr_params_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_and_init),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_load_half_precision),
        cmocka_unit_test(test_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
