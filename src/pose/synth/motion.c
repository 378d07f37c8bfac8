/* motion.c - one motion generator per action.
 *
 * Three families share a few tools:
 *  - gaits (walking, hiking, jogging, running, climbing stairs): footsteps are planned in
 *    world space from speed, cadence and duty factor; a planted ankle stays on its
 *    footstep until lift-off, the swing foot travels to the next footstep on an eased arc,
 *    the pelvis rides over the stance foot (inverted pendulum when walking, spring with a
 *    ballistic flight phase when running) and the arms swing against the legs;
 *  - flows of held postures (yoga, stretching, posing, kneeling, lying down, ...):
 *    key postures with hold and transition times, interpolated with a C2 ease, feet that
 *    change place lifted on an arc;
 *  - rhythmic actions (squats, jumping jacks, skipping rope, dancing, boxing, guitar, ...):
 *    postures as functions of a phase, with ballistic flight where the feet leave the ground.
 * Everything random is drawn from m->rng before the frames are made, so a generator is a
 * pure function of its parameters. Feet that do not move and touch the ground are marked
 * planted afterwards, and the solver keeps them exactly on their targets. */
#include <string.h>

#include "pose/synth/synth_internal.h"

#define NF DR_CLIP_FRAMES

/* ---- small tools ---- */

/* Smooth random wobble: three sines with random frequencies and phases. */
typedef struct wob {
    float a[3], w[3], p[3];
} wob;

static wob wob_make(dr_rng *r, float amp, float f0, float f1) {
    wob w;
    static const float share[3] = {0.6f, 0.3f, 0.15f};
    for (int i = 0; i < 3; i++) {
        w.a[i] = amp * share[i] * dr_rng_range(r, 0.7f, 1.3f);
        w.w[i] = 2 * SYN_PI * dr_rng_range(r, f0, f1) * (1.0f + (float)i * 0.7f);
        w.p[i] = dr_rng_range(r, 0, 2 * SYN_PI);
    }
    return w;
}

static float wob_at(const wob *w, float t) {
    return w->a[0] * sinf(w->w[0] * t + w->p[0]) + w->a[1] * sinf(w->w[1] * t + w->p[1]) +
           w->a[2] * sinf(w->w[2] * t + w->p[2]);
}

static float frame_time(int i) { return (float)i * SYN_DT; }

/* Trunk frame of a spec (to place hand targets relative to the chest). */
static frame3 spec_trunk(const pose_spec *s) {
    frame3 fp = frame_roll(frame_pitch(frame_from_yaw(s->yaw), s->pel_pitch), s->pel_roll);
    return frame_roll(frame_pitch(frame_yaw(fp, s->tr_twist), s->tr_pitch), s->tr_roll);
}

/* Mirror a posture left <-> right. */
static void posture_mirror(posture *p) {
    for (int k = 0; k < 4; k++) {
        float t = p->v[P_ARM(0, k)];
        p->v[P_ARM(0, k)] = p->v[P_ARM(1, k)];
        p->v[P_ARM(1, k)] = t;
    }
    for (int k = 0; k < 3; k++) {
        float t = p->v[P_FOOT(0, k)];
        p->v[P_FOOT(0, k)] = p->v[P_FOOT(1, k)];
        p->v[P_FOOT(1, k)] = t;
    }
    float t = p->v[P_RKNEE];
    p->v[P_RKNEE] = p->v[P_LKNEE];
    p->v[P_LKNEE] = t;
    p->v[P_PLAT] = -p->v[P_PLAT];
    p->v[P_YAW] = -p->v[P_YAW];
    p->v[P_PROLL] = -p->v[P_PROLL];
    p->v[P_TROLL] = -p->v[P_TROLL];
    p->v[P_TTWIST] = -p->v[P_TTWIST];
    p->v[P_HYAW] = -p->v[P_HYAW];
    p->v[P_HROLL] = -p->v[P_HROLL];
}

static void set_arm(posture *p, int side, float flex, float abd, float elbow, float twist) {
    p->v[P_ARM(side, 0)] = flex;
    p->v[P_ARM(side, 1)] = abd;
    p->v[P_ARM(side, 2)] = elbow;
    p->v[P_ARM(side, 3)] = twist;
}

static void set_foot(posture *p, int side, float x, float lift, float z) {
    p->v[P_FOOT(side, 0)] = x;
    p->v[P_FOOT(side, 1)] = lift;
    p->v[P_FOOT(side, 2)] = z;
}

/* A flow of key postures: key[0] held hold[0] s, then for each i >= 1 a transition of
 * trans[i] s into key[i] and a hold of hold[i] s. */
#define SEQ_MAX 24
typedef struct seq {
    int n;
    posture key[SEQ_MAX];
    float hold[SEQ_MAX], trans[SEQ_MAX];
} seq;

static void seq_add(seq *s, const posture *p, float trans, float hold) {
    if (s->n >= SEQ_MAX) return;
    s->key[s->n] = *p;
    s->trans[s->n] = s->n ? trans : 0;
    s->hold[s->n] = hold;
    s->n++;
}

static float seq_duration(const seq *s) {
    float d = 0;
    for (int i = 0; i < s->n; i++) d += s->trans[i] + s->hold[i];
    return d;
}

/* Interpolated posture at time t; a foot that moves between keys is lifted on an arc. */
static void seq_eval(const seq *s, float t, posture *out) {
    float c = 0;
    for (int i = 0; i < s->n; i++) {
        if (i > 0) {
            if (t < c + s->trans[i]) {
                float u = (t - c) / s->trans[i];
                posture_lerp(out, &s->key[i - 1], &s->key[i], ease2(u));
                int moving = 0, stance = -1;
                for (int side = 0; side < 2; side++) {
                    float dx = s->key[i].v[P_FOOT(side, 0)] - s->key[i - 1].v[P_FOOT(side, 0)];
                    float dz = s->key[i].v[P_FOOT(side, 2)] - s->key[i - 1].v[P_FOOT(side, 2)];
                    /* a shuffle of a few centimetres is not a step */
                    if (sqrtf(dx * dx + dz * dz) > 0.03f) moving++;
                    else stance = side;
                }
                /* Feet move one at a time (both at once would be a jump): a single step
                 * lifts a quarter of the way in; two steps take one half each. The weight
                 * goes over the standing foot before the other lifts. */
                bool upright = s->key[i - 1].v[P_PH] > 0.7f && s->key[i].v[P_PH] > 0.7f;
                bool on_ground = s->key[i - 1].v[P_RFY] < 0.01f && s->key[i - 1].v[P_LFY] < 0.01f &&
                                 s->key[i].v[P_RFY] < 0.01f && s->key[i].v[P_LFY] < 0.01f;
                bool step = on_ground && (moving == 2 || (moving == 1 && upright));
                for (int side = 0; side < 2; side++) {
                    if (side == stance) continue;
                    float dx = s->key[i].v[P_FOOT(side, 0)] - s->key[i - 1].v[P_FOOT(side, 0)];
                    float dz = s->key[i].v[P_FOOT(side, 2)] - s->key[i - 1].v[P_FOOT(side, 2)];
                    float d = sqrtf(dx * dx + dz * dz);
                    if (d <= 1e-4f) continue;
                    float fu = u;
                    if (step) { /* the foot travels over [0.25, 0.8] of its step window */
                        float uu = moving == 1 ? u : clampf((u - 0.5f * (float)side) / 0.5f, 0, 1);
                        fu = clampf((uu - 0.25f) / 0.55f, 0, 1);
                    }
                    for (int k = 0; k < 3; k++)
                        out->v[P_FOOT(side, k)] = lerpf(s->key[i - 1].v[P_FOOT(side, k)], s->key[i].v[P_FOOT(side, k)], ease2(fu));
                    out->v[P_FOOT(side, 1)] += fminf(0.12f, 0.4f * d) * sinf(SYN_PI * fu);
                }
                if (step && upright) {
                    /* the weight goes over the standing foot before the other lifts; in a
                     * two-foot step it passes from the left foot to the right one while both
                     * are down (the right lands at u = 0.4, the left lifts at u = 0.625) */
                    float w, sx, sz;
                    if (moving == 1) {
                        w = 0.8f * (u < 0.3f ? ease(u / 0.3f) : u < 0.8f ? 1.0f : 1.0f - ease((u - 0.8f) / 0.2f));
                        sx = (stance == SIDE_R ? 1.0f : -1.0f) * out->v[P_FOOT(stance, 0)];
                        sz = out->v[P_FOOT(stance, 2)];
                    } else {
                        w = 0.8f * (u < 0.15f ? ease(u / 0.15f) : u < 0.875f ? 1.0f : 1.0f - ease((u - 0.875f) / 0.125f));
                        float t = ease((u - 0.42f) / 0.18f);
                        sx = lerpf(-out->v[P_LFX], out->v[P_RFX], t);
                        sz = lerpf(out->v[P_LFZ], out->v[P_RFZ], t);
                    }
                    /* at most a fifth of a leg: from a wide stance the pelvis cannot go all the way
                     * over one foot and still reach the other before it lifts */
                    float ddx = w * (sx - out->v[P_PLAT]), ddz = w * (sz - out->v[P_PFWD]);
                    float dl = sqrtf(ddx * ddx + ddz * ddz), cap = 0.2f;
                    if (dl > cap) ddx *= cap / dl, ddz *= cap / dl;
                    out->v[P_PROLL] += (ddx > 0 ? -0.06f : 0.06f) * w;
                    out->v[P_PLAT] += ddx;
                    out->v[P_PFWD] += ddz;
                }
                return;
            }
            c += s->trans[i];
        }
        if (t < c + s->hold[i]) {
            *out = s->key[i];
            return;
        }
        c += s->hold[i];
    }
    *out = s->key[s->n - 1];
}

/* Mark feet that rest on the ground and do not move as planted. */
static void auto_contact(const body *b, pose_spec *sp, float ground_y) {
    for (int side = 0; side < 2; side++)
        for (int i = 0; i < NF; i++) {
            v3 f = sp[i].foot[side];
            bool low = f.y < ground_y + b->ankle_h + 0.01f;
            bool still = true;
            if (i > 0 && v3len(v3sub(f, sp[i - 1].foot[side])) > 2e-4f) still = false;
            if (i + 1 < NF && v3len(v3sub(sp[i + 1].foot[side], f)) > 2e-4f) still = false;
            sp[i].contact[side] = low && still;
        }
}

/* Idle life of a standing body: weight shifts, sway, head movement, breathing. */
typedef struct idle {
    wob sway, shift, head_yaw, head_pitch, arms, trunk;
} idle;

static idle idle_make(dr_rng *r, float amount) {
    idle id;
    id.sway = wob_make(r, 0.012f * amount, 0.15f, 0.4f);
    id.shift = wob_make(r, 0.04f * amount, 0.05f, 0.2f);
    id.head_yaw = wob_make(r, 0.25f * amount, 0.1f, 0.35f);
    id.head_pitch = wob_make(r, 0.06f * amount, 0.15f, 0.5f);
    id.arms = wob_make(r, 0.06f * amount, 0.2f, 0.6f);
    id.trunk = wob_make(r, 0.03f * amount, 0.1f, 0.3f);
    return id;
}

