/* cmd_pose.c - `director pose render|convert`: look at and convert pose sequences.
 *
 * IN is any pose input director reads (detected from its content): a director sequence
 * JSON, an OpenPose JSON file or folder, a BVH file (default camera) or a dataset folder
 * (--clip, --split). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "core/fsutil.h"
#include "core/progress.h"
#include "io/png.h"
#include "io/video.h"
#include "pose/seqio.h"
#include "render/pose_draw.h"
#include "render/sheet.h"

/* "512x320" -> 512, 320 (each 2..8192). */
static bool parse_size(const char *cmd, const char *opt, const char *s, int *w, int *h) {
    char *end;
    long a = s ? strtol(s, &end, 10) : 0, b = 0;
    if (s && end != s && (*end == 'x' || *end == 'X')) {
        const char *t = end + 1;
        b = strtol(t, &end, 10);
        if (end != t && !*end && a >= 2 && a <= 8192 && b >= 2 && b <= 8192) {
            *w = (int)a, *h = (int)b;
            return true;
        }
    }
    cli_usage_error(cmd, "%s expects WIDTHxHEIGHT with sides in [2, 8192], got '%s'", opt, s ? s : "");
    return false;
}

/* Options shared by both subcommands: how to read IN. */
typedef struct read_args {
    dr_pose_read_opts opts;
    bool have_canvas;
} read_args;

/* Consume one input option at argv[*i]; returns 1 if consumed, 0 if not an input option,
 * -1 on a bad value (already reported). */
static int parse_read_option(const char *cmd, int argc, char **argv, int *i, read_args *ra) {
    const char *a = argv[*i];
    const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
    long l;
    double d;
    if (!strcmp(a, "--canvas")) {
        if (!parse_size(cmd, a, val, &ra->opts.width, &ra->opts.height)) return -1;
        ra->have_canvas = true;
    } else if (!strcmp(a, "--in-fps")) {
        if (!cli_parse_float(cmd, a, val, 0.01, 1000, &d)) return -1;
        ra->opts.fps = (float)d;
    } else if (!strcmp(a, "--clip")) {
        if (!cli_parse_long(cmd, a, val, 0, 1000000000, &l)) return -1;
        ra->opts.clip = (int)l;
    } else if (!strcmp(a, "--split")) {
        if (!val) return cli_usage_error(cmd, "--split needs a value"), -1;
        ra->opts.split = val;
    } else {
        return 0;
    }
    (*i)++;
    return 1;
}

static const char *read_help =
    "input options:\n"
    "  --canvas WxH   canvas of inputs that do not record one (OpenPose JSON without\n"
    "                 canvas_width/height, BVH projection); default 512x320\n"
    "  --in-fps F     frame rate of inputs that do not record one (OpenPose); default 30\n"
    "  --clip N       clip index in a dataset (default 0); --split S (default train)\n";

static int read_input(const char *cmd, const char *in, read_args *ra, dr_pose_seq *seq) {
    dr_err err = {0};
    dr_pose_format fmt;
    if (dr_pose_read(in, &ra->opts, seq, &fmt, &err)) return cli_fail_err(cmd, &err);
    return CLI_EXIT_OK;
}

static bool ends_with_ci(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

/* "x.jpg" but not "frames" or "out.d/frames": a name with a short extension is
 * meant as a file, and one of a type we do not write is refused rather than made a folder. */
static bool looks_like_file(const char *path) {
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path, *dot = strrchr(base, '.');
    if (!dot || dot == base) return false;
    size_t n = strlen(dot + 1);
    if (n < 1 || n > 4) return false;
    for (const char *p = dot + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))) return false;
    return true;
}

/* ---- pose render ---------------------------------------------------------------- */

static void render_usage(FILE *f) {
    fprintf(f,
            "usage: director pose render IN --out OUT [options]\n\n"
            "Draw a pose sequence as ControlNet OpenPose skeleton frames (controlnet_aux\n"
            "draw_bodypose: same limbs, colours and shapes, black background).\n\n"
            "OUT decides the output:\n"
            "  FILE.mp4       H.264 yuv420p video (plays in browsers)\n"
            "  FILE.gif       animated GIF\n"
            "  FILE.png       contact sheet of --sheet N evenly spaced frames\n"
            "  DIR            one PNG per frame: DIR/frame_000000.png, ... (DIR is replaced)\n\n"
            "options:\n"
            "  --size WxH     output frame (or sheet cell) size; poses are scaled to it\n"
            "                 (default: the sequence's canvas; half of it for sheet cells)\n"
            "  --fps F        output frame rate for videos (frames are picked to keep the\n"
            "                 duration; default: the sequence's rate)\n"
            "  --sheet N      cells of the contact sheet (default 12)\n"
            "  --no-numbers   no frame numbers on the contact sheet\n"
            "  --quiet        no progress on stderr\n"
            "%s",
            read_help);
}

