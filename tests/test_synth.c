/* Tests of the motion synthesizer (pose/synth.h) and the dataset format (pose/dataset.h):
 * physical invariants on many random clips (bone lengths, planted feet, cadence), caption
 * truth (direction and speed words against the 2D/3D motion), detector output rules,
 * determinism, dataset round trips and corrupt-file errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/fsutil.h"
#include "core/parallel.h"
#include "pose/dataset.h"
#include "pose/dataset_import.h"
#include "pose/synth.h"
#include "testutil.h"

#define NCLIPS 400

static dr_synth_clip clip_buf;
static dr_synth_debug dbg_buf;

static void gen(uint64_t seed, uint64_t index, int action, int direction, int speed, int follow) {
    dr_synth_options o;
    dr_synth_options_default(&o);
    o.action = action, o.direction = direction, o.speed = speed, o.camera_follows = follow;
    dr_err err = {0};
    int rc = dr_synth_generate(seed, index, &o, &clip_buf, &dbg_buf, &err);
    if (rc) fail_msg("generate: %s", err.msg);
}

static float dist3(const float *a, const float *b) {
    return sqrtf((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2]));
}

static bool is_gait(int a) {
    return a == DR_ACT_WALKING || a == DR_ACT_HIKING || a == DR_ACT_RUNNING || a == DR_ACT_JOGGING ||
           a == DR_ACT_CLIMBING_STAIRS;
}

static void test_bone_lengths_constant(void **state) {
    (void)state;
    static const int bones[4][2] = {{DR_KP_RSHOULDER, DR_KP_RELBOW}, {DR_KP_RELBOW, DR_KP_RWRIST},
                                    {DR_KP_RHIP, DR_KP_RKNEE}, {DR_KP_RKNEE, DR_KP_RANKLE}};
    static const int rigid[3][2] = {{DR_KP_RSHOULDER, DR_KP_LSHOULDER}, {DR_KP_RHIP, DR_KP_LHIP}, {DR_KP_NOSE, DR_KP_REAR}};
    double worst = 0;
    for (int c = 0; c < NCLIPS; c++) {
        gen(11, (uint64_t)c, -1, -1, -1, -1);
        for (int side = 0; side < 2; side++)
            for (int k = 0; k < 4; k++) {
                int a = bones[k][0] + side * 3, b = bones[k][1] + side * 3; /* left limbs are 3 ids later */
                float want = dbg_buf.bone_lengths[k];
                for (int f = 0; f < DR_CLIP_FRAMES; f++) {
                    double e = fabs(dist3(dbg_buf.joints[f][a], dbg_buf.joints[f][b]) - want) / want;
                    if (e > worst) worst = e;
                    if (e > 1e-3)
                        fail_msg("clip %d (%s) frame %d: bone %s-%s is %.4f m, body says %.4f", c,
                                 dr_synth_action_names[clip_buf.action], f, dr_keypoint_names[a], dr_keypoint_names[b],
                                 (double)dist3(dbg_buf.joints[f][a], dbg_buf.joints[f][b]), (double)want);
                }
            }
        for (int k = 0; k < 3; k++) {
            float d0 = dist3(dbg_buf.joints[0][rigid[k][0]], dbg_buf.joints[0][rigid[k][1]]);
            for (int f = 1; f < DR_CLIP_FRAMES; f++) {
                float d = dist3(dbg_buf.joints[f][rigid[k][0]], dbg_buf.joints[f][rigid[k][1]]);
                if (fabsf(d - d0) > 1e-3f * d0) fail_msg("clip %d: rigid distance %d changes %.4f -> %.4f", c, k, (double)d0, (double)d);
            }
        }
    }
    printf("  bone lengths: worst relative deviation %.2e over %d clips\n", worst, NCLIPS);
}

static void test_planted_feet_do_not_slide(void **state) {
    (void)state;
    double worst = 0;
    long contact_frames = 0, gait_frames = 0, gait_contact = 0;
    for (int c = 0; c < NCLIPS; c++) {
        gen(12, (uint64_t)c, -1, -1, -1, -1);
        for (int side = 0; side < 2; side++) {
            int ka = side ? DR_KP_LANKLE : DR_KP_RANKLE;
            for (int f = 0; f + 1 < DR_CLIP_FRAMES; f++) {
                if (is_gait(clip_buf.action)) gait_frames++, gait_contact += dbg_buf.contact[f][side];
                if (!dbg_buf.contact[f][side] || !dbg_buf.contact[f + 1][side]) continue;
                contact_frames++;
                double v = dist3(dbg_buf.joints[f][ka], dbg_buf.joints[f + 1][ka]) * DR_CLIP_FPS;
                if (v > worst) worst = v;
                if (v > 0.03)
                    fail_msg("clip %d (%s): planted %s ankle moves at %.3f m/s at frame %d", c,
                             dr_synth_action_names[clip_buf.action], side ? "left" : "right", v, f);
            }
        }
    }
    double share = (double)gait_contact / (double)(gait_frames ? gait_frames : 1);
    printf("  planted feet: %ld contact frame pairs, worst ankle speed %.2e m/s; gaits planted %.0f%% of the time\n",
           contact_frames, worst, 100 * share);
    assert_true(contact_frames > 10000);
    assert_true(share > 0.25 && share < 0.5); /* one foot down most of the time, flight phases when running */
}

