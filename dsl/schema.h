/*
 * schema.h: the key tables of phase 2, shared by the schema*.c files and
 * nobody else.
 *
 * A mapping is checked against a mapspec, a table of keyspec rows (the key,
 * the setter that checks its value and stores it, where the value goes in
 * the target struct), by kiln_dsl__walk(). Each part of a pipeline file has
 * its tables and their setters in a file of its own, as h2o's handlers have
 * their configurators:
 *
 *   schema.c            walk, the top level, defaults:, git:, the steps and
 *                       register:, and kiln_dsl__validate();
 *   schema-values.c     the setters the tables share: strings, names,
 *                       counts, durations, numbers, lists, mappings of
 *                       names to values;
 *   schema-schedule.c   schedule:;
 *   schema-triggers.c   triggers:;
 *   schema-notify.c     notify:;
 *   schema-retention.c  retention:, how long runs and their logs stay;
 *   schema-checks.c     the checks of a validate step (data:, schema:,
 *                       drift:...), and the drift values triggers share;
 *   schema-resources.c  resources: and slurm:;
 *   schema-record.c     what a step reads besides its inputs, for its
 *                       cache key and the record: params:, models:,
 *                       environment:;
 *   schema-container.c  image: and container:, a step that runs in a
 *                       container;
 *   schema-secrets.c    secrets:, on the pipeline and on a step;
 *   schema-matrix.c     matrix:, a step swept over params' values
 *                       (expanded into its items by matrix.c).
 */
#ifndef KILN_DSL_SCHEMA_H
#define KILN_DSL_SCHEMA_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "dsl/internal.h"

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

/* walk() keeps the keys it has seen in a 64-bit mask: a _Static_assert
 * beside each table checks that it fits. */
typedef struct mapspec {
    const keyspec *keys;
    size_t n_keys;       /* at most 64 */
    bool extensions;     /* ignore keys starting with "x-" */
} mapspec;

/* image: and container: as one mapping (defaults: or a step) wrote them;
 * kiln_dsl__container_step() makes a step's kiln_container of its own and
 * the defaults'. */
typedef struct cdraft {
    bool image_set;              /* image: was written, even "" or null */
    bool image_bad;              /* ...and reported: say nothing more */
    const char *image;           /* NULL: "" or null */
    const kiln_ynode *image_key;
    const kiln_container *block; /* container: as written, or NULL */
    const kiln_ynode *block_key;
} cdraft;

struct vctx {
    kiln_dsl_ctx *c;
    kiln_pipeline *p;
    kiln_step tmpl;            /* built-ins, then defaults: applied */
    const kiln_ynode *steps;   /* the steps: value, read last */
    size_t visits;             /* nodes looked at so far */
    size_t max_visits;         /* the budget aliases cannot blow */
    bool stop;                 /* the budget ran out */
    /* The pipeline's params by name, for the steps' params: lists; built
     * at the first such list (schema-record.c), disposed by validate. */
    kiln_strmap param_idx;
    const char **param_names;  /* candidates for "did you mean" */
    bool params_indexed;
    /* image: and container: (schema-container.c). */
    cdraft cdefaults;          /* in defaults: */
    cdraft cstep;              /* in the step being read */
    const kiln_container *cshared; /* the defaults' whole, made once */
    bool cdefaults_used;       /* a step got the defaults' container: */
};

#define FIELD(obj, off, type) ((type *)(void *)((char *)(obj) + (off)))
#define ROW(type, key, fn, field) \
    {key, fn, offsetof(type, field), 0, NULL}
#define KV_ROW(type, key, fn, field, count) \
    {key, fn, offsetof(type, field), offsetof(type, count), NULL}
#define SPEC(keys, ext) {keys, KILN_ARRAY_SIZE(keys), ext}

/* What every setter uses. */

static inline void error_at(vctx *v, const kiln_ynode *n, const char *fmt,
                            ...) KILN_PRINTF(3, 4);

static inline void error_at(vctx *v, const kiln_ynode *n, const char *fmt,
                            ...)
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
static inline bool charge(vctx *v, const kiln_ynode *at)
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

static inline kiln_pos model_pos(vctx *v, const kiln_ynode *n)
{
    kiln_pos pos = {v->p->file, n->line, n->col};
    return pos;
}

static inline const char *model_str(vctx *v, const kiln_ynode *n)
{
    return kiln_arena_strndup(v->p->arena, n->u.str, n->n);
}

/* Walking mappings (schema.c). */

/* Check map (NULL for an empty one) against spec and store its values into
 * obj; what and name describe the mapping for messages, at is where a
 * missing key is reported. */
void kiln_dsl__walk(vctx *v, const mapspec *spec, const kiln_ynode *map,
                    void *obj, const char *what, const kiln_ynode *name,
                    const kiln_ynode *at);
/* The row of spec for key, or NULL. */
const keyspec *kiln_dsl__find_key(const mapspec *spec, const kiln_ynode *key);
/* A mapping or null; reports anything else, with what as the key. */
bool kiln_dsl__nested_map(vctx *v, const kiln_ynode *val, const char *what);
/* Does map (a mapping, or anything else: false) have key? */
bool kiln_dsl__has_key(const kiln_ynode *map, const char *key);

/* Setters the tables share (schema-values.c). */

void kiln_dsl__set_string(vctx *v, const kiln_ynode *key,
                          const kiln_ynode *val, void *obj, const keyspec *k);
