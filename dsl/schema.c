/*
 * schema.c: phase 2, the node tree checked against key tables and turned
 * into a kiln_pipeline.
 *
 * Each kind of mapping (the top level, defaults:, git:, a step) has a table
 * of keyspec rows: the key, the setter that checks its value and stores it,
 * and where the value goes in the target struct. Adding a key is adding a
 * row (plus a setter for a new kind of value). walk() reports unknown keys,
 * with a "did you mean" among the table's keys, and required keys that are
 * missing; setters report values of the wrong type at the value's position.
 * Nothing stops at the first error: every problem is collected.
 *
 * Steps start as a copy of a template step: the built-in defaults with the
 * file's defaults: applied. That is why steps: is read after every other
 * top-level key, wherever it appears in the file.
 */
#include "internal.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef struct vctx vctx;
typedef struct keyspec keyspec;

/* Check val, the value of key, and store it into obj as k says. */
typedef void (*set_fn)(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k);

struct keyspec {
    const char *name;
    set_fn set;
    size_t off;          /* where the value goes in the target struct */
    size_t off_n;        /* for key/value lists: where their count goes */
    const char *missing; /* set for a required key: the error when it is
                            absent, with %s for the mapping's name */
};

typedef struct mapspec {
    const keyspec *keys;
    size_t n_keys;       /* at most 64 */
    bool extensions;     /* ignore keys starting with "x-" */
} mapspec;

struct vctx {
    kiln_dsl_ctx *c;
    kiln_pipeline *p;
    kiln_step tmpl;            /* built-ins, then defaults: applied */
    const kiln_ynode *steps;   /* the steps: value, read last */
    size_t visits;             /* nodes looked at so far */
    size_t max_visits;         /* the budget aliases cannot blow */
    bool stop;                 /* the budget ran out */
};

#define FIELD(obj, off, type) ((type *)(void *)((char *)(obj) + (off)))
#define ROW(type, key, fn, field) \
    {key, fn, offsetof(type, field), 0, NULL}
#define KV_ROW(type, key, fn, field, count) \
    {key, fn, offsetof(type, field), offsetof(type, count), NULL}

static void error_at(vctx *v, const kiln_ynode *n, const char *fmt, ...)
    KILN_PRINTF(3, 4);

