/* dataset_import.c - fitting sequences to the clip geometry and appending them to a dataset. */
#include "pose/dataset_import.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/fsutil.h"
#include "models/prompt.h"
#include "pose/dataset.h"

int dr_clip_fit(const dr_pose_seq *seq, int num_frames, float fps, int width, int height, dr_pose *out, dr_err *err) {
    if (num_frames <= 0 || !(fps > 0) || width <= 0 || height <= 0)
        return dr_err_set(err, DR_EINVAL, "clip fit: bad target geometry");
    if (seq->num_frames <= 0 || !(seq->fps > 0) || seq->width <= 0 || seq->height <= 0)
        return dr_err_set(err, DR_EINVAL, "clip fit: the sequence has %d frames at %g fps on %dx%d", seq->num_frames,
                          (double)seq->fps, seq->width, seq->height);
    float scale = fminf((float)width / (float)seq->width, (float)height / (float)seq->height);
    float ox = 0.5f * ((float)width - (float)seq->width * scale), oy = 0.5f * ((float)height - (float)seq->height * scale);
    memset(out, 0, sizeof(dr_pose) * (size_t)num_frames);
    for (int j = 0; j < num_frames; j++) {
        double s = (double)j / fps * seq->fps; /* source frame position */
        if (s > seq->num_frames - 1 + 1e-6) break;   /* past the end: padded with missing frames */
        int i0 = (int)floor(s), i1 = i0 + 1 < seq->num_frames ? i0 + 1 : i0;
        float w = (float)(s - i0);
        for (int k = 0; k < DR_NUM_KEYPOINTS; k++) {
            const dr_keypoint *a = &seq->frames[i0].kp[k], *b = &seq->frames[i1].kp[k];
            dr_keypoint p;
            if (a->c > 0 && b->c > 0) {
                p.x = a->x + w * (b->x - a->x), p.y = a->y + w * (b->y - a->y), p.c = a->c + w * (b->c - a->c);
            } else if (w < 0.5f ? a->c > 0 : b->c > 0) {
                p = w < 0.5f ? *a : *b;
            } else continue;
            float x = ox + p.x * scale, y = oy + p.y * scale;
            if (!(x >= 0 && x < (float)width && y >= 0 && y < (float)height) || !(p.c > 0)) continue;
            out[j].kp[k] = (dr_keypoint){x, y, p.c > 1 ? 1 : p.c};
        }
    }
    return DR_OK;
}

/* meta.json of the folder (a new object when absent); NULL with err set when unreadable. */
static cJSON *load_meta(const char *path, dr_err *err) {
    if (!dr_file_exists(path)) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "format", "director-dataset");
        cJSON_AddNumberToObject(m, "version", 1);
        cJSON_AddNumberToObject(m, "clips", 0);
        cJSON_AddNumberToObject(m, "num_frames", DR_CLIP_FRAMES);
        cJSON_AddNumberToObject(m, "fps", DR_CLIP_FPS);
        cJSON_AddNumberToObject(m, "width", DR_CANVAS_WIDTH);
        cJSON_AddNumberToObject(m, "height", DR_CANVAS_HEIGHT);
        cJSON_AddObjectToObject(m, "splits");
        return m;
    }
    char *text;
    size_t size;
    if (dr_read_file(path, 16u << 20, &text, &size, err)) return NULL;
    cJSON *m = cJSON_ParseWithLength(text, size);
    free(text);
    const cJSON *fmt = m ? cJSON_GetObjectItemCaseSensitive(m, "format") : NULL;
    if (!cJSON_IsObject(m) || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, "director-dataset")) {
        cJSON_Delete(m);
        dr_err_set(err, DR_EFORMAT, "%s: not a director dataset meta.json", path);
        return NULL;
    }
    return m;
}

static void set_number(cJSON *obj, const char *key, double v) {
    cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsNumber(it)) cJSON_SetNumberValue(it, v);
    else {
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
        cJSON_AddNumberToObject(obj, key, v);
    }
}

static double get_number(const cJSON *obj, const char *key) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(it) ? it->valuedouble : 0;
}

