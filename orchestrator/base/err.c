/* err.c: kiln_err, the one error type every module returns through. */
#include "base/base.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void vset(kiln_err *err, int code, const char *fmt, va_list ap)
{
    err->code = code;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int kiln_err_set(kiln_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vset(err, code, fmt, ap);
        va_end(ap);
        err->pos.file = NULL;
        err->pos.line = err->pos.col = 0;
    }
    return code;
}

int kiln_err_set_os(kiln_err *err, const char *fmt, ...)
{
    int saved = errno;
    if (err) {
        va_list ap;
        size_t n;
        va_start(ap, fmt);
        vset(err, KILN_ERROR, fmt, ap);
        va_end(ap);
        n = strlen(err->msg);
        snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(saved));
        err->pos.file = NULL;
        err->pos.line = err->pos.col = 0;
    }
    return KILN_ERROR;
}

int kiln_err_set_at(kiln_err *err, int code, kiln_pos pos, const char *fmt,
                    ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vset(err, code, fmt, ap);
        va_end(ap);
        err->pos = pos;
    }
    return code;
}

void kiln_err_print(const kiln_err *err)
{
    if (err->pos.file && err->pos.line)
        fprintf(stderr, "%s:%u:%u: error: %s\n", err->pos.file, err->pos.line,
                err->pos.col, err->msg);
    else if (err->pos.file)
        fprintf(stderr, "%s: error: %s\n", err->pos.file, err->msg);
    else
        fprintf(stderr, "kiln: error: %s\n", err->msg);
}

int kiln_err_exit_code(int code)
{
    switch (code) {
    case KILN_OK:
        return KILN_EXIT_OK;
    case KILN_EINVAL:
    case KILN_ENOTFOUND:
        return KILN_EXIT_USAGE;
    case KILN_ECANCELED:
    case KILN_ETIMEDOUT:
        return KILN_EXIT_FAILED;
    default:
        return KILN_EXIT_SYSTEM;
    }
}
