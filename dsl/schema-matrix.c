/*
 * schema-matrix.c: matrix:, a step swept over values of pipeline params
 * (schema.h). The values are checked and stored here, on the step read;
 * matrix.c expands the step into its items once every step is read.
 *
 *   matrix:
 *     lr: [0.01, 0.1]                  # values, as written
 *     depth: {from: 2, to: 6, step: 2} # a range: 2, 4, 6
 *     exclude: [{lr: 0.01, depth: 6}]  # combinations taken out
 *     include: [{lr: 0.3, depth: 8}]   # combinations (or keys) added
 *     max_parallel: 2                  # items running at once
 *     max_items: 20000                 # 10,000 by default
 *     on_failure: continue             # fail_fast by default
 *
 * Every other key is a param, declared at the top level. Values are
 * scalars of letters, digits and "._+-": they name the item
 * (train[lr=0.1,depth=2]), its logs and its outputs' paths.
 */
#include "schema.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MATRIX_MAX_ITEMS 10000
/* max_items: may raise it this far: every item is a step in the model
 * (some 500 bytes each), and in every run's record. */
#define MATRIX_ITEMS_CAP 100000

/* The keys of matrix: that are not params. */
static const char *const reserved[] = {
    "include", "exclude", "max_parallel", "max_items", "on_failure",
};

static bool is_key(const kiln_ynode *n, const char *name)
{
    return strlen(name) == n->n && memcmp(n->u.str, name, n->n) == 0;
}

/* The pipeline's param called n's text, or NULL (after an error naming
 * st, with a "did you mean"). */
static const kiln_kv *declared(vctx *v, const kiln_step *st,
                               const kiln_ynode *n, const char *where)
{
    const kiln_pipeline *p = v->p;
    const char **names, *guess;
    char q[KILN_DSL_QUOTE_SIZE], qs[KILN_DSL_QUOTE_SIZE];
    size_t i;

    for (i = 0; i < p->n_params; i++)
        if (is_key(n, p->params[i].key))
            return &p->params[i];
    kiln_dsl__quote(q, n->u.str, n->n);
    kiln_dsl__quote(qs, st->name, strlen(st->name));
    if (p->n_params == 0) {
        error_at(v, n, "%s of step %s: %s is not a param: the pipeline "
                 "declares none (add it to the top-level \"params:\")",
                 where, qs, q);
        return NULL;
    }
    names = kiln_malloc(p->n_params * sizeof(*names));
    for (i = 0; i < p->n_params; i++)
        names[i] = p->params[i].key;
    guess = kiln_dsl__suggest(v->c, n->u.str, n->n, names, p->n_params);
    if (guess)
        error_at(v, n, "%s of step %s: unknown param %s (did you mean "
                 "\"%s\"?)", where, qs, q, guess);
    else
        error_at(v, n, "%s of step %s: unknown param %s: declare it in "
                 "the top-level \"params:\"", where, qs, q);
    free(names);
    return NULL;
}

/* A matrix value: a scalar of [A-Za-z0-9._+-]. */
static bool value_ok(vctx *v, const kiln_ynode *n, const char *param)
{
    char got[KILN_DSL_QUOTE_SIZE];
    bool ok = kiln_dsl__is_text(n) && n->n > 0 && n->n <= 64;
    for (uint32_t i = 0; ok && i < n->n; i++) {
        char ch = n->u.str[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
             (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
             ch == '+' || ch == '-';
    }
    if (!ok)
        error_at(v, n, "matrix: %s: expected a value of letters, digits "
                 "and \"._+-\" (at most 64), got %s", param,
                 kiln_dsl__describe(got, n));
    return ok;
}

/* Fraction digits written in a number ("0.05" -> 2, "1e-3" -> -1: an
 * exponent, formatted with %g instead). */
static int decimals(const kiln_ynode *n)
{
    const char *dot = memchr(n->u.str, '.', n->n);
    if (memchr(n->u.str, 'e', n->n) || memchr(n->u.str, 'E', n->n))
        return -1;
    return dot ? (int)(n->n - (uint32_t)(dot - n->u.str) - 1) : 0;
}

/* Format x with d fraction digits, without trailing zeros (d < 0: the
 * shortest %g that reads back as x). */
static const char *format_number(vctx *v, double x, int d)
{
    char buf[64];
    if (d < 0) {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof(buf), "%.*g", prec, x);
            if (strtod(buf, NULL) == x)
                break;
        }
    } else {
        char *end;
        snprintf(buf, sizeof(buf), "%.*f", d, x);
        end = buf + strlen(buf);
        if (strchr(buf, '.')) {
            while (end[-1] == '0')
                *--end = '\0';
            if (end[-1] == '.')
                *--end = '\0';
        }
        if (strcmp(buf, "-0") == 0)
            strcpy(buf, "0");
    }
    return kiln_arena_strdup(v->p->arena, buf);
}

