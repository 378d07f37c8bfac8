/* End-to-end tests of the generation pipeline (include/director.h) and of `director
 * generate` on tiny random-weight models: every output file is checked against its format,
 * and the robustness cases of the pipeline issue (bad prompts, missing or corrupt models,
 * unwritable or full disks) give clear errors and leave no half-written folder. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "director.h"
#include "io/png.h"
#include "pipeline/tiny_models.h"
#include "pose/seqio.h"
#include "testutil.h"

static char models_dir[1024], work_dir[1024];

static int setup(void **state) {
    (void)state;
    tu_tmpdir(work_dir, sizeof work_dir, "pipeline");
    snprintf(models_dir, sizeof models_dir, "%s/models", work_dir);
    dr_err err;
    if (dr_make_tiny_models(models_dir, 7, &err) != DR_OK) {
        fprintf(stderr, "tiny models: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static director_pipeline *load(void) {
    director_pipeline *p = NULL;
    char err[1024];
    director_status st = director_pipeline_load(&p, models_dir, err, sizeof err);
    if (st != DIRECTOR_OK) fail_msg("load: %s", err);
    return p;
}

static int count_entries(const char *dir, const char *suffix) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && strlen(e->d_name) > strlen(suffix) &&
            !strcmp(e->d_name + strlen(e->d_name) - strlen(suffix), suffix))
            n++;
    closedir(d);
    return n;
}

static cJSON *read_json(const char *path) {
    char *text;
    size_t size;
    dr_err err;
    if (dr_read_file(path, 64u << 20, &text, &size, &err)) fail_msg("%s", err.msg);
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j) fail_msg("%s: not JSON", path);
    return j;
}

static void test_generate_in_memory(void **state) {
    (void)state;
    director_pipeline *p = load();
    director_options o;
    director_options_default(&o);
    o.quiet = 1;
    o.samples = 2;
    o.seed = 3;
    director_result *r = NULL;
    const char *prompt = "The video shows a young woman running through a grassy field. She wears a yellow tank top.";
    assert_int_equal(director_generate(p, prompt, &o, &r), DIRECTOR_OK);
    assert_string_equal(r->subject_prompt, "The video shows a young woman running through a grassy field.");
    assert_int_equal(r->num_samples, 2);
    for (int s = 0; s < 2; s++) {
        director_sample *smp = &r->samples[s];
        assert_int_equal(smp->num_tokens, 120);
        for (int i = 0; i < 120; i++) assert_true(smp->tokens[i] >= 0 && smp->tokens[i] < 512);
        assert_int_equal(smp->num_keyframes, 20);
        assert_int_equal(smp->num_frames, 200);
        for (long i = 0; i < 200L * 18; i++) {
            float c = smp->poses[3 * i + 2];
            assert_true(c >= 0.0f && c <= 1.0f);
            if (c == 0.0f) assert_true(smp->poses[3 * i] == 0.0f && smp->poses[3 * i + 1] == 0.0f);
        }
    }
    /* Same seed, same output; another pipeline in the same process gives the same too. */
    director_pipeline *p2 = load();
    director_result *r2 = NULL;
    assert_int_equal(director_generate(p2, prompt, &o, &r2), DIRECTOR_OK);
    assert_memory_equal(r->samples[1].tokens, r2->samples[1].tokens, 120 * sizeof(int));
    assert_memory_equal(r->samples[1].poses, r2->samples[1].poses, 200 * 18 * 3 * sizeof(float));
    /* Rendering into caller buffers. */
    uint8_t *rgb = malloc(512 * 320 * 3);
    assert_int_equal(director_render_skeleton(p, r, 0, 10, rgb), DIRECTOR_OK);
    assert_int_equal(director_render_preview(p, r, 1, 199, rgb), DIRECTOR_OK);
    assert_int_not_equal(director_render_preview(p, r, 2, 0, rgb), DIRECTOR_OK);
    assert_int_not_equal(director_render_skeleton(p, r, 0, 200, rgb), DIRECTOR_OK);
    free(rgb);
    director_result_free(r);
    director_result_free(r2);
    director_pipeline_free(p2);
    director_pipeline_free(p);
}

