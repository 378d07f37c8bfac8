/* director.c - the generation pipeline behind include/director.h.
 *
 * Stages, as in the paper's appendix A3: (1) split the prompt; the subject-level first
 * sentence goes to the LLM and the interpolator, the full prompt to the renderer;
 * (2) DirectorLLM writes 20 x 6 pose tokens under constrained decoding and the RVQ
 * decodes them into 20 key-frame poses; (3) the pose diffusion interpolator densifies
 * them into 200 frames at 30 fps; (4) renderers and writers turn poses into files.
 * Every model lives in the pipeline object, so pipelines are independent. */
#include "director.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "core/sha256.h"
#include "io/png.h"
#include "io/video.h"
#include "models/llama.h"
#include "models/pose_diffusion.h"
#include "models/prompt.h"
#include "models/rvq.h"
#include "models/text_encoder.h"
#include "models/tokenizer.h"
#include "pose/seqio.h"
#include "pose/skeleton.h"
#include "render/image.h"
#include "render/pose_draw.h"
#include "render/preview.h"
#include "render/sheet.h"

/* The files a models folder must hold, in load order. */
enum { MODEL_TOKENIZER, MODEL_LLM, MODEL_RVQ, MODEL_TEXTENC, MODEL_INTERP, NUM_MODEL_FILES };
static const char *const model_files[NUM_MODEL_FILES] = {
    "tokenizer.json", "director.safetensors", "rvq.safetensors", "text_encoder.safetensors", "interp.safetensors",
};

struct director_pipeline {
    dr_tokenizer *tokenizer;
    dr_wordlist words;      /* words seen in training, for the unknown-word warning */
    dr_llama llm;
    dr_rvq *rvq;
    dr_textenc textenc;
    dr_interp interp;
    char paths[NUM_MODEL_FILES][4096];
    char sha256[NUM_MODEL_FILES][65];
    char error[1024];
};

/* ---- errors ---------------------------------------------------------------- */

static director_status fail(director_pipeline *p, const dr_err *err) {
    snprintf(p->error, sizeof p->error, "%s", err->msg[0] ? err->msg : dr_err_name(err->code));
    return (director_status)err->code;
}

const char *director_last_error(const director_pipeline *p) { return p ? p->error : "no pipeline"; }

void director_options_default(director_options *o) {
    memset(o, 0, sizeof *o);
    o->seed = 0;
    o->samples = 1;
    o->temperature = 0.8f;
    o->top_p = 0.95f;
    o->top_k = 0;
    o->steps = 25;
    o->guidance = 1.0f;
    o->frames = DR_CLIP_FRAMES;
    o->fps = (float)DR_CLIP_FPS;
    o->width = DR_CANVAS_WIDTH;
    o->height = DR_CANVAS_HEIGHT;
    o->renderer = DIRECTOR_RENDER_PREVIEW;
    o->threads = 0;
    o->quiet = 0;
    o->bf16 = 0;
}

/* ---- loading ---------------------------------------------------------------- */

static int load_models(director_pipeline *p, const char *dir, dr_err *err) {
    for (int i = 0; i < NUM_MODEL_FILES; i++) {
        if (dr_path_join(p->paths[i], sizeof p->paths[i], dir, model_files[i]) != DR_OK)
            return dr_err_set(err, DR_ERANGE, "%s: path too long", dir);
        if (!dr_file_exists(p->paths[i]))
            return dr_err_set(err, DR_ENOTFOUND, "%s: model file missing (a models folder holds %s, %s, %s, %s and %s)",
                              p->paths[i], model_files[0], model_files[1], model_files[2], model_files[3], model_files[4]);
    }
    int rc;
    if ((rc = dr_tokenizer_load(&p->tokenizer, p->paths[MODEL_TOKENIZER], err))) return rc;
    if ((rc = dr_wordlist_from_tokenizer(&p->words, p->tokenizer, err))) return dr_err_prefix(err, "%s", p->paths[MODEL_TOKENIZER]);
    if ((rc = dr_llama_load(&p->llm, p->paths[MODEL_LLM], err))) return rc;
    if ((rc = dr_rvq_load(&p->rvq, p->paths[MODEL_RVQ], err))) return rc;
    if ((rc = dr_textenc_load(&p->textenc, p->paths[MODEL_TEXTENC], err))) return rc;
    if ((rc = dr_interp_load(&p->interp, p->paths[MODEL_INTERP], err))) return rc;
    if ((rc = dr_textenc_alloc_acts(&p->textenc, 2, err))) return rc;
    if ((rc = dr_interp_alloc_acts(&p->interp, 2, err))) return rc;

    /* The models must agree on the pose vocabulary and the clip layout. */
    const dr_llama_config *lc = &p->llm.cfg;
    if (lc->pose_levels > dr_rvq_depth(p->rvq) || lc->pose_codebook != dr_rvq_codebook_size(p->rvq) ||
        lc->pose_keyframes != dr_rvq_num_keyframes(p->rvq))
        return dr_err_set(err, DR_EFORMAT,
                          "%s and %s disagree: the LLM writes %d levels x %d codes for %d key frames, the RVQ has %d x %d "
                          "for %d", p->paths[MODEL_LLM], p->paths[MODEL_RVQ], lc->pose_levels, lc->pose_codebook,
                          lc->pose_keyframes, dr_rvq_depth(p->rvq), dr_rvq_codebook_size(p->rvq), dr_rvq_num_keyframes(p->rvq));
    if (p->interp.cfg.num_keyframes != lc->pose_keyframes)
        return dr_err_set(err, DR_EFORMAT, "%s expects %d key frames, the LLM writes %d", p->paths[MODEL_INTERP],
                          p->interp.cfg.num_keyframes, lc->pose_keyframes);
    if (lc->n_text != dr_tokenizer_text_vocab_size(p->tokenizer))
        return dr_err_set(err, DR_EFORMAT, "%s has %d text tokens but %s was trained with %d", p->paths[MODEL_TOKENIZER],
                          dr_tokenizer_text_vocab_size(p->tokenizer), p->paths[MODEL_LLM], lc->n_text);
    for (int i = 0; i < NUM_MODEL_FILES; i++)
        if ((rc = dr_sha256_file(p->paths[i], p->sha256[i], err))) return rc;
    return DR_OK;
}

