/* synth.h - the procedural motion synthesizer: director's own captioned training data.
 *
 * The paper trained on 25K captioned stock videos with OpenPose poses; director cannot
 * download any, so it makes clips that look like OpenPose output of real footage. A clip is
 * a 3D kinematic body (sampled proportions: adult or child, height, build) driven for 200
 * frames at 30 fps by one of DR_SYNTH_NUM_ACTIONS motion generators (gaits with planted,
 * non-sliding feet and counter-phase arm swing; flows of held poses with eased transitions;
 * rhythmic in-place actions), seen through a pinhole camera that is static or follows the
 * subject, projected to the 512x320 canvas and degraded like a 2D detector (jitter,
 * self-occluded face points, keypoints off the canvas, confidences 0.3-0.95). Each clip
 * gets a caption in the paper's style whose words are true of the motion: the subject-level
 * first sentence ("The video shows a young woman running through a grassy field.") and the
 * full prompt with appearance, direction, background and camera sentences.
 *
 * Everything a clip contains is a function of (seed, clip index): clips can be made in any
 * order on any thread. dr_synth_dataset() writes a whole dataset (pose/dataset.h format). */
#ifndef DIRECTOR_POSE_SYNTH_H
#define DIRECTOR_POSE_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/progress.h"
#include "pose/skeleton.h"

/* The actions, in table order (names are the dataset's "action" field). */
enum dr_synth_action {
    DR_ACT_WALKING, DR_ACT_HIKING, DR_ACT_RUNNING, DR_ACT_JOGGING, DR_ACT_CLIMBING_STAIRS,
    DR_ACT_CYCLING, DR_ACT_YOGA, DR_ACT_SQUATS, DR_ACT_LUNGES, DR_ACT_JUMPING_JACKS,
    DR_ACT_PUSH_UPS, DR_ACT_DANCING, DR_ACT_JUMPING, DR_ACT_SKIPPING_ROPE, DR_ACT_STANDING,
    DR_ACT_POSING, DR_ACT_SITTING, DR_ACT_WAVING, DR_ACT_TALKING, DR_ACT_STRETCHING,
    DR_ACT_BOXING, DR_ACT_TURNING_AROUND, DR_ACT_KNEELING, DR_ACT_LYING_DOWN, DR_ACT_GETTING_UP,
    DR_ACT_THROWING, DR_ACT_PLAYING_GUITAR,
    DR_SYNTH_NUM_ACTIONS
};

/* Where the subject goes, or which way it faces when it stays in place. */
enum dr_synth_direction {
    DR_DIR_RIGHT,   /* towards the right side of the frame */
    DR_DIR_LEFT,    /* towards the left side of the frame */
    DR_DIR_TOWARD,  /* towards the camera */
    DR_DIR_AWAY,    /* away from the camera */
    DR_DIR_IN_PLACE,/* stays in place (the facing is in dr_synth_clip.facing) */
    DR_SYNTH_NUM_DIRECTIONS
};

enum dr_synth_speed { DR_SPEED_SLOW = 0, DR_SPEED_NORMAL = 1, DR_SPEED_FAST = 2, DR_SYNTH_NUM_SPEEDS };

/* Facing of an in-place subject, as the caption words it. */
enum dr_synth_facing { DR_FACE_CAMERA, DR_FACE_RIGHT, DR_FACE_LEFT, DR_FACE_AWAY, DR_SYNTH_NUM_FACINGS };

enum dr_synth_split { DR_SPLIT_TRAIN, DR_SPLIT_VAL, DR_SPLIT_TEST };

extern const char *const dr_synth_action_names[DR_SYNTH_NUM_ACTIONS];   /* "walking", "push_ups", ... */
extern const char *const dr_synth_direction_names[DR_SYNTH_NUM_DIRECTIONS]; /* "right", ..., "in_place" */
extern const char *const dr_synth_speed_names[DR_SYNTH_NUM_SPEEDS];     /* "slow", "normal", "fast" */
extern const char *const dr_synth_split_names[3];                        /* "train", "val", "test" */

