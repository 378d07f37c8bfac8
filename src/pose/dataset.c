/* dataset.c - the packed dataset format of pose/dataset.h: a streaming writer that never
 * holds the set in memory and leaves no half-written file, and an mmap reader that checks
 * everything it maps before handing it out. */
#include "pose/dataset.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "dataset.c writes the host's floats directly: little-endian hosts only"
#endif

#define HEADER_SIZE 64
#define MAX_JSONL_BYTES ((size_t)4 << 30)
static const char magic[8] = {'D', 'R', 'P', 'O', 'S', 'E', 'S', '1'};

typedef struct header {
    char magic[8];
    uint32_t version, num_clips, num_frames, num_keypoints;
    float fps;
    uint32_t width, height;
    uint8_t zero[28];
} header;
_Static_assert(sizeof(header) == HEADER_SIZE, "dataset header is 64 bytes");
_Static_assert(sizeof(dr_keypoint) == 12 && sizeof(dr_pose) == 12 * DR_NUM_KEYPOINTS, "packed keypoints");

static int split_path(char *buf, size_t size, const char *dir, const char *split, const char *ext, dr_err *err) {
    char name[64];
    if (!split || !*split || strlen(split) > 40 || strchr(split, '/'))
        return dr_err_set(err, DR_EINVAL, "dataset: bad split name '%s'", split ? split : "");
    snprintf(name, sizeof name, "%s.%s", split, ext);
    if (dr_path_join(buf, size, dir, name)) return dr_err_set(err, DR_ERANGE, "dataset: path too long: %s", dir);
    return DR_OK;
}

/* ---- writer ---- */

int dr_dataset_writer_open(dr_dataset_writer *w, const char *dir, const char *split, int num_frames, float fps,
                           int width, int height, dr_err *err) {
    memset(w, 0, sizeof *w);
    if (num_frames <= 0 || !(fps > 0) || width <= 0 || height <= 0)
        return dr_err_set(err, DR_EINVAL, "dataset writer: bad geometry %d frames, %g fps, %dx%d", num_frames,
                          (double)fps, width, height);
    char p1[4096], p2[4096];
    int rc;
    if ((rc = split_path(p1, sizeof p1, dir, split, "poses", err)) || (rc = split_path(p2, sizeof p2, dir, split, "jsonl", err)))
        return rc;
    if ((rc = dr_atomic_open(&w->poses_file, p1, err))) return rc;
    if ((rc = dr_atomic_open(&w->jsonl_file, p2, err))) {
        dr_atomic_abort(&w->poses_file);
        return rc;
    }
    w->num_frames = num_frames, w->fps = fps, w->width = width, w->height = height;
    header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, magic, 8);
    h.version = 1, h.num_frames = (uint32_t)num_frames, h.num_keypoints = DR_NUM_KEYPOINTS, h.fps = fps;
    h.width = (uint32_t)width, h.height = (uint32_t)height;
    if (fwrite(&h, sizeof h, 1, w->poses_file.fp) != 1) {
        dr_dataset_writer_abort(w);
        return dr_err_set(err, DR_EIO, "%s: write failed: %s", p1, strerror(errno));
    }
    return DR_OK;
}

int dr_dataset_writer_add(dr_dataset_writer *w, const dr_pose *frames, const char *json_line, dr_err *err) {
    if (!w->poses_file.fp) return dr_err_set(err, DR_EINVAL, "dataset writer: not open");
    if (!json_line || !*json_line || strchr(json_line, '\n'))
        return dr_err_set(err, DR_EINVAL, "%s: a caption record must be one non-empty line", w->jsonl_file.path);
    if (w->num_clips == INT32_MAX) return dr_err_set(err, DR_ERANGE, "%s: too many clips", w->poses_file.path);
    for (int i = 0; i < w->num_frames; i++)
        for (int k = 0; k < DR_NUM_KEYPOINTS; k++) {
            const dr_keypoint *p = &frames[i].kp[k];
            if (!isfinite(p->x) || !isfinite(p->y) || !(p->c >= 0 && p->c <= 1) || (p->c == 0 && (p->x != 0 || p->y != 0)))
                return dr_err_set(err, DR_ERANGE, "%s: clip %d frame %d keypoint %d is not a valid keypoint (%g, %g, %g)",
                                  w->poses_file.path, w->num_clips, i, k, (double)p->x, (double)p->y, (double)p->c);
        }
    if (fwrite(frames, sizeof(dr_pose), (size_t)w->num_frames, w->poses_file.fp) != (size_t)w->num_frames)
        return dr_err_set(err, DR_EIO, "%s: write failed: %s", w->poses_file.path, strerror(errno));
    if (fputs(json_line, w->jsonl_file.fp) == EOF || fputc('\n', w->jsonl_file.fp) == EOF)
        return dr_err_set(err, DR_EIO, "%s: write failed: %s", w->jsonl_file.path, strerror(errno));
    w->num_clips++;
    return DR_OK;
}

