/* synth.c - one clip from (seed, index): sample the subject and the action, run its motion
 * generator, solve the body, place a camera (static, or following the subject), project
 * to the canvas and degrade like a 2D detector, then caption what was made. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pose/synth/synth_internal.h"

const char *const dr_synth_action_names[DR_SYNTH_NUM_ACTIONS] = {
    "walking", "hiking", "running", "jogging", "climbing_stairs", "cycling", "yoga", "squats", "lunges",
    "jumping_jacks", "push_ups", "dancing", "jumping", "skipping_rope", "standing", "posing", "sitting",
    "waving", "talking", "stretching", "boxing", "turning_around", "kneeling", "lying_down", "getting_up",
    "throwing", "playing_guitar",
};
const char *const dr_synth_direction_names[DR_SYNTH_NUM_DIRECTIONS] = {"right", "left", "toward", "away", "in_place"};
const char *const dr_synth_speed_names[DR_SYNTH_NUM_SPEEDS] = {"slow", "normal", "fast"};
const char *const dr_synth_split_names[3] = {"train", "val", "test"};
static const char *const facing_names[DR_SYNTH_NUM_FACINGS] = {"camera", "right", "left", "away"};
static const char *const variant_names[] = {"", "couch", "chair", "bench", "one_knee", "both_knees", "in_place", "forward",
                                            "standing", "sitting", "to_camera", "away"};

/* Held out of train/val entirely: the test split measures generalization to unseen
 * combinations of known words. Every entry is a combination the sampler can produce. */
const dr_synth_heldout dr_synth_heldout_combos[] = {
    {"walking", "beach", "old woman"},      {"running", "park", "young woman"},
    {"jogging", "street", "man"},            {"hiking", "trail", "young man"},
    {"cycling", "road", "woman"},            {"yoga", "beach", "man"},
    {"dancing", "studio", "boy"},            {"squats", "gym", "old man"},
    {"push_ups", "park", "athlete"},         {"jumping_jacks", "backyard", "girl"},
    {"sitting", "living_room", "girl"},      {"waving", "beach", "middle-aged man"},
    {"boxing", "gym", "woman"},              {"playing_guitar", "stage", "young man"},
    {"stretching", "field", "old woman"},    {"talking", "office", "middle-aged woman"},
    {"climbing_stairs", "stairs", "woman"},  {"throwing", "park", "boy"},
    {"lying_down", "beach", "young woman"},  {"jumping", "field", "dancer"},
};
const int dr_synth_num_heldout_combos = (int)(sizeof dr_synth_heldout_combos / sizeof dr_synth_heldout_combos[0]);

#define VAL_SHARE 0.05f
#define TEST_SHARE 0.03f

void dr_synth_options_default(dr_synth_options *opt) {
    opt->action = opt->direction = opt->speed = opt->camera_follows = -1;
    opt->detector_noise = 1.0f;
}

static bool action_travels(int a) {
    return a == DR_ACT_WALKING || a == DR_ACT_HIKING || a == DR_ACT_RUNNING || a == DR_ACT_JOGGING ||
           a == DR_ACT_CLIMBING_STAIRS || a == DR_ACT_CYCLING;
}

static bool action_has_speed_words(int a) { return a != DR_ACT_STANDING && a != DR_ACT_SITTING; }

/* Gait tables (must agree with motion.c: cadence x (1 +- 0.03 style) x 1.12 for children). */
bool dr_synth_cadence_range(int action, int speed, bool child, float *lo, float *hi) {
    static const float walk[3] = {1.62f, 1.90f, 2.12f}, hike[3] = {1.45f, 1.70f, 1.92f};
    static const float jog[3] = {2.42f, 2.62f, 2.80f}, run[3] = {2.68f, 2.90f, 3.12f};
    static const float stairs[3] = {1.30f, 1.55f, 1.80f}, cyc[3] = {0.95f, 1.30f, 1.62f};
    if (speed < 0 || speed > 2) return false;
    float c, kid = 1.0f;
    switch (action) {
    case DR_ACT_WALKING: c = walk[speed], kid = 1.12f; break;
    case DR_ACT_HIKING: c = hike[speed], kid = 1.12f; break;
    case DR_ACT_JOGGING: c = jog[speed], kid = 1.12f; break;
    case DR_ACT_RUNNING: c = run[speed], kid = 1.12f; break;
    case DR_ACT_CLIMBING_STAIRS: c = stairs[speed], kid = 1.08f; break;
    case DR_ACT_CYCLING: c = cyc[speed]; break;
    default: return false;
    }
    if (child) c *= kid;
    *lo = c * 0.955f;
    *hi = c * 1.045f;
    return true;
}