/* {from, to, step}: numbers, step > 0, to included (within a millionth
 * of a step, so 0.1 to 0.3 by 0.1 has 0.3). Returns false after an
 * error. */
static bool set_range(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                      kiln_matrix_axis *ax, uint64_t max_items)
{
    const kiln_ynode *from = NULL, *to = NULL, *step = NULL;
    char got[KILN_DSL_QUOTE_SIZE];
    double a, b, s, count;
    int d;

    for (uint32_t i = 0; i < val->n; i++) {
        const kiln_ynode *k = val->u.items[2 * i], *x = val->u.items[2 * i + 1];
        if (kiln_dsl__is_text(k) && is_key(k, "from"))
            from = x;
        else if (kiln_dsl__is_text(k) && is_key(k, "to"))
            to = x;
        else if (kiln_dsl__is_text(k) && is_key(k, "step"))
            step = x;
        else {
            error_at(v, k, "matrix: %s: unknown key %s in a range (expected "
                     "from:, to: and step:)", ax->param,
                     kiln_dsl__describe(got, k));
            return false;
        }
    }
    if (!from || !to || !step) {
        error_at(v, val, "matrix: %s: a range needs from:, to: and step:",
                 ax->param);
        return false;
    }
    if (kiln_dsl__as_number(from, &a) < 0 || kiln_dsl__as_number(to, &b) < 0 ||
        kiln_dsl__as_number(step, &s) < 0) {
        const kiln_ynode *bad = kiln_dsl__as_number(from, &a) < 0 ? from
                                : kiln_dsl__as_number(to, &b) < 0 ? to : step;
        error_at(v, bad, "matrix: %s: expected a number, got %s", ax->param,
                 kiln_dsl__describe(got, bad));
        return false;
    }
    if (!(s > 0)) {
        error_at(v, step, "matrix: %s: step: must be above 0, got %s",
                 ax->param, kiln_dsl__describe(got, step));
        return false;
    }
    if (b < a) {
        error_at(v, val, "matrix: %s: the range is empty (to: is below "
                 "from:)", ax->param);
        return false;
    }
    count = floor((b - a) / s + 1e-6) + 1;
    if (count > (double)max_items) {
        error_at(v, val, "matrix: %s: the range has %.0f values, more than "
                 "the %llu items a matrix may have (max_items: raises it)",
                 ax->param, count, (unsigned long long)max_items);
        return false;
    }
    d = decimals(from) < 0 || decimals(step) < 0 ? -1
        : decimals(from) > decimals(step) ? decimals(from) : decimals(step);
    ax->n_values = (size_t)count;
    ax->values = kiln_arena_alloc(v->p->arena,
                                  ax->n_values * sizeof(*ax->values));
    for (size_t i = 0; i < ax->n_values; i++)
        ax->values[i] = format_number(v, a + (double)i * s, d);
    (void)key;
    return true;
}

/* A param's values: a list of scalars or a range. */
static void set_axis(vctx *v, const kiln_step *st, const kiln_ynode *key,
                     const kiln_ynode *val, kiln_matrix *m)
{
    kiln_matrix_axis *ax = &m->axes[m->n_axes];
    char got[KILN_DSL_QUOTE_SIZE], q[KILN_DSL_QUOTE_SIZE];

    if (!declared(v, st, key, "matrix"))
        return;
    for (size_t i = 0; i < m->n_axes; i++)
        if (is_key(key, m->axes[i].param))
            return; /* a duplicate key: yamlnode.c said so */
    memset(ax, 0, sizeof(*ax));
    ax->param = model_str(v, key);
    ax->pos = model_pos(v, key);
    if (val->type == KILN_YNODE_MAP) {
        if (set_range(v, key, val, ax, m->max_items))
            m->n_axes++;
        return;
    }
    if (val->type != KILN_YNODE_SEQ) {
        error_at(v, val, "matrix: %s: expected a list of values or a range "
                 "{from, to, step}, got %s", ax->param,
                 kiln_dsl__describe(got, val));
        return;
    }
    if (val->n == 0) {
        error_at(v, val, "matrix: %s has no values", ax->param);
        return;
    }
    ax->values = kiln_arena_alloc(v->p->arena, val->n * sizeof(*ax->values));
    for (uint32_t i = 0; i < val->n && charge(v, val->u.items[i]); i++) {
        const kiln_ynode *it = val->u.items[i];
        size_t j;
        if (!value_ok(v, it, ax->param))
            return;
        for (j = 0; j < ax->n_values; j++)
            if (is_key(it, ax->values[j]))
                break;
        if (j < ax->n_values) {
            error_at(v, it, "matrix: %s: value %s is given twice", ax->param,
                     kiln_dsl__quote(q, it->u.str, it->n));
            return;
        }
        ax->values[ax->n_values++] = model_str(v, it);
    }
    m->n_axes++;
}

