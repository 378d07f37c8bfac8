/* director.h - the public C API of director: text prompt -> pose plan -> video frames.
 *
 * One call loads a pipeline from a models folder (the shipped models/ or your own),
 * one call runs the paper's generation pipeline for a prompt into memory, and further
 * calls render frames into caller buffers or write the standard output folder. The
 * library keeps no global state: every pipeline owns its models, scratch memory and
 * last error message, so two pipelines may run in one process (one thread each). It
 * never prints unless asked to report progress, and never exits.
 *
 *   director_pipeline *p;
 *   char err[1024];
 *   if (director_pipeline_load(&p, "models", err, sizeof err) != DIRECTOR_OK) { puts(err); return 1; }
 *   director_options o;
 *   director_options_default(&o);
 *   director_result *r;
 *   if (director_generate(p, "The video shows a man jogging in a park.", &o, &r) != DIRECTOR_OK)
 *       puts(director_last_error(p));
 *   ... r->samples[0].poses holds 200 x 18 x (x, y, confidence) in pixels ...
 *   director_result_free(r);
 *   director_pipeline_free(p);
 */
#ifndef DIRECTOR_H
#define DIRECTOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DIRECTOR_VERSION "0.1.0"

/* Status codes (negative = failure); same values as the internal DR_E* codes. */
typedef enum director_status {
    DIRECTOR_OK = 0,
    DIRECTOR_EINVAL = -1,      /* bad argument, option or prompt */
    DIRECTOR_EIO = -2,         /* a file could not be read or written (disk full, permissions) */
    DIRECTOR_EFORMAT = -3,     /* a model or input file is malformed */
    DIRECTOR_ENOMEM = -4,
    DIRECTOR_EUNSUPPORTED = -5,
    DIRECTOR_ENOTFOUND = -6,   /* a model file is missing */
    DIRECTOR_ERANGE = -7,      /* a value out of range (prompt too long, ...) */
} director_status;

typedef enum director_renderer {
    DIRECTOR_RENDER_NONE = 0,
    DIRECTOR_RENDER_SKELETON = 1, /* ControlNet OpenPose condition frames only */
    DIRECTOR_RENDER_PREVIEW = 2,  /* skeleton frames and the preview video */
} director_renderer;

#define DIRECTOR_NUM_KEYPOINTS 18

typedef struct director_options {
    uint64_t seed;          /* every random choice flows from it */
    int samples;            /* different motions for one prompt (>= 1) */
    float temperature;      /* LLM sampling temperature (0 = greedy) */
    float top_p;            /* nucleus sampling (1 = off) */
    int top_k;              /* 0 = off */
    int steps;              /* diffusion sampling steps (DDIM) */
    float guidance;         /* classifier-free guidance scale of the interpolator */
    int frames;             /* output frames (200 = the models' clip) */
    float fps;              /* output frame rate (30) */
    int width, height;      /* output canvas (512 x 320) */
    director_renderer renderer;
    int threads;            /* 0 = all cores */
    int quiet;              /* 1 = no progress on stderr */
    int bf16;               /* 1 = the LLM decodes from a bfloat16 copy of its weights:
                               about twice as fast, sampled tokens may differ from fp32 */
} director_options;

void director_options_default(director_options *opts);

/* One generated motion. Poses are DIRECTOR_NUM_KEYPOINTS x (x, y, confidence) per frame, in
 * pixels of the width x height canvas; a missing keypoint is (0, 0, 0). */
typedef struct director_sample {
    int num_tokens;         /* 120 = 20 key frames x 6 levels */
    int *tokens;            /* pose codes, key-frame major: tokens[f * levels + k] in [0, 512) */
    int num_keyframes;      /* 20 */
    int *keyframe_index;    /* frame index of each key frame in the dense sequence */
    float *keyframes;       /* num_keyframes x 18 x 3 */
    int num_frames;
    float *poses;           /* num_frames x 18 x 3 */
    double seconds_llm, seconds_rvq, seconds_diffusion; /* stage timings */
} director_sample;

typedef struct director_result {
    char *prompt;           /* the full prompt, whitespace-normalized (for the renderer) */
    char *subject_prompt;   /* its first sentence (for the LLM and the interpolator) */
    int num_unknown_words;  /* words of the subject prompt never seen in training */
    char **unknown_words;
    int width, height;
    float fps;
    int num_samples;
    director_sample *samples;
} director_result;

typedef struct director_pipeline director_pipeline;

/* Load every model from a folder holding tokenizer.json, director.safetensors,
 * rvq.safetensors, text_encoder.safetensors and interp.safetensors. On failure *out is
 * NULL and err (if not NULL) names the file and what is wrong. */
director_status director_pipeline_load(director_pipeline **out, const char *models_dir, char *err, size_t err_size);
void director_pipeline_free(director_pipeline *p);
/* Message of the last failure of a call on this pipeline ("" if none). */
const char *director_last_error(const director_pipeline *p);

/* Run stages 1-3 of the paper (prompt split, LLM pose tokens + RVQ decode, diffusion
 * interpolation) for one prompt. */
director_status director_generate(director_pipeline *p, const char *prompt, const director_options *opts,
                                  director_result **out);
void director_result_free(director_result *r);

/* Render frame `frame` of sample `sample` into rgb (width * height * 3 bytes, row-major). */
director_status director_render_skeleton(director_pipeline *p, const director_result *r, int sample, int frame,
                                         uint8_t *rgb);
director_status director_render_preview(director_pipeline *p, const director_result *r, int sample, int frame,
                                        uint8_t *rgb);

/* Write the standard output folder for a result: plan.json, poses.json, openpose/,
 * pose/ PNG frames, pose.mp4, preview.mp4 (renderer PREVIEW), sheet.png; with several
 * samples, one sub-folder sample_N each. Built in a temporary folder and renamed into
 * place, so `dir` is either complete or untouched. */
director_status director_write_outputs(director_pipeline *p, const director_result *r, const director_options *opts,
                                       const char *dir);

#ifdef __cplusplus
}
#endif

#endif
