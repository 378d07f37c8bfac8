#include "pose/seqio.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "core/fsutil.h"

#define SEQ_FORMAT_NAME "director-pose-sequence"

const char *dr_pose_format_name(dr_pose_format fmt) {
    switch (fmt) {
    case DR_POSE_FORMAT_SEQUENCE: return "director pose sequence";
    case DR_POSE_FORMAT_OPENPOSE_DIR: return "OpenPose JSON folder";
    case DR_POSE_FORMAT_OPENPOSE_FILE: return "OpenPose JSON file";
    case DR_POSE_FORMAT_BVH: return "BVH motion capture";
    case DR_POSE_FORMAT_DATASET: return "director dataset";
    default: return "unknown";
    }
}

/* ---- shared checks -------------------------------------------------------- */

/* One keypoint from a file: finite, within the coordinate limit, confidence in [0, 1].
 * A zero confidence means missing, stored as exactly (0, 0, 0). */
static int set_keypoint(dr_keypoint *k, double x, double y, double c, const char *name, long frame, int j,
                        dr_err *err) {
    if (!isfinite(x) || !isfinite(y) || !isfinite(c))
        return dr_err_set(err, DR_ERANGE, "%s: frame %ld keypoint %d (%s): non-finite value", name, frame, j,
                          dr_keypoint_names[j]);
    if (fabs(x) > DR_POSE_COORD_LIMIT || fabs(y) > DR_POSE_COORD_LIMIT)
        return dr_err_set(err, DR_ERANGE, "%s: frame %ld keypoint %d (%s): coordinate (%g, %g) beyond +-%g pixels",
                          name, frame, j, dr_keypoint_names[j], x, y, (double)DR_POSE_COORD_LIMIT);
    if (c < 0.0 || c > 1.0)
        return dr_err_set(err, DR_ERANGE, "%s: frame %ld keypoint %d (%s): confidence %g outside [0, 1]", name,
                          frame, j, dr_keypoint_names[j], c);
    if (c == 0.0) x = y = 0.0;
    k->x = (float)x, k->y = (float)y, k->c = (float)c;
    return DR_OK;
}

static int check_canvas(double w, double h, const char *name, dr_err *err) {
    if (!(w >= 1 && w <= DR_SEQ_MAX_CANVAS && h >= 1 && h <= DR_SEQ_MAX_CANVAS) || w != floor(w) || h != floor(h))
        return dr_err_set(err, DR_ERANGE, "%s: canvas %gx%g is not a whole size in [1, %d]", name, w, h,
                          DR_SEQ_MAX_CANVAS);
    return DR_OK;
}

static int check_fps(double fps, const char *name, dr_err *err) {
    if (!(fps > 0 && fps <= DR_SEQ_MAX_FPS))
        return dr_err_set(err, DR_ERANGE, "%s: fps %g outside (0, %g]", name, fps, (double)DR_SEQ_MAX_FPS);
    return DR_OK;
}

int dr_seq_validate(const dr_pose_seq *seq, const char *name, dr_err *err) {
    int rc;
    if ((rc = check_canvas(seq->width, seq->height, name, err)) || (rc = check_fps(seq->fps, name, err))) return rc;
    if (seq->num_frames <= 0 || seq->num_frames > DR_SEQ_MAX_FRAMES)
        return dr_err_set(err, DR_ERANGE, "%s: %d frames (expected 1..%d)", name, seq->num_frames, DR_SEQ_MAX_FRAMES);
    for (int f = 0; f < seq->num_frames; f++)
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
            const dr_keypoint *k = &seq->frames[f].kp[j];
            dr_keypoint tmp;
            if ((rc = set_keypoint(&tmp, k->x, k->y, k->c, name, f, j, err))) return rc;
        }
    for (int i = 0; i < seq->num_keyframes; i++) {
        int kf = seq->keyframes[i];
        if (kf < 0 || kf >= seq->num_frames || (i > 0 && kf <= seq->keyframes[i - 1]))
            return dr_err_set(err, DR_ERANGE, "%s: key frame %d (index %d) is not increasing within [0, %d)", name, kf,
                              i, seq->num_frames);
    }
    return DR_OK;
}

/* ---- director pose-sequence JSON: writing ----------------------------------- */