/* Steps per second from the sign changes of the feet's fore-aft difference. */
static double measured_cadence(int action) {
    float dx = dbg_buf.pelvis[DR_CLIP_FRAMES - 1][0] - dbg_buf.pelvis[0][0];
    float dz = dbg_buf.pelvis[DR_CLIP_FRAMES - 1][2] - dbg_buf.pelvis[0][2];
    float n = sqrtf(dx * dx + dz * dz);
    if (n < 1e-6f) return 0;
    dx /= n, dz /= n;
    int crossings = 0;
    float first = -1, last = -1, prev = 0;
    for (int f = 0; f < DR_CLIP_FRAMES; f++) {
        float s;
        if (action == DR_ACT_CYCLING) { /* pedal revolutions: right ankle height about its mean */
            s = dbg_buf.joints[f][DR_KP_RANKLE][1] - dbg_buf.pelvis[f][1] + 0.0f;
        } else {
            const float *r = dbg_buf.joints[f][DR_KP_RANKLE], *l = dbg_buf.joints[f][DR_KP_LANKLE];
            s = (r[0] - l[0]) * dx + (r[2] - l[2]) * dz;
        }
        if (action == DR_ACT_CYCLING) {
            static float mean;
            if (f == 0) {
                mean = 0;
                for (int g = 0; g < DR_CLIP_FRAMES; g++) mean += dbg_buf.joints[g][DR_KP_RANKLE][1] - dbg_buf.pelvis[g][1];
                mean /= DR_CLIP_FRAMES;
            }
            s -= mean;
        }
        if (f > 0 && ((prev < 0 && s >= 0) || (prev >= 0 && s < 0))) {
            if (action != DR_ACT_CYCLING || s >= 0) { /* cycling: count upward crossings only */
                crossings++;
                float t = (float)f / DR_CLIP_FPS;
                if (first < 0) first = t;
                last = t;
            }
        }
        prev = s;
    }
    if (crossings < 3) return 0;
    return (crossings - 1) / (double)(last - first);
}

static void test_gait_cadence(void **state) {
    (void)state;
    static const int actions[] = {DR_ACT_WALKING, DR_ACT_HIKING, DR_ACT_JOGGING, DR_ACT_RUNNING, DR_ACT_CLIMBING_STAIRS,
                                  DR_ACT_CYCLING};
    for (size_t a = 0; a < sizeof actions / sizeof actions[0]; a++) {
        double lo_seen = 1e9, hi_seen = 0;
        for (int sp = 0; sp < 3; sp++)
            for (int c = 0; c < 8; c++) {
                gen(13, (uint64_t)(c + 100 * sp), actions[a], -1, sp, -1);
                float lo, hi;
                assert_true(dr_synth_cadence_range(actions[a], sp, clip_buf.child, &lo, &hi));
                double m = measured_cadence(actions[a]);
                if (!(clip_buf.cadence >= lo && clip_buf.cadence <= hi))
                    fail_msg("%s %s: cadence %.2f outside [%.2f, %.2f]", dr_synth_action_names[actions[a]],
                             dr_synth_speed_names[sp], (double)clip_buf.cadence, (double)lo, (double)hi);
                if (fabs(m - clip_buf.cadence) > 0.06 * clip_buf.cadence)
                    fail_msg("%s %s clip %d: ankles oscillate at %.2f /s, generator says %.2f", dr_synth_action_names[actions[a]],
                             dr_synth_speed_names[sp], c, m, (double)clip_buf.cadence);
                if (!clip_buf.child && sp == DR_SPEED_NORMAL) {
                    if (m < lo_seen) lo_seen = m;
                    if (m > hi_seen) hi_seen = m;
                }
            }
        printf("  %-16s adult normal-speed cadence measured %.2f..%.2f /s\n", dr_synth_action_names[actions[a]], lo_seen, hi_seen);
        if (actions[a] == DR_ACT_WALKING) assert_true(lo_seen >= 1.75 && hi_seen <= 2.05);
        if (actions[a] == DR_ACT_RUNNING) assert_true(lo_seen >= 2.6 && hi_seen <= 3.2);
    }
}

static void test_running_has_flight_and_walking_does_not(void **state) {
    (void)state;
    for (int c = 0; c < 10; c++) {
        gen(14, (uint64_t)c, DR_ACT_RUNNING, -1, -1, -1);
        int flight = 0;
        for (int f = 0; f < DR_CLIP_FRAMES; f++) flight += !dbg_buf.contact[f][0] && !dbg_buf.contact[f][1];
        assert_true(flight > 20);
        gen(14, (uint64_t)c, DR_ACT_WALKING, -1, -1, -1);
        /* walking: the arm swings against the leg on the same side */
        double corr = 0;
        for (int f = 0; f < DR_CLIP_FRAMES; f++) {
            float dx = dbg_buf.pelvis[DR_CLIP_FRAMES - 1][0] - dbg_buf.pelvis[0][0];
            float dz = dbg_buf.pelvis[DR_CLIP_FRAMES - 1][2] - dbg_buf.pelvis[0][2];
            const float *w = dbg_buf.joints[f][DR_KP_RWRIST], *a = dbg_buf.joints[f][DR_KP_RANKLE], *p = dbg_buf.pelvis[f];
            corr += ((w[0] - p[0]) * dx + (w[2] - p[2]) * dz) * ((a[0] - p[0]) * dx + (a[2] - p[2]) * dz);
        }
        assert_true(corr < 0);
    }
}

/* Direction the caption states, from its words. */
static int caption_direction(const char *prompt) {
    if (strstr(prompt, "towards the right") || strstr(prompt, "to the right.") || strstr(prompt, "from left to right"))
        return DR_DIR_RIGHT;
    if (strstr(prompt, "towards the left") || strstr(prompt, "to the left.") || strstr(prompt, "from right to left"))
        return DR_DIR_LEFT;
    if (strstr(prompt, "towards the camera.") || strstr(prompt, "straight at the camera") ||
        strstr(prompt, "in the direction of the camera"))
        return DR_DIR_TOWARD;
    if (strstr(prompt, "away from the camera.") || strstr(prompt, "away from the viewer")) return DR_DIR_AWAY;
    return -1;
}