director_status director_pipeline_load(director_pipeline **out, const char *models_dir, char *errbuf, size_t err_size) {
    *out = NULL;
    dr_err err;
    dr_err_clear(&err);
    director_pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        if (errbuf && err_size) snprintf(errbuf, err_size, "out of memory");
        return DIRECTOR_ENOMEM;
    }
    int rc = load_models(p, models_dir ? models_dir : "models", &err);
    if (rc) {
        if (errbuf && err_size) snprintf(errbuf, err_size, "%s", err.msg);
        director_pipeline_free(p);
        return (director_status)rc;
    }
    *out = p;
    return DIRECTOR_OK;
}

void director_pipeline_free(director_pipeline *p) {
    if (!p) return;
    dr_tokenizer_free(p->tokenizer);
    dr_wordlist_free(&p->words);
    dr_llama_free(&p->llm);
    dr_rvq_free(p->rvq);
    dr_textenc_free(&p->textenc);
    dr_interp_free(&p->interp);
    free(p);
}

/* ---- generation -------------------------------------------------------------- */

static int check_options(const director_options *o, const dr_interp_config *ic, dr_err *err) {
    if (o->samples < 1 || o->samples > 64) return dr_err_set(err, DR_EINVAL, "samples must be in [1, 64], got %d", o->samples);
    if (!(o->temperature >= 0 && o->temperature <= 10)) return dr_err_set(err, DR_EINVAL, "temperature must be in [0, 10]");
    if (!(o->top_p > 0 && o->top_p <= 1)) return dr_err_set(err, DR_EINVAL, "top-p must be in (0, 1]");
    if (o->top_k < 0) return dr_err_set(err, DR_EINVAL, "top-k must be >= 0");
    if (o->steps < 1 || o->steps > 1000) return dr_err_set(err, DR_EINVAL, "steps must be in [1, 1000], got %d", o->steps);
    if (!(o->guidance >= 0 && o->guidance <= 20)) return dr_err_set(err, DR_EINVAL, "guidance must be in [0, 20]");
    if (!(o->fps >= 1 && o->fps <= 240)) return dr_err_set(err, DR_EINVAL, "fps must be in [1, 240]");
    if (o->width < 16 || o->height < 16 || o->width > 4096 || o->height > 4096 || o->width % 2 || o->height % 2)
        return dr_err_set(err, DR_EINVAL, "size must be even and within 16x16..4096x4096, got %dx%d", o->width, o->height);
    /* The models plan one clip of ic->frames frames at 30 fps; shorter or slower-sampled
     * outputs are resampled from it, longer ones would need motion the plan does not hold. */
    double clip_seconds = (double)(ic->frames - 1) / DR_CLIP_FPS;
    double want_seconds = (double)(o->frames - 1) / o->fps;
    if (o->frames < 2 || want_seconds > clip_seconds + 1e-6)
        return dr_err_set(err, DR_EINVAL, "--frames %d at %g fps asks for %.2f s of motion; the models plan %.2f s (%d frames at %d fps)",
                          o->frames, (double)o->fps, want_seconds, clip_seconds, ic->frames, DR_CLIP_FPS);
    return DR_OK;
}