static void write_json_string(FILE *fp, const char *s) {
    fputc('"', fp);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(fp, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", fp);
        else if (*p == '\t') fputs("\\t", fp);
        else if (*p < 0x20) fprintf(fp, "\\u%04x", *p);
        else fputc(*p, fp);
    }
    fputc('"', fp);
}

/* %.9g prints every float so that strtod + (float) gives it back bit for bit. */
static void write_keypoint(FILE *fp, const dr_keypoint *k) {
    fprintf(fp, "[%.9g, %.9g, %.9g]", (double)k->x, (double)k->y, (double)k->c);
}

int dr_seq_write_json(const char *path, const dr_pose_seq *seq, dr_err *err) {
    int rc = dr_seq_validate(seq, path, err);
    if (rc) return rc;
    dr_atomic_file af;
    if ((rc = dr_atomic_open(&af, path, err))) return rc;
    FILE *fp = af.fp;
    fprintf(fp, "{\"format\": \"%s\", \"version\": 1, \"fps\": %.9g, \"width\": %d, \"height\": %d, "
                "\"skeleton\": \"coco18\",\n",
            SEQ_FORMAT_NAME, (double)seq->fps, seq->width, seq->height);
    if (seq->prompt) {
        fputs(" \"prompt\": ", fp);
        write_json_string(fp, seq->prompt);
        fputs(",\n", fp);
    }
    if (seq->num_keyframes > 0) {
        fputs(" \"keyframes\": [", fp);
        for (int i = 0; i < seq->num_keyframes; i++) fprintf(fp, "%s%d", i ? ", " : "", seq->keyframes[i]);
        fputs("],\n", fp);
    }
    fputs(" \"frames\": [\n", fp);
    for (int f = 0; f < seq->num_frames; f++) {
        fputs("  [", fp);
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
            if (j) fputs(", ", fp);
            write_keypoint(fp, &seq->frames[f].kp[j]);
        }
        fputs(f + 1 < seq->num_frames ? "],\n" : "]\n", fp);
    }
    fputs(" ]}\n", fp);
    return dr_atomic_commit(&af, err);
}

/* ---- director pose-sequence JSON: reading ----------------------------------- */

static int parse_json(const char *text, size_t len, const char *name, cJSON **out, dr_err *err) {
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!*out) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        size_t line = 1;
        for (size_t i = 0; i < at && i < len; i++) line += text[i] == '\n';
        return dr_err_set(err, DR_EFORMAT, "%s: malformed JSON near byte %zu (line %zu)", name, at, line);
    }
    return DR_OK;
}

/* A frame: an array of 18 arrays of 3 numbers. */
static int parse_frame_array(const cJSON *fr, const char *name, long f, dr_pose *pose, dr_err *err) {
    if (!cJSON_IsArray(fr)) return dr_err_set(err, DR_EFORMAT, "%s: frame %ld is not an array", name, f);
    int n = cJSON_GetArraySize(fr);
    if (n != DR_NUM_KEYPOINTS)
        return dr_err_set(err, DR_EFORMAT, "%s: frame %ld has %d keypoints (expected %d)", name, f, n,
                          DR_NUM_KEYPOINTS);
    int j = 0;
    const cJSON *kp;
    cJSON_ArrayForEach(kp, fr) {
        double v[3];
        int m = 0;
        const cJSON *num;
        if (cJSON_IsArray(kp)) {
            cJSON_ArrayForEach(num, kp) {
                if (m >= 3 || !cJSON_IsNumber(num)) { m = -1; break; }
                v[m++] = num->valuedouble;
            }
        }
        if (m != 3)
            return dr_err_set(err, DR_EFORMAT, "%s: frame %ld keypoint %d is not [x, y, confidence]", name, f, j);
        int rc = set_keypoint(&pose->kp[j], v[0], v[1], v[2], name, f, j, err);
        if (rc) return rc;
        j++;
    }
    return DR_OK;
}

static int get_number(const cJSON *root, const char *key, const char *name, double *out, dr_err *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsNumber(it)) return dr_err_set(err, DR_EFORMAT, "%s: \"%s\" missing or not a number", name, key);
    *out = it->valuedouble;
    return DR_OK;
}

