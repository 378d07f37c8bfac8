/* Tests of BVH import: parsing (any rotation order, position channels on any joint, End
 * Sites), forward kinematics against an independent vector-rotation reference, joint
 * mapping for several naming schemes, the camera, resampling, hostile files, and the
 * real CMU capture 01_01 (bone lengths steady in 3D and 2D). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "io/bvh.h"
#include "pose/seqio.h"
#include "testutil.h"

#define CMU_FILE "/usr/share/assimp/models/BVH/01_01.bvh"
#define BIOVISION_FILE "/usr/share/assimp/models/BVH/Boxing_Toes.bvh"

/* A small T-pose figure facing +Z with left = +X, in the naming scheme `names` (CMU or
 * Mixamo), rotation channels in `order` (e.g. "ZXY"), `frames` frames of random angles
 * (amplitude `amp` degrees) and a root moving along +X at 60 units per second. */
typedef struct scheme {
    const char *hips, *lupleg, *lleg, *lfoot, *rupleg, *rleg, *rfoot, *spine, *neck, *head, *larm, *lfore, *lhand,
        *rarm, *rfore, *rhand;
} scheme;

static const scheme cmu = {"Hips", "LeftUpLeg", "LeftLeg", "LeftFoot", "RightUpLeg", "RightLeg", "RightFoot",
                           "Spine", "Neck", "Head", "LeftArm", "LeftForeArm", "LeftHand", "RightArm",
                           "RightForeArm", "RightHand"};
static const scheme mixamo = {"mixamorig:Hips", "mixamorig:LeftUpLeg", "mixamorig:LeftLeg", "mixamorig:LeftFoot",
                              "mixamorig:RightUpLeg", "mixamorig:RightLeg", "mixamorig:RightFoot",
                              "mixamorig:Spine", "mixamorig:Neck", "mixamorig:Head", "mixamorig:LeftArm",
                              "mixamorig:LeftForeArm", "mixamorig:LeftHand", "mixamorig:RightArm",
                              "mixamorig:RightForeArm", "mixamorig:RightHand"};
/* SMPL-style: L_Foot / L_Hand exist beside L_Ankle / L_Wrist (generated as extra
 * joints below) and must not win. */
static const scheme smpl = {"Pelvis", "L_Hip", "L_Knee", "L_Ankle", "R_Hip", "R_Knee", "R_Ankle", "Spine1", "Neck",
                            "Head", "L_Shoulder", "L_Elbow", "L_Wrist", "R_Shoulder", "R_Elbow", "R_Wrist"};
static const scheme biped = {"Bip01 Pelvis", "Bip01 L Thigh", "Bip01 L Calf", "Bip01 L Foot", "Bip01 R Thigh",
                             "Bip01 R Calf", "Bip01 R Foot", "Bip01 Spine", "Bip01 Neck", "Bip01 Head",
                             "Bip01 L UpperArm", "Bip01 L Forearm", "Bip01 L Hand", "Bip01 R UpperArm",
                             "Bip01 R Forearm", "Bip01 R Hand"};

typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if ((size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        b->cap = 2 * b->cap + (size_t)k + 64;
        b->s = realloc(b->s, b->cap);
    }
}

static void rot_channels(sbuf *b, const char *order) {
    put(b, "CHANNELS 3 %crotation %crotation %crotation\n", order[0], order[1], order[2]);
}

static void joint(sbuf *b, const char *name, float x, float y, float z, const char *order) {
    put(b, "JOINT %s\n{\nOFFSET %g %g %g\n", name, x, y, z);
    rot_channels(b, order);
}