/* Resample the model's 30 fps clip at the output rate and map its 512x320 canvas onto the
 * output canvas with one uniform scale, centred, so the body keeps its proportions. A
 * keypoint is present in an output frame only if it is present at both neighbours. */
static void resample_poses(const dr_pose *in, int in_frames, int in_w, int in_h, dr_pose *out, int out_frames, float fps,
                           int out_w, int out_h) {
    double scale = fmin((double)out_w / in_w, (double)out_h / in_h);
    double ox = 0.5 * (out_w - scale * in_w), oy = 0.5 * (out_h - scale * in_h);
    for (int f = 0; f < out_frames; f++) {
        double t = (double)f * DR_CLIP_FPS / fps;
        int a = (int)floor(t);
        if (a >= in_frames - 1) a = in_frames - 1;
        int b = a + 1 < in_frames ? a + 1 : a;
        double w = t - a;
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
            const dr_keypoint *ka = &in[a].kp[j], *kb = &in[b].kp[j];
            dr_keypoint *k = &out[f].kp[j];
            bool pa = dr_keypoint_present(ka), pb = dr_keypoint_present(kb);
            if (!pa || (!pb && w > 1e-9)) {
                k->x = k->y = k->c = 0;
                continue;
            }
            double x = pb ? ka->x + w * (kb->x - ka->x) : ka->x, y = pb ? ka->y + w * (kb->y - ka->y) : ka->y;
            double c = pb ? ka->c + w * (kb->c - ka->c) : ka->c;
            k->x = (float)(ox + scale * x);
            k->y = (float)(oy + scale * y);
            k->c = (float)c;
        }
    }
}

static void pose_to_floats(const dr_pose *poses, int n, float *out) {
    for (int f = 0; f < n; f++)
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
            out[(f * DR_NUM_KEYPOINTS + j) * 3 + 0] = poses[f].kp[j].x;
            out[(f * DR_NUM_KEYPOINTS + j) * 3 + 1] = poses[f].kp[j].y;
            out[(f * DR_NUM_KEYPOINTS + j) * 3 + 2] = poses[f].kp[j].c;
        }
}