int dr_seq_parse_json(const char *text, size_t len, const char *name, dr_pose_seq *seq, dr_err *err) {
    memset(seq, 0, sizeof *seq);
    cJSON *root;
    int rc = parse_json(text, len, name, &root, err);
    if (rc) return rc;
    double version = 0, fps = 0, w = 0, h = 0;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *skel = cJSON_GetObjectItemCaseSensitive(root, "skeleton");
    const cJSON *frames = cJSON_GetObjectItemCaseSensitive(root, "frames");
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(root, "prompt");
    const cJSON *keyframes = cJSON_GetObjectItemCaseSensitive(root, "keyframes");
    if (!cJSON_IsObject(root) || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, SEQ_FORMAT_NAME)) {
        rc = dr_err_set(err, DR_EFORMAT, "%s: not a director pose sequence (\"format\" must be \"%s\")", name,
                        SEQ_FORMAT_NAME);
        goto done;
    }
    if ((rc = get_number(root, "version", name, &version, err))) goto done;
    if (version != 1) {
        rc = dr_err_set(err, DR_EUNSUPPORTED, "%s: version %g not supported (this reader knows version 1)", name,
                        version);
        goto done;
    }
    if (skel && (!cJSON_IsString(skel) || strcmp(skel->valuestring, "coco18"))) {
        rc = dr_err_set(err, DR_EUNSUPPORTED, "%s: skeleton must be \"coco18\"", name);
        goto done;
    }
    if ((rc = get_number(root, "fps", name, &fps, err)) || (rc = check_fps(fps, name, err)) ||
        (rc = get_number(root, "width", name, &w, err)) || (rc = get_number(root, "height", name, &h, err)) ||
        (rc = check_canvas(w, h, name, err)))
        goto done;
    if (!cJSON_IsArray(frames)) {
        rc = dr_err_set(err, DR_EFORMAT, "%s: \"frames\" missing or not an array", name);
        goto done;
    }
    int n = cJSON_GetArraySize(frames);
    if (n <= 0 || n > DR_SEQ_MAX_FRAMES) {
        rc = dr_err_set(err, DR_EFORMAT, "%s: %d frames (expected 1..%d)", name, n, DR_SEQ_MAX_FRAMES);
        goto done;
    }
    if ((rc = dr_pose_seq_alloc(seq, n, (float)fps, (int)w, (int)h))) {
        rc = dr_err_set(err, rc, "%s: out of memory for %d frames", name, n);
        goto done;
    }
    long f = 0;
    const cJSON *fr;
    cJSON_ArrayForEach(fr, frames) {
        if ((rc = parse_frame_array(fr, name, f, &seq->frames[f], err))) goto done;
        f++;
    }
    if (prompt && !cJSON_IsNull(prompt)) {
        if (!cJSON_IsString(prompt)) {
            rc = dr_err_set(err, DR_EFORMAT, "%s: \"prompt\" is not a string", name);
            goto done;
        }
        if ((rc = dr_pose_seq_set_prompt(seq, prompt->valuestring))) goto done;
    }
    if (keyframes && !cJSON_IsNull(keyframes)) {
        int nk = cJSON_IsArray(keyframes) ? cJSON_GetArraySize(keyframes) : -1;
        if (nk < 0 || nk > n) {
            rc = dr_err_set(err, DR_EFORMAT, "%s: \"keyframes\" is not an array of at most %d indices", name, n);
            goto done;
        }
        seq->keyframes = malloc((size_t)(nk > 0 ? nk : 1) * sizeof(int));
        if (!seq->keyframes) {
            rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", name);
            goto done;
        }
        const cJSON *k;
        cJSON_ArrayForEach(k, keyframes) {
            double v = cJSON_IsNumber(k) ? k->valuedouble : -1;
            if (!(v >= 0 && v < n && v == floor(v)) || (seq->num_keyframes > 0 && v <= seq->keyframes[seq->num_keyframes - 1])) {
                rc = dr_err_set(err, DR_ERANGE, "%s: key frame %d is not an increasing frame index in [0, %d)", name,
                                seq->num_keyframes, n);
                goto done;
            }
            seq->keyframes[seq->num_keyframes++] = (int)v;
        }
    }
done:
    cJSON_Delete(root);
    if (rc) dr_pose_seq_free(seq);
    return rc;
}

int dr_seq_read_json(const char *path, dr_pose_seq *seq, dr_err *err) {
    memset(seq, 0, sizeof *seq);
    char *text;
    size_t len;
    int rc = dr_read_file(path, DR_SEQ_MAX_FILE_BYTES, &text, &len, err);
    if (rc) return rc;
    rc = dr_seq_parse_json(text, len, path, seq, err);
    free(text);
    return rc;
}

