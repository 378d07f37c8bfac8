/* cmd_data.c - `director data`: make, inspect and extend training datasets.
 *
 *   director data synth --clips N --seed S --out DIR [--threads T] [--quiet]
 *   director data stats DIR
 *   director data import --out DIR [--split S] [--action A] [--caption TEXT | --captions FILE] INPUT...
 *   director data preview --action NAME --out FILE.png [...]
 *   director data import-bvh ...   (cmd_import.c)
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "io/png.h"
#include "core/fsutil.h"
#include "pose/dataset.h"
#include "pose/dataset_import.h"
#include "pose/seqio.h"
#include "pose/synth.h"
#include "render/sheet.h"

static void data_usage(FILE *f) {
    fprintf(f,
            "usage: director data <subcommand> [options]\n\n"
            "subcommands:\n"
            "  synth --clips N --seed S --out DIR [--detector-noise X] [--threads T] [--quiet]\n"
            "        write a synthetic dataset of N captioned 200-frame clips (train/val/test\n"
            "        .poses + .jsonl and meta.json; docs/DATASET.md). Same seed, same bytes.\n"
            "        --detector-noise scales the detector jitter (default 1); 0 writes the clean\n"
            "        twin of the same seed: the same clips without jitter.\n"
            "  stats DIR\n"
            "        counts per split, action and word, clip lengths, missing-keypoint rates.\n"
            "  import --out DIR [--split train|val|test] [--action NAME] [--caption TEXT | --captions FILE] INPUT...\n"
            "        add real sequences (director pose JSON, OpenPose JSON folders or files, BVH) to\n"
            "        a dataset folder, fitted to 200 frames at 30 fps on 512x320. --captions has one\n"
            "        caption per line, one per input in order; without either, each input's own\n"
            "        \"prompt\" is used.\n"
            "  import-bvh FILE.bvh --out SEQ.json [options]\n"
            "        BVH motion capture -> pose sequence JSON (director data import-bvh --help).\n"
            "  preview --action NAME --out FILE.png [--seed S] [--index I] [--direction right|left|toward|away|in_place]\n"
            "          [--speed slow|normal|fast] [--camera static|follow] [--cells N]\n"
            "        make one synthetic clip and write a contact sheet of it; prints its caption.\n");
}

static int data_synth(int argc, char **argv) {
    const char *cmd = "data synth";
    long clips = -1, threads = 0;
    unsigned long long seed = 1;
    const char *out = NULL;
    bool quiet = false;
    dr_synth_options opt;
    dr_synth_options_default(&opt);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            data_usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            quiet = true;
        } else if (i + 1 >= argc) {
            return cli_usage_error(cmd, "option %s needs a value", a);
        } else if (!strcmp(a, "--clips")) {
            if (!cli_parse_long(cmd, a, argv[++i], 1, 100000000L, &clips)) return CLI_EXIT_USAGE;
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_u64(cmd, a, argv[++i], &seed)) return CLI_EXIT_USAGE;
        } else if (!strcmp(a, "--out")) {
            out = argv[++i];
        } else if (!strcmp(a, "--detector-noise")) {
            double x;
            if (!cli_parse_float(cmd, a, argv[++i], 0.0, 10.0, &x)) return CLI_EXIT_USAGE;
            opt.detector_noise = (float)x;
        } else if (!strcmp(a, "--threads")) {
            if (!cli_parse_long(cmd, a, argv[++i], 1, 1024, &threads)) return CLI_EXIT_USAGE;
        } else {
            return cli_usage_error(cmd, "unknown option '%s'", a);
        }
    }
    if (clips < 0) return cli_usage_error(cmd, "--clips is required");
    if (!out || !*out) return cli_usage_error(cmd, "--out is required");
    if (threads > 0) dr_set_threads((int)threads);
    dr_progress prog;
    dr_progress_begin(&prog, "synth", 0, clips, quiet);
    dr_err err = {0};
    double t0 = dr_now();
    int rc = dr_synth_dataset(out, (uint64_t)seed, clips, &opt, &prog, &err);
    if (rc) return cli_fail_err(cmd, &err);
    char extra[96];
    snprintf(extra, sizeof extra, "%.0f clips/s", (double)clips / (dr_now() - t0 + 1e-9));
    dr_progress_end(&prog, extra);
    return CLI_EXIT_OK;
}

/* ---- stats ---- */
typedef struct count {
    char *key;
    long n;
} count;

typedef struct counter {
    count *items;
    int len, cap;
} counter;