static void idle_apply(const idle *id, float t, posture *p, bool legs) {
    float shift = wob_at(&id->shift, t);
    if (legs) {
        p->v[P_PLAT] += shift + wob_at(&id->sway, t);
        p->v[P_PROLL] += -shift * 1.2f;
        p->v[P_TROLL] += shift * 1.0f;
        p->v[P_PFWD] += wob_at(&id->sway, t + 3.1f) * 0.6f;
    }
    p->v[P_HYAW] += wob_at(&id->head_yaw, t);
    p->v[P_HPITCH] += wob_at(&id->head_pitch, t);
    p->v[P_TPITCH] += wob_at(&id->trunk, t);
    for (int side = 0; side < 2; side++) {
        p->v[P_ARM(side, 0)] += wob_at(&id->arms, t + 1.7f * (float)side);
        p->v[P_ARM(side, 2)] += 0.5f * wob_at(&id->arms, t + 5.3f + (float)side);
    }
}

static void specs_from_posture_fn(motion_ctx *m, pose_spec *sp, const seq *s, float t0, const idle *id,
                                  bool idle_legs) {
    for (int i = 0; i < NF; i++) {
        posture p;
        float t = t0 + frame_time(i);
        seq_eval(s, t, &p);
        if (id) idle_apply(id, t, &p, idle_legs);
        posture_to_spec(m->b, m->origin, m->heading, &p, &sp[i]);
    }
}

/* ---- gaits ---- */

typedef struct gait {
    float cadence;      /* steps per second */
    float step;         /* step length, leg units */
    float duty;         /* planted share of the cycle per foot; < 0.5 leaves a flight phase when running */
    float lift;         /* swing clearance, leg units */
    float bob;          /* walking: share of the allowed mid-stance rise; running: stance compression (leg units) */
    bool run;
    float lean, arm_amp, arm_off, elbow, elbow_amp, arm_abd, pel_rot, sway;
    float stair_rise, stair_run; /* metres; 0 = flat ground */
    float grade;        /* rise per metre along the path */
} gait;

/* A gently curving path: heading h0 + curv * d at distance d; position by the closed-form
 * integral of the heading (a circular arc, straight when curv is 0). */
static v3 path_point(v3 origin, float h0, float curv, float d, float *heading) {
    float h = h0 + curv * d;
    if (heading) *heading = h;
    if (fabsf(curv) < 1e-6f) return v3add(origin, v3m(d * cosf(h0), 0, d * sinf(h0)));
    return v3add(origin, v3m((sinf(h) - sinf(h0)) / curv, 0, (cosf(h0) - cosf(h)) / curv));
}

/* Ground height at distance d along the path. For stairs c0 aligns tread centres with the footsteps. */
static float gait_ground(const gait *g, float d, float c0) {
    if (g->stair_run > 0) return g->stair_rise * floorf((d - c0) / g->stair_run + 0.5f);
    return g->grade * d;
}

static void gen_gait(motion_ctx *m, pose_spec *sp, const gait *g) {
    const body *b = m->b;
    float L = b->leg, K = b->thigh + b->shin;
    float T = 2.0f / g->cadence;
    float v = g->cadence * g->step * L;
    m->cadence = g->cadence;
    m->speed_mps = v;
    /* people rarely walk a ruler-straight line: half the paths curve by up to 0.3 rad over
     * the clip (stairs stay straight) */
    float curv = 0;
    if (g->stair_run <= 0 && dr_rng_below(m->rng, 2))
        curv = dr_rng_range(m->rng, -0.3f, 0.3f) / fmaxf(1.0f, v * (DR_CLIP_FRAMES - 1) * SYN_DT);
    float phi0 = dr_rng_uniform(m->rng);
    float sw = b->hip_w * 0.95f;
    float dmax = g->step * L * g->duty;
    float base = sqrtf(fmaxf(0.2f * K * K, (0.985f * K) * (0.985f * K) - dmax * dmax));
    float rise_room = fmaxf(0, 0.985f * K - base);
    float st = m->style[0], st2 = m->style[1];
    float tf = (0.5f - g->duty) * T; /* flight time when running */
    float hflight = g->run ? SYN_G * tf * tf / 8 : 0;
    /* Stairs: distance of foot 0's first footstep, so tread centres fall under the feet. */
    float c0 = v * T * (0 - phi0 + g->duty / 2);
    float slope = g->stair_run > 0 ? g->stair_rise / g->stair_run : g->grade;
    float arm_amp = g->arm_amp * (1 + 0.25f * st), elbow = g->elbow * (1 + 0.2f * st2);
    for (int i = 0; i < NF; i++) {
        float t = frame_time(i);
        pose_spec *s = &sp[i];
        memset(s, 0, sizeof *s);
        float d = v * t;
        float cyc0 = t / T + phi0;
        float ph[2];
        float bobterm = 0;
        bool any_planted = false;
        for (int side = 0; side < 2; side++) {
            float cyc = cyc0 + 0.5f * (float)side;
            float k = floorf(cyc), phi = cyc - k;
            ph[side] = phi;
            float sg = side == SIDE_R ? 1.0f : -1.0f;
            v3 P[2];
            for (int j = 0; j < 2; j++) {
                float ts = (k + (float)j - phi0 - 0.5f * (float)side) * T;
                float dm = v * (ts + g->duty * T / 2);
                float hj;
                v3 on_path = path_point(m->origin, m->heading, curv, dm, &hj);
                P[j] = v3add(on_path, v3scale(frame_from_yaw(hj).r, sg * sw));
                P[j].y = m->origin.y + gait_ground(g, dm, c0) + b->ankle_h;
            }
            if (phi < g->duty) {
                s->foot[side] = P[0];
                s->contact[side] = 1;
                any_planted = true;
                float x = 2 * phi / g->duty - 1;
                bobterm += g->run ? -g->bob * L * (1 - x * x) : g->bob * rise_room * (1 - x * x);
            } else {
                float u = (phi - g->duty) / (1 - g->duty);
                v3 f = v3lerp(P[0], P[1], ease(u));
                float yu = g->stair_run > 0 ? ease(clampf((u - 0.1f) / 0.55f, 0, 1)) : u;
                f.y = lerpf(P[0].y, P[1].y, yu) + g->lift * L * sinf(SYN_PI * u) * (1 + 0.3f * sinf(SYN_PI * u));
                s->foot[side] = f;
            }
        }
        if (g->run && !any_planted) {
            /* flight: both flight windows per cycle have the same length */
            float fl = fracf(2 * cyc0);
            float start = g->duty;
            float u = clampf((fl - start) / (1 - 2 * g->duty) , 0, 1);
            /* fl runs over a half cycle (one step); the flight is its last (0.5 - duty) * 2 share */
            u = clampf((fl - 2 * g->duty) / (1 - 2 * g->duty), 0, 1);
            bobterm = hflight * 4 * u * (1 - u);
        }
        float sway = g->sway * L * cosf(2 * SYN_PI * (cyc0 - g->duty / 2));
        float hd;
        v3 on_path = path_point(m->origin, m->heading, curv, d, &hd);
        v3 pel = v3add(on_path, v3scale(frame_from_yaw(hd).r, sway));
        float ground_p = g->stair_run > 0 ? slope * (d - c0) : gait_ground(g, d, c0);
        pel.y = m->origin.y + ground_p + b->ankle_h + base + bobterm;
        s->pelvis = pel;
        float rot = cosf(2 * SYN_PI * cyc0);
        s->yaw = hd + g->pel_rot * rot;
        s->pel_roll = 0.04f * sinf(2 * SYN_PI * (cyc0 - g->duty / 2)) * (g->run ? 0.5f : 1.0f);
        s->tr_twist = -1.3f * g->pel_rot * rot;
        s->tr_pitch = g->lean + 0.5f * atanf(slope) + 0.03f * st2;
        s->hd_pitch = -0.7f * s->tr_pitch + 0.02f * sinf(4 * SYN_PI * cyc0);
        s->hd_yaw = -0.8f * s->tr_twist;
        for (int side = 0; side < 2; side++) {
            float other = ph[1 - side];
            float c = cosf(2 * SYN_PI * (other - 0.03f));
            arm_spec *a = &s->arm[side];
            a->mode = ARM_ANGLES;
            a->flex = g->arm_off + arm_amp * c;
            a->abd = g->arm_abd;
            a->elbow = elbow + g->elbow_amp * (0.5f + 0.5f * c);
            a->twist = 0.2f;
            s->knee_out[side] = 0.05f;
        }
    }
}

static void gen_walkish(motion_ctx *m, pose_spec *sp) {
    static const float cad[4][3] = {
        {1.62f, 1.90f, 2.12f},   /* walking */
        {1.45f, 1.70f, 1.92f},   /* hiking */
        {2.42f, 2.62f, 2.80f},   /* jogging */
        {2.68f, 2.90f, 3.12f},   /* running */
    };
    static const float stepl[4][3] = {
        {0.58f, 0.76f, 0.90f}, {0.52f, 0.66f, 0.78f}, {0.80f, 0.98f, 1.12f}, {1.10f, 1.35f, 1.60f},
    };
    int a = m->action == DR_ACT_WALKING ? 0 : m->action == DR_ACT_HIKING ? 1 : m->action == DR_ACT_JOGGING ? 2 : 3;
    const body *b = m->b;
    gait g = {0};
    float jit = 1 + 0.03f * m->style[2];
    g.cadence = cad[a][m->speed] * jit * (b->child ? 1.12f : 1.0f);
    g.step = stepl[a][m->speed] * (1 + 0.05f * m->style[3]) * (b->child ? 0.95f : 1.0f);
    switch (a) {
    case 0:
        g.duty = 0.44f, g.lift = 0.08f, g.bob = 0.8f, g.lean = 0.04f;
        g.arm_amp = 0.18f + 0.1f * (float)m->speed, g.arm_off = 0.04f, g.elbow = 0.25f, g.elbow_amp = 0.2f;
        g.arm_abd = 0.12f, g.pel_rot = 0.08f, g.sway = 0.025f;
        break;
    case 1:
        g.duty = 0.45f, g.lift = 0.12f, g.bob = 0.7f, g.lean = 0.16f;
        g.arm_amp = 0.32f, g.arm_off = 0.1f, g.elbow = 0.45f, g.elbow_amp = 0.25f;
        g.arm_abd = 0.16f, g.pel_rot = 0.09f, g.sway = 0.025f;
        g.grade = dr_rng_range(m->rng, 0.05f, 0.14f);
        break;
    case 2:
        g.run = true, g.duty = 0.39f, g.lift = 0.17f, g.bob = 0.035f, g.lean = 0.09f;
        g.arm_amp = 0.4f, g.arm_off = 0.15f, g.elbow = 1.3f, g.elbow_amp = 0.25f;
        g.arm_abd = 0.18f, g.pel_rot = 0.1f, g.sway = 0.015f;
        break;
    default:
        g.run = true, g.duty = 0.32f, g.lift = 0.30f, g.bob = 0.045f, g.lean = 0.14f;
        g.arm_amp = 0.55f + 0.1f * (float)m->speed, g.arm_off = 0.2f, g.elbow = 1.45f, g.elbow_amp = 0.35f;
        g.arm_abd = 0.15f, g.pel_rot = 0.12f, g.sway = 0.012f;
        break;
    }
    m->ground_grade = g.grade;
    gen_gait(m, sp, &g);
}

