/* seqio.h - pose sequences on disk: director's JSON, OpenPose JSON, and format detection.
 *
 * director's own file (docs/FORMATS.md, "Poses"):
 *   {"format": "director-pose-sequence", "version": 1, "fps": 30, "width": 512,
 *    "height": 320, "skeleton": "coco18", "prompt": "...", "keyframes": [0, 10, ...],
 *    "frames": [[[x, y, c], ... 18], ...]}
 * ("prompt" and "keyframes" optional). OpenPose's --write_json output is one file per
 * frame, `<name>_<frame:012>_keypoints.json`, with people[].pose_keypoints_2d holding
 * 18 x 3 numbers (COCO) or 25 x 3 (BODY_25, mapped to COCO-18). Numbers are printed
 * with %.9g, which round-trips every float exactly.
 *
 * Readers treat the input as hostile: sizes are capped, every value is checked (finite,
 * |coordinate| <= 1e6, confidence in [0, 1]) and errors name the file and the frame. */
#ifndef DIRECTOR_POSE_SEQIO_H
#define DIRECTOR_POSE_SEQIO_H

#include <stddef.h>

#include "core/error.h"
#include "io/bvh.h"
#include "pose/skeleton.h"

#define DR_SEQ_MAX_FILE_BYTES (256u << 20)     /* a sequence JSON file */
#define DR_OPENPOSE_MAX_FILE_BYTES (16u << 20) /* one OpenPose frame file */
#define DR_SEQ_MAX_FRAMES 1000000
#define DR_POSE_COORD_LIMIT 1.0e6f             /* |x|, |y| in pixels */
#define DR_SEQ_MAX_FPS 1000.0f
#define DR_SEQ_MAX_CANVAS 16384

typedef enum dr_pose_format {
    DR_POSE_FORMAT_UNKNOWN = 0,
    DR_POSE_FORMAT_SEQUENCE,      /* director-pose-sequence JSON */
    DR_POSE_FORMAT_OPENPOSE_DIR,  /* a folder of OpenPose frame files */
    DR_POSE_FORMAT_OPENPOSE_FILE, /* a single OpenPose frame file */
    DR_POSE_FORMAT_BVH,           /* BVH motion capture */
    DR_POSE_FORMAT_DATASET,       /* a director dataset folder or its S.poses file */
} dr_pose_format;

const char *dr_pose_format_name(dr_pose_format fmt);

/* ---- director pose-sequence JSON ---- */
int dr_seq_write_json(const char *path, const dr_pose_seq *seq, dr_err *err);
int dr_seq_read_json(const char *path, dr_pose_seq *seq, dr_err *err);
/* Parse from memory; `name` names the input in errors. */
int dr_seq_parse_json(const char *text, size_t len, const char *name, dr_pose_seq *seq, dr_err *err);
/* Check the invariants readers enforce (canvas, fps, finite coordinates, key frames). */
int dr_seq_validate(const dr_pose_seq *seq, const char *name, dr_err *err);

/* ---- OpenPose JSON ---- */
/* Parse one frame file: the person with the largest keypoint bounding box, or all
 * missing when there is nobody. *canvas_w / *canvas_h get "canvas_width"/"canvas_height"
 * when the file has them (ComfyUI and our writer do), else 0. */
int dr_openpose_parse_frame(const char *text, size_t len, const char *name, dr_pose *pose, int *canvas_w,
                            int *canvas_h, dr_err *err);
/* Write a sequence as a folder of frame files `<prefix>_<frame:012>_keypoints.json`
 * (built in a temporary folder and renamed into place). prefix NULL = "pose". */
int dr_openpose_write_dir(const char *dir, const dr_pose_seq *seq, const char *prefix, dr_err *err);

/* Give a folder made by dr_tmpdir_create (0700) the mode mkdir would give it (0777 & ~umask). */
void dr_dir_default_mode(const char *path);

/* ---- any format ---- */
typedef struct dr_pose_read_opts {
    int width, height;   /* canvas when the input does not record one (default 512 x 320) */
    float fps;           /* frame rate when the input does not record one (default 30) */
    const char *split;   /* dataset split (default "train") */
    int clip;            /* dataset clip index */
    dr_bvh_import_opts bvh;
} dr_pose_read_opts;

void dr_pose_read_opts_init(dr_pose_read_opts *opts);
/* Decide the format of `path` from its content (folder layout, magic bytes, JSON keys). */
int dr_pose_detect(const char *path, dr_pose_format *fmt, dr_err *err);
/* Read any supported input into a sequence; *fmt (may be NULL) gets the detected format. */
int dr_pose_read(const char *path, const dr_pose_read_opts *opts, dr_pose_seq *seq, dr_pose_format *fmt,
                 dr_err *err);

#endif
