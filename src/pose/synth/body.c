/* body.c - the 3D kinematic body of the synthesizer: proportions, frames, the per-frame
 * solver (pelvis -> trunk -> head, two-bone IK for arms and legs) and held postures. */
#include <stdlib.h>
#include <string.h>

#include "pose/synth/synth_internal.h"

frame3 frame_from_yaw(float yaw) {
    float c = cosf(yaw), s = sinf(yaw);
    return (frame3){.r = v3m(s, 0, -c), .u = v3m(0, 1, 0), .f = v3m(c, 0, s)};
}

frame3 frame_yaw(frame3 fr, float a) {
    float c = cosf(a), s = sinf(a);
    v3 f = v3sub(v3scale(fr.f, c), v3scale(fr.r, s));
    v3 r = v3add(v3scale(fr.r, c), v3scale(fr.f, s));
    fr.f = f, fr.r = r;
    return fr;
}

frame3 frame_pitch(frame3 fr, float a) {
    float c = cosf(a), s = sinf(a);
    v3 u = v3add(v3scale(fr.u, c), v3scale(fr.f, s));
    v3 f = v3sub(v3scale(fr.f, c), v3scale(fr.u, s));
    fr.u = u, fr.f = f;
    return fr;
}

frame3 frame_roll(frame3 fr, float a) {
    float c = cosf(a), s = sinf(a);
    v3 u = v3add(v3scale(fr.u, c), v3scale(fr.r, s));
    v3 r = v3sub(v3scale(fr.r, c), v3scale(fr.u, s));
    fr.u = u, fr.r = r;
    return fr;
}

/* Anthropometric ratios of height (adult averages after Drillis & Contini / Winter); a
 * child has a relatively larger head and shorter legs. Build scales the widths. */
void body_sample(body *b, dr_rng *rng, bool child, bool female, float age_stoop) {
    (void)age_stoop;
    memset(b, 0, sizeof *b);
    b->child = child;
    b->female = female;
    float h;
    if (child) h = dr_rng_range(rng, 1.05f, 1.50f);
    else h = female ? 1.62f + 0.07f * dr_rng_normal(rng) : 1.76f + 0.07f * dr_rng_normal(rng);
    h = clampf(h, child ? 1.0f : 1.48f, child ? 1.55f : 2.0f);
    b->height = h;
    float youth = child ? clampf((1.50f - h) / 0.45f, 0, 1) : 0; /* 1 = small child */
    float legfrac = 0.530f - 0.045f * youth + 0.01f * dr_rng_normal(rng);
    float build = clampf(1.0f + 0.07f * dr_rng_normal(rng), 0.85f, 1.2f);
    float headk = 1.0f + 0.35f * youth;
    b->ankle_h = 0.039f * h;
    float legs = legfrac * h - b->ankle_h;
    float tr = dr_rng_range(rng, 0.48f, 0.52f); /* thigh share of the leg */
    b->thigh = legs * tr;
    b->shin = legs * (1 - tr);
    b->leg = b->thigh + b->shin + b->ankle_h;
    b->hip_w = (female ? 0.080f : 0.074f) * h * build; /* OpenPose hips sit a little wider than the joints */
    b->shoulder_w = (female ? 0.112f : 0.128f) * h * build;
    b->torso = (0.820f - legfrac) * h * dr_rng_range(rng, 0.98f, 1.02f) - 0.01f * youth * h;
    float arm = (0.330f - 0.01f * youth) * h * dr_rng_range(rng, 0.97f, 1.03f);
    b->upper_arm = arm * 0.53f;
    b->forearm = arm * 0.47f;
    b->neck = 0.100f * h * (0.9f + 0.1f * headk);
    b->nose_fwd = 0.055f * h * headk;
    b->nose_down = 0.010f * h * headk;
    b->eye_fwd = 0.045f * h * headk;
    b->eye_w = 0.032f * h * headk;
    b->eye_up = 0.014f * h * headk;
    b->ear_w = 0.045f * h * headk;
    b->ear_back = 0.004f * h * headk;
}

/* Two-bone IK: the middle joint lies in the plane of (root, target, hint) on the hint's
 * side; the end is the target, pulled in to the reachable shell when needed. Both bone
 * lengths are exact whatever the target. */
