#include "io/bvh.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/fsutil.h"

/* ---- tokenizer ------------------------------------------------------------ */

typedef struct lexer {
    const char *s;
    size_t len, pos;
    int line;
    const char *name;
} lexer;

static void skip_space(lexer *lx) {
    while (lx->pos < lx->len && isspace((unsigned char)lx->s[lx->pos])) {
        if (lx->s[lx->pos] == '\n') lx->line++;
        lx->pos++;
    }
}

/* Next whitespace-separated token into buf (truncated tokens are reported as too long). */
static bool next_token(lexer *lx, char *buf, size_t size) {
    skip_space(lx);
    size_t n = 0;
    bool too_long = false;
    while (lx->pos < lx->len && !isspace((unsigned char)lx->s[lx->pos])) {
        if (n + 1 < size) buf[n++] = lx->s[lx->pos];
        else too_long = true;
        lx->pos++;
    }
    buf[n] = 0;
    if (too_long) buf[0] = '\x01'; /* never matches a keyword or parses as a number */
    return n > 0;
}

/* The rest of the current line, trimmed (joint names may contain spaces: "Bip01 L Thigh"). */
static void rest_of_line(lexer *lx, char *buf, size_t size) {
    while (lx->pos < lx->len && (lx->s[lx->pos] == ' ' || lx->s[lx->pos] == '\t')) lx->pos++;
    size_t n = 0;
    while (lx->pos < lx->len && lx->s[lx->pos] != '\n' && lx->s[lx->pos] != '\r') {
        if (n + 1 < size) buf[n++] = lx->s[lx->pos];
        lx->pos++;
    }
    while (n > 0 && isspace((unsigned char)buf[n - 1])) n--;
    buf[n] = 0;
}

static bool parse_number(const char *tok, double *out) {
    if (!*tok) return false;
    char *end;
    double v = strtod(tok, &end);
    if (*end || !isfinite(v)) return false;
    *out = v;
    return true;
}

/* ---- parsing ---------------------------------------------------------------- */

void dr_bvh_free(dr_bvh *bvh) {
    if (!bvh) return;
    free(bvh->joints);
    free(bvh->motion);
    memset(bvh, 0, sizeof *bvh);
}

static int channel_code(const char *tok) {
    static const char *const names[6] = {"Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation"};
    for (int i = 0; i < 6; i++)
        if (!strcasecmp(tok, names[i])) return i;
    return -1;
}