static char *make_bvh(const scheme *s, const char *order, int frames, double frame_time, float amp, uint64_t seed,
                      int *num_channels) {
    sbuf b = {malloc(4096), 0, 4096};
    put(&b, "HIERARCHY\nROOT %s\n{\nOFFSET 0 0 0\nCHANNELS 6 Xposition Yposition Zposition %crotation %crotation %crotation\n",
        s->hips, order[0], order[1], order[2]);
    joint(&b, s->lupleg, 9, -4, 0, order);
    joint(&b, s->lleg, 0, -42, 0, order);
    joint(&b, s->lfoot, 0, -40, 0, order);
    put(&b, "End Site\n{\nOFFSET 0 -6 12\n}\n}\n}\n}\n");
    joint(&b, s->rupleg, -9, -4, 0, order);
    joint(&b, s->rleg, 0, -42, 0, order);
    joint(&b, s->rfoot, 0, -40, 0, order);
    put(&b, "End Site\n{\nOFFSET 0 -6 12\n}\n}\n}\n}\n");
    joint(&b, s->spine, 0, 22, -1, order);
    /* the neck carries position channels too: any joint may */
    put(&b, "JOINT %s\n{\nOFFSET 0 28 0\nCHANNELS 6 %crotation Xposition %crotation Yposition Zposition %crotation\n",
        s->neck, order[0], order[1], order[2]);
    joint(&b, s->head, 0, 9, 1, order);
    put(&b, "End Site\n{\nOFFSET 0 16 0\n}\n}\n");
    joint(&b, s->larm, 18, -3, 0, order);
    joint(&b, s->lfore, 28, 0, 0, order);
    joint(&b, s->lhand, 25, 0, 0, order);
    put(&b, "End Site\n{\nOFFSET 8 0 0\n}\n}\n}\n}\n");
    joint(&b, s->rarm, -18, -3, 0, order);
    joint(&b, s->rfore, -28, 0, 0, order);
    joint(&b, s->rhand, -25, 0, 0, order);
    int extra = 0;
    if (s == &smpl) {
        /* SMPL's knuckle and toe joints, as decoys: hung at the end of the file so the
         * channel layout above stays put (name matching ignores the topology). */
        joint(&b, "L_Hand", -5, 0, 0, order);
        put(&b, "}\n");
        joint(&b, "L_Foot", -5, 0, 0, order);
        put(&b, "}\n");
        extra = 6;
    }
    put(&b, "End Site\n{\nOFFSET -8 0 0\n}\n}\n}\n}\n");
    put(&b, "}\n}\n}\n"); /* neck, spine, root */
    int nch = 6 + 3 * 13 + 6 + 3 + extra; /* root, 13 three-channel joints, the six-channel neck, head */
    *num_channels = nch;
    put(&b, "MOTION\nFrames: %d\nFrame Time: %.9g\n", frames, frame_time);
    dr_rng rng;
    dr_rng_seed(&rng, seed);
    for (int f = 0; f < frames; f++) {
        double t = f * frame_time;
        put(&b, "%.6f 95 0 ", 60.0 * t);
        for (int c = 3; c < nch; c++) {
            bool neck_pos = c == 6 + 3 * 7 + 1 || c == 6 + 3 * 7 + 3 || c == 6 + 3 * 7 + 4;
            /* the neck's position channels hold its offset (0, 28, 0): they replace it */
            double v = neck_pos ? (c == 6 + 3 * 7 + 3 ? 28.0 : 0.0) : amp * (2.0 * dr_rng_uniform(&rng) - 1.0);
            put(&b, "%.6f ", v);
        }
        put(&b, "\n");
    }
    return b.s;
}

/* Reference rotation of a vector about a coordinate axis (Rodrigues for a unit axis). */
static void rotate_axis(int axis, double deg, double *v) {
    double a = deg * M_PI / 180, c = cos(a), s = sin(a), r[3];
    int i = (axis + 1) % 3, j = (axis + 2) % 3;
    r[axis] = v[axis];
    r[i] = c * v[i] - s * v[j];
    r[j] = s * v[i] + c * v[j];
    memcpy(v, r, sizeof r);
}

/* World position of joint j by walking up the chain and rotating vectors, channel by
 * channel: a different computation from dr_bvh_fk's matrix products. */