/* ---- OpenPose JSON ---------------------------------------------------------- */

/* OpenPose BODY_25 index of each COCO-18 keypoint (BODY_25 adds MidHip at 8 and feet). */
static const uint8_t body25_to_coco[DR_NUM_KEYPOINTS] = {0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};

static float pose_bbox_area(const dr_pose *p) {
    float x0, y0, x1, y1;
    if (!dr_pose_bbox(p, &x0, &y0, &x1, &y1)) return -1.0f;
    return (x1 - x0) * (y1 - y0);
}

int dr_openpose_parse_frame(const char *text, size_t len, const char *name, dr_pose *pose, int *canvas_w,
                            int *canvas_h, dr_err *err) {
    memset(pose, 0, sizeof *pose);
    *canvas_w = *canvas_h = 0;
    cJSON *root;
    int rc = parse_json(text, len, name, &root, err);
    if (rc) return rc;
    const cJSON *people = cJSON_GetObjectItemCaseSensitive(root, "people");
    if (!cJSON_IsObject(root) || !cJSON_IsArray(people)) {
        rc = dr_err_set(err, DR_EFORMAT, "%s: not an OpenPose frame (no \"people\" array)", name);
        goto done;
    }
    const cJSON *cw = cJSON_GetObjectItemCaseSensitive(root, "canvas_width");
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(root, "canvas_height");
    if (cJSON_IsNumber(cw) && cJSON_IsNumber(ch)) {
        if ((rc = check_canvas(cw->valuedouble, ch->valuedouble, name, err))) goto done;
        *canvas_w = (int)cw->valuedouble, *canvas_h = (int)ch->valuedouble;
    }
    /* Several people: keep the one with the largest keypoint bounding box (the paper's
     * rule for clips with bystanders). */
    float best_area = -2.0f;
    int person = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, people) {
        const cJSON *kps = cJSON_GetObjectItemCaseSensitive(p, "pose_keypoints_2d");
        int n = cJSON_IsArray(kps) ? cJSON_GetArraySize(kps) : -1;
        if (n != 3 * DR_NUM_KEYPOINTS && n != 3 * 25) {
            rc = dr_err_set(err, DR_EFORMAT,
                            "%s: person %d: pose_keypoints_2d %s (expected 54 numbers for COCO-18 or 75 for BODY_25)",
                            name, person, n < 0 ? "missing or not an array" : "has the wrong count");
            goto done;
        }
        double v[75];
        int m = 0;
        const cJSON *num;
        cJSON_ArrayForEach(num, kps) {
            if (!cJSON_IsNumber(num)) {
                rc = dr_err_set(err, DR_EFORMAT, "%s: person %d: pose_keypoints_2d[%d] is not a number", name, person, m);
                goto done;
            }
            v[m++] = num->valuedouble;
        }
        dr_pose cand;
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
            int s = n == 75 ? body25_to_coco[j] : j;
            if ((rc = set_keypoint(&cand.kp[j], v[3 * s], v[3 * s + 1], v[3 * s + 2], name, 0, j, err))) goto done;
        }
        float area = pose_bbox_area(&cand);
        if (area > best_area) best_area = area, *pose = cand;
        person++;
    }
done:
    cJSON_Delete(root);
    if (rc) memset(pose, 0, sizeof *pose);
    return rc;
}

static int write_openpose_frame(const char *path, const dr_pose *pose, int width, int height, dr_err *err) {
    dr_atomic_file af;
    int rc = dr_atomic_open(&af, path, err);
    if (rc) return rc;
    FILE *fp = af.fp;
    /* The layout OpenPose 1.5+ --write_json produces; canvas_* as ComfyUI adds them. */
    fprintf(fp, "{\"version\":1.3,\"canvas_width\":%d,\"canvas_height\":%d,\"people\":[", width, height);
    if (dr_pose_count_present(pose) > 0) {
        fputs("{\"person_id\":[-1],\"pose_keypoints_2d\":[", fp);
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++)
            fprintf(fp, "%s%.9g,%.9g,%.9g", j ? "," : "", (double)pose->kp[j].x, (double)pose->kp[j].y,
                    (double)pose->kp[j].c);
        fputs("],\"face_keypoints_2d\":[],\"hand_left_keypoints_2d\":[],\"hand_right_keypoints_2d\":[],"
              "\"pose_keypoints_3d\":[],\"face_keypoints_3d\":[],\"hand_left_keypoints_3d\":[],"
              "\"hand_right_keypoints_3d\":[]}",
              fp);
    }
    fputs("]}\n", fp);
    return dr_atomic_commit(&af, err);
}

