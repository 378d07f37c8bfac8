/* Tests of pose-sequence files: director JSON and OpenPose JSON round trips (bit-exact),
 * hostile input (malformed JSON, wrong counts, NaN / huge values, empty folders, size
 * caps) and format detection by content. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "pose/seqio.h"
#include "testutil.h"

/* A random sequence with awkward floats (not representable in few digits) and missing keypoints. */
static void random_seq(dr_pose_seq *seq, int frames, uint64_t seed) {
    dr_rng rng;
    dr_rng_seed(&rng, seed);
    assert_int_equal(dr_pose_seq_alloc(seq, frames, 29.97f, 640, 360), DR_OK);
    for (int f = 0; f < frames; f++)
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
            dr_keypoint *k = &seq->frames[f].kp[j];
            if (dr_rng_uniform(&rng) < 0.15f) continue; /* missing: (0, 0, 0) */
            k->x = dr_rng_uniform(&rng) * 700.0f - 30.0f;
            k->y = dr_rng_uniform(&rng) * 400.0f - 20.0f;
            k->c = 0.01f + 0.99f * dr_rng_uniform(&rng);
        }
}

static void assert_same_frames(const dr_pose_seq *a, const dr_pose_seq *b) {
    assert_int_equal(a->num_frames, b->num_frames);
    /* bit-exact */
    assert_memory_equal(a->frames, b->frames, (size_t)a->num_frames * sizeof(dr_pose));
}

static void write_text(const char *path, const char *text) {
    dr_err err = {0};
    assert_int_equal(dr_write_file_atomic(path, text, strlen(text), &err), DR_OK);
}

static void test_sequence_round_trip(void **state) {
    (void)state;
    char dir[512], path[600];
    tu_tmpdir(dir, sizeof dir, "seqio");
    snprintf(path, sizeof path, "%s/a.json", dir);
    dr_pose_seq seq, back;
    random_seq(&seq, 37, 1);
    assert_int_equal(dr_pose_seq_set_prompt(&seq, "a \"dancer\" spins\\twice\n\tand bows \xc3\xa9"), DR_OK);
    seq.keyframes = malloc(3 * sizeof(int));
    seq.keyframes[0] = 0, seq.keyframes[1] = 10, seq.keyframes[2] = 36;
    seq.num_keyframes = 3;
    dr_err err = {0};
    assert_int_equal(dr_seq_write_json(path, &seq, &err), DR_OK);
    assert_int_equal(dr_seq_read_json(path, &back, &err), DR_OK);
    assert_same_frames(&seq, &back);
    assert_true(back.fps == seq.fps);
    assert_int_equal(back.width, 640);
    assert_int_equal(back.height, 360);
    assert_string_equal(back.prompt, seq.prompt);
    assert_int_equal(back.num_keyframes, 3);
    assert_int_equal(back.keyframes[2], 36);
    dr_pose_format fmt;
    assert_int_equal(dr_pose_detect(path, &fmt, &err), DR_OK);
    assert_int_equal(fmt, DR_POSE_FORMAT_SEQUENCE);
    dr_pose_seq_free(&back);
    /* The exact format of the issue, written by hand, reads. */
    snprintf(path, sizeof path, "%s/hand.json", dir);
    char text[4096] = "{\"format\": \"director-pose-sequence\", \"version\": 1, \"fps\": 30, \"width\": 512, "
                      "\"height\": 320, \"skeleton\": \"coco18\", \"frames\": [[";
    for (int j = 0; j < 18; j++) strcat(text, j ? ", [1.5, 2, 0.5]" : "[0, 0, 0]");
    strcat(text, "]]}");
    write_text(path, text);
    assert_int_equal(dr_seq_read_json(path, &back, &err), DR_OK);
    assert_int_equal(back.num_frames, 1);
    assert_null(back.prompt);
    assert_true(back.frames[0].kp[3].x == 1.5f && back.frames[0].kp[3].c == 0.5f);
    dr_pose_seq_free(&back);
    dr_pose_seq_free(&seq);
}

