/* expr.c: parsing and evaluating gate expressions. */
#include "expr.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper nesting than this is refused (the parser recurses), and so are
 * expressions of more nodes (evaluation recurses over them). */
#define MAX_DEPTH 64
#define MAX_NODES 1000

typedef struct parser {
    const char *text, *p;
    kiln_arena *arena;
    kiln_err *err;
    size_t err_at;
    int depth;
    int nodes;
    bool failed;
} parser;

static void skip_ws(parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
           *ps->p == '\r')
        ps->p++;
}

static kiln_expr *fail(parser *ps, const char *at, const char *fmt, ...)
    KILN_PRINTF(3, 4);

static kiln_expr *fail(parser *ps, const char *at, const char *fmt, ...)
{
    if (!ps->failed) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        kiln_err_set(ps->err, KILN_EINVAL, "%s", msg);
        ps->err_at = (size_t)(at - ps->text);
        ps->failed = true;
    }
    return NULL;
}

static kiln_expr *node(parser *ps, kiln_expr_kind kind, const char *at)
{
    kiln_expr *e = kiln_arena_alloc(ps->arena, sizeof(*e));
    if (++ps->nodes > MAX_NODES)
        fail(ps, at, "the expression is too long (more than %d terms)",
             MAX_NODES);
    e->kind = kind;
    e->offset = (unsigned)(at - ps->text);
    return e;
}

static bool accept(parser *ps, const char *tok)
{
    size_t n = strlen(tok);
    skip_ws(ps);
    if (strncmp(ps->p, tok, n) == 0) {
        ps->p += n;
        return true;
    }
    return false;
}

static bool name_char(char c, bool dots)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' ||
           (dots && c == '.');
}

static const char *word(parser *ps, bool dots)
{
    const char *start = ps->p;
    while (name_char(*ps->p, dots))
        ps->p++;
    /* A key does not end with a dot. */
    while (dots && ps->p > start && ps->p[-1] == '.')
        ps->p--;
    return ps->p > start ? kiln_arena_strndup(ps->arena, start,
                                              (size_t)(ps->p - start))
                         : NULL;
}

static kiln_expr *parse_or(parser *ps);

static kiln_expr *parse_sum(parser *ps);

/* value := NUMBER | metrics.STEP.KEY | params.NAME | "(" sum ")" */
static kiln_expr *parse_value(parser *ps)
{
    const char *at;
    kiln_expr *e;
    skip_ws(ps);
    at = ps->p;
    if (*at == '(') {
        ps->p++;
        if (++ps->depth > MAX_DEPTH)
            return fail(ps, at, "the expression is nested too deeply");
        e = parse_sum(ps);
        ps->depth--;
        if (e && !accept(ps, ")"))
            return fail(ps, ps->p, "expected \")\"");
        return e;
    }
    if (*at == '-' && !isdigit((unsigned char)at[1]) && at[1] != '.') {
        /* A negated value: -metrics.a.b, -(x + y). */
        ps->p++;
        if (++ps->depth > MAX_DEPTH)
            return fail(ps, at, "the expression is nested too deeply");
        e = node(ps, KILN_EXPR_NEG, at);
        e->a = parse_value(ps);
        ps->depth--;
        return e->a ? e : NULL;
    }
    if (isdigit((unsigned char)*at) || *at == '-' || *at == '+' ||
        *at == '.') {
        char *end;
        double v;
        errno = 0;
        v = strtod(at, &end);
        if (end == at || errno == ERANGE || !isfinite(v) ||
            isalpha((unsigned char)*end) || *end == '_')
            return fail(ps, at, "expected a number");
        e = node(ps, KILN_EXPR_NUMBER, at);
        e->number = v;
        ps->p = end;
        return e;
    }
    if (strncmp(at, "metrics.", 8) == 0) {
        ps->p += 8;
        e = node(ps, KILN_EXPR_METRIC, at);
        if (!(e->step = word(ps, false)))
            return fail(ps, ps->p, "expected a step name after "
                        "\"metrics.\"");
        if (*ps->p != '.')
            return fail(ps, ps->p, "expected \"metrics.STEP.KEY\"");
        ps->p++;
        if (!(e->key = word(ps, true)))
            return fail(ps, ps->p, "expected a metric name after "
                        "\"metrics.%s.\"", e->step);
        return e;
    }
    if (strncmp(at, "params.", 7) == 0) {
        ps->p += 7;
        e = node(ps, KILN_EXPR_PARAM, at);
        if (!(e->key = word(ps, false)))
            return fail(ps, ps->p, "expected a parameter name after "
                        "\"params.\"");
        return e;
    }
    if (*at == '\0')
        return fail(ps, at, "expected a value, got the end of the "
                    "expression");
    return fail(ps, at, "expected a number, metrics.STEP.KEY or "
                "params.NAME");
}