int dr_openpose_write_dir(const char *dir, const dr_pose_seq *seq, const char *prefix, dr_err *err) {
    int rc = dr_seq_validate(seq, dir, err);
    if (rc) return rc;
    if (!prefix) prefix = "pose";
    if (!*prefix || strchr(prefix, '/')) return dr_err_set(err, DR_EINVAL, "%s: bad file prefix '%s'", dir, prefix);
    char tmp[4096], path[4096], file[512];
    if ((rc = dr_tmpdir_create(dir, tmp, sizeof tmp, err))) return rc;
    dr_dir_default_mode(tmp);
    for (int f = 0; f < seq->num_frames && !rc; f++) {
        snprintf(file, sizeof file, "%s_%012d_keypoints.json", prefix, f);
        if (dr_path_join(path, sizeof path, tmp, file)) rc = dr_err_set(err, DR_ERANGE, "%s: path too long", dir);
        else rc = write_openpose_frame(path, &seq->frames[f], seq->width, seq->height, err);
    }
    if (!rc) rc = dr_tmpdir_commit(tmp, dir, err);
    if (rc) dr_rm_rf(tmp);
    return rc;
}

/* Temporary folders are created private (mkdtemp, 0700); a finished output folder gets
 * the permissions a plain mkdir would have given it. */
void dr_dir_default_mode(const char *path) {
    mode_t mask = umask(0);
    umask(mask);
    chmod(path, 0777 & ~mask);
}

/* A frame file in a folder and the frame number in its name. */
typedef struct frame_file {
    unsigned long long number;
    char *name;
} frame_file;

static int cmp_frame_file(const void *a, const void *b) {
    const frame_file *x = a, *y = b;
    return x->number < y->number ? -1 : x->number > y->number;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* The last run of digits in a file name: "clip01_000000000012_keypoints.json" -> 12. */
static bool frame_number(const char *name, unsigned long long *out) {
    const char *end = NULL, *start = NULL;
    for (const char *p = name; *p; p++)
        if (isdigit((unsigned char)*p)) {
            if (!end || p != end) start = p;
            end = p + 1;
        }
    if (!start || end - start > 18) return false;
    unsigned long long v = 0;
    for (const char *p = start; p < end; p++) v = v * 10 + (unsigned)(*p - '0');
    *out = v;
    return true;
}

static void free_frame_files(frame_file *files, size_t n) {
    for (size_t i = 0; i < n; i++) free(files[i].name);
    free(files);
}

/* The .json files of a folder, sorted by frame number; error on duplicates or names
 * without a number. */
static int list_frame_files(const char *dir, frame_file **out, size_t *count, dr_err *err) {
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return dr_err_set(err, DR_EIO, "%s: cannot open folder: %s", dir, strerror(errno));
    frame_file *files = NULL;
    size_t n = 0, cap = 0;
    int rc = DR_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, ".json")) continue;
        if (n >= DR_SEQ_MAX_FRAMES) {
            rc = dr_err_set(err, DR_ERANGE, "%s: more than %d frame files", dir, DR_SEQ_MAX_FRAMES);
            break;
        }
        unsigned long long num;
        if (!frame_number(e->d_name, &num)) {
            rc = dr_err_set(err, DR_EFORMAT, "%s: '%s' has no frame number in its name", dir, e->d_name);
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            frame_file *grown = realloc(files, cap * sizeof *files);
            if (!grown) { rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", dir); break; }
            files = grown;
        }
        files[n].number = num;
        if (!(files[n].name = strdup(e->d_name))) { rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", dir); break; }
        n++;
    }
    closedir(d);
    if (!rc && n == 0) rc = dr_err_set(err, DR_EFORMAT, "%s: no OpenPose .json frame files in the folder", dir);
    if (!rc) {
        qsort(files, n, sizeof *files, cmp_frame_file);
        for (size_t i = 1; i < n && !rc; i++)
            if (files[i].number == files[i - 1].number)
                rc = dr_err_set(err, DR_EFORMAT, "%s: '%s' and '%s' have the same frame number %llu", dir,
                                files[i - 1].name, files[i].name, files[i].number);
    }
    if (rc) {
        free_frame_files(files, n);
        return rc;
    }
    *out = files;
    *count = n;
    return DR_OK;
}