static int counter_add(counter *c, const char *key, long n) {
    for (int i = 0; i < c->len; i++)
        if (!strcmp(c->items[i].key, key)) return (int)(c->items[i].n += n, 0);
    if (c->len == c->cap) {
        int cap = c->cap ? c->cap * 2 : 64;
        count *p = realloc(c->items, sizeof(count) * (size_t)cap);
        if (!p) return -1;
        c->items = p, c->cap = cap;
    }
    c->items[c->len].key = strdup(key);
    if (!c->items[c->len].key) return -1;
    c->items[c->len++].n = n;
    return 0;
}

static int count_desc(const void *a, const void *b) {
    const count *x = a, *y = b;
    return x->n != y->n ? (x->n < y->n ? 1 : -1) : strcmp(x->key, y->key);
}

static void counter_free(counter *c) {
    for (int i = 0; i < c->len; i++) free(c->items[i].key);
    free(c->items);
}

static int data_stats(int argc, char **argv) {
    const char *cmd = "data stats";
    const char *dir = NULL;
    int top = 40;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            data_usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(argv[i], "--top") && i + 1 < argc) {
            long t;
            if (!cli_parse_long(cmd, "--top", argv[++i], 1, 100000, &t)) return CLI_EXIT_USAGE;
            top = (int)t;
        } else if (argv[i][0] == '-') {
            return cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        } else if (!dir) {
            dir = argv[i];
        } else {
            return cli_usage_error(cmd, "one dataset folder expected");
        }
    }
    if (!dir) return cli_usage_error(cmd, "dataset folder required");
    static const char *const splits[3] = {"train", "val", "test"};
    counter actions = {0}, words = {0};
    long present[DR_NUM_KEYPOINTS] = {0}, total_frames = 0, clips_all = 0;
    long len_min = -1, len_max = 0, len_sum = 0, empty_frames = 0;
    int nsplits = 0;
    for (int s = 0; s < 3; s++) {
        dr_dataset ds;
        dr_err err = {0};
        int rc = dr_dataset_open(&ds, dir, splits[s], &err);
        if (rc == DR_ENOTFOUND) continue;
        if (rc) {
            counter_free(&actions), counter_free(&words);
            return cli_fail_err(cmd, &err);
        }
        nsplits++;
        printf("%-5s %7d clips  %d frames at %g fps  %dx%d\n", splits[s], ds.num_clips, ds.num_frames, (double)ds.fps,
               ds.width, ds.height);
        for (int c = 0; c < ds.num_clips; c++) {
            counter_add(&actions, ds.action[c], 1);
            /* words of the subject-level prompt, lower-cased, punctuation stripped */
            char w[64];
            int wl = 0;
            for (const char *p = ds.subject[c];; p++) {
                if (*p && (isalnum((unsigned char)*p) || *p == '-' || *p == '\'')) {
                    if (wl < 63) w[wl++] = (char)tolower((unsigned char)*p);
                } else {
                    if (wl) w[wl] = 0, counter_add(&words, w, 1), wl = 0;
                    if (!*p) break;
                }
            }
            const dr_pose *clip = dr_dataset_clip(&ds, c);
            long last = -1;
            for (int f = 0; f < ds.num_frames; f++) {
                int np = 0;
                for (int k = 0; k < DR_NUM_KEYPOINTS; k++)
                    if (clip[f].kp[k].c > 0) present[k]++, np++;
                if (np) last = f;
                else empty_frames++;
            }
            long len = last + 1; /* frames up to the last one with anybody in it */
            len_sum += len;
            if (len_min < 0 || len < len_min) len_min = len;
            if (len > len_max) len_max = len;
            total_frames += ds.num_frames;
        }
        clips_all += ds.num_clips;
        dr_dataset_close(&ds);
    }
    if (!nsplits) {
        counter_free(&actions), counter_free(&words);
        return cli_fail(cmd, "%s: no train/val/test split found", dir);
    }
    qsort(actions.items, (size_t)actions.len, sizeof(count), count_desc);
    qsort(words.items, (size_t)words.len, sizeof(count), count_desc);
    printf("\nclips per action (%d actions):\n", actions.len);
    for (int i = 0; i < actions.len; i++) printf("  %-18s %7ld  %5.1f%%\n", actions.items[i].key, actions.items[i].n, 100.0 * actions.items[i].n / (double)(clips_all ? clips_all : 1));
    printf("\nsubject-prompt words: %d distinct; top %d:\n", words.len, top < words.len ? top : words.len);
    for (int i = 0; i < words.len && i < top; i++) printf("  %-18s %7ld\n", words.items[i].key, words.items[i].n);
    printf("\nclip length (frames up to the last detection): min %ld  mean %.1f  max %ld; frames with nobody: %.2f%%\n",
           len_min < 0 ? 0 : len_min, clips_all ? (double)len_sum / (double)clips_all : 0.0, len_max,
           total_frames ? 100.0 * (double)empty_frames / (double)total_frames : 0.0);
    printf("\nmissing keypoints (share of frames):\n");
    long miss_all = 0;
    for (int k = 0; k < DR_NUM_KEYPOINTS; k++) {
        long miss = total_frames - present[k];
        miss_all += miss;
        printf("  %-15s %6.2f%%\n", dr_keypoint_names[k], total_frames ? 100.0 * (double)miss / (double)total_frames : 0.0);
    }
    printf("  %-15s %6.2f%%\n", "all", total_frames ? 100.0 * (double)miss_all / (double)(total_frames * DR_NUM_KEYPOINTS) : 0.0);
    counter_free(&actions), counter_free(&words);
    return CLI_EXIT_OK;
}