static void gen_stairs(motion_ctx *m, pose_spec *sp) {
    static const float cad[3] = {1.30f, 1.55f, 1.80f};
    const body *b = m->b;
    gait g = {0};
    g.cadence = cad[m->speed] * (1 + 0.03f * m->style[2]) * (b->child ? 1.08f : 1.0f);
    g.stair_run = dr_rng_range(m->rng, 0.26f, 0.31f) * (b->child ? 0.95f : 1.0f);
    g.stair_rise = dr_rng_range(m->rng, 0.15f, 0.18f) * (b->child ? 0.85f : 1.0f);
    g.step = g.stair_run / b->leg;
    g.duty = 0.46f, g.lift = 0.10f, g.bob = 0.4f, g.lean = 0.12f;
    g.arm_amp = 0.15f, g.arm_off = 0.08f, g.elbow = 0.35f, g.elbow_amp = 0.2f, g.arm_abd = 0.14f;
    g.pel_rot = 0.06f, g.sway = 0.03f;
    gen_gait(m, sp, &g);
}

/* ---- cycling: pelvis on the saddle, ankles on the pedal circle, hands on the bar ---- */
static void gen_cycling(motion_ctx *m, pose_spec *sp) {
    static const float cad[3] = {0.95f, 1.30f, 1.62f};     /* pedal revolutions per second */
    static const float dev[3] = {4.0f, 4.6f, 5.4f};        /* metres per revolution */
    const body *b = m->b;
    float L = b->leg, K = b->thigh + b->shin;
    float rpm = cad[m->speed] * (1 + 0.04f * m->style[2]);
    float v = rpm * dev[m->speed] * (b->child ? 0.7f : 1.0f) * (1 + 0.05f * m->style[3]);
    m->cadence = rpm;
    m->speed_mps = v;
    frame3 fa = frame_from_yaw(m->heading);
    float crank_r = 0.19f * L;
    float crank_fwd = 0.22f * L;
    float crank_d = 0.955f * K - crank_r; /* hip to crank centre so that the leg just reaches the bottom */
    float crank_down = sqrtf(fmaxf(0.01f, crank_d * crank_d - crank_fwd * crank_fwd));
    float saddle = 0.30f * L + crank_down;
    float lean = dr_rng_range(m->rng, 0.35f, 0.85f) + 0.1f * (float)m->speed;
    float th0 = dr_rng_range(m->rng, 0, 2 * SYN_PI);
    float bar_fwd = (0.55f + 0.45f * sinf(lean)) * L, bar_up = (0.95f - 0.6f * sinf(lean)) * L * 0.55f;
    for (int i = 0; i < NF; i++) {
        float t = frame_time(i);
        pose_spec *s = &sp[i];
        memset(s, 0, sizeof *s);
        float th = th0 + 2 * SYN_PI * rpm * t;
        v3 pel = v3mad(m->origin, fa.f, v * t);
        pel.y = m->origin.y + saddle + 0.005f * L * sinf(2 * th);
        s->pelvis = pel;
        s->yaw = m->heading;
        s->pel_pitch = 0.25f;
        s->pel_roll = 0.02f * sinf(th);
        s->tr_pitch = lean - 0.25f;
        s->tr_roll = -0.02f * sinf(th);
        s->hd_pitch = -0.8f * lean + 0.1f;
        v3 crank = v3add(v3mad(pel, fa.f, crank_fwd), v3m(0, -crank_down, 0));
        for (int side = 0; side < 2; side++) {
            float sg = side == SIDE_R ? 1.0f : -1.0f;
            float a = th + (side ? SYN_PI : 0);
            v3 pedal = v3add(v3mad(crank, fa.f, crank_r * cosf(a)), v3m(0, crank_r * sinf(a), 0));
            s->foot[side] = v3mad(pedal, fa.r, sg * b->hip_w * 1.05f);
            s->knee_out[side] = 0.08f;
            arm_spec *ar = &s->arm[side];
            ar->mode = ARM_TARGET;
            ar->hand = v3add(v3mad(v3mad(pel, fa.f, bar_fwd), fa.r, sg * b->shoulder_w * 1.15f), v3m(0, bar_up, 0));
            ar->hint = v3add(v3scale(fa.r, sg), v3m(0, -0.6f, 0));
        }
    }
}

/* ---- flows of held postures ---- */

static void yoga_pose(const body *b, int which, posture *p) {
    posture_stand(b, p);
    float lat = b->hip_w / b->leg;
    switch (which) {
    case 0: /* mountain, arms overhead */
        set_arm(p, 0, 0.2f, 2.95f, 0.15f, 0.0f);
        set_arm(p, 1, 0.2f, 2.95f, 0.15f, 0.0f);
        p->v[P_HPITCH] = -0.15f;
        break;
    case 1: /* warrior II */
        set_foot(p, 0, 0.62f, 0, 0.02f);
        set_foot(p, 1, 0.62f, 0, -0.02f);
        p->v[P_PH] = 0.80f, p->v[P_PLAT] = 0.16f, p->v[P_RKNEE] = 1.2f;
        set_arm(p, 0, 0.0f, 1.57f, 0.0f, 0.0f);
        set_arm(p, 1, 0.0f, 1.57f, 0.0f, 0.0f);
        p->v[P_HYAW] = -1.2f;
        break;
    case 2: /* tree: right foot on the inner left thigh, hands overhead */
        set_foot(p, 0, -lat * 0.2f, 0.42f, 0.05f);
        set_foot(p, 1, lat * 0.5f, 0, 0);
        p->v[P_PLAT] = -lat * 0.8f, p->v[P_RKNEE] = 1.35f;
        set_arm(p, 0, 0.3f, 2.9f, 0.4f, -1.2f);
        set_arm(p, 1, 0.3f, 2.9f, 0.4f, -1.2f);
        break;
    case 3: /* chair */
        set_foot(p, 0, lat * 0.7f, 0, 0);
        set_foot(p, 1, lat * 0.7f, 0, 0);
        p->v[P_PH] = 0.74f, p->v[P_PFWD] = -0.2f, p->v[P_PPITCH] = 0.35f, p->v[P_TPITCH] = 0.15f;
        set_arm(p, 0, 2.6f, 0.1f, 0.1f, 0);
        set_arm(p, 1, 2.6f, 0.1f, 0.1f, 0);
        break;
    case 4: /* standing forward fold */
        p->v[P_PFWD] = -0.12f, p->v[P_PPITCH] = 0.95f, p->v[P_TPITCH] = 0.85f;
        set_arm(p, 0, 1.7f, 0.1f, 0.1f, 0);
        set_arm(p, 1, 1.7f, 0.1f, 0.1f, 0);
        p->v[P_HPITCH] = 0.2f;
        break;
    case 5: /* downward dog */
        p->v[P_PH] = 0.74f, p->v[P_PFWD] = 0.60f, p->v[P_PPITCH] = 1.25f, p->v[P_TPITCH] = 0.95f;
        set_arm(p, 0, 3.05f, 0.15f, 0.0f, 0);
        set_arm(p, 1, 3.05f, 0.15f, 0.0f, 0);
        p->v[P_HPITCH] = -0.2f;
        break;
    case 6: /* triangle */
        set_foot(p, 0, 0.6f, 0, 0.0f);
        set_foot(p, 1, 0.55f, 0, 0.0f);
        p->v[P_PLAT] = -0.1f, p->v[P_TROLL] = 1.05f, p->v[P_PROLL] = 0.1f;
        set_arm(p, 0, 0.0f, 1.1f, 0.0f, 0);
        set_arm(p, 1, 0.0f, 2.1f, 0.0f, 0);
        p->v[P_HROLL] = -0.3f;
        break;
    default: /* warrior I: right foot forward, arms overhead */
        set_foot(p, 0, lat, 0, 0.55f);
        set_foot(p, 1, lat, 0, -0.5f);
        p->v[P_PH] = 0.80f, p->v[P_PFWD] = 0.12f, p->v[P_TPITCH] = -0.05f;
        set_arm(p, 0, 2.9f, 0.1f, 0.1f, 0);
        set_arm(p, 1, 2.9f, 0.1f, 0.1f, 0);
        p->v[P_HPITCH] = -0.15f;
        break;
    }
}

static void gen_yoga(motion_ctx *m, pose_spec *sp) {
    static const float hold[3] = {2.4f, 1.8f, 1.2f}, trans[3] = {1.5f, 1.1f, 0.8f};
    seq s = {0};
    posture p;
    yoga_pose(m->b, 0, &p);
    posture_stand(m->b, &p);
    seq_add(&s, &p, 0, dr_rng_range(m->rng, 0.3f, 1.5f));
    int last = -1, last_key = 0;
    while (seq_duration(&s) < 12 && s.n < SEQ_MAX - 2) {
        int w = (int)dr_rng_below(m->rng, 8);
        if (w == last) continue;
        last = w;
        yoga_pose(m->b, w, &p);
        if (dr_rng_below(m->rng, 2)) posture_mirror(&p);
        posture fold;
        yoga_pose(m->b, 4, &fold);
        /* between poses the flow passes through mountain pose (feet under the hips), and
         * into and out of downward dog through a forward fold (hands reach the floor first) */
        posture mountain;
        posture_stand(m->b, &mountain);
        if (last_key == 5 && w != 4) seq_add(&s, &fold, trans[m->speed], 0.3f);
        if (last_key != 0 && last_key != 4 && w != 0 && !(last_key == 5 && w == 4))
            seq_add(&s, &mountain, trans[m->speed], 0.2f);
        if (w == 5 && s.n && memcmp(&s.key[s.n - 1], &fold, sizeof fold)) seq_add(&s, &fold, trans[m->speed], 0.3f);
        seq_add(&s, &p, trans[m->speed] * dr_rng_range(m->rng, 0.8f, 1.2f), hold[m->speed] * dr_rng_range(m->rng, 0.8f, 1.3f));
        last_key = w;
    }
    idle id = idle_make(m->rng, 0.25f);
    specs_from_posture_fn(m, sp, &s, dr_rng_range(m->rng, 0, 1.0f), &id, false);
    auto_contact(m->b, sp, m->origin.y);
}