static int read_openpose_dir(const char *dir, const dr_pose_read_opts *opts, dr_pose_seq *seq, dr_err *err) {
    frame_file *files;
    size_t n;
    int rc = list_frame_files(dir, &files, &n, err);
    if (rc) return rc;
    if ((rc = dr_pose_seq_alloc(seq, (int)n, opts->fps, opts->width, opts->height))) {
        free_frame_files(files, n);
        return dr_err_set(err, rc, "%s: out of memory", dir);
    }
    int canvas_w = 0, canvas_h = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char path[4096], *text = NULL;
        size_t len;
        int cw, chh;
        if (dr_path_join(path, sizeof path, dir, files[i].name)) {
            rc = dr_err_set(err, DR_ERANGE, "%s: path too long", dir);
            break;
        }
        if ((rc = dr_read_file(path, DR_OPENPOSE_MAX_FILE_BYTES, &text, &len, err))) break;
        rc = dr_openpose_parse_frame(text, len, path, &seq->frames[i], &cw, &chh, err);
        free(text);
        if (rc) break;
        if (cw > 0) {
            if (canvas_w > 0 && (cw != canvas_w || chh != canvas_h))
                rc = dr_err_set(err, DR_EFORMAT, "%s: canvas %dx%d differs from the earlier frames' %dx%d", path, cw,
                                chh, canvas_w, canvas_h);
            canvas_w = cw, canvas_h = chh;
        }
    }
    free_frame_files(files, n);
    if (rc) {
        dr_pose_seq_free(seq);
        return rc;
    }
    if (canvas_w > 0) seq->width = canvas_w, seq->height = canvas_h;
    return DR_OK;
}

/* ---- director dataset (pose/dataset.h layout) --------------------------------- */

