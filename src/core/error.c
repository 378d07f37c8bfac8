#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int dr_err_set(dr_err *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int dr_err_prefix(dr_err *err, const char *fmt, ...) {
    if (!err) return DR_OK;
    char prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return err->code;
}

void dr_err_clear(dr_err *err) {
    if (err) {
        err->code = DR_OK;
        err->msg[0] = '\0';
    }
}

const char *dr_err_name(int code) {
    switch (code) {
    case DR_OK: return "ok";
    case DR_EINVAL: return "invalid argument";
    case DR_EIO: return "I/O error";
    case DR_EFORMAT: return "format error";
    case DR_ENOMEM: return "out of memory";
    case DR_EUNSUPPORTED: return "unsupported";
    case DR_ENOTFOUND: return "not found";
    case DR_ERANGE: return "out of range";
    default: return "unknown error";
    }
}