static void reference_position(const dr_bvh *bvh, int frame, int j, double *out) {
    double p[3] = {0, 0, 0};
    const float *values = bvh->motion + (size_t)frame * bvh->num_channels;
    for (int k = j; k >= 0; k = bvh->joints[k].parent) {
        const dr_bvh_joint *jt = &bvh->joints[k];
        /* p is in joint k's frame: rotate into the parent's frame (last channel first), then translate */
        for (int c = jt->num_channels - 1; c >= 0; c--)
            if (jt->channels[c] >= DR_BVH_XROT) rotate_axis(jt->channels[c] - DR_BVH_XROT, values[jt->first_channel + c], p);
        double t[3] = {jt->offset[0], jt->offset[1], jt->offset[2]};
        for (int c = 0; c < jt->num_channels; c++)
            if (jt->channels[c] <= DR_BVH_ZPOS) t[jt->channels[c]] = values[jt->first_channel + c];
        for (int a = 0; a < 3; a++) p[a] += t[a];
    }
    memcpy(out, p, sizeof p);
}

static void test_parse_and_fk_every_rotation_order(void **state) {
    (void)state;
    const char *orders[6] = {"XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"};
    for (int o = 0; o < 6; o++) {
        int nch;
        char *text = make_bvh(&cmu, orders[o], 5, 1.0 / 60, 80, (uint64_t)o + 1, &nch);
        dr_bvh bvh;
        dr_err err = {0};
        if (dr_bvh_parse(text, strlen(text), "synthetic.bvh", &bvh, &err)) fail_msg("%s", err.msg);
        assert_int_equal(bvh.num_channels, nch);
        assert_int_equal(bvh.num_frames, 5);
        assert_int_equal(bvh.num_joints, 16 + 5); /* 16 joints + 5 End Sites */
        assert_true(bvh.joints[4].end_site);
        assert_string_equal(bvh.joints[4].name, "LeftFoot_End");
        float *pos = malloc(sizeof(float) * 3 * bvh.num_joints), *rot = malloc(sizeof(float) * 9 * bvh.num_joints);
        for (int f = 0; f < 5; f++) {
            dr_bvh_fk(&bvh, f, pos, rot);
            for (int j = 0; j < bvh.num_joints; j++) {
                double ref[3];
                reference_position(&bvh, f, j, ref);
                for (int a = 0; a < 3; a++)
                    if (fabs(pos[3 * j + a] - ref[a]) > 1e-3)
                        fail_msg("order %s frame %d joint %s axis %d: %g vs %g", orders[o], f, bvh.joints[j].name, a,
                                 pos[3 * j + a], ref[a]);
            }
            /* rotations are orthonormal */
            for (int j = 0; j < bvh.num_joints; j++) {
                const float *r = rot + 9 * j;
                for (int a = 0; a < 3; a++)
                    for (int c = 0; c < 3; c++) {
                        double d = r[a] * r[c] + r[3 + a] * r[3 + c] + r[6 + a] * r[6 + c];
                        assert_true(fabs(d - (a == c)) < 1e-5);
                    }
            }
        }
        free(pos), free(rot), free(text);
        dr_bvh_free(&bvh);
    }
}

