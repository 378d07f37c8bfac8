/* cmd_generate.c - `director generate`: prompt -> pose plan -> video files (the main job). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "core/fsutil.h"
#include "core/parallel.h"
#include "director.h"

static const char *const usage_text =
    "usage: director generate \"PROMPT\" --out DIR [options]\n"
    "       director generate --prompts FILE --out DIR [options]\n"
    "\n"
    "Runs the DirectorLLM pipeline: the first sentence of the prompt (the subject-level prompt)\n"
    "goes to the LLM, which writes 20 x 6 pose tokens; the RVQ decodes 20 key frames; the pose\n"
    "diffusion interpolator makes 200 frames at 30 fps; the renderers draw the videos.\n"
    "\n"
    "Outputs in DIR: plan.json, poses.json, openpose/, pose/ (PNG frames), pose.mp4 (the\n"
    "ControlNet OpenPose condition), preview.mp4, sheet.png; with --samples N one folder\n"
    "sample_K per motion; with --prompts one folder per prompt (prompt_001, ...).\n"
    "\n"
    "options:\n"
    "  --out DIR            output folder (replaced atomically when complete)\n"
    "  --models DIR         models folder (default: models)\n"
    "  --prompts FILE       one prompt per line (blank lines and lines starting with # skipped)\n"
    "  --samples N          different motions for the prompt (default 1)\n"
    "  --seed S             random seed (default 0)\n"
    "  --temperature T      LLM sampling temperature, 0 = greedy (default 0.8)\n"
    "  --top-p P            nucleus sampling (default 0.95)\n"
    "  --top-k K            top-k sampling, 0 = off (default 0)\n"
    "  --steps N            diffusion (DDIM) steps (default 25)\n"
    "  --guidance G         classifier-free guidance scale (default 1)\n"
    "  --frames N           output frames (default 200)\n"
    "  --fps F              output frame rate (default 30)\n"
    "  --size WxH           output size (default 512x320)\n"
    "  --renderer R         skeleton | preview | none (default preview)\n"
    "  --threads N          threads (default: all cores)\n"
    "  --bf16               the LLM decodes from a bfloat16 copy of its weights (about twice\n"
    "                       as fast; sampled tokens may differ from the fp32 default)\n"
    "  --json               print a machine-readable summary on stdout\n"
    "  --quiet              no progress on stderr\n";

enum { OPT_MODELS = 1000, OPT_PROMPTS, OPT_SAMPLES, OPT_SEED, OPT_TEMP, OPT_TOPP, OPT_TOPK, OPT_STEPS, OPT_GUIDANCE,
       OPT_FRAMES, OPT_FPS, OPT_SIZE, OPT_RENDERER, OPT_THREADS, OPT_JSON, OPT_QUIET, OPT_BF16, OPT_HELP };

static const struct option long_options[] = {
    {"out", required_argument, 0, 'o'},         {"models", required_argument, 0, OPT_MODELS},
    {"prompts", required_argument, 0, OPT_PROMPTS}, {"samples", required_argument, 0, OPT_SAMPLES},
    {"seed", required_argument, 0, OPT_SEED},   {"temperature", required_argument, 0, OPT_TEMP},
    {"top-p", required_argument, 0, OPT_TOPP},  {"top-k", required_argument, 0, OPT_TOPK},
    {"steps", required_argument, 0, OPT_STEPS}, {"guidance", required_argument, 0, OPT_GUIDANCE},
    {"frames", required_argument, 0, OPT_FRAMES}, {"fps", required_argument, 0, OPT_FPS},
    {"size", required_argument, 0, OPT_SIZE},   {"renderer", required_argument, 0, OPT_RENDERER},
    {"threads", required_argument, 0, OPT_THREADS}, {"json", no_argument, 0, OPT_JSON},
    {"quiet", no_argument, 0, OPT_QUIET},       {"help", no_argument, 0, OPT_HELP},
    {"bf16", no_argument, 0, OPT_BF16},
    {0, 0, 0, 0},
};

/* Read the prompts file: one prompt per line. */
static int read_prompts(const char *path, char ***out, int *n, dr_err *err) {
    char *text;
    size_t size;
    int rc = dr_read_file(path, 64u << 20, &text, &size, err);
    if (rc) return rc;
    int cap = 16, count = 0;
    char **v = malloc(sizeof(char *) * (size_t)cap);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && v; line = strtok_r(NULL, "\n", &save)) {
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t')) line[--len] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || *p == '#') continue;
        if (count == cap) {
            char **nv = realloc(v, sizeof(char *) * (size_t)(cap *= 2));
            if (!nv) break;
            v = nv;
        }
        v[count++] = strdup(p);
    }
    free(text);
    if (!v) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    if (count == 0) {
        free(v);
        return dr_err_set(err, DR_EINVAL, "%s: no prompts in the file", path);
    }
    *out = v;
    *n = count;
    return DR_OK;
}