/* include: or exclude:, a list of mappings of params to values; an
 * exclude: names only the matrix's params. */
static void set_combos(vctx *v, const kiln_step *st, const kiln_ynode *key,
                       const kiln_ynode *val, kiln_matrix *m, bool include)
{
    char got[KILN_DSL_QUOTE_SIZE], q[KILN_DSL_QUOTE_SIZE];
    const char *what = include ? "include" : "exclude";
    kiln_matrix_combo *list;
    size_t n = 0;

    if (kiln_dsl__is_null(val))
        return;
    if (val->type != KILN_YNODE_SEQ) {
        error_at(v, val, "matrix: %s: expected a list of mappings of params "
                 "to values, got %s", what, kiln_dsl__describe(got, val));
        return;
    }
    list = kiln_arena_alloc(v->p->arena, (val->n + 1) * sizeof(*list));
    for (uint32_t i = 0; i < val->n && charge(v, val->u.items[i]); i++) {
        const kiln_ynode *c = val->u.items[i];
        kiln_matrix_combo *co = &list[n];
        bool ok = true;
        if (c->type != KILN_YNODE_MAP || c->n == 0) {
            error_at(v, c, "matrix: %s: expected a mapping of params to "
                     "values, got %s", what, kiln_dsl__describe(got, c));
            continue;
        }
        co->kv = kiln_arena_alloc(v->p->arena, c->n * sizeof(*co->kv));
        co->n = 0;
        co->pos = model_pos(v, c);
        for (uint32_t j = 0; j < c->n; j++) {
            const kiln_ynode *k = c->u.items[2 * j];
            const kiln_ynode *x = c->u.items[2 * j + 1];
            size_t a;
            if (!kiln_dsl__is_text(k)) {
                error_at(v, k, "matrix: %s: expected a param name, got %s",
                         what, kiln_dsl__describe(got, k));
                ok = false;
                continue;
            }
            for (a = 0; a < m->n_axes; a++)
                if (is_key(k, m->axes[a].param))
                    break;
            if (!include && a == m->n_axes) {
                error_at(v, k, "matrix: exclude: %s is not a param of the "
                         "matrix", kiln_dsl__quote(q, k->u.str, k->n));
                ok = false;
                continue;
            }
            if (include && a == m->n_axes &&
                !declared(v, st, k, "matrix: include"))
                ok = false;
            else if (!value_ok(v, x, model_str(v, k)))
                ok = false;
            else {
                co->kv[co->n].key = model_str(v, k);
                co->kv[co->n].value = model_str(v, x);
                co->kv[co->n].pos = model_pos(v, k);
                co->n++;
            }
        }
        if (ok)
            n++;
    }
    if (include) {
        m->include = list;
        m->n_include = n;
    } else {
        m->exclude = list;
        m->n_exclude = n;
    }
}

