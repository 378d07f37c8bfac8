/* cmd_train_eval.c - `director train eval`: the contrastive text-motion evaluator of `director eval`. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/fsutil.h"
#include "eval/evaluator.h"

static void usage(FILE *f) {
    dr_evaluator_train_opts d;
    dr_evaluator_train_defaults(&d);
    fprintf(f,
            "usage: director train eval --data DIR [options]\n\n"
            "Train the learned evaluator of `director eval`: a CLIP-architecture text encoder and a\n"
            "convolutional motion encoder, contrastively (symmetric InfoNCE) on the TRAIN split's\n"
            "(subject prompt, clip) pairs, with their own seed and no weight shared with the\n"
            "generator. Validates R-precision on the val split; checkpoints to OUT.ckpt.\n\n"
            "options:\n"
            "  --data DIR          dataset folder (docs/DATASET.md)\n"
            "  --tokenizer FILE    tokenizer.json, copied into the model (default: models/tokenizer.json)\n"
            "  --out PATH          output (default: models/eval/evaluator.safetensors)\n"
            "  --steps N           training steps (default: %ld)\n"
            "  --batch N           pairs per step (default: %d)\n"
            "  --lr X              peak learning rate (default: %g)\n"
            "  --seed N            the evaluator's seed (default: %llu)\n"
            "  --text-dim N --text-layers N --text-heads N --text-len N   text tower (default: %d %d %d %d)\n"
            "  --motion-dim N --motion-layers N --frame-stride N          motion tower (default: %d %d %d)\n"
            "  --proj-dim N        embedding size (default: %d)\n"
            "  --val-every N --ckpt-every N --val-clips N                 (default: %d %d %d)\n"
            "  --max-minutes X     stop after X minutes of training, saving the model (default: no limit)\n"
            "  --resume            continue from OUT.ckpt\n"
            "  --quiet             no progress lines\n",
            d.steps, d.batch, (double)d.lr, (unsigned long long)d.seed, d.text_dim, d.text_layers, d.text_heads,
            d.text_len, d.motion_dim, d.motion_layers, d.frame_stride, d.proj_dim, d.val_every, d.ckpt_every, d.val_clips);
}

int dr_cmd_train_eval(int argc, char **argv) {
    const char *cmd = "train eval";
    dr_evaluator_train_opts o;
    dr_evaluator_train_defaults(&o);
    o.tokenizer_path = "models/tokenizer.json";
    o.out_path = "models/eval/evaluator.safetensors";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        double x;
        unsigned long long u;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--quiet")) {
            o.quiet = true;
            continue;
        } else if (!strcmp(a, "--resume")) {
            o.resume = true;
            continue;
        }
        if (!v) return cli_usage_error(cmd, "option '%s' needs a value (or is unknown)", a);
        if (!strcmp(a, "--data")) o.data_dir = v;
        else if (!strcmp(a, "--tokenizer")) o.tokenizer_path = v;
        else if (!strcmp(a, "--out")) o.out_path = v;
        else if (!strcmp(a, "--steps")) {
            if (!cli_parse_long(cmd, a, v, 1, 100000000L, &n)) return CLI_EXIT_USAGE;
            o.steps = n;
        } else if (!strcmp(a, "--batch")) {
            if (!cli_parse_long(cmd, a, v, 2, 4096, &n)) return CLI_EXIT_USAGE;
            o.batch = (int)n;
        } else if (!strcmp(a, "--lr")) {
            if (!cli_parse_float(cmd, a, v, 1e-7, 1.0, &x)) return CLI_EXIT_USAGE;
            o.lr = (float)x;
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_u64(cmd, a, v, &u)) return CLI_EXIT_USAGE;
            o.seed = u;
        } else if (!strcmp(a, "--max-minutes")) {
            if (!cli_parse_float(cmd, a, v, 0.0, 1e6, &x)) return CLI_EXIT_USAGE;
            o.max_seconds = 60.0 * x;
        } else {
            struct { const char *name; int *dst; long lo, hi; } ints[] = {
                {"--text-dim", &o.text_dim, 8, 2048},     {"--text-layers", &o.text_layers, 1, 64},
                {"--text-heads", &o.text_heads, 1, 64},   {"--text-len", &o.text_len, 4, 512},
                {"--motion-dim", &o.motion_dim, 8, 2048}, {"--motion-layers", &o.motion_layers, 0, 6},
                {"--frame-stride", &o.frame_stride, 1, 16},
                {"--proj-dim", &o.proj_dim, 2, 2048},     {"--val-every", &o.val_every, 1, 100000000},
                {"--ckpt-every", &o.ckpt_every, 1, 100000000}, {"--val-clips", &o.val_clips, 0, 1000000},
            };
            size_t k = 0;
            while (k < sizeof ints / sizeof ints[0] && strcmp(a, ints[k].name)) k++;
            if (k == sizeof ints / sizeof ints[0]) return cli_usage_error(cmd, "unknown option '%s'", a);
            if (!cli_parse_long(cmd, a, v, ints[k].lo, ints[k].hi, &n)) return CLI_EXIT_USAGE;
            *ints[k].dst = (int)n;
        }
        i++;
    }
    if (!o.data_dir) return cli_usage_error(cmd, "--data DIR is required");
    if (o.text_dim % o.text_heads) return cli_usage_error(cmd, "--text-dim must be a multiple of --text-heads");
    dr_err err = {0};
    /* The output folder (models/eval/) may not exist yet. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", o.out_path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (dr_mkdir_p(dir, &err)) return cli_fail_err(cmd, &err);
    }
    if (dr_evaluator_train(&o, &err)) return cli_fail_err(cmd, &err);
    if (!o.quiet) fprintf(stderr, "director train eval: wrote %s\n", o.out_path);
    return CLI_EXIT_OK;
}