static void test_write_outputs_formats(void **state) {
    (void)state;
    director_pipeline *p = load();
    director_options o;
    director_options_default(&o);
    o.quiet = 1;
    o.frames = 100; /* 100 frames at 15 fps: the whole clip at half the rate */
    o.fps = 15;
    o.width = 256;
    o.height = 160;
    director_result *r = NULL;
    assert_int_equal(director_generate(p, "A man is walking in a park.", &o, &r), DIRECTOR_OK);
    char out[1200], path[1400];
    snprintf(out, sizeof out, "%s/not/yet/there/out1", work_dir); /* parents are created */
    assert_int_equal(director_write_outputs(p, r, &o, out), DIRECTOR_OK);

    /* plan.json: prompt parts, tokens, key frames, model hashes, settings. */
    snprintf(path, sizeof path, "%s/plan.json", out);
    cJSON *plan = read_json(path);
    assert_string_equal(cJSON_GetObjectItem(plan, "format")->valuestring, "director-plan");
    cJSON *models = cJSON_GetObjectItem(plan, "models");
    assert_int_equal(cJSON_GetArraySize(models), 5);
    assert_int_equal(strlen(cJSON_GetObjectItem(cJSON_GetArrayItem(models, 0), "sha256")->valuestring), 64);
    cJSON *smp = cJSON_GetArrayItem(cJSON_GetObjectItem(plan, "samples"), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(smp, "tokens")), 20);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(cJSON_GetObjectItem(smp, "tokens"), 0)), 6);
    cJSON_Delete(plan);

    /* poses.json is a director pose sequence that reads back. */
    dr_pose_seq seq;
    dr_err err;
    snprintf(path, sizeof path, "%s/poses.json", out);
    assert_int_equal(dr_seq_read_json(path, &seq, &err), DR_OK);
    assert_int_equal(seq.num_frames, 100);
    assert_int_equal(seq.width, 256);
    assert_true(seq.fps == 15.0f);
    assert_non_null(seq.prompt);
    dr_pose_seq_free(&seq);

    /* openpose/: one file per frame, read back as a folder. */
    snprintf(path, sizeof path, "%s/openpose", out);
    assert_int_equal(count_entries(path, "_keypoints.json"), 100);
    dr_pose_read_opts ro;
    dr_pose_read_opts_init(&ro);
    dr_pose_format fmt;
    assert_int_equal(dr_pose_read(path, &ro, &seq, &fmt, &err), DR_OK);
    assert_int_equal(seq.num_frames, 100);
    dr_pose_seq_free(&seq);

    /* pose/ PNG frames of the output size. */
    snprintf(path, sizeof path, "%s/pose", out);
    assert_int_equal(count_entries(path, ".png"), 100);
    dr_image img;
    snprintf(path, sizeof path, "%s/pose/frame_000042.png", out);
    assert_int_equal(dr_png_read(path, &img, &err), DR_OK);
    assert_int_equal(img.width, 256);
    assert_int_equal(img.height, 160);
    dr_image_free(&img);
    snprintf(path, sizeof path, "%s/sheet.png", out);
    assert_int_equal(dr_png_read(path, &img, &err), DR_OK);
    dr_image_free(&img);

    /* The videos are H.264 yuv420p with every frame (ffprobe from the test packages). */
    const char *videos[] = {"pose.mp4", "preview.mp4"};
    for (int v = 0; v < 2; v++) {
        snprintf(path, sizeof path, "%s/%s", out, videos[v]);
        assert_int_equal(tu_system("ffprobe -v error -select_streams v:0 -count_frames -show_entries "
                                   "stream=codec_name,pix_fmt,width,height,nb_read_frames -of csv=p=0 '%s' "
                                   "| grep -qx 'h264,256,160,yuv420p,100'",
                                   path),
                         0);
    }
    director_result_free(r);
    director_pipeline_free(p);
}