static void test_mapping_schemes(void **state) {
    (void)state;
    const scheme *schemes[4] = {&cmu, &mixamo, &biped, &smpl};
    for (int s = 0; s < 4; s++) {
        int nch;
        char *text = make_bvh(schemes[s], "ZXY", 2, 1.0 / 30, 0, 1, &nch);
        dr_bvh bvh;
        dr_bvh_coco_map map;
        dr_err err = {0};
        if (dr_bvh_parse(text, strlen(text), "s.bvh", &bvh, &err)) fail_msg("scheme %d: %s", s, err.msg);
        if (dr_bvh_map_coco(&bvh, "s.bvh", &map, &err)) fail_msg("scheme %d: %s", s, err.msg);
        assert_string_equal(bvh.joints[map.joint[DR_KP_LSHOULDER]].name, schemes[s]->larm);
        assert_string_equal(bvh.joints[map.joint[DR_KP_RKNEE]].name, schemes[s]->rleg);
        assert_string_equal(bvh.joints[map.joint[DR_KP_LWRIST]].name, schemes[s]->lhand);
        assert_string_equal(bvh.joints[map.joint[DR_KP_LANKLE]].name, schemes[s]->lfoot);
        assert_string_equal(bvh.joints[map.head].name, schemes[s]->head);
        /* rest axes: up +Y, left +X, forward +Z */
        assert_true(map.up[1] > 0.99f && map.left[0] > 0.99f && map.forward[2] > 0.99f);
        assert_true(fabsf(map.shoulder_width - 36.0f) < 1e-4f);
        /* rest keypoints: the neck between the shoulders, the nose in front of the head */
        float xyz[54];
        dr_bvh_keypoints3d(&bvh, &map, 0, xyz);
        (void)xyz;
        free(text);
        dr_bvh_free(&bvh);
    }
    /* The real Biovision-style file: LeftShoulder is the upper arm there (no LeftArm). */
    dr_bvh bvh;
    dr_bvh_coco_map map;
    dr_err err = {0};
    assert_int_equal(dr_bvh_load(BIOVISION_FILE, &bvh, &err), DR_OK);
    assert_int_equal(dr_bvh_map_coco(&bvh, BIOVISION_FILE, &map, &err), DR_OK);
    assert_string_equal(bvh.joints[map.joint[DR_KP_LSHOULDER]].name, "LeftShoulder");
    assert_string_equal(bvh.joints[map.joint[DR_KP_LELBOW]].name, "LeftElbow");
    assert_string_equal(bvh.joints[map.joint[DR_KP_RHIP]].name, "RightHip");
    assert_string_equal(bvh.joints[map.joint[DR_KP_RANKLE]].name, "RightAnkle");
    dr_bvh_free(&bvh);
    /* An unknown skeleton: the error lists what was found. */
    const char *odd = "HIERARCHY\nROOT Base\n{\nOFFSET 0 0 0\nCHANNELS 3 Xposition Yposition Zposition\n"
                      "JOINT Tentacle1\n{\nOFFSET 0 1 0\nCHANNELS 1 Zrotation\nEnd Site\n{\nOFFSET 0 1 0\n}\n}\n}\n"
                      "MOTION\nFrames: 1\nFrame Time: 0.1\n0 0 0 5\n";
    assert_int_equal(dr_bvh_parse(odd, strlen(odd), "odd.bvh", &bvh, &err), DR_OK);
    assert_int_equal(dr_bvh_map_coco(&bvh, "odd.bvh", &map, &err), DR_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "Tentacle1"));
    assert_non_null(strstr(err.msg, "Base"));
    assert_non_null(strstr(err.msg, "left_shoulder"));
    dr_pose_seq seq;
    assert_int_equal(dr_bvh_to_pose_seq(&bvh, "odd.bvh", NULL, &seq, &err), DR_EUNSUPPORTED);
    dr_bvh_free(&bvh);
}

