/* cmd_rvq.c - `director train rvq` and `director rvq encode|decode|eval`: the pose tokenizer
 * from the command line (model: src/models/rvq.h). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/fsutil.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "core/rng.h"
#include "eval/rate_distortion.h"
#include "models/rvq.h"
#include "nn/optim.h"
#include "pose/dataset.h"
#include "pose/seqio.h"

/* ------------------------------------------------------------------------------------ */
/* shared helpers                                                                       */

/* Key frames of clips [first, first + count) of a dataset into out[count * 20]. */
static void dataset_keyframes(const dr_dataset *ds, int first, int count, dr_pose *out) {
    for (int i = 0; i < count; i++) dr_rvq_keyframes_of_clip(dr_dataset_clip(ds, first + i), out + (size_t)i * DR_NUM_KEYFRAMES);
}

static int open_split(const char *cmd, dr_dataset *ds, const char *dir, const char *split) {
    dr_err err = {0};
    if (dr_dataset_open(ds, dir, split, &err)) return cli_fail_err(cmd, &err);
    if (ds->num_frames < (DR_NUM_KEYFRAMES - 1) * DR_KEYFRAME_STRIDE + 1) {
        int n = ds->num_frames;
        dr_dataset_close(ds);
        return cli_fail(cmd, "%s/%s: clips of %d frames are too short for %d key frames every %d frames", dir, split,
                        n, DR_NUM_KEYFRAMES, DR_KEYFRAME_STRIDE);
    }
    if (ds->num_clips < 1) {
        dr_dataset_close(ds);
        return cli_fail(cmd, "%s/%s: the split holds no clips", dir, split);
    }
    return CLI_EXIT_OK;
}

/* Mean key-frame error (pixels, all levels) over up to max_clips clips of a dataset split;
 * clean (may be NULL) is the same split without detector noise, to measure against too. */
static int evaluate_dataset(dr_rvq *m, const dr_dataset *ds, const dr_dataset *clean, int max_clips, dr_rvq_eval *ev,
                            dr_err *err) {
    enum { CHUNK = 256 };
    int rc = dr_rvq_eval_init(ev, m);
    if (rc) return dr_err_set(err, rc, "rvq eval: out of memory");
    dr_pose *kf = malloc(sizeof(dr_pose) * CHUNK * DR_NUM_KEYFRAMES * 2);
    if (!kf) {
        dr_rvq_eval_free(ev);
        return dr_err_set(err, DR_ENOMEM, "rvq eval: out of memory");
    }
    dr_pose *ref = clean ? kf + CHUNK * DR_NUM_KEYFRAMES : NULL;
    const int n = max_clips > 0 && max_clips < ds->num_clips ? max_clips : ds->num_clips;
    for (int i = 0; i < n && !rc; i += CHUNK) {
        int c = n - i < CHUNK ? n - i : CHUNK;
        dataset_keyframes(ds, i, c, kf);
        if (ref) dataset_keyframes(clean, i, c, ref);
        rc = dr_rvq_eval_batch(m, kf, ref, c, ds->width, ds->height, ev, err);
    }
    free(kf);
    if (rc) dr_rvq_eval_free(ev);
    return rc;
}

static void print_eval(FILE *f, const dr_rvq_eval *ev, const char *what) {
    fprintf(f, "%s: %ld key frames, %ld present keypoints\n", what, ev->keypoints / DR_NUM_KEYPOINTS, ev->joints);
    fprintf(f, "  levels  error_px  presence_acc\n");
    for (int l = 1; l <= ev->depth; l++)
        fprintf(f, "  %6d  %8.3f  %12.5f\n", l, dr_rvq_eval_error_px(ev, l), dr_rvq_eval_presence_acc(ev, l));
    if (ev->ref_joints > 0) {
        fprintf(f, "  against the clean twin (%ld keypoints present in both): noisy input %.3f px\n", ev->ref_joints,
                dr_rvq_eval_ref_error_px(ev, 0));
        fprintf(f, "  levels  clean_error_px\n");
        for (int l = 1; l <= ev->depth; l++) fprintf(f, "  %6d  %14.3f\n", l, dr_rvq_eval_ref_error_px(ev, l));
    }
    fprintf(f, "  level  perplexity  used_codes/%d\n", ev->codebook_size);
    for (int l = 0; l < ev->depth; l++)
        fprintf(f, "  %5d  %10.1f  %10d\n", l + 1, dr_rvq_eval_perplexity(ev, l), dr_rvq_eval_used_codes(ev, l));
}

/* ------------------------------------------------------------------------------------ */
/* director train rvq                                                                   */

