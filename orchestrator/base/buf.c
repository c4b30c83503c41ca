/* buf.c: a growable, NUL-terminated byte buffer. */
#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void grow(kiln_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->ptr = kiln_realloc(b->ptr, cap);
    b->cap = cap;
}

void kiln_buf_add(kiln_buf *b, const void *p, size_t n)
{
    grow(b, n);
    memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = '\0';
}

void kiln_buf_puts(kiln_buf *b, const char *s)
{
    kiln_buf_add(b, s, strlen(s));
}

void kiln_buf_vprintf(kiln_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    int n;
    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    grow(b, (size_t)n);
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void kiln_buf_printf(kiln_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void kiln_buf_clear(kiln_buf *b)
{
    b->len = 0;
    if (b->ptr)
        b->ptr[0] = '\0';
}

const char *kiln_buf_cstr(const kiln_buf *b)
{
    return b->ptr ? b->ptr : "";
}

char *kiln_buf_detach(kiln_buf *b)
{
    char *p = b->ptr ? b->ptr : kiln_strdup("");
    b->ptr = NULL;
    b->len = b->cap = 0;
    return p;
}

void kiln_buf_dispose(kiln_buf *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

void kiln_buf_json_string(kiln_buf *b, const char *s)
{
    kiln_buf_puts(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            kiln_buf_printf(b, "\\%c", *c);
        else if (*c == '\n')
            kiln_buf_puts(b, "\\n");
        else if (*c == '\t')
            kiln_buf_puts(b, "\\t");
        else if (*c == '\r')
            kiln_buf_puts(b, "\\r");
        else if (*c < 0x20)
            kiln_buf_printf(b, "\\u%04x", *c);
        else
            kiln_buf_add(b, c, 1);
    }
    kiln_buf_puts(b, "\"");
}
