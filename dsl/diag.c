/* diag.c: collecting, sorting and printing the errors of one load. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTE_SHOW 64 /* bytes of user text shown before "..." */

void kiln_dsl__ctx_init(kiln_dsl_ctx *c, kiln_diag *diag, const char *file)
{
    c->diag = diag;
    c->file = file;
    c->first = diag->n;
    c->n_errors = 0;
    c->suggest_budget = KILN_DSL_SUGGEST_BUDGET;
}

void kiln_dsl__error(kiln_dsl_ctx *c, unsigned line, unsigned col,
                     const char *fmt, ...)
{
    kiln_diag *d = c->diag;
    kiln_err *e;
    va_list ap;

    c->n_errors++;
    if (d->n >= KILN_DIAG_MAX) {
        d->dropped++;
        return;
    }
    /* kiln_diag has no capacity field, so grow one at a time; there are
     * never more than KILN_DIAG_MAX. */
    d->errs = kiln_realloc(d->errs, (d->n + 1) * sizeof(*d->errs));
    e = &d->errs[d->n++];
    memset(e, 0, sizeof(*e));
    e->code = KILN_EINVAL;
    e->pos.file = c->file;
    e->pos.line = line;
    e->pos.col = line ? col : 0;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
}

static bool before(const kiln_err *a, const kiln_err *b)
{
    return a->pos.line < b->pos.line ||
           (a->pos.line == b->pos.line && a->pos.col < b->pos.col);
}

/* Insertion sort: stable, and there are at most KILN_DIAG_MAX errors. */
void kiln_dsl__sort_errors(kiln_dsl_ctx *c)
{
    kiln_err *e = c->diag->errs, tmp;
    size_t i, j;
    for (i = c->first + 1; i < c->diag->n; i++) {
        if (!before(&e[i], &e[i - 1]))
            continue;
        tmp = e[i];
        for (j = i; j > c->first && before(&tmp, &e[j - 1]); j--)
            e[j] = e[j - 1];
        e[j] = tmp;
    }
}

/* Length of the UTF-8 sequence starting at s[0], at most left. libyaml
 * has already refused invalid UTF-8, so this only guards the buffer. */
static size_t utf8_len(const char *s, size_t left)
{
    size_t n = 1;
    while (n < 4 && n < left && ((unsigned char)s[n] & 0xC0) == 0x80)
        n++;
    return n;
}

const char *kiln_dsl__quote(char *buf, const char *s, size_t len)
{
    size_t o = 0, i = 0;
    bool cut = false;

    buf[o++] = '"';
    while (i < len) {
        unsigned char ch = (unsigned char)s[i];
        char esc[8];
        const char *piece = esc;
        size_t n = 2, step = 1;

        esc[0] = '\\';
        if (ch >= 0x80) {
            piece = s + i;
            n = step = utf8_len(s + i, len - i);
        } else if (ch == '"' || ch == '\\') {
            esc[1] = (char)ch;
        } else if (ch == '\n') {
            esc[1] = 'n';
        } else if (ch == '\t') {
            esc[1] = 't';
        } else if (ch == '\r') {
            esc[1] = 'r';
        } else if (ch < 0x20 || ch == 0x7f) {
            n = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", ch);
        } else {
            piece = s + i;
            n = 1;
        }
        if (o - 1 + n > QUOTE_SHOW) {
            cut = true;
            break;
        }
        memcpy(buf + o, piece, n);
        o += n;
        i += step;
    }
    if (cut) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

void kiln_diag_dispose(kiln_diag *d)
{
    if (!d)
        return;
    free(d->errs);
    d->errs = NULL;
    d->n = d->dropped = 0;
}

void kiln_diag_format(const kiln_diag *d, kiln_buf *out)
{
    size_t i;
    for (i = 0; i < d->n; i++) {
        const kiln_err *e = &d->errs[i];
        if (e->pos.file && e->pos.line)
            kiln_buf_printf(out, "%s:%u:%u: error: %s\n", e->pos.file,
                            e->pos.line, e->pos.col, e->msg);
        else if (e->pos.file)
            kiln_buf_printf(out, "%s: error: %s\n", e->pos.file, e->msg);
        else
            kiln_buf_printf(out, "kiln: error: %s\n", e->msg);
    }
    if (d->dropped)
        kiln_buf_printf(out, "%s: note: %zu more error%s not shown\n",
                        d->n && d->errs[d->n - 1].pos.file
                            ? d->errs[d->n - 1].pos.file : "kiln",
                        d->dropped, d->dropped == 1 ? "" : "s");
}

void kiln_diag_print(const kiln_diag *d)
{
    kiln_buf b = KILN_BUF_INIT;
    kiln_diag_format(d, &b);
    fputs(kiln_buf_cstr(&b), stderr);
    kiln_buf_dispose(&b);
}