static bool mid_hip(const dr_pose *p, float *x) {
    const dr_keypoint *r = &p->kp[DR_KP_RHIP], *l = &p->kp[DR_KP_LHIP];
    if (r->c <= 0 || l->c <= 0) return false;
    *x = 0.5f * (r->x + l->x);
    return true;
}

static void test_caption_direction_matches_motion(void **state) {
    (void)state;
    int checked = 0;
    for (int c = 0; c < 300; c++) {
        gen(15, (uint64_t)c, c % 2 ? DR_ACT_WALKING : (c % 4 ? DR_ACT_RUNNING : DR_ACT_CYCLING), -1, -1, 0);
        int said = caption_direction(clip_buf.prompt);
        if (said != clip_buf.direction) fail_msg("caption says %d, clip goes %d: %s", said, clip_buf.direction, clip_buf.prompt);
        if (!strstr(clip_buf.prompt, "static") && !strstr(clip_buf.prompt, "still") && !strstr(clip_buf.prompt, "stationary"))
            fail_msg("static camera not said: %s", clip_buf.prompt);
        /* 2D evidence: hips move across the frame, or the body grows / shrinks */
        int f0 = -1, f1 = -1;
        float x0 = 0, x1 = 0;
        for (int f = 0; f < DR_CLIP_FRAMES; f++) {
            float x;
            if (mid_hip(&clip_buf.frames[f], &x)) {
                if (f0 < 0) f0 = f, x0 = x;
                f1 = f, x1 = x;
            }
        }
        if (f1 - f0 < 20) continue; /* left the frame almost at once */
        if (said == DR_DIR_RIGHT) assert_true(x1 - x0 > 20);
        if (said == DR_DIR_LEFT) assert_true(x0 - x1 > 20);
        if (said == DR_DIR_TOWARD || said == DR_DIR_AWAY) {
            float h0 = fabsf(clip_buf.frames[f0].kp[DR_KP_NECK].y - clip_buf.frames[f0].kp[DR_KP_RHIP].y);
            float h1 = fabsf(clip_buf.frames[f1].kp[DR_KP_NECK].y - clip_buf.frames[f1].kp[DR_KP_RHIP].y);
            if (clip_buf.frames[f0].kp[DR_KP_NECK].c <= 0 || clip_buf.frames[f1].kp[DR_KP_NECK].c <= 0) continue;
            if (said == DR_DIR_TOWARD) assert_true(h1 > h0 * 1.2f);
            else assert_true(h0 > h1 * 1.2f);
        }
        checked++;
    }
    printf("  caption direction agrees with the 2D motion in %d static-camera clips\n", checked);
    assert_true(checked > 150);
    /* following camera: the subject faces the stated way (profile nose ahead of the neck) */
    int noseless = 0;
    for (int c = 0; c < 60; c++) {
        gen(16, (uint64_t)c, DR_ACT_RUNNING, c % 2 ? DR_DIR_RIGHT : DR_DIR_LEFT, -1, 1);
        assert_int_equal(caption_direction(clip_buf.prompt), clip_buf.direction);
        assert_non_null(strstr(clip_buf.prompt, "The camera "));
        double s = 0;
        int seen = 0;
        for (int f = 0; f < DR_CLIP_FRAMES; f++) {
            const dr_pose *p = &clip_buf.frames[f];
            if (p->kp[DR_KP_NOSE].c > 0 && p->kp[DR_KP_NECK].c > 0) s += p->kp[DR_KP_NOSE].x - p->kp[DR_KP_NECK].x, seen++;
        }
        if (seen < 20) { /* turned a little away from a camera behind: the face is hidden */
            noseless++;
            continue;
        }
        if ((clip_buf.direction == DR_DIR_RIGHT) != (s > 0))
            fail_msg("clip %d: going %s but the nose is on the other side (%g): %s", c,
                     dr_synth_direction_names[clip_buf.direction], s, clip_buf.subject);
    }
    assert_true(noseless < 6);
}

static bool has_any(const char *s, const char *const *words) {
    for (; *words; words++)
        if (strstr(s, *words)) return true;
    return false;
}

static void test_speed_words_are_true(void **state) {
    (void)state;
    static const char *const slow_w[] = {"slow", NULL};
    static const char *const fast_w[] = {"quick", "fast", "brisk", "sprint", "energetic", "hurry", "hard", "full speed",
                                         "high speed", "animated", NULL};
    for (int c = 0; c < 200; c++) {
        gen(17, (uint64_t)c, -1, -1, -1, -1);
        const char *s = clip_buf.subject;
        if (clip_buf.action == DR_ACT_STANDING || clip_buf.action == DR_ACT_SITTING) continue;
        bool ws = has_any(s, slow_w), wf = has_any(s, fast_w);
        if (clip_buf.speed == DR_SPEED_SLOW && (!ws || wf)) fail_msg("slow clip: %s", s);
        if (clip_buf.speed == DR_SPEED_FAST && (!wf || ws)) fail_msg("fast clip: %s", s);
        if (clip_buf.speed == DR_SPEED_NORMAL && (ws || wf)) fail_msg("normal clip: %s", s);
    }
    /* same subject, same path, three speeds: "slowly" is slower */
    static const int travel[] = {DR_ACT_WALKING, DR_ACT_RUNNING, DR_ACT_JOGGING, DR_ACT_CYCLING, DR_ACT_HIKING, DR_ACT_CLIMBING_STAIRS};
    for (size_t a = 0; a < 6; a++)
        for (int c = 0; c < 5; c++) {
            float v[3];
            for (int sp = 0; sp < 3; sp++) gen(18, (uint64_t)c, travel[a], -1, sp, -1), v[sp] = clip_buf.speed_mps;
            if (!(v[0] < v[1] && v[1] < v[2]))
                fail_msg("%s: speeds %.2f %.2f %.2f not increasing", dr_synth_action_names[travel[a]], (double)v[0], (double)v[1], (double)v[2]);
        }
}