static cJSON *summary_json(const director_result *r, const char *dir) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "out", dir);
    cJSON_AddStringToObject(o, "prompt", r->prompt);
    cJSON_AddStringToObject(o, "subject", r->subject_prompt);
    cJSON *unk = cJSON_AddArrayToObject(o, "unknown_words");
    for (int i = 0; i < r->num_unknown_words; i++) cJSON_AddItemToArray(unk, cJSON_CreateString(r->unknown_words[i]));
    cJSON_AddNumberToObject(o, "samples", r->num_samples);
    cJSON_AddNumberToObject(o, "frames", r->samples[0].num_frames);
    cJSON_AddNumberToObject(o, "fps", r->fps);
    cJSON_AddNumberToObject(o, "width", r->width);
    cJSON_AddNumberToObject(o, "height", r->height);
    return o;
}

int dr_cmd_generate(int argc, char **argv) {
    const char *cmd = "generate", *out = NULL, *models = "models", *prompts_file = NULL;
    director_options o;
    director_options_default(&o);
    bool json = false;
    long lv;
    double dv;
    unsigned long long uv;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "o:h", long_options, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case OPT_MODELS: models = optarg; break;
        case OPT_PROMPTS: prompts_file = optarg; break;
        case OPT_SAMPLES: if (!cli_parse_long(cmd, "--samples", optarg, 1, 64, &lv)) return CLI_EXIT_USAGE; o.samples = (int)lv; break;
        case OPT_SEED: if (!cli_parse_u64(cmd, "--seed", optarg, &uv)) return CLI_EXIT_USAGE; o.seed = uv; break;
        case OPT_TEMP: if (!cli_parse_float(cmd, "--temperature", optarg, 0, 10, &dv)) return CLI_EXIT_USAGE; o.temperature = (float)dv; break;
        case OPT_TOPP: if (!cli_parse_float(cmd, "--top-p", optarg, 1e-6, 1, &dv)) return CLI_EXIT_USAGE; o.top_p = (float)dv; break;
        case OPT_TOPK: if (!cli_parse_long(cmd, "--top-k", optarg, 0, 1 << 20, &lv)) return CLI_EXIT_USAGE; o.top_k = (int)lv; break;
        case OPT_STEPS: if (!cli_parse_long(cmd, "--steps", optarg, 1, 1000, &lv)) return CLI_EXIT_USAGE; o.steps = (int)lv; break;
        case OPT_GUIDANCE: if (!cli_parse_float(cmd, "--guidance", optarg, 0, 20, &dv)) return CLI_EXIT_USAGE; o.guidance = (float)dv; break;
        case OPT_FRAMES: if (!cli_parse_long(cmd, "--frames", optarg, 2, 100000, &lv)) return CLI_EXIT_USAGE; o.frames = (int)lv; break;
        case OPT_FPS: if (!cli_parse_float(cmd, "--fps", optarg, 1, 240, &dv)) return CLI_EXIT_USAGE; o.fps = (float)dv; break;
        case OPT_SIZE: {
            int w, h;
            char tail;
            if (sscanf(optarg, "%dx%d%c", &w, &h, &tail) != 2 || w < 16 || h < 16 || w > 4096 || h > 4096 || w % 2 || h % 2)
                return cli_usage_error(cmd, "--size expects WxH with even W, H in [16, 4096], got '%s'", optarg);
            o.width = w;
            o.height = h;
            break;
        }
        case OPT_RENDERER:
            if (!strcmp(optarg, "skeleton")) o.renderer = DIRECTOR_RENDER_SKELETON;
            else if (!strcmp(optarg, "preview")) o.renderer = DIRECTOR_RENDER_PREVIEW;
            else if (!strcmp(optarg, "none")) o.renderer = DIRECTOR_RENDER_NONE;
            else return cli_usage_error(cmd, "--renderer expects skeleton, preview or none, got '%s'", optarg);
            break;
        case OPT_THREADS: if (!cli_parse_long(cmd, "--threads", optarg, 1, 1024, &lv)) return CLI_EXIT_USAGE; o.threads = (int)lv; break;
        case OPT_JSON: json = true; break;
        case OPT_QUIET: o.quiet = 1; break;
        case OPT_BF16: o.bf16 = 1; break;
        case 'h': case OPT_HELP: fputs(usage_text, stdout); return CLI_EXIT_OK;
        default: return cli_usage_error(cmd, "unknown option");
        }
    }
    int n_pos = argc - optind;
    if (!out) return cli_usage_error(cmd, "--out DIR is required");
    if (prompts_file && n_pos > 0) return cli_usage_error(cmd, "give either a prompt or --prompts FILE, not both");
    if (!prompts_file && n_pos != 1) return cli_usage_error(cmd, "expected one prompt (quote it), got %d arguments", n_pos);
    if (o.threads > 0) dr_set_threads(o.threads);

    dr_err err;
    char **prompts = NULL;
    int n_prompts = 0;
    if (prompts_file) {
        if (read_prompts(prompts_file, &prompts, &n_prompts, &err)) return cli_fail_err(cmd, &err);
    } else {
        prompts = malloc(sizeof(char *));
        prompts[0] = strdup(argv[optind]);
        n_prompts = 1;
    }

    int status = CLI_EXIT_OK;
    char errbuf[1024];
    director_pipeline *p = NULL;
    double t0 = dr_now();
    if (director_pipeline_load(&p, models, errbuf, sizeof errbuf) != DIRECTOR_OK) {
        status = cli_fail(cmd, "%s", errbuf);
        goto done;
    }
    if (!o.quiet) fprintf(stderr, "director: models loaded from %s in %.2f s\n", models, dr_now() - t0);

    /* With --prompts, build all prompt folders inside one temporary folder so that OUT
     * appears complete or not at all. */
    char tmp[4200], dir[4400];
    const char *root = out;
    if (prompts_file) {
        if (dr_tmpdir_create(out, tmp, sizeof tmp, &err)) { status = cli_fail_err(cmd, &err); goto done; }
        root = tmp;
    }
    cJSON *summary = cJSON_CreateArray();
    for (int i = 0; i < n_prompts && status == CLI_EXIT_OK; i++) {
        if (prompts_file) snprintf(dir, sizeof dir, "%s/prompt_%03d", root, i + 1);
        else snprintf(dir, sizeof dir, "%s", out);
        director_result *r = NULL;
        double tg = dr_now();
        if (director_generate(p, prompts[i], &o, &r) != DIRECTOR_OK) {
            status = prompts_file ? cli_fail(cmd, "%s: prompt %d: %s", prompts_file, i + 1, director_last_error(p))
                                  : cli_fail(cmd, "%s", director_last_error(p));
            break;
        }
        if (r->num_unknown_words > 0 && !o.quiet) {
            fprintf(stderr, "director: warning: words never seen in training (the motion may ignore them):");
            for (int w = 0; w < r->num_unknown_words; w++) fprintf(stderr, " %s", r->unknown_words[w]);
            fputc('\n', stderr);
        }
        double tw = dr_now();
        if (director_write_outputs(p, r, &o, dir) != DIRECTOR_OK) {
            status = cli_fail(cmd, "%s", director_last_error(p));
            director_result_free(r);
            break;
        }
        if (!o.quiet)
            fprintf(stderr, "director: plan %.2f s, files %.2f s -> %s\n", tw - tg, dr_now() - tw,
                    prompts_file ? "(batch)" : dir);
        const char *final_dir = dir;
        char shown[4400];
        if (prompts_file) {
            snprintf(shown, sizeof shown, "%s/prompt_%03d", out, i + 1);
            final_dir = shown;
        }
        cJSON_AddItemToArray(summary, summary_json(r, final_dir));
        director_result_free(r);
    }
    if (status == CLI_EXIT_OK && prompts_file && dr_tmpdir_commit(tmp, out, &err)) status = cli_fail_err(cmd, &err);
    if (status != CLI_EXIT_OK && prompts_file) dr_rm_rf(tmp);
    if (status == CLI_EXIT_OK) {
        if (json) {
            char *text = cJSON_Print(cJSON_GetArraySize(summary) == 1 && !prompts_file ? cJSON_GetArrayItem(summary, 0) : summary);
            if (text) puts(text);
            free(text);
        } else if (!o.quiet) {
            fprintf(stderr, "director: done in %.2f s; outputs in %s\n", dr_now() - t0, out);
        }
    }
    cJSON_Delete(summary);
done:
    director_pipeline_free(p);
    for (int i = 0; i < n_prompts; i++) free(prompts[i]);
    free(prompts);
    return status;
}