static int data_import(int argc, char **argv) {
    const char *cmd = "data import";
    const char *out = NULL, *split = "train", *action = NULL, *caption = NULL, *captions_path = NULL;
    int ninputs = 0;
    const char **inputs = calloc((size_t)argc, sizeof(char *));
    if (!inputs) return cli_fail(cmd, "out of memory");
    int rc = CLI_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            data_usage(stdout);
            free(inputs);
            return CLI_EXIT_OK;
        }
        if (a[0] != '-') {
            inputs[ninputs++] = a;
            continue;
        }
        if (i + 1 >= argc) {
            free(inputs);
            return cli_usage_error(cmd, "option %s needs a value", a);
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--split")) split = v;
        else if (!strcmp(a, "--action")) action = v;
        else if (!strcmp(a, "--caption")) caption = v;
        else if (!strcmp(a, "--captions")) captions_path = v;
        else {
            free(inputs);
            return cli_usage_error(cmd, "unknown option '%s'", a);
        }
    }
    if (!out || !ninputs || (caption && captions_path) ||
        (strcmp(split, "train") && strcmp(split, "val") && strcmp(split, "test"))) {
        free(inputs);
        if (!out) return cli_usage_error(cmd, "--out is required");
        if (!ninputs) return cli_usage_error(cmd, "no input sequences given");
        if (caption && captions_path) return cli_usage_error(cmd, "give --caption or --captions, not both");
        return cli_usage_error(cmd, "--split must be train, val or test, not '%s'", split);
    }
    dr_err err = {0};
    char *captext = NULL;
    char **lines = calloc((size_t)ninputs, sizeof(char *));
    dr_pose_seq *seqs = calloc((size_t)ninputs, sizeof(dr_pose_seq));
    dr_import_item *items = calloc((size_t)ninputs, sizeof(dr_import_item));
    if (!lines || !seqs || !items) {
        rc = cli_fail(cmd, "out of memory");
        goto done;
    }
    if (captions_path) {
        size_t size;
        if (dr_read_file(captions_path, 64u << 20, &captext, &size, &err)) {
            rc = cli_fail_err(cmd, &err);
            goto done;
        }
        int nl = 0;
        for (char *p = captext; p && *p;) {
            char *e = strchr(p, '\n');
            if (e) *e = 0;
            if (e && e > p && e[-1] == '\r') e[-1] = 0;
            if (*p) {
                if (nl == ninputs) {
                    rc = cli_fail(cmd, "%s: more captions than the %d inputs", captions_path, ninputs);
                    goto done;
                }
                lines[nl++] = p;
            }
            p = e ? e + 1 : NULL;
        }
        if (nl != ninputs) {
            rc = cli_fail(cmd, "%s: %d captions for %d inputs", captions_path, nl, ninputs);
            goto done;
        }
    }
    dr_pose_read_opts ro;
    dr_pose_read_opts_init(&ro);
    for (int i = 0; i < ninputs; i++) {
        if (dr_pose_read(inputs[i], &ro, &seqs[i], NULL, &err)) {
            rc = cli_fail_err(cmd, &err);
            goto done;
        }
        items[i].seq = &seqs[i];
        items[i].caption = captions_path ? lines[i] : caption ? caption : seqs[i].prompt;
        items[i].action = action;
        items[i].source = inputs[i];
        if (!items[i].caption) {
            rc = cli_usage_error(cmd, "%s has no prompt: give --caption or --captions", inputs[i]);
            goto done;
        }
    }
    long first = 0;
    if (dr_dataset_append(out, split, items, ninputs, &first, &err)) {
        rc = cli_fail_err(cmd, &err);
        goto done;
    }
    printf("added %d clip%s to %s/%s (ids %ld..%ld)\n", ninputs, ninputs == 1 ? "" : "s", out, split, first,
           first + ninputs - 1);