static void gen_stretching(motion_ctx *m, pose_spec *sp) {
    static const float hold[3] = {2.4f, 1.8f, 1.3f};
    seq s = {0};
    posture p, st;
    posture_stand(m->b, &st);
    seq_add(&s, &st, 0, dr_rng_range(m->rng, 0.3f, 1.2f));
    int last = -1;
    while (seq_duration(&s) < 12 && s.n < SEQ_MAX - 1) {
        int w = (int)dr_rng_below(m->rng, 6);
        if (w == last) continue;
        last = w;
        p = st;
        switch (w) {
        case 0: /* overhead reach */
            set_arm(&p, 0, 2.9f, 0.2f, 0.1f, 0);
            set_arm(&p, 1, 2.9f, 0.2f, 0.1f, 0);
            p.v[P_TPITCH] = -0.12f, p.v[P_HPITCH] = -0.25f;
            break;
        case 1: /* side bend with the opposite arm overhead */
            set_arm(&p, 1, 0.3f, 2.7f, 0.3f, 0);
            set_arm(&p, 0, 0.0f, 0.3f, 0.3f, 0);
            p.v[P_TROLL] = 0.38f, p.v[P_PLAT] = -0.04f;
            break;
        case 2: /* forward fold */
            p.v[P_PFWD] = -0.1f, p.v[P_PPITCH] = 0.9f, p.v[P_TPITCH] = 0.7f;
            set_arm(&p, 0, 1.6f, 0.1f, 0.1f, 0);
            set_arm(&p, 1, 1.6f, 0.1f, 0.1f, 0);
            break;
        case 3: /* arm across the chest */
            set_arm(&p, 0, 1.45f, -0.9f, 0.1f, 0);
            set_arm(&p, 1, 0.9f, 0.1f, 1.9f, 0.4f);
            p.v[P_HYAW] = 0.3f;
            break;
        case 4: /* quad stretch: right foot held behind */
            set_foot(&p, 0, 0.12f, 0.48f, -0.28f);
            p.v[P_RKNEE] = 0.0f;
            p.v[P_PLAT] = -m->b->hip_w / m->b->leg;
            set_arm(&p, 0, -0.7f, 0.3f, 0.5f, 0);
            set_arm(&p, 1, 0.2f, 1.2f, 0.2f, 0);
            break;
        default: /* torso twist */
            p.v[P_TTWIST] = 0.7f, p.v[P_HYAW] = 0.3f;
            set_arm(&p, 0, 1.4f, 0.3f, 1.5f, 1.2f);
            set_arm(&p, 1, 1.4f, 0.3f, 1.5f, 1.2f);
            break;
        }
        if (dr_rng_below(m->rng, 2)) posture_mirror(&p);
        seq_add(&s, &p, dr_rng_range(m->rng, 0.8f, 1.4f), hold[m->speed] * dr_rng_range(m->rng, 0.8f, 1.3f));
        if (dr_rng_below(m->rng, 3) == 0) seq_add(&s, &st, dr_rng_range(m->rng, 0.7f, 1.2f), dr_rng_range(m->rng, 0.2f, 0.8f));
    }
    idle id = idle_make(m->rng, 0.3f);
    specs_from_posture_fn(m, sp, &s, dr_rng_range(m->rng, 0, 1.0f), &id, false);
    auto_contact(m->b, sp, m->origin.y);
}

static void pose_key(const body *b, int w, posture *p) {
    posture_stand(b, p);
    switch (w) {
    case 0: /* hand on hip */
        set_arm(p, 0, -0.25f, 0.75f, 1.9f, 1.1f);
        p->v[P_PLAT] = 0.05f, p->v[P_PROLL] = -0.06f;
        break;
    case 1: /* both hands on hips */
        set_arm(p, 0, -0.25f, 0.75f, 1.9f, 1.1f);
        set_arm(p, 1, -0.25f, 0.75f, 1.9f, 1.1f);
        break;
    case 2: /* arms crossed */
        set_arm(p, 0, 0.55f, 0.15f, 2.3f, 1.3f);
        set_arm(p, 1, 0.5f, 0.15f, 2.2f, 1.3f);
        break;
    case 3: /* hands behind the head */
        set_arm(p, 0, 0.4f, 2.3f, 2.5f, -2.5f);
        set_arm(p, 1, 0.4f, 2.3f, 2.5f, -2.5f);
        p->v[P_HPITCH] = -0.1f;
        break;
    case 4: /* three-quarter turn, one hand in the hair */
        p->v[P_YAW] = 0.55f, p->v[P_HYAW] = -0.45f;
        set_arm(p, 1, 0.6f, 2.0f, 2.4f, -2.3f);
        p->v[P_HROLL] = 0.15f;
        break;
    default: /* weight on one leg, the other knee bent in, hand on thigh */
        set_foot(p, 0, 0.05f, 0.02f, 0.12f);
        p->v[P_PLAT] = -0.06f, p->v[P_PROLL] = 0.08f, p->v[P_RKNEE] = -0.4f;
        set_arm(p, 0, 0.25f, 0.2f, 0.3f, 0);
        p->v[P_HROLL] = -0.12f;
        break;
    }
}

static void gen_posing(motion_ctx *m, pose_spec *sp) {
    static const float hold[3] = {2.2f, 1.6f, 1.1f};
    seq s = {0};
    posture p;
    int last = -1;
    while (seq_duration(&s) < 12 && s.n < SEQ_MAX) {
        int w = (int)dr_rng_below(m->rng, 6);
        if (w == last) continue;
        last = w;
        pose_key(m->b, w, &p);
        if (dr_rng_below(m->rng, 2)) posture_mirror(&p);
        seq_add(&s, &p, dr_rng_range(m->rng, 0.6f, 1.1f), hold[m->speed] * dr_rng_range(m->rng, 0.8f, 1.3f));
    }
    idle id = idle_make(m->rng, 0.3f);
    specs_from_posture_fn(m, sp, &s, dr_rng_range(m->rng, 0, 1.0f), &id, false);
    auto_contact(m->b, sp, m->origin.y);
}

static void sit_posture(const body *b, int variant, posture *p) {
    posture_stand(b, p);
    float L = b->leg;
    float seat = (variant == VAR_SIT_COUCH ? 0.85f : 0.98f) * (b->shin + b->ankle_h);
    p->v[P_PH] = (seat + 0.08f * b->height / 1.7f) / L;
    p->v[P_PPITCH] = variant == VAR_SIT_COUCH ? -0.35f : -0.15f;
    p->v[P_TPITCH] = variant == VAR_SIT_COUCH ? 0.05f : 0.15f;
    float fz = (b->thigh + 0.35f * b->shin) / L;
    set_foot(p, 0, b->hip_w / L * 1.1f, 0, fz);
    set_foot(p, 1, b->hip_w / L * 1.1f, 0, fz);
    /* hands resting on the thighs */
    set_arm(p, 0, 0.55f, 0.15f, 0.85f, 0.3f);
    set_arm(p, 1, 0.55f, 0.15f, 0.85f, 0.3f);
}

static void gen_sitting(motion_ctx *m, pose_spec *sp) {
    seq s = {0};
    posture base, p;
    sit_posture(m->b, m->variant, &base);
    float L = m->b->leg;
    seq_add(&s, &base, 0, dr_rng_range(m->rng, 0.5f, 2.5f));
    while (seq_duration(&s) < 12 && s.n < SEQ_MAX) {
        p = base;
        switch (dr_rng_below(m->rng, 5)) {
        case 0: /* leaning forward, elbows on knees */
            p.v[P_TPITCH] += 0.5f;
            set_arm(&p, 0, 0.9f, 0.1f, 1.5f, 0.8f);
            set_arm(&p, 1, 0.9f, 0.1f, 1.5f, 0.8f);
            break;
        case 1: /* legs crossed */
            set_foot(&p, 0, -0.05f, 0.3f, p.v[P_RFZ] * 0.9f);
            p.v[P_RKNEE] = 0.3f;
            break;
        case 2: /* arm on the backrest / armrest, turned */
            set_arm(&p, 1, 0.1f, 1.2f, 0.6f, 0);
            p.v[P_HYAW] = 0.4f, p.v[P_TTWIST] = 0.15f;
            break;
        case 3: /* gesturing */
            set_arm(&p, 0, 0.7f, 0.3f, 1.6f, 0.5f);
            p.v[P_HPITCH] = -0.1f;
            break;
        default: /* lean back, hands in the lap */
            p.v[P_TPITCH] -= 0.2f;
            set_arm(&p, 0, 0.25f, 0.1f, 1.3f, 0.9f);
            set_arm(&p, 1, 0.25f, 0.1f, 1.3f, 0.9f);
            break;
        }
        if (dr_rng_below(m->rng, 2)) posture_mirror(&p);
        p.v[P_PLAT] = 0;
        seq_add(&s, &p, dr_rng_range(m->rng, 0.8f, 1.4f), dr_rng_range(m->rng, 1.0f, 2.5f));
        seq_add(&s, &base, dr_rng_range(m->rng, 0.8f, 1.4f), dr_rng_range(m->rng, 0.5f, 2.0f));
    }
    (void)L;
    idle id = idle_make(m->rng, 0.35f);
    specs_from_posture_fn(m, sp, &s, dr_rng_range(m->rng, 0, 1.0f), &id, false);
    auto_contact(m->b, sp, m->origin.y);
}

static void kneel_posture(const body *b, bool both, posture *p) {
    posture_stand(b, p);
    float L = b->leg, lat = b->hip_w / L;
    p->v[P_PH] = (b->thigh * 0.97f + 0.06f) / L;
    p->v[P_PFWD] = 0;
    set_foot(p, 0, lat, 0.0f, -(b->shin * 0.96f) / L);
    if (both) set_foot(p, 1, lat, 0.0f, -(b->shin * 0.96f) / L);
    else set_foot(p, 1, lat * 1.2f, 0, (b->thigh + 0.08f) / L);
    p->v[P_TPITCH] = 0.05f;
    set_arm(p, 0, 0.3f, 0.15f, 0.6f, 0.3f);
    set_arm(p, 1, both ? 0.3f : 0.7f, 0.15f, both ? 0.6f : 1.2f, 0.5f);
}

static void gen_kneeling(motion_ctx *m, pose_spec *sp) {
    seq s = {0};
    posture st, mid, kn;
    posture_stand(m->b, &st);
    bool both = m->variant == VAR_KNEEL_BOTH;
    kneel_posture(m->b, both, &kn);
    mid = kn;
    /* halfway: crouched with the lead foot forward */
    posture_lerp(&mid, &st, &kn, 0.5f);
    mid.v[P_TPITCH] = 0.35f;
    set_foot(&mid, 0, kn.v[P_RFX], 0, kn.v[P_RFZ] * 0.6f);
    set_foot(&mid, 1, kn.v[P_LFX], 0, both ? 0 : kn.v[P_LFZ]);
    float slow = m->speed == DR_SPEED_SLOW ? 1.4f : m->speed == DR_SPEED_FAST ? 0.7f : 1.0f;
    seq_add(&s, &st, 0, dr_rng_range(m->rng, 0.3f, 1.5f));
    seq_add(&s, &mid, 0.9f * slow, 0.15f);
    seq_add(&s, &kn, 0.9f * slow, 20);
    if (dr_rng_below(m->rng, 2)) for (int i = 0; i < s.n; i++) posture_mirror(&s.key[i]);
    idle id = idle_make(m->rng, 0.3f);
    specs_from_posture_fn(m, sp, &s, 0, &id, false);
    auto_contact(m->b, sp, m->origin.y);
}