static void test_camera_and_visibility(void **state) {
    (void)state;
    int nch;
    char *text = make_bvh(&cmu, "ZXY", 3, 1.0 / 30, 0, 1, &nch); /* a still T-pose */
    dr_bvh bvh;
    dr_err err = {0};
    assert_int_equal(dr_bvh_parse(text, strlen(text), "t.bvh", &bvh, &err), DR_OK);
    dr_bvh_import_opts o;
    dr_bvh_import_opts_init(&o);
    o.camera.elevation_deg = 0;
    dr_pose_seq front, back, side;
    assert_int_equal(dr_bvh_to_pose_seq(&bvh, "t.bvh", &o, &front, &err), DR_OK);
    o.camera.azimuth_deg = 180;
    assert_int_equal(dr_bvh_to_pose_seq(&bvh, "t.bvh", &o, &back, &err), DR_OK);
    o.camera.azimuth_deg = 90;
    assert_int_equal(dr_bvh_to_pose_seq(&bvh, "t.bvh", &o, &side, &err), DR_OK);
    const dr_pose *f = &front.frames[0], *b = &back.frames[0], *s = &side.frames[0];
    /* From the front the performer's left hand is on the image right; from behind on the left. */
    assert_true(f->kp[DR_KP_LWRIST].x > 256 && f->kp[DR_KP_RWRIST].x < 256);
    assert_true(b->kp[DR_KP_LWRIST].x < 256 && b->kp[DR_KP_RWRIST].x > 256);
    /* Head above the hips above the ankles (image y grows downwards). */
    assert_true(f->kp[DR_KP_NOSE].y < f->kp[DR_KP_NECK].y && f->kp[DR_KP_NECK].y < f->kp[DR_KP_RHIP].y &&
                f->kp[DR_KP_RHIP].y < f->kp[DR_KP_RANKLE].y);
    /* Auto-framing: everything inside the canvas with the margin, and close to it. */
    float x0, y0, x1, y1;
    assert_true(dr_pose_bbox(f, &x0, &y0, &x1, &y1));
    assert_true(x0 >= 0.08f * 512 - 0.5f && x1 <= 0.92f * 512 + 0.5f && y0 >= 0.08f * 320 - 0.5f &&
                y1 <= 0.92f * 320 + 0.5f);
    assert_true(x1 - x0 > 0.8f * 512 || y1 - y0 > 0.8f * 320);
    assert_int_equal(dr_pose_count_present(f), 18);
    /* From behind: no nose, no eyes; ears seen. From the left side: no right ear. */
    assert_false(dr_keypoint_present(&b->kp[DR_KP_NOSE]));
    assert_false(dr_keypoint_present(&b->kp[DR_KP_LEYE]));
    assert_true(dr_keypoint_present(&b->kp[DR_KP_LEAR]));
    assert_false(dr_keypoint_present(&s->kp[DR_KP_REAR]));
    assert_true(dr_keypoint_present(&s->kp[DR_KP_LEAR]));
    assert_true(dr_keypoint_present(&s->kp[DR_KP_NOSE]));
    /* An explicit camera looking at the hips projects them to the canvas centre. */
    o.camera.explicit_pose = true;
    float cam[3] = {0, 95, 400}, target[3] = {0, 95, 0};
    memcpy(o.camera.position, cam, sizeof cam);
    memcpy(o.camera.target, target, sizeof target);
    dr_pose_seq ex;
    assert_int_equal(dr_bvh_to_pose_seq(&bvh, "t.bvh", &o, &ex, &err), DR_OK);
    float hx = 0.5f * (ex.frames[0].kp[DR_KP_LHIP].x + ex.frames[0].kp[DR_KP_RHIP].x);
    float hy = 0.5f * (ex.frames[0].kp[DR_KP_LHIP].y + ex.frames[0].kp[DR_KP_RHIP].y);
    assert_true(fabsf(hx - 256) < 0.01f && fabsf(hy - (160 + 50.0f / 36 * 512 * 4 / 400)) < 0.01f);
    /* hip width 18 units at distance 400 with f = 50/36*512 px */
    float hipw = ex.frames[0].kp[DR_KP_LHIP].x - ex.frames[0].kp[DR_KP_RHIP].x;
    assert_true(fabsf(hipw - 18.0f * (50.0f / 36 * 512) / 400) < 0.01f);
    /* Behind the camera: missing. */
    cam[2] = -5, target[2] = -400;
    memcpy(o.camera.position, cam, sizeof cam);
    memcpy(o.camera.target, target, sizeof target);
    dr_pose_seq none;
    assert_int_equal(dr_bvh_to_pose_seq(&bvh, "t.bvh", &o, &none, &err), DR_OK);
    assert_int_equal(dr_pose_count_present(&none.frames[0]), 0);
    /* Bad options are refused. */
    o.camera.focal_mm = 0;
    assert_int_equal(dr_bvh_to_pose_seq(&bvh, "t.bvh", &o, &none, &err), DR_EINVAL);
    dr_pose_seq_free(&front), dr_pose_seq_free(&back), dr_pose_seq_free(&side), dr_pose_seq_free(&ex);
    dr_pose_seq_free(&none);
    dr_bvh_free(&bvh);
    free(text);
}

