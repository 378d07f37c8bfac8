#include "pose/skeleton.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* OpenPose COCO-18 body part order (openpose/src/openpose/pose/poseParameters.cpp, COCO_18). */
const char *const dr_keypoint_names[DR_NUM_KEYPOINTS] = {
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
};

/* controlnet_aux open_pose/util.py draw_bodypose limbSeq, converted from 1-based to 0-based;
 * the order matters because later limbs paint over earlier ones. */
const uint8_t dr_limbs[DR_NUM_LIMBS][2] = {
    {1, 2}, {1, 5}, {2, 3}, {3, 4}, {5, 6}, {6, 7}, {1, 8}, {8, 9}, {9, 10},
    {1, 11}, {11, 12}, {12, 13}, {1, 0}, {0, 14}, {14, 16}, {0, 15}, {15, 17},
};

/* controlnet_aux draw_bodypose `colors`, RGB: limb i and keypoint i share colour i. */
const uint8_t dr_keypoint_colors[DR_NUM_KEYPOINTS][3] = {
    {255, 0, 0},   {255, 85, 0},  {255, 170, 0}, {255, 255, 0}, {170, 255, 0}, {85, 255, 0},
    {0, 255, 0},   {0, 255, 85},  {0, 255, 170}, {0, 255, 255}, {0, 170, 255}, {0, 85, 255},
    {0, 0, 255},   {85, 0, 255},  {170, 0, 255}, {255, 0, 255}, {255, 0, 170}, {255, 0, 85},
};

const uint8_t dr_mirror_map[DR_NUM_KEYPOINTS] = {
    0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16,
};

int dr_pose_seq_alloc(dr_pose_seq *seq, int num_frames, float fps, int width, int height) {
    memset(seq, 0, sizeof *seq);
    if (num_frames < 0) return DR_EINVAL;
    seq->frames = calloc(num_frames > 0 ? (size_t)num_frames : 1, sizeof(dr_pose));
    if (!seq->frames) return DR_ENOMEM;
    seq->num_frames = num_frames;
    seq->fps = fps;
    seq->width = width;
    seq->height = height;
    return DR_OK;
}

void dr_pose_seq_free(dr_pose_seq *seq) {
    if (!seq) return;
    free(seq->frames);
    free(seq->prompt);
    free(seq->keyframes);
    memset(seq, 0, sizeof *seq);
}

int dr_pose_seq_copy(dr_pose_seq *dst, const dr_pose_seq *src) {
    int rc = dr_pose_seq_alloc(dst, src->num_frames, src->fps, src->width, src->height);
    if (rc) return rc;
    memcpy(dst->frames, src->frames, (size_t)src->num_frames * sizeof(dr_pose));
    if (src->prompt && (rc = dr_pose_seq_set_prompt(dst, src->prompt))) goto fail;
    if (src->num_keyframes > 0) {
        dst->keyframes = malloc((size_t)src->num_keyframes * sizeof(int));
        if (!dst->keyframes) { rc = DR_ENOMEM; goto fail; }
        memcpy(dst->keyframes, src->keyframes, (size_t)src->num_keyframes * sizeof(int));
        dst->num_keyframes = src->num_keyframes;
    }
    return DR_OK;
fail:
    dr_pose_seq_free(dst);
    return rc;
}

int dr_pose_seq_set_prompt(dr_pose_seq *seq, const char *prompt) {
    char *copy = prompt ? strdup(prompt) : NULL;
    if (prompt && !copy) return DR_ENOMEM;
    free(seq->prompt);
    seq->prompt = copy;
    return DR_OK;
}

void dr_pose_normalize(const dr_pose *pose, int width, int height, float *out, float *mask) {
    const float cx = 0.5f * (float)width, cy = 0.5f * (float)height, inv = 2.0f / (float)height;
    for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
        const dr_keypoint *k = &pose->kp[j];
        bool present = dr_keypoint_present(k);
        out[2 * j] = present ? (k->x - cx) * inv : 0.0f;
        out[2 * j + 1] = present ? (k->y - cy) * inv : 0.0f;
        if (mask) mask[j] = present ? 1.0f : 0.0f;
    }
}

void dr_pose_denormalize(const float *in, const float *mask, int width, int height, float conf, dr_pose *pose) {
    const float cx = 0.5f * (float)width, cy = 0.5f * (float)height, scale = 0.5f * (float)height;
    for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
        dr_keypoint *k = &pose->kp[j];
        if (mask && mask[j] < 0.5f) {
            k->x = k->y = k->c = 0.0f;
        } else {
            k->x = in[2 * j] * scale + cx;
            k->y = in[2 * j + 1] * scale + cy;
            k->c = conf;
        }
    }
}

void dr_pose_mirror(dr_pose *pose, int width) {
    dr_pose src = *pose;
    for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
        dr_keypoint k = src.kp[dr_mirror_map[j]];
        if (dr_keypoint_present(&k)) k.x = (float)width - k.x;
        pose->kp[j] = k;
    }
}

int dr_pose_count_present(const dr_pose *pose) {
    int n = 0;
    for (int j = 0; j < DR_NUM_KEYPOINTS; j++) n += dr_keypoint_present(&pose->kp[j]);
    return n;
}

bool dr_pose_bbox(const dr_pose *pose, float *x0, float *y0, float *x1, float *y1) {
    bool any = false;
    for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
        const dr_keypoint *k = &pose->kp[j];
        if (!dr_keypoint_present(k)) continue;
        if (!any) {
            *x0 = *x1 = k->x;
            *y0 = *y1 = k->y;
            any = true;
        } else {
            if (k->x < *x0) *x0 = k->x;
            if (k->x > *x1) *x1 = k->x;
            if (k->y < *y0) *y0 = k->y;
            if (k->y > *y1) *y1 = k->y;
        }
    }
    return any;
}