int dr_bvh_parse(const char *text, size_t len, const char *name, dr_bvh *bvh, dr_err *err) {
    memset(bvh, 0, sizeof *bvh);
    lexer lx = {text, len, 0, 1, name};
    char tok[128], jname[256];
    int stack[DR_BVH_MAX_JOINTS], depth = 0, cap = 0, rc = DR_OK;
#define FAIL(code, ...) do { rc = dr_err_set(err, code, __VA_ARGS__); goto fail; } while (0)
    if (!next_token(&lx, tok, sizeof tok) || strcmp(tok, "HIERARCHY"))
        FAIL(DR_EFORMAT, "%s: not a BVH file (no HIERARCHY at the start)", name);
    for (;;) {
        if (!next_token(&lx, tok, sizeof tok)) FAIL(DR_EFORMAT, "%s: truncated hierarchy (line %d)", name, lx.line);
        bool is_root = !strcmp(tok, "ROOT"), is_joint = !strcmp(tok, "JOINT"), is_end = !strcmp(tok, "End");
        if (is_root || is_joint || is_end) {
            if (is_end) {
                if (!next_token(&lx, tok, sizeof tok) || strcmp(tok, "Site"))
                    FAIL(DR_EFORMAT, "%s: line %d: expected 'End Site'", name, lx.line);
                rest_of_line(&lx, jname, sizeof jname);
            } else {
                rest_of_line(&lx, jname, sizeof jname);
            }
            /* "JOINT Hips {" on one line: the brace belongs to the syntax, not the name. */
            size_t nl = strlen(jname);
            bool brace = nl > 0 && jname[nl - 1] == '{';
            if (brace) {
                jname[--nl] = 0;
                while (nl > 0 && isspace((unsigned char)jname[nl - 1])) jname[--nl] = 0;
            }
            if (!is_end && !jname[0]) FAIL(DR_EFORMAT, "%s: line %d: joint without a name", name, lx.line);
            if (is_root ? depth != 0 : depth == 0)
                FAIL(DR_EFORMAT, "%s: line %d: %s %s", name, lx.line, tok,
                     is_root ? "inside another joint" : "outside any ROOT");
            if (bvh->num_joints >= DR_BVH_MAX_JOINTS || depth >= DR_BVH_MAX_JOINTS)
                FAIL(DR_ERANGE, "%s: more than %d joints", name, DR_BVH_MAX_JOINTS);
            if (bvh->num_joints == cap) {
                cap = cap ? 2 * cap : 64;
                dr_bvh_joint *g = realloc(bvh->joints, (size_t)cap * sizeof *g);
                if (!g) FAIL(DR_ENOMEM, "%s: out of memory", name);
                bvh->joints = g;
            }
            dr_bvh_joint *j = &bvh->joints[bvh->num_joints];
            memset(j, 0, sizeof *j);
            j->parent = depth ? stack[depth - 1] : -1;
            j->end_site = is_end;
            j->first_channel = bvh->num_channels;
            if (is_end) snprintf(j->name, sizeof j->name, "%s_End", bvh->joints[j->parent].name);
            else snprintf(j->name, sizeof j->name, "%s", jname);
            stack[depth++] = bvh->num_joints++;
            if (!brace && (!next_token(&lx, tok, sizeof tok) || strcmp(tok, "{")))
                FAIL(DR_EFORMAT, "%s: line %d: expected '{' after joint '%s'", name, lx.line, j->name);
        } else if (!strcmp(tok, "OFFSET")) {
            if (!depth) FAIL(DR_EFORMAT, "%s: line %d: OFFSET outside a joint", name, lx.line);
            dr_bvh_joint *j = &bvh->joints[stack[depth - 1]];
            for (int k = 0; k < 3; k++) {
                double v;
                if (!next_token(&lx, tok, sizeof tok) || !parse_number(tok, &v) || fabs(v) > 1e9)
                    FAIL(DR_EFORMAT, "%s: line %d: bad OFFSET of joint '%s'", name, lx.line, j->name);
                j->offset[k] = (float)v;
            }
        } else if (!strcmp(tok, "CHANNELS")) {
            if (!depth) FAIL(DR_EFORMAT, "%s: line %d: CHANNELS outside a joint", name, lx.line);
            dr_bvh_joint *j = &bvh->joints[stack[depth - 1]];
            double n;
            if (j->end_site || j->num_channels)
                FAIL(DR_EFORMAT, "%s: line %d: unexpected CHANNELS for '%s'", name, lx.line, j->name);
            if (!next_token(&lx, tok, sizeof tok) || !parse_number(tok, &n) || n < 0 || n > 6 || n != floor(n))
                FAIL(DR_EFORMAT, "%s: line %d: CHANNELS count must be 0..6", name, lx.line);
            uint8_t seen = 0;
            for (int k = 0; k < (int)n; k++) {
                int c = next_token(&lx, tok, sizeof tok) ? channel_code(tok) : -1;
                if (c < 0 || (seen & (1u << c)))
                    FAIL(DR_EFORMAT, "%s: line %d: bad or repeated channel '%s' of joint '%s'", name, lx.line, tok,
                         j->name);
                seen |= (uint8_t)(1u << c);
                j->channels[k] = (uint8_t)c;
            }
            j->num_channels = (int)n;
            j->first_channel = bvh->num_channels;
            bvh->num_channels += (int)n;
        } else if (!strcmp(tok, "}")) {
            if (!depth) FAIL(DR_EFORMAT, "%s: line %d: unbalanced '}'", name, lx.line);
            depth--;
        } else if (!strcmp(tok, "MOTION")) {
            if (depth) FAIL(DR_EFORMAT, "%s: line %d: MOTION before the hierarchy is closed", name, lx.line);
            break;
        } else {
            FAIL(DR_EFORMAT, "%s: line %d: unexpected '%.40s' in the hierarchy", name, lx.line, tok);
        }
    }
    if (bvh->num_joints == 0) FAIL(DR_EFORMAT, "%s: no joints in the hierarchy", name);
    double frames, ft;
    if (!next_token(&lx, tok, sizeof tok) || strcmp(tok, "Frames:") || !next_token(&lx, tok, sizeof tok) ||
        !parse_number(tok, &frames))
        FAIL(DR_EFORMAT, "%s: line %d: expected 'Frames: N'", name, lx.line);
    if (frames < 1 || frames > DR_BVH_MAX_FRAMES || frames != floor(frames))
        FAIL(DR_ERANGE, "%s: frame count %g outside 1..%d", name, frames, DR_BVH_MAX_FRAMES);
    if (!next_token(&lx, tok, sizeof tok) || strcmp(tok, "Frame") || !next_token(&lx, tok, sizeof tok) ||
        strcmp(tok, "Time:") || !next_token(&lx, tok, sizeof tok) || !parse_number(tok, &ft))
        FAIL(DR_EFORMAT, "%s: line %d: expected 'Frame Time: seconds'", name, lx.line);
    if (!(ft > 1e-6 && ft <= 10.0)) FAIL(DR_ERANGE, "%s: frame time %g s outside (0, 10]", name, ft);
    bvh->num_frames = (int)frames;
    bvh->frame_time = ft;
    size_t values = (size_t)bvh->num_frames * (size_t)bvh->num_channels;
    /* Every value takes at least two bytes ("0 "): refuse impossible counts before allocating. */
    if (values > (len - lx.pos + 1) / 2 + 1)
        FAIL(DR_EFORMAT, "%s: truncated motion: %d frames x %d channels announced but the file is too short", name,
             bvh->num_frames, bvh->num_channels);
    bvh->motion = malloc((values ? values : 1) * sizeof(float));
    if (!bvh->motion) FAIL(DR_ENOMEM, "%s: out of memory for the motion", name);
    for (size_t i = 0; i < values; i++) {
        double v;
        if (!next_token(&lx, tok, sizeof tok))
            FAIL(DR_EFORMAT, "%s: truncated motion: frame %zu of %d has %zu of %d values", name,
                 i / (size_t)bvh->num_channels + 1, bvh->num_frames, i % (size_t)bvh->num_channels,
                 bvh->num_channels);
        if (!parse_number(tok, &v) || fabs(v) > 1e9)
            FAIL(DR_EFORMAT, "%s: line %d: bad motion value '%.40s'", name, lx.line, tok);
        bvh->motion[i] = (float)v;
    }
    return DR_OK;
#undef FAIL
fail:
    /* Whatever was expected, a file that ends early is best described as truncated. */
    if (rc == DR_EFORMAT && lx.pos >= lx.len && (!err || !strstr(err->msg, "truncated")))
        dr_err_set(err, DR_EFORMAT, "%s: truncated: the file ends inside the %s (line %d)", name,
                   bvh->motion ? "motion" : "hierarchy", lx.line);
    dr_bvh_free(bvh);
    return rc;
}