static void test_bad_prompts(void **state) {
    (void)state;
    director_pipeline *p = load();
    director_options o;
    director_options_default(&o);
    o.quiet = 1;
    director_result *r = NULL;
    assert_int_equal(director_generate(p, "", &o, &r), DIRECTOR_EINVAL);
    assert_null(r);
    assert_true(strlen(director_last_error(p)) > 0);
    assert_int_equal(director_generate(p, "   \n\t  ", &o, &r), DIRECTOR_EINVAL);
    assert_int_equal(director_generate(p, "A man \xff\xfe walks.", &o, &r), DIRECTOR_EFORMAT);
    char *huge = malloc(100 * 1024 + 1);
    for (int i = 0; i < 100 * 1024; i++) huge[i] = "The man walks. "[i % 15];
    huge[100 * 1024] = '\0';
    assert_int_equal(director_generate(p, huge, &o, &r), DIRECTOR_ERANGE);
    free(huge);
    /* A first sentence longer than the LLM's context is refused with the reason. */
    char *long_sentence = malloc(20000);
    strcpy(long_sentence, "A man");
    for (int i = 0; i < 1500; i++) strcat(long_sentence, " walks");
    strcat(long_sentence, ".");
    assert_int_equal(director_generate(p, long_sentence, &o, &r), DIRECTOR_ERANGE);
    assert_non_null(strstr(director_last_error(p), "first sentence"));
    free(long_sentence);
    /* Words never seen in training are listed, and generation still runs. */
    assert_int_equal(director_generate(p, "A zorblax is flimflamming in a park.", &o, &r), DIRECTOR_OK);
    assert_true(r->num_unknown_words >= 2);
    director_result_free(r);
    /* Options out of range. */
    o.frames = 400;
    assert_int_equal(director_generate(p, "A man walks.", &o, &r), DIRECTOR_EINVAL);
    assert_non_null(strstr(director_last_error(p), "frames"));
    director_pipeline_free(p);
}

static void copy_models(const char *dst) {
    assert_int_equal(tu_system("rm -rf '%s' && cp -r '%s' '%s'", dst, models_dir, dst), 0);
}

static void test_missing_and_corrupt_models(void **state) {
    (void)state;
    char broken[1200], err[1024];
    snprintf(broken, sizeof broken, "%s/broken-models", work_dir);
    const char *files[] = {"tokenizer.json", "director.safetensors", "rvq.safetensors", "text_encoder.safetensors",
                           "interp.safetensors"};
    for (int i = 0; i < 5; i++) {
        director_pipeline *p = NULL;
        copy_models(broken);
        assert_int_equal(tu_system("rm '%s/%s'", broken, files[i]), 0);
        assert_int_not_equal(director_pipeline_load(&p, broken, err, sizeof err), DIRECTOR_OK);
        assert_null(p);
        assert_non_null(strstr(err, files[i]));
        /* Truncated file. */
        copy_models(broken);
        assert_int_equal(tu_system("truncate -s 100 '%s/%s'", broken, files[i]), 0);
        assert_int_not_equal(director_pipeline_load(&p, broken, err, sizeof err), DIRECTOR_OK);
        assert_non_null(strstr(err, files[i]));
        /* Garbage bytes. */
        copy_models(broken);
        assert_int_equal(tu_system("head -c 5000 /dev/urandom > '%s/%s'", broken, files[i]), 0);
        assert_int_not_equal(director_pipeline_load(&p, broken, err, sizeof err), DIRECTOR_OK);
        assert_non_null(strstr(err, files[i]));
    }
}