static int generate(director_pipeline *p, const char *prompt_text, const director_options *o, director_result *r, dr_err *err) {
    const dr_llama_config *lc = &p->llm.cfg;
    const dr_interp_config *ic = &p->interp.cfg;
    int rc = check_options(o, ic, err);
    if (rc) return rc;
    if (o->threads > 0) dr_set_threads(o->threads);

    /* Stage 1: the prompt. */
    dr_prompt prompt;
    if ((rc = dr_prompt_parse(&prompt, prompt_text, strlen(prompt_text), err))) return rc;
    r->prompt = prompt.full;
    r->subject_prompt = prompt.subject;
    if ((rc = dr_prompt_unknown_words(&p->words, r->subject_prompt, &r->unknown_words, &r->num_unknown_words, err))) return rc;
    int max_prompt = lc->max_seq_len - lc->pose_levels * lc->pose_keyframes - 4;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(max_prompt > 0 ? max_prompt : 1));
    if (!ids) return dr_err_set(err, DR_ENOMEM, "out of memory");
    int n_ids = 0;
    rc = dr_tokenizer_encode(p->tokenizer, r->subject_prompt, strlen(r->subject_prompt), 0, ids, max_prompt, &n_ids, err);
    if (rc == DR_ERANGE)
        dr_err_prefix(err, "the subject-level prompt (first sentence) is longer than the LLM's %d-token limit", max_prompt);
    if (rc) goto done;

    /* Stage 2: pose tokens for every sample, then key frames. */
    int levels = lc->pose_levels, K = lc->pose_keyframes, per = K * levels;
    r->num_samples = o->samples;
    r->width = o->width;
    r->height = o->height;
    r->fps = o->fps;
    r->samples = calloc((size_t)o->samples, sizeof *r->samples);
    int *codes = malloc(sizeof(int) * (size_t)o->samples * per);
    dr_pose *kf = malloc(sizeof(dr_pose) * (size_t)K), *dense = malloc(sizeof(dr_pose) * (size_t)ic->frames);
    dr_pose *out_frames = malloc(sizeof(dr_pose) * (size_t)o->frames);
    if (!r->samples || !codes || !kf || !dense || !out_frames) {
        rc = dr_err_set(err, DR_ENOMEM, "out of memory");
        goto stage_done;
    }
    dr_progress prog;
    dr_progress_begin(&prog, "generate", 0, 3L * o->samples, o->quiet);
    double t0 = dr_now();
    dr_llama_sampling sp = {.temperature = o->temperature, .top_k = o->top_k, .top_p = o->top_p,
                            .bf16_weights = o->bf16 != 0};
    if ((rc = dr_llama_generate_pose(&p->llm, ids, n_ids, o->samples, &sp, o->seed, codes, err))) goto stage_done;
    double t_llm = (dr_now() - t0) / o->samples;
    dr_progress_update(&prog, o->samples, "LLM pose tokens");

    for (int s = 0; s < o->samples; s++) {
        director_sample *smp = &r->samples[s];
        double t1 = dr_now();
        if ((rc = dr_rvq_decode(p->rvq, codes + (size_t)s * per, 1, levels, DR_CANVAS_WIDTH, DR_CANVAS_HEIGHT, kf, err)))
            goto stage_done;
        double t2 = dr_now();
        dr_progress_update(&prog, o->samples + 2L * s + 1, "RVQ decode");
        /* Stage 3: 200 frames; each sample its own diffusion noise stream. */
        dr_interp_opts io = dr_interp_default_opts();
        io.steps = o->steps;
        io.guidance_kf = o->guidance;
        io.guidance_text = o->guidance;
        io.seed = o->seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(s + 1));
        if ((rc = dr_interp_run(&p->interp, &p->textenc, ids, n_ids, kf, K, NULL, DR_CANVAS_WIDTH, DR_CANVAS_HEIGHT, &io,
                                dense, err)))
            goto stage_done;
        double t3 = dr_now();
        dr_progress_update(&prog, o->samples + 2L * s + 2, "diffusion");

        smp->num_tokens = per;
        smp->num_keyframes = K;
        smp->num_frames = o->frames;
        smp->tokens = malloc(sizeof(int) * (size_t)per);
        smp->keyframe_index = malloc(sizeof(int) * (size_t)K);
        smp->keyframes = malloc(sizeof(float) * (size_t)K * DR_NUM_KEYPOINTS * 3);
        smp->poses = malloc(sizeof(float) * (size_t)o->frames * DR_NUM_KEYPOINTS * 3);
        if (!smp->tokens || !smp->keyframe_index || !smp->keyframes || !smp->poses) {
            rc = dr_err_set(err, DR_ENOMEM, "out of memory");
            goto stage_done;
        }
        memcpy(smp->tokens, codes + (size_t)s * per, sizeof(int) * (size_t)per);
        /* Key frames sit every frames/K model frames; map them to output frame numbers. */
        dr_pose kf_out;
        for (int k = 0; k < K; k++) {
            int model_frame = k * (ic->frames / K);
            smp->keyframe_index[k] = (int)lround(model_frame * o->fps / DR_CLIP_FPS);
            resample_poses(&kf[k], 1, DR_CANVAS_WIDTH, DR_CANVAS_HEIGHT, &kf_out, 1, (float)DR_CLIP_FPS, o->width, o->height);
            pose_to_floats(&kf_out, 1, smp->keyframes + (size_t)k * DR_NUM_KEYPOINTS * 3);
        }
        resample_poses(dense, ic->frames, DR_CANVAS_WIDTH, DR_CANVAS_HEIGHT, out_frames, o->frames, o->fps, o->width, o->height);
        pose_to_floats(out_frames, o->frames, smp->poses);
        smp->seconds_llm = t_llm;
        smp->seconds_rvq = t2 - t1;
        smp->seconds_diffusion = t3 - t2;
    }
    dr_progress_end(&prog, NULL);
stage_done:
    free(codes);
    free(kf);
    free(dense);
    free(out_frames);
done:
    free(ids);
    return rc;
}

director_status director_generate(director_pipeline *p, const char *prompt, const director_options *opts,
                                  director_result **out) {
    *out = NULL;
    dr_err err;
    dr_err_clear(&err);
    p->error[0] = '\0';
    director_options defaults;
    if (!opts) {
        director_options_default(&defaults);
        opts = &defaults;
    }
    if (!prompt) {
        dr_err_set(&err, DR_EINVAL, "no prompt given");
        return fail(p, &err);
    }
    director_result *r = calloc(1, sizeof *r);
    if (!r) {
        dr_err_set(&err, DR_ENOMEM, "out of memory");
        return fail(p, &err);
    }
    int rc = generate(p, prompt, opts, r, &err);
    if (rc) {
        director_result_free(r);
        return fail(p, &err);
    }
    *out = r;
    return DIRECTOR_OK;
}

