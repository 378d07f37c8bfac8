/* cmd_eval.c - `director eval`: the evaluation table of docs/RESULTS.md.
 *
 * Rows: (a) ground truth, the test clips' real motion; (b) the full system through the public
 * API (director_generate); (c) without residual VQ, the pipeline with a depth-1 RVQ and an LLM
 * trained on its tokens; (d) without pose diffusion, row (b)'s key frames linearly interpolated;
 * (e) without the text condition in the interpolator. Every row is scored by the learned
 * evaluator (eval/evaluator.h) with the text-to-motion protocol (eval/protocol.h) on all selected
 * test prompts and on those of the paper's keywords, plus pose-level figures. Ablation rows
 * whose model files are absent are printed as "not available: <file>". */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/fsutil.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "director.h"
#include "eval/evaluator.h"
#include "eval/metrics.h"
#include "eval/protocol.h"
#include "models/pose_diffusion.h"
#include "pose/dataset.h"

static const char *const CMD = "eval";

/* The paper's keyword prompts, matched as word beginnings in the subject prompt. */
static const char *const keyword_stems[] = {"walk", "hik", "running", "run ", "yoga", "jog", "workout", "danc",
                                            "jump", "cycl"};
static const char *const keyword_names = "walking, hiking, running, yoga, jogging, workout, dance, jump, cycling";

enum row_kind { ROW_GT, ROW_FULL, ROW_RVQ1, ROW_LINEAR, ROW_NOTEXT, NUM_ROWS };
static const char *const row_keys[NUM_ROWS] = {"gt", "full", "rvq1", "linear", "notext"};
static const char *const row_labels[NUM_ROWS] = {
    "Ground truth (real motion)", "DirectorLLM (full system)", "w/o residual VQ (depth-1 RVQ + its LLM)",
    "w/o pose diffusion (linear interpolation)", "w/o text condition in the interpolator"};

typedef struct row_result {
    bool run;                 /* selected with --rows */
    bool measured;
    char note[1200];          /* why not measured */
    dr_eval_row all, kw;      /* all selected prompts, keyword prompts */
    bool kw_measured;
    dr_pose_quality_summary pose;
    double seconds;
    double gen_seconds_per_sample;
} row_result;

typedef struct eval_ctx {
    const char *data_dir, *models_dir, *evaluator_path;
    int S, R, limit, steps, batch;
    uint64_t seed;
    bool quiet;
    dr_dataset test;
    dr_evaluator *ev;
    int n, P, F, K;
    int *clip;                /* selected clip per prompt */
    bool *is_kw;
    int n_kw;
    int *kw_idx;
    float *text_emb, *text_kw;  /* [n, P], [n_kw, P] */
    float *ref_emb;           /* [nr, P] real motion of the whole test split */
    int nr;
    dr_pose *kf;              /* row (b)'s key frames [n, S, K] for row (d) */
    int *kf_index;            /* [K] */
    bool have_kf;
    dr_eval_protocol proto;
} eval_ctx;

static void usage(FILE *f) {
    fprintf(f,
            "usage: director eval --data DIR [options]\n\n"
            "Score the system on the dataset's test split (unseen prompt combinations) with the learned\n"
            "text-motion evaluator: R-precision top-1/2/3, FID, MM-Dist, Diversity, MultiModality (each\n"
            "over replications, mean +- 95%% interval) and pose-level figures, for the rows\n"
            "  gt      ground truth (real motion through the evaluator)\n"
            "  full    the full system (director_generate with MODELS)\n"
            "  rvq1    w/o residual VQ: MODELS/ablation/rvq_depth1.safetensors + director_rvq1.safetensors\n"
            "  linear  w/o pose diffusion: the full system's key frames, linearly interpolated\n"
            "  notext  w/o text in the interpolator: MODELS/ablation/interp_notext.safetensors\n"
            "on all selected prompts and on the paper's keyword prompts (%s).\n"
            "Writes one table to --results (markdown) and --json.\n\n"
            "options:\n"
            "  --data DIR                dataset folder (test split)\n"
            "  --models DIR              models folder (default: models)\n"
            "  --evaluator FILE          evaluator (default: MODELS/eval/evaluator.safetensors)\n"
            "  --samples-per-prompt S    generated motions per prompt (default: 3; MultiModality needs >= 2)\n"
            "  --replications R          protocol replications (default: 6); replication r scores sample r mod S\n"
            "  --limit N                 test prompts with distinct subject texts (default: 96)\n"
            "  --batch N                 R-precision batch (default: 32, the protocol's; smaller only for tests)\n"
            "  --seed N                  prompt selection, generation and protocol seed (default: 1)\n"
            "  --steps N                 diffusion sampling steps (default: the pipeline's)\n"
            "  --rows LIST               comma-separated rows (default: gt,full,rvq1,linear,notext)\n"
            "  --results FILE            markdown report (default: docs/RESULTS.md; 'none' to skip)\n"
            "  --json FILE               the same figures as JSON\n"
            "  --quiet                   no progress lines\n",
            keyword_names);
}

