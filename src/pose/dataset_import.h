/* dataset_import.h - real motion joins the training data: fitting a pose sequence to the
 * dataset's clip geometry and appending captioned sequences to a dataset folder.
 *
 * A dataset clip is 200 frames at 30 fps on a 512 x 320 canvas (pose/dataset.h). Sequences
 * from OpenPose folders, director JSON or BVH come at other rates and canvas sizes and
 * lengths: dr_clip_fit() resamples them in time (linear between present keypoints),
 * letterboxes them onto the canvas (uniform scale, centred) and truncates or pads with
 * missing frames, as the paper pads short videos with zeros. dr_dataset_append() then adds
 * clips with their captions to one split of a dataset folder, creating it when needed,
 * rewriting the split files atomically and updating meta.json. */
#ifndef DIRECTOR_POSE_DATASET_IMPORT_H
#define DIRECTOR_POSE_DATASET_IMPORT_H

#include "core/error.h"
#include "pose/skeleton.h"

/* Fit seq to num_frames frames at fps on a width x height canvas; out has num_frames poses. */
int dr_clip_fit(const dr_pose_seq *seq, int num_frames, float fps, int width, int height, dr_pose *out, dr_err *err);

typedef struct dr_import_item {
    const dr_pose_seq *seq;
    const char *caption; /* full prompt; its first sentence becomes the subject-level prompt */
    const char *action;  /* may be NULL: "unknown" */
    const char *source;  /* where it came from (recorded in the record); may be NULL */
} dr_import_item;

/* Append n sequences to split ("train", "val" or "test") of dataset folder dir. On error
 * the folder is unchanged. *first_id (may be NULL) gets the id of the first new clip. */
int dr_dataset_append(const char *dir, const char *split, const dr_import_item *items, int n, long *first_id,
                      dr_err *err);

#endif