static void train_usage(FILE *f) {
    fprintf(f,
            "usage: director train rvq --data DIR --out MODEL.safetensors [options]\n"
            "\n"
            "Train the residual VQ-VAE pose tokenizer on the key frames (0, 10, ..., 190) of the\n"
            "clips in DIR/train, validating on DIR/val. Checkpoints go to MODEL.ckpt.safetensors.\n"
            "\n"
            "model (ignored with --resume, which keeps the checkpoint's):\n"
            "  --depth N            codebooks (default 6)\n"
            "  --codes N            codes per codebook (default 512)\n"
            "  --dim N              latent / code size (default 64)\n"
            "  --channels N         convolution width (default 192)\n"
            "  --blocks LIST        residual blocks of each stack, by dilation: d > 0 is a kernel-2\n"
            "                       convolution reaching d key frames, 0 a pointwise block (default\n"
            "                       1,2,4; the receptive field is 1 + the sum: 8)\n"
            "training:\n"
            "  --steps N            optimizer steps (default 3000)\n"
            "  --batch N            clips per step (default 256)\n"
            "  --lr X               peak learning rate (default 1e-3), warm-up then cosine to lr/20\n"
            "  --warmup N           warm-up steps (default 200)\n"
            "  --weight-decay X     AdamW weight decay (default 0)\n"
            "  --commit X           commitment loss weight (default 0.02)\n"
            "  --presence X         presence BCE weight (default 0.1)\n"
            "  --ema-decay X        codebook EMA decay (default 0.99)\n"
            "  --dead X             EMA count below which a code is re-seeded (default 0.5)\n"
            "  --padding P          causal (default: key frame t sees key frames <= t) or same\n"
            "                       (a centred window)\n"
            "  --qdropout X         probability of training a clip with random 1..depth levels (default 0.5)\n"
            "  --no-mirror          no random left/right mirroring of clips\n"
            "  --seed N             seed of initialisation, batches and augmentation (default 1)\n"
            "  --resume CKPT        continue from a checkpoint\n"
            "  --init MODEL         start from a trained model's weights and codebooks (a new run:\n"
            "                       fresh optimizer and schedule; its architecture, not the options')\n"
            "  --ckpt-every N       steps between checkpoints (default 500)\n"
            "  --eval-every N       steps between validations (default 250)\n"
            "  --val-clips N        validation clips (default 1024; 0 = all)\n"
            "  --threads N          threads (default: all cores)\n"
            "  --quiet              no progress lines\n");
}

/* --blocks 1,0,2,0,4,0: the dilation of each residual block, 0 for a pointwise one. */
static int parse_blocks(const char *cmd, const char *v, dr_rvq_config *cfg) {
    int n = 0;
    for (const char *p = v;;) {
        char *end;
        long d = strtol(p, &end, 10);
        if (end == p || d < 0 || d > DR_RVQ_MAX_DILATION || n == DR_RVQ_MAX_BLOCKS)
            return cli_usage_error(cmd, "--blocks wants 1 to %d dilations in [0, %d] separated by commas, not '%s'",
                                   DR_RVQ_MAX_BLOCKS, DR_RVQ_MAX_DILATION, v);
        cfg->dilation[n++] = (int)d;
        if (*end == '\0') break;
        if (*end != ',') return cli_usage_error(cmd, "--blocks: unexpected '%c' in '%s'", *end, v);
        p = end + 1;
    }
    cfg->num_blocks = n;
    return CLI_EXIT_OK;
}

typedef struct train_args {
    const char *data, *out, *resume, *init;
    dr_rvq_config cfg;
    dr_rvq_train_opts opts;
    long steps, batch, warmup, ckpt_every, eval_every, val_clips, threads;
    unsigned long long seed;
    bool mirror, quiet;
} train_args;

static int parse_train_args(int argc, char **argv, train_args *a) {
    const char *cmd = "train rvq";
    a->cfg = dr_rvq_default_config();
    a->opts = dr_rvq_default_train_opts();
    a->steps = 3000;
    a->batch = 256;
    a->warmup = 200;
    a->ckpt_every = 500;
    a->eval_every = 250;
    a->val_clips = 1024;
    a->seed = 1;
    a->mirror = true;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long l;
        double d;
#define NEED_VALUE                                                         \
    do {                                                                   \
        if (!v) return cli_usage_error(cmd, "%s needs a value", o);        \
        i++;                                                               \
    } while (0)
#define LONG_OPT(name, lo, hi, dst)                                          \
    if (!strcmp(o, name)) {                                                  \
        NEED_VALUE;                                                          \
        if (!cli_parse_long(cmd, o, v, lo, hi, &l)) return CLI_EXIT_USAGE;   \
        dst = l;                                                             \
        continue;                                                            \
    }
#define FLOAT_OPT(name, lo, hi, dst)                                          \
    if (!strcmp(o, name)) {                                                   \
        NEED_VALUE;                                                           \
        if (!cli_parse_float(cmd, o, v, lo, hi, &d)) return CLI_EXIT_USAGE;   \
        dst = (float)d;                                                       \
        continue;                                                             \
    }
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            train_usage(stdout);
            return -1;
        }
        if (!strcmp(o, "--data")) { NEED_VALUE; a->data = v; continue; }
        if (!strcmp(o, "--out")) { NEED_VALUE; a->out = v; continue; }
        if (!strcmp(o, "--resume")) { NEED_VALUE; a->resume = v; continue; }
        if (!strcmp(o, "--init")) { NEED_VALUE; a->init = v; continue; }
        if (!strcmp(o, "--seed")) {
            NEED_VALUE;
            if (!cli_parse_u64(cmd, o, v, &a->seed)) return CLI_EXIT_USAGE;
            continue;
        }
        if (!strcmp(o, "--no-mirror")) { a->mirror = false; continue; }
        if (!strcmp(o, "--padding")) {
            NEED_VALUE;
            if (strcmp(v, "causal") && strcmp(v, "same"))
                return cli_usage_error(cmd, "--padding must be causal or same, not '%s'", v);
            a->cfg.causal = !strcmp(v, "causal");
            continue;
        }
        if (!strcmp(o, "--blocks")) {
            NEED_VALUE;
            if (parse_blocks(cmd, v, &a->cfg)) return CLI_EXIT_USAGE;
            continue;
        }
        if (!strcmp(o, "--quiet")) { a->quiet = true; continue; }
        LONG_OPT("--depth", 1, DR_RVQ_MAX_DEPTH, a->cfg.depth)
        LONG_OPT("--codes", 2, 65536, a->cfg.codebook_size)
        LONG_OPT("--dim", 1, 4096, a->cfg.dim)
        LONG_OPT("--channels", 1, 8192, a->cfg.channels)
        LONG_OPT("--steps", 1, 100000000, a->steps)
        LONG_OPT("--batch", 1, 65536, a->batch)
        LONG_OPT("--warmup", 0, 100000000, a->warmup)
        LONG_OPT("--ckpt-every", 1, 100000000, a->ckpt_every)
        LONG_OPT("--eval-every", 1, 100000000, a->eval_every)
        LONG_OPT("--val-clips", 0, 100000000, a->val_clips)
        LONG_OPT("--threads", 0, 4096, a->threads)
        FLOAT_OPT("--lr", 1e-7, 1.0, a->opts.lr)
        FLOAT_OPT("--weight-decay", 0.0, 10.0, a->opts.weight_decay)
        FLOAT_OPT("--commit", 0.0, 100.0, a->opts.commit_beta)
        FLOAT_OPT("--presence", 0.0, 100.0, a->opts.presence_weight)
        FLOAT_OPT("--ema-decay", 0.0, 0.99999, a->opts.ema_decay)
        FLOAT_OPT("--dead", 0.0, 1e6, a->opts.dead_threshold)
        FLOAT_OPT("--qdropout", 0.0, 1.0, a->opts.quantizer_dropout)
        return cli_usage_error(cmd, "unknown option '%s'", o);