/* ---------------------------------------------------------------- prompt selection */

static bool is_keyword_prompt(const char *text) {
    char low[1024];
    size_t n = strlen(text);
    if (n >= sizeof low - 1) n = sizeof low - 2;
    for (size_t i = 0; i < n; i++) low[i] = (char)tolower((unsigned char)text[i]);
    low[n] = ' '; /* so that "run " matches at the end */
    low[n + 1] = '\0';
    for (size_t k = 0; k < sizeof keyword_stems / sizeof keyword_stems[0]; k++)
        for (const char *p = strstr(low, keyword_stems[k]); p; p = strstr(p + 1, keyword_stems[k]))
            if (p == low || !isalpha((unsigned char)p[-1])) return true;
    return false;
}

/* Distinct subject texts of the test split in a seeded order, up to --limit. */
static int select_prompts(eval_ctx *c, dr_err *err) {
    int N = c->test.num_clips;
    int *perm = malloc(sizeof(int) * (size_t)(N > 0 ? N : 1));
    c->clip = malloc(sizeof(int) * (size_t)(N > 0 ? N : 1));
    if (!perm || !c->clip) {
        free(perm);
        return dr_err_set(err, DR_ENOMEM, "out of memory");
    }
    for (int i = 0; i < N; i++) perm[i] = i;
    dr_rng rng;
    dr_rng_seed(&rng, c->seed);
    dr_rng_shuffle(&rng, perm, N);
    c->n = 0;
    for (int i = 0; i < N && c->n < c->limit; i++) {
        bool seen = false;
        for (int j = 0; j < c->n && !seen; j++) seen = !strcmp(c->test.subject[c->clip[j]], c->test.subject[perm[i]]);
        if (!seen) c->clip[c->n++] = perm[i];
    }
    free(perm);
    if (c->n < 1) return dr_err_set(err, DR_EINVAL, "%s: the test split has no clips", c->data_dir);
    c->is_kw = calloc((size_t)c->n, sizeof(bool));
    c->kw_idx = malloc(sizeof(int) * (size_t)c->n);
    if (!c->is_kw || !c->kw_idx) return dr_err_set(err, DR_ENOMEM, "out of memory");
    c->n_kw = 0;
    for (int i = 0; i < c->n; i++)
        if ((c->is_kw[i] = is_keyword_prompt(c->test.subject[c->clip[i]]))) c->kw_idx[c->n_kw++] = i;
    return DR_OK;
}

/* ---------------------------------------------------------------- scoring */

static void gather(const float *src, const int *idx, int n, size_t row_floats, float *dst) {
    for (int i = 0; i < n; i++) memcpy(dst + (size_t)i * row_floats, src + (size_t)idx[i] * row_floats, sizeof(float) * row_floats);
}

/* Score a row from its motion embeddings [n, S, P]. */
static int score_row(eval_ctx *c, const float *motion, int S, row_result *row, dr_err *err) {
    int rc = dr_eval_measure(c->text_emb, motion, c->n, S, c->P, c->ref_emb, c->nr, &c->proto, &row->all, err);
    if (rc || c->n_kw < 1) return rc;
    size_t per = (size_t)S * c->P;
    float *m = malloc(sizeof(float) * (size_t)c->n_kw * per);
    if (!m) return dr_err_set(err, DR_ENOMEM, "out of memory");
    gather(motion, c->kw_idx, c->n_kw, per, m);
    rc = dr_eval_measure(c->text_kw, m, c->n_kw, S, c->P, c->ref_emb, c->nr, &c->proto, &row->kw, err);
    free(m);
    row->kw_measured = rc == DR_OK;
    return rc;
}

static int row_ground_truth(eval_ctx *c, row_result *row, dr_err *err) {
    float *m = malloc(sizeof(float) * (size_t)c->n * c->P);
    dr_pose *clips = malloc(sizeof(dr_pose) * (size_t)c->n * c->F);
    if (!m || !clips) {
        free(m), free(clips);
        return dr_err_set(err, DR_ENOMEM, "out of memory");
    }
    dr_pose_quality q;
    dr_pose_quality_init(&q);
    for (int i = 0; i < c->n; i++) {
        const dr_pose *src = dr_dataset_clip(&c->test, c->clip[i]);
        memcpy(clips + (size_t)i * c->F, src, sizeof(dr_pose) * c->F);
        dr_pose_quality_add(&q, src, c->F, c->test.width, c->test.height, DR_EVAL_CONTACT_FRACTION * c->test.height);
    }
    int rc = dr_evaluator_embed_motions(c->ev, clips, c->n, c->F, c->test.width, c->test.height, m, err);
    if (!rc) rc = score_row(c, m, 1, row, err);
    dr_pose_quality_summarize(&q, &row->pose);
    free(m);
    free(clips);
    return rc;
}