void kiln_dsl__set_text(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                        void *obj, const keyspec *k);
/* Check a pipeline or step name n; what is "pipeline" or "step". */
bool kiln_dsl__check_name(vctx *v, const kiln_ynode *n, const char *what);
void kiln_dsl__set_name(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                        void *obj, const keyspec *k);
void kiln_dsl__set_retries(vctx *v, const kiln_ynode *key,
                           const kiln_ynode *val, void *obj,
                           const keyspec *k);
void kiln_dsl__set_duration(vctx *v, const kiln_ynode *key,
                            const kiln_ynode *val, void *obj,
                            const keyspec *k);
void kiln_dsl__set_bool(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                        void *obj, const keyspec *k);
void kiln_dsl__set_number(vctx *v, const kiln_ynode *key,
                          const kiln_ynode *val, void *obj, const keyspec *k);
void kiln_dsl__set_nonneg(vctx *v, const kiln_ynode *key,
                          const kiln_ynode *val, void *obj, const keyspec *k);
void kiln_dsl__set_fraction(vctx *v, const kiln_ynode *key,
                            const kiln_ynode *val, void *obj,
                            const keyspec *k);
void kiln_dsl__set_url(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k);
/* A list of non-empty strings into the kiln_strlist at k->off; list and
 * item name what is expected, for messages. */
void kiln_dsl__set_list(vctx *v, const kiln_ynode *val, void *obj,
                        const keyspec *k, const char *list, const char *item);
void kiln_dsl__set_needs(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k);
void kiln_dsl__set_paths(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k);
void kiln_dsl__set_columns(vctx *v, const kiln_ynode *key,
                           const kiln_ynode *val, void *obj,
                           const keyspec *k);
void kiln_dsl__set_params(vctx *v, const kiln_ynode *key,
                          const kiln_ynode *val, void *obj, const keyspec *k);
void kiln_dsl__set_env(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k);

/* Drift, shared by drift checks and drift triggers (schema-checks.c). */

void kiln_dsl__set_method(vctx *v, const kiln_ynode *key,
                          const kiln_ynode *val, void *obj, const keyspec *k);
/* The method and threshold of a drift check when none is written. */
void kiln_dsl__drift_defaults(kiln_drift_check *d);

/* The setters of nested parts, one file each: rows of the top level's,
 * defaults:' and a step's tables. */

void kiln_dsl__set_schedule(vctx *v, const kiln_ynode *key,
                            const kiln_ynode *val, void *obj,
                            const keyspec *k);
void kiln_dsl__set_triggers(vctx *v, const kiln_ynode *key,
                            const kiln_ynode *val, void *obj,
                            const keyspec *k);
void kiln_dsl__set_retention(vctx *v, const kiln_ynode *key,
                             const kiln_ynode *val, void *obj,
                             const keyspec *k);
void kiln_dsl__set_notify(vctx *v, const kiln_ynode *key,
                          const kiln_ynode *val, void *obj, const keyspec *k);
/* data:, schema: and the other checks, among a step's keys. */
void kiln_dsl__set_check(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k);
void kiln_dsl__set_resources(vctx *v, const kiln_ynode *key,
                             const kiln_ynode *val, void *obj,
                             const keyspec *k);
void kiln_dsl__set_slurm(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k);
/* A step's params: and models: (its own keys only) and environment: (in
 * defaults: too). */
void kiln_dsl__set_step_params(vctx *v, const kiln_ynode *key,
                               const kiln_ynode *val, void *obj,
                               const keyspec *k);
void kiln_dsl__set_models(vctx *v, const kiln_ynode *key,
                          const kiln_ynode *val, void *obj, const keyspec *k);
void kiln_dsl__set_environment(vctx *v, const kiln_ynode *key,
                               const kiln_ynode *val, void *obj,
                               const keyspec *k);
/* Release what the setters above keep in v. */
void kiln_dsl__record_dispose(vctx *v);
/* image: and container:, in defaults: and steps. */
void kiln_dsl__set_image(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k);
void kiln_dsl__set_container(vctx *v, const kiln_ynode *key,
                             const kiln_ynode *val, void *obj,
                             const keyspec *k);
/* Once step st (its key) is read: st->container from the step's image:
 * and container: and the defaults'. */
void kiln_dsl__container_step(vctx *v, kiln_step *st, const kiln_ynode *key);
/* Once every step is read: a defaults' container: no step used. */
void kiln_dsl__container_done(vctx *v);
/* matrix: on a step (schema-matrix.c), and its expansion into items
 * once every step is read (matrix.c). */
void kiln_dsl__set_matrix(vctx *v, const kiln_ynode *key,
                          const kiln_ynode *val, void *obj, const keyspec *k);
void kiln_dsl__matrix_expand(vctx *v);
/* select: on a step (schema-matrix.c), resolved once the matrices are
 * expanded (matrix.c). */
void kiln_dsl__set_select(vctx *v, const kiln_ynode *key,
                          const kiln_ynode *val, void *obj, const keyspec *k);
/* secrets:, on the pipeline and on a step (a KV_ROW: the array and its
 * count). */
void kiln_dsl__set_secrets(vctx *v, const kiln_ynode *key,
                           const kiln_ynode *val, void *obj,
                           const keyspec *k);
/* Once step st is read: its secrets in effect, the pipeline's and its
 * own. */
void kiln_dsl__secrets_step(vctx *v, kiln_step *st);

#endif
