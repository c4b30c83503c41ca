/*
 * schema-values.c: the setters for plain values, lists and mappings that
 * the tables of every part of a pipeline share (schema.h).
 */
#include "schema.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Setters for plain values. */

/* A required, non-empty string: run, workdir, executor. */
void kiln_dsl__set_string(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                          void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    if (!kiln_dsl__is_text(val) || val->n == 0) {
        error_at(v, val, "%s: expected a non-empty string, got %s", k->name,
                 kiln_dsl__describe(got, val));
        return;
    }
    *FIELD(obj, k->off, const char *) = model_str(v, val);
}

/* An optional string: description. */
void kiln_dsl__set_text(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                        void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    if (kiln_dsl__is_null(val))
        return;
    if (val->type != KILN_YNODE_SCALAR) {
        error_at(v, val, "%s: expected a string, got %s", k->name,
                 kiln_dsl__describe(got, val));
        return;
    }
    *FIELD(obj, k->off, const char *) = model_str(v, val);
}

/* Check a pipeline or step name; what is "pipeline" or "step". */
bool kiln_dsl__check_name(vctx *v, const kiln_ynode *n, const char *what)
{
    char q[KILN_DSL_QUOTE_SIZE];
    if (kiln_dsl_valid_name(n->u.str) && strlen(n->u.str) == n->n)
        return true;
    kiln_dsl__quote(q, n->u.str, n->n);
    if (n->n > KILN_DSL_MAX_NAME)
        error_at(v, n, "invalid %s name %s: use at most %d characters", what,
                 q, KILN_DSL_MAX_NAME);
    else
        error_at(v, n, "invalid %s name %s: use lowercase letters, digits, "
                 "\"-\" and \"_\"", what, q);
    return false;
}

/* A name like a step's: a pool, a model. */
void kiln_dsl__set_name(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                        void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    if (!kiln_dsl__is_text(val)) {
        error_at(v, val, "%s: expected a %s name, got %s", k->name, k->name,
                 kiln_dsl__describe(got, val));
        return;
    }
    if (kiln_dsl__check_name(v, val, k->name))
        *FIELD(obj, k->off, const char *) = model_str(v, val);
}

/* A count such as retries: digits only, at most KILN_DSL_MAX_RETRIES. */
void kiln_dsl__set_retries(vctx *v, const kiln_ynode *key,
                           const kiln_ynode *val, void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    uint64_t n;
    if (kiln_dsl__is_null(val) || kiln_dsl__as_count(val, &n) < 0) {
        error_at(v, val, "%s: expected an integer >= 0, got %s", k->name,
                 kiln_dsl__describe(got, val));
        return;
    }
    if (n > KILN_DSL_MAX_RETRIES) {
        /* Only digits: safe to show as they are. */
        error_at(v, val, "%s: %.*s is too many (at most %d)", k->name,
                 (int)(val->n > 30 ? 30 : val->n), val->u.str,
                 KILN_DSL_MAX_RETRIES);
        return;
    }
    *FIELD(obj, k->off, int) = (int)n;
}

void kiln_dsl__set_duration(vctx *v, const kiln_ynode *key,
                            const kiln_ynode *val, void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    kiln_err err = KILN_ERR_INIT;
    int64_t ms;
    if (!kiln_dsl__is_text(val)) {
        error_at(v, val, "%s: expected a duration such as 10s or 5m, got %s",
                 k->name, kiln_dsl__describe(got, val));
        return;
    }
    if (kiln_dsl_parse_duration(&ms, val->u.str, &err) < 0) {
        error_at(v, val, "%s: %s", k->name, err.msg);
        return;
    }
    *FIELD(obj, k->off, int64_t) = ms;
}

void kiln_dsl__set_bool(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                        void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    bool b;
    if (kiln_dsl__as_bool(val, &b) < 0) {
        error_at(v, val, "%s: expected true or false, got %s", k->name,
                 kiln_dsl__describe(got, val));
        return;
    }
    *FIELD(obj, k->off, bool) = b;
}

/* An http or https URL: metric: url, notify: webhook. */
void kiln_dsl__set_url(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    if (!kiln_dsl__is_text(val) || strlen(val->u.str) != val->n ||
        (strncmp(val->u.str, "http://", 7) != 0 &&
         strncmp(val->u.str, "https://", 8) != 0)) {
        error_at(v, val, "%s: expected an http:// or https:// URL, got %s",
                 k->name, kiln_dsl__describe(got, val));
        return;
    }
    *FIELD(obj, k->off, const char *) = model_str(v, val);
}

/* Numbers. */

/* A number in [lo, hi]; what says what is expected, for the message. */
static void set_real_range(vctx *v, const kiln_ynode *val, void *obj,
                           const keyspec *k, double lo, double hi,
                           const char *what)
{
    char got[KILN_DSL_QUOTE_SIZE];
    double d;
    if (kiln_dsl__as_number(val, &d) < 0 || d < lo || d > hi) {
        error_at(v, val, "%s: expected %s, got %s", k->name, what,
                 kiln_dsl__describe(got, val));
        return;
    }
    *FIELD(obj, k->off, double) = d;
}

void kiln_dsl__set_number(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                          void *obj, const keyspec *k)
{
    set_real_range(v, val, obj, k, -INFINITY, INFINITY, "a number");
}