static void test_resampling(void **state) {
    (void)state;
    int nch;
    char *text = make_bvh(&cmu, "ZXY", 41, 1.0 / 120, 30, 9, &nch); /* 1/3 s at 120 fps */
    dr_bvh bvh;
    dr_err err = {0};
    assert_int_equal(dr_bvh_parse(text, strlen(text), "r.bvh", &bvh, &err), DR_OK);
    dr_bvh_import_opts o;
    dr_bvh_import_opts_init(&o);
    o.camera.explicit_pose = true;
    float cam[3] = {0, 95, 500}, target[3] = {0, 95, 0};
    memcpy(o.camera.position, cam, sizeof cam);
    memcpy(o.camera.target, target, sizeof target);
    dr_pose_seq s30, s120;
    assert_int_equal(dr_bvh_to_pose_seq(&bvh, "r.bvh", &o, &s30, &err), DR_OK);
    o.fps = 120;
    assert_int_equal(dr_bvh_to_pose_seq(&bvh, "r.bvh", &o, &s120, &err), DR_OK);
    assert_int_equal(s30.num_frames, 11);  /* 0 .. 1/3 s at 30 fps */
    assert_int_equal(s120.num_frames, 41); /* the source frames themselves */
    assert_true(s30.fps == 30.0f);
    for (int k = 0; k < 11; k++)
        for (int j = 0; j < 18; j++) {
            const dr_keypoint *a = &s30.frames[k].kp[j], *b = &s120.frames[4 * k].kp[j];
            if (fabsf(a->x - b->x) > 1e-3f || fabsf(a->y - b->y) > 1e-3f || a->c != b->c)
                fail_msg("30 fps frame %d keypoint %d differs from 120 fps frame %d", k, j, 4 * k);
        }
    /* 45 fps: frame 1 lies 2/3 of the way from source frame 2 to 3 (in 3D; projected
     * nearly so, the camera being far). */
    o.fps = 45;
    dr_pose_seq s45;
    assert_int_equal(dr_bvh_to_pose_seq(&bvh, "r.bvh", &o, &s45, &err), DR_OK);
    float want = s120.frames[2].kp[DR_KP_LHIP].x + (2.0f / 3) * (s120.frames[3].kp[DR_KP_LHIP].x - s120.frames[2].kp[DR_KP_LHIP].x);
    assert_true(fabsf(s45.frames[1].kp[DR_KP_LHIP].x - want) < 0.05f);
    dr_pose_seq_free(&s30), dr_pose_seq_free(&s120), dr_pose_seq_free(&s45);
    dr_bvh_free(&bvh);
    free(text);
}

/* Every prefix of a valid file, and assorted garbage, fails cleanly (or parses, for
 * prefixes that happen to be complete files). */
