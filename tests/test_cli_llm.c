/* End-to-end tests of `director train llm` and `director llm generate` on a small
 * synthetic dataset: training writes a model, generation prints decodable tokens
 * deterministically per seed, an interrupted run resumes to the same model, and bad
 * input fails with a clear message and no output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/parallel.h"
#include "models/rvq.h"
#include "pose/dataset.h"
#include "testutil.h"

static char dir[1024];
static const int codebook = 16, depth = 6;

static int setup(void **state) {
    (void)state;
    tu_tmpdir(dir, sizeof dir, "cli-llm");
    const char *bin = tu_director_bin();
    if (tu_system("%s data synth --clips 48 --seed 3 --out %s/data --quiet", bin, dir) ||
        tu_system("%s train tokenizer --data %s/data --vocab 300 --out %s/tok.json --quiet", bin, dir, dir))
        return -1;
    char data[1100], rvq[1100];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(rvq, sizeof rvq, "%s/rvq.safetensors", dir);
    tu_make_rvq(data, depth, codebook, 3, rvq);
    return 0;
}

#define TRAIN_ARGS                                                                                          \
    "%s train llm --data %s/data --rvq %s/rvq.safetensors --tokenizer %s/tok.json --steps 12 --batch 8 "   \
    "--warmup 2 --dim 32 --layers 2 --heads 4 --kv-heads 2 --ffn 64 --eval-every 6 --eval-batches 1 --quiet"

static char *read_all(const char *path) {
    char *data = NULL;
    size_t size = 0;
    dr_err err;
    return dr_read_file(path, 1 << 26, &data, &size, &err) == DR_OK ? data : NULL;
}

static void test_train_generate_resume(void **state) {
    (void)state;
    const char *bin = tu_director_bin();
    assert_int_equal(tu_system(TRAIN_ARGS " --out %s/a.safetensors", bin, dir, dir, dir, dir), 0);
    char path[1200];
    snprintf(path, sizeof path, "%s/a.safetensors", dir);
    assert_true(dr_file_exists(path));

    /* generation: 2 samples of 20 key frames x 6 codes in [0, 16), the same for a seed */
    assert_int_equal(tu_system("%s llm generate \"A man walks slowly.\" --model %s/a.safetensors --tokenizer "
                               "%s/tok.json --samples 2 --seed 7 --top-k 8 --out %s/gen > %s/gen1.txt",
                               bin, dir, dir, dir, dir),
                     0);
    assert_int_equal(tu_system("%s llm generate \"A man walks slowly.\" --model %s/a.safetensors --tokenizer "
                               "%s/tok.json --samples 2 --seed 7 --top-k 8 > %s/gen2.txt",
                               bin, dir, dir, dir),
                     0);
    /* --bf16 decodes too (its tokens may differ from fp32's, so only the format is checked) */
    assert_int_equal(tu_system("%s llm generate \"A man walks slowly.\" --model %s/a.safetensors --tokenizer "
                               "%s/tok.json --bf16 --greedy | grep -q '\"keyframes\": \\[\\['",
                               bin, dir, dir),
                     0);
    snprintf(path, sizeof path, "%s/gen1.txt", dir);
    char *g1 = read_all(path);
    snprintf(path, sizeof path, "%s/gen2.txt", dir);
    char *g2 = read_all(path);
    assert_non_null(g1);
    assert_non_null(g2);
    assert_string_equal(g1, g2);
    int lines = 0;
    for (char *line = strtok(g1, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        char *p = strstr(line, "\"keyframes\": [");
        assert_non_null(p);
        p += strlen("\"keyframes\": [");
        int count = 0;
        while (*p) {
            if (*p >= '0' && *p <= '9') {
                long v = strtol(p, &p, 10);
                assert_true(v >= 0 && v < codebook);
                count++;
            } else {
                p++;
            }
        }
        assert_int_equal(count, 20 * depth);
    }
    assert_int_equal(lines, 2);
    free(g1);
    free(g2);
    /* the tokens files decode-ready for the RVQ */
    snprintf(path, sizeof path, "%s/gen/sample_001.tokens.json", dir);
    int *tokens = NULL, nk = 0, d = 0, cb = 0;
    dr_err err;
    assert_int_equal(dr_rvq_tokens_read(path, &tokens, &nk, &d, &cb, &err), DR_OK);
    assert_int_equal(nk, 20);
    assert_int_equal(d, depth);
    assert_int_equal(cb, codebook);
    free(tokens);

    /* interrupted after step 5, then resumed: the same model as the straight run */
    assert_int_equal(tu_system(TRAIN_ARGS " --out %s/b.safetensors --stop-after 5", bin, dir, dir, dir, dir), 0);
    snprintf(path, sizeof path, "%s/b.safetensors", dir);
    assert_false(dr_file_exists(path)); /* no final model from an interrupted run */
    assert_int_equal(tu_system(TRAIN_ARGS " --out %s/b.safetensors --resume", bin, dir, dir, dir, dir), 0);
    assert_int_equal(tu_system("cmp -s %s/a.safetensors %s/b.safetensors", dir, dir), 0);

    /* the same for a LoRA run: its checkpoint and base file, then the same merged model */
    assert_int_equal(tu_system(TRAIN_ARGS " --lora 2 --lora-mlp --out %s/la.safetensors", bin, dir, dir, dir, dir),
                     0);
    assert_int_equal(
        tu_system(TRAIN_ARGS " --lora 2 --lora-mlp --out %s/lb.safetensors --stop-after 5", bin, dir, dir, dir, dir),
        0);
    assert_int_equal(tu_system("test -e %s/lb.safetensors.ckpt -a -e %s/lb.safetensors.ckpt.base", dir, dir), 0);
    /* other LoRA options than the checkpoint's: refused, naming the checkpoint */
    assert_int_equal(tu_system(TRAIN_ARGS " --lora 3 --out %s/lb.safetensors --resume 2> %s/lora_err.txt", bin, dir, dir,
                               dir, dir, dir),
                     1);
    assert_int_equal(tu_system("grep -q 'lb.safetensors.ckpt' %s/lora_err.txt", dir), 0);
    assert_int_equal(
        tu_system(TRAIN_ARGS " --lora 2 --lora-mlp --out %s/lb.safetensors --resume", bin, dir, dir, dir, dir), 0);
    assert_int_equal(tu_system("cmp -s %s/la.safetensors %s/lb.safetensors", dir, dir), 0);
    assert_int_equal(tu_system("cmp -s %s/a.safetensors %s/la.safetensors", dir, dir), 1); /* LoRA trained otherwise */
}