static void test_openpose_round_trip(void **state) {
    (void)state;
    char dir[512], op[600], path[700];
    tu_tmpdir(dir, sizeof dir, "openpose");
    snprintf(op, sizeof op, "%s/op", dir);
    dr_pose_seq seq, back;
    random_seq(&seq, 13, 2);
    memset(&seq.frames[4], 0, sizeof(dr_pose)); /* nobody in frame 4: "people": [] */
    seq.fps = 30;
    dr_err err = {0};
    assert_int_equal(dr_openpose_write_dir(op, &seq, "clip7", &err), DR_OK);
    snprintf(path, sizeof path, "%s/clip7_000000000012_keypoints.json", op);
    assert_true(dr_file_exists(path));
    char *text;
    size_t len;
    assert_int_equal(dr_read_file(path, 1 << 20, &text, &len, &err), DR_OK);
    assert_non_null(strstr(text, "\"version\":1.3"));
    assert_non_null(strstr(text, "\"face_keypoints_2d\":[]"));
    free(text);
    snprintf(path, sizeof path, "%s/clip7_000000000004_keypoints.json", op);
    assert_int_equal(dr_read_file(path, 1 << 20, &text, &len, &err), DR_OK);
    assert_non_null(strstr(text, "\"people\":[]"));
    free(text);
    dr_pose_format fmt;
    assert_int_equal(dr_pose_read(op, NULL, &back, &fmt, &err), DR_OK);
    assert_int_equal(fmt, DR_POSE_FORMAT_OPENPOSE_DIR);
    assert_same_frames(&seq, &back);
    assert_int_equal(back.width, 640); /* from canvas_width / canvas_height */
    assert_int_equal(back.height, 360);
    dr_pose_seq_free(&back);
    /* A single frame file is a one-frame sequence. */
    assert_int_equal(dr_pose_read(path, NULL, &back, &fmt, &err), DR_OK);
    assert_int_equal(fmt, DR_POSE_FORMAT_OPENPOSE_FILE);
    assert_int_equal(back.num_frames, 1);
    assert_int_equal(dr_pose_count_present(&back.frames[0]), 0);
    dr_pose_seq_free(&back);
    dr_pose_seq_free(&seq);
}

/* Frame order is numeric (2 < 10), not by name; the largest person wins; BODY_25 maps. */
static void test_openpose_conventions(void **state) {
    (void)state;
    char dir[512], path[700];
    tu_tmpdir(dir, sizeof dir, "opconv");
    char small[2048] = "", big[2048] = "", body25[2048] = "";
    for (int j = 0; j < 18; j++) {
        char buf[96];
        snprintf(buf, sizeof buf, "%s%d,%d,0.8", j ? "," : "", 100 + j, 100 + j);
        strcat(small, buf);
        snprintf(buf, sizeof buf, "%s%d,%d,0.9", j ? "," : "", 10 + 10 * j, 20 + 10 * j);
        strcat(big, buf);
    }
    for (int j = 0; j < 25; j++) {
        char buf[96];
        snprintf(buf, sizeof buf, "%s%d,%d,0.7", j ? "," : "", j, 1000 - j);
        strcat(body25, buf);
    }
    char text[8192];
    snprintf(text, sizeof text, "{\"version\":1.3,\"people\":[{\"pose_keypoints_2d\":[%s]},{\"pose_keypoints_2d\":[%s]}]}",
             small, big);
    snprintf(path, sizeof path, "%s/v_10_keypoints.json", dir);
    write_text(path, text);
    snprintf(text, sizeof text, "{\"version\":1.3,\"people\":[{\"pose_keypoints_2d\":[%s]}]}", body25);
    snprintf(path, sizeof path, "%s/v_2_keypoints.json", dir);
    write_text(path, text);
    snprintf(path, sizeof path, "%s/notes.txt", dir); /* other files are ignored */
    write_text(path, "x");
    dr_pose_seq seq;
    dr_err err = {0};
    dr_pose_read_opts opts;
    dr_pose_read_opts_init(&opts);
    opts.fps = 25;
    assert_int_equal(dr_pose_read(dir, &opts, &seq, NULL, &err), DR_OK);
    assert_int_equal(seq.num_frames, 2);
    assert_true(seq.fps == 25.0f);
    assert_int_equal(seq.width, DR_CANVAS_WIDTH); /* no canvas in the files: the default */
    /* frame 0 = file 2 = BODY_25: COCO right hip (8) is BODY_25 9 */
    assert_true(seq.frames[0].kp[8].x == 9.0f && seq.frames[0].kp[8].y == 991.0f);
    assert_true(seq.frames[0].kp[17].x == 18.0f);
    /* frame 1 = file 10: the bigger person */
    assert_true(seq.frames[1].kp[0].x == 10.0f && seq.frames[1].kp[0].c == 0.9f);
    dr_pose_seq_free(&seq);
}