int dr_bvh_load(const char *path, dr_bvh *bvh, dr_err *err) {
    memset(bvh, 0, sizeof *bvh);
    char *text;
    size_t len;
    int rc = dr_read_file(path, DR_BVH_MAX_FILE_BYTES, &text, &len, err);
    if (rc) return rc;
    rc = dr_bvh_parse(text, len, path, bvh, err);
    free(text);
    return rc;
}

/* ---- forward kinematics ----------------------------------------------------------- */

static void mat_mul(const float *a, const float *b, float *out) { /* 3x3 row-major, out = a b */
    float r[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) r[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
    memcpy(out, r, sizeof r);
}

static void mat_vec(const float *m, const float *v, float *out) {
    float r[3];
    for (int i = 0; i < 3; i++) r[i] = m[3 * i] * v[0] + m[3 * i + 1] * v[1] + m[3 * i + 2] * v[2];
    memcpy(out, r, sizeof r);
}

static void axis_rotation(int axis, double deg, float *m) {
    double a = deg * M_PI / 180.0;
    float c = (float)cos(a), s = (float)sin(a);
    memset(m, 0, 9 * sizeof(float));
    if (axis == 0) { m[0] = 1; m[4] = c; m[5] = -s; m[7] = s; m[8] = c; }
    else if (axis == 1) { m[4] = 1; m[0] = c; m[2] = s; m[6] = -s; m[8] = c; }
    else { m[8] = 1; m[0] = c; m[1] = -s; m[3] = s; m[4] = c; }
}

void dr_bvh_fk(const dr_bvh *bvh, int frame, float *pos, float *rot) {
    const float *values = bvh->motion + (size_t)frame * (size_t)bvh->num_channels;
    float wrot_buf[9 * 64], *wrot = rot;
    float *heap = NULL;
    if (!wrot) { /* rotations are needed for the positions even when the caller wants none */
        wrot = bvh->num_joints <= 64 ? wrot_buf : (heap = malloc((size_t)bvh->num_joints * 9 * sizeof(float)));
        if (!wrot) return;
    }
    float wpos_buf[3 * 64], *wpos = pos, *heap2 = NULL;
    if (!wpos) {
        wpos = bvh->num_joints <= 64 ? wpos_buf : (heap2 = malloc((size_t)bvh->num_joints * 3 * sizeof(float)));
        if (!wpos) { free(heap); return; }
    }
    for (int j = 0; j < bvh->num_joints; j++) {
        const dr_bvh_joint *jt = &bvh->joints[j];
        /* Local transform: translation, then the rotations in channel order, each about
         * the already rotated axes: R = R_first * R_second * R_third. Position channels
         * give the joint's local position (they replace the OFFSET on their axis), as
         * exporters write absolute root positions. */
        float t[3] = {jt->offset[0], jt->offset[1], jt->offset[2]};
        float r[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, m[9];
        for (int k = 0; k < jt->num_channels; k++) {
            int c = jt->channels[k];
            float v = values[jt->first_channel + k];
            if (c <= DR_BVH_ZPOS) t[c] = v;
            else {
                axis_rotation(c - DR_BVH_XROT, v, m);
                mat_mul(r, m, r);
            }
        }
        if (jt->parent < 0) {
            memcpy(wpos + 3 * j, t, sizeof t);
            memcpy(wrot + 9 * j, r, sizeof r);
        } else {
            float d[3];
            mat_vec(wrot + 9 * jt->parent, t, d);
            for (int k = 0; k < 3; k++) wpos[3 * j + k] = wpos[3 * jt->parent + k] + d[k];
            mat_mul(wrot + 9 * jt->parent, r, wrot + 9 * j);
        }
    }
    free(heap);
    free(heap2);
}

/* ---- COCO-18 mapping by joint name -------------------------------------------------- */

/* Lower-case alphanumerics of the part after the last ':' or '|', without the rig
 * prefixes of common exporters: "mixamorig:LeftArm" -> "leftarm", "Bip01 L Thigh" ->
 * "lthigh", "CC_Base_L_Upperarm" -> "lupperarm". */
static void normalize_name(const char *in, char *out, size_t size) {
    const char *s = in;
    for (const char *p = in; *p; p++)
        if (*p == ':' || *p == '|') s = p + 1;
    size_t n = 0;
    for (; *s && n + 1 < size; s++)
        if (isalnum((unsigned char)*s)) out[n++] = (char)tolower((unsigned char)*s);
    out[n] = 0;
    static const char *const prefixes[] = {"mixamorig", "bip001", "bip01", "ccbase", "bip", "def"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t m = strlen(prefixes[i]);
        if (!strncmp(out, prefixes[i], m) && out[m]) {
            memmove(out, out + m, strlen(out + m) + 1);
            break;
        }
    }
}

/* Body part names for each limb keypoint, best first. For the shoulder, "arm" (CMU,
 * Mixamo: LeftArm) and "upperarm" beat "shoulder", which is the clavicle in those
 * schemes but the upper-arm joint in Biovision / SMPL ones that have no "arm". "wrist"
 * beats "hand" and "ankle" beats "foot": SMPL has both, its Hand and Foot being the
 * knuckles and toes, while CMU and Mixamo name the wrist Hand and the ankle Foot. */
typedef struct part_names {
    int left_kp, right_kp;
    const char *parts[6];
} part_names;

static const part_names limb_parts[] = {
    {DR_KP_LSHOULDER, DR_KP_RSHOULDER, {"arm", "upperarm", "shoulder", NULL}},
    {DR_KP_LELBOW, DR_KP_RELBOW, {"forearm", "lowerarm", "elbow", NULL}},
    {DR_KP_LWRIST, DR_KP_RWRIST, {"wrist", "hand", NULL}},
    {DR_KP_LHIP, DR_KP_RHIP, {"upleg", "upperleg", "thigh", "hip", NULL}},
    {DR_KP_LKNEE, DR_KP_RKNEE, {"leg", "lowerleg", "knee", "calf", "shin", NULL}},
    {DR_KP_LANKLE, DR_KP_RANKLE, {"ankle", "foot", NULL}},
};

static int find_joint(const dr_bvh *bvh, const char *want) {
    char norm[DR_BVH_NAME_LEN];
    for (int j = 0; j < bvh->num_joints; j++) {
        if (bvh->joints[j].end_site) continue;
        normalize_name(bvh->joints[j].name, norm, sizeof norm);
        if (!strcmp(norm, want)) return j;
    }
    return -1;
}

/* A side's joint for a part: "leftarm", "larm", "armleft", "arml". */
static int find_side_joint(const dr_bvh *bvh, const char *side_long, const char *side_short, const char *part) {
    char want[64];
    const char *forms[4][2] = {{side_long, part}, {side_short, part}, {part, side_long}, {part, side_short}};
    for (int f = 0; f < 4; f++) {
        snprintf(want, sizeof want, "%s%s", forms[f][0], forms[f][1]);
        int j = find_joint(bvh, want);
        if (j >= 0) return j;
    }
    return -1;
}

static float vnorm(const float *v) { return sqrtf(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]); }

static void vcross(const float *a, const float *b, float *out) {
    float r[3] = {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
    memcpy(out, r, sizeof r);
}

static float vdot(const float *a, const float *b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

static bool vnormalize(float *v) {
    float n = vnorm(v);
    if (!(n > 1e-12f)) return false;
    v[0] /= n, v[1] /= n, v[2] /= n;
    return true;
}

/* Rest pose: all channels zero except that position channels keep the OFFSET. */
static void rest_positions(const dr_bvh *bvh, float *pos) {
    for (int j = 0; j < bvh->num_joints; j++) {
        const dr_bvh_joint *jt = &bvh->joints[j];
        for (int k = 0; k < 3; k++) pos[3 * j + k] = jt->offset[k] + (jt->parent >= 0 ? pos[3 * jt->parent + k] : 0.0f);
    }
}

int dr_bvh_map_coco(const dr_bvh *bvh, const char *name, dr_bvh_coco_map *map, dr_err *err) {
    memset(map, 0, sizeof *map);
    for (int k = 0; k < DR_NUM_KEYPOINTS; k++) map->joint[k] = -1;
    for (size_t p = 0; p < sizeof limb_parts / sizeof limb_parts[0]; p++)
        for (int i = 0; limb_parts[p].parts[i]; i++) {
            if (map->joint[limb_parts[p].left_kp] < 0)
                map->joint[limb_parts[p].left_kp] = find_side_joint(bvh, "left", "l", limb_parts[p].parts[i]);
            if (map->joint[limb_parts[p].right_kp] < 0)
                map->joint[limb_parts[p].right_kp] = find_side_joint(bvh, "right", "r", limb_parts[p].parts[i]);
        }
    map->head = find_joint(bvh, "head");
    /* Everything but the derived points (neck, face) must be found. */
    char missing[256] = "";
    for (int k = 0; k < DR_NUM_KEYPOINTS; k++) {
        if (k == DR_KP_NOSE || k == DR_KP_NECK || k >= DR_KP_REYE || map->joint[k] >= 0) continue;
        size_t n = strlen(missing);
        snprintf(missing + n, sizeof missing - n, "%s%s", n ? ", " : "", dr_keypoint_names[k]);
    }
    if (map->head < 0) {
        size_t n = strlen(missing);
        snprintf(missing + n, sizeof missing - n, "%shead", n ? ", " : "");
    }
    if (missing[0]) {
        char found[640] = "";
        for (int j = 0, n = 0; j < bvh->num_joints; j++) {
            if (bvh->joints[j].end_site) continue;
            size_t l = strlen(found);
            if (l + strlen(bvh->joints[j].name) + 8 >= sizeof found) {
                snprintf(found + l, sizeof found - l, ", ...");
                break;
            }
            snprintf(found + l, sizeof found - l, "%s%s", n++ ? ", " : "", bvh->joints[j].name);
        }
        return dr_err_set(err, DR_EUNSUPPORTED,
                          "%s: unknown skeleton: no joint found for %s; joints in the file: %s", name, missing, found);
    }
    /* The body's axes from the rest pose: up from the hips to the head, left from the
     * right hip to the left hip, forward = left x up (a right-handed frame). */
    float *rest = malloc((size_t)bvh->num_joints * 3 * sizeof(float));
    if (!rest) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", name);
    rest_positions(bvh, rest);
    const float *lh = rest + 3 * map->joint[DR_KP_LHIP], *rh = rest + 3 * map->joint[DR_KP_RHIP];
    const float *ls = rest + 3 * map->joint[DR_KP_LSHOULDER], *rs = rest + 3 * map->joint[DR_KP_RSHOULDER];
    const float *hd = rest + 3 * map->head;
    float up[3], left[3], fwd[3], sw[3];
    for (int k = 0; k < 3; k++) {
        up[k] = hd[k] - 0.5f * (lh[k] + rh[k]);
        left[k] = (lh[k] - rh[k]) + (ls[k] - rs[k]);
        sw[k] = ls[k] - rs[k];
    }
    map->shoulder_width = vnorm(sw);
    free(rest);
    bool ok = vnormalize(up);
    float d = vdot(left, up);
    for (int k = 0; k < 3; k++) left[k] -= d * up[k];
    ok = ok && vnormalize(left);
    vcross(left, up, fwd);
    if (!ok || !(map->shoulder_width > 0))
        return dr_err_set(err, DR_EFORMAT, "%s: degenerate rest pose (hips, shoulders and head do not span a body)",
                          name);
    memcpy(map->up, up, sizeof up);
    memcpy(map->left, left, sizeof left);
    memcpy(map->forward, fwd, sizeof fwd);
    return DR_OK;
}

/* Face points relative to the head joint (which sits at the base of the skull in CMU,
 * Mixamo and Biovision rigs), in units of the rest shoulder width (~0.4 m in adults):
 * {up, forward, left}. From average head proportions: the ear canals ~7.5 cm either
 * side, the eyes ~3.2 cm from the midline and ~8 cm in front of the ears, the nose tip
 * ~11 cm forward and at ear height. */
static const float face_offsets[5][3] = {
    /* nose */ {0.125f, 0.275f, 0.0f},
    /* right eye */ {0.2f, 0.2f, -0.08f},
    /* left eye */ {0.2f, 0.2f, 0.08f},
    /* right ear */ {0.125f, -0.025f, -0.19f},
    /* left ear */ {0.125f, -0.025f, 0.19f},
};
static const int face_keypoints[5] = {DR_KP_NOSE, DR_KP_REYE, DR_KP_LEYE, DR_KP_REAR, DR_KP_LEAR};

static void keypoints_from_fk(const dr_bvh_coco_map *map, const float *pos, const float *rot, float *xyz) {
    for (int k = 0; k < DR_NUM_KEYPOINTS; k++)
        if (map->joint[k] >= 0) memcpy(xyz + 3 * k, pos + 3 * map->joint[k], 3 * sizeof(float));
    for (int k = 0; k < 3; k++)
        xyz[3 * DR_KP_NECK + k] = 0.5f * (xyz[3 * DR_KP_LSHOULDER + k] + xyz[3 * DR_KP_RSHOULDER + k]);
    /* Rest frames are aligned with the world, so a rest-pose vector is also the head's
     * local vector: world point = head position + R_head * offset. */
    const float *hp = pos + 3 * map->head, *hr = rot + 9 * map->head;
    for (int f = 0; f < 5; f++) {
        float local[3], w[3];
        for (int k = 0; k < 3; k++)
            local[k] = map->shoulder_width * (face_offsets[f][0] * map->up[k] + face_offsets[f][1] * map->forward[k] +
                                              face_offsets[f][2] * map->left[k]);
        mat_vec(hr, local, w);
        for (int k = 0; k < 3; k++) xyz[3 * face_keypoints[f] + k] = hp[k] + w[k];
    }
}

void dr_bvh_keypoints3d(const dr_bvh *bvh, const dr_bvh_coco_map *map, int frame, float *xyz) {
    float *pos = malloc((size_t)bvh->num_joints * 12 * sizeof(float));
    if (!pos) {
        memset(xyz, 0, DR_NUM_KEYPOINTS * 3 * sizeof(float));
        return;
    }
    float *rot = pos + 3 * (size_t)bvh->num_joints;
    dr_bvh_fk(bvh, frame, pos, rot);
    keypoints_from_fk(map, pos, rot, xyz);
    free(pos);
}

/* ---- camera and import ------------------------------------------------------------ */

void dr_bvh_import_opts_init(dr_bvh_import_opts *opts) {
    memset(opts, 0, sizeof *opts);
    opts->width = DR_CANVAS_WIDTH;
    opts->height = DR_CANVAS_HEIGHT;
    opts->fps = DR_CLIP_FPS;
    opts->camera.azimuth_deg = 0.0f;
    opts->camera.elevation_deg = 5.0f;
    opts->camera.distance = 0.0f;
    opts->camera.focal_mm = 50.0f;
    opts->margin = 0.08f;
}

typedef struct camera {
    float pos[3], right[3], up[3], fwd[3];
    float f_px, cx, cy, near;
} camera;

static bool camera_look_at(camera *cam, const float *pos, const float *target) {
    static const float world_up[3] = {0, 1, 0};
    memcpy(cam->pos, pos, 3 * sizeof(float));
    for (int k = 0; k < 3; k++) cam->fwd[k] = target[k] - pos[k];
    if (!vnormalize(cam->fwd)) return false;
    vcross(cam->fwd, world_up, cam->right);
    if (!vnormalize(cam->right)) { /* looking straight up or down: pick the world X axis */
        cam->right[0] = 1, cam->right[1] = 0, cam->right[2] = 0;
    }
    vcross(cam->right, cam->fwd, cam->up);
    return true;
}

/* Image coordinates (x right, y down) of a world point; false when it is behind the camera. */
static bool project(const camera *cam, const float *p, float *u, float *v) {
    float d[3] = {p[0] - cam->pos[0], p[1] - cam->pos[1], p[2] - cam->pos[2]};
    float z = vdot(d, cam->fwd);
    if (!(z > cam->near)) return false;
    *u = cam->cx + cam->f_px * vdot(d, cam->right) / z;
    *v = cam->cy - cam->f_px * vdot(d, cam->up) / z;
    return true;
}

/* Do all points project inside the canvas less the margin? */
static bool fits(const camera *cam, const float *pts, size_t n, float mx, float my, float w, float h) {
    for (size_t i = 0; i < n; i++) {
        float u, v;
        if (!project(cam, pts + 3 * i, &u, &v) || u < mx || u > w - mx || v < my || v > h - my) return false;
    }
    return true;
}

/* Face points a detector would not see: eyes and nose of a head turned away, the far ear
 * (and far eye) of a head in profile. The head's axes come from the face points. */
static void face_visibility(const float *xyz, const float *cam_pos, bool *visible) {
    const float *nose = xyz + 3 * DR_KP_NOSE, *lear = xyz + 3 * DR_KP_LEAR, *rear = xyz + 3 * DR_KP_REAR;
    float mid[3], fwd[3], left[3], view[3];
    for (int k = 0; k < 3; k++) {
        mid[k] = 0.5f * (lear[k] + rear[k]);
        fwd[k] = nose[k] - mid[k];
        left[k] = lear[k] - rear[k];
        view[k] = cam_pos[k] - mid[k];
    }
    if (!vnormalize(fwd) || !vnormalize(left) || !vnormalize(view)) return;
    float facing = vdot(fwd, view), side = vdot(left, view);
    if (facing < -0.1f) visible[DR_KP_NOSE] = visible[DR_KP_REYE] = visible[DR_KP_LEYE] = false;
    if (side > 0.7f) visible[DR_KP_REAR] = false; /* camera on the left: the right ear is hidden */
    if (side < -0.7f) visible[DR_KP_LEAR] = false;
    if (side > 0.85f) visible[DR_KP_REYE] = false;
    if (side < -0.85f) visible[DR_KP_LEYE] = false;
}

int dr_bvh_to_pose_seq(const dr_bvh *bvh, const char *name, const dr_bvh_import_opts *opts_in, dr_pose_seq *seq,
                       dr_err *err) {
    memset(seq, 0, sizeof *seq);
    dr_bvh_import_opts opts;
    if (opts_in) opts = *opts_in;
    else dr_bvh_import_opts_init(&opts);
    const dr_bvh_camera *cam_opts = &opts.camera;
    if (opts.width < 1 || opts.height < 1 || opts.width > 16384 || opts.height > 16384 || !(opts.fps > 0 && opts.fps <= 1000))
        return dr_err_set(err, DR_EINVAL, "%s: bad canvas %dx%d or fps %g", name, opts.width, opts.height,
                          (double)opts.fps);
    if (!(cam_opts->focal_mm >= 1 && cam_opts->focal_mm <= 2000) || !(cam_opts->distance >= 0) ||
        !isfinite(cam_opts->azimuth_deg) || !(fabsf(cam_opts->elevation_deg) < 90) || !(opts.margin >= 0 && opts.margin < 0.45f))
        return dr_err_set(err, DR_EINVAL,
                          "%s: bad camera (focal %g mm must be in [1, 2000], elevation %g in (-90, 90), distance %g >= 0, margin %g in [0, 0.45))",
                          name, (double)cam_opts->focal_mm, (double)cam_opts->elevation_deg, (double)cam_opts->distance,
                          (double)opts.margin);
    dr_bvh_coco_map map;
    int rc = dr_bvh_map_coco(bvh, name, &map, err);
    if (rc) return rc;

    /* Resample: output frame k is at time k / fps; its keypoints interpolate linearly
     * between the two source frames around that time. */
    double duration = (bvh->num_frames - 1) * bvh->frame_time;
    double nk = floor(duration * opts.fps + 1e-6) + 1;
    if (nk > 1000000) return dr_err_set(err, DR_ERANGE, "%s: %.0f output frames is too many", name, nk);
    int num_out = (int)nk;
    float *xyz = malloc((size_t)num_out * DR_NUM_KEYPOINTS * 3 * sizeof(float));
    float *fk = malloc((size_t)bvh->num_joints * 12 * sizeof(float));
    float *ka = malloc(2 * DR_NUM_KEYPOINTS * 3 * sizeof(float)), *kb = ka + DR_NUM_KEYPOINTS * 3;
    if (!xyz || !fk || !ka) {
        rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    int cached_a = -1, cached_b = -1;
    for (int i = 0; i < num_out; i++) {
        double s = (double)i / opts.fps / bvh->frame_time;
        int i0 = (int)floor(s);
        if (i0 > bvh->num_frames - 1) i0 = bvh->num_frames - 1;
        int i1 = i0 + 1 < bvh->num_frames ? i0 + 1 : i0;
        float a = (float)(s - i0);
        if (a > 1.0f) a = 1.0f;
        if (cached_a != i0) {
            if (cached_b == i0) memcpy(ka, kb, DR_NUM_KEYPOINTS * 3 * sizeof(float));
            else {
                dr_bvh_fk(bvh, i0, fk, fk + 3 * (size_t)bvh->num_joints);
                keypoints_from_fk(&map, fk, fk + 3 * (size_t)bvh->num_joints, ka);
            }
            cached_a = i0;
        }
        if (cached_b != i1) {
            dr_bvh_fk(bvh, i1, fk, fk + 3 * (size_t)bvh->num_joints);
            keypoints_from_fk(&map, fk, fk + 3 * (size_t)bvh->num_joints, kb);
            cached_b = i1;
        }
        float *out = xyz + (size_t)i * DR_NUM_KEYPOINTS * 3;
        for (int k = 0; k < DR_NUM_KEYPOINTS * 3; k++) out[k] = (1.0f - a) * ka[k] + a * kb[k];
    }
    size_t npts = (size_t)num_out * DR_NUM_KEYPOINTS;

    /* The camera. */
    camera cam;
    cam.f_px = cam_opts->focal_mm / 36.0f * (float)opts.width;
    cam.cx = 0.5f * (float)opts.width, cam.cy = 0.5f * (float)opts.height;
    float lo[3], hi[3], centre[3], radius = 0;
    for (int k = 0; k < 3; k++) lo[k] = hi[k] = xyz[k];
    for (size_t i = 0; i < npts; i++)
        for (int k = 0; k < 3; k++) {
            float v = xyz[3 * i + k];
            if (v < lo[k]) lo[k] = v;
            if (v > hi[k]) hi[k] = v;
        }
    for (int k = 0; k < 3; k++) centre[k] = 0.5f * (lo[k] + hi[k]);
    for (size_t i = 0; i < npts; i++) {
        float d[3] = {xyz[3 * i] - centre[0], xyz[3 * i + 1] - centre[1], xyz[3 * i + 2] - centre[2]};
        if (vnorm(d) > radius) radius = vnorm(d);
    }
    cam.near = 1e-4f * (radius > 0 ? radius : 1.0f);
    if (cam_opts->explicit_pose) {
        if (!camera_look_at(&cam, cam_opts->position, cam_opts->target)) {
            rc = dr_err_set(err, DR_EINVAL, "%s: camera position and target coincide", name);
            goto done;
        }
    } else {
        /* Azimuth 0 = in front of the performer at the first frame: their facing is
         * left x up with left = left hip - right hip, taken horizontally. */
        const float *f0 = xyz;
        float left[3] = {f0[3 * DR_KP_LHIP] - f0[3 * DR_KP_RHIP], 0, f0[3 * DR_KP_LHIP + 2] - f0[3 * DR_KP_RHIP + 2]};
        float fwd[3] = {-left[2], 0, left[0]};
        if (!vnormalize(fwd)) fwd[0] = 0, fwd[1] = 0, fwd[2] = 1;
        float side[3] = {fwd[2], 0, -fwd[0]}; /* = up x fwd: the performer's left */
        double az = cam_opts->azimuth_deg * M_PI / 180.0, el = cam_opts->elevation_deg * M_PI / 180.0;
        float dir[3];
        for (int k = 0; k < 3; k++) dir[k] = (float)(cos(el) * (cos(az) * fwd[k] + sin(az) * side[k]));
        dir[1] += (float)sin(el);
        float dist = cam_opts->distance;
        float mx = opts.margin * (float)opts.width, my = opts.margin * (float)opts.height;
        float w = (float)opts.width, h = (float)opts.height, p[3];
        if (dist == 0) {
            /* The nearest distance at which every keypoint of every frame fits: bisect
             * between a distance that does not fit and one that does. */
            float lo_d = radius > 0 ? radius * 1.001f : 1e-3f, hi_d = lo_d * 2;
            for (int it = 0; it < 60; it++) {
                for (int k = 0; k < 3; k++) p[k] = centre[k] + hi_d * dir[k];
                camera_look_at(&cam, p, centre);
                if (fits(&cam, xyz, npts, mx, my, w, h)) break;
                lo_d = hi_d, hi_d *= 2;
            }
            for (int it = 0; it < 40; it++) {
                float mid = 0.5f * (lo_d + hi_d);
                for (int k = 0; k < 3; k++) p[k] = centre[k] + mid * dir[k];
                camera_look_at(&cam, p, centre);
                if (fits(&cam, xyz, npts, mx, my, w, h)) hi_d = mid;
                else lo_d = mid;
            }
            dist = hi_d;
        }
        for (int k = 0; k < 3; k++) p[k] = centre[k] + dist * dir[k];
        camera_look_at(&cam, p, centre);
    }

    if ((rc = dr_pose_seq_alloc(seq, num_out, opts.fps, opts.width, opts.height))) {
        rc = dr_err_set(err, rc, "%s: out of memory", name);
        goto done;
    }
    for (int i = 0; i < num_out; i++) {
        const float *fr = xyz + (size_t)i * DR_NUM_KEYPOINTS * 3;
        bool visible[DR_NUM_KEYPOINTS];
        for (int k = 0; k < DR_NUM_KEYPOINTS; k++) visible[k] = true;
        face_visibility(fr, cam.pos, visible);
        for (int k = 0; k < DR_NUM_KEYPOINTS; k++) {
            float u, v;
            dr_keypoint *kp = &seq->frames[i].kp[k];
            if (visible[k] && project(&cam, fr + 3 * k, &u, &v) && u >= 0 && v >= 0 && u <= (float)opts.width &&
                v <= (float)opts.height) {
                kp->x = u, kp->y = v, kp->c = 1.0f;
            }
        }
    }
done:
    free(xyz);
    free(fk);
    free(ka);
    if (rc) dr_pose_seq_free(seq);
    return rc;
}

int dr_bvh_import(const char *path, const dr_bvh_import_opts *opts, dr_pose_seq *seq, dr_err *err) {
    dr_bvh bvh;
    int rc = dr_bvh_load(path, &bvh, err);
    if (rc) return rc;
    rc = dr_bvh_to_pose_seq(&bvh, path, opts, seq, err);
    dr_bvh_free(&bvh);
    return rc;
}