static void test_detector_output_rules(void **state) {
    (void)state;
    long present = 0, missing = 0;
    for (int c = 0; c < NCLIPS; c++) {
        gen(19, (uint64_t)c, -1, -1, -1, -1);
        for (int f = 0; f < DR_CLIP_FRAMES; f++)
            for (int k = 0; k < DR_NUM_KEYPOINTS; k++) {
                const dr_keypoint *p = &clip_buf.frames[f].kp[k];
                if (p->c == 0) {
                    if (p->x != 0 || p->y != 0) fail_msg("clip %d frame %d: missing keypoint %d is (%g, %g, 0)", c, f, k, (double)p->x, (double)p->y);
                    missing++;
                } else {
                    assert_true(p->c >= 0.3f && p->c <= 0.95f);
                    assert_true(p->x >= 0 && p->x < DR_CANVAS_WIDTH && p->y >= 0 && p->y < DR_CANVAS_HEIGHT);
                    present++;
                }
            }
        assert_true(strncmp(clip_buf.subject, clip_buf.prompt, strlen(clip_buf.subject)) == 0);
    }
    printf("  detector: %.1f%% of keypoints missing over %d clips\n", 100.0 * (double)missing / (double)(present + missing), NCLIPS);
    /* profile walking to the right: the right side faces the camera, the left ear is hidden */
    long ear_r = 0, ear_l = 0, heads = 0;
    for (int c = 0; c < 20; c++) {
        gen(20, (uint64_t)c, DR_ACT_WALKING, DR_DIR_RIGHT, -1, 1);
        for (int f = 0; f < DR_CLIP_FRAMES; f++) {
            const dr_pose *p = &clip_buf.frames[f];
            if (p->kp[DR_KP_NECK].c <= 0) continue;
            heads++;
            ear_r += p->kp[DR_KP_REAR].c > 0;
            ear_l += p->kp[DR_KP_LEAR].c > 0;
        }
    }
    assert_true(heads > 1000);
    assert_true(ear_r > heads / 2);
    assert_true(ear_l < heads / 10);
    /* walking away: the face is hidden */
    long noses = 0;
    heads = 0;
    for (int c = 0; c < 10; c++) {
        gen(21, (uint64_t)c, DR_ACT_WALKING, DR_DIR_AWAY, -1, 1);
        for (int f = 0; f < DR_CLIP_FRAMES; f++) heads += clip_buf.frames[f].kp[DR_KP_NECK].c > 0, noses += clip_buf.frames[f].kp[DR_KP_NOSE].c > 0;
    }
    assert_true(noses < heads / 10);
}

static void test_determinism(void **state) {
    (void)state;
    static dr_synth_clip a, b;
    dr_synth_options o;
    dr_synth_options_default(&o);
    for (int c = 0; c < 30; c++) {
        assert_int_equal(dr_synth_generate(99, (uint64_t)c, &o, &a, NULL, NULL), 0);
        assert_int_equal(dr_synth_generate(99, (uint64_t)c, &o, &b, NULL, NULL), 0);
        assert_memory_equal(&a, &b, sizeof a);
    }
    assert_int_equal(dr_synth_generate(100, 0, &o, &b, NULL, NULL), 0);
    assert_true(memcmp(a.frames, b.frames, sizeof a.frames) != 0);
    /* whole datasets: one thread and two threads give the same bytes */
    char d1[512], d2[512], p1[600], p2[600];
    tu_tmpdir(d1, sizeof d1, "synth1");
    tu_tmpdir(d2, sizeof d2, "synth2");
    strcat(d1, "/ds"), strcat(d2, "/ds");
    dr_err err = {0};
    int threads = dr_get_threads();
    dr_set_threads(1);
    assert_int_equal(dr_synth_dataset(d1, 5, 200, NULL, NULL, &err), 0);
    dr_set_threads(2);
    assert_int_equal(dr_synth_dataset(d2, 5, 200, NULL, NULL, &err), 0);
    dr_set_threads(threads);
    static const char *const files[] = {"train.poses", "train.jsonl", "val.poses", "val.jsonl", "test.poses", "test.jsonl", "meta.json"};
    for (int i = 0; i < 7; i++) {
        snprintf(p1, sizeof p1, "%s/%s", d1, files[i]);
        snprintf(p2, sizeof p2, "%s/%s", d2, files[i]);
        char *x, *y;
        size_t nx, ny;
        assert_int_equal(dr_read_file(p1, 1 << 30, &x, &nx, &err), 0);
        assert_int_equal(dr_read_file(p2, 1 << 30, &y, &ny, &err), 0);
        assert_int_equal(nx, ny);
        assert_memory_equal(x, y, nx);
        free(x), free(y);
    }
}


/* detector_noise 0 is the clean twin: the same clips (captions, motion, missing keypoints)
 * without the jitter, which measures about the sampled 0.5-1.6 px per axis; 1 is the default. */