/* sum := term (("+" | "-") term)*   term := value (("*" | "/") value)* */
static kiln_expr *parse_term(parser *ps)
{
    kiln_expr *a = parse_value(ps);
    while (a) {
        char op;
        skip_ws(ps);
        op = *ps->p;
        if (op != '*' && op != '/')
            return a;
        ps->p++;
        kiln_expr *e = node(ps, KILN_EXPR_ARITH, ps->text + a->offset);
        e->op[0] = op;
        e->a = a;
        if (!(e->b = parse_value(ps)))
            return NULL;
        a = e;
    }
    return NULL;
}

static kiln_expr *parse_sum(parser *ps)
{
    kiln_expr *a = parse_term(ps);
    while (a) {
        char op;
        skip_ws(ps);
        op = *ps->p;
        if (op != '+' && op != '-')
            return a;
        ps->p++;
        kiln_expr *e = node(ps, KILN_EXPR_ARITH, ps->text + a->offset);
        e->op[0] = op;
        e->a = a;
        if (!(e->b = parse_term(ps)))
            return NULL;
        a = e;
    }
    return NULL;
}

/* cmp := "(" expr ")" | sum OP sum. A "(" opens a condition, unless what
 * it holds is a value: "(a + b) > c" is a comparison. */
static kiln_expr *parse_cmp(parser *ps)
{
    static const char *const ops[] = {"<=", ">=", "==", "!=", "<", ">"};
    kiln_expr *a, *e;
    const char *at;
    skip_ws(ps);
    at = ps->p;
    if (*at == '(') {
        parser saved = *ps, tried;
        kiln_err err_saved = *ps->err, err_tried;
        ps->p++;
        e = parse_or(ps);
        if (e && !ps->failed && !accept(ps, ")"))
            fail(ps, ps->p, "expected \")\"");
        else if (e && !ps->failed) {
            skip_ws(ps);
            if (!strchr("+-*/<>=!", *ps->p) || !*ps->p ||
                (*ps->p == '!' && ps->p[1] != '='))
                return e;
        }
        /* Not a condition in parentheses: a value, as below. When that
         * fails too, the error is the one of the reading that got
         * further. */
        tried = *ps;
        err_tried = *ps->err;
        *ps = saved;
        *ps->err = err_saved;
        if (!(a = parse_sum(ps))) {
            if (tried.failed && tried.err_at > ps->err_at) {
                *ps->err = err_tried;
                ps->err_at = tried.err_at;
            }
            return NULL;
        }
    } else if (!(a = parse_sum(ps))) {
        return NULL;
    }
    skip_ws(ps);
    for (size_t i = 0; i < KILN_ARRAY_SIZE(ops); i++) {
        if (accept(ps, ops[i])) {
            e = node(ps, KILN_EXPR_CMP, at);
            snprintf(e->op, sizeof(e->op), "%s", ops[i]);
            e->a = a;
            if (!(e->b = parse_sum(ps)))
                return NULL;
            return e;
        }
    }
    return fail(ps, ps->p, "expected a comparison (<, <=, >, >=, ==, !=) "
                "after the value");
}

static kiln_expr *parse_not(parser *ps)
{
    const char *at;
    kiln_expr *e;
    skip_ws(ps);
    at = ps->p;
    if (*at == '!' && at[1] != '=') {
        ps->p++;
        if (++ps->depth > MAX_DEPTH)
            return fail(ps, at, "the expression is nested too deeply");
        e = node(ps, KILN_EXPR_NOT, at);
        e->a = parse_not(ps);
        ps->depth--;
        return e->a ? e : NULL;
    }
    return parse_cmp(ps);
}

static kiln_expr *parse_binary(parser *ps, const char *tok,
                               kiln_expr_kind kind,
                               kiln_expr *(*sub)(parser *))
{
    kiln_expr *a = sub(ps);
    while (a && accept(ps, tok)) {
        kiln_expr *e = node(ps, kind, ps->text + a->offset);
        e->a = a;
        if (!(e->b = sub(ps)))
            return NULL;
        a = e;
    }
    return a;
}

static kiln_expr *parse_and(parser *ps)
{
    return parse_binary(ps, "&&", KILN_EXPR_AND, parse_not);
}

static kiln_expr *parse_or(parser *ps)
{
    kiln_expr *e;
    if (++ps->depth > MAX_DEPTH)
        return fail(ps, ps->p, "the expression is nested too deeply");
    e = parse_binary(ps, "||", KILN_EXPR_OR, parse_and);
    ps->depth--;
    return e;
}