/* Lying down and getting up: stand -> squat -> sit on the ground -> lie on the back. */
static void ground_keys(const body *b, posture k[4]) {
    float L = b->leg, lat = b->hip_w / L;
    posture_stand(b, &k[0]);
    posture_stand(b, &k[1]);
    k[1].v[P_PH] = 0.55f, k[1].v[P_PFWD] = -0.25f, k[1].v[P_PPITCH] = 0.5f, k[1].v[P_TPITCH] = 0.4f;
    set_arm(&k[1], 0, 1.2f, 0.2f, 0.3f, 0);
    set_arm(&k[1], 1, 1.2f, 0.2f, 0.3f, 0);
    posture_stand(b, &k[2]); /* sitting on the ground, legs forward, leaning on the hands */
    k[2].v[P_PH] = 0.11f * b->height / L, k[2].v[P_PFWD] = -0.75f, k[2].v[P_PPITCH] = -0.3f, k[2].v[P_TPITCH] = 0.05f;
    set_foot(&k[2], 0, lat, 0, 0.05f);
    set_foot(&k[2], 1, lat, 0, 0.1f);
    set_arm(&k[2], 0, -0.5f, 0.25f, 0.15f, 0);
    set_arm(&k[2], 1, -0.5f, 0.25f, 0.15f, 0);
    posture_stand(b, &k[3]); /* lying on the back */
    k[3].v[P_PH] = 0.09f * b->height / L, k[3].v[P_PFWD] = -0.85f, k[3].v[P_PPITCH] = -1.52f, k[3].v[P_TPITCH] = 0;
    set_foot(&k[3], 0, lat * 1.2f, 0, -0.03f); /* legs nearly straight, within reach */
    set_foot(&k[3], 1, lat * 1.2f, 0, -0.03f);
    set_arm(&k[3], 0, 0.05f, 0.3f, 0.1f, 0);
    set_arm(&k[3], 1, 0.05f, 0.3f, 0.1f, 0);
    k[3].v[P_HPITCH] = 0.1f;
}

static void gen_lying(motion_ctx *m, pose_spec *sp, bool getting_up) {
    posture k[4];
    ground_keys(m->b, k);
    float slow = m->speed == DR_SPEED_SLOW ? 1.4f : m->speed == DR_SPEED_FAST ? 0.7f : 1.0f;
    seq s = {0};
    float first = dr_rng_range(m->rng, 0.3f, 1.4f);
    if (!getting_up) {
        seq_add(&s, &k[0], 0, first);
        seq_add(&s, &k[1], 1.0f * slow, 0.2f);
        seq_add(&s, &k[2], 1.1f * slow, 0.6f * slow);
        seq_add(&s, &k[3], 1.2f * slow, 20);
    } else {
        seq_add(&s, &k[3], 0, first);
        seq_add(&s, &k[2], 1.2f * slow, 0.5f * slow);
        seq_add(&s, &k[1], 1.1f * slow, 0.2f);
        seq_add(&s, &k[0], 1.0f * slow, 20);
    }
    idle id = idle_make(m->rng, 0.2f);
    specs_from_posture_fn(m, sp, &s, 0, &id, false);
    auto_contact(m->b, sp, m->origin.y);
}

static void gen_turning(motion_ctx *m, pose_spec *sp) {
    const body *b = m->b;
    float L = b->leg;
    float slow = m->speed == DR_SPEED_SLOW ? 1.5f : m->speed == DR_SPEED_FAST ? 0.65f : 1.0f;
    float t1 = dr_rng_range(m->rng, 0.6f, 2.2f), dur = dr_rng_range(m->rng, 1.2f, 1.6f) * slow;
    float sgn = dr_rng_below(m->rng, 2) ? 1.0f : -1.0f;
    float h0 = m->heading, h1 = m->heading + sgn * SYN_PI; /* m->heading is the start facing */
    int nsteps = 4;
    idle id = idle_make(m->rng, 0.3f);
    posture p;
    for (int i = 0; i < NF; i++) {
        float t = frame_time(i);
        float u = clampf((t - t1) / dur, 0, 1);
        float yaw = lerpf(h0, h1, ease2(u));
        posture_stand(b, &p);
        idle_apply(&id, t, &p, false);
        pose_spec *s = &sp[i];
        posture_to_spec(b, m->origin, yaw, &p, s);
        /* feet: each step re-places one foot under the rotated hip */
        for (int side = 0; side < 2; side++) {
            float sg = side == SIDE_R ? 1.0f : -1.0f;
            float prev_yaw = h0, next_yaw = h0, lift = 0, w = 0;
            for (int k = side; k < nsteps; k += 2) {
                float ts = t1 + dur * (float)k / nsteps, te = ts + dur * 1.6f / nsteps;
                float yk = lerpf(h0, h1, (float)(k + 1) / nsteps);
                if (t >= te) prev_yaw = next_yaw = yk, w = 1;
                else if (t > ts) {
                    next_yaw = yk;
                    w = ease2((t - ts) / (te - ts));
                    lift = 0.06f * L * sinf(SYN_PI * (t - ts) / (te - ts));
                    break;
                } else break;
            }
            float fy = lerpf(prev_yaw, next_yaw, w);
            frame3 ff = frame_from_yaw(fy);
            v3 f = v3mad(m->origin, ff.r, sg * b->hip_w * 1.05f);
            f.y = m->origin.y + b->ankle_h + lift;
            s->foot[side] = f;
        }
        s->hd_yaw += 0.35f * sgn * sinf(SYN_PI * u); /* the head leads the turn */
    }
    m->heading = h1;
    auto_contact(b, sp, m->origin.y);
}

static void gen_throwing(motion_ctx *m, pose_spec *sp) {
    const body *b = m->b;
    float lat = b->hip_w / b->leg;
    float slow = m->speed == DR_SPEED_SLOW ? 1.35f : m->speed == DR_SPEED_FAST ? 0.75f : 1.0f;
    posture ready, wind, rel, follow;
    posture_stand(b, &ready);
    set_foot(&ready, 0, lat * 1.2f, 0, -0.08f);
    set_foot(&ready, 1, lat * 1.2f, 0, 0.08f);
    ready.v[P_PH] = 0.97f;
    set_arm(&ready, 0, 0.6f, 0.2f, 1.6f, 0.6f);
    set_arm(&ready, 1, 0.5f, 0.2f, 1.5f, 0.6f);
    wind = ready;
    wind.v[P_YAW] = -0.7f, wind.v[P_TTWIST] = -0.45f, wind.v[P_PFWD] = -0.08f, wind.v[P_TPITCH] = -0.05f;
    set_foot(&wind, 1, lat * 1.1f, 0.08f, 0.12f);
    set_arm(&wind, 0, -0.3f, 1.5f, 1.7f, -1.57f); /* cocked: forearm up */
    set_arm(&wind, 1, 1.5f, 0.3f, 0.3f, 0);
    wind.v[P_HYAW] = 0.9f;
    rel = ready;
    set_foot(&rel, 1, lat * 1.2f, 0, 0.55f);
    rel.v[P_PFWD] = 0.22f, rel.v[P_PH] = 0.93f, rel.v[P_YAW] = 0.25f, rel.v[P_TTWIST] = 0.35f, rel.v[P_TPITCH] = 0.25f;
    set_arm(&rel, 0, 2.3f, 0.9f, 0.5f, -1.57f); /* same elbow plane as the wind-up: no forearm flip */
    set_arm(&rel, 1, 0.2f, 0.4f, 0.6f, 0);
    rel.v[P_HYAW] = -0.4f;
    posture plant = wind; /* the lead foot lands before the weight shifts onto it */
    set_foot(&plant, 1, lat * 1.2f, 0, 0.55f);
    plant.v[P_PFWD] = 0.02f, plant.v[P_YAW] = -0.55f, plant.v[P_TTWIST] = -0.4f;
    follow = rel;
    follow.v[P_TPITCH] = 0.55f, follow.v[P_YAW] = 0.45f, follow.v[P_TTWIST] = 0.45f;
    set_arm(&follow, 0, 0.9f, -0.4f, 0.4f, 0);
    follow.v[P_HYAW] = -0.5f;
    posture settle = ready; /* weight back over the rear foot before the lead foot returns */
    set_foot(&settle, 1, lat * 1.2f, 0, 0.55f);
    settle.v[P_PFWD] = 0.0f;
    seq s = {0};
    seq_add(&s, &ready, 0, dr_rng_range(m->rng, 0.2f, 0.9f));
    for (int k = 0; k < 4; k++) {
        seq_add(&s, &wind, 0.6f * slow, 0.2f * slow);
        seq_add(&s, &plant, 0.25f * slow, 0.02f);
        seq_add(&s, &rel, 0.3f * fmaxf(slow, 0.85f), 0.02f);
        seq_add(&s, &follow, 0.25f * slow, 0.35f * slow);
        seq_add(&s, &settle, 0.5f * slow, 0.05f);
        seq_add(&s, &ready, 0.45f * slow, dr_rng_range(m->rng, 0.3f, 1.0f));
    }
    m->cadence = 1.0f / seq_duration(&s) * 4;
    if (dr_rng_below(m->rng, 5) == 0) for (int i = 0; i < s.n; i++) posture_mirror(&s.key[i]); /* left-handed */
    idle id = idle_make(m->rng, 0.2f);
    specs_from_posture_fn(m, sp, &s, 0, &id, false);
    auto_contact(b, sp, m->origin.y);
}

/* ---- rhythmic actions ---- */