int dr_dataset_writer_close(dr_dataset_writer *w, dr_err *err) {
    if (!w->poses_file.fp) return dr_err_set(err, DR_EINVAL, "dataset writer: not open");
    uint32_t n = (uint32_t)w->num_clips;
    if (fseek(w->poses_file.fp, 12, SEEK_SET) != 0 || fwrite(&n, 4, 1, w->poses_file.fp) != 1) {
        dr_err_set(err, DR_EIO, "%s: cannot patch the clip count: %s", w->poses_file.path, strerror(errno));
        dr_dataset_writer_abort(w);
        return DR_EIO;
    }
    int rc = dr_atomic_commit(&w->poses_file, err);
    if (rc) {
        dr_atomic_abort(&w->jsonl_file);
        return rc;
    }
    return dr_atomic_commit(&w->jsonl_file, err);
}

void dr_dataset_writer_abort(dr_dataset_writer *w) {
    dr_atomic_abort(&w->poses_file);
    dr_atomic_abort(&w->jsonl_file);
}

/* ---- reader ---- */

void dr_dataset_close(dr_dataset *ds) {
    if (!ds) return;
    for (int i = 0; ds->subject && i < ds->num_clips; i++) free(ds->subject[i]);
    for (int i = 0; ds->prompt && i < ds->num_clips; i++) free(ds->prompt[i]);
    for (int i = 0; ds->action && i < ds->num_clips; i++) free(ds->action[i]);
    free(ds->subject), free(ds->prompt), free(ds->action);
    dr_unmap_file(ds->map_, ds->map_size_);
    memset(ds, 0, sizeof *ds);
}

static int map_poses(dr_dataset *ds, const char *path, dr_err *err) {
    void *map;
    size_t size;
    int rc = dr_map_file(path, HEADER_SIZE, "the poses header", &map, &size, err);
    if (rc) return rc;
    ds->map_ = map;
    ds->map_size_ = size;
    header h;
    memcpy(&h, map, sizeof h);
    if (memcmp(h.magic, magic, 8)) return dr_err_set(err, DR_EFORMAT, "%s: not a director poses file (bad magic)", path);
    if (h.version != 1) return dr_err_set(err, DR_EUNSUPPORTED, "%s: unsupported version %u", path, h.version);
    if (h.num_keypoints != DR_NUM_KEYPOINTS)
        return dr_err_set(err, DR_EFORMAT, "%s: %u keypoints per pose, expected %d", path, h.num_keypoints, DR_NUM_KEYPOINTS);
    if (h.num_frames == 0 || h.num_frames > 100000)
        return dr_err_set(err, DR_EFORMAT, "%s: bad frame count %u", path, h.num_frames);
    if (!(h.fps > 0 && h.fps < 1000)) return dr_err_set(err, DR_EFORMAT, "%s: bad fps %g", path, (double)h.fps);
    if (h.width == 0 || h.height == 0 || h.width > 65536 || h.height > 65536)
        return dr_err_set(err, DR_EFORMAT, "%s: bad canvas %ux%u", path, h.width, h.height);
    if (h.num_clips > INT32_MAX) return dr_err_set(err, DR_EFORMAT, "%s: bad clip count %u", path, h.num_clips);
    size_t clip_bytes = (size_t)h.num_frames * sizeof(dr_pose);
    size_t want = HEADER_SIZE + (size_t)h.num_clips * clip_bytes;
    if (size != want)
        return dr_err_set(err, DR_EFORMAT, "%s: %zu bytes but the header promises %u clips x %u frames = %zu bytes%s", path,
                          size, h.num_clips, h.num_frames, want, size < want ? " (truncated)" : " (trailing data)");
    ds->num_clips = (int)h.num_clips;
    ds->num_frames = (int)h.num_frames;
    ds->fps = h.fps;
    ds->width = (int)h.width;
    ds->height = (int)h.height;
    ds->poses = (const dr_pose *)((const char *)map + HEADER_SIZE);
    /* every keypoint must be a pixel position with a confidence, or exactly missing */
    const float *v = (const float *)ds->poses;
    size_t n = (size_t)h.num_clips * h.num_frames * DR_NUM_KEYPOINTS;
    for (size_t i = 0; i < n; i++, v += 3) {
        bool ok = isfinite(v[0]) && isfinite(v[1]) && v[2] >= 0 && v[2] <= 1 && (v[2] > 0 || (v[0] == 0 && v[1] == 0));
        if (!ok) {
            size_t clip = i / ((size_t)h.num_frames * DR_NUM_KEYPOINTS);
            return dr_err_set(err, DR_EFORMAT, "%s: clip %zu frame %zu keypoint %zu is invalid (%g, %g, %g)", path, clip,
                              (i / DR_NUM_KEYPOINTS) % h.num_frames, i % DR_NUM_KEYPOINTS, (double)v[0], (double)v[1],
                              (double)v[2]);
        }
    }
    return DR_OK;
}