int kiln_expr_parse(kiln_expr **out, kiln_arena *arena, const char *text,
                    size_t *offset, kiln_err *err)
{
    parser ps = {text, text, arena, err, 0, 0, 0, false};
    kiln_expr *e = parse_or(&ps);
    *out = NULL;
    if (ps.failed)
        e = NULL;
    if (e) {
        skip_ws(&ps);
        if (*ps.p)
            e = fail(&ps, ps.p, *ps.p == '=' || *ps.p == '&' || *ps.p == '|'
                     ? "unexpected \"%c\" (use ==, && or ||)"
                     : "unexpected \"%c\" after the expression", *ps.p);
    }
    if (!e) {
        *offset = ps.err_at;
        return KILN_EINVAL;
    }
    *out = e;
    return 0;
}

/* Evaluation. */

/* Has trace said "name = " already? Each value is told once. */
static bool traced(const kiln_buf *trace, const char *name)
{
    const char *t = kiln_buf_cstr(trace), *at;
    size_t n = strlen(name);
    for (at = strstr(t, name); at; at = strstr(at + 1, name))
        if ((at == t || (at >= t + 2 && at[-2] == ',' && at[-1] == ' ')) &&
            strncmp(at + n, " = ", 3) == 0)
            return true;
    return false;
}

static int value(double *out, const kiln_expr *e, kiln_expr_lookup lookup,
                 void *data, kiln_buf *trace, kiln_err *err)
{
    double a, b;
    char name[600];
    int rc;
    if (e->kind == KILN_EXPR_NUMBER) {
        *out = e->number;
        return 0;
    }
    if (e->kind == KILN_EXPR_NEG) {
        if ((rc = value(&a, e->a, lookup, data, trace, err)) != 0)
            return rc;
        *out = -a;
        return 0;
    }
    if (e->kind == KILN_EXPR_ARITH) {
        if ((rc = value(&a, e->a, lookup, data, trace, err)) != 0 ||
            (rc = value(&b, e->b, lookup, data, trace, err)) != 0)
            return rc;
        if (e->op[0] == '/' && b == 0)
            return kiln_err_set(err, KILN_EINVAL, "division by zero (%g / "
                                "0)", a);
        *out = e->op[0] == '+' ? a + b : e->op[0] == '-' ? a - b
               : e->op[0] == '*' ? a * b : a / b;
        if (!isfinite(*out))
            return kiln_err_set(err, KILN_EINVAL, "%g %c %g is not a "
                                "finite number", a, e->op[0], b);
        return 0;
    }
    if (!lookup(out, e, data)) {
        if (e->kind == KILN_EXPR_METRIC)
            return kiln_err_set(err, KILN_ENOTFOUND, "metric "
                                "metrics.%s.%s was not recorded", e->step,
                                e->key);
        return kiln_err_set(err, KILN_ENOTFOUND, "params.%s is not a number",
                            e->key);
    }
    if (trace) {
        if (e->kind == KILN_EXPR_METRIC)
            snprintf(name, sizeof(name), "metrics.%s.%s", e->step, e->key);
        else
            snprintf(name, sizeof(name), "params.%s", e->key);
        if (!traced(trace, name))
            kiln_buf_printf(trace, "%s%s = %g", trace->len ? ", " : "",
                            name, *out);
    }
    return 0;
}

int kiln_expr_eval(bool *result, const kiln_expr *e, kiln_expr_lookup lookup,
                   void *data, kiln_buf *trace, kiln_err *err)
{
    double a, b;
    bool x;
    int rc;
    switch (e->kind) {
    case KILN_EXPR_CMP:
        if ((rc = value(&a, e->a, lookup, data, trace, err)) != 0 ||
            (rc = value(&b, e->b, lookup, data, trace, err)) != 0)
            return rc;
        switch (e->op[0]) {
        case '<':
            *result = e->op[1] ? a <= b : a < b;
            break;
        case '>':
            *result = e->op[1] ? a >= b : a > b;
            break;
        case '=':
            *result = a == b;
            break;
        default:
            *result = a != b;
        }
        return 0;
    case KILN_EXPR_NOT:
        if ((rc = kiln_expr_eval(&x, e->a, lookup, data, trace, err)) != 0)
            return rc;
        *result = !x;
        return 0;
    case KILN_EXPR_AND:
    case KILN_EXPR_OR:
        /* Both sides are evaluated, so the trace shows every value and a
         * missing metric is an error whichever way the other side went. */
        if ((rc = kiln_expr_eval(&x, e->a, lookup, data, trace, err)) != 0 ||
            (rc = kiln_expr_eval(result, e->b, lookup, data, trace, err)))
            return rc;
        *result = e->kind == KILN_EXPR_AND ? x && *result : x || *result;
        return 0;
    default:
        return kiln_err_set(err, KILN_EINVAL, "not a condition");
    }
}

void kiln_expr_walk(const kiln_expr *e,
                    void (*fn)(const kiln_expr *ref, void *data), void *data)
{
    if (!e)
        return;
    if (e->kind == KILN_EXPR_METRIC || e->kind == KILN_EXPR_PARAM)
        fn(e, data);
    kiln_expr_walk(e->a, fn, data);
    kiln_expr_walk(e->b, fn, data);
}
