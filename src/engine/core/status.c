/*
 * status.c — status names and the per-thread last-error line.
 * Library code records what went wrong here; only the CLI prints it.
 */
#include <stdarg.h>
#include <stdio.h>

#include "pdiff.h"

static _Thread_local char last_error[512];

const char *pd_status_name(pd_status s) {
    switch (s) {
    case PD_OK: return "ok";
    case PD_ERR_IO: return "I/O error";
    case PD_ERR_FORMAT: return "malformed file";
    case PD_ERR_SHAPE: return "shape mismatch";
    case PD_ERR_NOMEM: return "out of memory or size out of bounds";
    case PD_ERR_ARG: return "bad argument";
    case PD_ERR_NOTFOUND: return "not found";
    case PD_ERR_NAN: return "non-finite value";
    }
    return "unknown status";
}

pd_status pd_fail(pd_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return s;
}

pd_status pd_fail_at(pd_status s, const char *label, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pd_fail(s, "%s: %s", label, msg);
}

const char *pd_last_error(void) {
    return last_error[0] ? last_error : "no error recorded";
}
