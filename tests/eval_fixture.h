/* eval_fixture.h - a tiny labelled motion dataset for the evaluation tests (header-only).
 *
 * Four actions whose motions differ in ways a small encoder can learn within a second or two
 * of training: walking (the figure crosses the canvas, legs swing), jumping (the whole figure
 * bobs up and down), waving (the right wrist circles above the head), squatting (hips and
 * shoulders sink and rise). Each clip draws its own position, speed, amplitude and phase from
 * a seeded generator; the subject texts name the subject and the action, as the synthesizer's
 * subject prompts do ("A man is walking slowly in the park."). */
#ifndef DIRECTOR_TESTS_EVAL_FIXTURE_H
#define DIRECTOR_TESTS_EVAL_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/rng.h"
#include "models/tokenizer.h"
#include "pose/dataset.h"

#define FX_ACTIONS 4
static const char *const fx_actions[FX_ACTIONS] = {"walking", "jumping", "waving", "squatting"};
static const char *const fx_subjects[3] = {"man", "woman", "child"};
static const char *const fx_places[6] = {"park", "street", "beach", "gym", "garden", "room"};
static const char *const fx_manners[3] = {"slowly", "quickly", "happily"};

static inline void fx_stand(dr_pose *p, float cx, float cy) {
    static const float xy[DR_NUM_KEYPOINTS][2] = {
        {0, -110}, {0, -80}, {-20, -80}, {-30, -40}, {-35, 0}, {20, -80}, {30, -40}, {35, 0}, {-10, 0},
        {-10, 60}, {-10, 120}, {10, 0}, {10, 60}, {10, 120}, {-6, -115}, {6, -115}, {-12, -110}, {12, -110}};
    for (int k = 0; k < DR_NUM_KEYPOINTS; k++) p->kp[k] = (dr_keypoint){cx + xy[k][0], cy + xy[k][1], 0.9f};
}

static inline void fx_clip(int action, dr_rng *rng, dr_pose *frames, int F) {
    float cx = dr_rng_range(rng, 150, 360), cy = dr_rng_range(rng, 140, 180);
    float speed = dr_rng_range(rng, 0.8f, 2.0f) * (dr_rng_uniform(rng) < 0.5f ? -1.0f : 1.0f);
    float amp = dr_rng_range(rng, 10, 25), phase = dr_rng_range(rng, 0, 6.283f), w = dr_rng_range(rng, 0.15f, 0.3f);
    for (int t = 0; t < F; t++) {
        dr_pose *p = &frames[t];
        float s = sinf(w * t + phase);
        switch (action) {
        case 0: /* walking */
            fx_stand(p, cx + speed * t - speed * F / 2, cy);
            p->kp[DR_KP_RANKLE].x += amp * s, p->kp[DR_KP_LANKLE].x -= amp * s;
            p->kp[DR_KP_RKNEE].x += 0.5f * amp * s, p->kp[DR_KP_LKNEE].x -= 0.5f * amp * s;
            break;
        case 1: /* jumping */
            fx_stand(p, cx, cy - amp * fabsf(s));
            break;
        case 2: /* waving */
            fx_stand(p, cx, cy);
            p->kp[DR_KP_RELBOW] = (dr_keypoint){cx - 40, cy - 100, 0.9f};
            p->kp[DR_KP_RWRIST] = (dr_keypoint){cx - 40 + amp * s, cy - 140 + 0.5f * amp * cosf(w * t + phase), 0.9f};
            break;
        default: /* squatting */
            fx_stand(p, cx, cy);
            for (int k = 0; k < DR_NUM_KEYPOINTS; k++)
                if (k != DR_KP_RANKLE && k != DR_KP_LANKLE) p->kp[k].y += amp * (1.0f + s);
            break;
        }
    }
}

/* Write train/val/test splits of `frames`-frame clips (actions in turn) and meta.json. */
static inline int fx_write_dataset(const char *dir, const int counts[3], int frames, uint64_t seed) {
    static const char *const splits[3] = {"train", "val", "test"};
    dr_err err = {0};
    dr_pose *clip = malloc(sizeof(dr_pose) * (size_t)frames);
    int rc = dr_mkdir_p(dir, &err);
    for (int s = 0; s < 3 && !rc; s++) {
        dr_dataset_writer w;
        rc = dr_dataset_writer_open(&w, dir, splits[s], frames, 30.0f, 512, 320, &err);
        for (int i = 0; i < counts[s] && !rc; i++) {
            dr_rng rng = dr_rng_fork(seed + (uint64_t)s, (uint64_t)i);
            int action = i % FX_ACTIONS;
            const char *who = fx_subjects[dr_rng_below(&rng, 3)], *where = fx_places[dr_rng_below(&rng, 6)];
            const char *how = fx_manners[dr_rng_below(&rng, 3)];
            fx_clip(action, &rng, clip, frames);
            char line[512];
            snprintf(line, sizeof line,
                     "{\"id\": \"%s-%d\", \"subject\": \"A %s is %s %s in the %s.\", \"prompt\": \"A %s is %s %s "
                     "in the %s. The light is soft.\", \"action\": \"%s\"}",
                     splits[s], i, who, fx_actions[action], how, where, who, fx_actions[action], how, where,
                     fx_actions[action]);
            rc = dr_dataset_writer_add(&w, clip, line, &err);
        }
        if (rc)
            dr_dataset_writer_abort(&w);
        else
            rc = dr_dataset_writer_close(&w, &err);
    }
    free(clip);
    if (!rc) {
        char path[4200];
        snprintf(path, sizeof path, "%s/meta.json", dir);
        const char *meta = "{\"format\": \"director-dataset\", \"version\": 1, \"seed\": 1}\n";
        rc = dr_write_file_atomic(path, meta, strlen(meta), &err);
    }
    if (rc) fprintf(stderr, "fixture: %s\n", err.msg);
    return rc;
}

/* A small BPE tokenizer trained on the dataset's train captions, saved to path. */
static inline int fx_write_tokenizer(const char *data_dir, const char *path, int vocab) {
    dr_err err = {0};
    char **texts = NULL;
    int n = 0;
    dr_tokenizer *tok = NULL;
    dr_tokenizer_train_opts o = {vocab, 2};
    int rc = dr_corpus_load_captions(data_dir, "train", &texts, &n, &err);
    if (!rc) rc = dr_tokenizer_train(&tok, (const char *const *)texts, n, &o, &err);
    if (!rc) rc = dr_tokenizer_save(tok, path, &err);
    if (rc) fprintf(stderr, "fixture: %s\n", err.msg);
    dr_corpus_free(texts, n);
    dr_tokenizer_free(tok);
    return rc;
}

#endif