#undef NEED_VALUE
#undef LONG_OPT
#undef FLOAT_OPT
    }
    if (!a->data) return cli_usage_error(cmd, "--data DIR is required");
    if (!a->out) return cli_usage_error(cmd, "--out MODEL.safetensors is required");
    if (a->resume && a->init) return cli_usage_error(cmd, "--resume and --init exclude each other");
    return CLI_EXIT_OK;
}

/* The clip order of an epoch: a permutation drawn from the seed and the epoch number, so a
 * resumed run sees exactly the batches the uninterrupted run would have seen. */
static void epoch_order(int *order, int n, uint64_t seed, long epoch) {
    for (int i = 0; i < n; i++) order[i] = i;
    dr_rng rng = dr_rng_fork(seed ^ 0x6f72646572ULL, (uint64_t)epoch);
    dr_rng_shuffle(&rng, order, n);
}

int dr_cmd_train_rvq(int argc, char **argv) {
    const char *cmd = "train rvq";
    train_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_train_args(argc, argv, &a);
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
    if (a.threads > 0) dr_set_threads((int)a.threads);
    char ckpt_path[4096];
    if (snprintf(ckpt_path, sizeof ckpt_path, "%s", a.out) >= (int)sizeof ckpt_path - 32)
        return cli_usage_error(cmd, "--out path is too long");
    char *dot = strrchr(ckpt_path, '.');
    if (dot && !strcmp(dot, ".safetensors")) *dot = '\0';
    strcat(ckpt_path, ".ckpt.safetensors");

    dr_dataset train, val;
    if ((rc = open_split(cmd, &train, a.data, "train"))) return rc;
    if ((rc = open_split(cmd, &val, a.data, "val"))) {
        dr_dataset_close(&train);
        return rc;
    }
    dr_err err = {0};
    dr_rvq *m = NULL;
    long start_step = 0;
    if (a.resume) {
        char *state = NULL;
        if (dr_rvq_load_checkpoint(&m, a.resume, &start_step, &state, &err)) goto fail;
        free(state); /* the batch order and augmentation follow from the seed and the step */
        a.cfg = *dr_rvq_get_config(m);
        if (start_step >= a.steps) {
            fprintf(stderr, "train rvq: checkpoint is at step %ld of %ld; saving the model\n", start_step, a.steps);
        }
    } else if (a.init) {
        if (dr_rvq_load(&m, a.init, &err)) goto fail;
        a.cfg = *dr_rvq_get_config(m);
    } else if (dr_rvq_create(&m, &a.cfg, a.seed, &err)) {
        goto fail;
    }
    const int B = (int)a.batch, T = DR_NUM_KEYFRAMES;
    dr_pose *kf = malloc(sizeof(dr_pose) * (size_t)B * T);
    int *order = malloc(sizeof(int) * (size_t)train.num_clips);
    if (!kf || !order) {
        free(kf);
        free(order);
        dr_err_set(&err, DR_ENOMEM, "out of memory");
        goto fail;
    }
    if (!a.quiet)
        fprintf(stderr,
                "train rvq: %d train / %d val clips, depth %d x %d codes, dim %d, channels %d, %d blocks, receptive field "
                "%d key frames, %s padding, %ld weights, batch %d, %ld steps, lr %g, seed %llu, %d threads\n",
                train.num_clips, val.num_clips, a.cfg.depth, a.cfg.codebook_size, a.cfg.dim, a.cfg.channels,
                a.cfg.num_blocks, dr_rvq_receptive_field(&a.cfg), a.cfg.causal ? "causal" : "same",
                dr_rvq_num_weights(m), B, a.steps, (double)a.opts.lr, a.seed, dr_get_threads());
    dr_progress prog;
    dr_progress_begin(&prog, "train rvq", start_step, a.steps, a.quiet);
    prog.min_interval = 5.0;
    long cur_epoch = -1;
    double val_px = -1, ema_px = -1;
    char extra[512];
    for (long step = start_step + 1; step <= a.steps; step++) {
        /* batch: clips (step-1)*B .. step*B-1 of the endless sequence of shuffled epochs */
        dr_rng rng = dr_rng_fork(a.seed, (uint64_t)step);
        for (int j = 0; j < B; j++) {
            long i = (step - 1) * (long)B + j, epoch = i / train.num_clips;
            if (epoch != cur_epoch) {
                epoch_order(order, train.num_clips, a.seed, epoch);
                cur_epoch = epoch;
            }
            int clip = order[i % train.num_clips];
            dr_pose *dst = kf + (size_t)j * T;
            dr_rvq_keyframes_of_clip(dr_dataset_clip(&train, clip), dst);
            if (a.mirror && dr_rng_uniform(&rng) < 0.5f)
                for (int t = 0; t < T; t++) dr_pose_mirror(&dst[t], train.width);
        }
        dr_rvq_train_opts o = a.opts;
        o.lr = dr_lr_schedule(step, a.warmup, a.steps, a.opts.lr, a.opts.lr * 0.05f);
        dr_rvq_stats st;
        if (dr_rvq_train_step(m, kf, B, train.width, train.height, &o, step, &rng, &st, &err)) break;
        ema_px = ema_px < 0 ? st.recon_px : 0.95 * ema_px + 0.05 * st.recon_px;
        if (step % a.eval_every == 0 || step == a.steps) {
            dr_rvq_eval ev;
            if (evaluate_dataset(m, &val, NULL, (int)a.val_clips, &ev, &err)) break;
            val_px = dr_rvq_eval_error_px(&ev, a.cfg.depth);
            dr_rvq_eval_free(&ev);
        }
        int n = snprintf(extra, sizeof extra, "loss %.5f  rec_px %.2f  val_px %.2f  pres %.4f  ppl", st.loss, ema_px,
                         val_px, st.presence_acc);
        int dead = 0;
        for (int l = 0; l < a.cfg.depth && n < (int)sizeof extra - 16; l++) {
            n += snprintf(extra + n, sizeof extra - (size_t)n, "%s%.0f", l ? "/" : " ", st.perplexity[l]);
            dead += st.dead[l];
        }
        snprintf(extra + n, sizeof extra - (size_t)n, "  dead %d  lr %.2e", dead, (double)o.lr);
        dr_progress_update(&prog, step, extra);
        if (step % a.ckpt_every == 0 && step < a.steps) {
            char state[128];
            snprintf(state, sizeof state, "{\"seed\":%llu,\"batch\":%d}", a.seed, B);
            if (dr_rvq_save_checkpoint(m, ckpt_path, step, state, &err)) break;
        }
    }
    free(kf);
    free(order);
    if (err.code) goto fail;
    dr_progress_end(&prog, extra);
    if (dr_rvq_save(m, a.out, &err)) goto fail;
    {
        char state[128];
        snprintf(state, sizeof state, "{\"seed\":%llu,\"batch\":%d}", a.seed, B);
        if (dr_rvq_save_checkpoint(m, ckpt_path, a.steps, state, &err)) goto fail;
    }
    if (!a.quiet) {
        dr_rvq_eval ev;
        if (evaluate_dataset(m, &val, NULL, (int)a.val_clips, &ev, &err)) goto fail;
        print_eval(stderr, &ev, "validation");
        dr_rvq_eval_free(&ev);
        fprintf(stderr, "train rvq: saved %s (checkpoint %s)\n", a.out, ckpt_path);
    }
    dr_rvq_free(m);
    dr_dataset_close(&train);
    dr_dataset_close(&val);
    return CLI_EXIT_OK;
fail:
    dr_rvq_free(m);
    dr_dataset_close(&train);
    dr_dataset_close(&val);
    return cli_fail_err(cmd, &err);
}