static void test_clean_twin(void **state) {
    (void)state;
    static dr_synth_clip noisy, clean, def;
    dr_synth_options o;
    dr_synth_options_default(&o);
    assert_true(o.detector_noise == 1.0f);
    double dist = 0;
    long both = 0, either = 0;
    for (int c = 0; c < 40; c++) {
        o.detector_noise = 1.0f;
        assert_int_equal(dr_synth_generate(7, (uint64_t)c, &o, &noisy, NULL, NULL), 0);
        assert_int_equal(dr_synth_generate(7, (uint64_t)c, NULL, &def, NULL, NULL), 0);
        assert_memory_equal(&noisy, &def, sizeof noisy);
        o.detector_noise = 0.0f;
        assert_int_equal(dr_synth_generate(7, (uint64_t)c, &o, &clean, NULL, NULL), 0);
        assert_string_equal(noisy.prompt, clean.prompt);
        assert_int_equal(noisy.action, clean.action);
        assert_int_equal(noisy.split, clean.split);
        for (int f = 0; f < DR_CLIP_FRAMES; f++)
            for (int k = 0; k < DR_NUM_KEYPOINTS; k++) {
                const dr_keypoint *a = &noisy.frames[f].kp[k], *b = &clean.frames[f].kp[k];
                bool pa = a->c > 0, pb = b->c > 0;
                either += pa || pb;
                if (!(pa && pb)) continue;
                both++;
                double d = hypot(a->x - b->x, a->y - b->y);
                assert_true(d < 12.0); /* 3.5 sigma cut of 1.6 px x 1.4 (wrists), two axes */
                dist += d;
            }
    }
    assert_true(both > (long)(0.99 * (double)either)); /* presence differs only at the border */
    double mean = dist / (double)both;
    assert_true(mean > 0.5 && mean < 2.0);
    o.detector_noise = -1.0f;
    assert_int_equal(dr_synth_generate(7, 0, &o, &clean, NULL, NULL), DR_EINVAL);
    o.detector_noise = NAN;
    assert_int_equal(dr_synth_generate(7, 0, &o, &clean, NULL, NULL), DR_EINVAL);
}

static void test_dataset_round_trip_and_splits(void **state) {
    (void)state;
    char dir[512];
    tu_tmpdir(dir, sizeof dir, "dsrt");
    dr_err err = {0};
    /* hand-written clips */
    dr_dataset_writer w;
    assert_int_equal(dr_dataset_writer_open(&w, dir, "train", 4, 30, 512, 320, &err), 0);
    dr_pose frames[3][4];
    memset(frames, 0, sizeof frames);
    for (int c = 0; c < 3; c++)
        for (int f = 0; f < 4; f++) frames[c][f].kp[c + f].x = 10.0f * (float)c + (float)f, frames[c][f].kp[c + f].y = 5, frames[c][f].kp[c + f].c = 0.5f;
    assert_int_equal(dr_dataset_writer_add(&w, frames[0], "{\"subject\":\"A.\",\"prompt\":\"A. B.\",\"action\":\"x\"}", &err), 0);
    assert_int_equal(dr_dataset_writer_add(&w, frames[1], "{\"subject\":\"C \\\"q\\\".\",\"prompt\":\"C.\",\"action\":\"y\"}", &err), 0);
    assert_int_equal(dr_dataset_writer_add(&w, frames[2], "{\"subject\":\"D.\",\"prompt\":\"D.\",\"action\":\"z\",\"extra\":1}", &err), 0);
    assert_int_not_equal(dr_dataset_writer_add(&w, frames[2], "{\"a\":1}\n{}", &err), 0); /* two lines */
    dr_pose bad[4];
    memcpy(bad, frames[0], sizeof bad);
    bad[1].kp[0].x = 3; /* present position with zero confidence */
    assert_int_equal(dr_dataset_writer_add(&w, bad, "{}", &err), DR_ERANGE);
    assert_int_equal(dr_dataset_writer_close(&w, &err), 0);
    dr_dataset ds;
    assert_int_equal(dr_dataset_open(&ds, dir, "train", &err), 0);
    assert_int_equal(ds.num_clips, 3);
    assert_int_equal(ds.num_frames, 4);
    assert_memory_equal(dr_dataset_clip(&ds, 1), frames[1], sizeof frames[1]);
    assert_string_equal(ds.subject[1], "C \"q\".");
    assert_string_equal(ds.action[2], "z");
    dr_dataset_close(&ds);
    assert_int_equal(dr_dataset_open(&ds, dir, "val", &err), DR_ENOTFOUND);

    /* a synthetic dataset: splits add up, held-out combinations only in test */
    char out[600];
    snprintf(out, sizeof out, "%s/synth", dir);
    assert_int_equal(dr_synth_dataset(out, 3, 600, NULL, NULL, &err), 0);
    int total = 0;
    static const char *const splits[3] = {"train", "val", "test"};
    for (int s = 0; s < 3; s++) {
        if (dr_dataset_open(&ds, out, splits[s], &err)) fail_msg("%s", err.msg);
        total += ds.num_clips;
        char jp[700];
        snprintf(jp, sizeof jp, "%s/%s.jsonl", out, splits[s]);
        char *text;
        size_t n;
        assert_int_equal(dr_read_file(jp, 1 << 28, &text, &n, &err), 0);
        char *line = strtok(text, "\n");
        int i = 0;
        while (line) {
            cJSON *o = cJSON_Parse(line);
            assert_non_null(o);
            const char *a = cJSON_GetObjectItem(o, "action")->valuestring;
            const char *pl = cJSON_GetObjectItem(o, "place")->valuestring;
            const char *k = cJSON_GetObjectItem(o, "subject_kind")->valuestring;
            assert_string_equal(cJSON_GetObjectItem(o, "split")->valuestring, splits[s]);
            assert_string_equal(a, ds.action[i]);
            bool held = false;
            for (int h = 0; h < dr_synth_num_heldout_combos; h++)
                held |= !strcmp(a, dr_synth_heldout_combos[h].action) && !strcmp(pl, dr_synth_heldout_combos[h].place) &&
                        !strcmp(k, dr_synth_heldout_combos[h].subject_kind);
            if (held) assert_int_equal(s, 2);
            cJSON_Delete(o);
            line = strtok(NULL, "\n");
            i++;
        }
        assert_int_equal(i, ds.num_clips);
        free(text);
        dr_dataset_close(&ds);
    }
    assert_int_equal(total, 600);
    char mp[700];
    snprintf(mp, sizeof mp, "%s/meta.json", out);
    char *meta;
    size_t mn;
    assert_int_equal(dr_read_file(mp, 1 << 20, &meta, &mn, &err), 0);
    cJSON *m = cJSON_Parse(meta);
    assert_non_null(m);
    assert_string_equal(cJSON_GetObjectItem(m, "format")->valuestring, "director-dataset");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(m, "heldout_combos")), dr_synth_num_heldout_combos);
    cJSON_Delete(m);
    free(meta);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void expect_open_error(const char *dir, int code, const char *needle) {
    dr_dataset ds;
    dr_err err = {0};
    int rc = dr_dataset_open(&ds, dir, "train", &err);
    if (rc != code || !strstr(err.msg, needle)) fail_msg("expected %d with '%s', got %d: %s", code, needle, rc, err.msg);
}