/* ---- camera ---- */
typedef struct camera {
    float f, cx, cy;
    v3 pos[DR_CLIP_FRAMES];
} camera;

static bool project(const camera *cam, int i, v3 p, float *u, float *v) {
    v3 c = cam->pos[i];
    float dz = p.z - c.z;
    if (dz < 0.25f) return false;
    *u = cam->cx + cam->f * (p.x - c.x) / dz;
    *v = cam->cy - cam->f * (p.y - c.y) / dz;
    return true;
}

/* Place the camera for a path of pelvis positions: static (the path fitted into the frame
 * when it crosses it) or following the subject with a lag. */
static void place_camera(dr_rng *rng, const body *b, const v3 *pel, int direction, bool travels, int force_follow,
                         camera *cam, bool *follows) {
    const float W = DR_CANVAS_WIDTH, H = b->height;
    cam->f = 420.0f * dr_rng_range(rng, 0.9f, 1.15f);
    cam->cx = W * 0.5f;
    float camh = b->child ? dr_rng_range(rng, 0.7f, 1.3f) : dr_rng_range(rng, 0.9f, 1.7f);
    float hp = dr_rng_range(rng, 110.0f, 280.0f) * (b->child ? 0.85f : 1.0f); /* standing height, pixels */
    float Z = cam->f * H / hp;
    float u_target = dr_rng_range(rng, 0.35f, 0.65f) * W;
    float v_target = dr_rng_range(rng, 0.42f, 0.58f) * DR_CANVAS_HEIGHT;
    float wlag = dr_rng_range(rng, 2.5f, 5.0f);
    float wob_a = dr_rng_range(rng, 0.0f, 0.012f), wob_f = dr_rng_range(rng, 0.5f, 1.5f), wob_p = dr_rng_range(rng, 0, 6.28f);
    bool coin = dr_rng_uniform(rng) < 0.45f;
    v3 p0 = pel[0], p1 = pel[DR_CLIP_FRAMES - 1], mid = v3lerp(p0, p1, 0.5f);
    float travel = hypotf(p1.x - p0.x, p1.z - p0.z);
    bool follow = force_follow >= 0 ? force_follow != 0 : travels && coin;
    bool lateral = direction == DR_DIR_RIGHT || direction == DR_DIR_LEFT;
    v3 ref = p0;
    if (!follow && travels && lateral) {
        float Zfit = travel * cam->f / (0.8f * W);
        if (Zfit > Z) {
            if (cam->f * H / Zfit >= 60.0f) Z = Zfit;
            else if (force_follow < 0) follow = true;
            else Z = fmaxf(Z, cam->f * H / 70.0f);
        }
        if (!follow) ref = mid, u_target = W * dr_rng_range(rng, 0.45f, 0.55f);
    } else if (!follow && travels) {
        float near_z = fmaxf(cam->f * H / 280.0f, fminf(Z, cam->f * H / 200.0f));
        if (cam->f * H / (near_z + travel) < 40.0f && force_follow < 0) follow = true;
        else Z = near_z, ref = direction == DR_DIR_TOWARD ? p1 : p0;
    }
    *follows = follow;
    /* Heights follow the ground (stairs, slopes): the camera stands camh above the ground
     * under the reference point and frames the body centre (about 0.55 H) at v_target. */
    float camz = ref.z - Z;
    float camx = ref.x - (u_target - W * 0.5f) * Z / cam->f;
    float camy = camh + (ref.y - p0.y);
    cam->cy = v_target + cam->f * (ref.y + 0.03f * H - camy) / Z;
    if (!follow) {
        for (int i = 0; i < DR_CLIP_FRAMES; i++) cam->pos[i] = v3m(camx, camy, camz);
        return;
    }
    /* Following: a first-order lag behind the pelvis, started in its steady state, plus a
     * little hand-held wobble. */
    v3 off = v3m(camx - p0.x, camy - p0.y, camz - p0.z);
    v3 vel = v3scale(v3sub(p1, p0), 1.0f / ((DR_CLIP_FRAMES - 1) * SYN_DT));
    wlag = fmaxf(wlag, v3len(vel) / 0.3f); /* an operator keeps up: lag at most ~30 cm */
    const float wy = 1.5f; /* the height drifts slowly: the camera does not bob with the steps */
    v3 c = v3sub(v3add(p0, off), v3m(vel.x / wlag, vel.y / wy, vel.z / wlag));
    for (int i = 0; i < DR_CLIP_FRAMES; i++) {
        v3 target = v3add(pel[i], off);
        float kx = 1.0f - expf(-wlag * SYN_DT), ky = 1.0f - expf(-wy * SYN_DT);
        c = v3add(c, v3m((target.x - c.x) * kx, (target.y - c.y) * ky, (target.z - c.z) * kx));
        float t = (float)i * SYN_DT;
        cam->pos[i] = v3add(c, v3m(wob_a * sinf(6.28f * wob_f * t + wob_p), wob_a * sinf(6.28f * wob_f * 1.3f * t), 0));
    }
}