/* ------------------------------------------------------------------------------------ */
/* director rvq encode | decode | eval                                                  */

static void rvq_usage(FILE *f) {
    fprintf(f,
            "usage: director rvq encode IN --model M --out TOKENS.json [--split S] [--clip I] [--start F] [--beam N]\n"
            "       director rvq decode TOKENS.json --model M --out POSES.json [--levels N] [--width W] [--height H]\n"
            "       director rvq eval --model M (--data DIR [--split test] [--clips N] [--clean DIR] | --input IN [--stride F])\n"
            "                         [--beam N]\n"
            "       director rvq bound --data DIR [--split train] [--clips N] [--window W] [--relative centre|box]\n"
            "                          [--model M [--beam N]]\n"
            "\n"
            "  encode  the 20 key frames of a clip -> 20 x depth pose tokens. IN is any pose input\n"
            "          (director pose sequence, OpenPose JSON, BVH, a dataset folder with --split/--clip).\n"
            "          A 20-frame input is taken as the key frames themselves; a longer one gives frames\n"
            "          F, F+10, ..., F+190 (F = --start, default 0).\n"
            "  decode  tokens -> a director pose sequence of the 20 key frames (3 fps: one every 10\n"
            "          frames of a 30 fps clip), decoding with the first N levels (default: all).\n"
            "  eval    key-frame reconstruction error (pixels, mean per-joint over present keypoints)\n"
            "          decoding with 1..depth levels, presence accuracy and per-level codebook\n"
            "          perplexity, on a dataset split (default test) or on every 200-frame window of\n"
            "          a long pose input (windows start every --stride frames, default 200).\n"
            "          --clean DIR: the same dataset made without detector noise (director data synth\n"
            "          --detector-noise 0, same seed and clip count); the reconstructions of the noisy\n"
            "          key frames are then also measured against the clean ones, beside the noise itself.\n"
            "  --model M defaults to models/rvq.safetensors (bound: no model unless given).\n"
            "\n"
            "  bound   what the data allows: the Gaussian rate-distortion reference of key-frame poses\n"
            "          (eval/rate_distortion.h) at 9 .. 108 bits per key frame, from the covariance of\n"
            "          windows of W consecutive key frames (default 1) with every keypoint present,\n"
            "          and the bits per key frame it needs for a given error. With --model, the\n"
            "          tokenizer's error on the same complete key frames, for comparison.\n"
            "          --relative centre: each key frame minus the centre of its bounding box, as if the\n"
            "          box were coded apart at no cost (the paper's LLM writes boxes beside the poses);\n"
            "          box: also scaled to a common box height. Errors stay in pixels of the canvas.\n"
            "\n"
            "  --beam N  encode with a beam search N wide over the levels (default 1: level by level,\n"
            "            as in training); a wider beam finds code sums nearer the encoder's latent.\n");
}