static void gen_squats(motion_ctx *m, pose_spec *sp) {
    static const float period[3] = {3.4f, 2.5f, 1.8f};
    const body *b = m->b;
    float P = period[m->speed] * (1 + 0.08f * m->style[2]);
    m->cadence = 1.0f / P;
    float t0 = dr_rng_range(m->rng, 0, P);
    float depth = dr_rng_range(m->rng, 0.8f, 1.0f);
    bool arms_fwd = dr_rng_below(m->rng, 3) != 0;
    idle id = idle_make(m->rng, 0.15f);
    posture p;
    for (int i = 0; i < NF; i++) {
        float t = t0 + frame_time(i);
        float d = depth * (0.5f - 0.5f * cosf(2 * SYN_PI * t / P));
        posture_stand(b, &p);
        float lat = b->hip_w / b->leg * 1.5f;
        set_foot(&p, 0, lat, 0, 0.02f);
        set_foot(&p, 1, lat, 0, 0.02f);
        p.v[P_PH] = 0.99f - 0.40f * d;
        p.v[P_PFWD] = -0.26f * d;
        p.v[P_PPITCH] = 0.55f * d;
        p.v[P_TPITCH] = 0.02f + 0.2f * d;
        p.v[P_HPITCH] = -0.5f * d;
        p.v[P_RKNEE] = p.v[P_LKNEE] = 0.35f;
        if (arms_fwd) {
            set_arm(&p, 0, 0.2f + 1.35f * d, 0.1f, 0.15f, 0);
            set_arm(&p, 1, 0.2f + 1.35f * d, 0.1f, 0.15f, 0);
        } else { /* hands behind the head */
            set_arm(&p, 0, 0.4f, 2.3f, 2.5f, -2.5f);
            set_arm(&p, 1, 0.4f, 2.3f, 2.5f, -2.5f);
        }
        idle_apply(&id, t, &p, false);
        posture_to_spec(b, m->origin, m->heading, &p, &sp[i]);
    }
    auto_contact(b, sp, m->origin.y);
}

static void gen_lunges(motion_ctx *m, pose_spec *sp) {
    static const float period[3] = {3.6f, 2.8f, 2.1f};
    const body *b = m->b;
    float P = period[m->speed] * (1 + 0.08f * m->style[2]);
    m->cadence = 1.0f / P;
    posture st, out, down;
    posture_stand(b, &st);
    set_arm(&st, 0, -0.25f, 0.75f, 1.9f, 1.1f);
    set_arm(&st, 1, -0.25f, 0.75f, 1.9f, 1.1f);
    float stride = dr_rng_range(m->rng, 0.7f, 0.85f);
    /* the weight stays on the back foot while the front foot is in the air */
    out = st;
    set_foot(&out, 0, st.v[P_RFX], 0, stride);
    out.v[P_PFWD] = 0.04f;
    down = out;
    down.v[P_PH] = 0.6f, down.v[P_PFWD] = stride * 0.45f, down.v[P_TPITCH] = 0.02f;
    seq s = {0};
    seq_add(&s, &st, 0, dr_rng_range(m->rng, 0.1f, 0.6f));
    for (int k = 0; k < 6; k++) {
        posture o = out, d = down;
        if (k & 1) posture_mirror(&o), posture_mirror(&d);
        seq_add(&s, &o, 0.2f * P, 0.02f);
        seq_add(&s, &d, 0.27f * P, 0.08f * P);
        seq_add(&s, &o, 0.24f * P, 0.02f);
        seq_add(&s, &st, 0.16f * P, 0.05f * P);
    }
    idle id = idle_make(m->rng, 0.15f);
    specs_from_posture_fn(m, sp, &s, 0, &id, false);
    auto_contact(b, sp, m->origin.y);
}

static void gen_jumping_jacks(motion_ctx *m, pose_spec *sp) {
    static const float period[3] = {1.35f, 1.0f, 0.8f};
    const body *b = m->b;
    float L = b->leg;
    float P = period[m->speed] * (1 + 0.06f * m->style[2]);
    m->cadence = 1.0f / P;
    float t0 = dr_rng_range(m->rng, 0, P);
    float lat_in = b->hip_w / L * 0.9f, lat_out = lat_in + dr_rng_range(m->rng, 0.3f, 0.42f);
    const float fl = 0.16f; /* flight share of each half cycle start */
    float tf = fl * P;
    float hf = SYN_G * tf * tf / 8;
    posture p;
    for (int i = 0; i < NF; i++) {
        float t = t0 + frame_time(i);
        float ph = fracf(t / P);
        float open, lift = 0, dip = 0;
        bool air = false;
        if (ph < fl) open = ease(ph / fl), air = true, lift = 4 * (ph / fl) * (1 - ph / fl);
        else if (ph < 0.5f) open = 1, dip = sinf(SYN_PI * (ph - fl) / (0.5f - fl));
        else if (ph < 0.5f + fl) open = 1 - ease((ph - 0.5f) / fl), air = true, lift = 4 * ((ph - 0.5f) / fl) * (1 - (ph - 0.5f) / fl);
        else open = 0, dip = sinf(SYN_PI * (ph - 0.5f - fl) / (0.5f - fl));
        /* arms lead the legs a little: up over the first 40% of the cycle, down over the next */
        float arm = ph < 0.4f ? ease(ph / 0.4f) : ph < 0.5f ? 1 : ph < 0.9f ? 1 - ease((ph - 0.5f) / 0.4f) : 0;
        posture_stand(b, &p);
        float lat = lerpf(lat_in, lat_out, open);
        set_foot(&p, 0, lat, air ? 0.1f * lift * hf / L * 4 : 0, 0);
        set_foot(&p, 1, lat, air ? 0.1f * lift * hf / L * 4 : 0, 0);
        p.v[P_PH] = 0.985f - 0.05f * dip + (air ? lift * hf / L : 0);
        if (air) { /* feet stay under the body in the air */
            p.v[P_RFY] = p.v[P_LFY] = (p.v[P_PH] - 0.985f) * 0.9f;
        }
        set_arm(&p, 0, 0.1f, lerpf(0.15f, 2.95f, arm), 0.2f, 0);
        set_arm(&p, 1, 0.1f, lerpf(0.15f, 2.95f, arm), 0.2f, 0);
        posture_to_spec(b, m->origin, m->heading, &p, &sp[i]);
        sp[i].contact[0] = sp[i].contact[1] = !air;
    }
}

static void gen_push_ups(motion_ctx *m, pose_spec *sp) {
    static const float period[3] = {2.8f, 2.0f, 1.4f};
    const body *b = m->b;
    float P = period[m->speed] * (1 + 0.08f * m->style[2]);
    m->cadence = 1.0f / P;
    float t0 = dr_rng_range(m->rng, 0, P);
    float K = (b->thigh + b->shin) * 0.995f;
    float arm = b->upper_arm + b->forearm;
    frame3 fa = frame_from_yaw(m->heading);
    float line = K + b->torso;
    float up_h = 0.93f * arm + 0.03f, down_h = 0.38f * arm + 0.03f;
    float eps_up = asinf(clampf((up_h - b->ankle_h) / line, 0, 1));
    float eps_down = asinf(clampf((down_h - b->ankle_h) / line, 0, 1));
    v3 ankle_mid = v3add(m->origin, v3m(0, b->ankle_h, 0));
    /* hands under the shoulders of the top position */
    v3 sh_up = v3scale(fa.f, line * cosf(eps_up));
    for (int i = 0; i < NF; i++) {
        float t = t0 + frame_time(i);
        float d = 0.5f - 0.5f * cosf(2 * SYN_PI * t / P);
        float eps = lerpf(eps_up, eps_down, d);
        pose_spec *s = &sp[i];
        memset(s, 0, sizeof *s);
        v3 dir = v3add(v3scale(fa.f, cosf(eps)), v3m(0, sinf(eps), 0));
        s->pelvis = v3mad(ankle_mid, dir, K);
        s->yaw = m->heading;
        s->pel_pitch = SYN_PI / 2 - eps;
        s->hd_pitch = -0.5f;
        for (int side = 0; side < 2; side++) {
            float sg = side == SIDE_R ? 1.0f : -1.0f;
            s->foot[side] = v3mad(ankle_mid, fa.r, sg * b->hip_w * 0.8f);
            s->contact[side] = 1;
            arm_spec *a = &s->arm[side];
            a->mode = ARM_TARGET;
            a->hand = v3mad(v3add(m->origin, v3add(sh_up, v3m(0, 0.04f, 0))), fa.r, sg * b->shoulder_w * 1.25f);
            a->hint = v3add(v3scale(fa.r, sg), v3scale(fa.f, -0.5f));
        }
    }
}

static void gen_jumping(motion_ctx *m, pose_spec *sp) {
    static const float period[3] = {2.1f, 1.6f, 1.25f};
    const body *b = m->b;
    float L = b->leg;
    float P = period[m->speed] * (1 + 0.06f * m->style[2]);
    m->cadence = 1.0f / P;
    bool forward = m->variant == VAR_JUMP_FORWARD;
    float tf = dr_rng_range(m->rng, 0.36f, 0.5f) * (b->child ? 0.85f : 1.0f);
    float jump_len = forward ? dr_rng_range(m->rng, 0.7f, 1.1f) * L : 0;
    float tc = 0.26f * P, tp = 0.15f * P, tl = 0.18f * P; /* crouch, push, landing */
    float rest = P - tc - tp - tf - tl;
    if (rest < 0.05f) rest = 0.05f;
    P = tc + tp + tf + tl + rest;
    float t0 = dr_rng_range(m->rng, 0, P);
    frame3 fa = frame_from_yaw(m->heading);
    posture st, crouch;
    posture_stand(b, &st);
    crouch = st;
    crouch.v[P_PH] = 0.72f, crouch.v[P_PFWD] = -0.15f, crouch.v[P_PPITCH] = 0.4f, crouch.v[P_TPITCH] = 0.3f;
    set_arm(&crouch, 0, -0.7f, 0.15f, 0.2f, 0);
    set_arm(&crouch, 1, -0.7f, 0.15f, 0.2f, 0);
    posture up = st;
    set_arm(&up, 0, 2.3f, 0.2f, 0.2f, 0);
    set_arm(&up, 1, 2.3f, 0.2f, 0.2f, 0);
    float v0 = SYN_G * tf / 2;
    for (int i = 0; i < NF; i++) {
        float t = t0 + frame_time(i);
        int k = (int)floorf(t / P);
        float u = t - (float)k * P;
        float base = (float)(k - (int)floorf(t0 / P)) * jump_len; /* anchor advances one jump per cycle */
        v3 anchor = v3mad(m->origin, fa.f, base);
        posture p;
        bool air = false;
        float rise = 0, along = 0;
        if (u < tc) posture_lerp(&p, &st, &crouch, ease(u / tc));
        else if (u < tc + tp) posture_lerp(&p, &crouch, &up, ease((u - tc) / tp));
        else if (u < tc + tp + tf) {
            float s = u - tc - tp;
            p = up;
            air = true;
            rise = v0 * s - SYN_G * s * s / 2;
            along = jump_len * s / tf;
            float tuck = sinf(SYN_PI * s / tf);
            p.v[P_RFY] = p.v[P_LFY] = rise / L + 0.12f * tuck;
            p.v[P_RFZ] = p.v[P_LFZ] = along / L - 0.05f * tuck;
            p.v[P_PH] -= 0.12f * tuck;
        } else if (u < tc + tp + tf + tl) {
            float s = (u - tc - tp - tf) / tl;
            posture_lerp(&p, &up, &crouch, 0.7f * sinf(SYN_PI * s * 0.5f));
            anchor = v3mad(anchor, fa.f, jump_len);
        } else {
            float s = (u - tc - tp - tf - tl) / rest;
            posture c2 = crouch;
            posture_lerp(&c2, &up, &crouch, 0.7f);
            posture_lerp(&p, &c2, &st, ease(s));
            anchor = v3mad(anchor, fa.f, jump_len);
        }
        if (air) {
            p.v[P_PH] += rise / L;
            p.v[P_PFWD] += along / L;
        }
        /* the arms swing on their own, slower timeline: back during the crouch, forward and
         * up through the push into the flight, down again after the landing */
        const float at[6] = {0, 0.7f * tc, tc + tp + 0.4f * tf, tc + tp + tf + 0.5f * tl, tc + tp + tf + tl + 0.6f * rest, P};
        const float av[6] = {0.05f, -0.7f, 2.3f, 0.9f, 0.05f, 0.05f};
        for (int k = 0; k < 5; k++)
            if (u >= at[k] && u < at[k + 1]) {
                float flex = lerpf(av[k], av[k + 1], ease((u - at[k]) / (at[k + 1] - at[k])));
                p.v[P_RFLEX] = p.v[P_LFLEX] = flex;
            }
        posture_to_spec(b, anchor, m->heading, &p, &sp[i]);
        sp[i].contact[0] = sp[i].contact[1] = !air;
    }
    m->speed_mps = jump_len / P;
}