void director_result_free(director_result *r) {
    if (!r) return;
    for (int s = 0; s < r->num_samples && r->samples; s++) {
        free(r->samples[s].tokens);
        free(r->samples[s].keyframe_index);
        free(r->samples[s].keyframes);
        free(r->samples[s].poses);
    }
    free(r->samples);
    dr_words_free(r->unknown_words, r->num_unknown_words);
    free(r->prompt);
    free(r->subject_prompt);
    free(r);
}

/* ---- rendering ---------------------------------------------------------------- */

/* A dr_pose_seq view of one sample (frames copied: the result stores plain floats). */
static int sample_to_seq(const director_result *r, int s, dr_pose_seq *seq) {
    const director_sample *smp = &r->samples[s];
    int rc = dr_pose_seq_alloc(seq, smp->num_frames, r->fps, r->width, r->height);
    if (rc) return rc;
    for (int f = 0; f < smp->num_frames; f++)
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
            const float *v = smp->poses + ((size_t)f * DR_NUM_KEYPOINTS + j) * 3;
            seq->frames[f].kp[j] = (dr_keypoint){v[0], v[1], v[2]};
        }
    if ((rc = dr_pose_seq_set_prompt(seq, r->prompt))) goto fail;
    seq->keyframes = malloc(sizeof(int) * (size_t)smp->num_keyframes);
    if (!seq->keyframes) { rc = DR_ENOMEM; goto fail; }
    seq->num_keyframes = 0;
    for (int k = 0; k < smp->num_keyframes; k++) /* key frames beyond a shortened clip are dropped */
        if (smp->keyframe_index[k] < smp->num_frames) seq->keyframes[seq->num_keyframes++] = smp->keyframe_index[k];
    return DR_OK;
fail:
    dr_pose_seq_free(seq);
    return rc;
}

static int check_frame(const director_result *r, int sample, int frame, dr_err *err) {
    if (!r || sample < 0 || sample >= r->num_samples) return dr_err_set(err, DR_EINVAL, "no sample %d", sample);
    if (frame < 0 || frame >= r->samples[sample].num_frames) return dr_err_set(err, DR_EINVAL, "no frame %d", frame);
    return DR_OK;
}

director_status director_render_skeleton(director_pipeline *p, const director_result *r, int sample, int frame,
                                         uint8_t *rgb) {
    dr_err err;
    dr_err_clear(&err);
    if (check_frame(r, sample, frame, &err)) return fail(p, &err);
    dr_image img = {r->width, r->height, rgb};
    dr_pose pose;
    const float *v = r->samples[sample].poses + (size_t)frame * DR_NUM_KEYPOINTS * 3;
    for (int j = 0; j < DR_NUM_KEYPOINTS; j++) pose.kp[j] = (dr_keypoint){v[3 * j], v[3 * j + 1], v[3 * j + 2]};
    dr_render_pose(&img, &pose, r->width, r->height);
    return DIRECTOR_OK;
}

director_status director_render_preview(director_pipeline *p, const director_result *r, int sample, int frame,
                                        uint8_t *rgb) {
    dr_err err;
    dr_err_clear(&err);
    if (check_frame(r, sample, frame, &err)) return fail(p, &err);
    dr_pose_seq seq;
    if (sample_to_seq(r, sample, &seq)) {
        dr_err_set(&err, DR_ENOMEM, "out of memory");
        return fail(p, &err);
    }
    dr_preview_style style;
    dr_preview_style_from_prompt(&style, r->prompt);
    dr_preview *pv = NULL;
    dr_image img = {r->width, r->height, rgb};
    int rc = dr_preview_create(&pv, &style, &seq, r->width, r->height, &err);
    if (!rc) rc = dr_preview_render_frame(pv, &seq, frame, &img, &err);
    dr_preview_free(pv);
    dr_pose_seq_free(&seq);
    return rc ? fail(p, &err) : DIRECTOR_OK;
}

/* ---- output folder -------------------------------------------------------------- */

typedef struct frame_set {
    dr_image *frames;
    int count;
} frame_set;

static void frame_set_free(frame_set *fs) {
    for (int i = 0; i < fs->count && fs->frames; i++) dr_image_free(&fs->frames[i]);
    free(fs->frames);
    fs->frames = NULL;
    fs->count = 0;
}

static int frame_set_alloc(frame_set *fs, int count, int w, int h, dr_err *err) {
    fs->frames = calloc((size_t)count, sizeof(dr_image));
    fs->count = 0;
    if (!fs->frames) return dr_err_set(err, DR_ENOMEM, "out of memory for %d frames", count);
    for (; fs->count < count; fs->count++)
        if (dr_image_alloc(&fs->frames[fs->count], w, h)) {
            frame_set_free(fs);
            return dr_err_set(err, DR_ENOMEM, "out of memory for %d frames of %dx%d", count, w, h);
        }
    return DR_OK;
}