/* A number that must not be negative: thresholds. */
void kiln_dsl__set_nonneg(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                          void *obj, const keyspec *k)
{
    set_real_range(v, val, obj, k, 0, INFINITY, "a number >= 0");
}

/* A fraction from 0 to 1: max_missing. */
void kiln_dsl__set_fraction(vctx *v, const kiln_ynode *key,
                            const kiln_ynode *val, void *obj, const keyspec *k)
{
    set_real_range(v, val, obj, k, 0, 1, "a fraction from 0 to 1");
}

/* Setters for lists and mappings. */

/*
 * A list of non-empty strings into the kiln_strlist at k->off. A single
 * string counts as a one-item list and null as an empty one. list and item
 * name what is expected, for messages ("a list of paths", "a path").
 */
void kiln_dsl__set_list(vctx *v, const kiln_ynode *val, void *obj,
                        const keyspec *k, const char *list, const char *item)
{
    kiln_strlist *l = FIELD(obj, k->off, kiln_strlist);
    kiln_ynode *const *items = NULL;
    char got[KILN_DSL_QUOTE_SIZE];
    size_t n = 0, i;

    memset(l, 0, sizeof(*l));
    if (kiln_dsl__is_null(val))
        return;
    if (val->type == KILN_YNODE_SCALAR) {
        items = (kiln_ynode *const *)&val;
        n = 1;
    } else if (val->type == KILN_YNODE_SEQ) {
        items = val->u.items;
        n = val->n;
    } else {
        error_at(v, val, "%s: expected %s, got %s", k->name, list,
                 kiln_dsl__describe(got, val));
        return;
    }
    l->items = kiln_arena_alloc(v->p->arena, n * sizeof(*l->items));
    l->pos = kiln_arena_alloc(v->p->arena, n * sizeof(*l->pos));
    for (i = 0; i < n && charge(v, items[i]); i++) {
        const kiln_ynode *it = items[i];
        if (it->flags & KILN_YNODE_BAD)
            continue;
        if (!kiln_dsl__is_text(it) || it->n == 0) {
            error_at(v, it, "%s: expected %s, got %s", k->name, item,
                     kiln_dsl__describe(got, it));
            continue;
        }
        l->items[l->n] = model_str(v, it);
        l->pos[l->n] = model_pos(v, it);
        l->n++;
    }
}

void kiln_dsl__set_needs(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                         void *obj, const keyspec *k)
{
    kiln_dsl__set_list(v, val, obj, k, "a list of step names", "a step name");
}

void kiln_dsl__set_paths(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                         void *obj, const keyspec *k)
{
    kiln_dsl__set_list(v, val, obj, k, "a list of paths", "a path");
}

void kiln_dsl__set_columns(vctx *v, const kiln_ynode *key,
                           const kiln_ynode *val, void *obj, const keyspec *k)
{
    kiln_dsl__set_list(v, val, obj, k, "a list of column names",
                       "a column name");
}

/*
 * A mapping of names to scalar values into the kiln_kv array at k->off and
 * its count at k->off_n, in file order. what is "param" or "env"; names
 * must pass kiln_dsl_valid_param_name().
 */
static void set_kvs(vctx *v, const kiln_ynode *val, void *obj,
                    const keyspec *k, const char *what)
{
    char got[KILN_DSL_QUOTE_SIZE], q[KILN_DSL_QUOTE_SIZE];
    kiln_kv *kvs;
    size_t n = 0, i;

    if (kiln_dsl__is_null(val))
        return;
    if (val->type != KILN_YNODE_MAP) {
        error_at(v, val, "%s: expected a mapping of names to values, got %s",
                 k->name, kiln_dsl__describe(got, val));
        return;
    }
    kvs = kiln_arena_alloc(v->p->arena, val->n * sizeof(*kvs));
    for (i = 0; i < val->n && charge(v, val->u.items[2 * i]); i++) {
        const kiln_ynode *name = val->u.items[2 * i];
        const kiln_ynode *value = val->u.items[2 * i + 1];
        if (name->flags & KILN_YNODE_BAD)
            continue;
        if (!kiln_dsl__is_text(name)) {
            error_at(v, name, "%s: expected a name, got %s", k->name,
                     kiln_dsl__describe(got, name));
            continue;
        }
        if (!kiln_dsl_valid_param_name(name->u.str) ||
            strlen(name->u.str) != name->n) {
            error_at(v, name, "invalid %s name %s: use letters, digits and "
                     "\"_\", not starting with a digit", what,
                     kiln_dsl__quote(q, name->u.str, name->n));
            continue;
        }
        if (value->flags & KILN_YNODE_BAD)
            continue;
        if (!kiln_dsl__is_text(value)) {
            error_at(v, value, "%s %s: expected a string or number, got %s",
                     what, kiln_dsl__quote(q, name->u.str, name->n),
                     kiln_dsl__describe(got, value));
            continue;
        }
        kvs[n].key = model_str(v, name);
        kvs[n].value = model_str(v, value);
        kvs[n].pos = model_pos(v, name);
        n++;
    }
    *FIELD(obj, k->off, kiln_kv *) = kvs;
    *FIELD(obj, k->off_n, size_t) = n;
}

void kiln_dsl__set_params(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                          void *obj, const keyspec *k)
{
    set_kvs(v, val, obj, k, "param");
}

void kiln_dsl__set_env(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k)
{
    set_kvs(v, val, obj, k, "env");
}