int dr_dataset_append(const char *dir, const char *split, const dr_import_item *items, int n, long *first_id,
                      dr_err *err) {
    if (n <= 0) return dr_err_set(err, DR_EINVAL, "import: nothing to add");
    if (strcmp(split, "train") && strcmp(split, "val") && strcmp(split, "test"))
        return dr_err_set(err, DR_EINVAL, "import: split must be train, val or test, not '%s'", split);
    int rc = dr_mkdir_p(dir, err);
    if (rc) return rc;
    char meta_path[4096], jsonl_path[4096], name[32];
    snprintf(name, sizeof name, "%s.jsonl", split);
    if (dr_path_join(meta_path, sizeof meta_path, dir, "meta.json") || dr_path_join(jsonl_path, sizeof jsonl_path, dir, name))
        return dr_err_set(err, DR_ERANGE, "import: path too long: %s", dir);
    cJSON *meta = load_meta(meta_path, err);
    if (!meta) return err ? err->code : DR_EFORMAT;

    /* the existing split, if any: its clips and raw caption lines are copied first */
    dr_dataset old;
    bool have_old = false;
    char *old_lines = NULL;
    size_t old_size = 0;
    rc = dr_dataset_open(&old, dir, split, err);
    if (rc == DR_OK) {
        have_old = true;
        if (old.num_frames != DR_CLIP_FRAMES || old.width != DR_CANVAS_WIDTH || old.height != DR_CANVAS_HEIGHT ||
            old.fps != DR_CLIP_FPS) {
            rc = dr_err_set(err, DR_EUNSUPPORTED, "%s: split %s has %d frames at %g fps on %dx%d; import writes %d at %d on %dx%d",
                            dir, split, old.num_frames, (double)old.fps, old.width, old.height, DR_CLIP_FRAMES, DR_CLIP_FPS,
                            DR_CANVAS_WIDTH, DR_CANVAS_HEIGHT);
            goto done;
        }
        if ((rc = dr_read_file(jsonl_path, (size_t)4 << 30, &old_lines, &old_size, err))) goto done;
    } else if (rc != DR_ENOTFOUND) {
        goto done;
    }
    long base = (long)get_number(meta, "clips");
    if (first_id) *first_id = base;

    dr_dataset_writer w;
    if ((rc = dr_dataset_writer_open(&w, dir, split, DR_CLIP_FRAMES, DR_CLIP_FPS, DR_CANVAS_WIDTH, DR_CANVAS_HEIGHT, err)))
        goto done;
    dr_pose *frames = malloc(sizeof(dr_pose) * DR_CLIP_FRAMES);
    if (!frames) {
        dr_dataset_writer_abort(&w);
        rc = dr_err_set(err, DR_ENOMEM, "import: out of memory");
        goto done;
    }
    if (have_old) {
        char *p = old_lines, *end = old_lines + old_size;
        for (int c = 0; c < old.num_clips && !rc; c++) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            if (nl) *nl = 0;
            rc = dr_dataset_writer_add(&w, dr_dataset_clip(&old, c), p, err);
            p = nl ? nl + 1 : end;
        }
    }
    for (int i = 0; i < n && !rc; i++) {
        const char *name_i = items[i].source ? items[i].source : "sequence";
        dr_prompt pr;
        if (!items[i].caption) {
            rc = dr_err_set(err, DR_EINVAL, "%s: no caption", name_i);
            break;
        }
        if ((rc = dr_prompt_parse(&pr, items[i].caption, strlen(items[i].caption), err))) {
            dr_err_prefix(err, "%s: caption: ", name_i);
            break;
        }
        if ((rc = dr_clip_fit(items[i].seq, DR_CLIP_FRAMES, DR_CLIP_FPS, DR_CANVAS_WIDTH, DR_CANVAS_HEIGHT, frames, err))) {
            dr_err_prefix(err, "%s: ", name_i);
            dr_prompt_free(&pr);
            break;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)(base + i));
        cJSON_AddStringToObject(o, "subject", pr.subject);
        cJSON_AddStringToObject(o, "prompt", pr.full);
        cJSON_AddStringToObject(o, "action", items[i].action ? items[i].action : "unknown");
        cJSON_AddStringToObject(o, "source", name_i);
        cJSON_AddNumberToObject(o, "source_frames", items[i].seq->num_frames);
        cJSON_AddNumberToObject(o, "source_fps", items[i].seq->fps);
        cJSON_AddStringToObject(o, "split", split);
        char *line = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        dr_prompt_free(&pr);
        if (!line) {
            rc = dr_err_set(err, DR_ENOMEM, "import: out of memory");
            break;
        }
        rc = dr_dataset_writer_add(&w, frames, line, err);
        free(line);
    }
    free(frames);
    if (rc) {
        dr_dataset_writer_abort(&w);
        goto done;
    }
    /* the split files first, then meta.json with the new counts */
    set_number(meta, "clips", (double)(base + n));
    cJSON *splits = cJSON_GetObjectItemCaseSensitive(meta, "splits");
    if (!cJSON_IsObject(splits)) {
        cJSON_DeleteItemFromObjectCaseSensitive(meta, "splits");
        splits = cJSON_AddObjectToObject(meta, "splits");
    }
    set_number(splits, split, (double)w.num_clips);
    set_number(meta, "imported", get_number(meta, "imported") + n);
    char *text = cJSON_Print(meta);
    if (!text) {
        dr_dataset_writer_abort(&w);
        rc = dr_err_set(err, DR_ENOMEM, "import: out of memory");
        goto done;
    }
    rc = dr_dataset_writer_close(&w, err);
    if (!rc) rc = dr_write_file_atomic(meta_path, text, strlen(text), err);
    free(text);
done:
    if (have_old) dr_dataset_close(&old);
    free(old_lines);
    cJSON_Delete(meta);
    return rc;
}