/* Keep only the frames a contact sheet shows, so that many samples do not hold every
 * frame of every video in memory at once. */
static void frame_set_keep_sheet_frames(frame_set *fs);

static int write_video(const char *path, const frame_set *fs, float fps, dr_err *err) {
    dr_video_writer *w = NULL;
    int rc = dr_video_open(&w, path, DR_VIDEO_MP4, fs->frames[0].width, fs->frames[0].height, fps, err);
    for (int i = 0; !rc && i < fs->count; i++) rc = dr_video_write(w, &fs->frames[i], err);
    if (rc) {
        if (w) dr_video_abort(w);
        return rc;
    }
    return dr_video_close(w, err);
}

/* Copy src scaled by nearest neighbour into dst at (x0, y0) with size (w, h). */
static void blit_scaled(dr_image *dst, int x0, int y0, int w, int h, const dr_image *src) {
    for (int y = 0; y < h; y++) {
        int sy = y * src->height / h;
        for (int x = 0; x < w; x++) {
            int sx = x * src->width / w;
            memcpy(dr_image_pixel(dst, x0 + x, y0 + y), src->rgb + ((size_t)sy * src->width + sx) * 3, 3);
        }
    }
}

/* A contact sheet of `cols` evenly spaced frames: one row per frame set given. */
#define SHEET_COLS 8
static int write_sheet(const char *path, const frame_set *const *rows, int nrows, dr_err *err) {
    const dr_image *first = &rows[0]->frames[0];
    int cell_w = 192, cell_h = cell_w * first->height / first->width, gap = 4;
    dr_image sheet;
    if (dr_image_alloc(&sheet, SHEET_COLS * (cell_w + gap) + gap, nrows * (cell_h + gap) + gap))
        return dr_err_set(err, DR_ENOMEM, "out of memory for the contact sheet");
    dr_image_fill(&sheet, 32, 32, 32);
    for (int r = 0; r < nrows; r++)
        for (int c = 0; c < SHEET_COLS; c++) {
            int f = dr_sheet_frame_index(c, SHEET_COLS, rows[r]->count);
            blit_scaled(&sheet, gap + c * (cell_w + gap), gap + r * (cell_h + gap), cell_w, cell_h, &rows[r]->frames[f]);
        }
    int rc = dr_png_write(path, &sheet, err);
    dr_image_free(&sheet);
    return rc;
}

static void frame_set_keep_sheet_frames(frame_set *fs) {
    if (fs->count <= SHEET_COLS) return;
    for (int c = 0; c < SHEET_COLS; c++) {
        int f = dr_sheet_frame_index(c, SHEET_COLS, fs->count);
        dr_image keep = fs->frames[f];
        fs->frames[f] = fs->frames[c]; /* frame indices increase with c, so f >= c */
        fs->frames[c] = keep;
    }
    for (int i = SHEET_COLS; i < fs->count; i++) dr_image_free(&fs->frames[i]);
    fs->count = SHEET_COLS;
}

static cJSON *int_array(const int *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n && a; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static cJSON *pose_array(const float *v, int n) {
    cJSON *frames = cJSON_CreateArray();
    for (int f = 0; f < n; f++) {
        cJSON *pose = cJSON_CreateArray();
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
            const float *k = v + ((size_t)f * DR_NUM_KEYPOINTS + j) * 3;
            cJSON *kp = cJSON_CreateArray();
            for (int c = 0; c < 3; c++) cJSON_AddItemToArray(kp, cJSON_CreateNumber(round(k[c] * 1000.0) / 1000.0));
            cJSON_AddItemToArray(pose, kp);
        }
        cJSON_AddItemToArray(frames, pose);
    }
    return frames;
}

static cJSON *sample_json(const director_sample *s, int levels) {
    cJSON *o = cJSON_CreateObject();
    cJSON *tok = cJSON_AddArrayToObject(o, "tokens");
    for (int k = 0; k < s->num_keyframes; k++) cJSON_AddItemToArray(tok, int_array(s->tokens + k * levels, levels));
    cJSON_AddItemToObject(o, "keyframe_index", int_array(s->keyframe_index, s->num_keyframes));
    cJSON_AddItemToObject(o, "keyframes", pose_array(s->keyframes, s->num_keyframes));
    cJSON *t = cJSON_AddObjectToObject(o, "seconds");
    cJSON_AddNumberToObject(t, "llm", s->seconds_llm);
    cJSON_AddNumberToObject(t, "rvq", s->seconds_rvq);
    cJSON_AddNumberToObject(t, "diffusion", s->seconds_diffusion);
    return o;
}