static void test_bad_input(void **state) {
    (void)state;
    const char *bin = tu_director_bin();
    assert_int_equal(tu_system("%s train llm --rvq x --quiet 2>/dev/null", bin), 2); /* no --data */
    assert_int_equal(tu_system("%s train llm --data %s/data --steps 0 2>/dev/null", bin, dir), 2);
    /* a dataset folder that does not exist: exit 1, the message names it, no model */
    assert_int_equal(tu_system("%s train llm --data %s/nowhere --rvq %s/rvq.safetensors --tokenizer %s/tok.json "
                               "--out %s/c.safetensors 2> %s/err.txt",
                               bin, dir, dir, dir, dir, dir),
                     1);
    assert_int_equal(tu_system("grep -q nowhere %s/err.txt", dir), 0);
    assert_int_equal(tu_system("test -e %s/c.safetensors", dir), 1);
    /* a tokenizer that does not match the model's text vocabulary */
    assert_int_equal(tu_system("%s train tokenizer --data %s/data --vocab 280 --out %s/tok2.json --quiet", bin, dir,
                               dir),
                     0);
    assert_int_equal(tu_system("%s llm generate \"A man walks.\" --model %s/a.safetensors --tokenizer %s/tok2.json "
                               "2> %s/err2.txt",
                               bin, dir, dir, dir),
                     1);
    assert_int_equal(tu_system("grep -q 'text tokens' %s/err2.txt", dir), 0);
    assert_int_equal(tu_system("%s llm generate \"   \" --model %s/a.safetensors --tokenizer %s/tok.json 2>/dev/null",
                               bin, dir, dir),
                     1);
    assert_int_equal(tu_system("%s llm generate 2>/dev/null", bin), 2);
    assert_int_equal(tu_system("%s llm generate x --samples 0 2>/dev/null", bin), 2);
}

int main(void) {
    dr_set_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_generate_resume),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