static void test_cli_generate_and_failures(void **state) {
    (void)state;
    const char *bin = tu_director_bin();
    char out[1200], path[1400];
    snprintf(out, sizeof out, "%s/cli-out", work_dir);
    /* A normal run prints a JSON summary. */
    assert_int_equal(tu_system("'%s' generate 'The video shows a man jogging in a park.' --models '%s' --out '%s' "
                               "--renderer skeleton --quiet --json > '%s.json'",
                               bin, models_dir, out, out),
                     0);
    snprintf(path, sizeof path, "%s.json", out);
    cJSON *j = read_json(path);
    assert_string_equal(cJSON_GetObjectItem(j, "subject")->valuestring, "The video shows a man jogging in a park.");
    cJSON_Delete(j);
    snprintf(path, sizeof path, "%s/pose.mp4", out);
    assert_true(dr_file_exists(path));
    snprintf(path, sizeof path, "%s/preview.mp4", out);
    assert_false(dr_file_exists(path)); /* --renderer skeleton */

    /* Failures: non-zero exit, a message naming the problem, no output folder. */
    char bad_out[1200];
    snprintf(bad_out, sizeof bad_out, "%s/never", work_dir);
    struct {
        const char *args, *expect;
    } cases[] = {
        {"''", "empty"},
        {"'   '", "white space"},
        {"\"$(printf 'A man \\377 walks.')\"", "UTF-8"},
        {"'A man walks.' --models /nonexistent", "/nonexistent"},
        {"'A man walks.' --samples 0", "--samples"},
        {"'A man walks.' --size 13x7", "--size"},
        {"'A man walks.' --renderer fancy", "--renderer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char log[1400];
        snprintf(log, sizeof log, "%s/err.log", work_dir);
        int st = tu_system("'%s' generate %s --models '%s' --out '%s' --quiet 2> '%s'", bin, cases[i].args,
                           strstr(cases[i].args, "--models") ? "/nonexistent" : models_dir, bad_out, log);
        assert_int_not_equal(st, 0);
        assert_true(st < 128); /* an exit status, not a signal */
        assert_int_equal(tu_system("grep -q -- '%s' '%s'", cases[i].expect, log), 0);
        assert_false(dr_file_exists(bad_out));
    }
    /* Unwritable output location. */
    assert_int_not_equal(tu_system("'%s' generate 'A man walks.' --models '%s' --out /proc/director-out --quiet 2>/dev/null",
                                   bin, models_dir),
                         0);
    /* A prompts file with one prompt per line: one folder each. */
    snprintf(path, sizeof path, "%s/prompts.txt", work_dir);
    FILE *f = fopen(path, "w");
    fputs("# two prompts\nThe video shows a girl dancing.\n\nA boy is cycling in a park.\n", f);
    fclose(f);
    snprintf(out, sizeof out, "%s/batch", work_dir);
    assert_int_equal(tu_system("'%s' generate --prompts '%s' --models '%s' --out '%s' --renderer none --quiet", bin,
                               path, models_dir, out),
                     0);
    snprintf(path, sizeof path, "%s/prompt_002/poses.json", out);
    assert_true(dr_file_exists(path));
}

/* "Disk full": a file-size limit makes every large write fail with EFBIG (SIGXFSZ ignored,
 * as a full disk gives ENOSPC without a signal). The run must say so, exit non-zero and
 * leave neither the output folder nor a temporary folder behind. The CLI runs in a child
 * shell: fork() without exec() would inherit a broken OpenMP pool. */
static void test_disk_full_leaves_nothing(void **state) {
    (void)state;
    char out[1200], parent[1200], log[1300];
    snprintf(parent, sizeof parent, "%s/full", work_dir);
    assert_int_equal(dr_mkdir_p(parent, NULL), DR_OK);
    snprintf(out, sizeof out, "%s/out", parent);
    snprintf(log, sizeof log, "%s/full.log", work_dir);
    int st = tu_system("sh -c \"trap '' XFSZ; ulimit -f 40; exec '%s' generate 'A man walks.' --models '%s' --out '%s' "
                       "--quiet\" 2> '%s'",
                       tu_director_bin(), models_dir, out, log);
    assert_int_equal(st, 1);
    assert_int_equal(tu_system("grep -q 'write' '%s'", log), 0);
    assert_false(dr_file_exists(out));
    assert_int_equal(count_entries(parent, ""), 0); /* no temporary folder left either */
}

/* The example program of examples/ builds and runs against a models folder. */
static void test_example_program(void **state) {
    (void)state;
    assert_int_equal(tu_system("cd '%s' && '%s/example_generate' 'A man is walking in a park.' '%s' | grep -q 'right wrist'",
                               work_dir, DIRECTOR_BINARY_DIR, models_dir),
                     0);
    assert_int_equal(tu_system("head -c 2 '%s/last_frame.ppm' | grep -q P6", work_dir), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_in_memory),
        cmocka_unit_test(test_write_outputs_formats),
        cmocka_unit_test(test_bad_prompts),
        cmocka_unit_test(test_missing_and_corrupt_models),
        cmocka_unit_test(test_cli_generate_and_failures),
        cmocka_unit_test(test_disk_full_leaves_nothing),
        cmocka_unit_test(test_example_program),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
