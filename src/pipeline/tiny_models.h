/* tiny_models.h - a complete models folder of tiny random-weight models, for tests.
 *
 * The pipeline, the evaluator and the CLI are tested end to end on these: every file
 * has the shipped models' format and vocabulary layout (6 x 512 pose codes, 20 key
 * frames, 200 frames), only the widths are tiny and the weights random, so a whole
 * generate run takes well under a second. Nothing here is used by `director generate`
 * on the shipped models. */
#ifndef DIRECTOR_PIPELINE_TINY_MODELS_H
#define DIRECTOR_PIPELINE_TINY_MODELS_H

#include <stdint.h>

#include "core/error.h"

/* Write tokenizer.json, director.safetensors, rvq.safetensors, text_encoder.safetensors
 * and interp.safetensors into `dir` (created if needed). Deterministic for a seed. */
int dr_make_tiny_models(const char *dir, uint64_t seed, dr_err *err);

#endif
