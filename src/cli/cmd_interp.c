/* cmd_interp.c - `director interp` (key frames -> 200 frames, and `interp eval`),
 * `director train interp` and `director train textenc`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "models/interp_train.h"
#include "models/pose_diffusion.h"
#include "models/text_encoder.h"
#include "models/tokenizer.h"
#include "pose/dataset.h"
#include "pose/seqio.h"

#define DEFAULT_MODEL "models/interp.safetensors"
#define DEFAULT_TEXTENC "models/text_encoder.safetensors"
#define DEFAULT_TOKENIZER "models/tokenizer.json"

static bool is_help(const char *a) { return !strcmp(a, "--help") || !strcmp(a, "-h"); }

/* ---------------------------------------------------------------- train textenc */

static void usage_train_textenc(FILE *f) {
    fprintf(f,
            "usage: director train textenc --data DIR --tokenizer TOKENIZER.json --out MODEL.safetensors [options]\n"
            "\n"
            "Train the CLIP-architecture text encoder contrastively (symmetric InfoNCE, learnable\n"
            "temperature) against a small motion encoder on the train split of a dataset.\n"
            "Checkpoints go to MODEL.safetensors.ckpt (+ .motion.ckpt); --resume continues from them.\n"
            "\n"
            "options:\n"
            "  --steps N        optimizer steps (default 2000)\n"
            "  --batch N        caption/clip pairs a step (default 128)\n"
            "  --lr X           peak learning rate (default 1e-3; warm-up, cosine decay)\n"
            "  --seed N         seed of initialisation and batches (default 1)\n"
            "  --dim N --layers N --heads N --max-len N --proj N   sizes (128, 4, 4, 40, 128)\n"
            "  --val-every N    validate and checkpoint every N steps (default 200)\n"
            "  --resume         continue from the checkpoint if there is one\n"
            "  --quiet          no progress lines\n");
}