/* matrix: on a step; target: kiln_step. */
void kiln_dsl__set_matrix(vctx *v, const kiln_ynode *key,
                          const kiln_ynode *val, void *obj, const keyspec *k)
{
    kiln_step *st = obj;
    kiln_matrix *m;
    char got[KILN_DSL_QUOTE_SIZE], q[KILN_DSL_QUOTE_SIZE];
    const kiln_ynode *inc = NULL, *exc = NULL;
    uint64_t n;
    uint32_t i;
    size_t r, written = 0, errors = v->c->n_errors;

    kiln_dsl__quote(q, st->name, strlen(st->name));
    if (val->type != KILN_YNODE_MAP && !kiln_dsl__is_null(val)) {
        error_at(v, val, "%s: expected a mapping of params to lists of "
                 "values, got %s", k->name, kiln_dsl__describe(got, val));
        return;
    }
    m = kiln_arena_alloc(v->p->arena, sizeof(*m));
    memset(m, 0, sizeof(*m));
    m->step = st->name;
    m->pos = model_pos(v, key);
    m->max_items = MATRIX_MAX_ITEMS;
    m->axes = kiln_arena_alloc(v->p->arena,
                               (val->n + 1) * sizeof(*m->axes));
    /* The settings first: max_items: bounds the ranges. */
    for (i = 0; val->type == KILN_YNODE_MAP && i < val->n; i++) {
        const kiln_ynode *kn = val->u.items[2 * i];
        const kiln_ynode *x = val->u.items[2 * i + 1];
        if (!kiln_dsl__is_text(kn) || (x->flags & KILN_YNODE_BAD))
            continue;
        if (is_key(kn, "max_parallel")) {
            if (kiln_dsl__as_count(x, &n) < 0 || n == 0 || n > 1000000)
                error_at(v, x, "matrix: max_parallel: expected an integer "
                         "from 1 to 1000000, got %s",
                         kiln_dsl__describe(got, x));
            else
                m->max_parallel = (unsigned)n;
        } else if (is_key(kn, "max_items")) {
            if (kiln_dsl__as_count(x, &n) < 0 || n == 0 ||
                n > MATRIX_ITEMS_CAP)
                error_at(v, x, "matrix: max_items: expected an integer "
                         "from 1 to %d, got %s", MATRIX_ITEMS_CAP,
                         kiln_dsl__describe(got, x));
            else
                m->max_items = n;
        } else if (is_key(kn, "on_failure")) {
            if (kiln_dsl__is_text(x) && is_key(x, "continue"))
                m->keep_going = true;
            else if (!(kiln_dsl__is_text(x) && is_key(x, "fail_fast")))
                error_at(v, x, "matrix: on_failure: expected fail_fast or "
                         "continue, got %s", kiln_dsl__describe(got, x));
        } else if (is_key(kn, "include")) {
            inc = x;
        } else if (is_key(kn, "exclude")) {
            exc = x;
        }
    }
    for (i = 0; val->type == KILN_YNODE_MAP && i < val->n &&
                charge(v, val->u.items[2 * i]); i++) {
        const kiln_ynode *kn = val->u.items[2 * i];
        const kiln_ynode *x = val->u.items[2 * i + 1];
        if (kn->flags & KILN_YNODE_BAD || x->flags & KILN_YNODE_BAD)
            continue;
        if (!kiln_dsl__is_text(kn)) {
            error_at(v, kn, "matrix: expected a param name, got %s",
                     kiln_dsl__describe(got, kn));
            continue;
        }
        for (r = 0; r < KILN_ARRAY_SIZE(reserved); r++)
            if (is_key(kn, reserved[r]))
                break;
        if (r == KILN_ARRAY_SIZE(reserved)) {
            written++;
            set_axis(v, st, kn, x, m);
        }
    }
    if (written == 0 && (!inc || kiln_dsl__is_null(inc))) {
        error_at(v, key, "the matrix of step %s is empty: give at least "
                 "one param and its values", q);
        return;
    }
    if (exc)
        set_combos(v, st, key, exc, m, false);
    if (inc)
        set_combos(v, st, key, inc, m, true);
    /* A matrix with errors is not expanded: they would only echo. */
    if (v->c->n_errors == errors)
        st->matrix = m;
}

/* select: mode, max or min. */
static void set_mode(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                     void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    if (kiln_dsl__is_text(val) && (is_key(val, "max") || is_key(val, "min")))
        *FIELD(obj, k->off, bool) = is_key(val, "max");
    else
        error_at(v, val, "select: mode: expected max or min, got %s",
                 kiln_dsl__describe(got, val));
}

/* select:; target: kiln_select. */
static const keyspec select_keys[] = {
    {"from", kiln_dsl__set_name, offsetof(kiln_select, from), 0,
     "select: needs \"from: STEP\", a matrix step"},
    {"metric", kiln_dsl__set_string, offsetof(kiln_select, metric), 0,
     "select: needs \"metric: KEY\", a metric of its items"},
    ROW(kiln_select, "mode", set_mode, max),
};
_Static_assert(KILN_ARRAY_SIZE(select_keys) <= 64, "too many keys");
static const mapspec select_spec = SPEC(select_keys, false);

/* select: {from: STEP, metric: KEY, mode: max|min}; matrix.c checks
 * that STEP is a matrix step the step needs. */
void kiln_dsl__set_select(vctx *v, const kiln_ynode *key,
                          const kiln_ynode *val, void *obj, const keyspec *k)
{
    kiln_step *st = obj;
    kiln_select *sel;
    if (!kiln_dsl__nested_map(v, val, k->name))
        return;
    sel = kiln_arena_alloc(v->p->arena, sizeof(*sel));
    memset(sel, 0, sizeof(*sel));
    sel->max = true;
    sel->pos = model_pos(v, key);
    kiln_dsl__walk(v, &select_spec, val->type == KILN_YNODE_MAP ? val : NULL,
                   sel, "select", NULL, key);
    if (sel->from && sel->metric)
        st->select = sel;
}
