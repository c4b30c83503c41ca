/*
 * value.c: what a scalar means.
 *
 * kiln reads scalars by YAML 1.2 core-schema rules, with one leniency:
 * numbers and booleans may be quoted ("3" is a count like 3). Null is
 * written null, Null, NULL, ~ or nothing, and only without quotes;
 * booleans are true/false in those three spellings (never yes/no/on/off).
 */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool text_is(const kiln_ynode *n, const char *const *words)
{
    for (; *words; words++)
        if (strlen(*words) == n->n && memcmp(*words, n->u.str, n->n) == 0)
            return true;
    return false;
}

bool kiln_dsl__is_null(const kiln_ynode *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL",
                                        NULL};
    if (n->type != KILN_YNODE_SCALAR)
        return false;
    if (n->tag == KILN_YTAG_NULL)
        return true;
    return n->tag == KILN_YTAG_NONE && n->plain && text_is(n, nulls);
}

bool kiln_dsl__is_text(const kiln_ynode *n)
{
    return n->type == KILN_YNODE_SCALAR && !kiln_dsl__is_null(n);
}

int kiln_dsl__as_bool(const kiln_ynode *n, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", NULL};
    static const char *const no[] = {"false", "False", "FALSE", NULL};
    if (n->type != KILN_YNODE_SCALAR)
        return -1;
    if (text_is(n, yes))
        *out = true;
    else if (text_is(n, no))
        *out = false;
    else
        return -1;
    return 0;
}

int kiln_dsl__as_count(const kiln_ynode *n, uint64_t *out)
{
    uint64_t v = 0;
    uint32_t i;
    if (n->type != KILN_YNODE_SCALAR || n->n == 0)
        return -1;
    for (i = 0; i < n->n; i++) {
        unsigned d = (unsigned)(unsigned char)n->u.str[i] - '0';
        if (d > 9)
            return -1;
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    *out = v;
    return 0;
}

const char *kiln_dsl__describe(char *buf, const kiln_ynode *n)
{
    if (n->type == KILN_YNODE_SEQ)
        return "a list";
    if (n->type == KILN_YNODE_MAP)
        return "a mapping";
    if (kiln_dsl__is_null(n))
        return "null";
    return kiln_dsl__quote(buf, n->u.str, n->n);
}

int kiln_dsl__as_number(const kiln_ynode *n, double *out)
{
    char buf[64], *end;
    double d;
    if (n->type != KILN_YNODE_SCALAR || n->n == 0 || n->n >= sizeof(buf) ||
        kiln_dsl__is_null(n))
        return -1;
    memcpy(buf, n->u.str, n->n);
    buf[n->n] = '\0';
    /* Numbers only: strtod would also take "inf", "nan" and hex. */
    if (strspn(buf, "+-0123456789.eE") != n->n)
        return -1;
    errno = 0;
    d = strtod(buf, &end);
    if (end == buf || *end || errno == ERANGE || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}