/* Simple "--opt value" parsing shared by the rvq subcommands. */
typedef struct sub_opts {
    const char *input, *model, *out, *data, *split, *in_path, *clean, *relative;
    long clip, start, levels, width, height, clips, stride, beam, window;
} sub_opts;

static int parse_sub(const char *cmd, int argc, char **argv, bool want_positional, sub_opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            rvq_usage(stdout);
            return -1;
        }
        if (a[0] != '-' || !a[1]) {
            if (!want_positional || o->input) return cli_usage_error(cmd, "unexpected argument '%s'", a);
            o->input = a;
            continue;
        }
        if (!v) return cli_usage_error(cmd, "%s needs a value", a);
        i++;
        long *num = NULL, lo = 0, hi = 100000000;
        if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--out")) o->out = v;
        else if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--clean")) o->clean = v;
        else if (!strcmp(a, "--split")) o->split = v;
        else if (!strcmp(a, "--relative")) o->relative = v;
        else if (!strcmp(a, "--input")) o->in_path = v;
        else if (!strcmp(a, "--clip")) num = &o->clip;
        else if (!strcmp(a, "--start")) num = &o->start;
        else if (!strcmp(a, "--clips")) num = &o->clips;
        else if (!strcmp(a, "--stride")) num = &o->stride, lo = 1;
        else if (!strcmp(a, "--levels")) num = &o->levels, lo = 1, hi = DR_RVQ_MAX_DEPTH;
        else if (!strcmp(a, "--beam")) num = &o->beam, lo = 1, hi = 4096;
        else if (!strcmp(a, "--window")) num = &o->window, lo = 1, hi = DR_NUM_KEYFRAMES;
        else if (!strcmp(a, "--width")) num = &o->width, lo = 16, hi = 16384;
        else if (!strcmp(a, "--height")) num = &o->height, lo = 16, hi = 16384;
        else return cli_usage_error(cmd, "unknown option '%s'", a);
        if (num && !cli_parse_long(cmd, a, v, lo, hi, num)) return CLI_EXIT_USAGE;
    }
    if (!o->model && strcmp(cmd, "rvq bound")) o->model = "models/rvq.safetensors";
    if (!o->beam) o->beam = 1;
    return CLI_EXIT_OK;
}

/* The model of --model, encoding with the beam of --beam; *m is NULL on failure. */
static int load_model(const sub_opts *o, dr_rvq **m, dr_err *err) {
    int rc = dr_rvq_load(m, o->model, err);
    if (!rc && (rc = dr_rvq_set_beam(*m, (int)o->beam, err))) {
        dr_rvq_free(*m);
        *m = NULL;
    }
    return rc;
}

static int read_poses(const char *cmd, const char *path, const sub_opts *o, dr_pose_seq *seq) {
    dr_pose_read_opts ro;
    dr_pose_read_opts_init(&ro);
    if (o->split) ro.split = o->split;
    ro.clip = (int)o->clip;
    dr_err err = {0};
    memset(seq, 0, sizeof *seq);
    if (dr_pose_read(path, &ro, seq, NULL, &err)) return cli_fail_err(cmd, &err);
    return CLI_EXIT_OK;
}