/* A static camera on a subject that stays in place frames the whole motion, as a camera
 * operator would: zoom out (shorter focal length) until every joint of every frame fits
 * with a margin, then shift the principal point so nothing is cut. */
static void fit_static_camera(camera *cam, v3 (*joints)[DR_NUM_KEYPOINTS]) {
    const float W = DR_CANVAS_WIDTH, H = DR_CANVAS_HEIGHT, m = 6.0f;
    float amin = 1e9f, amax = -1e9f, bmin = 1e9f, bmax = -1e9f;
    for (int i = 0; i < DR_CLIP_FRAMES; i++)
        for (int k = 0; k < DR_NUM_KEYPOINTS; k++) {
            v3 c = cam->pos[i], p = joints[i][k];
            float dz = p.z - c.z;
            if (dz < 0.25f) return; /* behind the camera: leave it to the detector */
            float a = (p.x - c.x) / dz, b = (p.y - c.y) / dz;
            amin = fminf(amin, a), amax = fmaxf(amax, a), bmin = fminf(bmin, b), bmax = fmaxf(bmax, b);
        }
    float zoom = fminf(1.0f, fminf((H - 2 * m) / (cam->f * (bmax - bmin) + 1e-6f), (W - 2 * m) / (cam->f * (amax - amin) + 1e-6f)));
    cam->f *= zoom;
    cam->cy = clampf(cam->cy, m + cam->f * bmax, H - m + cam->f * bmin);
    cam->cx = clampf(cam->cx, m - cam->f * amin, W - m - cam->f * amax);
}

/* ---- 2D detector realism ---- */
static bool point_in_quad(const float q[4][2], float x, float y) {
    int pos = 0, neg = 0;
    for (int k = 0; k < 4; k++) {
        const float *a = q[k], *b = q[(k + 1) % 4];
        float cr = (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0]);
        if (cr > 0) pos++;
        else if (cr < 0) neg++;
    }
    return pos == 0 || neg == 0;
}

typedef struct detector {
    float jitter;        /* px, standard deviation */
    float conf_base;
    float drop_rate;     /* chance per keypoint-frame that a dropout burst starts */
    float e[DR_NUM_KEYPOINTS][2];
    float ce[DR_NUM_KEYPOINTS];
    int drop_left[DR_NUM_KEYPOINTS];
} detector;

