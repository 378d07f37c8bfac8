/* dataset.h - the on-disk training data every model reads (docs/DATASET.md).
 *
 * A dataset folder holds, for each split S in {train, val, test}:
 *   S.poses  - packed little-endian binary: a 64-byte header
 *                char magic[8] = "DRPOSES1"; u32 version = 1; u32 num_clips;
 *                u32 num_frames (200); u32 num_keypoints (18); f32 fps (30);
 *                u32 width (512); u32 height (320); 28 bytes zero
 *              then num_clips x num_frames x 18 x (f32 x, f32 y, f32 c), pixels,
 *              missing keypoints exactly (0, 0, 0). Memory-mapped on read.
 *   S.jsonl  - one JSON object per clip, same order: {"id", "subject" (the subject-level
 *              prompt, first sentence), "prompt" (full caption), "action", "place",
 *              "subject_kind", "direction", "speed", ...}; readers need only "subject",
 *              "prompt" and "action".
 * and meta.json: {"format": "director-dataset", "version": 1, "seed", "clips", "splits", ...}.
 * Streaming writers (dr_dataset_writer) append clips without holding the set in memory. */
#ifndef DIRECTOR_POSE_DATASET_H
#define DIRECTOR_POSE_DATASET_H

#include <stddef.h>
#include <stdio.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "pose/skeleton.h"

typedef struct dr_dataset {
    int num_clips;
    int num_frames;
    float fps;
    int width, height;
    const dr_pose *poses;  /* num_clips * num_frames poses (mmap'd; dr_keypoint = 3 floats) */
    char **subject;        /* per clip, malloc'd */
    char **prompt;         /* per clip */
    char **action;         /* per clip */
    void *map_;            /* private: mmap base and size */
    size_t map_size_;
} dr_dataset;

/* Open split ("train", "val", "test") of a dataset folder. */
int dr_dataset_open(dr_dataset *ds, const char *dir, const char *split, dr_err *err);
void dr_dataset_close(dr_dataset *ds);
static inline const dr_pose *dr_dataset_clip(const dr_dataset *ds, int i) {
    return ds->poses + (size_t)i * (size_t)ds->num_frames;
}

/* Streaming writer for one split. */
typedef struct dr_dataset_writer {
    dr_atomic_file poses_file, jsonl_file;
    int num_clips, num_frames, width, height;
    float fps;
} dr_dataset_writer;

int dr_dataset_writer_open(dr_dataset_writer *w, const char *dir, const char *split, int num_frames, float fps,
                           int width, int height, dr_err *err);
/* Append one clip: num_frames poses and its caption record (a JSON object, one line). */
int dr_dataset_writer_add(dr_dataset_writer *w, const dr_pose *frames, const char *json_line, dr_err *err);
/* Patch the clip count into the header and commit both files atomically. */
int dr_dataset_writer_close(dr_dataset_writer *w, dr_err *err);
void dr_dataset_writer_abort(dr_dataset_writer *w);

#endif
