/* bvh.h - BVH motion capture import: hierarchy, motion, forward kinematics, COCO-18.
 *
 * A BVH file is a joint hierarchy (offsets from the parent, a channel list per joint:
 * any subset and order of X/Y/Z position and rotation, End Sites) followed by one line
 * of channel values per frame. dr_bvh_parse reads it; dr_bvh_fk gives every joint's
 * world position and orientation for a frame; dr_bvh_map_coco finds the joints that
 * stand for the COCO-18 keypoints from their names (CMU, Mixamo, Biovision / MotionBuilder,
 * 3ds Max Biped, Unreal, SMPL-like schemes); dr_bvh_import turns the motion into a 2D
 * pose sequence: keypoints in 3D (face points placed rigidly on the head joint from its
 * orientation), resampled to the output frame rate, seen through a pinhole camera. */
#ifndef DIRECTOR_IO_BVH_H
#define DIRECTOR_IO_BVH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "pose/skeleton.h"

#define DR_BVH_MAX_JOINTS 1024
#define DR_BVH_MAX_FRAMES 2000000
#define DR_BVH_MAX_FILE_BYTES (512u << 20)
#define DR_BVH_NAME_LEN 64

enum dr_bvh_channel {
    DR_BVH_XPOS = 0, DR_BVH_YPOS, DR_BVH_ZPOS, DR_BVH_XROT, DR_BVH_YROT, DR_BVH_ZROT,
};

typedef struct dr_bvh_joint {
    char name[DR_BVH_NAME_LEN];  /* "Hips"; an End Site is "<parent name>_End" */
    int parent;                  /* index of the parent joint, -1 for a root */
    float offset[3];             /* from the parent, in the parent's frame */
    int num_channels;            /* 0..6 (0 for End Sites) */
    uint8_t channels[6];         /* enum dr_bvh_channel, in file order */
    int first_channel;           /* index of this joint's first value in a motion line */
    bool end_site;
} dr_bvh_joint;

typedef struct dr_bvh {
    int num_joints;              /* joints in file order: a parent precedes its children */
    dr_bvh_joint *joints;
    int num_channels;            /* values per motion line */
    int num_frames;
    double frame_time;           /* seconds */
    float *motion;               /* num_frames x num_channels (degrees / file units) */
} dr_bvh;

/* Parse BVH text (need not be NUL-terminated). `name` is used in error messages. */
int dr_bvh_parse(const char *text, size_t len, const char *name, dr_bvh *bvh, dr_err *err);
int dr_bvh_load(const char *path, dr_bvh *bvh, dr_err *err);
void dr_bvh_free(dr_bvh *bvh);

/* World position (num_joints x 3) and rotation (num_joints x 9, row-major, local -> world)
 * of every joint in `frame`; either output may be NULL. */
void dr_bvh_fk(const dr_bvh *bvh, int frame, float *pos, float *rot);

/* Which joints stand for the COCO-18 keypoints. The neck keypoint is the midpoint of the
 * shoulders (as in OpenPose's COCO training data); the face points are placed on `head`. */
typedef struct dr_bvh_coco_map {
    int joint[DR_NUM_KEYPOINTS]; /* joint index, -1 when derived (neck, face points) */
    int head;                    /* head joint */
    float up[3], forward[3], left[3]; /* the body's axes in the rest pose (unit vectors) */
    float shoulder_width;        /* rest pose, file units: the size unit of the face */
} dr_bvh_coco_map;

/* Map by joint name; an unknown skeleton gives DR_EUNSUPPORTED with a message listing
 * the joints found and those missing. */
int dr_bvh_map_coco(const dr_bvh *bvh, const char *name, dr_bvh_coco_map *map, dr_err *err);
/* The 18 keypoints of `frame` in world coordinates (18 x 3 floats). */
void dr_bvh_keypoints3d(const dr_bvh *bvh, const dr_bvh_coco_map *map, int frame, float *xyz);

/* The pinhole camera. Either an explicit position + target, or azimuth / elevation
 * around the motion's centre at a distance (0 = the nearest distance at which the whole
 * motion fits in the frame with a margin). Azimuth 0 looks at the performer's front at
 * the first frame, 90 at their left side; elevation > 0 looks down. The focal length is
 * 35 mm-equivalent (the canvas width spans 36 mm). World up is the file's +Y. */
typedef struct dr_bvh_camera {
    bool explicit_pose;
    float position[3], target[3];
    float azimuth_deg, elevation_deg, distance;
    float focal_mm;
} dr_bvh_camera;

typedef struct dr_bvh_import_opts {
    int width, height;  /* canvas, default 512 x 320 */
    float fps;          /* output rate, default 30 */
    dr_bvh_camera camera;
    float margin;       /* auto-framing: fraction of the canvas kept free on each side (0.08) */
} dr_bvh_import_opts;

void dr_bvh_import_opts_init(dr_bvh_import_opts *opts);

/* The whole import: map, resample (linear interpolation of the 3D keypoints between
 * source frames), project. Keypoints behind the camera or outside the canvas are
 * missing, as are face points turned away from the camera (an ear behind the head, the
 * eyes and nose of a head seen from behind), as a detector would not see them. */
int dr_bvh_to_pose_seq(const dr_bvh *bvh, const char *name, const dr_bvh_import_opts *opts, dr_pose_seq *seq,
                       dr_err *err);
/* Load + import in one step. */
int dr_bvh_import(const char *path, const dr_bvh_import_opts *opts, dr_pose_seq *seq, dr_err *err);

#endif
