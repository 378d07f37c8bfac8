/* synth_dataset.c - a whole synthetic dataset: clips made in parallel batches (each from
 * its own forked generator, so scheduling cannot change a byte) and streamed in index
 * order to one writer per split; the folder appears only when complete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/fsutil.h"
#include "core/parallel.h"
#include "pose/dataset.h"
#include "pose/synth.h"

#define BATCH 256
#define JSON_MAX 4096

static int write_meta(const char *dir, uint64_t seed, long num_clips, float detector_noise, const long counts[3],
                      const long action_counts[DR_SYNTH_NUM_ACTIONS], dr_err *err) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "format", "director-dataset");
    cJSON_AddNumberToObject(m, "version", 1);
    cJSON_AddStringToObject(m, "generator", "director data synth");
    char seed_s[32];
    snprintf(seed_s, sizeof seed_s, "%llu", (unsigned long long)seed);
    cJSON_AddStringToObject(m, "seed", seed_s);
    cJSON_AddNumberToObject(m, "clips", (double)num_clips);
    /* only when not the default, so default datasets keep the bytes they always had */
    if (detector_noise != 1.0f) cJSON_AddNumberToObject(m, "detector_noise", (double)detector_noise);
    cJSON_AddNumberToObject(m, "num_frames", DR_CLIP_FRAMES);
    cJSON_AddNumberToObject(m, "fps", DR_CLIP_FPS);
    cJSON_AddNumberToObject(m, "width", DR_CANVAS_WIDTH);
    cJSON_AddNumberToObject(m, "height", DR_CANVAS_HEIGHT);
    cJSON *splits = cJSON_AddObjectToObject(m, "splits");
    for (int s = 0; s < 3; s++) cJSON_AddNumberToObject(splits, dr_synth_split_names[s], (double)counts[s]);
    cJSON *rule = cJSON_AddObjectToObject(m, "split_rule");
    cJSON_AddStringToObject(rule, "test", "every clip of a held-out (action, place, subject_kind) combination, plus 3% of the rest at random");
    cJSON_AddStringToObject(rule, "val", "5% of the rest at random");
    cJSON *ho = cJSON_AddArrayToObject(m, "heldout_combos");
    for (int h = 0; h < dr_synth_num_heldout_combos; h++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "action", dr_synth_heldout_combos[h].action);
        cJSON_AddStringToObject(c, "place", dr_synth_heldout_combos[h].place);
        cJSON_AddStringToObject(c, "subject_kind", dr_synth_heldout_combos[h].subject_kind);
        cJSON_AddItemToArray(ho, c);
    }
    cJSON *acts = cJSON_AddObjectToObject(m, "actions");
    for (int a = 0; a < DR_SYNTH_NUM_ACTIONS; a++) cJSON_AddNumberToObject(acts, dr_synth_action_names[a], (double)action_counts[a]);
    char *text = cJSON_Print(m);
    cJSON_Delete(m);
    if (!text) return dr_err_set(err, DR_ENOMEM, "meta.json: out of memory");
    char path[4096];
    int rc = dr_path_join(path, sizeof path, dir, "meta.json");
    if (!rc) {
        size_t len = strlen(text);
        text[len] = '\n'; /* cJSON_Print leaves room for the terminator we overwrite */
        rc = dr_write_file_atomic(path, text, len + 1, err);
    } else dr_err_set(err, rc, "%s: path too long", dir);
    free(text);
    return rc;
}

int dr_synth_dataset(const char *out_dir, uint64_t seed, long num_clips, const dr_synth_options *opt,
                     dr_progress *progress, dr_err *err) {
    if (num_clips < 1 || num_clips > 100000000L)
        return dr_err_set(err, DR_EINVAL, "synth: clip count %ld out of range [1, 1e8]", num_clips);
    dr_synth_options def;
    if (!opt) dr_synth_options_default(&def), opt = &def;
    if (!(opt->detector_noise >= 0.0f && opt->detector_noise <= 10.0f))
        return dr_err_set(err, DR_EINVAL, "synth: detector noise %g out of range [0, 10]", (double)opt->detector_noise);
    char tmp[4096];
    int rc = dr_tmpdir_create(out_dir, tmp, sizeof tmp, err);
    if (rc) return rc;
    dr_dataset_writer w[3];
    int opened = 0;
    for (; opened < 3; opened++) {
        rc = dr_dataset_writer_open(&w[opened], tmp, dr_synth_split_names[opened], DR_CLIP_FRAMES, DR_CLIP_FPS,
                                    DR_CANVAS_WIDTH, DR_CANVAS_HEIGHT, err);
        if (rc) break;
    }
    dr_synth_clip *clips = NULL;
    char *json = NULL;
    int *status = NULL;
    long counts[3] = {0, 0, 0}, action_counts[DR_SYNTH_NUM_ACTIONS] = {0};
    if (rc) goto fail;
    clips = malloc(sizeof(dr_synth_clip) * BATCH);
    json = malloc((size_t)JSON_MAX * BATCH);
    status = malloc(sizeof(int) * BATCH);
    if (!clips || !json || !status) {
        rc = dr_err_set(err, DR_ENOMEM, "synth: out of memory");
        goto fail;
    }
    for (long start = 0; start < num_clips; start += BATCH) {
        int n = (int)(num_clips - start < BATCH ? num_clips - start : BATCH);
#pragma omp parallel for schedule(dynamic, 4)
        for (int j = 0; j < n; j++) {
            status[j] = dr_synth_generate(seed, (uint64_t)(start + j), opt, &clips[j], NULL, NULL);
            if (!status[j]) {
                int len = dr_synth_clip_json(&clips[j], (uint64_t)(start + j), json + (size_t)j * JSON_MAX, JSON_MAX);
                if (len < 0) status[j] = len;
            }
        }
        for (int j = 0; j < n; j++) {
            if (status[j]) {
                rc = dr_err_set(err, status[j], "synth: clip %ld could not be made (%s)", start + j, dr_err_name(status[j]));
                goto fail;
            }
            int s = clips[j].split;
            if ((rc = dr_dataset_writer_add(&w[s], clips[j].frames, json + (size_t)j * JSON_MAX, err))) goto fail;
            counts[s]++;
            action_counts[clips[j].action]++;
        }
        if (progress) dr_progress_update(progress, start + n, NULL);
    }
    for (int s = 0; s < 3; s++) {
        rc = dr_dataset_writer_close(&w[s], err);
        opened--;
        if (rc) {
            /* the remaining writers are still open */
            for (int r = s + 1; r < 3; r++) dr_dataset_writer_abort(&w[r]);
            opened = 0;
            goto fail;
        }
    }
    if ((rc = write_meta(tmp, seed, num_clips, opt->detector_noise, counts, action_counts, err))) goto fail;
    free(clips), free(json), free(status);
    return dr_tmpdir_commit(tmp, out_dir, err);
fail:
    for (int s = 0; s < opened; s++) dr_dataset_writer_abort(&w[s]);
    free(clips), free(json), free(status);
    dr_rm_rf(tmp);
    return rc;
}