static void gen_skipping(motion_ctx *m, pose_spec *sp) {
    static const float freq[3] = {1.7f, 2.1f, 2.6f};
    const body *b = m->b;
    float L = b->leg;
    float f = freq[m->speed] * (1 + 0.05f * m->style[2]);
    m->cadence = f;
    float P = 1 / f, tf = 0.42f * P, hf = SYN_G * tf * tf / 8;
    float t0 = dr_rng_range(m->rng, 0, P);
    idle id = idle_make(m->rng, 0.1f);
    posture p;
    for (int i = 0; i < NF; i++) {
        float t = t0 + frame_time(i);
        float ph = fracf(t / P);
        bool air = ph < 0.42f;
        float rise = 0, dip = 0;
        if (air) {
            float s = ph / 0.42f;
            rise = hf * 4 * s * (1 - s);
        } else dip = sinf(SYN_PI * (ph - 0.42f) / 0.58f);
        posture_stand(b, &p);
        set_foot(&p, 0, b->hip_w / L * 0.6f, air ? rise / L + 0.02f * sinf(SYN_PI * ph / 0.42f) : 0, 0);
        set_foot(&p, 1, b->hip_w / L * 0.6f, air ? rise / L + 0.02f * sinf(SYN_PI * ph / 0.42f) : 0, 0);
        p.v[P_PH] = 0.98f - 0.03f * dip + rise / L;
        float rope = 2 * SYN_PI * ph;
        set_arm(&p, 0, 0.35f + 0.25f * sinf(rope), 0.45f + 0.12f * cosf(rope), 1.1f, 0.3f);
        set_arm(&p, 1, 0.35f + 0.25f * sinf(rope), 0.45f + 0.12f * cosf(rope), 1.1f, 0.3f);
        idle_apply(&id, t, &p, false);
        posture_to_spec(b, m->origin, m->heading, &p, &sp[i]);
        sp[i].contact[0] = sp[i].contact[1] = !air;
    }
}

static void gen_standing(motion_ctx *m, pose_spec *sp, float amount) {
    seq s = {0};
    posture p;
    posture_stand(m->b, &p);
    seq_add(&s, &p, 0, dr_rng_range(m->rng, 1.0f, 4.0f));
    while (seq_duration(&s) < 10 && s.n < SEQ_MAX) {
        posture q;
        posture_stand(m->b, &q);
        switch (dr_rng_below(m->rng, 5)) {
        case 0: set_arm(&q, 0, -0.1f, 0.25f, 0.6f, 0.9f), set_arm(&q, 1, -0.1f, 0.25f, 0.6f, 0.9f); break; /* pockets */
        case 1: set_arm(&q, 0, -0.25f, 0.75f, 1.9f, 1.1f); q.v[P_PLAT] = 0.04f; break;                      /* hand on hip */
        case 2: set_arm(&q, 0, 0.55f, 0.15f, 2.3f, 1.3f), set_arm(&q, 1, 0.5f, 0.15f, 2.2f, 1.3f); break;  /* arms crossed */
        case 3: set_arm(&q, 0, 0.5f, 0.1f, 1.7f, 0.8f); q.v[P_HPITCH] = 0.45f; break;                     /* looking at a phone */
        default: q.v[P_PLAT] = -0.05f, q.v[P_PROLL] = 0.06f; set_foot(&q, 0, 0.2f, 0, 0.1f); break;          /* weight shift */
        }
        if (dr_rng_below(m->rng, 2)) posture_mirror(&q);
        seq_add(&s, &q, dr_rng_range(m->rng, 0.8f, 1.5f), dr_rng_range(m->rng, 1.5f, 4.0f));
    }
    idle id = idle_make(m->rng, amount);
    specs_from_posture_fn(m, sp, &s, 0, &id, true);
    auto_contact(m->b, sp, m->origin.y);
}

static void gen_waving(motion_ctx *m, pose_spec *sp) {
    static const float freq[3] = {1.5f, 2.2f, 3.0f};
    const body *b = m->b;
    float f = freq[m->speed] * (1 + 0.06f * m->style[2]);
    m->cadence = f;
    int side = (int)dr_rng_below(m->rng, 5) == 0 ? SIDE_L : SIDE_R;
    bool both = dr_rng_below(m->rng, 6) == 0;
    float t_up = dr_rng_range(m->rng, -0.5f, 1.2f), dur = dr_rng_range(m->rng, 3.0f, 6.0f);
    float abd = dr_rng_range(m->rng, 2.0f, 2.5f);
    idle id = idle_make(m->rng, 0.35f);
    posture p;
    for (int i = 0; i < NF; i++) {
        float t = frame_time(i);
        float up = ease((t - t_up) / 0.5f) * (1 - ease((t - t_up - dur) / 0.6f));
        posture_stand(b, &p);
        idle_apply(&id, t, &p, true);
        for (int s2 = 0; s2 < 2; s2++) {
            if (s2 != side && !both) continue;
            float w = sinf(2 * SYN_PI * f * t + (float)s2 * SYN_PI);
            set_arm(&p, s2, lerpf(p.v[P_ARM(s2, 0)], 0.35f, up), lerpf(0.12f, abd, up),
                    lerpf(0.2f, 0.75f + 0.4f * w, up), lerpf(0.0f, -1.57f, up));
        }
        p.v[P_HROLL] += 0.08f * up * (side == SIDE_R ? -1.0f : 1.0f);
        posture_to_spec(b, m->origin, m->heading, &p, &sp[i]);
    }
    auto_contact(b, sp, m->origin.y);
}

static void gen_talking(motion_ctx *m, pose_spec *sp) {
    const body *b = m->b;
    float rate = m->speed == DR_SPEED_SLOW ? 0.7f : m->speed == DR_SPEED_FAST ? 1.4f : 1.0f;
    idle id = idle_make(m->rng, 0.45f);
    wob g[2][3];
    for (int s2 = 0; s2 < 2; s2++)
        for (int k = 0; k < 3; k++) g[s2][k] = wob_make(m->rng, 0.35f, 0.3f * rate, 0.9f * rate);
    wob nod = wob_make(m->rng, 0.07f, 1.0f * rate, 2.0f * rate);
    wob act = wob_make(m->rng, 1.0f, 0.08f, 0.2f);
    posture p;
    for (int i = 0; i < NF; i++) {
        float t = frame_time(i);
        posture_stand(b, &p);
        idle_apply(&id, t, &p, true);
        float a = clampf(0.6f + 0.6f * wob_at(&act, t), 0.1f, 1.0f); /* gesture intensity comes and goes */
        for (int s2 = 0; s2 < 2; s2++) {
            float scale = s2 == SIDE_R ? 1.0f : 0.8f;
            set_arm(&p, s2, 0.35f + a * (0.3f + scale * wob_at(&g[s2][0], t)), 0.2f + a * 0.5f * fabsf(wob_at(&g[s2][1], t)),
                    0.5f + a * (1.0f + scale * wob_at(&g[s2][2], t)), 0.4f + 0.5f * wob_at(&g[s2][1], t + 2));
        }
        p.v[P_HPITCH] += wob_at(&nod, t);
        posture_to_spec(b, m->origin, m->heading, &p, &sp[i]);
    }
    m->cadence = 0;
    auto_contact(b, sp, m->origin.y);
}

static void gen_boxing(motion_ctx *m, pose_spec *sp) {
    const body *b = m->b;
    float L = b->leg, H = b->height;
    float rate = m->speed == DR_SPEED_SLOW ? 0.7f : m->speed == DR_SPEED_FAST ? 1.35f : 1.0f;
    bool southpaw = dr_rng_below(m->rng, 5) == 0;
    /* punch schedule */
    float pt[24];
    int pside[24], np = 0;
    float tt = dr_rng_range(m->rng, 0.2f, 1.0f);
    while (np < 24 && tt < 7) {
        int combo = 1 + (int)dr_rng_below(m->rng, 3);
        for (int c = 0; c < combo && np < 24; c++) {
            pt[np] = tt;
            pside[np] = c % 2 == 0 ? SIDE_L : SIDE_R; /* jab with the lead hand, then cross */
            np++;
            tt += 0.32f / rate;
        }
        tt += dr_rng_range(m->rng, 0.5f, 1.4f) / rate;
    }
    m->cadence = (float)np / 6.67f;
    wob bob = wob_make(m->rng, 0.03f, 0.4f * rate, 1.0f * rate);
    wob weave = wob_make(m->rng, 0.12f, 0.2f, 0.6f);
    float bounce_f = 1.8f * rate;
    posture p;
    for (int i = 0; i < NF; i++) {
        float t = frame_time(i);
        posture_stand(b, &p);
        float lat = b->hip_w / L * 1.4f;
        set_foot(&p, 1, lat, 0, 0.28f);
        set_foot(&p, 0, lat, 0, -0.28f);
        p.v[P_YAW] = -0.55f;
        p.v[P_HYAW] = 0.45f;
        p.v[P_PH] = 0.93f + wob_at(&bob, t) - 0.015f * fabsf(sinf(SYN_PI * bounce_f * t));
        p.v[P_TPITCH] = 0.15f;
        p.v[P_TROLL] = wob_at(&weave, t);
        p.v[P_HPITCH] = 0.1f;
        float ext[2] = {0, 0};
        for (int k = 0; k < np; k++) {
            float u = (t - pt[k]) * rate;
            if (u < 0 || u > 0.36f) continue;
            float e = u < 0.13f ? ease(u / 0.13f) : 1 - ease((u - 0.13f) / 0.23f);
            ext[pside[k]] = fmaxf(ext[pside[k]], e);
        }
        p.v[P_TTWIST] = 0.35f * ext[SIDE_R] - 0.1f * ext[SIDE_L];
        if (southpaw) posture_mirror(&p);
        pose_spec *s = &sp[i];
        posture_to_spec(b, m->origin, m->heading, &p, s);
        frame3 ft = spec_trunk(s);
        v3 neck = v3mad(s->pelvis, ft.u, b->torso);
        for (int side = 0; side < 2; side++) {
            int arm_side = southpaw ? 1 - side : side;
            float sg = side == SIDE_R ? 1.0f : -1.0f;
            v3 sh = v3mad(neck, ft.r, sg * b->shoulder_w);
            /* guard: fists by the chin; punch: straight out to the front of the head */
            v3 guard = v3add(v3mad(v3mad(neck, ft.f, 0.16f * H), ft.r, sg * 0.06f * H), v3scale(ft.u, 0.03f * H));
            frame3 fw = frame_from_yaw(m->heading);
            v3 target = v3add(v3mad(sh, fw.f, 0.95f * (b->upper_arm + b->forearm)), v3scale(ft.r, -sg * 0.05f * H));
            target.y = neck.y + 0.02f * H;
            s->arm[side].mode = ARM_TARGET;
            s->arm[side].hand = v3lerp(guard, target, ext[arm_side]);
            s->arm[side].hint = v3add(v3scale(ft.u, -1.0f), v3scale(ft.r, sg * 0.7f));
        }
    }
    auto_contact(b, sp, m->origin.y);
}