/* Generate S motions for every prompt with the pipeline of models_dir; embed and score them.
 * keep_kf: also keep the key frames (row (b), for row (d)). A failure of the pipeline (a model
 * that does not load) is the row's note, not an error of the command. */
static int row_generate(eval_ctx *c, const char *models_dir, bool keep_kf, const char *label, row_result *row,
                        dr_err *err) {
    char msg[1024];
    director_pipeline *p = NULL;
    if (director_pipeline_load(&p, models_dir, msg, sizeof msg) != DIRECTOR_OK) {
        snprintf(row->note, sizeof row->note, "failed to load the models: %s", msg);
        return DR_OK;
    }
    const int S = c->S, F = c->F, P = c->P;
    float *m = malloc(sizeof(float) * (size_t)c->n * S * P);
    dr_pose *clips = malloc(sizeof(dr_pose) * (size_t)S * F);
    if (keep_kf && !c->kf) c->kf = malloc(sizeof(dr_pose) * (size_t)c->n * S * c->K);
    if (keep_kf && !c->kf_index) c->kf_index = malloc(sizeof(int) * (size_t)c->K);
    int rc = m && clips && (!keep_kf || (c->kf && c->kf_index)) ? DR_OK : dr_err_set(err, DR_ENOMEM, "out of memory");
    dr_pose_quality q;
    dr_pose_quality_init(&q);
    dr_progress prog;
    char plabel[64];
    snprintf(plabel, sizeof plabel, "eval %s", label);
    dr_progress_begin(&prog, plabel, 0, c->n, c->quiet);
    double gen_time = 0.0;
    for (int i = 0; i < c->n && !rc && !row->note[0]; i++) {
        director_options o;
        director_options_default(&o);
        o.samples = S;
        o.seed = c->seed * 1000003ull + (uint64_t)i;
        o.quiet = 1;
        o.renderer = DIRECTOR_RENDER_NONE;
        if (c->steps > 0) o.steps = c->steps;
        director_result *r = NULL;
        double t0 = dr_now();
        const char *prompt = c->test.prompt[c->clip[i]] ? c->test.prompt[c->clip[i]] : c->test.subject[c->clip[i]];
        if (director_generate(p, prompt, &o, &r) != DIRECTOR_OK) {
            snprintf(row->note, sizeof row->note, "generation failed on test clip %d: %s", c->clip[i],
                     director_last_error(p));
            break;
        }
        gen_time += dr_now() - t0;
        if (r->num_samples != S || r->width != c->test.width || r->height != c->test.height) {
            rc = dr_err_set(err, DR_EFORMAT, "%s: the pipeline returned %d samples on %dx%d, expected %d on %dx%d",
                            models_dir, r->num_samples, r->width, r->height, S, c->test.width, c->test.height);
        }
        for (int s = 0; s < S && !rc; s++) {
            const director_sample *smp = &r->samples[s];
            if (smp->num_frames != F || (keep_kf && smp->num_keyframes != c->K)) {
                rc = dr_err_set(err, DR_EFORMAT, "%s: a sample of %d frames and %d key frames, the evaluation needs %d and %d",
                                models_dir, smp->num_frames, smp->num_keyframes, F, c->K);
                break;
            }
            /* director_sample poses are 18 x (x, y, c) floats per frame: the dr_pose layout */
            memcpy(clips + (size_t)s * F, smp->poses, sizeof(dr_pose) * F);
            dr_pose_quality_add(&q, clips + (size_t)s * F, F, c->test.width, c->test.height,
                                DR_EVAL_CONTACT_FRACTION * c->test.height);
            if (keep_kf) {
                memcpy(c->kf + ((size_t)i * S + s) * c->K, smp->keyframes, sizeof(dr_pose) * c->K);
                memcpy(c->kf_index, smp->keyframe_index, sizeof(int) * c->K);
            }
        }
        director_result_free(r);
        if (!rc)
            rc = dr_evaluator_embed_motions(c->ev, clips, S, F, c->test.width, c->test.height, m + (size_t)i * S * P, err);
        dr_progress_update(&prog, i + 1, NULL);
    }
    dr_progress_end(&prog, NULL);
    director_pipeline_free(p);
    if (!rc && !row->note[0]) {
        row->gen_seconds_per_sample = gen_time / ((double)c->n * S);
        dr_pose_quality_summarize(&q, &row->pose);
        rc = score_row(c, m, S, row, err);
        if (keep_kf && !rc) c->have_kf = true;
    }
    free(m);
    free(clips);
    return rc;
}

