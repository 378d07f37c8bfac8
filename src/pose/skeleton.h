/* skeleton.h - the COCO-18 / OpenPose body skeleton and the pose types every stage shares.
 *
 * A pose is 18 keypoints (x, y, confidence) in pixels of a canvas (default 512 x 320,
 * the renderer's frame); a missing keypoint is exactly (0, 0, 0). The models see a
 * pose as 36 numbers (x, y per keypoint) normalized by dr_pose_normalize() plus an
 * 18-entry presence mask; the normalization lives here, not in each model, and is
 * exactly invertible. */
#ifndef DIRECTOR_POSE_SKELETON_H
#define DIRECTOR_POSE_SKELETON_H

#include <stdbool.h>
#include <stdint.h>

#define DR_NUM_KEYPOINTS 18
#define DR_POSE_DIM 36 /* 18 x (x, y) as seen by the models */
#define DR_NUM_LIMBS 17
#define DR_CANVAS_WIDTH 512
#define DR_CANVAS_HEIGHT 320
#define DR_CLIP_FRAMES 200
#define DR_CLIP_FPS 30
#define DR_NUM_KEYFRAMES 20 /* evenly spaced: frames 0, 10, 20, ..., 190 */
#define DR_KEYFRAME_STRIDE 10

enum dr_keypoint_id {
    DR_KP_NOSE = 0, DR_KP_NECK = 1,
    DR_KP_RSHOULDER = 2, DR_KP_RELBOW = 3, DR_KP_RWRIST = 4,
    DR_KP_LSHOULDER = 5, DR_KP_LELBOW = 6, DR_KP_LWRIST = 7,
    DR_KP_RHIP = 8, DR_KP_RKNEE = 9, DR_KP_RANKLE = 10,
    DR_KP_LHIP = 11, DR_KP_LKNEE = 12, DR_KP_LANKLE = 13,
    DR_KP_REYE = 14, DR_KP_LEYE = 15, DR_KP_REAR = 16, DR_KP_LEAR = 17,
};

typedef struct dr_keypoint {
    float x, y, c; /* pixels; c = detector confidence in (0, 1], 0 = missing */
} dr_keypoint;

typedef struct dr_pose {
    dr_keypoint kp[DR_NUM_KEYPOINTS];
} dr_pose;

/* A pose sequence: the unit every file format reads and writes. */
typedef struct dr_pose_seq {
    int num_frames;
    float fps;
    int width, height;  /* canvas the pixel coordinates refer to */
    dr_pose *frames;    /* num_frames poses, malloc'd */
    char *prompt;       /* optional, malloc'd or NULL */
    int num_keyframes;  /* optional key-frame indices; 0 when absent */
    int *keyframes;     /* malloc'd or NULL */
} dr_pose_seq;

/* Tables (const data, see skeleton.c for where each comes from). */
extern const char *const dr_keypoint_names[DR_NUM_KEYPOINTS];   /* "nose", "neck", "right_shoulder", ... */
extern const uint8_t dr_limbs[DR_NUM_LIMBS][2];                  /* 0-based pairs, controlnet_aux order */
extern const uint8_t dr_keypoint_colors[DR_NUM_KEYPOINTS][3];    /* RGB, by limb / keypoint index */
extern const uint8_t dr_mirror_map[DR_NUM_KEYPOINTS];            /* left <-> right */

static inline bool dr_keypoint_present(const dr_keypoint *k) { return k->c > 0.0f; }

/* Allocate frames (zeroed: every keypoint missing). Returns 0 or DR_ENOMEM. */
int dr_pose_seq_alloc(dr_pose_seq *seq, int num_frames, float fps, int width, int height);
void dr_pose_seq_free(dr_pose_seq *seq);
/* Deep copy. */
int dr_pose_seq_copy(dr_pose_seq *dst, const dr_pose_seq *src);
/* Set the optional prompt (copied). */
int dr_pose_seq_set_prompt(dr_pose_seq *seq, const char *prompt);

/* Model normalization: x_n = (x - W/2) / (H/2), y_n = (y - H/2) / (H/2), so the canvas
 * maps to about [-1.6, 1.6] x [-1, 1] with the aspect ratio kept. Missing keypoints
 * give 0 and mask 0. `out` is 36 floats (x0, y0, x1, y1, ...), `mask` 18 floats (0/1)
 * and may be NULL. */
void dr_pose_normalize(const dr_pose *pose, int width, int height, float *out, float *mask);
/* Inverse: keypoints whose mask is 0 (mask may be NULL = all present) become (0,0,0);
 * present ones get confidence `conf`. */
void dr_pose_denormalize(const float *in, const float *mask, int width, int height, float conf, dr_pose *pose);

/* Mirror a pose left/right about the vertical centre line of a canvas of width W. */
void dr_pose_mirror(dr_pose *pose, int width);

/* Number of present keypoints. */
int dr_pose_count_present(const dr_pose *pose);
/* Bounding box of the present keypoints; returns false when none are present. */
bool dr_pose_bbox(const dr_pose *pose, float *x0, float *y0, float *x1, float *y1);

#endif
