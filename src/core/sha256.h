/* sha256.h - SHA-256 (FIPS 180-4) of a buffer or a file.
 *
 * The pipeline records the hash of every model file it used in plan.json, so a result
 * can be traced to the exact weights. Streaming: init / update any number of times /
 * final; files are read in 64 KiB blocks, never whole. */
#ifndef DIRECTOR_CORE_SHA256_H
#define DIRECTOR_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define DR_SHA256_SIZE 32
#define DR_SHA256_HEX_SIZE 65 /* 64 hex digits + NUL */

typedef struct dr_sha256_ctx {
    uint32_t state[8];
    uint64_t length; /* bytes hashed so far */
    unsigned char block[64];
    size_t fill;
} dr_sha256_ctx;

void dr_sha256_init(dr_sha256_ctx *ctx);
void dr_sha256_update(dr_sha256_ctx *ctx, const void *data, size_t size);
void dr_sha256_final(dr_sha256_ctx *ctx, unsigned char digest[DR_SHA256_SIZE]);

/* One-shot hash of a buffer. */
void dr_sha256(const void *data, size_t size, unsigned char digest[DR_SHA256_SIZE]);
/* Lower-case hex of a digest. */
void dr_sha256_hex(const unsigned char digest[DR_SHA256_SIZE], char hex[DR_SHA256_HEX_SIZE]);
/* Hash of a file's contents as lower-case hex; errors name the file. */
int dr_sha256_file(const char *path, char hex[DR_SHA256_HEX_SIZE], dr_err *err);

#endif