static int write_plan(const director_pipeline *p, const director_result *r, const director_options *o, const char *path,
                      int first, int count, dr_err *err) {
    cJSON *plan = cJSON_CreateObject();
    cJSON_AddStringToObject(plan, "format", "director-plan");
    cJSON_AddNumberToObject(plan, "version", 1);
    cJSON_AddStringToObject(plan, "director_version", DIRECTOR_VERSION);
    cJSON *pr = cJSON_AddObjectToObject(plan, "prompt");
    cJSON_AddStringToObject(pr, "full", r->prompt);
    cJSON_AddStringToObject(pr, "subject", r->subject_prompt);
    cJSON *unk = cJSON_AddArrayToObject(pr, "unknown_words");
    for (int i = 0; i < r->num_unknown_words; i++) cJSON_AddItemToArray(unk, cJSON_CreateString(r->unknown_words[i]));
    cJSON *models = cJSON_AddArrayToObject(plan, "models");
    for (int i = 0; i < NUM_MODEL_FILES; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "file", p->paths[i]);
        cJSON_AddStringToObject(m, "sha256", p->sha256[i]);
        cJSON_AddItemToArray(models, m);
    }
    cJSON *st = cJSON_AddObjectToObject(plan, "settings");
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    cJSON_AddStringToObject(st, "seed", seed); /* a string: JSON numbers lose 64-bit seeds */
    cJSON_AddNumberToObject(st, "samples", o->samples);
    cJSON_AddNumberToObject(st, "temperature", o->temperature);
    cJSON_AddNumberToObject(st, "top_p", o->top_p);
    cJSON_AddNumberToObject(st, "top_k", o->top_k);
    cJSON_AddStringToObject(st, "llm_weights", o->bf16 ? "bf16" : "fp32"); /* settings that change tokens */
    cJSON_AddNumberToObject(st, "steps", o->steps);
    cJSON_AddNumberToObject(st, "guidance", o->guidance);
    cJSON_AddNumberToObject(st, "frames", o->frames);
    cJSON_AddNumberToObject(st, "fps", o->fps);
    cJSON_AddNumberToObject(st, "width", o->width);
    cJSON_AddNumberToObject(st, "height", o->height);
    cJSON_AddStringToObject(st, "renderer", o->renderer == DIRECTOR_RENDER_PREVIEW ? "preview"
                                                : o->renderer == DIRECTOR_RENDER_SKELETON ? "skeleton" : "none");
    cJSON_AddNumberToObject(st, "pose_levels", p->llm.cfg.pose_levels);
    cJSON_AddNumberToObject(st, "pose_codebook", p->llm.cfg.pose_codebook);
    cJSON *samples = cJSON_AddArrayToObject(plan, "samples");
    for (int s = first; s < first + count; s++) {
        cJSON *sj = sample_json(&r->samples[s], p->llm.cfg.pose_levels);
        cJSON_AddNumberToObject(sj, "sample", s);
        cJSON_AddItemToArray(samples, sj);
    }
    char *text = cJSON_Print(plan);
    cJSON_Delete(plan);
    if (!text) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    int rc = dr_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

/* Everything for one sample into `dir` (which exists). */
static int write_sample(director_pipeline *p, const director_result *r, const director_options *o, int s, const char *dir,
                        frame_set *skel, frame_set *prev, dr_err *err) {
    char path[4200];
    dr_pose_seq seq;
    int rc = sample_to_seq(r, s, &seq);
    if (rc) return dr_err_set(err, rc, "out of memory");
#define PATH(name) (snprintf(path, sizeof path, "%s/%s", dir, name), path)
    if ((rc = write_plan(p, r, o, PATH("plan.json"), s, 1, err))) goto done;
    if ((rc = dr_seq_write_json(PATH("poses.json"), &seq, err))) goto done;
    if ((rc = dr_openpose_write_dir(PATH("openpose"), &seq, "frame", err))) goto done;
    if (o->renderer == DIRECTOR_RENDER_NONE) goto done;

    if ((rc = frame_set_alloc(skel, seq.num_frames, r->width, r->height, err))) goto done;
#pragma omp parallel for schedule(static)
    for (int f = 0; f < seq.num_frames; f++) dr_draw_pose(&skel->frames[f], &seq.frames[f], r->width, r->height);
    if ((rc = dr_mkdir_p(PATH("pose"), err))) goto done;
    /* PNG encoding dominates; frames are independent files, so encode in parallel. */
    int png_rc = DR_OK;
    dr_err png_err;
    dr_err_clear(&png_err);
#pragma omp parallel for schedule(dynamic, 4)
    for (int f = 0; f < seq.num_frames; f++) {
        char fp[4200];
        dr_err e;
        snprintf(fp, sizeof fp, "%s/pose/frame_%06d.png", dir, f);
        int frc = dr_png_write(fp, &skel->frames[f], &e);
        if (frc) {
#pragma omp critical
            if (!png_rc) {
                png_rc = frc;
                png_err = e;
            }
        }
    }
    if (png_rc) {
        *err = png_err;
        rc = png_rc;
        goto done;
    }
    if ((rc = write_video(PATH("pose.mp4"), skel, r->fps, err))) goto done;
    const frame_set *rows[2] = {skel, NULL};
    int nrows = 1;
    if (o->renderer == DIRECTOR_RENDER_PREVIEW) {
        dr_preview_style style;
        dr_preview_style_from_prompt(&style, r->prompt);
        dr_preview *pv = NULL;
        if ((rc = dr_preview_create(&pv, &style, &seq, r->width, r->height, err))) goto done;
        if (!(rc = frame_set_alloc(prev, seq.num_frames, r->width, r->height, err)))
            rc = dr_preview_render_all(pv, &seq, prev->frames, err);
        dr_preview_free(pv);
        if (rc) goto done;
        if ((rc = write_video(PATH("preview.mp4"), prev, r->fps, err))) goto done;
        rows[0] = prev;
        rows[1] = skel;
        nrows = 2;
    }
    rc = write_sheet(PATH("sheet.png"), rows, nrows, err);
#undef PATH
done:
    dr_pose_seq_free(&seq);
    return rc;
}

