/* error.h - how director reports failure.
 *
 * Every fallible function returns an int status (DR_OK = 0, a negative DR_E* code on
 * failure) and, when given a non-NULL dr_err, writes a human-readable message into it
 * that names the file and what is wrong. The library never prints, never exit()s and
 * keeps no global error state: the caller owns the dr_err, so two pipelines in one
 * process never see each other's errors. */
#ifndef DIRECTOR_CORE_ERROR_H
#define DIRECTOR_CORE_ERROR_H

#include <stddef.h>

enum {
    DR_OK = 0,
    DR_EINVAL = -1,    /* bad argument or option */
    DR_EIO = -2,       /* a file could not be opened, read or written */
    DR_EFORMAT = -3,   /* a file or input is malformed */
    DR_ENOMEM = -4,    /* out of memory */
    DR_EUNSUPPORTED = -5, /* valid but not supported (a dtype, a version, ...) */
    DR_ENOTFOUND = -6, /* a named tensor, key or file is missing */
    DR_ERANGE = -7,    /* a value is out of range (NaN, too large, too long) */
};

typedef struct dr_err {
    int code;
    char msg[1024];
} dr_err;

/* Record an error (printf-style) and return `code`, so a failure site reads
 *   return dr_err_set(err, DR_EFORMAT, "%s: truncated header", path);
 * A NULL err is allowed: the code is still returned. */
int dr_err_set(dr_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message with more context ("loading models/rvq.safetensors: ..."). */
int dr_err_prefix(dr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void dr_err_clear(dr_err *err);

/* A short name for a code ("format error"). */
const char *dr_err_name(int code);

#endif
