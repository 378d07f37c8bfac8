/* half.h - IEEE half precision (F16) and bfloat16 (BF16) <-> float conversions.
 *
 * Model files may store weights in 16 bits: safetensors from other tools often use
 * BF16 or F16, and GGUF exports use F16. These conversions are exact in the widening
 * direction (subnormals, infinities and NaN included) and round to nearest, ties to
 * even, when narrowing; NaN stays NaN (quiet) and overflow becomes infinity. */
#ifndef DIRECTOR_IO_HALF_H
#define DIRECTOR_IO_HALF_H

#include <stddef.h>
#include <stdint.h>

float dr_f16_to_f32(uint16_t h);
uint16_t dr_f32_to_f16(float f);
float dr_bf16_to_f32(uint16_t b);
uint16_t dr_f32_to_bf16(float f);

#endif