static int rvq_encode(int argc, char **argv) {
    const char *cmd = "rvq encode";
    sub_opts o = {0};
    int rc = parse_sub(cmd, argc, argv, true, &o);
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
    if (!o.input) return cli_usage_error(cmd, "an input pose file is required");
    if (!o.out) return cli_usage_error(cmd, "--out TOKENS.json is required");
    dr_err err = {0};
    dr_rvq *m;
    if (load_model(&o, &m, &err)) return cli_fail_err(cmd, &err);
    dr_pose_seq seq;
    if ((rc = read_poses(cmd, o.input, &o, &seq))) {
        dr_rvq_free(m);
        return rc;
    }
    const int T = dr_rvq_num_keyframes(m), L = dr_rvq_depth(m);
    dr_pose kf[DR_NUM_KEYFRAMES];
    int tokens[DR_NUM_KEYFRAMES * DR_RVQ_MAX_DEPTH];
    if (T != DR_NUM_KEYFRAMES) {
        rc = cli_fail(cmd, "%s: model has %d key frames, expected %d", o.model, T, DR_NUM_KEYFRAMES);
    } else if (seq.num_frames == T) {
        memcpy(kf, seq.frames, sizeof kf);
    } else if (o.start + (long)(T - 1) * DR_KEYFRAME_STRIDE < seq.num_frames) {
        for (int t = 0; t < T; t++) kf[t] = seq.frames[o.start + (long)t * DR_KEYFRAME_STRIDE];
    } else {
        rc = cli_fail(cmd, "%s: %d frames: need %d key frames or at least %ld frames (frames %ld..%ld every %d)",
                      o.input, seq.num_frames, T, o.start + (long)(T - 1) * DR_KEYFRAME_STRIDE + 1, o.start,
                      o.start + (long)(T - 1) * DR_KEYFRAME_STRIDE, DR_KEYFRAME_STRIDE);
    }
    if (!rc && (dr_rvq_encode(m, kf, 1, seq.width, seq.height, tokens, &err) ||
                dr_rvq_tokens_write(o.out, tokens, T, L, dr_rvq_codebook_size(m), &err)))
        rc = cli_fail_err(cmd, &err);
    dr_pose_seq_free(&seq);
    dr_rvq_free(m);
    return rc;
}

static int rvq_decode(int argc, char **argv) {
    const char *cmd = "rvq decode";
    sub_opts o = {.width = DR_CANVAS_WIDTH, .height = DR_CANVAS_HEIGHT};
    int rc = parse_sub(cmd, argc, argv, true, &o);
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
    if (!o.input) return cli_usage_error(cmd, "a tokens file is required");
    if (!o.out) return cli_usage_error(cmd, "--out POSES.json is required");
    dr_err err = {0};
    dr_rvq *m;
    if (dr_rvq_load(&m, o.model, &err)) return cli_fail_err(cmd, &err);
    int *tokens = NULL, T, L, K;
    if (dr_rvq_tokens_read(o.input, &tokens, &T, &L, &K, &err)) {
        dr_rvq_free(m);
        return cli_fail_err(cmd, &err);
    }
    dr_pose_seq seq = {0};
    const int levels = o.levels ? (int)o.levels : L;
    if (L != dr_rvq_depth(m) || K != dr_rvq_codebook_size(m))
        rc = cli_fail(cmd, "%s: tokens of depth %d x %d codes do not fit the model %s (depth %d x %d codes)", o.input,
                      L, K, o.model, dr_rvq_depth(m), dr_rvq_codebook_size(m));
    else if (T != dr_rvq_num_keyframes(m))
        rc = cli_fail(cmd, "%s: %d key frames, the model decodes %d", o.input, T, dr_rvq_num_keyframes(m));
    else if (levels > L)
        rc = cli_usage_error(cmd, "--levels %d exceeds the depth %d", levels, L);
    else if (dr_pose_seq_alloc(&seq, T, (float)DR_CLIP_FPS / DR_KEYFRAME_STRIDE, (int)o.width, (int)o.height))
        rc = cli_fail(cmd, "out of memory");
    else if (dr_rvq_decode(m, tokens, 1, levels, (int)o.width, (int)o.height, seq.frames, &err) ||
             dr_seq_write_json(o.out, &seq, &err))
        rc = cli_fail_err(cmd, &err);
    dr_pose_seq_free(&seq);
    free(tokens);
    dr_rvq_free(m);
    return rc;
}

/* Every 200-frame window of a long pose input (start every `stride` frames) as clips. */
static int eval_input(const char *cmd, dr_rvq *m, const sub_opts *o, dr_rvq_eval *ev, int *windows) {
    dr_pose_seq seq;
    int rc = read_poses(cmd, o->in_path, o, &seq);
    if (rc) return rc;
    const int T = DR_NUM_KEYFRAMES, span = (T - 1) * DR_KEYFRAME_STRIDE + 1;
    const int stride = o->stride ? (int)o->stride : DR_CLIP_FRAMES;
    const int n = seq.num_frames >= span ? (seq.num_frames - span) / stride + 1 : 0;
    *windows = n;
    dr_err err = {0};
    if (n == 0) {
        rc = cli_fail(cmd, "%s: %d frames is shorter than one window of %d", o->in_path, seq.num_frames, span);
    } else if (dr_rvq_eval_init(ev, m)) {
        rc = cli_fail(cmd, "out of memory");
    } else {
        dr_pose kf[DR_NUM_KEYFRAMES];
        for (int w = 0; w < n && !rc; w++) {
            for (int t = 0; t < T; t++) kf[t] = seq.frames[(size_t)w * stride + (size_t)t * DR_KEYFRAME_STRIDE];
            if (dr_rvq_eval_batch(m, kf, NULL, 1, seq.width, seq.height, ev, &err)) rc = cli_fail_err(cmd, &err);
        }
        if (rc) dr_rvq_eval_free(ev);
    }
    dr_pose_seq_free(&seq);
    return rc;
}