/* Choices a caller may force (for tests and contact sheets); -1 = sample.
 * detector_noise scales the simulated detector's keypoint jitter (default 1). It changes no
 * random draw, so detector_noise 0 gives the same clips as 1 (same motion, camera, missing
 * keypoints, captions) without the jitter: a clean twin to measure models against. A point
 * within a jitter's width of the canvas border may be present in one twin and not the other. */
typedef struct dr_synth_options {
    int action, direction, speed, camera_follows;
    float detector_noise;
} dr_synth_options;
void dr_synth_options_default(dr_synth_options *opt);

typedef struct dr_synth_clip {
    dr_pose frames[DR_CLIP_FRAMES];
    int action, direction, speed, facing;
    bool camera_follows;
    bool child;
    int split;           /* enum dr_synth_split */
    bool heldout_combo;  /* test split because (action, place, subject_kind) is held out */
    float cadence;       /* gaits: steps per second used; cycling: pedal revolutions per second;
                            periodic in-place actions: cycles per second; 0 otherwise */
    float speed_mps;     /* root speed over the ground, metres per second (0 in place) */
    float height_m;      /* subject height */
    char subject_kind[32]; /* "young woman", "boy", ... */
    char place[32];        /* "field", "beach", ... (the place key) */
    char variant[24];      /* how the action is done when it varies: "couch", "one_knee", "forward", ... ("" otherwise) */
    char subject[256];     /* subject-level prompt: the first sentence */
    char prompt[1536];     /* full prompt */
} dr_synth_clip;

/* 3D internals of a clip, for tests: world coordinates in metres (x to the right of the
 * camera's view, y up, z away from the camera), per frame. */
typedef struct dr_synth_debug {
    float joints[DR_CLIP_FRAMES][DR_NUM_KEYPOINTS][3]; /* COCO-18 order, noise-free */
    float pelvis[DR_CLIP_FRAMES][3];
    uint8_t contact[DR_CLIP_FRAMES][2];   /* ankle planted on the ground: [right, left] */
    float camera[DR_CLIP_FRAMES][3];      /* camera centre */
    float focal;                          /* pixels */
    float bone_lengths[4];                /* upper arm, forearm, thigh, shin (the body's) */
} dr_synth_debug;

/* Generate clip `index` of the stream `seed`. dbg may be NULL. Never fails for valid
 * options (returns DR_EINVAL for out-of-range forced choices). */
int dr_synth_generate(uint64_t seed, uint64_t index, const dr_synth_options *opt, dr_synth_clip *clip,
                      dr_synth_debug *dbg, dr_err *err);

/* The clip's dataset record (one JSON line, no newline) into buf; returns the length or
 * DR_ERANGE if it does not fit. */
int dr_synth_clip_json(const dr_synth_clip *clip, uint64_t id, char *buf, size_t size);

/* Expected cadence range (steps/s for gaits, pedal rev/s for cycling) of an action at a
 * speed; false when the action has no cadence. Children step up to 15% faster. */
bool dr_synth_cadence_range(int action, int speed, bool child, float *lo, float *hi);

/* The (action, place, subject_kind) combinations the test split holds out. */
typedef struct dr_synth_heldout {
    const char *action, *place, *subject_kind;
} dr_synth_heldout;
extern const dr_synth_heldout dr_synth_heldout_combos[];
extern const int dr_synth_num_heldout_combos;

/* Write a dataset of num_clips clips (options opt, NULL for the defaults) to out_dir (built in a temporary sibling folder and
 * renamed into place): train/val/test .poses + .jsonl and meta.json. Clips are made in
 * parallel batches (dr_get_threads() threads) and written in index order, so the bytes
 * depend only on the seed. progress may be NULL. */
int dr_synth_dataset(const char *out_dir, uint64_t seed, long num_clips, const dr_synth_options *opt,
                     dr_progress *progress, dr_err *err);

#endif