static int render_frames_dir(const char *cmd, const dr_pose_seq *seq, const char *out, int w, int h, bool quiet) {
    dr_err err = {0};
    char tmp[4096];
    if (dr_tmpdir_create(out, tmp, sizeof tmp, &err)) return cli_fail_err(cmd, &err);
    dr_dir_default_mode(tmp);
    dr_progress prog;
    dr_progress_begin(&prog, "render png", 0, seq->num_frames, quiet);
    int failed = 0;
    bool err_set = false;
    long done = 0;
    /* Frames are independent: each thread draws and compresses its own. */
#pragma omp parallel
    {
        dr_image img;
        dr_err terr = {0};
        int trc = dr_image_alloc(&img, w, h) ? dr_err_set(&terr, DR_ENOMEM, "out of memory") : DR_OK;
#pragma omp for schedule(dynamic, 4)
        for (int f = 0; f < seq->num_frames; f++) {
            int stop;
#pragma omp atomic read
            stop = failed;
            if (trc || stop) continue;
            char path[4200];
            dr_render_pose(&img, &seq->frames[f], seq->width, seq->height);
            snprintf(path, sizeof path, "%s/frame_%06d.png", tmp, f);
            trc = dr_png_write(path, &img, &terr);
            if (trc) {
#pragma omp atomic write
                failed = 1; /* the other threads stop at their next frame */
            }
#pragma omp critical(render_progress)
            dr_progress_update(&prog, ++done, NULL);
        }
        if (trc) {
#pragma omp atomic write
            failed = 1;
#pragma omp critical(render_error)
            if (!err_set) err = terr, err_set = true;
        }
        dr_image_free(&img);
    }
    if (!failed && dr_tmpdir_commit(tmp, out, &err)) failed = 1;
    if (failed) {
        dr_rm_rf(tmp);
        return cli_fail_err(cmd, &err);
    }
    dr_progress_end(&prog, NULL);
    return CLI_EXIT_OK;
}

static int render_video(const char *cmd, const dr_pose_seq *seq, const char *out, dr_video_format fmt, int w, int h,
                        float fps, bool quiet) {
    dr_err err = {0};
    /* Keep the duration: output frame k shows the input frame at time k / fps. */
    long n = fps == seq->fps ? seq->num_frames : (long)floor((double)(seq->num_frames - 1) * fps / seq->fps + 1e-6) + 1;
    dr_video_writer *vw;
    if (dr_video_open(&vw, out, fmt, w, h, fps, &err)) return cli_fail_err(cmd, &err);
    dr_image img;
    if (dr_image_alloc(&img, w, h)) {
        dr_video_abort(vw);
        return cli_fail(cmd, "out of memory");
    }
    dr_progress prog;
    dr_progress_begin(&prog, fmt == DR_VIDEO_MP4 ? "render mp4" : "render gif", 0, n, quiet);
    int rc = DR_OK;
    for (long k = 0; k < n && !rc; k++) {
        long f = lround((double)k * seq->fps / fps);
        if (f >= seq->num_frames) f = seq->num_frames - 1;
        dr_render_pose(&img, &seq->frames[f], seq->width, seq->height);
        rc = dr_video_write(vw, &img, &err);
        dr_progress_update(&prog, k + 1, NULL);
    }
    dr_image_free(&img);
    if (rc) {
        dr_video_abort(vw);
        return cli_fail_err(cmd, &err);
    }
    if (dr_video_close(vw, &err)) return cli_fail_err(cmd, &err);
    dr_progress_end(&prog, NULL);
    return CLI_EXIT_OK;
}