static int rvq_eval(int argc, char **argv) {
    const char *cmd = "rvq eval";
    sub_opts o = {0};
    int rc = parse_sub(cmd, argc, argv, false, &o);
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
    if (!o.data == !o.in_path) return cli_usage_error(cmd, "give exactly one of --data DIR and --input FILE");
    if (o.clean && !o.data) return cli_usage_error(cmd, "--clean DIR goes with --data DIR");
    dr_err err = {0};
    dr_rvq *m;
    if (load_model(&o, &m, &err)) return cli_fail_err(cmd, &err);
    dr_rvq_eval ev;
    char what[4200];
    double t0 = dr_now();
    if (o.data) {
        const char *split = o.split ? o.split : "test";
        dr_dataset ds, clean;
        if (!(rc = open_split(cmd, &ds, o.data, split))) {
            if (o.clean && !(rc = open_split(cmd, &clean, o.clean, split))) {
                if (clean.num_clips != ds.num_clips || clean.num_frames != ds.num_frames ||
                    clean.width != ds.width || clean.height != ds.height)
                    rc = cli_fail(cmd, "%s/%s (%d clips of %d frames, %dx%d) is not the twin of %s/%s (%d clips of %d frames, %dx%d)",
                                  o.clean, split, clean.num_clips, clean.num_frames, clean.width, clean.height, o.data,
                                  split, ds.num_clips, ds.num_frames, ds.width, ds.height);
                else if (evaluate_dataset(m, &ds, &clean, (int)o.clips, &ev, &err))
                    rc = cli_fail_err(cmd, &err);
                dr_dataset_close(&clean);
            } else if (!o.clean && evaluate_dataset(m, &ds, NULL, (int)o.clips, &ev, &err)) {
                rc = cli_fail_err(cmd, &err);
            }
            dr_dataset_close(&ds);
        }
        snprintf(what, sizeof what, "%s/%s", o.data, split);
    } else {
        int windows = 0;
        rc = eval_input(cmd, m, &o, &ev, &windows);
        snprintf(what, sizeof what, "%s (%d windows of 200 frames)", o.in_path, windows);
    }
    if (!rc) {
        char head[8400];
        snprintf(head, sizeof head, "%s with %s (depth %d x %d codes)", what, o.model, dr_rvq_depth(m),
                 dr_rvq_codebook_size(m));
        print_eval(stdout, &ev, head);
        printf("  time %.2fs\n", dr_now() - t0);
        dr_rvq_eval_free(&ev);
    }
    dr_rvq_free(m);
    return rc;
}

/* director rvq bound: the rate-distortion reference of a dataset's key-frame poses. Only
 * windows whose key frames have every keypoint present enter the covariance (a missing
 * keypoint has no position to code); errors are reported per joint as the root mean
 * squared distance and, for an isotropic Gaussian error, the mean distance (0.886 x RMS),
 * which is what `rvq eval` reports. */