director_status director_write_outputs(director_pipeline *p, const director_result *r, const director_options *opts,
                                       const char *dir) {
    dr_err err;
    dr_err_clear(&err);
    p->error[0] = '\0';
    director_options defaults;
    if (!opts) {
        director_options_default(&defaults);
        opts = &defaults;
    }
    if (!r || r->num_samples < 1 || !dir || !*dir) {
        dr_err_set(&err, DR_EINVAL, "nothing to write or no output folder given");
        return fail(p, &err);
    }
    /* Build everything in a temporary sibling folder and rename it at the end, so the
     * output folder is either complete or untouched (disk full, a crash, a bad path). */
    char tmp[4200], sub[4400];
    int rc = dr_tmpdir_create(dir, tmp, sizeof tmp, &err);
    if (rc) return fail(p, &err);
    frame_set skel = {0}, prev = {0};
    const frame_set **sheet_rows = calloc((size_t)r->num_samples * 2, sizeof *sheet_rows);
    frame_set *all_skel = calloc((size_t)r->num_samples, sizeof *all_skel);
    frame_set *all_prev = calloc((size_t)r->num_samples, sizeof *all_prev);
    if (!sheet_rows || !all_skel || !all_prev) {
        rc = dr_err_set(&err, DR_ENOMEM, "out of memory");
        goto done;
    }
    if (r->num_samples == 1) {
        rc = write_sample(p, r, opts, 0, tmp, &skel, &prev, &err);
    } else {
        /* One folder per sample, a plan of all of them and a sheet with one row each. */
        int nrows = 0;
        for (int s = 0; s < r->num_samples && !rc; s++) {
            snprintf(sub, sizeof sub, "%s/sample_%d", tmp, s);
            if (!(rc = dr_mkdir_p(sub, &err))) rc = write_sample(p, r, opts, s, sub, &all_skel[s], &all_prev[s], &err);
            frame_set_keep_sheet_frames(&all_skel[s]);
            frame_set_keep_sheet_frames(&all_prev[s]);
            if (!rc && opts->renderer != DIRECTOR_RENDER_NONE)
                sheet_rows[nrows++] = opts->renderer == DIRECTOR_RENDER_PREVIEW ? &all_prev[s] : &all_skel[s];
        }
        snprintf(sub, sizeof sub, "%s/plan.json", tmp);
        if (!rc) rc = write_plan(p, r, opts, sub, 0, r->num_samples, &err);
        snprintf(sub, sizeof sub, "%s/sheet.png", tmp);
        if (!rc && nrows) rc = write_sheet(sub, sheet_rows, nrows, &err);
    }
    if (!rc) rc = dr_tmpdir_commit(tmp, dir, &err);
done:
    frame_set_free(&skel);
    frame_set_free(&prev);
    for (int s = 0; s < r->num_samples && all_skel; s++) {
        frame_set_free(&all_skel[s]);
        frame_set_free(&all_prev[s]);
    }
    free(all_skel);
    free(all_prev);
    free(sheet_rows);
    if (rc) {
        dr_rm_rf(tmp);
        return fail(p, &err);
    }
    return DIRECTOR_OK;
}
