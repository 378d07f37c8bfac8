/* synth_internal.h - the pieces of the motion synthesizer shared by its files.
 *
 * body.c   : 3D vectors and frames, body proportions, the kinematic solver (pose_spec ->
 *            3D joints, two-bone IK for limbs with a reach guard that keeps planted feet
 *            on their targets), held postures and their eased interpolation.
 * motion.c : one generator per action that fills a pose_spec per frame.
 * caption.c: subjects, places and the caption grammar.
 * synth.c  : sampling a clip, camera, projection and detector realism, the public API. */
#ifndef DIRECTOR_POSE_SYNTH_INTERNAL_H
#define DIRECTOR_POSE_SYNTH_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/rng.h"
#include "pose/skeleton.h"
#include "pose/synth.h"

#define SYN_PI 3.14159265358979f
#define SYN_DT (1.0f / DR_CLIP_FPS)
#define SYN_G 9.81f

typedef struct v3 {
    float x, y, z;
} v3;

static inline v3 v3m(float x, float y, float z) { return (v3){x, y, z}; }
static inline v3 v3add(v3 a, v3 b) { return (v3){a.x + b.x, a.y + b.y, a.z + b.z}; }
static inline v3 v3sub(v3 a, v3 b) { return (v3){a.x - b.x, a.y - b.y, a.z - b.z}; }
static inline v3 v3scale(v3 a, float s) { return (v3){a.x * s, a.y * s, a.z * s}; }
static inline v3 v3mad(v3 a, v3 b, float s) { return (v3){a.x + b.x * s, a.y + b.y * s, a.z + b.z * s}; }
static inline float v3dot(v3 a, v3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
static inline float v3len(v3 a) { return sqrtf(v3dot(a, a)); }
static inline v3 v3cross(v3 a, v3 b) {
    return (v3){a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}
static inline v3 v3norm(v3 a) {
    float l = v3len(a);
    return l > 1e-12f ? v3scale(a, 1.0f / l) : v3m(0, 1, 0);
}
static inline v3 v3lerp(v3 a, v3 b, float t) { return v3mad(a, v3sub(b, a), t); }

static inline float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }
static inline float lerpf(float a, float b, float t) { return a + (b - a) * t; }
/* C1 ease in/out on [0, 1] (zero velocity at both ends). */
static inline float ease(float t) {
    t = clampf(t, 0, 1);
    return t * t * (3 - 2 * t);
}
/* C2 ease (zero velocity and acceleration at both ends). */
static inline float ease2(float t) {
    t = clampf(t, 0, 1);
    return t * t * t * (t * (t * 6 - 15) + 10);
}
static inline float fracf(float x) { return x - floorf(x); }

/* An orthonormal frame: right, up, forward of a body part in world coordinates. */
typedef struct frame3 {
    v3 r, u, f;
} frame3;

/* Facing yaw: forward = (cos yaw, 0, sin yaw); yaw 0 faces screen right, pi/2 away from
 * the camera, -pi/2 towards it; a positive change turns the body to its left. */
frame3 frame_from_yaw(float yaw);
frame3 frame_yaw(frame3 fr, float a);   /* turn left about the frame's up */
frame3 frame_pitch(frame3 fr, float a); /* bend forward: up tilts towards forward */
frame3 frame_roll(frame3 fr, float a);  /* lean right: up tilts towards right */
static inline v3 frame_apply(const frame3 *fr, v3 l) {
    return v3add(v3add(v3scale(fr->r, l.x), v3scale(fr->u, l.y)), v3scale(fr->f, l.z));
}

/* Body proportions in metres. */
typedef struct body {
    float height;
    float hip_w, thigh, shin, ankle_h, torso, shoulder_w, upper_arm, forearm;
    float neck, nose_fwd, nose_down, eye_fwd, eye_w, eye_up, ear_w, ear_back;
    float leg;  /* thigh + shin + ankle_h: standing hip height */
    bool child, female;
} body;

void body_sample(body *b, dr_rng *rng, bool child, bool female, float age_stoop);

enum { ARM_ANGLES = 0, ARM_TARGET = 1 };
enum { SIDE_R = 0, SIDE_L = 1 };

typedef struct arm_spec {
    int mode;
    /* ARM_ANGLES, in the trunk frame: flex raises the arm forward (0 down, pi/2 forward,
     * pi overhead), abd then raises it sideways, elbow bends it (0 straight) in a direction
     * that is forward for a hanging arm, turned by twist towards the midline (pi/2) or
     * outwards (-pi/2), and carried along as the arm is raised (a raised arm's forearm
     * goes up with twist -pi/2). */
    float flex, abd, elbow, twist;
    /* ARM_TARGET: world wrist target and a world direction the elbow points to. */
    v3 hand, hint;
} arm_spec;

/* Everything the solver needs for one frame. */
typedef struct pose_spec {
    v3 pelvis;      /* world position of the pelvis centre */
    float yaw;      /* facing of the pelvis */
    float pel_pitch, pel_roll;
    float tr_pitch, tr_roll, tr_twist; /* trunk relative to the pelvis */
    float hd_pitch, hd_yaw, hd_roll;   /* head relative to the trunk */
    arm_spec arm[2];                   /* [right, left] */
    v3 foot[2];                        /* world ankle targets */
    float knee_out[2];                 /* knee hint: 0 forward, + turned outwards (rad) */
    uint8_t contact[2];                /* ankle planted (the solver keeps it reachable) */
} pose_spec;

/* How far the pelvis must come down for every planted foot to be reachable (0 when it is). */
float body_reach_drop(const body *b, const pose_spec *spec);
/* Lower the pelvis of a whole clip where planted feet need it, spreading each lowering
 * smoothly over the neighbouring frames so that the pelvis never jumps. */
void body_smooth_reach(const body *b, pose_spec *specs, int n);
/* Solve one frame: fills the COCO-18 joints (world metres); may lower spec->pelvis so that
 * planted feet stay reachable. */
void body_solve(const body *b, pose_spec *spec, v3 joints[DR_NUM_KEYPOINTS]);

/* ---- held postures: anchor-relative body configurations, interpolated with easing ---- */
enum {
    P_PFWD, P_PLAT, P_PH, P_YAW, P_PPITCH, P_PROLL, P_TPITCH, P_TROLL, P_TTWIST, P_HPITCH, P_HYAW, P_HROLL,
    P_RFLEX, P_RABD, P_RELB, P_RTW, P_LFLEX, P_LABD, P_LELB, P_LTW,
    P_RFX, P_RFY, P_RFZ, P_LFX, P_LFY, P_LFZ, P_RKNEE, P_LKNEE,
    P_N
};
/* Positions (P_PFWD, P_PLAT, P_PH, P_*F*) are in units of the leg length (standing hip
 * height), so one posture fits every body; P_PH = 1 is standing straight; foot x is
 * outwards-positive for both feet, y the lift of the ankle above its standing height. */
typedef struct posture {
    float v[P_N];
} posture;

void posture_stand(const body *b, posture *p);
void posture_lerp(posture *out, const posture *a, const posture *b, float t);
/* Posture relative to an anchor on the ground facing `heading` -> pose_spec (angles arms). */
void posture_to_spec(const body *b, v3 anchor, float heading, const posture *p, pose_spec *s);
/* Arm index helpers: P_RFLEX + 4 * side. */
#define P_ARM(side, k) (P_RFLEX + 4 * (side) + (k))
#define P_FOOT(side, k) (P_RFX + 3 * (side) + (k))

/* ---- motion generation ---- */
typedef struct motion_ctx {
    const body *b;
    dr_rng *rng;
    int action, direction, speed, facing;
    float heading;   /* world facing / travel yaw */
    v3 origin;       /* ground point where the subject starts */
    float ground_grade; /* hiking: rise per metre along the path (0 flat) */
    float style[8];  /* per-clip style noise in [-1, 1] */
    int variant;     /* action-specific variant (VAR_*), chosen before generation */
    /* outputs */
    float cadence, speed_mps;
} motion_ctx;

/* Fill specs[DR_CLIP_FRAMES] for m->action. */
void motion_generate(motion_ctx *m, pose_spec *specs);
/* Variants of an action that captions mention. */
enum {
    VAR_NONE = 0,
    VAR_SIT_COUCH, VAR_SIT_CHAIR, VAR_SIT_BENCH,
    VAR_KNEEL_ONE, VAR_KNEEL_BOTH,
    VAR_JUMP_IN_PLACE, VAR_JUMP_FORWARD,
    VAR_GUITAR_STANDING, VAR_GUITAR_SITTING,
    VAR_TURN_TO_CAMERA, VAR_TURN_AWAY,
};


/* ---- captions ---- */
typedef struct caption_in {
    int action, direction, speed, facing, variant;
    bool camera_follows, child, female;
    int kind;   /* index into the subject-kind table */
    int place;  /* index into the place table */
} caption_in;

int caption_num_kinds(void);
const char *caption_kind_name(int kind);
bool caption_kind_child(int kind);
bool caption_kind_female(int kind);
int caption_kind_sex(int kind); /* 0 male, 1 female, 2 either */
bool caption_combo_possible(int action, int place, int kind);
float caption_kind_age(int kind); /* 0 young .. 1 old, for posture */
/* Sample a subject kind and a place suitable for an action. */
int caption_sample_kind(dr_rng *rng, int action);
int caption_sample_place(dr_rng *rng, int action, int variant);
const char *caption_place_key(int place);
int caption_find_place(const char *key);
int caption_find_kind(const char *name);
void caption_write(dr_rng *rng, const caption_in *in, char *subject, size_t subject_size, char *prompt,
                   size_t prompt_size);

#endif
