/* cmd_import.c - `director data import-bvh`: motion capture to a director pose sequence.
 *
 * The BVH skeleton is mapped to COCO-18 by joint names, its motion resampled to --fps and
 * projected through a pinhole camera that either orbits the motion (--azimuth,
 * --elevation, --distance; auto-framed by default) or stands where told
 * (--camera-position, --camera-target). docs/FORMATS.md "Poses" has the details. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "io/bvh.h"
#include "pose/seqio.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: director data import-bvh FILE.bvh --out FILE.json [options]\n\n"
            "Import BVH motion capture (CMU, Mixamo, Biovision, 3ds Max Biped, Unreal, SMPL-like\n"
            "joint names) as a director pose sequence of COCO-18 keypoints.\n\n"
            "camera (pinhole; world up is the file's +Y):\n"
            "  --azimuth DEG      around the performer; 0 = in front of them at the first frame,\n"
            "                     90 = at their left (default 0)\n"
            "  --elevation DEG    above the horizon, looking down when > 0 (default 5)\n"
            "  --distance D       from the motion's centre in file units (default: auto, the\n"
            "                     nearest at which every frame fits)\n"
            "  --focal MM         35 mm-equivalent focal length (default 50)\n"
            "  --camera-position X,Y,Z --camera-target X,Y,Z   an explicit camera instead\n"
            "  --margin F         auto-framing border, fraction of the frame (default 0.08)\n"
            "output:\n"
            "  --size WxH         canvas (default 512x320)\n"
            "  --fps F            frame rate (default 30); the motion is resampled\n"
            "  --caption TEXT     the sequence's prompt\n");
}

static bool parse_vec3(const char *opt, const char *s, float *v) {
    double a, b, c;
    char tail;
    if (!s || sscanf(s, "%lf,%lf,%lf%c", &a, &b, &c, &tail) != 3 || !(a == a && b == b && c == c)) {
        cli_usage_error("data import-bvh", "%s expects X,Y,Z, got '%s'", opt, s ? s : "");
        return false;
    }
    v[0] = (float)a, v[1] = (float)b, v[2] = (float)c;
    return true;
}

int dr_cmd_data_import_bvh(int argc, char **argv) {
    const char *cmd = "data import-bvh", *in = NULL, *out = NULL, *caption = NULL;
    dr_bvh_import_opts opts;
    dr_bvh_import_opts_init(&opts);
    bool have_pos = false, have_target = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (a[0] != '-' || !a[1]) {
            if (in) return cli_usage_error(cmd, "unexpected argument '%s'", a);
            in = a;
            continue;
        }
        if (!val) return cli_usage_error(cmd, "%s needs a value (or is unknown)", a);
        i++;
        if (!strcmp(a, "--out") || !strcmp(a, "-o")) out = val;
        else if (!strcmp(a, "--caption")) caption = val;
        else if (!strcmp(a, "--azimuth")) {
            if (!cli_parse_float(cmd, a, val, -360, 360, &d)) return CLI_EXIT_USAGE;
            opts.camera.azimuth_deg = (float)d;
        } else if (!strcmp(a, "--elevation")) {
            if (!cli_parse_float(cmd, a, val, -89, 89, &d)) return CLI_EXIT_USAGE;
            opts.camera.elevation_deg = (float)d;
        } else if (!strcmp(a, "--distance")) {
            if (!cli_parse_float(cmd, a, val, 1e-6, 1e9, &d)) return CLI_EXIT_USAGE;
            opts.camera.distance = (float)d;
        } else if (!strcmp(a, "--focal")) {
            if (!cli_parse_float(cmd, a, val, 1, 2000, &d)) return CLI_EXIT_USAGE;
            opts.camera.focal_mm = (float)d;
        } else if (!strcmp(a, "--margin")) {
            if (!cli_parse_float(cmd, a, val, 0, 0.44, &d)) return CLI_EXIT_USAGE;
            opts.margin = (float)d;
        } else if (!strcmp(a, "--fps")) {
            if (!cli_parse_float(cmd, a, val, 1, 240, &d)) return CLI_EXIT_USAGE;
            opts.fps = (float)d;
        } else if (!strcmp(a, "--size")) {
            char *end;
            long w = strtol(val, &end, 10), h = 0;
            if (*end == 'x' || *end == 'X') h = strtol(end + 1, &end, 10);
            if (*end || w < 2 || h < 2 || w > 8192 || h > 8192)
                return cli_usage_error(cmd, "--size expects WIDTHxHEIGHT with sides in [2, 8192], got '%s'", val);
            opts.width = (int)w, opts.height = (int)h;
        } else if (!strcmp(a, "--camera-position")) {
            if (!parse_vec3(a, val, opts.camera.position)) return CLI_EXIT_USAGE;
            have_pos = true;
        } else if (!strcmp(a, "--camera-target")) {
            if (!parse_vec3(a, val, opts.camera.target)) return CLI_EXIT_USAGE;
            have_target = true;
        } else {
            return cli_usage_error(cmd, "unknown option '%s'", a);
        }
    }
    if (!in || !out) return cli_usage_error(cmd, "needs a BVH file and --out");
    if (have_pos != have_target) return cli_usage_error(cmd, "--camera-position and --camera-target go together");
    opts.camera.explicit_pose = have_pos;
    dr_err err = {0};
    dr_pose_format fmt;
    if (dr_pose_detect(in, &fmt, &err)) return cli_fail_err(cmd, &err);
    if (fmt != DR_POSE_FORMAT_BVH) return cli_fail(cmd, "%s: not a BVH file (it looks like a %s)", in, dr_pose_format_name(fmt));
    dr_pose_seq seq;
    if (dr_bvh_import(in, &opts, &seq, &err)) return cli_fail_err(cmd, &err);
    int rc = CLI_EXIT_OK;
    if (caption && dr_pose_seq_set_prompt(&seq, caption)) rc = cli_fail(cmd, "out of memory");
    else if (dr_seq_write_json(out, &seq, &err)) rc = cli_fail_err(cmd, &err);
    else fprintf(stderr, "%s: %d frames at %g fps, %dx%d -> %s\n", in, seq.num_frames, (double)seq.fps, seq.width,
                 seq.height, out);
    dr_pose_seq_free(&seq);
    return rc;
}