static int cmd_pose_render(int argc, char **argv) {
    const char *cmd = "pose render", *in = NULL, *out = NULL;
    read_args ra = {0};
    dr_pose_read_opts_init(&ra.opts);
    int w = 0, h = 0;
    long sheet = 12;
    double fps = 0;
    bool numbers = true, quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int r = parse_read_option(cmd, argc, argv, &i, &ra);
        if (r < 0) return CLI_EXIT_USAGE;
        if (r > 0) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            render_usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--out") || !strcmp(a, "-o")) {
            if (!val) return cli_usage_error(cmd, "--out needs a value");
            out = val, i++;
        } else if (!strcmp(a, "--size")) {
            if (!parse_size(cmd, a, val, &w, &h)) return CLI_EXIT_USAGE;
            i++;
        } else if (!strcmp(a, "--fps")) {
            if (!cli_parse_float(cmd, a, val, 0.1, 240, &fps)) return CLI_EXIT_USAGE;
            i++;
        } else if (!strcmp(a, "--sheet")) {
            if (!cli_parse_long(cmd, a, val, 1, 1000, &sheet)) return CLI_EXIT_USAGE;
            i++;
        } else if (!strcmp(a, "--no-numbers")) {
            numbers = false;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            quiet = true;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error(cmd, "unknown option '%s'", a);
        } else if (!in) {
            in = a;
        } else {
            return cli_usage_error(cmd, "unexpected argument '%s'", a);
        }
    }
    if (!in || !out) return cli_usage_error(cmd, "needs an input and --out");
    dr_pose_seq seq;
    int rc = read_input(cmd, in, &ra, &seq);
    if (rc) return rc;
    bool size_given = w > 0;
    if (!size_given) w = seq.width, h = seq.height;
    float out_fps = fps > 0 ? (float)fps : seq.fps > 240 ? 240.0f : seq.fps;
    dr_err err = {0};
    if (ends_with_ci(out, ".png")) {
        dr_image img;
        int cw = size_given ? w : (seq.width / 2 < 8 ? 8 : seq.width / 2);
        int ch = size_given ? h : (seq.height / 2 < 8 ? 8 : seq.height / 2);
        if (dr_pose_contact_sheet(&seq, (int)sheet, cw, ch, numbers, &img, &err) || dr_png_write(out, &img, &err))
            rc = cli_fail_err(cmd, &err);
        dr_image_free(&img);
    } else if (ends_with_ci(out, ".mp4") || ends_with_ci(out, ".gif") || ends_with_ci(out, ".m4v") ||
               ends_with_ci(out, ".mov")) {
        dr_video_format vf;
        dr_video_format_from_path(out, &vf, NULL);
        rc = render_video(cmd, &seq, out, vf, w, h, out_fps, quiet);
    } else if (looks_like_file(out) && !dr_is_dir(out)) {
        rc = cli_usage_error(cmd, "--out %s: unknown file type (use .mp4, .gif, .png or a folder name)", out);
    } else {
        rc = render_frames_dir(cmd, &seq, out, w, h, quiet);
    }
    dr_pose_seq_free(&seq);
    return rc;
}

/* ---- pose convert ---------------------------------------------------------------- */

static void convert_usage(FILE *f) {
    fprintf(f,
            "usage: director pose convert IN --to openpose|sequence --out OUT [options]\n\n"
            "Convert between pose formats. Floats are written with 9 significant digits, so\n"
            "sequence -> OpenPose -> sequence is exact.\n\n"
            "  --to sequence  OUT is a director pose-sequence JSON file\n"
            "  --to openpose  OUT is a folder of OpenPose JSON frames\n"
            "                 (OUT/<prefix>_000000000000_keypoints.json, ...; replaced)\n"
            "  --prefix NAME  file name prefix of OpenPose frames (default: pose)\n"
            "  --prompt TEXT  set the sequence's prompt (sequence output)\n"
            "%s",
            read_help);
}

static int cmd_pose_convert(int argc, char **argv) {
    const char *cmd = "pose convert", *in = NULL, *out = NULL, *to = NULL, *prefix = NULL, *prompt = NULL;
    read_args ra = {0};
    dr_pose_read_opts_init(&ra.opts);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int r = parse_read_option(cmd, argc, argv, &i, &ra);
        if (r < 0) return CLI_EXIT_USAGE;
        if (r > 0) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            convert_usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--out") || !strcmp(a, "-o") || !strcmp(a, "--to") || !strcmp(a, "--prefix") ||
                   !strcmp(a, "--prompt")) {
            if (!val) return cli_usage_error(cmd, "%s needs a value", a);
            if (!strcmp(a, "--to")) to = val;
            else if (!strcmp(a, "--prefix")) prefix = val;
            else if (!strcmp(a, "--prompt")) prompt = val;
            else out = val;
            i++;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error(cmd, "unknown option '%s'", a);
        } else if (!in) {
            in = a;
        } else {
            return cli_usage_error(cmd, "unexpected argument '%s'", a);
        }
    }
    if (!in || !out || !to) return cli_usage_error(cmd, "needs an input, --to and --out");
    bool to_openpose = !strcmp(to, "openpose");
    if (!to_openpose && strcmp(to, "sequence")) return cli_usage_error(cmd, "--to must be openpose or sequence");
    dr_pose_seq seq;
    int rc = read_input(cmd, in, &ra, &seq);
    if (rc) return rc;
    dr_err err = {0};
    if (prompt && dr_pose_seq_set_prompt(&seq, prompt)) rc = cli_fail(cmd, "out of memory");
    else if (to_openpose ? dr_openpose_write_dir(out, &seq, prefix, &err) : dr_seq_write_json(out, &seq, &err))
        rc = cli_fail_err(cmd, &err);
    dr_pose_seq_free(&seq);
    return rc;
}

int dr_cmd_pose(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: director pose <render|convert> ...   (director pose <subcommand> --help)\n\n"
                   "  render   draw ControlNet skeleton frames: PNGs, MP4, GIF or a contact sheet\n"
                   "  convert  convert between director sequence JSON and OpenPose JSON\n");
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "render")) return cmd_pose_render(argc - 1, argv + 1);
    if (!strcmp(argv[1], "convert")) return cmd_pose_convert(argc - 1, argv + 1);
    return cli_usage_error("pose", "unknown subcommand '%s' (render, convert)", argv[1]);
}