static void gen_dancing(motion_ctx *m, pose_spec *sp) {
    static const float beat_hz[3] = {1.5f, 2.0f, 2.4f};
    const body *b = m->b;
    float L = b->leg;
    float f = beat_hz[m->speed] * (1 + 0.05f * m->style[2]);
    m->cadence = f;
    float lat0 = b->hip_w / L;
    int moves[6];
    float seg = dr_rng_range(m->rng, 1.8f, 3.0f);
    for (int k = 0; k < 6; k++) moves[k] = (int)dr_rng_below(m->rng, 4);
    float t0 = dr_rng_range(m->rng, 0, 2.0f);
    float yaw_amp = dr_rng_range(m->rng, 0.1f, 0.5f);
    posture pm[2];
    for (int i = 0; i < NF; i++) {
        float t = t0 + frame_time(i);
        int k = (int)(t / seg);
        float u = t - (float)k * seg;
        float beat = t * f; /* beats */
        for (int w = 0; w < 2; w++) {
            int mv = moves[(k + w) % 6];
            posture *p = &pm[w];
            posture_stand(b, p);
            float bounce = 0.5f + 0.5f * cosf(2 * SYN_PI * beat);
            p->v[P_PH] = 0.97f - 0.05f * bounce;
            switch (mv) {
            case 0: { /* step-touch: right out, left closes, left out, right closes (a 4-beat bar) */
                float bb = fracf(beat / 4) * 4, fr = fracf(bb), e = ease(fr);
                float st = 0.28f;
                /* lateral positions (right positive) at the beat boundaries 0..4 */
                static const float rpos[5] = {1, 1, 1, 1, 1}, rstep[5] = {0, 1, 1, 1, 0};
                static const float lstep[5] = {0, 0, 1, 0, 0};
                int k = (int)bb;
                float xr = lat0 * rpos[k] + st * lerpf(rstep[k], rstep[k + 1], e);
                float xl = -lat0 + st * lerpf(lstep[k], lstep[k + 1], e);
                int moving_side = (k == 0 || k == 3) ? SIDE_R : SIDE_L;
                float lift = 0.05f * sinf(SYN_PI * fr);
                set_foot(p, 0, xr, moving_side == SIDE_R ? lift : 0, 0);
                set_foot(p, 1, -xl, moving_side == SIDE_L ? lift : 0, 0);
                float mid = 0.5f * (xr + xl), stance_x = moving_side == SIDE_R ? xl : xr;
                p->v[P_PLAT] = lerpf(mid, stance_x, 0.7f * sinf(SYN_PI * fr));
                p->v[P_PROLL] = (moving_side == SIDE_R ? 0.06f : -0.06f) * sinf(SYN_PI * fr);
                float out_r = k == 0 ? e : k == 3 ? 1 - e : 0, out_l = k == 1 ? e : k == 2 ? 1 - e : 0;
                set_arm(p, 0, 0.6f + 0.5f * out_r, 0.4f + 0.6f * out_r, 1.4f - 0.6f * out_r, 0.5f);
                set_arm(p, 1, 0.6f + 0.5f * out_l, 0.4f + 0.6f * out_l, 1.4f - 0.6f * out_l, 0.5f);
                break;
            }
            case 1: { /* bounce with alternating arm pumps */
                float a = 0.5f + 0.5f * sinf(SYN_PI * beat);
                set_arm(p, 0, 0.5f + 2.2f * a, 0.3f, 1.2f - 0.9f * a, 0.2f);
                set_arm(p, 1, 0.5f + 2.2f * (1 - a), 0.3f, 1.2f - 0.9f * (1 - a), 0.2f);
                p->v[P_HPITCH] = 0.08f * bounce;
                break;
            }
            case 2: { /* hip sway with flowing arms */
                float sw = sinf(SYN_PI * beat);
                p->v[P_PLAT] = 0.07f * sw;
                p->v[P_PROLL] = -0.1f * sw;
                p->v[P_TROLL] = 0.14f * sw;
                set_arm(p, 0, 0.4f, 1.3f + 0.5f * sw, 0.7f + 0.4f * cosf(SYN_PI * beat), 0.8f);
                set_arm(p, 1, 0.4f, 1.3f - 0.5f * sw, 0.7f - 0.4f * cosf(SYN_PI * beat), 0.8f);
                p->v[P_HROLL] = -0.1f * sw;
                break;
            }
            default: { /* twist with arms up */
                float sw = sinf(SYN_PI * beat);
                p->v[P_YAW] = yaw_amp * sw;
                p->v[P_TTWIST] = 0.3f * sw;
                set_arm(p, 0, 0.3f, 2.5f + 0.3f * sw, 0.6f, 0.4f);
                set_arm(p, 1, 0.3f, 2.5f - 0.3f * sw, 0.6f, 0.4f);
                p->v[P_HYAW] = -0.2f * sw;
                break;
            }
            }
        }
        posture p;
        float blend = ease((u - (seg - 0.5f)) / 0.5f);
        posture_lerp(&p, &pm[0], &pm[1], blend);
        posture_to_spec(b, m->origin, m->heading, &p, &sp[i]);
    }
    auto_contact(b, sp, m->origin.y);
}

static void gen_guitar(motion_ctx *m, pose_spec *sp) {
    static const float strum[3] = {1.5f, 2.2f, 3.0f};
    const body *b = m->b;
    float H = b->height;
    float f = strum[m->speed] * (1 + 0.05f * m->style[2]);
    m->cadence = f;
    bool sitting = m->variant == VAR_GUITAR_SITTING;
    idle id = idle_make(m->rng, 0.25f);
    wob fret = wob_make(m->rng, 0.03f * H, 0.2f, 0.5f);
    float nod_amp = dr_rng_range(m->rng, 0.0f, 0.12f);
    posture p;
    for (int i = 0; i < NF; i++) {
        float t = frame_time(i);
        if (sitting) sit_posture(b, VAR_SIT_CHAIR, &p);
        else posture_stand(b, &p);
        idle_apply(&id, t, &p, !sitting);
        p.v[P_HPITCH] += 0.2f + nod_amp * (0.5f + 0.5f * sinf(SYN_PI * f * t));
        p.v[P_HYAW] += 0.25f;
        /* foot taps the beat */
        float tap = fmaxf(0, sinf(SYN_PI * f * t));
        p.v[P_RFY] += 0.02f * tap * tap;
        pose_spec *s = &sp[i];
        posture_to_spec(b, m->origin, m->heading, &p, s);
        frame3 ft = spec_trunk(s);
        v3 chest = v3mad(s->pelvis, ft.u, 0.55f * b->torso);
        float sg = 1.0f;
        s->arm[SIDE_L].mode = ARM_TARGET;
        s->arm[SIDE_L].hand = v3add(v3add(v3mad(chest, ft.r, -0.30f * H + wob_at(&fret, t)), v3scale(ft.f, 0.13f * H)),
                                    v3scale(ft.u, 0.06f * H));
        s->arm[SIDE_L].hint = v3add(v3scale(ft.u, -1.0f), v3scale(ft.r, -0.5f));
        float st = sinf(2 * SYN_PI * f * t);
        s->arm[SIDE_R].mode = ARM_TARGET;
        s->arm[SIDE_R].hand = v3add(v3add(v3mad(chest, ft.r, sg * 0.02f * H), v3scale(ft.f, 0.13f * H)),
                                    v3scale(ft.u, -0.10f * H + 0.04f * H * st));
        s->arm[SIDE_R].hint = v3add(v3scale(ft.f, -0.6f), v3scale(ft.r, 1.0f));
    }
    auto_contact(b, sp, m->origin.y);
}

void motion_generate(motion_ctx *m, pose_spec *sp) {
    m->cadence = 0;
    m->speed_mps = 0;
    switch (m->action) {
    case DR_ACT_WALKING:
    case DR_ACT_HIKING:
    case DR_ACT_RUNNING:
    case DR_ACT_JOGGING: gen_walkish(m, sp); break;
    case DR_ACT_CLIMBING_STAIRS: gen_stairs(m, sp); break;
    case DR_ACT_CYCLING: gen_cycling(m, sp); break;
    case DR_ACT_YOGA: gen_yoga(m, sp); break;
    case DR_ACT_SQUATS: gen_squats(m, sp); break;
    case DR_ACT_LUNGES: gen_lunges(m, sp); break;
    case DR_ACT_JUMPING_JACKS: gen_jumping_jacks(m, sp); break;
    case DR_ACT_PUSH_UPS: gen_push_ups(m, sp); break;
    case DR_ACT_DANCING: gen_dancing(m, sp); break;
    case DR_ACT_JUMPING: gen_jumping(m, sp); break;
    case DR_ACT_SKIPPING_ROPE: gen_skipping(m, sp); break;
    case DR_ACT_STANDING: gen_standing(m, sp, 0.5f); break;
    case DR_ACT_POSING: gen_posing(m, sp); break;
    case DR_ACT_SITTING: gen_sitting(m, sp); break;
    case DR_ACT_WAVING: gen_waving(m, sp); break;
    case DR_ACT_TALKING: gen_talking(m, sp); break;
    case DR_ACT_STRETCHING: gen_stretching(m, sp); break;
    case DR_ACT_BOXING: gen_boxing(m, sp); break;
    case DR_ACT_TURNING_AROUND: gen_turning(m, sp); break;
    case DR_ACT_KNEELING: gen_kneeling(m, sp); break;
    case DR_ACT_LYING_DOWN: gen_lying(m, sp, false); break;
    case DR_ACT_GETTING_UP: gen_lying(m, sp, true); break;
    case DR_ACT_THROWING: gen_throwing(m, sp); break;
    default: gen_guitar(m, sp); break;
    }
}