static void two_bone(v3 root, v3 target, float l1, float l2, v3 hint, v3 *mid, v3 *end) {
    v3 d = v3sub(target, root);
    float dist = v3len(d);
    v3 dir = dist > 1e-6f ? v3scale(d, 1.0f / dist) : v3m(0, -1, 0);
    float lo = fabsf(l1 - l2) + 1e-4f, hi = (l1 + l2) * 0.99999f;
    dist = clampf(dist, lo, hi);
    float ca = clampf((l1 * l1 + dist * dist - l2 * l2) / (2 * l1 * dist), -1, 1);
    float sa = sqrtf(fmaxf(0, 1 - ca * ca));
    v3 perp = v3mad(hint, dir, -v3dot(hint, dir));
    if (v3len(perp) < 1e-4f) { /* hint along the limb: any perpendicular will do */
        v3 alt = fabsf(dir.y) < 0.9f ? v3m(0, 1, 0) : v3m(1, 0, 0);
        perp = v3mad(alt, dir, -v3dot(alt, dir));
    }
    perp = v3norm(perp);
    *mid = v3add(root, v3add(v3scale(dir, l1 * ca), v3scale(perp, l1 * sa)));
    *end = v3add(root, v3scale(dir, dist));
}

float body_reach_drop(const body *b, const pose_spec *s) {
    frame3 fp = frame_roll(frame_pitch(frame_from_yaw(s->yaw), s->pel_pitch), s->pel_roll);
    float reach = (b->thigh + b->shin) * 0.9995f, drop = 0;
    for (int side = 0; side < 2; side++) {
        if (!s->contact[side]) continue;
        float sg = side == SIDE_R ? 1.0f : -1.0f;
        v3 hip = v3mad(s->pelvis, fp.r, sg * b->hip_w);
        v3 d = v3sub(s->foot[side], hip);
        float h2 = d.x * d.x + d.z * d.z;
        if (h2 + d.y * d.y > reach * reach && h2 < reach * reach) {
            float want = s->foot[side].y + sqrtf(reach * reach - h2);
            if (hip.y - want > drop) drop = hip.y - want;
        }
    }
    return drop;
}

void body_solve(const body *b, pose_spec *s, v3 J[DR_NUM_KEYPOINTS]) {
    frame3 fp = frame_roll(frame_pitch(frame_from_yaw(s->yaw), s->pel_pitch), s->pel_roll);
    /* Reach guard: a planted foot must stay exactly on its target, so if the generator put
     * the pelvis too high for the leg, lower the pelvis (root motion follows the feet). */
    s->pelvis.y -= body_reach_drop(b, s);
    frame3 ft = frame_roll(frame_pitch(frame_yaw(fp, s->tr_twist), s->tr_pitch), s->tr_roll);
    frame3 fh = frame_roll(frame_pitch(frame_yaw(ft, s->hd_yaw), s->hd_pitch), s->hd_roll);

    v3 neck = v3mad(s->pelvis, ft.u, b->torso);
    J[DR_KP_NECK] = neck;
    J[DR_KP_RSHOULDER] = v3mad(neck, ft.r, b->shoulder_w);
    J[DR_KP_LSHOULDER] = v3mad(neck, ft.r, -b->shoulder_w);
    v3 head = v3mad(neck, v3norm(v3add(ft.u, fh.u)), b->neck);
    J[DR_KP_NOSE] = v3mad(v3mad(head, fh.f, b->nose_fwd), fh.u, -b->nose_down);
    for (int side = 0; side < 2; side++) {
        float sg = side == SIDE_R ? 1.0f : -1.0f;
        v3 eye = v3mad(v3mad(v3mad(head, fh.f, b->eye_fwd), fh.r, sg * b->eye_w), fh.u, b->eye_up);
        v3 ear = v3mad(v3mad(head, fh.r, sg * b->ear_w), fh.f, -b->ear_back);
        J[side == SIDE_R ? DR_KP_REYE : DR_KP_LEYE] = eye;
        J[side == SIDE_R ? DR_KP_REAR : DR_KP_LEAR] = ear;
    }

    for (int side = 0; side < 2; side++) {
        float sg = side == SIDE_R ? 1.0f : -1.0f;
        int ks = side == SIDE_R ? DR_KP_RSHOULDER : DR_KP_LSHOULDER;
        const arm_spec *a = &s->arm[side];
        v3 sh = J[ks], elbow, wrist;
        if (a->mode == ARM_TARGET) {
            two_bone(sh, a->hand, b->upper_arm, b->forearm, a->hint, &elbow, &wrist);
        } else {
            /* The upper arm is "down" turned by flex about the trunk's right axis, then by
             * abd about its forward axis; the elbow's bend direction is carried along by the
             * same rotation from its hanging-arm value (forward, turned medially by twist), so
             * it is always perpendicular to the upper arm and continuous in the angles: no
             * hint vector that the arm could point along. */
            float cf = cosf(a->flex), sf = sinf(a->flex), ca = cosf(a->abd), sa = sinf(a->abd);
            float ct = cosf(a->twist), st = sinf(a->twist);
            v3 dl = v3m(sg * sa * cf, -ca * cf, sf);
            float bx = -sg * st, by = ct * sf, bz = ct * cf;  /* bend after the flex rotation */
            v3 bl = v3m(bx * ca - sg * sa * by, sg * sa * bx + by * ca, bz);
            v3 d = frame_apply(&ft, dl), perp = frame_apply(&ft, bl);
            elbow = v3mad(sh, d, b->upper_arm);
            v3 fd = v3add(v3scale(d, cosf(a->elbow)), v3scale(perp, sinf(a->elbow)));
            wrist = v3mad(elbow, fd, b->forearm);
        }
        J[ks + 1] = elbow;
        J[ks + 2] = wrist;
    }

    for (int side = 0; side < 2; side++) {
        float sg = side == SIDE_R ? 1.0f : -1.0f;
        int kh = side == SIDE_R ? DR_KP_RHIP : DR_KP_LHIP;
        v3 hip = v3mad(s->pelvis, fp.r, sg * b->hip_w);
        float ko = s->knee_out[side];
        v3 hint = frame_apply(&fp, v3m(sg * sinf(ko), 0, cosf(ko)));
        v3 knee, ankle;
        two_bone(hip, s->foot[side], b->thigh, b->shin, hint, &knee, &ankle);
        J[kh] = hip;
        J[kh + 1] = knee;
        J[kh + 2] = ankle;
    }
}