/* Detector noise needs ~11,000 Gaussian draws per clip; an Irwin-Hall sum of four 16-bit
 * uniforms from one 64-bit draw (unit variance, tails cut at +-3.5) is plenty for jitter
 * and costs no transcendental functions (dr_rng_normal's log and cos were 60% of the time). */
static inline float noise_normal(dr_rng *rng) {
    uint64_t x = dr_rng_u64(rng);
    float s = (float)(x & 0xffff) + (float)((x >> 16) & 0xffff) + (float)((x >> 32) & 0xffff) + (float)(x >> 48);
    return (s * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
}

static const float kp_conf_offset[DR_NUM_KEYPOINTS] = {
    0.0f, 0.08f, 0.05f, -0.02f, -0.1f, 0.05f, -0.02f, -0.1f, 0.03f, -0.02f, -0.06f, 0.03f, -0.02f, -0.06f,
    -0.03f, -0.03f, -0.08f, -0.08f,
};

static void detect_frame(dr_rng *rng, detector *d, const camera *cam, int i, const v3 J[DR_NUM_KEYPOINTS],
                         const frame3 *head, dr_pose *out) {
    float uv[DR_NUM_KEYPOINTS][2];
    bool ok[DR_NUM_KEYPOINTS];
    for (int k = 0; k < DR_NUM_KEYPOINTS; k++) ok[k] = project(cam, i, J[k], &uv[k][0], &uv[k][1]);
    v3 cpos = cam->pos[i];
    /* face points: visible when their surface normal faces the camera */
    float vis[DR_NUM_KEYPOINTS];
    for (int k = 0; k < DR_NUM_KEYPOINTS; k++) vis[k] = 1;
    {
        v3 toc = v3norm(v3sub(cpos, J[DR_KP_NOSE]));
        vis[DR_KP_NOSE] = v3dot(head->f, toc) + 0.45f; /* the nose tip shows well past profile */
        for (int side = 0; side < 2; side++) {
            float sg = side == SIDE_R ? 1.0f : -1.0f;
            v3 ne = v3norm(v3add(v3scale(head->f, 0.8f), v3scale(head->r, 0.55f * sg)));
            vis[side ? DR_KP_LEYE : DR_KP_REYE] = v3dot(ne, toc) + 0.05f;
            v3 nr = v3scale(head->r, sg);
            vis[side ? DR_KP_LEAR : DR_KP_REAR] = v3dot(nr, toc) + 0.2f;
        }
    }
    /* arms hidden behind the torso */
    float quad[4][2];
    bool torso_ok = ok[DR_KP_RSHOULDER] && ok[DR_KP_LSHOULDER] && ok[DR_KP_LHIP] && ok[DR_KP_RHIP];
    float torso_depth = 0;
    if (torso_ok) {
        const int qi[4] = {DR_KP_RSHOULDER, DR_KP_LSHOULDER, DR_KP_LHIP, DR_KP_RHIP};
        for (int q = 0; q < 4; q++) {
            quad[q][0] = uv[qi[q]][0], quad[q][1] = uv[qi[q]][1];
            torso_depth += v3len(v3sub(J[qi[q]], cpos)) * 0.25f;
        }
        const int arm_kp[4] = {DR_KP_RELBOW, DR_KP_RWRIST, DR_KP_LELBOW, DR_KP_LWRIST};
        for (int q = 0; q < 4; q++) {
            int k = arm_kp[q];
            if (ok[k] && v3len(v3sub(J[k], cpos)) > torso_depth + 0.06f && point_in_quad(quad, uv[k][0], uv[k][1]))
                vis[k] = -1;
        }
    }
    for (int k = 0; k < DR_NUM_KEYPOINTS; k++) {
        /* temporally correlated jitter and confidence noise */
        float js = d->jitter * (k == DR_KP_RWRIST || k == DR_KP_LWRIST ? 1.4f : k >= DR_KP_REYE ? 0.7f : 1.0f);
        for (int a = 0; a < 2; a++) d->e[k][a] = 0.6f * d->e[k][a] + 0.8f * js * noise_normal(rng);
        d->ce[k] = 0.8f * d->ce[k] + 0.6f * 0.05f * noise_normal(rng);
        bool present = ok[k] && vis[k] > 0;
        if (d->drop_left[k] > 0) d->drop_left[k]--, present = false;
        else if (dr_rng_uniform(rng) < d->drop_rate * (k == DR_KP_RWRIST || k == DR_KP_LWRIST ? 2.5f : 1.0f)) {
            d->drop_left[k] = (int)dr_rng_below(rng, 5);
            present = false;
        }
        dr_keypoint *o = &out->kp[k];
        if (present) {
            float x = uv[k][0] + d->e[k][0], y = uv[k][1] + d->e[k][1];
            if (!(x >= 0 && x < DR_CANVAS_WIDTH && y >= 0 && y < DR_CANVAS_HEIGHT)) present = false;
            else {
                float c = d->conf_base + kp_conf_offset[k] + d->ce[k];
                if (vis[k] < 0.25f) c -= 0.6f * (0.25f - vis[k]) / 0.25f; /* barely visible: unsure */
                o->x = x, o->y = y, o->c = clampf(c, 0.3f, 0.95f);
            }
        }
        if (!present) o->x = o->y = o->c = 0;
    }
}

/* ---- the clip ---- */
static int sample_variant(dr_rng *rng, int action) {
    switch (action) {
    case DR_ACT_SITTING: {
        uint32_t r = dr_rng_below(rng, 3);
        return r == 0 ? VAR_SIT_COUCH : r == 1 ? VAR_SIT_CHAIR : VAR_SIT_BENCH;
    }
    case DR_ACT_KNEELING: return dr_rng_below(rng, 2) ? VAR_KNEEL_ONE : VAR_KNEEL_BOTH;
    case DR_ACT_JUMPING: return dr_rng_below(rng, 3) ? VAR_JUMP_IN_PLACE : VAR_JUMP_FORWARD;
    case DR_ACT_PLAYING_GUITAR: return dr_rng_below(rng, 3) ? VAR_GUITAR_STANDING : VAR_GUITAR_SITTING;
    case DR_ACT_TURNING_AROUND: return dr_rng_below(rng, 2) ? VAR_TURN_TO_CAMERA : VAR_TURN_AWAY;
    default: return VAR_NONE;
    }
}

static float facing_yaw(dr_rng *rng, int facing) {
    switch (facing) {
    case DR_FACE_CAMERA: return -SYN_PI / 2 + dr_rng_range(rng, -0.45f, 0.45f);
    case DR_FACE_RIGHT: return dr_rng_range(rng, -0.3f, 0.3f);
    case DR_FACE_LEFT: return SYN_PI + dr_rng_range(rng, -0.3f, 0.3f);
    default: return SYN_PI / 2 + dr_rng_range(rng, -0.35f, 0.35f);
    }
}

static int sample_facing(dr_rng *rng, int action) {
    float r = dr_rng_uniform(rng);
    bool profile_first = action == DR_ACT_PUSH_UPS || action == DR_ACT_LYING_DOWN || action == DR_ACT_GETTING_UP ||
                         action == DR_ACT_THROWING || action == DR_ACT_KNEELING || action == DR_ACT_LUNGES;
    bool no_back = action == DR_ACT_WAVING || action == DR_ACT_TALKING || action == DR_ACT_POSING ||
                   action == DR_ACT_PLAYING_GUITAR || action == DR_ACT_SITTING;
    if (profile_first) return r < 0.25f ? DR_FACE_CAMERA : r < 0.625f ? DR_FACE_RIGHT : DR_FACE_LEFT;
    if (no_back) return r < 0.6f ? DR_FACE_CAMERA : r < 0.8f ? DR_FACE_RIGHT : DR_FACE_LEFT;
    return r < 0.45f ? DR_FACE_CAMERA : r < 0.65f ? DR_FACE_RIGHT : r < 0.85f ? DR_FACE_LEFT : DR_FACE_AWAY;
}

static int facing_of_yaw(float yaw) {
    float c = cosf(yaw), s = sinf(yaw);
    if (fabsf(c) >= fabsf(s)) return c > 0 ? DR_FACE_RIGHT : DR_FACE_LEFT;
    return s < 0 ? DR_FACE_CAMERA : DR_FACE_AWAY;
}

int dr_synth_generate(uint64_t seed, uint64_t index, const dr_synth_options *opt, dr_synth_clip *clip,
                      dr_synth_debug *dbg, dr_err *err) {
    dr_synth_options def;
    if (!opt) dr_synth_options_default(&def), opt = &def;
    if (opt->action >= DR_SYNTH_NUM_ACTIONS || opt->direction >= DR_SYNTH_NUM_DIRECTIONS ||
        opt->speed >= DR_SYNTH_NUM_SPEEDS || opt->camera_follows > 1 ||
        !(opt->detector_noise >= 0.0f && opt->detector_noise <= 10.0f))
        return dr_err_set(err, DR_EINVAL, "synth: forced option out of range");
    dr_rng rng = dr_rng_fork(seed, index);
    memset(clip, 0, sizeof *clip);
    float split_draw = dr_rng_uniform(&rng);

    int action = opt->action >= 0 ? opt->action : (int)dr_rng_below(&rng, DR_SYNTH_NUM_ACTIONS);
    motion_ctx m;
    memset(&m, 0, sizeof m);
    m.action = action;
    m.variant = sample_variant(&rng, action);
    int kind = caption_sample_kind(&rng, action);
    int place = caption_sample_place(&rng, action, m.variant);
    int sex = caption_kind_sex(kind);
    bool female = sex == 2 ? dr_rng_below(&rng, 2) == 1 : sex == 1;
    bool child = caption_kind_child(kind);
    float r = dr_rng_uniform(&rng);
    int speed = !action_has_speed_words(action) ? DR_SPEED_NORMAL : r < 0.25f ? DR_SPEED_SLOW : r < 0.75f ? DR_SPEED_NORMAL : DR_SPEED_FAST;
    if (opt->speed >= 0) speed = opt->speed;
    bool travels = action_travels(action) || (action == DR_ACT_JUMPING && m.variant == VAR_JUMP_FORWARD);
    int direction;
    if (action_travels(action)) direction = (int)dr_rng_below(&rng, 4);
    else if (travels) direction = (int)dr_rng_below(&rng, 2);
    else direction = DR_DIR_IN_PLACE;
    if (opt->direction >= 0) {
        direction = opt->direction;
        if (direction == DR_DIR_IN_PLACE && action_travels(action))
            return dr_err_set(err, DR_EINVAL, "synth: %s cannot stay in place", dr_synth_action_names[action]);
        if (direction != DR_DIR_IN_PLACE && !action_travels(action)) {
            if (action != DR_ACT_JUMPING || direction > DR_DIR_LEFT)
                return dr_err_set(err, DR_EINVAL, "synth: %s does not travel %s", dr_synth_action_names[action],
                                  dr_synth_direction_names[direction]);
            m.variant = VAR_JUMP_FORWARD;
            travels = true;
        }
        if (direction == DR_DIR_IN_PLACE && action == DR_ACT_JUMPING) m.variant = VAR_JUMP_IN_PLACE, travels = false;
    }
    int facing = 0;
    float heading;
    if (direction != DR_DIR_IN_PLACE) {
        static const float base[4] = {0, SYN_PI, -SYN_PI / 2, SYN_PI / 2};
        heading = base[direction] + clampf(0.12f * dr_rng_normal(&rng), -0.3f, 0.3f);
        facing = facing_of_yaw(heading);
    } else if (action == DR_ACT_TURNING_AROUND) {
        heading = m.variant == VAR_TURN_TO_CAMERA ? SYN_PI / 2 + dr_rng_range(&rng, -0.2f, 0.2f)
                                                  : -SYN_PI / 2 + dr_rng_range(&rng, -0.2f, 0.2f);
    } else {
        facing = sample_facing(&rng, action);
        heading = facing_yaw(&rng, facing);
    }

    body b;
    body_sample(&b, &rng, child, female, caption_kind_age(kind));
    m.b = &b;
    m.rng = &rng;
    m.direction = direction;
    m.speed = speed;
    m.facing = facing;
    m.heading = heading;
    m.origin = v3m(0, 0, 0);
    for (int k = 0; k < 8; k++) m.style[k] = dr_rng_range(&rng, -1, 1);

    pose_spec *specs = malloc(sizeof(pose_spec) * DR_CLIP_FRAMES);
    v3 (*joints)[DR_NUM_KEYPOINTS] = malloc(sizeof(v3) * DR_NUM_KEYPOINTS * DR_CLIP_FRAMES);
    frame3 *heads = malloc(sizeof(frame3) * DR_CLIP_FRAMES);
    if (!specs || !joints || !heads) {
        free(specs), free(joints), free(heads);
        return dr_err_set(err, DR_ENOMEM, "synth: out of memory");
    }
    motion_generate(&m, specs);
    if (action == DR_ACT_TURNING_AROUND) facing = facing_of_yaw(m.heading);
    float stoop = caption_kind_age(kind) > 0.9f ? 0.12f : 0.0f;
    v3 pel[DR_CLIP_FRAMES];
    for (int i = 0; i < DR_CLIP_FRAMES; i++) specs[i].tr_pitch += stoop;
    body_smooth_reach(&b, specs, DR_CLIP_FRAMES);
    for (int i = 0; i < DR_CLIP_FRAMES; i++) {
        body_solve(&b, &specs[i], joints[i]);
        pel[i] = specs[i].pelvis;
        frame3 fp = frame_roll(frame_pitch(frame_from_yaw(specs[i].yaw), specs[i].pel_pitch), specs[i].pel_roll);
        frame3 ft = frame_roll(frame_pitch(frame_yaw(fp, specs[i].tr_twist), specs[i].tr_pitch), specs[i].tr_roll);
        heads[i] = frame_roll(frame_pitch(frame_yaw(ft, specs[i].hd_yaw), specs[i].hd_pitch), specs[i].hd_roll);
    }

    camera cam;
    bool follows;
    place_camera(&rng, &b, pel, direction, travels, opt->camera_follows, &cam, &follows);
    if (!follows && !travels) fit_static_camera(&cam, joints);

    detector det;
    memset(&det, 0, sizeof det);
    det.jitter = dr_rng_range(&rng, 0.5f, 1.6f) * opt->detector_noise;
    det.conf_base = dr_rng_range(&rng, 0.6f, 0.85f);
    det.drop_rate = dr_rng_range(&rng, 0.0f, 0.006f);
    for (int i = 0; i < DR_CLIP_FRAMES; i++) detect_frame(&rng, &det, &cam, i, joints[i], &heads[i], &clip->frames[i]);

    if (dbg) {
        memset(dbg, 0, sizeof *dbg);
        for (int i = 0; i < DR_CLIP_FRAMES; i++) {
            for (int k = 0; k < DR_NUM_KEYPOINTS; k++) {
                dbg->joints[i][k][0] = joints[i][k].x;
                dbg->joints[i][k][1] = joints[i][k].y;
                dbg->joints[i][k][2] = joints[i][k].z;
            }
            dbg->pelvis[i][0] = pel[i].x, dbg->pelvis[i][1] = pel[i].y, dbg->pelvis[i][2] = pel[i].z;
            dbg->contact[i][0] = specs[i].contact[0];
            dbg->contact[i][1] = specs[i].contact[1];
            dbg->camera[i][0] = cam.pos[i].x, dbg->camera[i][1] = cam.pos[i].y, dbg->camera[i][2] = cam.pos[i].z;
        }
        dbg->focal = cam.f;
        dbg->bone_lengths[0] = b.upper_arm;
        dbg->bone_lengths[1] = b.forearm;
        dbg->bone_lengths[2] = b.thigh;
        dbg->bone_lengths[3] = b.shin;
    }
    free(specs), free(joints), free(heads);

    clip->action = action;
    clip->direction = direction;
    clip->speed = speed;
    clip->facing = direction == DR_DIR_IN_PLACE ? facing : facing_of_yaw(heading);
    clip->camera_follows = follows;
    clip->child = child;
    clip->cadence = m.cadence;
    clip->speed_mps = m.speed_mps;
    clip->height_m = b.height;
    snprintf(clip->subject_kind, sizeof clip->subject_kind, "%s", caption_kind_name(kind));
    snprintf(clip->place, sizeof clip->place, "%s", caption_place_key(place));
    snprintf(clip->variant, sizeof clip->variant, "%s", variant_names[m.variant]);

    caption_in ci = {.action = action, .direction = direction, .speed = speed, .facing = clip->facing,
                     .variant = m.variant, .camera_follows = follows, .child = child, .female = female,
                     .kind = kind, .place = place};
    caption_write(&rng, &ci, clip->subject, sizeof clip->subject, clip->prompt, sizeof clip->prompt);

    clip->heldout_combo = false;
    for (int h = 0; h < dr_synth_num_heldout_combos; h++) {
        const dr_synth_heldout *c = &dr_synth_heldout_combos[h];
        if (!strcmp(c->action, dr_synth_action_names[action]) && !strcmp(c->place, clip->place) &&
            !strcmp(c->subject_kind, clip->subject_kind))
            clip->heldout_combo = true;
    }
    clip->split = clip->heldout_combo ? DR_SPLIT_TEST
                  : split_draw < TEST_SHARE ? DR_SPLIT_TEST
                  : split_draw < TEST_SHARE + VAL_SHARE ? DR_SPLIT_VAL
                                                        : DR_SPLIT_TRAIN;
    return DR_OK;
}

/* JSON string body with escapes. */
static size_t json_escape(char *out, size_t size, const char *s) {
    size_t n = 0;
    for (; *s; s++) {
        char tmp[8];
        const char *put = tmp;
        unsigned char c = (unsigned char)*s;
        if (c == '"') put = "\\\"";
        else if (c == '\\') put = "\\\\";
        else if (c == '\n') put = "\\n";
        else if (c < 0x20) snprintf(tmp, sizeof tmp, "\\u%04x", c);
        else tmp[0] = (char)c, tmp[1] = 0;
        size_t l = strlen(put);
        if (n + l + 1 < size) memcpy(out + n, put, l);
        n += l;
    }
    if (size) out[n < size ? n : size - 1] = 0;
    return n;
}

int dr_synth_clip_json(const dr_synth_clip *clip, uint64_t id, char *buf, size_t size) {
    char subj[600], prompt[3200];
    if (json_escape(subj, sizeof subj, clip->subject) >= sizeof subj) return DR_ERANGE;
    if (json_escape(prompt, sizeof prompt, clip->prompt) >= sizeof prompt) return DR_ERANGE;
    int n = snprintf(buf, size,
                     "{\"id\":%llu,\"subject\":\"%s\",\"prompt\":\"%s\",\"action\":\"%s\",\"place\":\"%s\","
                     "\"subject_kind\":\"%s\",\"direction\":\"%s\",\"facing\":\"%s\",\"speed\":\"%s\","
                     "\"variant\":\"%s\",\"camera\":\"%s\",\"child\":%s,\"height_m\":%.2f,\"speed_mps\":%.2f,\"cadence\":%.3f,"
                     "\"split\":\"%s\",\"heldout_combo\":%s}",
                     (unsigned long long)id, subj, prompt, dr_synth_action_names[clip->action], clip->place,
                     clip->subject_kind, dr_synth_direction_names[clip->direction], facing_names[clip->facing],
                     dr_synth_speed_names[clip->speed], clip->variant, clip->camera_follows ? "follow" : "static",
                     clip->child ? "true" : "false", clip->height_m, clip->speed_mps, clip->cadence,
                     dr_synth_split_names[clip->split], clip->heldout_combo ? "true" : "false");
    if (n < 0 || (size_t)n >= size) return DR_ERANGE;
    return n;
}