static int row_linear(eval_ctx *c, row_result *row, dr_err *err) {
    if (!c->have_kf) {
        snprintf(row->note, sizeof row->note, "not available: needs the full system's key frames (row full)");
        return DR_OK;
    }
    const int S = c->S, F = c->F, P = c->P;
    float *m = malloc(sizeof(float) * (size_t)c->n * S * P);
    dr_pose *clips = malloc(sizeof(dr_pose) * (size_t)S * F);
    int rc = m && clips ? DR_OK : dr_err_set(err, DR_ENOMEM, "out of memory");
    dr_pose_quality q;
    dr_pose_quality_init(&q);
    for (int i = 0; i < c->n && !rc; i++) {
        for (int s = 0; s < S && !rc; s++) {
            rc = dr_interp_linear(c->kf + ((size_t)i * S + s) * c->K, c->K, c->kf_index, F, c->test.width,
                                  c->test.height, clips + (size_t)s * F, err);
            if (!rc)
                dr_pose_quality_add(&q, clips + (size_t)s * F, F, c->test.width, c->test.height,
                                    DR_EVAL_CONTACT_FRACTION * c->test.height);
        }
        if (!rc)
            rc = dr_evaluator_embed_motions(c->ev, clips, S, F, c->test.width, c->test.height, m + (size_t)i * S * P, err);
    }
    if (!rc) {
        dr_pose_quality_summarize(&q, &row->pose);
        rc = score_row(c, m, S, row, err);
    }
    free(m);
    free(clips);
    return rc;
}

/* A models folder that is MODELS with some files replaced: symbolic links in a temporary folder.
 * replace[i] pairs a model file name with the ablation file standing in for it. */
static int ablation_dir(const char *models_dir, const char *const (*replace)[2], int n_replace, char *tmp,
                        size_t tmp_size, char *missing, size_t missing_size, dr_err *err) {
    static const char *const files[] = {"tokenizer.json", "director.safetensors", "rvq.safetensors",
                                        "text_encoder.safetensors", "interp.safetensors"};
    missing[0] = '\0';
    for (int r = 0; r < n_replace; r++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", models_dir, replace[r][1]);
        if (!dr_file_exists(path)) {
            snprintf(missing, missing_size, "%s", path);
            return DR_OK;
        }
    }
    const char *base = getenv("TMPDIR");
    snprintf(tmp, tmp_size, "%s/director-eval-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp)) return dr_err_set(err, DR_EIO, "%s: cannot create a temporary folder", tmp);
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        const char *src_name = files[f];
        for (int r = 0; r < n_replace; r++)
            if (!strcmp(files[f], replace[r][0])) src_name = replace[r][1];
        char src[4200], abs[PATH_MAX], link[4200];
        snprintf(src, sizeof src, "%s/%s", models_dir, src_name);
        snprintf(link, sizeof link, "%s/%s", tmp, files[f]);
        if (!realpath(src, abs)) continue; /* absent: the pipeline names it when loading */
        if (symlink(abs, link) != 0) {
            dr_rm_rf(tmp);
            return dr_err_set(err, DR_EIO, "%s: cannot create a link", link);
        }
    }
    return DR_OK;
}

static int row_ablation(eval_ctx *c, const char *const (*replace)[2], int n_replace, const char *label,
                        row_result *row, dr_err *err) {
    char tmp[4200], missing[4200];
    int rc = ablation_dir(c->models_dir, replace, n_replace, tmp, sizeof tmp, missing, sizeof missing, err);
    if (rc) return rc;
    if (missing[0]) {
        snprintf(row->note, sizeof row->note, "not available: %s", missing);
        return DR_OK;
    }
    rc = row_generate(c, tmp, false, label, row, err);
    dr_rm_rf(tmp);
    return rc;
}

/* ---------------------------------------------------------------- output */

static void fmt_stat(char *buf, size_t size, bool has, const dr_eval_stat *s, int decimals) {
    if (!has)
        snprintf(buf, size, "n/a");
    else
        snprintf(buf, size, "%.*f ± %.*f", decimals, s->mean, decimals, s->ci95);
}