done:
    for (int i = 0; seqs && i < ninputs; i++) dr_pose_seq_free(&seqs[i]);
    free(seqs), free(items), free(lines), free(captext), free(inputs);
    return rc;
}

static int name_index(const char *const *names, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s)) return i;
    return -1;
}

static int data_preview(int argc, char **argv) {
    const char *cmd = "data preview";
    dr_synth_options opt;
    dr_synth_options_default(&opt);
    unsigned long long seed = 1;
    long index = 0, cells = 12;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            data_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (i + 1 >= argc) return cli_usage_error(cmd, "option %s needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--action")) {
            if ((opt.action = name_index(dr_synth_action_names, DR_SYNTH_NUM_ACTIONS, v)) < 0) {
                fprintf(stderr, "actions:");
                for (int k = 0; k < DR_SYNTH_NUM_ACTIONS; k++) fprintf(stderr, " %s", dr_synth_action_names[k]);
                fprintf(stderr, "\n");
                return cli_usage_error(cmd, "unknown action '%s'", v);
            }
        } else if (!strcmp(a, "--direction")) {
            if ((opt.direction = name_index(dr_synth_direction_names, DR_SYNTH_NUM_DIRECTIONS, v)) < 0)
                return cli_usage_error(cmd, "unknown direction '%s'", v);
        } else if (!strcmp(a, "--speed")) {
            if ((opt.speed = name_index(dr_synth_speed_names, DR_SYNTH_NUM_SPEEDS, v)) < 0)
                return cli_usage_error(cmd, "unknown speed '%s'", v);
        } else if (!strcmp(a, "--camera")) {
            if (!strcmp(v, "static")) opt.camera_follows = 0;
            else if (!strcmp(v, "follow")) opt.camera_follows = 1;
            else return cli_usage_error(cmd, "--camera is static or follow, got '%s'", v);
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_u64(cmd, a, v, &seed)) return CLI_EXIT_USAGE;
        } else if (!strcmp(a, "--index")) {
            if (!cli_parse_long(cmd, a, v, 0, 1000000000L, &index)) return CLI_EXIT_USAGE;
        } else if (!strcmp(a, "--cells")) {
            if (!cli_parse_long(cmd, a, v, 1, 200, &cells)) return CLI_EXIT_USAGE;
        } else if (!strcmp(a, "--out")) {
            out = v;
        } else {
            return cli_usage_error(cmd, "unknown option '%s'", a);
        }
    }
    if (!out) return cli_usage_error(cmd, "--out is required");
    dr_synth_clip *clip = malloc(sizeof *clip);
    if (!clip) return cli_fail(cmd, "out of memory");
    dr_err err = {0};
    int rc = dr_synth_generate((uint64_t)seed, (uint64_t)index, &opt, clip, NULL, &err);
    if (rc) {
        free(clip);
        return cli_usage_error(cmd, "%s", err.msg);
    }
    dr_pose_seq seq = {.num_frames = DR_CLIP_FRAMES, .fps = DR_CLIP_FPS, .width = DR_CANVAS_WIDTH,
                       .height = DR_CANVAS_HEIGHT, .frames = clip->frames};
    dr_image img;
    rc = dr_pose_contact_sheet(&seq, (int)cells, DR_CANVAS_WIDTH / 2, DR_CANVAS_HEIGHT / 2, true, &img, &err);
    if (!rc) {
        rc = dr_png_write(out, &img, &err);
        dr_image_free(&img);
    }
    if (!rc) printf("%s\n", clip->prompt);
    free(clip);
    return rc ? cli_fail_err(cmd, &err) : CLI_EXIT_OK;
}

int dr_cmd_data(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        data_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "synth")) return data_synth(argc - 1, argv + 1);
    if (!strcmp(argv[1], "stats")) return data_stats(argc - 1, argv + 1);
    if (!strcmp(argv[1], "preview")) return data_preview(argc - 1, argv + 1);
    if (!strcmp(argv[1], "import")) return data_import(argc - 1, argv + 1);
    if (!strcmp(argv[1], "import-bvh")) return dr_cmd_data_import_bvh(argc - 1, argv + 1); /* cmd_import.c */
    return cli_usage_error("data", "unknown subcommand '%s'", argv[1]);
}