static uint32_t rd_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float rd_f32(const unsigned char *p) {
    uint32_t u = rd_u32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* The prompt of clip `clip` from the S.jsonl next to a S.poses file, or NULL. */
static char *dataset_prompt(const char *poses_path, int clip) {
    char path[4096];
    size_t n = strlen(poses_path);
    if (n < 6 || n + 1 > sizeof path || !ends_with(poses_path, ".poses")) return NULL;
    memcpy(path, poses_path, n - 6);
    strcpy(path + n - 6, ".jsonl");
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *line = NULL, *prompt = NULL;
    size_t cap = 0;
    for (int i = 0; getline(&line, &cap, fp) >= 0; i++) {
        if (i < clip) continue;
        cJSON *obj = cJSON_Parse(line);
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(obj, "prompt");
        if (cJSON_IsString(p)) prompt = strdup(p->valuestring);
        cJSON_Delete(obj);
        break;
    }
    free(line);
    fclose(fp);
    return prompt;
}

static int read_dataset_clip(const char *path, const dr_pose_read_opts *opts, dr_pose_seq *seq, dr_err *err) {
    char poses[4096];
    if (dr_is_dir(path)) {
        char file[128];
        snprintf(file, sizeof file, "%s.poses", opts->split ? opts->split : "train");
        if (dr_path_join(poses, sizeof poses, path, file)) return dr_err_set(err, DR_ERANGE, "%s: path too long", path);
    } else {
        snprintf(poses, sizeof poses, "%s", path);
    }
    FILE *fp = fopen(poses, "rb");
    if (!fp) return dr_err_set(err, DR_EIO, "%s: cannot open", poses);
    unsigned char h[64];
    int rc = DR_OK;
    if (fread(h, 1, 64, fp) != 64 || memcmp(h, "DRPOSES1", 8)) {
        fclose(fp);
        return dr_err_set(err, DR_EFORMAT, "%s: not a director .poses file", poses);
    }
    uint32_t version = rd_u32(h + 8), clips = rd_u32(h + 12), frames = rd_u32(h + 16), kps = rd_u32(h + 20);
    float fps = rd_f32(h + 24);
    uint32_t w = rd_u32(h + 28), hh = rd_u32(h + 32);
    struct stat st;
    if (version != 1 || kps != DR_NUM_KEYPOINTS || frames == 0 || frames > DR_SEQ_MAX_FRAMES)
        rc = dr_err_set(err, DR_EFORMAT, "%s: unsupported header (version %u, %u keypoints, %u frames)", poses,
                        version, kps, frames);
    else if (fstat(fileno(fp), &st) || (uint64_t)st.st_size < 64 + (uint64_t)clips * frames * kps * 12)
        rc = dr_err_set(err, DR_EFORMAT, "%s: truncated (%u clips of %u frames announced)", poses, clips, frames);
    else if (opts->clip < 0 || (uint32_t)opts->clip >= clips)
        rc = dr_err_set(err, DR_ERANGE, "%s: clip %d out of range (the split has %u clips)", poses, opts->clip, clips);
    else if (!(rc = check_canvas(w, hh, poses, err)) && !(rc = check_fps(fps, poses, err))) {
        if ((rc = dr_pose_seq_alloc(seq, (int)frames, fps, (int)w, (int)hh))) {
            rc = dr_err_set(err, rc, "%s: out of memory", poses);
        } else if (fseeko(fp, 64 + (off_t)opts->clip * frames * kps * 12, SEEK_SET)) {
            rc = dr_err_set(err, DR_EIO, "%s: cannot seek", poses);
        } else {
            unsigned char buf[DR_NUM_KEYPOINTS * 12];
            for (uint32_t f = 0; f < frames && !rc; f++) {
                if (fread(buf, 1, sizeof buf, fp) != sizeof buf) {
                    rc = dr_err_set(err, DR_EIO, "%s: read error", poses);
                    break;
                }
                for (int j = 0; j < DR_NUM_KEYPOINTS && !rc; j++)
                    rc = set_keypoint(&seq->frames[f].kp[j], rd_f32(buf + 12 * j), rd_f32(buf + 12 * j + 4),
                                      rd_f32(buf + 12 * j + 8), poses, (long)f, j, err);
            }
            if (!rc) seq->prompt = dataset_prompt(poses, opts->clip);
        }
    }
    fclose(fp);
    if (rc) dr_pose_seq_free(seq);
    return rc;
}

/* ---- detection and reading any format --------------------------------------- */

void dr_pose_read_opts_init(dr_pose_read_opts *opts) {
    memset(opts, 0, sizeof *opts);
    opts->width = DR_CANVAS_WIDTH;
    opts->height = DR_CANVAS_HEIGHT;
    opts->fps = DR_CLIP_FPS;
    opts->split = "train";
    dr_bvh_import_opts_init(&opts->bvh);
}

/* Classify parsed JSON: a director sequence, an OpenPose frame, or neither. */
static dr_pose_format classify_json(const cJSON *root) {
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (cJSON_IsString(fmt) && !strcmp(fmt->valuestring, SEQ_FORMAT_NAME)) return DR_POSE_FORMAT_SEQUENCE;
    if (cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "director-dataset")) return DR_POSE_FORMAT_DATASET;
    if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "people"))) return DR_POSE_FORMAT_OPENPOSE_FILE;
    return DR_POSE_FORMAT_UNKNOWN;
}

static int detect_json_file(const char *path, size_t cap, dr_pose_format *fmt, dr_err *err) {
    char *text;
    size_t len;
    int rc = dr_read_file(path, cap, &text, &len, err);
    if (rc) return rc;
    cJSON *root;
    rc = parse_json(text, len, path, &root, err);
    free(text);
    if (rc) return rc;
    *fmt = classify_json(root);
    cJSON_Delete(root);
    return DR_OK;
}