static void table_row(FILE *f, const char *label, const row_result *row, const dr_eval_row *e, bool measured) {
    if (!measured) {
        fprintf(f, "| %s | %s | | | | | | | |\n", label, row->note[0] ? row->note : "not measured");
        return;
    }
    char t[3][64], fid[64], mm[64], div[64], mmod[64];
    for (int k = 0; k < 3; k++) fmt_stat(t[k], sizeof t[k], e->has_rprec, &e->top[k], 3);
    fmt_stat(fid, sizeof fid, e->has_fid, &e->fid, 3);
    fmt_stat(mm, sizeof mm, true, &e->mm_dist, 3);
    fmt_stat(div, sizeof div, e->diversity_pairs > 0, &e->diversity, 3);
    fmt_stat(mmod, sizeof mmod, e->has_mm, &e->multimodality, 3);
    fprintf(f, "| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", label, e->prompts, t[0], t[1], t[2], fid, mm, div,
            mmod);
}

static void write_tables(FILE *f, const eval_ctx *c, const row_result *rows) {
    static const char *hdr = "| Row | Prompts | R-prec. top-1 ↑ | top-2 ↑ | top-3 ↑ | FID ↓ | MM-Dist ↓ | Diversity → | "
                             "MultiModality ↑ |\n|---|---|---|---|---|---|---|---|---|\n";
    fprintf(f, "### All selected test prompts\n\n%s", hdr);
    for (int k = 0; k < NUM_ROWS; k++)
        if (rows[k].run) table_row(f, row_labels[k], &rows[k], &rows[k].all, rows[k].measured);
    fprintf(f, "\n### Keyword prompts (%s): %d of the %d prompts\n\n%s", keyword_names, c->n_kw, c->n, hdr);
    for (int k = 0; k < NUM_ROWS; k++)
        if (rows[k].run) table_row(f, row_labels[k], &rows[k], &rows[k].kw, rows[k].measured && rows[k].kw_measured);
    fprintf(f, "\n### Pose-level figures (all selected prompts, every generated sample)\n\n"
               "| Row | Bone-length CV ↓ | Jitter (px/frame²) ↓ | Foot sliding (px/frame) ↓ | Keypoints in frame ↑ | "
               "Generation s/sample |\n|---|---|---|---|---|---|\n");
    for (int k = 0; k < NUM_ROWS; k++) {
        if (!rows[k].run) continue;
        if (!rows[k].measured) {
            fprintf(f, "| %s | %s | | | | |\n", row_labels[k], rows[k].note);
            continue;
        }
        char gen[32] = "-";
        if (rows[k].gen_seconds_per_sample > 0) snprintf(gen, sizeof gen, "%.2f", rows[k].gen_seconds_per_sample);
        fprintf(f, "| %s | %.4f | %.3f | %.3f | %.4f | %s |\n", row_labels[k], rows[k].pose.bone_cv, rows[k].pose.jitter,
                rows[k].pose.foot_slide, rows[k].pose.inside_frame, gen);
    }
}

static cJSON *stat_json(bool has, const dr_eval_stat *s) {
    if (!has) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "mean", s->mean);
    cJSON_AddNumberToObject(o, "ci95", s->ci95);
    return o;
}

static cJSON *eval_row_json(const dr_eval_row *e) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "prompts", e->prompts);
    cJSON_AddNumberToObject(o, "samples_per_prompt", e->samples);
    cJSON_AddNumberToObject(o, "replications", e->replications);
    cJSON_AddNumberToObject(o, "batch", e->batch);
    cJSON_AddNumberToObject(o, "diversity_pairs", e->diversity_pairs);
    cJSON_AddNumberToObject(o, "multimodality_pairs", e->mm_pairs);
    cJSON_AddItemToObject(o, "r_precision_top1", stat_json(e->has_rprec, &e->top[0]));
    cJSON_AddItemToObject(o, "r_precision_top2", stat_json(e->has_rprec, &e->top[1]));
    cJSON_AddItemToObject(o, "r_precision_top3", stat_json(e->has_rprec, &e->top[2]));
    cJSON_AddItemToObject(o, "fid", stat_json(e->has_fid, &e->fid));
    cJSON_AddItemToObject(o, "mm_dist", stat_json(true, &e->mm_dist));
    cJSON_AddItemToObject(o, "diversity", stat_json(e->diversity_pairs > 0, &e->diversity));
    cJSON_AddItemToObject(o, "multimodality", stat_json(e->has_mm, &e->multimodality));
    return o;
}