static char *json_string_field(const cJSON *o, const char *key) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(it) || !it->valuestring) return NULL;
    return strdup(it->valuestring);
}

static int read_captions(dr_dataset *ds, const char *path, dr_err *err) {
    char *text;
    size_t size;
    int rc = dr_read_file(path, MAX_JSONL_BYTES, &text, &size, err);
    if (rc) return rc;
    int n = ds->num_clips;
    ds->subject = calloc((size_t)n + 1, sizeof(char *));
    ds->prompt = calloc((size_t)n + 1, sizeof(char *));
    ds->action = calloc((size_t)n + 1, sizeof(char *));
    if (!ds->subject || !ds->prompt || !ds->action) {
        free(text);
        return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    }
    if (memchr(text, 0, size)) {
        free(text);
        return dr_err_set(err, DR_EFORMAT, "%s: contains a NUL byte", path);
    }
    char *p = text, *end = text + size;
    int line = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        *le = 0;
        if (le == p) { /* tolerate blank lines only at the very end */
            p = le + 1;
            if (p < end) {
                free(text);
                return dr_err_set(err, DR_EFORMAT, "%s: line %d is empty", path, line + 1);
            }
            break;
        }
        if (line >= n) {
            free(text);
            return dr_err_set(err, DR_EFORMAT, "%s: more caption lines than the %d clips of the poses file", path, n);
        }
        cJSON *o = cJSON_Parse(p);
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            free(text);
            return dr_err_set(err, DR_EFORMAT, "%s: line %d is not a JSON object", path, line + 1);
        }
        ds->subject[line] = json_string_field(o, "subject");
        ds->prompt[line] = json_string_field(o, "prompt");
        ds->action[line] = json_string_field(o, "action");
        cJSON_Delete(o);
        if (!ds->subject[line] || !ds->prompt[line] || !ds->action[line]) {
            free(text);
            return dr_err_set(err, DR_EFORMAT, "%s: line %d lacks a string \"subject\", \"prompt\" or \"action\"", path, line + 1);
        }
        line++;
        p = le + 1;
    }
    free(text);
    if (line != n)
        return dr_err_set(err, DR_EFORMAT, "%s: %d caption lines for %d clips in the poses file", path, line, n);
    return DR_OK;
}

int dr_dataset_open(dr_dataset *ds, const char *dir, const char *split, dr_err *err) {
    memset(ds, 0, sizeof *ds);
    char pp[4096], jp[4096];
    int rc;
    if ((rc = split_path(pp, sizeof pp, dir, split, "poses", err)) || (rc = split_path(jp, sizeof jp, dir, split, "jsonl", err)))
        return rc;
    if ((rc = map_poses(ds, pp, err)) || (rc = read_captions(ds, jp, err))) {
        int n = ds->num_clips;
        /* free what was read so far: captions arrays may be partly filled */
        ds->num_clips = ds->subject ? n : 0;
        dr_dataset_close(ds);
        return rc;
    }
    return DR_OK;
}