static void test_corrupt_datasets_give_clear_errors(void **state) {
    (void)state;
    char dir[512], pp[600], jp[600];
    tu_tmpdir(dir, sizeof dir, "dsbad");
    dr_err err = {0};
    dr_dataset_writer w;
    dr_pose frames[DR_CLIP_FRAMES];
    memset(frames, 0, sizeof frames);
    frames[0].kp[1] = (dr_keypoint){100, 100, 0.8f};
    assert_int_equal(dr_dataset_writer_open(&w, dir, "train", DR_CLIP_FRAMES, 30, 512, 320, &err), 0);
    for (int i = 0; i < 2; i++) assert_int_equal(dr_dataset_writer_add(&w, frames, "{\"subject\":\"s\",\"prompt\":\"p\",\"action\":\"a\"}", &err), 0);
    assert_int_equal(dr_dataset_writer_close(&w, &err), 0);
    snprintf(pp, sizeof pp, "%s/train.poses", dir);
    snprintf(jp, sizeof jp, "%s/train.jsonl", dir);
    char *good, *goodj;
    size_t n, nj;
    assert_int_equal(dr_read_file(pp, 1 << 26, &good, &n, &err), 0);
    assert_int_equal(dr_read_file(jp, 1 << 26, &goodj, &nj, &err), 0);

    write_bytes(pp, good, 40);
    expect_open_error(dir, DR_EFORMAT, "truncated");
    write_bytes(pp, good, n - 12);
    expect_open_error(dir, DR_EFORMAT, "truncated");
    char *bad = malloc(n + 8);
    memcpy(bad, good, n);
    bad[0] = 'X';
    write_bytes(pp, bad, n);
    expect_open_error(dir, DR_EFORMAT, "bad magic");
    memcpy(bad, good, n);
    bad[8] = 2;
    write_bytes(pp, bad, n);
    expect_open_error(dir, DR_EUNSUPPORTED, "version");
    memcpy(bad, good, n);
    float nan = NAN;
    memcpy(bad + 64 + 12 * 5, &nan, 4);
    write_bytes(pp, bad, n);
    expect_open_error(dir, DR_EFORMAT, "invalid");
    memcpy(bad, good, n);
    float x = 7;
    memcpy(bad + 64 + 12 * 3, &x, 4); /* a missing keypoint with a position */
    write_bytes(pp, bad, n);
    expect_open_error(dir, DR_EFORMAT, "keypoint 3 is invalid");
    write_bytes(pp, good, n);

    write_bytes(jp, goodj, nj / 2 + 1);
    expect_open_error(dir, DR_EFORMAT, "line");
    write_bytes(jp, "{\"subject\":\"s\",\"prompt\":\"p\",\"action\":\"a\"}\n", 41);
    expect_open_error(dir, DR_EFORMAT, "1 caption lines for 2 clips");
    write_bytes(jp, "{\"subject\":\"s\",\"prompt\":\"p\"}\n{\"subject\":\"s\",\"prompt\":\"p\",\"action\":\"a\"}\n", 71);
    expect_open_error(dir, DR_EFORMAT, "line 1 lacks");
    write_bytes(jp, "[1]\n[2]\n", 8);
    expect_open_error(dir, DR_EFORMAT, "line 1 is not a JSON object");
    unlink(jp);
    expect_open_error(dir, DR_ENOTFOUND, "train.jsonl");
    free(bad), free(good), free(goodj);
}

/* Centre of mass over the support: in standing actions, whenever the body holds still on its
 * feet (both feet down, or one foot down for longer than 0.5 s: tree pose, quad stretch,
 * a throw's wind-up), the horizontal centre of mass (segment masses after Winter) lies
 * within the hull of the supporting ankles (and hands on the floor) widened by about a foot
 * length. Brief single-support moments of a step are dynamic and not checked, nor are frames
 * with a hand within 30 cm of the floor but not on it. */