void body_smooth_reach(const body *b, pose_spec *specs, int n) {
    enum { SPREAD = 9 }; /* frames: 0.3 s either side */
    float drop[DR_CLIP_FRAMES];
    if (n > DR_CLIP_FRAMES) n = DR_CLIP_FRAMES;
    bool any = false;
    for (int i = 0; i < n; i++) drop[i] = body_reach_drop(b, &specs[i]), any |= drop[i] > 0;
    if (!any) return;
    /* envelope: max over neighbours of drop * smooth bump(distance) >= drop itself */
    for (int i = 0; i < n; i++) {
        float e = 0;
        for (int j = i - SPREAD; j <= i + SPREAD; j++) {
            if (j < 0 || j >= n || drop[j] <= 0) continue;
            float w = 1.0f - ease((float)abs(i - j) / (SPREAD + 1));
            if (drop[j] * w > e) e = drop[j] * w;
        }
        specs[i].pelvis.y -= e;
    }
}

void posture_stand(const body *b, posture *p) {
    memset(p, 0, sizeof *p);
    float lat = b->hip_w / b->leg;
    p->v[P_PH] = 0.995f;
    p->v[P_TPITCH] = 0.02f;
    for (int side = 0; side < 2; side++) {
        p->v[P_ARM(side, 0)] = 0.05f;
        p->v[P_ARM(side, 1)] = 0.12f;
        p->v[P_ARM(side, 2)] = 0.2f;
        p->v[P_FOOT(side, 0)] = lat * 1.05f;
    }
}

void posture_lerp(posture *out, const posture *a, const posture *b, float t) {
    for (int i = 0; i < P_N; i++) out->v[i] = lerpf(a->v[i], b->v[i], t);
}

void posture_to_spec(const body *b, v3 anchor, float heading, const posture *p, pose_spec *s) {
    frame3 fa = frame_from_yaw(heading);
    float L = b->leg;
    const float *v = p->v;
    memset(s, 0, sizeof *s);
    s->pelvis = v3add(anchor, frame_apply(&fa, v3m(v[P_PLAT] * L, v[P_PH] * L, v[P_PFWD] * L)));
    s->yaw = heading + v[P_YAW];
    s->pel_pitch = v[P_PPITCH];
    s->pel_roll = v[P_PROLL];
    s->tr_pitch = v[P_TPITCH];
    s->tr_roll = v[P_TROLL];
    s->tr_twist = v[P_TTWIST];
    s->hd_pitch = v[P_HPITCH];
    s->hd_yaw = v[P_HYAW];
    s->hd_roll = v[P_HROLL];
    for (int side = 0; side < 2; side++) {
        float sg = side == SIDE_R ? 1.0f : -1.0f;
        s->arm[side].mode = ARM_ANGLES;
        s->arm[side].flex = v[P_ARM(side, 0)];
        s->arm[side].abd = v[P_ARM(side, 1)];
        s->arm[side].elbow = v[P_ARM(side, 2)];
        s->arm[side].twist = v[P_ARM(side, 3)];
        v3 fl = v3m(sg * v[P_FOOT(side, 0)] * L, b->ankle_h + v[P_FOOT(side, 1)] * L, v[P_FOOT(side, 2)] * L);
        s->foot[side] = v3add(anchor, frame_apply(&fa, fl));
        s->knee_out[side] = v[P_RKNEE + side];
    }
}