static void error_at(vctx *v, const kiln_ynode *n, const char *fmt, ...)
{
    char msg[sizeof(((kiln_err *)0)->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kiln_dsl__error(v->c, n->line, n->col, "%s", msg);
}

/* Count a node against the visit budget. Aliases share nodes, so a small
 * file could otherwise make validation (and the model) huge. */
static bool charge(vctx *v, const kiln_ynode *at)
{
    if (v->stop)
        return false;
    if (++v->visits > v->max_visits) {
        error_at(v, at, "the pipeline is too large once aliases are "
                 "expanded (more than %zu values)", v->max_visits);
        v->stop = true;
        return false;
    }
    return true;
}

static kiln_pos model_pos(vctx *v, const kiln_ynode *n)
{
    kiln_pos pos = {v->p->file, n->line, n->col};
    return pos;
}

static const char *model_str(vctx *v, const kiln_ynode *n)
{
    return kiln_arena_strndup(v->p->arena, n->u.str, n->n);
}

/* Setters for plain values. */

/* A required, non-empty string: run, workdir, executor. */
static void set_string(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
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
static void set_text(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
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
static bool check_name(vctx *v, const kiln_ynode *n, const char *what)
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

static void set_pipeline_name(vctx *v, const kiln_ynode *key,
                              const kiln_ynode *val, void *obj,
                              const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    if (!kiln_dsl__is_text(val)) {
        error_at(v, val, "%s: expected a name, got %s", k->name,
                 kiln_dsl__describe(got, val));
        return;
    }
    if (check_name(v, val, "pipeline"))
        *FIELD(obj, k->off, const char *) = model_str(v, val);
}

/* when: a gate expression, parsed now; its references are checked once
 * every step is known (graph.c). */
static void set_when(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                     void *obj, const keyspec *k)
{
    kiln_step *st = obj;
    char got[KILN_DSL_QUOTE_SIZE];
    kiln_err err = KILN_ERR_INIT;
    size_t off = 0;
    if (!kiln_dsl__is_text(val) || val->n == 0 ||
        strlen(val->u.str) != val->n) {
        error_at(v, val, "when: expected an expression such as "
                 "\"metrics.evaluate.accuracy >= 0.9\", got %s",
                 kiln_dsl__describe(got, val));
        return;
    }
    st->when_pos = model_pos(v, val);
    st->when_pos.col += val->plain ? 0 : 1;
    if (kiln_expr_parse(&st->when_expr, v->p->arena, val->u.str, &off,
                        &err) != 0) {
        /* Positions inside a one-line scalar are exact. */
        kiln_dsl__error(v->c, val->line, st->when_pos.col + (unsigned)off,
                        "when: %s", err.msg);
        st->when_expr = NULL;
        return;
    }
    st->when = model_str(v, val);
}

static void set_register(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k);

/* A name like a step's: a pool, a model. */
static void set_name(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                     void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    if (!kiln_dsl__is_text(val)) {
        error_at(v, val, "%s: expected a %s name, got %s", k->name, k->name,
                 kiln_dsl__describe(got, val));
        return;
    }
    if (check_name(v, val, k->name))
        *FIELD(obj, k->off, const char *) = model_str(v, val);
}

static void set_kind(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                     void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    const char *guess;
    size_t i;

    if (!kiln_dsl__is_text(val)) {
        error_at(v, val, "%s: expected a step kind, got %s", k->name,
                 kiln_dsl__describe(got, val));
        return;
    }
    for (i = 0; i < kiln_dsl__n_kinds; i++) {
        if (strlen(kiln_dsl__kind_names[i]) == val->n &&
            memcmp(kiln_dsl__kind_names[i], val->u.str, val->n) == 0) {
            *FIELD(obj, k->off, kiln_step_kind) = (kiln_step_kind)i;
            return;
        }
    }
    kiln_dsl__quote(got, val->u.str, val->n);
    guess = kiln_dsl__suggest(v->c, val->u.str, val->n,
                              kiln_dsl__kind_names, kiln_dsl__n_kinds);
    if (guess)
        error_at(v, val, "unknown step kind %s (did you mean \"%s\"?)", got,
                 guess);
    else
        error_at(v, val, "unknown step kind %s: use ingest, validate, "
                 "train, evaluate, deploy or task", got);
}

/* A count such as retries: digits only, at most KILN_DSL_MAX_RETRIES. */
static void set_retries(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                        void *obj, const keyspec *k)
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

static void set_duration(vctx *v, const kiln_ynode *key,
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

static void set_bool(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
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

/* resources: cpus, a count from 1 to KILN_DSL_MAX_CPUS. */
static void set_cpus(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                     void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    uint64_t n;
    if (kiln_dsl__as_count(val, &n) < 0 || n == 0 ||
        n > KILN_DSL_MAX_CPUS) {
        error_at(v, val, "%s: expected an integer from 1 to %d, got %s",
                 k->name, KILN_DSL_MAX_CPUS, kiln_dsl__describe(got, val));
        return;
    }
    *FIELD(obj, k->off, unsigned) = (unsigned)n;
}

/* resources: gpus, a count from 0 (none) to KILN_DSL_MAX_CPUS. */
static void set_gpus(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                     void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    uint64_t n;
    if (kiln_dsl__as_count(val, &n) < 0 || n > KILN_DSL_MAX_CPUS) {
        error_at(v, val, "%s: expected an integer from 0 to %d, got %s",
                 k->name, KILN_DSL_MAX_CPUS, kiln_dsl__describe(got, val));
        return;
    }
    *FIELD(obj, k->off, unsigned) = (unsigned)n;
}

/* resources: mem, in Slurm's spelling: a number of MiB, or a number with
 * K, M, G or T (binary units, an optional B). Stored in MiB, rounded up,
 * so what kiln passes on is what was asked for or a little more. */
static void set_mem(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                    void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    uint64_t n = 0, kib;
    uint32_t i = 0, digits;
    int shift = 10; /* KiB per unit, as a shift: MiB by default */

    if (kiln_dsl__is_text(val))
        for (; i < val->n && val->u.str[i] >= '0' && val->u.str[i] <= '9';
             i++)
            n = n > (UINT64_MAX - 9) / 10
                    ? UINT64_MAX
                    : n * 10 + (uint64_t)(val->u.str[i] - '0');
    digits = i;
    if (digits > 0 && i < val->n) {
        switch (val->u.str[i] | 0x20) {
        case 'k': shift = 0; i++; break;
        case 'm': shift = 10; i++; break;
        case 'g': shift = 20; i++; break;
        case 't': shift = 30; i++; break;
        default: break;
        }
        if (i < val->n && (val->u.str[i] | 0x20) == 'b')
            i++;
    }
    if (!kiln_dsl__is_text(val) || digits == 0 || i != val->n || n == 0 ||
        n > (UINT64_MAX >> 40)) {
        error_at(v, val, "%s: expected a size such as 512M or 16G, got %s",
                 k->name, kiln_dsl__describe(got, val));
        return;
    }
    kib = n << shift;
    *FIELD(obj, k->off, uint64_t) = (kib + 1023) / 1024;
}

/* Setters for lists and mappings. */

/*
 * A list of non-empty strings into the kiln_strlist at k->off. A single
 * string counts as a one-item list and null as an empty one. list and item
 * name what is expected, for messages ("a list of paths", "a path").
 */
static void set_list(vctx *v, const kiln_ynode *val, void *obj,
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

/* slurm: extra, sbatch options: each must look like one ("-x", "--x"), so
 * that a command or a stray word is caught here and not by sbatch later. */
static void set_sbatch_opts(vctx *v, const kiln_ynode *key,
                            const kiln_ynode *val, void *obj,
                            const keyspec *k)
{
    kiln_strlist *l = FIELD(obj, k->off, kiln_strlist);
    char q[KILN_DSL_QUOTE_SIZE];
    set_list(v, val, obj, k, "a list of sbatch options",
             "an sbatch option such as --constraint=a100");
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i][0] != '-' || l->items[i][1] == '\0')
            kiln_dsl__error(v->c, l->pos[i].line, l->pos[i].col,
                            "%s: %s is not an sbatch option (expected "
                            "something like --constraint=a100)", k->name,
                            kiln_dsl__quote(q, l->items[i],
                                            strlen(l->items[i])));
}

static void set_needs(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                      void *obj, const keyspec *k)
{
    set_list(v, val, obj, k, "a list of step names", "a step name");
}

static void set_paths(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                      void *obj, const keyspec *k)
{
    set_list(v, val, obj, k, "a list of paths", "a path");
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

static void set_params(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k)
{
    set_kvs(v, val, obj, k, "param");
}

static void set_env(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                    void *obj, const keyspec *k)
{
    set_kvs(v, val, obj, k, "env");
}

/* Schedules. */

/* One cron expression; errors point into the expression. */
static void add_cron(vctx *v, const kiln_ynode *n, kiln_schedule *sch)
{
    char got[KILN_DSL_QUOTE_SIZE];
    kiln_err err = KILN_ERR_INIT;
    kiln_cron_entry *e;
    size_t off = 0;

    if (!kiln_dsl__is_text(n) || n->n == 0) {
        error_at(v, n, "cron: expected a cron expression such as "
                 "\"0 3 * * *\", got %s", kiln_dsl__describe(got, n));
        return;
    }
    e = &sch->crons[sch->n_crons];
    if (kiln_cron_parse(&e->cron, n->u.str, &off, &err) != 0) {
        /* Quoted scalars start one column after their quote. */
        kiln_dsl__error(v->c, n->line, n->col + (n->plain ? 0 : 1) +
                        (unsigned)off, "cron: %s", err.msg);
        return;
    }
    e->expr = model_str(v, n);
    e->pos = model_pos(v, n);
    sch->n_crons++;
}

static void set_cron(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                     void *obj, const keyspec *k)
{
    kiln_schedule *sch = obj;
    char got[KILN_DSL_QUOTE_SIZE];
    size_t n = val->type == KILN_YNODE_SEQ ? val->n : 1;

    if (val->type == KILN_YNODE_MAP || kiln_dsl__is_null(val) ||
        (val->type == KILN_YNODE_SEQ && val->n == 0)) {
        error_at(v, val, "cron: expected a cron expression or a list of "
                 "them, got %s", kiln_dsl__describe(got, val));
        return;
    }
    sch->crons = kiln_arena_alloc(v->p->arena, n * sizeof(*sch->crons));
    sch->n_crons = 0;
    if (val->type != KILN_YNODE_SEQ) {
        add_cron(v, val, sch);
        return;
    }
    for (size_t i = 0; i < val->n && charge(v, val->u.items[i]); i++)
        if (!(val->u.items[i]->flags & KILN_YNODE_BAD))
            add_cron(v, val->u.items[i], sch);
}

static void set_timezone(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    if (!kiln_dsl__is_text(val) || val->n == 0 ||
        strlen(val->u.str) != val->n) {
        error_at(v, val, "timezone: expected an IANA time zone name such "
                 "as Europe/Lisbon, got %s", kiln_dsl__describe(got, val));
        return;
    }
    if (!kiln_tz_valid(val->u.str)) {
        error_at(v, val, "timezone: unknown time zone %s (an IANA name "
                 "such as Europe/Lisbon or UTC)",
                 kiln_dsl__quote(got, val->u.str, val->n));
        return;
    }
    *FIELD(obj, k->off, const char *) = model_str(v, val);
}

static void set_concurrency(vctx *v, const kiln_ynode *key,
                            const kiln_ynode *val, void *obj,
                            const keyspec *k)
{
    static const char *const names[] = {"allow", "forbid", "replace"};
    char got[KILN_DSL_QUOTE_SIZE];
    for (size_t i = 0; kiln_dsl__is_text(val) && i < 3; i++) {
        if (strlen(names[i]) == val->n &&
            memcmp(names[i], val->u.str, val->n) == 0) {
            *FIELD(obj, k->off, kiln_concurrency) = (kiln_concurrency)i;
            return;
        }
    }
    error_at(v, val, "concurrency: expected allow, forbid or replace, got %s",
             kiln_dsl__describe(got, val));
}

/* An integer in [lo, hi]. */
static void set_int_range(vctx *v, const kiln_ynode *val, void *obj,
                          const keyspec *k, int lo, int hi)
{
    char got[KILN_DSL_QUOTE_SIZE];
    uint64_t n;
    if (kiln_dsl__is_null(val) || kiln_dsl__as_count(val, &n) < 0 ||
        n < (uint64_t)lo || n > (uint64_t)hi) {
        error_at(v, val, "%s: expected an integer from %d to %d, got %s",
                 k->name, lo, hi, kiln_dsl__describe(got, val));
        return;
    }
    *FIELD(obj, k->off, int) = (int)n;
}

static void set_max_active(vctx *v, const kiln_ynode *key,
                           const kiln_ynode *val, void *obj,
                           const keyspec *k)
{
    set_int_range(v, val, obj, k, 1, 1000);
}

static void set_max_catchup(vctx *v, const kiln_ynode *key,
                            const kiln_ynode *val, void *obj,
                            const keyspec *k)
{
    set_int_range(v, val, obj, k, 0, 10000);
}

/* Numbers and the values of triggers and checks. */

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

static void set_number(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k)
{
    set_real_range(v, val, obj, k, -INFINITY, INFINITY, "a number");
}

/* A number that must not be negative: thresholds. */
static void set_nonneg(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k)
{
    set_real_range(v, val, obj, k, 0, INFINITY, "a number >= 0");
}

/* A fraction from 0 to 1: max_missing. */
static void set_fraction(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k)
{
    set_real_range(v, val, obj, k, 0, 1, "a fraction from 0 to 1");
}

/* A row count: min_rows, max_rows. */
static void set_rows(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                     void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    uint64_t n;
    if (kiln_dsl__is_null(val) || kiln_dsl__as_count(val, &n) < 0 ||
        n > INT64_MAX) {
        error_at(v, val, "%s: expected an integer >= 0, got %s", k->name,
                 kiln_dsl__describe(got, val));
        return;
    }
    *FIELD(obj, k->off, int64_t) = (int64_t)n;
}

/* How often a trigger is checked: at least a second. */
static void set_every(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                      void *obj, const keyspec *k)
{
    int64_t old = *FIELD(obj, k->off, int64_t);
    set_duration(v, key, val, obj, k);
    if (*FIELD(obj, k->off, int64_t) < 1000) {
        if (*FIELD(obj, k->off, int64_t) != old)
            error_at(v, val, "%s: check at most once a second (1s)",
                     k->name);
        *FIELD(obj, k->off, int64_t) = old;
    }
}

static void set_method(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k)
{
    static const char *const names[] = {"psi", "js", "ks", "wasserstein"};
    char got[KILN_DSL_QUOTE_SIZE];
    for (size_t i = 0; kiln_dsl__is_text(val) && i < 4; i++) {
        if (strlen(names[i]) == val->n &&
            memcmp(names[i], val->u.str, val->n) == 0) {
            *FIELD(obj, k->off, const char *) = names[i];
            return;
        }
    }
    error_at(v, val, "method: expected psi, js, ks or wasserstein, got %s",
             kiln_dsl__describe(got, val));
}

static void set_col_type(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    const char *guess;
    /* "any" is the absence of a type, not a name to write. */
    for (size_t i = 1; kiln_dsl__is_text(val) && i < kiln_dsl__n_col_types;
         i++) {
        if (strlen(kiln_dsl__col_type_names[i]) == val->n &&
            memcmp(kiln_dsl__col_type_names[i], val->u.str, val->n) == 0) {
            *FIELD(obj, k->off, kiln_col_type) = (kiln_col_type)i;
            return;
        }
    }
    guess = kiln_dsl__is_text(val)
                ? kiln_dsl__suggest(v->c, val->u.str, val->n,
                                    kiln_dsl__col_type_names + 1,
                                    kiln_dsl__n_col_types - 1)
                : NULL;
    if (guess)
        error_at(v, val, "type: unknown column type %s (did you mean "
                 "\"%s\"?)", kiln_dsl__describe(got, val), guess);
    else
        error_at(v, val, "type: expected int, float, bool, category or "
                 "string, got %s", kiln_dsl__describe(got, val));
}

static void set_rule_min(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k)
{
    kiln_col_rule *r = obj;
    set_number(v, key, val, obj, k);
    r->has_min = !kiln_dsl__is_null(val) &&
                 kiln_dsl__as_number(val, &r->min) == 0;
}

static void set_rule_max(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k)
{
    kiln_col_rule *r = obj;
    set_number(v, key, val, obj, k);
    r->has_max = !kiln_dsl__is_null(val) &&
                 kiln_dsl__as_number(val, &r->max) == 0;
}

static void set_below(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                      void *obj, const keyspec *k)
{
    kiln_trigger *t = obj;
    set_number(v, key, val, obj, k);
    t->has_below = kiln_dsl__as_number(val, &t->below) == 0;
}

static void set_above(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                      void *obj, const keyspec *k)
{
    kiln_trigger *t = obj;
    set_number(v, key, val, obj, k);
    t->has_above = kiln_dsl__as_number(val, &t->above) == 0;
}

static void set_columns(vctx *v, const kiln_ynode *key,
                        const kiln_ynode *val, void *obj, const keyspec *k)
{
    set_list(v, val, obj, k, "a list of column names", "a column name");
}

static void set_values(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k)
{
    set_list(v, val, obj, k, "a list of values", "a value");
}

/* metric: url: an http or https URL. */
static void set_url(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
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

/* The tables. Setters for nested mappings come after them. */

static void set_defaults(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k);
static void set_git(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                    void *obj, const keyspec *k);
static void set_steps(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                      void *obj, const keyspec *k);
static void set_schedule(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k);
static void set_triggers(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k);
static void set_notify(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k);
static void set_check(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                      void *obj, const keyspec *k);
static void set_resources(vctx *v, const kiln_ynode *key,
                          const kiln_ynode *val, void *obj, const keyspec *k);
static void set_slurm(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                      void *obj, const keyspec *k);
static void set_schema(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k);
static void set_check_drift(vctx *v, const kiln_ynode *key,
                            const kiln_ynode *val, void *obj,
                            const keyspec *k);

/* Top level; target: kiln_pipeline. */
static const keyspec pipeline_keys[] = {
    {"pipeline", set_pipeline_name, offsetof(kiln_pipeline, name), 0,
     "missing \"pipeline: NAME\": every pipeline file needs a name"},
    ROW(kiln_pipeline, "description", set_text, description),
    KV_ROW(kiln_pipeline, "params", set_params, params, n_params),
    KV_ROW(kiln_pipeline, "env", set_env, env, n_env),
    {"defaults", set_defaults, 0, 0, NULL},
    {"git", set_git, 0, 0, NULL},
    {"schedule", set_schedule, 0, 0, NULL},
    {"triggers", set_triggers, 0, 0, NULL},
    ROW(kiln_pipeline, "cooldown", set_duration, cooldown_ms),
    {"notify", set_notify, 0, 0, NULL},
    {"steps", set_steps, 0, 0,
     "the pipeline has no steps: add a \"steps:\" mapping"},
};

/* defaults:; target: the template kiln_step. */
static const keyspec defaults_keys[] = {
    ROW(kiln_step, "retries", set_retries, retries),
    ROW(kiln_step, "retry_delay", set_duration, retry_delay_ms),
    ROW(kiln_step, "timeout", set_duration, timeout_ms),
    ROW(kiln_step, "workdir", set_string, workdir),
    ROW(kiln_step, "executor", set_string, executor),
    {"resources", set_resources, 0, 0, NULL},
    {"slurm", set_slurm, 0, 0, NULL},
};

/* git:; target: kiln_pipeline. */
static const keyspec git_keys[] = {
    ROW(kiln_pipeline, "require_clean", set_bool, git_require_clean),
};

/* schedule:; target: kiln_schedule. */
static const keyspec schedule_keys[] = {
    {"cron", set_cron, 0, 0, "schedule has no \"cron:\" expression"},
    ROW(kiln_schedule, "timezone", set_timezone, timezone),
    ROW(kiln_schedule, "catchup", set_bool, catchup),
    ROW(kiln_schedule, "max_catchup", set_max_catchup, max_catchup),
    ROW(kiln_schedule, "concurrency", set_concurrency, concurrency),
    ROW(kiln_schedule, "max_active_runs", set_max_active, max_active_runs),
    ROW(kiln_schedule, "start_deadline", set_duration, start_deadline_ms),
};

/* A step; target: kiln_step. */
static const keyspec step_keys[] = {
    ROW(kiln_step, "kind", set_kind, kind),
    ROW(kiln_step, "run", set_string, run), /* required unless data: */
    ROW(kiln_step, "needs", set_needs, needs),
    ROW(kiln_step, "inputs", set_paths, inputs),
    ROW(kiln_step, "outputs", set_paths, outputs),
    ROW(kiln_step, "retries", set_retries, retries),
    ROW(kiln_step, "retry_delay", set_duration, retry_delay_ms),
    ROW(kiln_step, "timeout", set_duration, timeout_ms),
    ROW(kiln_step, "workdir", set_string, workdir),
    ROW(kiln_step, "executor", set_string, executor),
    ROW(kiln_step, "pool", set_name, pool),
    {"resources", set_resources, 0, 0, NULL},
    {"slurm", set_slurm, 0, 0, NULL},
    ROW(kiln_step, "metrics", set_string, metrics),
    {"when", set_when, 0, 0, NULL},
    {"register", set_register, 0, 0, NULL},
    ROW(kiln_step, "cache", set_bool, cache),
    KV_ROW(kiln_step, "env", set_env, env, n_env),
    {"data", set_check, 0, 0, NULL},     /* these go to validation_keys */
    {"schema", set_check, 0, 0, NULL},
    {"min_rows", set_check, 0, 0, NULL},
    {"max_rows", set_check, 0, 0, NULL},
    {"strict", set_check, 0, 0, NULL},
    {"drift", set_check, 0, 0, NULL},
};

/* The checks of a validate step; target: kiln_validation. */
static const keyspec validation_keys[] = {
    ROW(kiln_validation, "data", set_string, data),
    {"schema", set_schema, 0, 0, NULL},
    ROW(kiln_validation, "min_rows", set_rows, min_rows),
    ROW(kiln_validation, "max_rows", set_rows, max_rows),
    ROW(kiln_validation, "strict", set_bool, strict),
    {"drift", set_check_drift, 0, 0, NULL},
};

/* An item of notify:; target: kiln_notify. */
static void set_notify_on(vctx *v, const kiln_ynode *key,
                          const kiln_ynode *val, void *obj,
                          const keyspec *k);
static void set_notify_format(vctx *v, const kiln_ynode *key,
                              const kiln_ynode *val, void *obj,
                              const keyspec *k);
static const keyspec notify_keys[] = {
    ROW(kiln_notify, "on", set_notify_on, on),
    {"webhook", set_url, offsetof(kiln_notify, webhook), 0,
     "notify: needs \"webhook:\", the URL to post to"},
    ROW(kiln_notify, "format", set_notify_format, format),
    ROW(kiln_notify, "timeout", set_duration, timeout_ms),
};

/* A column of schema:; target: kiln_col_rule. */
static const keyspec rule_keys[] = {
    ROW(kiln_col_rule, "type", set_col_type, type),
    ROW(kiln_col_rule, "min", set_rule_min, min),
    ROW(kiln_col_rule, "max", set_rule_max, max),
    ROW(kiln_col_rule, "max_missing", set_fraction, max_missing),
    ROW(kiln_col_rule, "values", set_values, values),
};

/* drift: of a validate step; target: kiln_drift_check. */
static const keyspec check_drift_keys[] = {
    {"reference", set_string, offsetof(kiln_drift_check, reference), 0,
     "drift: needs \"reference:\", the CSV file to compare with"},
    ROW(kiln_drift_check, "columns", set_columns, columns),
    ROW(kiln_drift_check, "method", set_method, method),
    ROW(kiln_drift_check, "threshold", set_nonneg, threshold),
};

/* The triggers; target: kiln_trigger. */
static const keyspec drift_trigger_keys[] = {
    {"reference", set_string, offsetof(kiln_trigger, drift.reference), 0,
     "drift trigger: needs \"reference:\", a CSV file"},
    {"current", set_string, offsetof(kiln_trigger, drift.current), 0,
     "drift trigger: needs \"current:\", a CSV file"},
    ROW(kiln_trigger, "columns", set_columns, drift.columns),
    ROW(kiln_trigger, "method", set_method, drift.method),
    ROW(kiln_trigger, "threshold", set_nonneg, drift.threshold),
    ROW(kiln_trigger, "every", set_every, every_ms),
};

static const keyspec data_trigger_keys[] = {
    {"path", set_string, offsetof(kiln_trigger, path), 0,
     "data trigger: needs \"path:\", a file or directory to watch"},
    ROW(kiln_trigger, "every", set_every, every_ms),
};

static const keyspec git_trigger_keys[] = {
    ROW(kiln_trigger, "branch", set_string, branch),
    ROW(kiln_trigger, "remote", set_string, remote),
    ROW(kiln_trigger, "repo", set_string, repo),
    ROW(kiln_trigger, "every", set_every, every_ms),
};

static const keyspec metric_trigger_keys[] = {
    ROW(kiln_trigger, "url", set_url, url),
    ROW(kiln_trigger, "file", set_string, file),
    ROW(kiln_trigger, "json", set_string, json),
    ROW(kiln_trigger, "below", set_below, below),
    ROW(kiln_trigger, "above", set_above, above),
    ROW(kiln_trigger, "every", set_every, every_ms),
    ROW(kiln_trigger, "timeout", set_duration, timeout_ms),
};

/* resources:; target: kiln_resources. */
static const keyspec resources_keys[] = {
    ROW(kiln_resources, "cpus", set_cpus, cpus),
    ROW(kiln_resources, "mem", set_mem, mem_mb),
    ROW(kiln_resources, "gpus", set_gpus, gpus),
    ROW(kiln_resources, "time", set_duration, time_ms),
    ROW(kiln_resources, "partition", set_string, partition),
};

/* slurm:; target: kiln_slurm_opts. */
static const keyspec slurm_keys[] = {
    ROW(kiln_slurm_opts, "account", set_string, account),
    ROW(kiln_slurm_opts, "qos", set_string, qos),
    ROW(kiln_slurm_opts, "extra", set_sbatch_opts, extra),
};

/* register:; target: kiln_step. */
static const keyspec register_keys[] = {
    {"model", set_name, offsetof(kiln_step, register_model), 0,
     "register: needs \"model: NAME\""},
    {"path", set_string, offsetof(kiln_step, register_path), 0,
     "register: needs \"path:\", one of the step's outputs"},
    {"alias", set_name, offsetof(kiln_step, register_alias), 0, NULL},
};

/* walk() keeps the keys it has seen in a 64-bit mask. */
_Static_assert(KILN_ARRAY_SIZE(pipeline_keys) <= 64, "too many keys");
_Static_assert(KILN_ARRAY_SIZE(defaults_keys) <= 64, "too many keys");
_Static_assert(KILN_ARRAY_SIZE(git_keys) <= 64, "too many keys");
_Static_assert(KILN_ARRAY_SIZE(step_keys) <= 64, "too many keys");
_Static_assert(KILN_ARRAY_SIZE(schedule_keys) <= 64, "too many keys");

#define SPEC(keys, ext) {keys, KILN_ARRAY_SIZE(keys), ext}
static const mapspec pipeline_spec = SPEC(pipeline_keys, true);
static const mapspec defaults_spec = SPEC(defaults_keys, false);
static const mapspec git_spec = SPEC(git_keys, false);
static const mapspec step_spec = SPEC(step_keys, false);
static const mapspec schedule_spec = SPEC(schedule_keys, false);
static const mapspec register_spec = SPEC(register_keys, false);
static const mapspec resources_spec = SPEC(resources_keys, false);
static const mapspec slurm_spec = SPEC(slurm_keys, false);
static const mapspec validation_spec = SPEC(validation_keys, false);
static const mapspec notify_spec = SPEC(notify_keys, false);
static const mapspec rule_spec = SPEC(rule_keys, false);
static const mapspec check_drift_spec = SPEC(check_drift_keys, false);
/* By kiln_trigger_kind. */
static const mapspec trigger_specs[] = {
    SPEC(drift_trigger_keys, false),
    SPEC(data_trigger_keys, false),
    SPEC(git_trigger_keys, false),
    SPEC(metric_trigger_keys, false),
};

static const keyspec *find_key(const mapspec *spec, const kiln_ynode *key)
{
    size_t i;
    for (i = 0; i < spec->n_keys; i++)
        if (strlen(spec->keys[i].name) == key->n &&
            memcmp(spec->keys[i].name, key->u.str, key->n) == 0)
            return &spec->keys[i];
    return NULL;
}

/* Report key, which is not in spec, in the mapping that what (NULL at the
 * top level) and name (NULL unless it has one) describe. */
static void unknown_key(vctx *v, const mapspec *spec, const kiln_ynode *key,
                        const char *what, const kiln_ynode *name)
{
    const char *names[64], *guess;
    char q[KILN_DSL_QUOTE_SIZE], where[2 * KILN_DSL_QUOTE_SIZE];
    char mean[KILN_DSL_QUOTE_SIZE];
    size_t i;

    for (i = 0; i < spec->n_keys; i++)
        names[i] = spec->keys[i].name;
    guess = kiln_dsl__suggest(v->c, key->u.str, key->n, names, spec->n_keys);
    where[0] = mean[0] = '\0';
    if (what && name)
        snprintf(where, sizeof(where), " in %s %s", what,
                 kiln_dsl__quote(q, name->u.str, name->n));
    else if (what)
        snprintf(where, sizeof(where), " in %s", what);
    if (guess)
        snprintf(mean, sizeof(mean), " (did you mean \"%s\"?)", guess);
    error_at(v, key, "unknown key %s%s%s",
             kiln_dsl__quote(q, key->u.str, key->n), where, mean);
}

/*
 * Check map (NULL for an empty one) against spec and store its values into
 * obj. what and name describe the mapping for messages ("step", the step's
 * key); a missing key's message gets the quoted name for its %s and the
 * position of at.
 */
static void walk(vctx *v, const mapspec *spec, const kiln_ynode *map,
                 void *obj, const char *what, const kiln_ynode *name,
                 const kiln_ynode *at)
{
    char got[KILN_DSL_QUOTE_SIZE];
    uint64_t seen = 0;
    size_t i, n = map ? map->n : 0;

    for (i = 0; i < n && charge(v, map->u.items[2 * i]); i++) {
        const kiln_ynode *key = map->u.items[2 * i];
        const kiln_ynode *val = map->u.items[2 * i + 1];
        const keyspec *k;
        if (key->flags & KILN_YNODE_BAD)
            continue;
        if (!kiln_dsl__is_text(key)) {
            error_at(v, key, "expected a key name, got %s",
                     kiln_dsl__describe(got, key));
            continue;
        }
        k = find_key(spec, key);
        if (!k) {
            if (!(spec->extensions && key->n >= 2 &&
                  memcmp(key->u.str, "x-", 2) == 0))
                unknown_key(v, spec, key, what, name);
            continue;
        }
        seen |= (uint64_t)1 << (k - spec->keys);
        /* A broken alias was reported already; it counts as given. */
        if (!(val->flags & KILN_YNODE_BAD))
            k->set(v, key, val, obj, k);
    }
    if (v->stop)
        return;
    for (i = 0; i < spec->n_keys; i++) {
        if (spec->keys[i].missing && !(seen & ((uint64_t)1 << i)))
            error_at(v, at, spec->keys[i].missing,
                     name ? kiln_dsl__quote(got, name->u.str, name->n) : "");
    }
}

/* A mapping value (null counts as empty); what names it for messages. */
static bool nested_map(vctx *v, const kiln_ynode *val, const char *what)
{
    char got[KILN_DSL_QUOTE_SIZE];
    if (val->type == KILN_YNODE_MAP || kiln_dsl__is_null(val))
        return true;
    error_at(v, val, "%s: expected a mapping, got %s", what,
             kiln_dsl__describe(got, val));
    return false;
}

static void set_defaults(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k)
{
    if (nested_map(v, val, k->name))
        walk(v, &defaults_spec, val->type == KILN_YNODE_MAP ? val : NULL,
             &v->tmpl, "defaults", NULL, key);
}

static void set_git(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                    void *obj, const keyspec *k)
{
    if (nested_map(v, val, k->name))
        walk(v, &git_spec, val->type == KILN_YNODE_MAP ? val : NULL, obj,
             "git", NULL, key);
}

/* resources: in defaults: or a step; a step's keys override the
 * defaults' one by one. */
static void set_resources(vctx *v, const kiln_ynode *key,
                          const kiln_ynode *val, void *obj, const keyspec *k)
{
    kiln_step *st = obj;
    if (nested_map(v, val, k->name))
        walk(v, &resources_spec, val->type == KILN_YNODE_MAP ? val : NULL,
             &st->resources, "resources", NULL, key);
}

static void set_slurm(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                      void *obj, const keyspec *k)
{
    kiln_step *st = obj;
    if (!nested_map(v, val, k->name))
        return;
    st->slurm.pos = model_pos(v, key);
    walk(v, &slurm_spec, val->type == KILN_YNODE_MAP ? val : NULL,
         &st->slurm, "slurm", NULL, key);
}

/* register: {model: NAME, path: OUTPUT}; the path must be one of the
 * step's declared outputs, as written. */
static void set_register(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k)
{
    kiln_step *st = obj;
    if (!nested_map(v, val, k->name))
        return;
    st->register_pos = model_pos(v, key);
    walk(v, &register_spec, val->type == KILN_YNODE_MAP ? val : NULL, st,
         "register", NULL, key);
}

/* schedule: a mapping, or just a cron expression (or a list of them). */
static void set_schedule(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k)
{
    kiln_pipeline *p = obj;
    kiln_schedule *sch = &p->schedule;
    sch->pos = model_pos(v, key);
    if (val->type == KILN_YNODE_MAP)
        walk(v, &schedule_spec, val, sch, "schedule", NULL, key);
    else
        set_cron(v, key, val, sch, &schedule_keys[0]);
}

/* Does map have key? */
static bool has_key(const kiln_ynode *map, const char *key)
{
    for (size_t i = 0; map && map->type == KILN_YNODE_MAP && i < map->n; i++) {
        const kiln_ynode *kn = map->u.items[2 * i];
        if (kiln_dsl__is_text(kn) && strlen(key) == kn->n &&
            memcmp(kn->u.str, key, kn->n) == 0)
            return true;
    }
    return false;
}

/* A drift check's threshold when none is written: the usual rules of
 * thumb (psi 0.2, a ks p-value of 0.05, 0.1 for the others). */
static void drift_defaults(kiln_drift_check *d)
{
    if (!d->method)
        d->method = "psi";
    if (isnan(d->threshold))
        d->threshold = strcmp(d->method, "ks") == 0    ? 0.05
                       : strcmp(d->method, "psi") == 0 ? 0.2
                                                       : 0.1;
}

/* One item of triggers:, a mapping with a single key naming its kind. */
static void add_trigger(vctx *v, const kiln_ynode *item, kiln_pipeline *p)
{
    static const int64_t every[] = {10 * 60000, 60000, 5 * 60000,
                                    5 * 60000};
    char got[KILN_DSL_QUOTE_SIZE];
    const kiln_ynode *key, *val;
    const char *guess;
    kiln_trigger *t;
    size_t kind;

    if (item->type != KILN_YNODE_MAP || item->n != 1) {
        error_at(v, item, "triggers: expected a mapping with one key, drift, "
                 "data, git or metric, got %s",
                 item->type == KILN_YNODE_MAP ? "a mapping with several keys"
                                              : kiln_dsl__describe(got, item));
        return;
    }
    key = item->u.items[0];
    val = item->u.items[1];
    if ((key->flags & KILN_YNODE_BAD) || (val->flags & KILN_YNODE_BAD))
        return;
    for (kind = 0; kind < kiln_dsl__n_triggers; kind++)
        if (kiln_dsl__is_text(key) &&
            strlen(kiln_dsl__trigger_names[kind]) == key->n &&
            memcmp(kiln_dsl__trigger_names[kind], key->u.str, key->n) == 0)
            break;
    if (kind == kiln_dsl__n_triggers) {
        guess = kiln_dsl__is_text(key)
                    ? kiln_dsl__suggest(v->c, key->u.str, key->n,
                                        kiln_dsl__trigger_names,
                                        kiln_dsl__n_triggers)
                    : NULL;
        if (guess)
            error_at(v, key, "unknown trigger %s (did you mean \"%s\"?)",
                     kiln_dsl__describe(got, key), guess);
        else
            error_at(v, key, "unknown trigger %s: use drift, data, git or "
                     "metric", kiln_dsl__describe(got, key));
        return;
    }
    t = &p->triggers[p->n_triggers++];
    memset(t, 0, sizeof(*t));
    t->kind = (kiln_trigger_kind)kind;
    t->pos = model_pos(v, key);
    t->every_ms = every[kind];
    t->drift.threshold = NAN;
    t->timeout_ms = 10000;
    if (t->kind == KILN_TRIGGER_GIT)
        t->branch = "main";
    if (!nested_map(v, val, kiln_dsl__trigger_names[kind]))
        return;
    walk(v, &trigger_specs[kind], val->type == KILN_YNODE_MAP ? val : NULL,
         t, "trigger", key, key);
    drift_defaults(&t->drift);
    if (t->kind == KILN_TRIGGER_METRIC) {
        /* Judge by the keys written: a bad value was reported already. */
        if (has_key(val, "url") == has_key(val, "file"))
            error_at(v, key, "metric trigger: give either \"url:\" or "
                     "\"file:\"");
        if (!has_key(val, "below") && !has_key(val, "above"))
            error_at(v, key, "metric trigger: give \"below:\" or "
                     "\"above:\", the bound that fires it");
        if (t->timeout_ms <= 0)
            t->timeout_ms = 10000;
    }
}

static void set_triggers(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k)
{
    kiln_pipeline *p = obj;
    char got[KILN_DSL_QUOTE_SIZE];
    if (kiln_dsl__is_null(val))
        return;
    if (val->type != KILN_YNODE_SEQ) {
        error_at(v, val, "triggers: expected a list such as \"- data: "
                 "{path: data/}\", got %s", kiln_dsl__describe(got, val));
        return;
    }
    p->triggers = kiln_arena_alloc(v->p->arena,
                                   (val->n ? val->n : 1) *
                                       sizeof(*p->triggers));
    for (size_t i = 0; i < val->n && charge(v, val->u.items[i]); i++)
        if (!(val->u.items[i]->flags & KILN_YNODE_BAD))
            add_trigger(v, val->u.items[i], p);
}

static void set_notify_on(vctx *v, const kiln_ynode *key,
                          const kiln_ynode *val, void *obj,
                          const keyspec *k)
{
    static const char *const names[] = {"success", "failure", "cancelled",
                                        "drift"};
    kiln_ynode *const *items = val->type == KILN_YNODE_SEQ
                                   ? val->u.items
                                   : (kiln_ynode *const *)&val;
    size_t n = val->type == KILN_YNODE_SEQ ? val->n : 1;
    char got[KILN_DSL_QUOTE_SIZE];
    unsigned bits = 0;

    if (val->type == KILN_YNODE_MAP || n == 0 || kiln_dsl__is_null(val)) {
        error_at(v, val, "on: expected a list of events (success, failure, "
                 "cancelled, drift), got %s", kiln_dsl__describe(got, val));
        return;
    }
    for (size_t i = 0; i < n && charge(v, items[i]); i++) {
        size_t j;
        for (j = 0; j < 4 && kiln_dsl__is_text(items[i]); j++)
            if (strlen(names[j]) == items[i]->n &&
                memcmp(names[j], items[i]->u.str, items[i]->n) == 0)
                break;
        if (j == 4 || !kiln_dsl__is_text(items[i]))
            error_at(v, items[i], "on: unknown event %s: use success, "
                     "failure, cancelled or drift",
                     kiln_dsl__describe(got, items[i]));
        else
            bits |= 1u << j;
    }
    *FIELD(obj, k->off, unsigned) = bits;
}

static void set_notify_format(vctx *v, const kiln_ynode *key,
                              const kiln_ynode *val, void *obj,
                              const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    if (kiln_dsl__is_text(val) && val->n == 4 &&
        memcmp(val->u.str, "json", 4) == 0)
        *FIELD(obj, k->off, const char *) = "json";
    else if (kiln_dsl__is_text(val) && val->n == 5 &&
             memcmp(val->u.str, "slack", 5) == 0)
        *FIELD(obj, k->off, const char *) = "slack";
    else
        error_at(v, val, "format: expected json or slack, got %s",
                 kiln_dsl__describe(got, val));
}

static void set_notify(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k)
{
    kiln_pipeline *p = obj;
    char got[KILN_DSL_QUOTE_SIZE];
    if (kiln_dsl__is_null(val))
        return;
    if (val->type != KILN_YNODE_SEQ) {
        error_at(v, val, "notify: expected a list such as \"- {on: "
                 "[failure], webhook: URL}\", got %s",
                 kiln_dsl__describe(got, val));
        return;
    }
    p->notify = kiln_arena_alloc(v->p->arena,
                                 (val->n ? val->n : 1) * sizeof(*p->notify));
    for (size_t i = 0; i < val->n && charge(v, val->u.items[i]); i++) {
        const kiln_ynode *it = val->u.items[i];
        kiln_notify *n;
        if (it->flags & KILN_YNODE_BAD)
            continue;
        if (it->type != KILN_YNODE_MAP) {
            error_at(v, it, "notify: expected a mapping with \"webhook:\","
                     " got %s", kiln_dsl__describe(got, it));
            continue;
        }
        n = &p->notify[p->n_notify++];
        memset(n, 0, sizeof(*n));
        n->on = KILN_NOTIFY_FAILURE;
        n->format = "json";
        n->timeout_ms = 10000;
        n->pos = model_pos(v, it);
        walk(v, &notify_spec, it, n, "notify", NULL, it);
        if (n->timeout_ms <= 0)
            n->timeout_ms = 10000;
    }
}

/* data:, schema: and the other checks of a step go into its
 * kiln_validation, made on first use. */
static void set_check(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                      void *obj, const keyspec *k)
{
    kiln_step *st = obj;
    const keyspec *ck = find_key(&validation_spec, key);
    if (!st->validation) {
        st->validation = kiln_arena_alloc(v->p->arena,
                                          sizeof(*st->validation));
        memset(st->validation, 0, sizeof(*st->validation));
        st->validation->min_rows = st->validation->max_rows = -1;
        st->validation->pos = model_pos(v, key);
    }
    ck->set(v, key, val, st->validation, ck);
}

/* One column of schema:: a mapping of rules, or just a type name. */
static void add_rule(vctx *v, const kiln_ynode *name, const kiln_ynode *val,
                     kiln_validation *va)
{
    char got[KILN_DSL_QUOTE_SIZE], q[KILN_DSL_QUOTE_SIZE];
    kiln_col_rule *r;

    if (!kiln_dsl__is_text(name)) {
        error_at(v, name, "schema: expected a column name, got %s",
                 kiln_dsl__describe(got, name));
        return;
    }
    r = &va->rules[va->n_rules++];
    memset(r, 0, sizeof(*r));
    r->column = model_str(v, name);
    r->pos = model_pos(v, name);
    kiln_dsl__quote(q, name->u.str, name->n);
    if (val->flags & KILN_YNODE_BAD)
        return;
    if (val->type == KILN_YNODE_SCALAR && !kiln_dsl__is_null(val)) {
        set_col_type(v, name, val, r, &rule_keys[0]);
        return;
    }
    if (!nested_map(v, val, "schema column"))
        return;
    walk(v, &rule_spec, val->type == KILN_YNODE_MAP ? val : NULL, r,
         "column", name, name);
    if (r->values.n && r->type == KILN_COL_ANY)
        r->type = KILN_COL_CATEGORY;
    if (r->values.n && r->type != KILN_COL_CATEGORY)
        error_at(v, name, "column %s: values: is for type category, not %s",
                 q, kiln_col_type_name(r->type));
    if (r->type == KILN_COL_ANY && has_key(val, "type"))
        return; /* a bad type, reported already */
    if ((r->has_min || r->has_max) && r->type != KILN_COL_INT &&
        r->type != KILN_COL_FLOAT)
        error_at(v, name, "column %s: min and max need type int or float",
                 q);
    if (r->has_min && r->has_max && r->min > r->max)
        error_at(v, name, "column %s: min %g is above max %g", q, r->min,
                 r->max);
}

static void set_schema(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k)
{
    kiln_validation *va = obj;
    char got[KILN_DSL_QUOTE_SIZE];
    if (val->type != KILN_YNODE_MAP) {
        error_at(v, val, "schema: expected a mapping of column names to "
                 "rules such as {type: int, min: 0}, got %s",
                 kiln_dsl__describe(got, val));
        return;
    }
    va->rules = kiln_arena_alloc(v->p->arena,
                                 (val->n ? val->n : 1) * sizeof(*va->rules));
    for (size_t i = 0; i < val->n && charge(v, val->u.items[2 * i]); i++)
        if (!(val->u.items[2 * i]->flags & KILN_YNODE_BAD))
            add_rule(v, val->u.items[2 * i], val->u.items[2 * i + 1], va);
}

static void set_check_drift(vctx *v, const kiln_ynode *key,
                            const kiln_ynode *val, void *obj,
                            const keyspec *k)
{
    kiln_validation *va = obj;
    kiln_drift_check *d;
    if (!nested_map(v, val, k->name))
        return;
    d = kiln_arena_alloc(v->p->arena, sizeof(*d));
    memset(d, 0, sizeof(*d));
    d->threshold = NAN;
    d->pos = model_pos(v, key);
    walk(v, &check_drift_spec, val->type == KILN_YNODE_MAP ? val : NULL, d,
         "drift", NULL, key);
    drift_defaults(d);
    va->drift = d;
}


static void set_steps(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                      void *obj, const keyspec *k)
{
    v->steps = val; /* read by build_steps(), once defaults are known */
}

/* What walk() cannot see in a step: run: is required unless kiln runs
 * checks itself, and checks need kind: validate and a data: file. */
static void check_step(vctx *v, kiln_step *st, const kiln_ynode *key,
                       const kiln_ynode *val)
{
    char q[KILN_DSL_QUOTE_SIZE];
    const kiln_validation *va = st->validation;
    kiln_dsl__quote(q, key->u.str, key->n);
    if (!has_key(val, "run") && !va)
        error_at(v, key, "step %s has no \"run\" command", q);
    /* In defaults: they are for the Slurm steps among others; in a step
     * that runs elsewhere they would be silently ignored. */
    if (has_key(val, "slurm") && strcmp(st->executor, "slurm") != 0)
        kiln_dsl__error(v->c, st->slurm.pos.line, st->slurm.pos.col,
                        "step %s: slurm: options need \"executor: "
                        "slurm\" (the step runs on \"%s\")", q,
                        st->executor);
    if (!va)
        return;
    if (st->kind != KILN_KIND_VALIDATE)
        kiln_dsl__error(v->c, va->pos.line, va->pos.col, "step %s: data:, "
                        "schema: and the other checks need \"kind: "
                        "validate\"", q);
    else if (!va->data && !has_key(val, "data"))
        kiln_dsl__error(v->c, va->pos.line, va->pos.col, "step %s: checks "
                        "need \"data:\", the CSV file to check", q);
}

/* Add the step named key, defined by val, to the pipeline. */
static void build_step(vctx *v, const kiln_ynode *key, const kiln_ynode *val)
{
    kiln_pipeline *p = v->p;
    char q[KILN_DSL_QUOTE_SIZE], got[KILN_DSL_QUOTE_SIZE];
    kiln_step *st;

    if (key->flags & KILN_YNODE_BAD)
        return;
    if (!kiln_dsl__is_text(key)) {
        error_at(v, key, "expected a step name, got %s",
                 kiln_dsl__describe(got, key));
        return;
    }
    check_name(v, key, "step");
    st = &p->steps[p->n_steps++];
    *st = v->tmpl;
    st->name = model_str(v, key);
    st->pos = model_pos(v, key);
    if (val->flags & KILN_YNODE_BAD)
        return;
    if (val->type != KILN_YNODE_MAP && !kiln_dsl__is_null(val)) {
        error_at(v, val, "step %s: expected a mapping of keys such as "
                 "\"run:\", got %s", kiln_dsl__quote(q, key->u.str, key->n),
                 kiln_dsl__describe(got, val));
        return;
    }
    walk(v, &step_spec, val->type == KILN_YNODE_MAP ? val : NULL, st, "step",
         key, key);
    check_step(v, st, key, val);
    if (st->register_path) {
        size_t i;
        for (i = 0; i < st->outputs.n; i++)
            if (strcmp(st->outputs.items[i], st->register_path) == 0)
                break;
        if (i == st->outputs.n)
            kiln_dsl__error(v->c, st->register_pos.line, st->register_pos.col,
                            "register: path \"%s\" is not one of step %s's "
                            "outputs", st->register_path,
                            kiln_dsl__quote(q, key->u.str, key->n));
    }
}

static void build_steps(vctx *v)
{
    const kiln_ynode *s = v->steps;
    char got[KILN_DSL_QUOTE_SIZE];
    size_t i;

    if (!s || (s->flags & KILN_YNODE_BAD))
        return; /* missing: walk() said so */
    if (kiln_dsl__is_null(s) || (s->type == KILN_YNODE_MAP && s->n == 0)) {
        error_at(v, s, "\"steps\" is empty: add at least one step");
        return;
    }
    if (s->type != KILN_YNODE_MAP) {
        error_at(v, s, "steps: expected a mapping of step names to steps, "
                 "got %s", kiln_dsl__describe(got, s));
        return;
    }
    v->p->steps = kiln_arena_alloc(v->p->arena,
                                   s->n * sizeof(*v->p->steps));
    for (i = 0; i < s->n && charge(v, s->u.items[2 * i]); i++)
        build_step(v, s->u.items[2 * i], s->u.items[2 * i + 1]);
}

int kiln_dsl__validate(kiln_dsl_ctx *c, const kiln_ydoc *doc,
                       kiln_pipeline *p)
{
    const kiln_ynode *root = doc->root;
    char got[KILN_DSL_QUOTE_SIZE];
    vctx v;

    memset(&v, 0, sizeof(v));
    v.c = c;
    v.p = p;
    /* Legitimate files look at each node about once; aliases may add a
     * little. Anything far beyond is an alias bomb. */
    v.max_visits = 4 * doc->n_nodes + 1000000;
    v.tmpl.kind = KILN_KIND_TASK;
    v.tmpl.retry_delay_ms = 10000;
    v.tmpl.workdir = ".";
    v.tmpl.executor = "local";
    v.tmpl.resources.cpus = 1;
    v.tmpl.cache = true;
    p->schedule.timezone = "UTC";
    p->schedule.max_catchup = 10;
    p->schedule.max_active_runs = 1;

    if (!root || (kiln_dsl__is_null(root) &&
                  !(root->flags & KILN_YNODE_BAD))) {
        kiln_dsl__error(c, root ? root->line : 1, root ? root->col : 1,
                        "the file is empty: a pipeline needs at least "
                        "\"pipeline:\" and \"steps:\"");
        return 0;
    }
    if (root->flags & KILN_YNODE_BAD)
        return 0;
    if (root->type != KILN_YNODE_MAP) {
        error_at(&v, root, "the top level must be a mapping with "
                 "\"pipeline:\" and \"steps:\", got %s",
                 kiln_dsl__describe(got, root));
        return 0;
    }
    walk(&v, &pipeline_spec, root, p, NULL, NULL, root);
    if (!v.stop)
        build_steps(&v);
    return v.stop ? -1 : 0;
}