static void test_truncated_and_garbage(void **state) {
    (void)state;
    int nch;
    char *text = make_bvh(&cmu, "YXZ", 3, 1.0 / 30, 20, 4, &nch);
    size_t len = strlen(text);
    int ok = 0;
    for (size_t cut = 0; cut < len; cut++) {
        dr_bvh bvh;
        dr_err err = {0};
        int rc = dr_bvh_parse(text, cut, "cut.bvh", &bvh, &err);
        if (rc == DR_OK) {
            ok++;
            dr_bvh_free(&bvh);
        } else {
            assert_non_null(strstr(err.msg, "cut.bvh"));
            assert_null(bvh.joints);
            assert_null(bvh.motion);
        }
    }
    /* Only cuts inside the last value (which may still parse as a shorter number) and
     * its trailing spaces can succeed. */
    assert_true(ok <= 12);
    const char *bad[] = {
        "", "HIERARCHY", "HIERARCHY\nROOT\n", "HIERARCHY\nROOT A\n{\nOFFSET 0 0\n}\n",
        "HIERARCHY\nROOT A\n{\nCHANNELS 7 Xposition\n}\n", "HIERARCHY\nROOT A\n{\nCHANNELS 2 Xposition Xposition\n}\n",
        "HIERARCHY\nROOT A\n{\nCHANNELS 1 Wrotation\n}\n", "HIERARCHY\nJOINT A\n{\n}\n", "HIERARCHY\n}\n",
        "HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 1 Xrotation\n}\nMOTION\nFrames: -1\nFrame Time: 0.1\n",
        "HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 1 Xrotation\n}\nMOTION\nFrames: 1\nFrame Time: 0\n1\n",
        "HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 1 Xrotation\n}\nMOTION\nFrames: 1\nFrame Time: 0.1\nnan\n",
        "HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 1 Xrotation\n}\nMOTION\nFrames: 1\nFrame Time: 0.1\n1e999\n",
        "HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 1 Xrotation\n}\nMOTION\nFrames: 2000000\nFrame Time: 0.1\n1 2\n",
        "HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 1 Xrotation\n}\nMOTION\nFrames: 99999999999\nFrame Time: 0.1\n1\n",
        "HIERARCHY\nROOT A\n{\nOFFSET 1e300 0 0\n}\nMOTION\nFrames: 1\nFrame Time: 0.1\n\n",
        "HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nEnd Site\n{\nCHANNELS 1 Xrotation\n}\n}\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dr_bvh bvh;
        dr_err err = {0};
        if (dr_bvh_parse(bad[i], strlen(bad[i]), "bad.bvh", &bvh, &err) == DR_OK) fail_msg("bad case %zu parsed", i);
        assert_non_null(strstr(err.msg, "bad.bvh"));
    }
    /* Very deep nesting is bounded. */
    sbuf b = {malloc(64), 0, 64};
    put(&b, "HIERARCHY\nROOT A\n{\n");
    for (int i = 0; i < 5000; i++) put(&b, "JOINT J%d\n{\n", i);
    dr_bvh bvh;
    dr_err err = {0};
    assert_int_equal(dr_bvh_parse(b.s, b.n, "deep.bvh", &bvh, &err), DR_ERANGE);
    free(b.s);
    free(text);
}

static double cv(const double *v, int n) {
    double m = 0, s = 0;
    for (int i = 0; i < n; i++) m += v[i];
    m /= n;
    for (int i = 0; i < n; i++) s += (v[i] - m) * (v[i] - m);
    return sqrt(s / n) / m;
}

/* The real CMU capture: it imports, and its limbs keep their lengths. 3D lengths come
 * from forward kinematics and must be constant up to float rounding (the resampling
 * interpolates between frames 1/120 s apart, which shortens moving limbs a hair); 2D
 * lengths change with foreshortening as the subject turns, so only a loose bound. */