static char *report_json(const eval_ctx *c, const row_result *rows, const char *command, const char *date) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "command", command);
    cJSON_AddStringToObject(root, "date", date);
    cJSON_AddStringToObject(root, "data", c->data_dir);
    cJSON_AddStringToObject(root, "models", c->models_dir);
    cJSON_AddStringToObject(root, "evaluator", c->evaluator_path);
    cJSON *tr = cJSON_Parse(dr_evaluator_training_info(c->ev));
    if (tr) cJSON_AddItemToObject(root, "evaluator_training", tr);
    cJSON_AddNumberToObject(root, "prompts", c->n);
    cJSON_AddNumberToObject(root, "keyword_prompts", c->n_kw);
    cJSON_AddNumberToObject(root, "reference_clips", c->nr);
    cJSON_AddNumberToObject(root, "samples_per_prompt", c->S);
    cJSON_AddNumberToObject(root, "replications", c->R);
    cJSON_AddNumberToObject(root, "batch", c->proto.batch);
    cJSON_AddNumberToObject(root, "seed", (double)c->seed);
    cJSON *arr = cJSON_AddArrayToObject(root, "rows");
    for (int k = 0; k < NUM_ROWS; k++) {
        if (!rows[k].run) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "row", row_keys[k]);
        cJSON_AddStringToObject(o, "label", row_labels[k]);
        cJSON_AddBoolToObject(o, "measured", rows[k].measured);
        if (!rows[k].measured) {
            cJSON_AddStringToObject(o, "note", rows[k].note);
        } else {
            cJSON_AddItemToObject(o, "all", eval_row_json(&rows[k].all));
            cJSON_AddItemToObject(o, "keywords", rows[k].kw_measured ? eval_row_json(&rows[k].kw) : cJSON_CreateNull());
            cJSON *pq = cJSON_AddObjectToObject(o, "pose");
            cJSON_AddNumberToObject(pq, "bone_length_cv", rows[k].pose.bone_cv);
            cJSON_AddNumberToObject(pq, "jitter_px_per_frame2", rows[k].pose.jitter);
            cJSON_AddNumberToObject(pq, "foot_sliding_px_per_frame", rows[k].pose.foot_slide);
            cJSON_AddNumberToObject(pq, "keypoints_in_frame", rows[k].pose.inside_frame);
            cJSON_AddNumberToObject(o, "generation_seconds_per_sample", rows[k].gen_seconds_per_sample);
        }
        cJSON_AddNumberToObject(o, "seconds", rows[k].seconds);
        cJSON_AddItemToArray(arr, o);
    }
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    return s;
}

static int write_markdown(const char *path, const eval_ctx *c, const row_result *rows, const char *command,
                          const char *date, double seconds, dr_err *err) {
    dr_atomic_file af;
    int rc = dr_atomic_open(&af, path, err);
    if (rc) return rc;
    FILE *f = af.fp;
    char host[256] = "unknown", cpu[256] = "unknown";
    gethostname(host, sizeof host);
    FILE *ci = fopen("/proc/cpuinfo", "r");
    if (ci) {
        char line[512];
        while (fgets(line, sizeof line, ci))
            if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
                snprintf(cpu, sizeof cpu, "%s", strchr(line, ':') + 2);
                cpu[strcspn(cpu, "\n")] = '\0';
                break;
            }
        fclose(ci);
    }
    fprintf(f, "# Results\n\n"
               "Measured by `director eval` (src/cli/cmd_eval.c) on %s, %s, %d threads, in %.1f minutes:\n\n"
               "```\n%s\n```\n\n",
            date, cpu, dr_get_threads(), seconds / 60.0, command);
    fprintf(f,
            "Protocol (Guo et al. 2022, as T2M-GPT and MoMask report it): texts and motions are embedded by the "
            "learned evaluator `%s` (a CLIP-architecture text encoder and a convolutional motion encoder trained "
            "contrastively on the train split only, with its own seed, sharing no weight with the generator: "
            "`director train eval`); embeddings are L2-normalized, so distances lie in [0, 2]. "
            "%d test prompts with distinct subject texts (the test split holds the held-out action-place-subject "
            "combinations), %d generated motions each, %d replications: replication r scores sample r mod %d of "
            "every prompt, in batches of %d for R-precision (each text ranked against the other motions of its "
            "batch), FID against the real motion of all %d test clips, Diversity over min(300, prompts) pairs, "
            "MultiModality over min(10, samples) pairs per prompt. Each figure is the mean ± 1.96 std / sqrt(R). "
            "Ground truth scores one real clip per prompt (no MultiModality). Diversity is best when close to the "
            "ground truth's. Figures from a different evaluator (such as HumanML3D's) are not comparable.\n\n",
            c->evaluator_path, c->n, c->S, c->R, c->S, c->proto.batch, c->nr);
    const char *training = dr_evaluator_training_info(c->ev);
    if (training[0]) fprintf(f, "Evaluator training record: `%s`\n\n", training);
    write_tables(f, c, rows);
    fprintf(f, "\nPose-level figures: bone-length CV is the coefficient of variation of each 2D limb length over a "
               "clip (averaged over limbs and clips; 2D projection makes real motion non-zero too); jitter the mean "
               "|p(t+1) - 2p(t) + p(t-1)| of present keypoints; foot sliding the mean ankle speed while the ankle is "
               "within 2%% of the canvas height of the clip's lowest ankle position; in frame the share of present "
               "keypoints inside the %dx%d canvas. Host: %s.\n",
            c->test.width, c->test.height, host);
    return dr_atomic_commit(&af, err);
}