typedef struct bad_case {
    const char *text;
    int code;
    const char *in_msg;
} bad_case;

static void test_hostile_sequences(void **state) {
    (void)state;
    char dir[512], path[600];
    tu_tmpdir(dir, sizeof dir, "hostile");
    snprintf(path, sizeof path, "%s/bad.json", dir);
    char frame18[1024] = "[", frame17[1024] = "[", nanframe[1024] = "[", hugeframe[1024] = "[";
    for (int j = 0; j < 18; j++) {
        strcat(frame18, j ? ",[1,2,1]" : "[1,2,1]");
        if (j < 17) strcat(frame17, j ? ",[1,2,1]" : "[1,2,1]");
        strcat(nanframe, j == 5 ? ",[1e999,2,1]" : j ? ",[1,2,1]" : "[1,2,1]");
        strcat(hugeframe, j == 5 ? ",[1e7,2,1]" : j ? ",[1,2,1]" : "[1,2,1]");
    }
    strcat(frame18, "]"), strcat(frame17, "]"), strcat(nanframe, "]"), strcat(hugeframe, "]");
#define HEAD "{\"format\":\"director-pose-sequence\",\"version\":1,\"fps\":30,\"width\":512,\"height\":320,"
    char cases_text[12][2048];
    snprintf(cases_text[0], 2048, HEAD "\"frames\":[%s", frame18);                     /* truncated */
    snprintf(cases_text[1], 2048, HEAD "\"frames\":[%s]}", frame17);                   /* 17 keypoints */
    snprintf(cases_text[2], 2048, HEAD "\"frames\":[%s]}", nanframe);                  /* inf */
    snprintf(cases_text[3], 2048, HEAD "\"frames\":[%s]}", hugeframe);                 /* huge */
    snprintf(cases_text[4], 2048, HEAD "\"frames\":[]}");                              /* empty */
    snprintf(cases_text[5], 2048, HEAD "\"frames\":[{\"x\":1}]}");                     /* non-array frame */
    snprintf(cases_text[6], 2048, HEAD "\"frames\":{}}");                              /* frames not an array */
    snprintf(cases_text[7], 2048, "{\"format\":\"director-pose-sequence\",\"version\":2,\"frames\":[%s]}", frame18);
    snprintf(cases_text[8], 2048, "{\"format\":\"director-pose-sequence\",\"version\":1,\"fps\":-1,\"width\":512,"
                                  "\"height\":320,\"frames\":[%s]}", frame18);
    snprintf(cases_text[9], 2048, HEAD "\"keyframes\":[5],\"frames\":[%s]}", frame18); /* key frame out of range */
    snprintf(cases_text[10], 2048, HEAD "\"frames\":[[[1,2,1],[1,2]%s]]}", /* a keypoint of 2 numbers */
             ",[1,2,1],[1,2,1],[1,2,1],[1,2,1],[1,2,1],[1,2,1],[1,2,1],[1,2,1],[1,2,1],[1,2,1],[1,2,1],[1,2,1],"
             "[1,2,1],[1,2,1],[1,2,1],[1,2,1]");
    snprintf(cases_text[11], 2048, HEAD "\"frames\":[%s]}", "[[1,2,1.5],[0,0,0],[0,0,0],[0,0,0],[0,0,0],[0,0,0],"
                                   "[0,0,0],[0,0,0],[0,0,0],[0,0,0],[0,0,0],[0,0,0],[0,0,0],[0,0,0],[0,0,0],[0,0,0],"
                                   "[0,0,0],[0,0,0]]");                                 /* confidence > 1 */
    const bad_case cases[] = {
        {cases_text[0], DR_EFORMAT, "malformed JSON"}, {cases_text[1], DR_EFORMAT, "17 keypoints"},
        {cases_text[2], DR_ERANGE, "non-finite"},      {cases_text[3], DR_ERANGE, "beyond"},
        {cases_text[4], DR_EFORMAT, "0 frames"},       {cases_text[5], DR_EFORMAT, "not an array"},
        {cases_text[6], DR_EFORMAT, "frames"},         {cases_text[7], DR_EUNSUPPORTED, "version 2"},
        {cases_text[8], DR_ERANGE, "fps"},             {cases_text[9], DR_ERANGE, "key frame"},
        {cases_text[10], DR_EFORMAT, "keypoint 1"},    {cases_text[11], DR_ERANGE, "confidence"},
        {"", DR_EFORMAT, "malformed"},                 {"[1,2,3]", DR_EFORMAT, "not a director"},
        {"{\"format\":\"director-pose-sequence\"", DR_EFORMAT, "malformed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dr_pose_seq seq;
        dr_err err = {0};
        write_text(path, cases[i].text);
        int rc = dr_seq_read_json(path, &seq, &err);
        if (rc != cases[i].code || !strstr(err.msg, cases[i].in_msg) || !strstr(err.msg, "bad.json"))
            fail_msg("case %zu: rc %d (want %d), message '%s' (want '%s')", i, rc, cases[i].code, err.msg,
                     cases[i].in_msg);
        assert_null(seq.frames);
    }
    /* Writing refuses what reading would refuse. */
    dr_pose_seq seq;
    dr_err err = {0};
    assert_int_equal(dr_pose_seq_alloc(&seq, 2, 30, 512, 320), DR_OK);
    seq.frames[1].kp[3] = (dr_keypoint){NAN, 1, 1};
    snprintf(path, sizeof path, "%s/out.json", dir);
    assert_int_equal(dr_seq_write_json(path, &seq, &err), DR_ERANGE);
    assert_false(dr_file_exists(path));
    dr_pose_seq_free(&seq);
}

static void test_hostile_openpose_and_detection(void **state) {
    (void)state;
    char dir[512], sub[600], path[700];
    tu_tmpdir(dir, sizeof dir, "hostile-op");
    dr_pose_seq seq;
    dr_err err = {0};
    dr_pose_format fmt;
    /* Empty folder. */
    snprintf(sub, sizeof sub, "%s/empty", dir);
    mkdir(sub, 0777);
    assert_int_not_equal(dr_pose_read(sub, NULL, &seq, NULL, &err), DR_OK);
    assert_non_null(strstr(err.msg, "no OpenPose"));
    /* Wrong keypoint count, non-numbers, NaN-like, duplicate frame numbers, no number. */
    const char *frames[] = {
        "{\"people\":[{\"pose_keypoints_2d\":[1,2,3]}]}",
        "{\"people\":[{\"pose_keypoints_2d\":\"x\"}]}",
        "{\"people\":[{}]}",
        "{\"people\":{}}",
        "{\"people\":[",
    };
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
        snprintf(sub, sizeof sub, "%s/bad%zu", dir, i);
        mkdir(sub, 0777);
        snprintf(path, sizeof path, "%s/x_000000000000_keypoints.json", sub);
        write_text(path, frames[i]);
        int rc = dr_pose_read(sub, NULL, &seq, NULL, &err);
        if (rc == DR_OK) fail_msg("bad OpenPose frame %zu accepted", i);
        assert_null(seq.frames);
    }
    snprintf(sub, sizeof sub, "%s/dup", dir);
    mkdir(sub, 0777);
    snprintf(path, sizeof path, "%s/a_1_keypoints.json", sub);
    write_text(path, "{\"people\":[]}");
    snprintf(path, sizeof path, "%s/b_001_keypoints.json", sub);
    write_text(path, "{\"people\":[]}");
    assert_int_not_equal(dr_pose_read(sub, NULL, &seq, NULL, &err), DR_OK);
    assert_non_null(strstr(err.msg, "same frame number"));
    /* Files over the caps are refused before they are read (sparse files: no disk used). */
    snprintf(sub, sizeof sub, "%s/huge", dir);
    mkdir(sub, 0777);
    snprintf(path, sizeof path, "%s/x_000000000000_keypoints.json", sub);
    write_text(path, "{");
    assert_int_equal(truncate(path, (off_t)DR_OPENPOSE_MAX_FILE_BYTES + 1), 0);
    assert_int_not_equal(dr_pose_read(sub, NULL, &seq, NULL, &err), DR_OK);
    assert_non_null(strstr(err.msg, "limit"));
    snprintf(path, sizeof path, "%s/huge.json", dir);
    write_text(path, "{");
    assert_int_equal(truncate(path, (off_t)DR_SEQ_MAX_FILE_BYTES + 1), 0);
    assert_int_equal(dr_seq_read_json(path, &seq, &err), DR_ERANGE);
    assert_non_null(strstr(err.msg, "limit"));
    /* Detection by content: a BVH named .json, a sequence named .txt, garbage. */
    snprintf(path, sizeof path, "%s/motion.json", dir);
    write_text(path, "HIERARCHY\nROOT Hips\n{\n");
    assert_int_equal(dr_pose_detect(path, &fmt, &err), DR_OK);
    assert_int_equal(fmt, DR_POSE_FORMAT_BVH);
    snprintf(path, sizeof path, "%s/seq.txt", dir);
    write_text(path, " {\"format\": \"director-pose-sequence\"}");
    assert_int_equal(dr_pose_detect(path, &fmt, &err), DR_OK);
    assert_int_equal(fmt, DR_POSE_FORMAT_SEQUENCE);
    snprintf(path, sizeof path, "%s/other.json", dir);
    write_text(path, "{\"hello\": 1}");
    assert_int_equal(dr_pose_detect(path, &fmt, &err), DR_EFORMAT);
    snprintf(path, sizeof path, "%s/garbage.bin", dir);
    write_text(path, "\x01\x02garbage");
    assert_int_equal(dr_pose_detect(path, &fmt, &err), DR_EFORMAT);
    assert_non_null(strstr(err.msg, "garbage.bin"));
    assert_int_not_equal(dr_pose_detect("/no/such/file", &fmt, &err), DR_OK);
}