static void test_cmu_01_01(void **state) {
    (void)state;
    if (!dr_file_exists(CMU_FILE)) {
        print_message("skipped: %s not installed (scripts/install-deps --test installs assimp-testmodels)\n", CMU_FILE);
        skip();
    }
    dr_bvh bvh;
    dr_bvh_coco_map map;
    dr_err err = {0};
    assert_int_equal(dr_bvh_load(CMU_FILE, &bvh, &err), DR_OK);
    assert_int_equal(bvh.num_frames, 2752);
    assert_int_equal(dr_bvh_map_coco(&bvh, CMU_FILE, &map, &err), DR_OK);
    static const int limbs[12][2] = {{2, 3}, {3, 4}, {5, 6}, {6, 7}, {8, 9}, {9, 10}, {11, 12}, {12, 13}, {2, 5}, {8, 11}, {16, 17}, {1, 0}};
    int n = bvh.num_frames;
    double *len3 = malloc(sizeof(double) * (size_t)n * 12), worst3 = 0;
    float xyz[54];
    for (int f = 0; f < n; f++) {
        dr_bvh_keypoints3d(&bvh, &map, f, xyz);
        for (int l = 0; l < 12; l++) {
            const float *a = xyz + 3 * limbs[l][0], *b = xyz + 3 * limbs[l][1];
            len3[l * n + f] = sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2]));
        }
    }
    /* All but the last pair are rigid: neck-nose is not (the neck keypoint is the
     * shoulders' midpoint and the head nods relative to it). */
    for (int l = 0; l < 11; l++) worst3 = fmax(worst3, cv(len3 + l * n, n));
    double neck_nose = cv(len3 + 11 * n, n);
    /* The import: 2751 intervals of 1/120 s = 22.9 s -> 688 frames at 30 fps. */
    dr_pose_seq seq;
    dr_pose_read_opts opts;
    dr_pose_read_opts_init(&opts);
    dr_pose_format fmt;
    assert_int_equal(dr_pose_read(CMU_FILE, &opts, &seq, &fmt, &err), DR_OK);
    assert_int_equal(fmt, DR_POSE_FORMAT_BVH);
    assert_int_equal(seq.num_frames, (int)floor(2751 * bvh.frame_time * 30 + 1e-6) + 1);
    /* 2D: the 8 arm and leg bones, over frames where both ends are seen. */
    /* Projected lengths change with depth (the subject jumps towards the camera) and
     * foreshortening, so their CV is large by nature; what must be small is the change
     * from one frame to the next (no jitter): mean |L(t+1) - L(t)| / mean L. */
    double *len2 = malloc(sizeof(double) * (size_t)seq.num_frames), worst2 = 0, mean2 = 0, step2 = 0;
    for (int l = 0; l < 8; l++) {
        int m = 0;
        double steps = 0;
        for (int f = 0; f < seq.num_frames; f++) {
            const dr_keypoint *a = &seq.frames[f].kp[limbs[l][0]], *b = &seq.frames[f].kp[limbs[l][1]];
            if (!dr_keypoint_present(a) || !dr_keypoint_present(b)) continue;
            len2[m++] = hypot(a->x - b->x, a->y - b->y);
            if (m > 1) steps += fabs(len2[m - 1] - len2[m - 2]);
        }
        assert_true(m > seq.num_frames * 9 / 10);
        double c = cv(len2, m), mean = 0;
        for (int i = 0; i < m; i++) mean += len2[i] / m;
        worst2 = fmax(worst2, c);
        mean2 += c / 8;
        step2 += steps / (m - 1) / mean / 8;
    }
    print_message("CMU 01_01: %d frames at 120 fps -> %d at 30 fps; 3D bone length CV max %.1e over 11 rigid pairs "
                  "(neck-nose %.3f); 2D arm/leg length CV mean %.3f max %.3f, frame-to-frame change %.4f\n",
                  n, seq.num_frames, worst3, neck_nose, mean2, worst2, step2);
    assert_true(worst3 < 1e-5);
    assert_true(worst2 < 0.6);
    assert_true(step2 < 0.03);
    /* The subject moves: some frame is far from the first (T-pose) one. */
    double farthest = 0;
    for (int f = 0; f < seq.num_frames; f++) {
        double d = 0;
        for (int j = 2; j < 14; j++)
            d += hypot(seq.frames[f].kp[j].x - seq.frames[0].kp[j].x, seq.frames[f].kp[j].y - seq.frames[0].kp[j].y) / 12;
        farthest = fmax(farthest, d);
    }
    assert_true(farthest > 20);
    free(len3), free(len2);
    dr_pose_seq_free(&seq);
    dr_bvh_free(&bvh);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_fk_every_rotation_order),
        cmocka_unit_test(test_mapping_schemes),
        cmocka_unit_test(test_camera_and_visibility),
        cmocka_unit_test(test_resampling),
        cmocka_unit_test(test_truncated_and_garbage),
        cmocka_unit_test(test_cmu_01_01),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