static int rvq_bound(int argc, char **argv) {
    const char *cmd = "rvq bound";
    sub_opts o = {0};
    int rc = parse_sub(cmd, argc, argv, false, &o);
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
    if (!o.data) return cli_usage_error(cmd, "--data DIR is required");
    const int W = o.window ? (int)o.window : 1, J = DR_NUM_KEYPOINTS, T = DR_NUM_KEYFRAMES;
    const char *split = o.split ? o.split : "train";
    enum { ABSOLUTE, CENTRE, BOX } relative = ABSOLUTE;
    if (o.relative) {
        if (!strcmp(o.relative, "centre") || !strcmp(o.relative, "center")) relative = CENTRE;
        else if (!strcmp(o.relative, "box")) relative = BOX;
        else return cli_usage_error(cmd, "--relative must be centre or box, not '%s'", o.relative);
        if (o.model) return cli_usage_error(cmd, "--relative measures the data alone: no --model");
    }
    const double box_height = 160.0; /* px: the common height of --relative box (about the data's mean) */
    const double mean_of_rms = sqrt(M_PI) / 2; /* E|e| / sqrt(E|e|^2) for a 2D isotropic Gaussian */
    dr_dataset ds;
    if ((rc = open_split(cmd, &ds, o.data, split))) return rc;
    dr_err err = {0};
    dr_rvq *m = NULL;
    dr_rd_source src;
    enum { CHUNK = 256 };
    double *vec = malloc(sizeof(double) * 2 * J * W), *eig = malloc(sizeof(double) * 2 * J * W);
    dr_pose *kf = malloc(sizeof(dr_pose) * CHUNK * T * 2);
    int *tok = malloc(sizeof(int) * CHUNK * T * DR_RVQ_MAX_DEPTH);
    if (!vec || !eig || !kf || !tok) {
        dr_err_set(&err, DR_ENOMEM, "out of memory");
        goto fail;
    }
    if (dr_rd_init(&src, 2 * J * W, &err)) goto fail;
    if (o.model && load_model(&o, &m, &err)) goto fail_src;
    const int n = o.clips > 0 && o.clips < ds.num_clips ? (int)o.clips : ds.num_clips;
    long windows = 0, model_frames = 0, model_joints = 0, model_missing = 0;
    double model_sq = 0, model_dist = 0;
    /* --relative box codes poses scaled by box_height / h; an error e in those units is e * h /
     * box_height pixels, so squared errors come back to pixels by the mean of (h / box_height)^2 */
    double back_sq = 0;
    long back_n = 0;
    dr_pose *dec = kf + CHUNK * T;
    for (int c0 = 0; c0 < n; c0 += CHUNK) {
        const int nc = n - c0 < CHUNK ? n - c0 : CHUNK;
        dataset_keyframes(&ds, c0, nc, kf);
        if (m && (dr_rvq_encode(m, kf, nc, ds.width, ds.height, tok, &err) ||
                  dr_rvq_decode(m, tok, nc, dr_rvq_depth(m), ds.width, ds.height, dec, &err))) {
            dr_err_prefix(&err, "%s/%s clips %d-%d", o.data, split, c0, c0 + nc - 1);
            goto fail_src;
        }
        for (int c = 0; c < nc; c++) {
            const dr_pose *clip = kf + (size_t)c * T, *clip_dec = dec + (size_t)c * T;
            bool full[DR_NUM_KEYFRAMES];
            for (int t = 0; t < T; t++) {
                full[t] = true;
                for (int j = 0; j < J; j++) full[t] = full[t] && clip[t].kp[j].c > 0;
            }
            for (int s0 = 0; s0 + W <= T; s0 += W) {
                bool ok = true;
                for (int t = s0; t < s0 + W; t++) ok = ok && full[t];
                if (!ok) continue;
                for (int t = 0; t < W; t++) {
                    const dr_pose *p = &clip[s0 + t];
                    double cx = 0, cy = 0, scale = 1;
                    float x0, y0, x1, y1;
                    if (relative != ABSOLUTE && dr_pose_bbox(p, &x0, &y0, &x1, &y1)) { /* complete: always */
                        cx = 0.5 * (x0 + x1), cy = 0.5 * (y0 + y1);
                        if (relative == BOX) scale = box_height / fmax(y1 - y0, 1.0);
                    }
                    back_sq += 1.0 / (scale * scale);
                    back_n++;
                    for (int j = 0; j < J; j++) {
                        vec[(t * J + j) * 2] = (p->kp[j].x - cx) * scale;
                        vec[(t * J + j) * 2 + 1] = (p->kp[j].y - cy) * scale;
                    }
                }
                dr_rd_add(&src, vec);
                windows++;
            }
            for (int t = 0; m && t < T; t++) {
                if (!full[t]) continue;
                model_frames++;
                for (int j = 0; j < J; j++) {
                    /* a keypoint the decoder calls missing has no position: counted apart, as
                     * `rvq eval` counts presence apart from the coordinate error */
                    if (clip_dec[t].kp[j].c <= 0) {
                        model_missing++;
                        continue;
                    }
                    double ex = clip_dec[t].kp[j].x - clip[t].kp[j].x, ey = clip_dec[t].kp[j].y - clip[t].kp[j].y;
                    model_sq += ex * ex + ey * ey;
                    model_dist += sqrt(ex * ex + ey * ey);
                    model_joints++;
                }
            }
        }
    }
    if (dr_rd_spectrum(&src, eig, &err)) {
        dr_err_prefix(&err, "%s/%s: %ld windows of %d complete key frames", o.data, split, windows, W);
        goto fail_src;
    }
    const int dim = 2 * J * W;
    const double back = sqrt(back_sq / (double)back_n); /* 1 unless --relative box */
    printf("rate-distortion reference, %s/%s: %ld windows of %d key frame%s with all %d keypoints present "
           "(%d clips)%s\n",
           o.data, split, windows, W, W > 1 ? "s" : "", J, n,
           relative == CENTRE ? ", relative to the box centre"
                              : relative == BOX ? ", relative to the box centre and scaled to a common height" : "");
    printf("  spectrum, sqrt of the largest eigenvalues (px%s):", relative == BOX ? " at the common height" : "");
    for (int i = 0; i < 10 && i < dim; i++) printf(" %.1f", sqrt(eig[i]));
    printf("\n  bits/key frame  (levels of 9 bits)  rms_px/joint  mean_px/joint\n");
    static const int levels[] = {1, 2, 3, 4, 5, 6, 8, 10, 12, 16};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        const double bits = 9.0 * levels[i];
        const double rms = back * sqrt(dr_rd_distortion(eig, dim, bits * W) / (J * W));
        printf("  %14.0f  %19d  %12.3f  %13.3f\n", bits, levels[i], rms, rms * mean_of_rms);
    }
    printf("  bits per key frame needed for a mean per-joint error of");
    static const double targets[] = {4.0, 2.0, 1.0, 0.5};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        const double rms = targets[i] / mean_of_rms / back;
        printf("%s %.1f px: %.0f", i ? "," : "", targets[i], dr_rd_rate(eig, dim, rms * rms * J * W) / W);
    }
    printf("\n");
    if (m)
        printf("  %s (depth %d x %d codes, beam %d) on the %ld complete key frames: rms %.3f px/joint, mean %.3f "
               "px/joint (%ld of %ld keypoints decoded as missing, left out)\n",
               o.model, dr_rvq_depth(m), dr_rvq_codebook_size(m), dr_rvq_beam(m), model_frames,
               model_joints ? sqrt(model_sq / (double)model_joints) : 0.0,
               model_joints ? model_dist / (double)model_joints : 0.0, model_missing, model_missing + model_joints);
    dr_rd_free(&src);
    dr_rvq_free(m);
    dr_dataset_close(&ds);
    free(vec), free(eig), free(kf), free(tok);
    return CLI_EXIT_OK;
fail_src:
    dr_rd_free(&src);
fail:
    dr_rvq_free(m);
    dr_dataset_close(&ds);
    free(vec), free(eig), free(kf), free(tok);
    return cli_fail_err(cmd, &err);
}

int dr_cmd_rvq(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        rvq_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "encode")) return rvq_encode(argc - 1, argv + 1);
    if (!strcmp(argv[1], "decode")) return rvq_decode(argc - 1, argv + 1);
    if (!strcmp(argv[1], "eval")) return rvq_eval(argc - 1, argv + 1);
    if (!strcmp(argv[1], "bound")) return rvq_bound(argc - 1, argv + 1);
    return cli_usage_error("rvq", "unknown subcommand '%s'", argv[1]);
}