/* ---------------------------------------------------------------- main */

static void ctx_free(eval_ctx *c) {
    dr_dataset_close(&c->test);
    dr_evaluator_free(c->ev);
    free(c->clip);
    free(c->is_kw);
    free(c->kw_idx);
    free(c->text_emb);
    free(c->text_kw);
    free(c->ref_emb);
    free(c->kf);
    free(c->kf_index);
}

static int parse_rows(const char *list, row_result *rows) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int k = 0;
        while (k < NUM_ROWS && strcmp(tok, row_keys[k])) k++;
        if (k == NUM_ROWS) return cli_usage_error(CMD, "--rows: unknown row '%s' (gt, full, rvq1, linear, notext)", tok);
        rows[k].run = true;
    }
    return 0;
}

int dr_cmd_eval(int argc, char **argv) {
    eval_ctx c;
    memset(&c, 0, sizeof c);
    c.models_dir = "models";
    /* Defaults sized so that the three generated rows fit in ~15 minutes on 2 loaded cores. */
    c.S = 3;
    c.R = 6;
    c.limit = 96;
    c.seed = 1;
    c.batch = 32;
    const char *results = "docs/RESULTS.md", *json = NULL, *rows_list = "gt,full,rvq1,linear,notext";
    char evaluator_buf[4200];
    row_result rows[NUM_ROWS];
    memset(rows, 0, sizeof rows);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        unsigned long long u;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--quiet")) {
            c.quiet = true;
            continue;
        }
        if (!v) return cli_usage_error(CMD, "option '%s' needs a value (or is unknown)", a);
        if (!strcmp(a, "--data")) c.data_dir = v;
        else if (!strcmp(a, "--models")) c.models_dir = v;
        else if (!strcmp(a, "--evaluator")) c.evaluator_path = v;
        else if (!strcmp(a, "--results")) results = v;
        else if (!strcmp(a, "--json")) json = v;
        else if (!strcmp(a, "--rows")) rows_list = v;
        else if (!strcmp(a, "--seed")) {
            if (!cli_parse_u64(CMD, a, v, &u)) return CLI_EXIT_USAGE;
            c.seed = u;
        } else if (!strcmp(a, "--samples-per-prompt")) {
            if (!cli_parse_long(CMD, a, v, 1, 1000, &n)) return CLI_EXIT_USAGE;
            c.S = (int)n;
        } else if (!strcmp(a, "--replications")) {
            if (!cli_parse_long(CMD, a, v, 1, 1000, &n)) return CLI_EXIT_USAGE;
            c.R = (int)n;
        } else if (!strcmp(a, "--limit")) {
            if (!cli_parse_long(CMD, a, v, 1, 1000000, &n)) return CLI_EXIT_USAGE;
            c.limit = (int)n;
        } else if (!strcmp(a, "--batch")) {
            if (!cli_parse_long(CMD, a, v, 2, 1000, &n)) return CLI_EXIT_USAGE;
            c.batch = (int)n;
        } else if (!strcmp(a, "--steps")) {
            if (!cli_parse_long(CMD, a, v, 1, 1000, &n)) return CLI_EXIT_USAGE;
            c.steps = (int)n;
        } else {
            return cli_usage_error(CMD, "unknown option '%s'", a);
        }
        i++;
    }
    if (!c.data_dir) return cli_usage_error(CMD, "--data DIR is required");
    if (parse_rows(rows_list, rows)) return CLI_EXIT_USAGE;
    if (!c.evaluator_path) {
        snprintf(evaluator_buf, sizeof evaluator_buf, "%s/eval/evaluator.safetensors", c.models_dir);
        c.evaluator_path = evaluator_buf;
    }
    /* The command line, for the report. */
    char command[4096] = "director";
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(command);
        snprintf(command + len, sizeof command - len, " %s", argv[i]);
    }
    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    double t_start = dr_now();

    dr_err err = {0};
    int rc = dr_dataset_open(&c.test, c.data_dir, "test", &err);
    if (rc) return cli_fail_err(CMD, &err);
    if ((rc = dr_evaluator_load(&c.ev, c.evaluator_path, &err))) goto fail;
    c.F = c.test.num_frames;
    c.K = DR_NUM_KEYFRAMES;
    c.P = dr_evaluator_dim(c.ev);
    if (dr_evaluator_frames(c.ev) != c.F) {
        rc = dr_err_set(&err, DR_EFORMAT, "%s reads clips of %d frames, %s/test.poses holds %d", c.evaluator_path,
                        dr_evaluator_frames(c.ev), c.data_dir, c.F);
        goto fail;
    }
    if ((rc = select_prompts(&c, &err))) goto fail;
    c.proto = dr_eval_protocol_default();
    c.proto.replications = c.R;
    if (c.batch) c.proto.batch = c.batch;
    c.proto.seed = c.seed;
    /* Text embeddings of the selected prompts; real-motion reference set of the whole split. */
    c.nr = c.test.num_clips;
    c.text_emb = malloc(sizeof(float) * (size_t)c.n * c.P);
    c.text_kw = malloc(sizeof(float) * (size_t)(c.n_kw > 0 ? c.n_kw : 1) * c.P);
    c.ref_emb = malloc(sizeof(float) * (size_t)c.nr * c.P);
    const char **texts = malloc(sizeof(char *) * (size_t)c.n);
    if (!c.text_emb || !c.text_kw || !c.ref_emb || !texts) {
        free(texts);
        rc = dr_err_set(&err, DR_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < c.n; i++) texts[i] = c.test.subject[c.clip[i]];
    rc = dr_evaluator_embed_texts(c.ev, texts, c.n, c.text_emb, &err);
    free(texts);
    if (rc) goto fail;
    gather(c.text_emb, c.kw_idx, c.n_kw, (size_t)c.P, c.text_kw);
    if ((rc = dr_evaluator_embed_motions(c.ev, c.test.poses, c.nr, c.F, c.test.width, c.test.height, c.ref_emb, &err)))
        goto fail;
    if (!c.quiet)
        fprintf(stderr, "director eval: %d test prompts (%d with keywords), %d samples each, %d replications\n", c.n,
                c.n_kw, c.S, c.R);

    static const char *const rvq1[2][2] = {{"rvq.safetensors", "ablation/rvq_depth1.safetensors"},
                                           {"director.safetensors", "ablation/director_rvq1.safetensors"}};
    static const char *const notext[1][2] = {{"interp.safetensors", "ablation/interp_notext.safetensors"}};
    /* Order of work: (b) before (d), which reuses (b)'s key frames. */
    static const int order[NUM_ROWS] = {ROW_GT, ROW_FULL, ROW_LINEAR, ROW_RVQ1, ROW_NOTEXT};
    for (int j = 0; j < NUM_ROWS && !rc; j++) {
        const int k = order[j];
        row_result *row = &rows[k];
        if (!row->run) continue;
        double t0 = dr_now();
        switch (k) {
        case ROW_GT: rc = row_ground_truth(&c, row, &err); break;
        case ROW_FULL: rc = row_generate(&c, c.models_dir, rows[ROW_LINEAR].run, row_keys[k], row, &err); break;
        case ROW_LINEAR: rc = row_linear(&c, row, &err); break;
        case ROW_RVQ1: rc = row_ablation(&c, rvq1, 2, row_keys[k], row, &err); break;
        default: rc = row_ablation(&c, notext, 1, row_keys[k], row, &err); break;
        }
        row->seconds = dr_now() - t0;
        row->measured = !rc && !row->note[0];
        if (!rc && !c.quiet) {
            if (row->measured)
                fprintf(stderr, "director eval: %-7s top-1 %.3f  FID %.3f  (%.1fs)\n", row_keys[k], row->all.top[0].mean,
                        row->all.fid.mean, row->seconds);
            else
                fprintf(stderr, "director eval: %-7s %s\n", row_keys[k], row->note);
        }
    }
    if (rc) goto fail;
    double seconds = dr_now() - t_start;
    write_tables(stdout, &c, rows);
    if (json) {
        char *s = report_json(&c, rows, command, date);
        rc = s ? dr_write_file_atomic(json, s, strlen(s), &err) : dr_err_set(&err, DR_ENOMEM, "out of memory");
        free(s);
        if (rc) goto fail;
    }
    if (strcmp(results, "none") && (rc = write_markdown(results, &c, rows, command, date, seconds, &err))) goto fail;
    ctx_free(&c);
    return CLI_EXIT_OK;
fail:
    ctx_free(&c);
    return cli_fail_err(CMD, &err);
}