int dr_pose_detect(const char *path, dr_pose_format *fmt, dr_err *err) {
    *fmt = DR_POSE_FORMAT_UNKNOWN;
    struct stat st;
    if (stat(path, &st)) return dr_err_set(err, DR_EIO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        char meta[4096];
        dr_pose_format mf = DR_POSE_FORMAT_UNKNOWN;
        if (!dr_path_join(meta, sizeof meta, path, "meta.json") && dr_file_exists(meta) &&
            !detect_json_file(meta, DR_OPENPOSE_MAX_FILE_BYTES, &mf, NULL) && mf == DR_POSE_FORMAT_DATASET) {
            *fmt = DR_POSE_FORMAT_DATASET;
            return DR_OK;
        }
        frame_file *files;
        size_t n;
        int rc = list_frame_files(path, &files, &n, err);
        if (rc) return dr_err_prefix(err, "not a pose folder: ");
        char first[4096];
        dr_pose_format ff = DR_POSE_FORMAT_UNKNOWN;
        rc = dr_path_join(first, sizeof first, path, files[0].name);
        free_frame_files(files, n);
        if (rc) return dr_err_set(err, DR_ERANGE, "%s: path too long", path);
        if ((rc = detect_json_file(first, DR_OPENPOSE_MAX_FILE_BYTES, &ff, err))) return rc;
        if (ff != DR_POSE_FORMAT_OPENPOSE_FILE)
            return dr_err_set(err, DR_EFORMAT, "%s: folder is neither a director dataset nor OpenPose JSON frames (%s has no \"people\")",
                              path, first);
        *fmt = DR_POSE_FORMAT_OPENPOSE_DIR;
        return DR_OK;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) return dr_err_set(err, DR_EIO, "%s: cannot open: %s", path, strerror(errno));
    char head[64];
    size_t n = fread(head, 1, sizeof head - 1, fp);
    fclose(fp);
    head[n] = 0;
    if (n >= 8 && !memcmp(head, "DRPOSES1", 8)) {
        *fmt = DR_POSE_FORMAT_DATASET;
        return DR_OK;
    }
    const char *p = head;
    if (n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3; /* UTF-8 byte order mark */
    while (*p && isspace((unsigned char)*p)) p++;
    if (!strncmp(p, "HIERARCHY", 9)) {
        *fmt = DR_POSE_FORMAT_BVH;
        return DR_OK;
    }
    if (*p == '{') {
        int rc = detect_json_file(path, DR_SEQ_MAX_FILE_BYTES, fmt, err);
        if (rc) return rc;
        if (*fmt == DR_POSE_FORMAT_UNKNOWN || *fmt == DR_POSE_FORMAT_DATASET)
            return dr_err_set(err, DR_EFORMAT,
                              "%s: JSON but neither a director pose sequence (\"format\": \"%s\") nor an OpenPose frame (\"people\")",
                              path, SEQ_FORMAT_NAME);
        return DR_OK;
    }
    return dr_err_set(err, DR_EFORMAT,
                      "%s: unrecognized pose input (expected a director sequence or OpenPose JSON, a BVH file, "
                      "an OpenPose folder or a director dataset)",
                      path);
}

int dr_pose_read(const char *path, const dr_pose_read_opts *opts_in, dr_pose_seq *seq, dr_pose_format *fmt_out,
                 dr_err *err) {
    memset(seq, 0, sizeof *seq);
    dr_pose_read_opts defaults;
    if (!opts_in) dr_pose_read_opts_init(&defaults);
    const dr_pose_read_opts *opts = opts_in ? opts_in : &defaults;
    dr_pose_format fmt;
    int rc = dr_pose_detect(path, &fmt, err);
    if (rc) return rc;
    if (fmt_out) *fmt_out = fmt;
    if ((rc = check_canvas(opts->width, opts->height, "canvas option", err)) ||
        (rc = check_fps(opts->fps, "fps option", err)))
        return rc;
    switch (fmt) {
    case DR_POSE_FORMAT_SEQUENCE: return dr_seq_read_json(path, seq, err);
    case DR_POSE_FORMAT_OPENPOSE_DIR: return read_openpose_dir(path, opts, seq, err);
    case DR_POSE_FORMAT_OPENPOSE_FILE: {
        char *text;
        size_t len;
        int cw, ch;
        if ((rc = dr_read_file(path, DR_OPENPOSE_MAX_FILE_BYTES, &text, &len, err))) return rc;
        if ((rc = dr_pose_seq_alloc(seq, 1, opts->fps, opts->width, opts->height))) {
            free(text);
            return dr_err_set(err, rc, "%s: out of memory", path);
        }
        rc = dr_openpose_parse_frame(text, len, path, &seq->frames[0], &cw, &ch, err);
        free(text);
        if (rc) dr_pose_seq_free(seq);
        else if (cw > 0) seq->width = cw, seq->height = ch;
        return rc;
    }
    case DR_POSE_FORMAT_BVH: {
        /* The canvas and rate options apply to the projected motion as to every input. */
        dr_bvh_import_opts bvh = opts->bvh;
        bvh.width = opts->width, bvh.height = opts->height, bvh.fps = opts->fps;
        return dr_bvh_import(path, &bvh, seq, err);
    }
    case DR_POSE_FORMAT_DATASET: return read_dataset_clip(path, opts, seq, err);
    default: return dr_err_set(err, DR_EFORMAT, "%s: unrecognized pose input", path);
    }
}