int dr_cmd_train_textenc(int argc, char **argv) {
    const char *cmd = "train textenc";
    dr_textenc_train_opts o;
    dr_textenc_train_defaults(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        double x;
        unsigned long long u;
        if (is_help(a)) {
            usage_train_textenc(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--resume")) o.resume = true;
        else if (!strcmp(a, "--quiet")) o.quiet = true;
        else if (!v) return cli_usage_error(cmd, "%s needs a value", a);
        else if (!strcmp(a, "--data")) o.data_dir = argv[++i];
        else if (!strcmp(a, "--tokenizer")) o.tokenizer_path = argv[++i];
        else if (!strcmp(a, "--out")) o.out_path = argv[++i];
        else if (!strcmp(a, "--steps")) { if (!cli_parse_long(cmd, a, argv[++i], 1, 100000000, &n)) return CLI_EXIT_USAGE; o.steps = n; }
        else if (!strcmp(a, "--batch")) { if (!cli_parse_long(cmd, a, argv[++i], 2, 1024, &n)) return CLI_EXIT_USAGE; o.batch = (int)n; }
        else if (!strcmp(a, "--lr")) { if (!cli_parse_float(cmd, a, argv[++i], 1e-7, 1.0, &x)) return CLI_EXIT_USAGE; o.lr = (float)x; }
        else if (!strcmp(a, "--seed")) { if (!cli_parse_u64(cmd, a, argv[++i], &u)) return CLI_EXIT_USAGE; o.seed = u; }
        else if (!strcmp(a, "--dim")) { if (!cli_parse_long(cmd, a, argv[++i], 8, 2048, &n)) return CLI_EXIT_USAGE; o.dim = (int)n; }
        else if (!strcmp(a, "--layers")) { if (!cli_parse_long(cmd, a, argv[++i], 1, 48, &n)) return CLI_EXIT_USAGE; o.layers = (int)n; }
        else if (!strcmp(a, "--heads")) { if (!cli_parse_long(cmd, a, argv[++i], 1, 64, &n)) return CLI_EXIT_USAGE; o.heads = (int)n; }
        else if (!strcmp(a, "--max-len")) { if (!cli_parse_long(cmd, a, argv[++i], 4, 512, &n)) return CLI_EXIT_USAGE; o.max_len = (int)n; }
        else if (!strcmp(a, "--proj")) { if (!cli_parse_long(cmd, a, argv[++i], 2, 2048, &n)) return CLI_EXIT_USAGE; o.proj_dim = (int)n; }
        else if (!strcmp(a, "--val-every")) { if (!cli_parse_long(cmd, a, argv[++i], 1, 1000000, &n)) return CLI_EXIT_USAGE; o.val_every = o.ckpt_every = (int)n; }
        else return cli_usage_error(cmd, "unknown option '%s'", a);
    }
    if (!o.data_dir || !o.tokenizer_path || !o.out_path)
        return cli_usage_error(cmd, "--data, --tokenizer and --out are required");
    if (o.dim % o.heads) return cli_usage_error(cmd, "--dim %d is not a multiple of --heads %d", o.dim, o.heads);
    dr_err err;
    dr_err_clear(&err);
    if (dr_textenc_train(&o, &err)) return cli_fail_err(cmd, &err);
    if (!o.quiet) fprintf(stderr, "wrote %s\n", o.out_path);
    return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- train interp */

static void usage_train_interp(FILE *f) {
    fprintf(f,
            "usage: director train interp --data DIR --tokenizer TOKENIZER.json --textenc TEXTENC.safetensors\n"
            "                             --out MODEL.safetensors [--no-text] [options]\n"
            "\n"
            "Train the pose diffusion interpolator (20 key frames -> 200 frames) on the train split,\n"
            "with ground-truth key frames and the frozen text encoder's token states. --no-text\n"
            "trains the ablation without the text condition (no --tokenizer / --textenc needed).\n"
            "Checkpoints go to MODEL.safetensors.ckpt; --resume continues from it.\n"
            "\n"
            "options:\n"
            "  --steps N        optimizer steps (default 4000)\n"
            "  --batch N        clips a step (default 32)\n"
            "  --lr X           peak learning rate (default 1e-3; warm-up 200 steps, cosine decay)\n"
            "  --seed N         seed of initialisation, batches, noise and condition drops (default 1)\n"
            "  --dim N --layers N --heads N --mlp N   sizes (128, 4, 4, 384)\n"
            "  --val-every N    validate and checkpoint every N steps (default 250)\n"
            "  --smooth-targets S  low-pass the training targets (Gaussian sigma S frames; the key\n"
            "                   frames stay raw)\n"
            "  --guide linear|spline  the guide the network corrects (default spline, Catmull-Rom)\n"
            "  --no-spectral    scalar (white-prior) skip path instead of the spectral one\n"
            "  --out-smooth S   Gaussian low-pass (sigma S frames) of the network output (default 1; 0 = off)\n"
            "  --resume         continue from the checkpoint if there is one\n"
            "  --quiet          no progress lines\n");
}

int dr_cmd_train_interp(int argc, char **argv) {
    const char *cmd = "train interp";
    dr_interp_train_opts o;
    dr_interp_train_defaults(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        double x;
        unsigned long long u;
        if (is_help(a)) {
            usage_train_interp(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--resume")) o.resume = true;
        else if (!strcmp(a, "--quiet")) o.quiet = true;
        else if (!strcmp(a, "--no-text")) o.no_text = true;
        else if (!strcmp(a, "--no-spectral")) o.spectral_skip = 0;
        else if (!v) return cli_usage_error(cmd, "%s needs a value", a);
        else if (!strcmp(a, "--guide")) {
            const char *g = argv[++i];
            if (!strcmp(g, "linear")) o.guide = DR_INTERP_GUIDE_LINEAR;
            else if (!strcmp(g, "spline")) o.guide = DR_INTERP_GUIDE_SPLINE;
            else return cli_usage_error(cmd, "--guide must be linear or spline, not '%s'", g);
        }
        else if (!strcmp(a, "--out-smooth")) { if (!cli_parse_float(cmd, a, argv[++i], 0, 25, &x)) return CLI_EXIT_USAGE; o.out_smooth = (float)x; }
        else if (!strcmp(a, "--data")) o.data_dir = argv[++i];
        else if (!strcmp(a, "--tokenizer")) o.tokenizer_path = argv[++i];
        else if (!strcmp(a, "--textenc")) o.textenc_path = argv[++i];
        else if (!strcmp(a, "--out")) o.out_path = argv[++i];
        else if (!strcmp(a, "--steps")) { if (!cli_parse_long(cmd, a, argv[++i], 1, 100000000, &n)) return CLI_EXIT_USAGE; o.steps = n; }
        else if (!strcmp(a, "--batch")) { if (!cli_parse_long(cmd, a, argv[++i], 1, 512, &n)) return CLI_EXIT_USAGE; o.batch = (int)n; }
        else if (!strcmp(a, "--lr")) { if (!cli_parse_float(cmd, a, argv[++i], 1e-7, 1.0, &x)) return CLI_EXIT_USAGE; o.lr = (float)x; }
        else if (!strcmp(a, "--seed")) { if (!cli_parse_u64(cmd, a, argv[++i], &u)) return CLI_EXIT_USAGE; o.seed = u; }
        else if (!strcmp(a, "--dim")) { if (!cli_parse_long(cmd, a, argv[++i], 8, 2048, &n)) return CLI_EXIT_USAGE; o.dim = (int)n; }
        else if (!strcmp(a, "--layers")) { if (!cli_parse_long(cmd, a, argv[++i], 1, 48, &n)) return CLI_EXIT_USAGE; o.layers = (int)n; }
        else if (!strcmp(a, "--heads")) { if (!cli_parse_long(cmd, a, argv[++i], 1, 64, &n)) return CLI_EXIT_USAGE; o.heads = (int)n; }
        else if (!strcmp(a, "--mlp")) { if (!cli_parse_long(cmd, a, argv[++i], 8, 16384, &n)) return CLI_EXIT_USAGE; o.mlp_dim = (int)n; }
        else if (!strcmp(a, "--smooth-targets")) { if (!cli_parse_float(cmd, a, argv[++i], 0, 50, &x)) return CLI_EXIT_USAGE; o.smooth_targets = (float)x; }
        else if (!strcmp(a, "--val-every")) { if (!cli_parse_long(cmd, a, argv[++i], 1, 1000000, &n)) return CLI_EXIT_USAGE; o.val_every = o.ckpt_every = (int)n; }
        else return cli_usage_error(cmd, "unknown option '%s'", a);
    }
    if (!o.data_dir || !o.out_path) return cli_usage_error(cmd, "--data and --out are required");
    if (!o.no_text && (!o.tokenizer_path || !o.textenc_path))
        return cli_usage_error(cmd, "--tokenizer and --textenc are required (or --no-text)");
    if (o.dim % o.heads) return cli_usage_error(cmd, "--dim %d is not a multiple of --heads %d", o.dim, o.heads);
    dr_err err;
    dr_err_clear(&err);
    if (dr_interp_train(&o, &err)) return cli_fail_err(cmd, &err);
    if (!o.quiet) fprintf(stderr, "wrote %s\n", o.out_path);
    return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- shared model loading */

typedef struct interp_models {
    dr_interp model;
    dr_textenc te;
    dr_tokenizer *tok;
    bool has_model, has_te;
} interp_models;

static int load_models(interp_models *im, const char *model, const char *textenc, const char *tokenizer, dr_err *err) {
    memset(im, 0, sizeof *im);
    int rc = dr_interp_load(&im->model, model, err);
    if (rc) return rc;
    im->has_model = true;
    if (im->model.cfg.text_dim > 0) {
        if ((rc = dr_textenc_load(&im->te, textenc, err))) return rc;
        im->has_te = true;
        if ((rc = dr_tokenizer_load(&im->tok, tokenizer, err))) return rc;
    }
    return DR_OK;
}

static void free_models(interp_models *im) {
    if (im->has_model) dr_interp_free(&im->model);
    if (im->has_te) dr_textenc_free(&im->te);
    dr_tokenizer_free(im->tok);
    memset(im, 0, sizeof *im);
}

/* ---------------------------------------------------------------- interp eval */

/* The truth low-passed with a Gaussian of sigma 2 frames (present neighbours only): the
 * synthetic detector jitter dominates raw frame-to-frame differences, so dynamics are also
 * scored against the motion underneath it. */
static void smooth_truth(const dr_pose *truth, dr_pose *out, int F) {
    float w[13];
    for (int d = -6; d <= 6; d++) w[d + 6] = expf(-0.5f * (float)(d * d) / 4.0f);
    for (int f = 0; f < F; f++)
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
            out[f].kp[j] = truth[f].kp[j];
            if (truth[f].kp[j].c <= 0) continue;
            float sx = 0, sy = 0, sw = 0;
            for (int d = -6; d <= 6; d++) {
                int g = f + d;
                if (g < 0 || g >= F || truth[g].kp[j].c <= 0) continue;
                sx += w[d + 6] * truth[g].kp[j].x;
                sy += w[d + 6] * truth[g].kp[j].y;
                sw += w[d + 6];
            }
            out[f].kp[j].x = sx / sw;
            out[f].kp[j].y = sy / sw;
        }
}

static void print_smooth_row(const char *name, const dr_motion_metrics *m) {
    printf("| %-28s | %7.2f | %6.3f | %6.3f | %6.3f | %6.3f |\n", name, m->pos_n ? m->pos_sum / m->pos_n : 0,
           m->vel_n ? m->vel_sum / m->vel_n : 0, m->acc_n ? m->acc_sum / m->acc_n : 0,
           m->jerr_n ? m->jerr_sum / m->jerr_n : 0, m->jerk_n ? m->jerk_sum / m->jerk_n : 0);
}

static void print_row(const char *name, const dr_motion_metrics *m, double ms) {
    printf("| %-28s | %7.2f | %6.3f | %6.3f | %6.3f | %6.3f | %6.3f | %6.2f | %6.2f | %6.4f |", name,
           m->pos_n ? m->pos_sum / m->pos_n : 0, m->vel_n ? m->vel_sum / m->vel_n : 0,
           m->acc_n ? m->acc_sum / m->acc_n : 0, m->jerr_n ? m->jerr_sum / m->jerr_n : 0,
           m->jerk_n ? m->jerk_sum / m->jerk_n : 0,
           m->slide_n ? m->slide_sum / m->slide_n : 0, m->bone_n ? 100.0 * m->bone_sum / m->bone_n : 0,
           m->kf_n ? m->kf_sum / m->kf_n : 0, m->pres_n ? m->pres_ok / m->pres_n : 0);
    if (ms > 0) printf(" %7.1f |\n", ms);
    else printf("       - |\n");
}

static int cmd_interp_eval(int argc, char **argv) {
    const char *cmd = "interp eval";
    const char *data = NULL, *model = DEFAULT_MODEL, *ablation = NULL, *textenc = DEFAULT_TEXTENC;
    const char *tokenizer = DEFAULT_TOKENIZER, *split = "test";
    dr_interp_opts defaults = dr_interp_default_opts();
    long clips = 100, steps = defaults.steps, t_min = defaults.t_min;
    double smooth_sigma = defaults.smooth;
    unsigned long long seed = 1;
    bool variants = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-variants")) {
            variants = false;
            continue;
        }
        if (is_help(a)) {
            printf("usage: director interp eval --data DIR [--model M] [--ablation M_NOTEXT] [--textenc T]\n"
                   "                            [--tokenizer TOK] [--split test] [--clips N] [--steps N] [--t-min N] [--smooth S] [--seed N]\n"
                   "                            [--no-variants]\n"
                   "\n"
                   "Densify the ground-truth key frames (every 10th frame) of the first N clips of a split\n"
                   "and compare with the true 200 frames: the interpolator (with and without key-frame\n"
                   "inpainting, and text guidance 2, unless --no-variants), linear interpolation, Catmull-Rom\n"
                   "splines, and the ablation model trained without text. Prints Markdown tables against the\n"
                   "raw truth and against the truth low-passed with a Gaussian of sigma 2 frames (the motion\n"
                   "under the detector jitter): position error (px), velocity, acceleration and jerk error\n"
                   "(differences of order 1..3 against the truth's, px/frame^k), the output's own jerk\n"
                   "(|third difference|, to compare with the reference row's), foot sliding (px/frame),\n"
                   "bone-length variation (%% of length), key-frame error (px), keypoint presence agreement,\n"
                   "sampling time. The defaults of --steps, --t-min and --smooth are the pipeline's.\n");
            return CLI_EXIT_OK;
        }
        if (!v) return cli_usage_error(cmd, "%s needs a value", a);
        i++;
        if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--ablation")) ablation = v;
        else if (!strcmp(a, "--textenc")) textenc = v;
        else if (!strcmp(a, "--tokenizer")) tokenizer = v;
        else if (!strcmp(a, "--split")) split = v;
        else if (!strcmp(a, "--clips")) { if (!cli_parse_long(cmd, a, v, 1, 1000000, &clips)) return CLI_EXIT_USAGE; }
        else if (!strcmp(a, "--steps")) { if (!cli_parse_long(cmd, a, v, 0, 100000, &steps)) return CLI_EXIT_USAGE; }
        else if (!strcmp(a, "--t-min")) { if (!cli_parse_long(cmd, a, v, 0, 100000, &t_min)) return CLI_EXIT_USAGE; }
        else if (!strcmp(a, "--smooth")) { if (!cli_parse_float(cmd, a, v, 0, 50, &smooth_sigma)) return CLI_EXIT_USAGE; }
        else if (!strcmp(a, "--seed")) { if (!cli_parse_u64(cmd, a, v, &seed)) return CLI_EXIT_USAGE; }
        else return cli_usage_error(cmd, "unknown option '%s'", a);
    }
    if (!data) return cli_usage_error(cmd, "--data is required");
    dr_err err;
    dr_err_clear(&err);
    dr_dataset ds;
    if (dr_dataset_open(&ds, data, split, &err)) return cli_fail_err(cmd, &err);
    interp_models im, ab;
    memset(&ab, 0, sizeof ab);
    int rc = CLI_EXIT_OK;
    if (load_models(&im, model, textenc, tokenizer, &err)) {
        rc = cli_fail_err(cmd, &err);
        free_models(&im);
        dr_dataset_close(&ds);
        return rc;
    }
    if (ablation && load_models(&ab, ablation, textenc, tokenizer, &err)) {
        rc = cli_fail_err(cmd, &err);
        goto done;
    }
    if (ds.num_frames != im.model.cfg.frames) {
        rc = cli_fail(cmd, "%s: clips have %d frames, the model %d", data, ds.num_frames, im.model.cfg.frames);
        goto done;
    }
    const int F = im.model.cfg.frames, K = im.model.cfg.num_keyframes;
    int n = (int)(clips < ds.num_clips ? clips : ds.num_clips);
    dr_motion_metrics m_truth = {0}, m_lin = {0}, m_int = {0}, m_noinp = {0}, m_abl = {0}, m_g2 = {0};
    dr_motion_metrics s_lin = {0}, s_int = {0}, s_noinp = {0}, s_abl = {0}, s_g2 = {0}, s_raw = {0};
    dr_motion_metrics m_cr = {0}, s_cr = {0}, s_ref = {0};
    double t_int = 0, t_abl = 0;
    dr_pose *out = malloc(sizeof(dr_pose) * (size_t)F), kf[DR_NUM_KEYFRAMES > 64 ? DR_NUM_KEYFRAMES : 64];
    dr_pose *smooth = malloc(sizeof(dr_pose) * (size_t)F);
    int idx[64];
    if (!out || !smooth || K > 64) {
        free(out);
        free(smooth);
        rc = cli_fail(cmd, "out of memory");
        goto done;
    }
    for (int k = 0; k < K; k++) idx[k] = (int)((long)k * F / K);
    dr_interp_opts o = dr_interp_default_opts();
    o.steps = (int)steps;
    o.t_min = (int)t_min;
    o.smooth = (float)smooth_sigma;
    dr_progress prog;
    dr_progress_begin(&prog, "interp eval", 0, n, false);
    for (int c = 0; c < n; c++) {
        const dr_pose *truth = dr_dataset_clip(&ds, c);
        for (int k = 0; k < K; k++) kf[k] = truth[idx[k]];
        o.seed = seed + (uint64_t)c;
        dr_motion_metrics_add(&m_truth, truth, truth, F, idx, K);
        smooth_truth(truth, smooth, F);
        dr_motion_metrics_add(&s_raw, truth, smooth, F, idx, K);
        dr_motion_metrics_add(&s_ref, smooth, smooth, F, idx, K);
        if (dr_interp_linear(kf, K, idx, F, ds.width, ds.height, out, &err)) goto fail;
        dr_motion_metrics_add(&m_lin, out, truth, F, idx, K);
        dr_motion_metrics_add(&s_lin, out, smooth, F, idx, K);
        if (dr_interp_catmull_rom(kf, K, idx, F, ds.width, ds.height, out, &err)) goto fail;
        dr_motion_metrics_add(&m_cr, out, truth, F, idx, K);
        dr_motion_metrics_add(&s_cr, out, smooth, F, idx, K);
        dr_textenc *te = im.has_te ? &im.te : NULL;
        double t0 = dr_now();
        o.inpaint = true;
        o.guidance_text = 1.0f;
        if (dr_interp_run_prompt(&im.model, te, im.tok, ds.prompt[c], kf, K, idx, ds.width, ds.height, &o, out, &err))
            goto fail;
        t_int += dr_now() - t0;
        dr_motion_metrics_add(&m_int, out, truth, F, idx, K);
        dr_motion_metrics_add(&s_int, out, smooth, F, idx, K);
        o.inpaint = false;
        if (variants && dr_interp_run_prompt(&im.model, te, im.tok, ds.prompt[c], kf, K, idx, ds.width, ds.height, &o, out, &err))
            goto fail;
        if (variants) {
            dr_motion_metrics_add(&m_noinp, out, truth, F, idx, K);
            dr_motion_metrics_add(&s_noinp, out, smooth, F, idx, K);
        }
        if (te && variants) {
            o.inpaint = true;
            o.guidance_text = 2.0f;
            if (dr_interp_run_prompt(&im.model, te, im.tok, ds.prompt[c], kf, K, idx, ds.width, ds.height, &o, out,
                                     &err))
                goto fail;
            dr_motion_metrics_add(&m_g2, out, truth, F, idx, K);
            dr_motion_metrics_add(&s_g2, out, smooth, F, idx, K);
            o.guidance_text = 1.0f;
        }
        if (ablation) {
            o.inpaint = true;
            t0 = dr_now();
            if (dr_interp_run(&ab.model, NULL, NULL, 0, kf, K, idx, ds.width, ds.height, &o, out, &err)) goto fail;
            t_abl += dr_now() - t0;
            dr_motion_metrics_add(&m_abl, out, truth, F, idx, K);
            dr_motion_metrics_add(&s_abl, out, smooth, F, idx, K);
        }
        dr_progress_update(&prog, c + 1, NULL);
        continue;
    fail:
        rc = cli_fail_err(cmd, &err);
        free(out);
        free(smooth);
        goto done;
    }
    dr_progress_end(&prog, NULL);
    printf("%d clips of %s/%s, key frames every %d frames, DDIM %ld steps down to t = %ld, seed %llu\n\n", n, data,
           split, F / K, steps, t_min, seed);
    printf("| method                       | pos px  | vel    | acc    | jerk err | jerk | slide  | bone %% | kf px  | pres   | ms/clip |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
    print_row("ground truth (reference)", &m_truth, 0);
    print_row("linear interpolation", &m_lin, 0);
    print_row("Catmull-Rom spline", &m_cr, 0);
    print_row("interpolator", &m_int, 1000.0 * t_int / n);
    if (variants) print_row("interpolator, no inpainting", &m_noinp, 0);
    if (im.has_te && variants) print_row("interpolator, text guidance 2", &m_g2, 0);
    if (ablation) print_row("interpolator without text", &m_abl, 1000.0 * t_abl / n);
    printf("\nagainst the truth smoothed with a Gaussian of sigma 2 frames (the motion under the detector jitter)\n\n");
    printf("| method                       | pos px  | vel    | acc    | jerk err | jerk |\n|---|---|---|---|---|---|\n");
    print_smooth_row("smoothed truth (reference)", &s_ref);
    print_smooth_row("ground truth (raw)", &s_raw);
    print_smooth_row("linear interpolation", &s_lin);
    print_smooth_row("Catmull-Rom spline", &s_cr);
    print_smooth_row("interpolator", &s_int);
    if (variants) print_smooth_row("interpolator, no inpainting", &s_noinp);
    if (im.has_te && variants) print_smooth_row("interpolator, text guidance 2", &s_g2);
    if (ablation) print_smooth_row("interpolator without text", &s_abl);
    free(out);
    free(smooth);
done:
    free_models(&im);
    free_models(&ab);
    dr_dataset_close(&ds);
    return rc;
}

/* ---------------------------------------------------------------- interp */

static void usage_interp(FILE *f) {
    fprintf(f,
            "usage: director interp KEYFRAMES.json [--prompt TEXT] --out POSES.json [options]\n"
            "       director interp eval --data DIR ...   (see director interp eval --help)\n"
            "\n"
            "Densify 20 key-frame poses into 200 frames at 30 fps with the pose diffusion model.\n"
            "KEYFRAMES.json is a director pose sequence with exactly 20 frames (taken as frames\n"
            "0, 10, ..., 190), or a longer sequence whose \"keyframes\" lists 20 frame indices.\n"
            "The prompt defaults to the sequence's own \"prompt\".\n"
            "\n"
            "options:\n"
            "  --model M          interpolator (default " DEFAULT_MODEL ")\n"
            "  --textenc T        text encoder (default " DEFAULT_TEXTENC ")\n"
            "  --tokenizer TOK    tokenizer (default " DEFAULT_TOKENIZER ")\n"
            "  --steps N          DDIM steps; 0 = ancestral DDPM over every step (default 10)\n"
            "  --guidance-kf X    key-frame guidance scale (default 1)\n"
            "  --guidance-text X  text guidance scale (default 1)\n"
            "  --seed N           sampling seed (default 0)\n"
            "  --t-min N          stop the chain at noise level N (default 300; 0 = the full chain)\n"
            "  --smooth S         Gaussian sigma in frames on the model's correction of its guide\n"
            "                     (default 2; 0 = off)\n"
            "  --no-inpaint       do not pin the key-frame coordinates during sampling\n"
            "  --linear           linear interpolation instead of the model (the ablation)\n");
}

int dr_cmd_interp(int argc, char **argv) {
    const char *cmd = "interp";
    if (argc >= 2 && !strcmp(argv[1], "eval")) return cmd_interp_eval(argc - 1, argv + 1);
    const char *in = NULL, *outp = NULL, *prompt = NULL, *model = DEFAULT_MODEL, *textenc = DEFAULT_TEXTENC;
    const char *tokenizer = DEFAULT_TOKENIZER;
    bool linear = false;
    dr_interp_opts o = dr_interp_default_opts();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        double x;
        unsigned long long u;
        if (is_help(a)) {
            usage_interp(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--no-inpaint")) o.inpaint = false;
        else if (!strcmp(a, "--linear")) linear = true;
        else if (a[0] != '-' || !a[1]) {
            if (in) return cli_usage_error(cmd, "more than one input (%s, %s)", in, a);
            in = a;
        } else if (!v) return cli_usage_error(cmd, "%s needs a value", a);
        else if (!strcmp(a, "--out")) outp = argv[++i];
        else if (!strcmp(a, "--prompt")) prompt = argv[++i];
        else if (!strcmp(a, "--model")) model = argv[++i];
        else if (!strcmp(a, "--textenc")) textenc = argv[++i];
        else if (!strcmp(a, "--tokenizer")) tokenizer = argv[++i];
        else if (!strcmp(a, "--steps")) { if (!cli_parse_long(cmd, a, argv[++i], 0, 100000, &n)) return CLI_EXIT_USAGE; o.steps = (int)n; }
        else if (!strcmp(a, "--guidance-kf")) { if (!cli_parse_float(cmd, a, argv[++i], -100, 100, &x)) return CLI_EXIT_USAGE; o.guidance_kf = (float)x; }
        else if (!strcmp(a, "--guidance-text")) { if (!cli_parse_float(cmd, a, argv[++i], -100, 100, &x)) return CLI_EXIT_USAGE; o.guidance_text = (float)x; }
        else if (!strcmp(a, "--seed")) { if (!cli_parse_u64(cmd, a, argv[++i], &u)) return CLI_EXIT_USAGE; o.seed = u; }
        else if (!strcmp(a, "--t-min")) { if (!cli_parse_long(cmd, a, argv[++i], 0, 100000, &n)) return CLI_EXIT_USAGE; o.t_min = (int)n; }
        else if (!strcmp(a, "--smooth")) { if (!cli_parse_float(cmd, a, argv[++i], 0, 50, &x)) return CLI_EXIT_USAGE; o.smooth = (float)x; }
        else return cli_usage_error(cmd, "unknown option '%s'", a);
    }
    if (!in || !outp) return cli_usage_error(cmd, "an input KEYFRAMES.json and --out are required");
    dr_err err;
    dr_err_clear(&err);
    dr_pose_seq seq, res;
    memset(&res, 0, sizeof res);
    if (dr_seq_read_json(in, &seq, &err)) return cli_fail_err(cmd, &err);
    int rc = CLI_EXIT_OK;
    interp_models im;
    memset(&im, 0, sizeof im);
    const int F = DR_CLIP_FRAMES, K = DR_NUM_KEYFRAMES;
    dr_pose kf[DR_NUM_KEYFRAMES];
    int idx[DR_NUM_KEYFRAMES];
    /* the key frames: a 20-frame sequence, or 20 listed key-frame indices */
    if (seq.num_keyframes > 0) {
        if (seq.num_keyframes != K) {
            rc = cli_fail(cmd, "%s: expected %d key frames, the sequence lists %d", in, K, seq.num_keyframes);
            goto done;
        }
        for (int k = 0; k < K; k++) {
            int f = seq.keyframes[k];
            if (f < 0 || f >= seq.num_frames || (k > 0 && f <= seq.keyframes[k - 1])) {
                rc = cli_fail(cmd, "%s: key frame %d at frame %d is out of order or outside the %d frames", in, k, f,
                              seq.num_frames);
                goto done;
            }
            kf[k] = seq.frames[f];
            /* indices on the 200-frame clock: as given when the sequence is a full clip, else spread */
            idx[k] = seq.num_frames == F ? f : (int)((long)f * F / seq.num_frames);
        }
    } else if (seq.num_frames == K) {
        for (int k = 0; k < K; k++) {
            kf[k] = seq.frames[k];
            idx[k] = k * (F / K);
        }
    } else {
        rc = cli_fail(cmd, "%s: expected %d key frames (a %d-frame sequence, or a sequence listing %d key-frame "
                           "indices), got %d frames and no key-frame list",
                      in, K, K, K, seq.num_frames);
        goto done;
    }
    if (!prompt) prompt = seq.prompt;
    if (dr_pose_seq_alloc(&res, F, (float)DR_CLIP_FPS, seq.width, seq.height)) {
        rc = cli_fail(cmd, "out of memory");
        goto done;
    }
    if (linear) {
        if (dr_interp_linear(kf, K, idx, F, seq.width, seq.height, res.frames, &err)) goto fail;
    } else {
        if (load_models(&im, model, textenc, tokenizer, &err)) goto fail;
        if (im.model.cfg.frames != F || im.model.cfg.num_keyframes != K) {
            rc = cli_fail(cmd, "%s: model for %d key frames -> %d frames; this command uses %d -> %d", model,
                          im.model.cfg.num_keyframes, im.model.cfg.frames, K, F);
            goto done;
        }
        if (dr_interp_run_prompt(&im.model, im.has_te ? &im.te : NULL, im.tok, prompt, kf, K, idx, seq.width,
                                 seq.height, &o, res.frames, &err))
            goto fail;
    }
    if (prompt && dr_pose_seq_set_prompt(&res, prompt)) {
        rc = cli_fail(cmd, "out of memory");
        goto done;
    }
    res.keyframes = malloc(sizeof(int) * K);
    if (!res.keyframes) {
        rc = cli_fail(cmd, "out of memory");
        goto done;
    }
    memcpy(res.keyframes, idx, sizeof(int) * K);
    res.num_keyframes = K;
    if (dr_seq_write_json(outp, &res, &err)) goto fail;
    goto done;
fail:
    rc = cli_fail_err(cmd, &err);
done:
    free_models(&im);
    dr_pose_seq_free(&seq);
    dr_pose_seq_free(&res);
    return rc;
}