static void test_balance_over_support(void **state) {
    (void)state;
    static const int actions[] = {DR_ACT_STANDING, DR_ACT_POSING, DR_ACT_WAVING, DR_ACT_TALKING, DR_ACT_STRETCHING,
                                  DR_ACT_YOGA, DR_ACT_SQUATS, DR_ACT_LUNGES, DR_ACT_BOXING, DR_ACT_PLAYING_GUITAR,
                                  DR_ACT_THROWING, DR_ACT_TURNING_AROUND, DR_ACT_DANCING};
    double worst = 0, worst_by[32] = {0};
    int worst_action = -1, worst_at[32][2];
    long checked = 0;
    for (size_t a = 0; a < sizeof actions / sizeof actions[0]; a++)
        for (int c = 0; c < 12; c++) {
            gen(23, (uint64_t)c, actions[a], -1, -1, -1);
            if (strstr(clip_buf.subject, "sitting")) continue; /* a seat carries the weight */
            float floor_y = 1e9f; /* ankle height of a foot on the ground */
            for (int f = 0; f < DR_CLIP_FRAMES; f++)
                floor_y = fminf(floor_y, fminf(dbg_buf.joints[f][DR_KP_RANKLE][1], dbg_buf.joints[f][DR_KP_LANKLE][1]));
            bool on[DR_CLIP_FRAMES][2];
            int single_run[DR_CLIP_FRAMES]; /* length of the single-support stretch a frame is in */
            for (int f = 0; f < DR_CLIP_FRAMES; f++)
                for (int side = 0; side < 2; side++)
                    on[f][side] = dbg_buf.contact[f][side] || dbg_buf.joints[f][side ? DR_KP_LANKLE : DR_KP_RANKLE][1] < floor_y + 0.015f;
            for (int f = 0; f < DR_CLIP_FRAMES;) {
                int g = f;
                while (g < DR_CLIP_FRAMES && on[g][0] != on[g][1] && on[f][0] == on[g][0]) g++;
                if (g == f) {
                    single_run[f++] = 0;
                } else {
                    for (int k = f; k < g; k++) single_run[k] = g - f;
                    f = g;
                }
            }
            for (int f = 0; f < DR_CLIP_FRAMES; f++) {
                const float(*J)[3] = dbg_buf.joints[f];
                bool both = on[f][0] && on[f][1], one = on[f][0] != on[f][1];
                if (!both && !(one && single_run[f] > 15)) continue;
                /* hands just off the floor (moving into or out of downward dog) can take weight
                 * at any moment: those frames are not judged, hands on the floor are support */
                float hand_y = fminf(J[DR_KP_RWRIST][1], J[DR_KP_LWRIST][1]);
                if (hand_y >= 0.15f && hand_y < 0.3f) continue;
                checked++;
                /* segments: (a, b, mass share), mass at the midpoint; b < 0: the pelvis */
                static const struct { int a, b; float m; } seg[] = {
                    {DR_KP_NECK, -1, 0.497f}, {DR_KP_NOSE, DR_KP_NECK, 0.081f},
                    {DR_KP_RHIP, DR_KP_RKNEE, 0.1f}, {DR_KP_LHIP, DR_KP_LKNEE, 0.1f},
                    {DR_KP_RKNEE, DR_KP_RANKLE, 0.061f}, {DR_KP_LKNEE, DR_KP_LANKLE, 0.061f},
                    {DR_KP_RSHOULDER, DR_KP_RELBOW, 0.028f}, {DR_KP_LSHOULDER, DR_KP_LELBOW, 0.028f},
                    {DR_KP_RELBOW, DR_KP_RWRIST, 0.022f}, {DR_KP_LELBOW, DR_KP_LWRIST, 0.022f},
                };
                double cx = 0, cz = 0, m = 0;
                for (size_t k = 0; k < sizeof seg / sizeof seg[0]; k++) {
                    const float *p = J[seg[k].a];
                    const float *q = seg[k].b >= 0 ? J[seg[k].b] : dbg_buf.pelvis[f]; /* trunk: pelvis to neck */
                    cx += seg[k].m * 0.5 * (p[0] + q[0]);
                    cz += seg[k].m * 0.5 * (p[2] + q[2]);
                    m += seg[k].m;
                }
                cx /= m, cz /= m;
                /* support: planted ankles and hands on the ground; distance of the COM to their hull */
                float sx[4], sz[4];
                int ns = 0;
                for (int side = 0; side < 2; side++) {
                    const float *an = J[side ? DR_KP_LANKLE : DR_KP_RANKLE], *wr = J[side ? DR_KP_LWRIST : DR_KP_RWRIST];
                    if (on[f][side]) sx[ns] = an[0], sz[ns] = an[2], ns++;
                    if (wr[1] < 0.15f) sx[ns] = wr[0], sz[ns] = wr[2], ns++; /* palm on the floor */
                }
                double d = 1e9;
                for (int i = 0; i < ns; i++)
                    for (int j = i; j < ns; j++) {
                        float dx = sx[j] - sx[i], dz = sz[j] - sz[i], len2 = dx * dx + dz * dz;
                        float t = len2 > 1e-9f ? (float)(((cx - sx[i]) * dx + (cz - sz[i]) * dz) / len2) : 0;
                        t = t < 0 ? 0 : t > 1 ? 1 : t;
                        double e = hypot(cx - (sx[i] + t * dx), cz - (sz[i] + t * dz));
                        if (e < d) d = e;
                        for (int k = j + 1; k < ns; k++) { /* inside the triangle i, j, k */
                            double c1 = (sx[j] - sx[i]) * (cz - sz[i]) - (sz[j] - sz[i]) * (cx - sx[i]);
                            double c2 = (sx[k] - sx[j]) * (cz - sz[j]) - (sz[k] - sz[j]) * (cx - sx[j]);
                            double c3 = (sx[i] - sx[k]) * (cz - sz[k]) - (sz[i] - sz[k]) * (cx - sx[k]);
                            if ((c1 >= 0 && c2 >= 0 && c3 >= 0) || (c1 <= 0 && c2 <= 0 && c3 <= 0)) d = 0;
                        }
                    }
                double lim = 0.16 * dbg_buf.bone_lengths[3] / 0.43; /* about a foot length */
                if (d / lim > worst) worst = d / lim, worst_action = actions[a];
                if (d / lim > worst_by[a]) worst_by[a] = d / lim, worst_at[a][0] = c, worst_at[a][1] = f;
            }
        }
    for (size_t a = 0; a < sizeof actions / sizeof actions[0]; a++)
        if (actions[a] == worst_action)
            printf("  balance: %ld frames; worst centre-of-mass offset %.2f foot lengths from the support (%s clip %d frame %d)\n",
                   checked, worst, dr_synth_action_names[worst_action], worst_at[a][0], worst_at[a][1]);
    bool bad = false;
    for (size_t a = 0; a < sizeof actions / sizeof actions[0]; a++)
        if (worst_by[a] > 1.6) {
            printf("    %s: %.2f foot lengths (clip %d frame %d)\n", dr_synth_action_names[actions[a]], worst_by[a],
                   worst_at[a][0], worst_at[a][1]);
            bad = true;
        }
    assert_false(bad);
    assert_true(checked > 20000);
}