/* A packed dataset split (pose/dataset.h layout), written by hand, reads clip by clip. */
static void test_dataset_clip(void **state) {
    (void)state;
    char dir[512], path[700];
    tu_tmpdir(dir, sizeof dir, "dataset");
    unsigned char head[64] = "DRPOSES1";
    uint32_t u[7] = {1, 2, 3, 18, 0, 512, 320};
    float fps = 30;
    memcpy(&u[4], &fps, 4);
    memcpy(head + 8, u, sizeof u);
    size_t body = 2 * 3 * 18 * 3;
    float *poses = calloc(body, sizeof(float));
    poses[(1 * 3 + 2) * 54 + 0] = 100, poses[(1 * 3 + 2) * 54 + 1] = 50, poses[(1 * 3 + 2) * 54 + 2] = 1;
    char *file = malloc(64 + body * 4);
    memcpy(file, head, 64);
    memcpy(file + 64, poses, body * 4);
    snprintf(path, sizeof path, "%s/train.poses", dir);
    dr_err err = {0};
    assert_int_equal(dr_write_file_atomic(path, file, 64 + body * 4, &err), DR_OK);
    snprintf(path, sizeof path, "%s/train.jsonl", dir);
    write_text(path, "{\"prompt\": \"zero\"}\n{\"prompt\": \"one\"}\n");
    snprintf(path, sizeof path, "%s/meta.json", dir);
    write_text(path, "{\"format\": \"director-dataset\", \"version\": 1}");
    dr_pose_read_opts opts;
    dr_pose_read_opts_init(&opts);
    opts.clip = 1;
    dr_pose_seq seq;
    dr_pose_format fmt;
    assert_int_equal(dr_pose_read(dir, &opts, &seq, &fmt, &err), DR_OK);
    assert_int_equal(fmt, DR_POSE_FORMAT_DATASET);
    assert_int_equal(seq.num_frames, 3);
    assert_true(seq.frames[2].kp[0].x == 100.0f);
    assert_string_equal(seq.prompt, "one");
    dr_pose_seq_free(&seq);
    opts.clip = 2;
    assert_int_equal(dr_pose_read(dir, &opts, &seq, &fmt, &err), DR_ERANGE);
    /* Truncated file. */
    snprintf(path, sizeof path, "%s/train.poses", dir);
    assert_int_equal(dr_write_file_atomic(path, file, 64 + body * 2, &err), DR_OK);
    opts.clip = 0;
    assert_int_equal(dr_pose_read(dir, &opts, &seq, &fmt, &err), DR_EFORMAT);
    assert_non_null(strstr(err.msg, "truncated"));
    free(poses);
    free(file);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequence_round_trip),
        cmocka_unit_test(test_openpose_round_trip),
        cmocka_unit_test(test_openpose_conventions),
        cmocka_unit_test(test_hostile_sequences),
        cmocka_unit_test(test_hostile_openpose_and_detection),
        cmocka_unit_test(test_dataset_clip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