/* Motion is continuous: no joint teleports between frames. Limbs stay under 14 m/s (a
 * sprinter's swinging foot reaches ~2.5x the body speed), except in a throw, whose arm
 * whips (an overhand throw reaches 15-25 m/s at the hand). */
static void test_motion_is_smooth(void **state) {
    (void)state;
    double worst_v = 0;
    int worst_action = -1;
    for (int c = 0; c < NCLIPS; c++) {
        gen(24, (uint64_t)c, c % DR_SYNTH_NUM_ACTIONS, -1, -1, -1);
        for (int f = 1; f < DR_CLIP_FRAMES; f++)
            for (int k = 0; k < DR_NUM_KEYPOINTS; k++) {
                double v = dist3(dbg_buf.joints[f][k], dbg_buf.joints[f - 1][k]) * DR_CLIP_FPS;
                if (v > worst_v && clip_buf.action != DR_ACT_THROWING) worst_v = v, worst_action = clip_buf.action;
                if (v > (clip_buf.action == DR_ACT_THROWING ? 25.0 : 14.0))
                    fail_msg("%s clip %d frame %d: %s moves at %.1f m/s", dr_synth_action_names[clip_buf.action], c, f,
                             dr_keypoint_names[k], v);
            }
    }
    printf("  smoothness: fastest joint outside throwing %.1f m/s (%s)\n", worst_v, dr_synth_action_names[worst_action]);
}

static void test_clip_fit_and_append(void **state) {
    (void)state;
    dr_err err = {0};
    /* 15 fps on a 256 x 256 canvas: resampled to 30 fps, scaled x1.25 and centred, padded */
    dr_pose_seq seq;
    assert_int_equal(dr_pose_seq_alloc(&seq, 4, 15, 256, 256), 0);
    for (int f = 0; f < 4; f++) {
        seq.frames[f].kp[DR_KP_NECK] = (dr_keypoint){100 + 10 * (float)f, 128, 0.8f};
        if (f != 1) seq.frames[f].kp[DR_KP_NOSE] = (dr_keypoint){100, 50, 0.5f};
    }
    seq.frames[3].kp[DR_KP_RWRIST] = (dr_keypoint){255, 0, 0.9f};
    dr_pose out[DR_CLIP_FRAMES];
    assert_int_equal(dr_clip_fit(&seq, DR_CLIP_FRAMES, 30, 512, 320, out, &err), 0);
    float s = 320.0f / 256, ox = (512 - 256 * s) / 2;
    assert_float_equal(out[0].kp[DR_KP_NECK].x, ox + 100 * s, 1e-3);
    assert_float_equal(out[1].kp[DR_KP_NECK].x, ox + 105 * s, 1e-3); /* halfway between source frames 0 and 1 */
    assert_float_equal(out[1].kp[DR_KP_NECK].y, 128 * s, 1e-3);
    assert_float_equal(out[6].kp[DR_KP_NECK].x, ox + 130 * s, 1e-3);
    assert_true(out[2].kp[DR_KP_NOSE].c == 0 && out[2].kp[DR_KP_NOSE].x == 0); /* source frame 1 lacks it */
    assert_true(out[6].kp[DR_KP_RWRIST].c > 0);
    for (int f = 7; f < DR_CLIP_FRAMES; f++) assert_int_equal(dr_pose_count_present(&out[f]), 0); /* padded */
    /* append twice to a new folder, then once more: ids continue, earlier clips survive */
    char dir[512];
    tu_tmpdir(dir, sizeof dir, "append");
    strcat(dir, "/ds");
    dr_import_item it = {&seq, "The video shows a man waving. He wears a hat.", "waving", "mem"};
    long first;
    assert_int_equal(dr_dataset_append(dir, "train", &it, 1, &first, &err), 0);
    assert_int_equal(first, 0);
    dr_import_item two[2] = {it, it};
    two[1].caption = "A woman sits. She smiles.";
    assert_int_equal(dr_dataset_append(dir, "train", two, 2, &first, &err), 0);
    assert_int_equal(first, 1);
    dr_dataset ds;
    assert_int_equal(dr_dataset_open(&ds, dir, "train", &err), 0);
    assert_int_equal(ds.num_clips, 3);
    assert_string_equal(ds.subject[0], "The video shows a man waving.");
    assert_string_equal(ds.prompt[2], "A woman sits. She smiles.");
    assert_string_equal(ds.action[1], "waving");
    assert_memory_equal(dr_dataset_clip(&ds, 2), out, sizeof out);
    dr_dataset_close(&ds);
    /* a bad caption changes nothing */
    two[1].caption = "   ";
    assert_int_not_equal(dr_dataset_append(dir, "train", two, 2, NULL, &err), 0);
    assert_int_equal(dr_dataset_open(&ds, dir, "train", &err), 0);
    assert_int_equal(ds.num_clips, 3);
    dr_dataset_close(&ds);
    assert_int_equal(dr_dataset_append(dir, "bogus", &it, 1, NULL, &err), DR_EINVAL);
    dr_pose_seq_free(&seq);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bone_lengths_constant),
        cmocka_unit_test(test_planted_feet_do_not_slide),
        cmocka_unit_test(test_gait_cadence),
        cmocka_unit_test(test_running_has_flight_and_walking_does_not),
        cmocka_unit_test(test_caption_direction_matches_motion),
        cmocka_unit_test(test_speed_words_are_true),
        cmocka_unit_test(test_detector_output_rules),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_clean_twin),
        cmocka_unit_test(test_dataset_round_trip_and_splits),
        cmocka_unit_test(test_corrupt_datasets_give_clear_errors),
        cmocka_unit_test(test_balance_over_support),
        cmocka_unit_test(test_motion_is_smooth),
        cmocka_unit_test(test_clip_fit_and_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
