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
 * This file has walk(), the top level, defaults:, git:, the steps and
 * register:; the other parts of a pipeline have their tables in files of
 * their own (schema.h lists them).
 *
 * Steps start as a copy of a template step: the built-in defaults with the
 * file's defaults: applied. That is why steps: is read after every other
 * top-level key, wherever it appears in the file.
 */
#include "schema.h"

#include <stdio.h>
#include <string.h>

/* Setters of the top level's and a step's own values. */

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
    if (kiln_dsl__check_name(v, val, "pipeline"))
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

/* cache: in a step. cache_set records that the step itself wrote it:
 * only that turns caching on for a deploy step (check_step()). */
static void set_cache(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                      void *obj, const keyspec *k)
{
    kiln_step *st = obj;
    kiln_dsl__set_bool(v, key, val, obj, k);
    st->cache_set = true;
}

/* The tables. Setters for nested mappings come after them. */

static void set_defaults(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k);
static void set_git(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                    void *obj, const keyspec *k);
static void set_promote(vctx *v, const kiln_ynode *key,
                        const kiln_ynode *val, void *obj, const keyspec *k);
static void set_retire(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k);
static void set_steps(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                      void *obj, const keyspec *k);
static void set_register(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k);

/* Top level; target: kiln_pipeline. */
static const keyspec pipeline_keys[] = {
    {"pipeline", set_pipeline_name, offsetof(kiln_pipeline, name), 0,
     "missing \"pipeline: NAME\": every pipeline file needs a name"},
    ROW(kiln_pipeline, "description", kiln_dsl__set_text, description),
    KV_ROW(kiln_pipeline, "params", kiln_dsl__set_params, params, n_params),
    KV_ROW(kiln_pipeline, "env", kiln_dsl__set_env, env, n_env),
    KV_ROW(kiln_pipeline, "secrets", kiln_dsl__set_secrets, secrets,
           n_secrets),
    {"defaults", set_defaults, 0, 0, NULL},
    {"git", set_git, 0, 0, NULL},
    {"schedule", kiln_dsl__set_schedule, 0, 0, NULL},
    {"triggers", kiln_dsl__set_triggers, 0, 0, NULL},
    ROW(kiln_pipeline, "cooldown", kiln_dsl__set_duration, cooldown_ms),
    {"notify", kiln_dsl__set_notify, 0, 0, NULL},
    {"retention", kiln_dsl__set_retention, 0, 0, NULL},
    {"steps", set_steps, 0, 0,
     "the pipeline has no steps: add a \"steps:\" mapping"},
};

/* defaults:; target: the template kiln_step. */
static const keyspec defaults_keys[] = {
    ROW(kiln_step, "retries", kiln_dsl__set_retries, retries),
    ROW(kiln_step, "retry_delay", kiln_dsl__set_duration, retry_delay_ms),
    ROW(kiln_step, "timeout", kiln_dsl__set_duration, timeout_ms),
    ROW(kiln_step, "workdir", kiln_dsl__set_string, workdir),
    ROW(kiln_step, "executor", kiln_dsl__set_string, executor),
    {"resources", kiln_dsl__set_resources, 0, 0, NULL},
    {"slurm", kiln_dsl__set_slurm, 0, 0, NULL},
    ROW(kiln_step, "cache", kiln_dsl__set_bool, cache),
    ROW(kiln_step, "deterministic", kiln_dsl__set_bool, deterministic),
    {"environment", kiln_dsl__set_environment, 0, 0, NULL},
    {"image", kiln_dsl__set_image, 0, 0, NULL},
    {"container", kiln_dsl__set_container, 0, 0, NULL},
};

/* git:; target: kiln_pipeline. */
static const keyspec git_keys[] = {
    ROW(kiln_pipeline, "require_clean", kiln_dsl__set_bool, git_require_clean),
};

/* A step; target: kiln_step. */
static const keyspec step_keys[] = {
    ROW(kiln_step, "kind", set_kind, kind),
    /* run: is required unless the step has data: (check_step()). */
    ROW(kiln_step, "run", kiln_dsl__set_string, run),
    ROW(kiln_step, "needs", kiln_dsl__set_needs, needs),
    ROW(kiln_step, "inputs", kiln_dsl__set_paths, inputs),
    ROW(kiln_step, "outputs", kiln_dsl__set_paths, outputs),
    ROW(kiln_step, "retries", kiln_dsl__set_retries, retries),
    ROW(kiln_step, "retry_delay", kiln_dsl__set_duration, retry_delay_ms),
    ROW(kiln_step, "timeout", kiln_dsl__set_duration, timeout_ms),
    ROW(kiln_step, "workdir", kiln_dsl__set_string, workdir),
    ROW(kiln_step, "executor", kiln_dsl__set_string, executor),
    ROW(kiln_step, "pool", kiln_dsl__set_name, pool),
    {"resources", kiln_dsl__set_resources, 0, 0, NULL},
    {"slurm", kiln_dsl__set_slurm, 0, 0, NULL},
    ROW(kiln_step, "metrics", kiln_dsl__set_string, metrics),
    {"when", set_when, 0, 0, NULL},
    {"register", set_register, 0, 0, NULL},
    {"promote", set_promote, 0, 0, NULL},
    {"retire", set_retire, 0, 0, NULL},
    ROW(kiln_step, "cache", set_cache, cache),
    ROW(kiln_step, "deterministic", kiln_dsl__set_bool, deterministic),
    KV_ROW(kiln_step, "env", kiln_dsl__set_env, env, n_env),
    KV_ROW(kiln_step, "secrets", kiln_dsl__set_secrets, secrets, n_secrets),
    /* What the step reads besides its inputs (schema-record.c). */
    {"params", kiln_dsl__set_step_params, 0, 0, NULL},
    {"models", kiln_dsl__set_models, 0, 0, NULL},
    {"environment", kiln_dsl__set_environment, 0, 0, NULL},
    /* Where it runs (schema-container.c). */
    {"image", kiln_dsl__set_image, 0, 0, NULL},
    {"container", kiln_dsl__set_container, 0, 0, NULL},
    /* A sweep over params' values (schema-matrix.c). */
    {"matrix", kiln_dsl__set_matrix, 0, 0, NULL},
    {"select", kiln_dsl__set_select, 0, 0, NULL},
    /* The checks go to validation_keys (schema-checks.c). */
    {"data", kiln_dsl__set_check, 0, 0, NULL},
    {"schema", kiln_dsl__set_check, 0, 0, NULL},
    {"min_rows", kiln_dsl__set_check, 0, 0, NULL},
    {"max_rows", kiln_dsl__set_check, 0, 0, NULL},
    {"strict", kiln_dsl__set_check, 0, 0, NULL},
    {"drift", kiln_dsl__set_check, 0, 0, NULL},
};

/* register:; target: kiln_registry_ops. */
static const keyspec register_keys[] = {
    {"model", kiln_dsl__set_name, offsetof(kiln_registry_ops, register_model), 0,
     "register: needs \"model: NAME\""},
    {"path", kiln_dsl__set_string, offsetof(kiln_registry_ops, register_path), 0,
     "register: needs \"path:\", one of the step's outputs"},
    {"alias", kiln_dsl__set_name, offsetof(kiln_registry_ops, register_alias), 0, NULL},
    ROW(kiln_registry_ops, "deploy", kiln_dsl__set_string, register_deploy),
    ROW(kiln_registry_ops, "deploy_timeout", kiln_dsl__set_duration,
        register_deploy_timeout_ms),
};

/* promote: and retire:; target: kiln_registry_ops. */
static const keyspec promote_keys[] = {
    {"model", kiln_dsl__set_name, offsetof(kiln_registry_ops, promote_model), 0,
     "promote: needs \"model: NAME\""},
    {"from", kiln_dsl__set_name, offsetof(kiln_registry_ops, promote_from), 0,
     "promote: needs \"from: ALIAS\", the alias to promote (challenger)"},
    {"to", kiln_dsl__set_name, offsetof(kiln_registry_ops, promote_to), 0,
     "promote: needs \"to: ALIAS\", the alias it replaces (production)"},
};
static const keyspec retire_keys[] = {
    {"model", kiln_dsl__set_name, offsetof(kiln_registry_ops, retire_model), 0,
     "retire: needs \"model: NAME\""},
    {"alias", kiln_dsl__set_name, offsetof(kiln_registry_ops, retire_alias), 0,
     "retire: needs \"alias: ALIAS\", the alias to retire"},
};

/* Each table fits walk()'s 64-bit mask of the keys seen. */
_Static_assert(KILN_ARRAY_SIZE(pipeline_keys) <= 64, "too many keys");
_Static_assert(KILN_ARRAY_SIZE(defaults_keys) <= 64, "too many keys");
_Static_assert(KILN_ARRAY_SIZE(git_keys) <= 64, "too many keys");
_Static_assert(KILN_ARRAY_SIZE(step_keys) <= 64, "too many keys");
_Static_assert(KILN_ARRAY_SIZE(register_keys) <= 64, "too many keys");
_Static_assert(KILN_ARRAY_SIZE(promote_keys) <= 64, "too many keys");
_Static_assert(KILN_ARRAY_SIZE(retire_keys) <= 64, "too many keys");

static const mapspec pipeline_spec = SPEC(pipeline_keys, true);
static const mapspec defaults_spec = SPEC(defaults_keys, false);
static const mapspec git_spec = SPEC(git_keys, false);
static const mapspec step_spec = SPEC(step_keys, false);
static const mapspec register_spec = SPEC(register_keys, false);
static const mapspec promote_spec = SPEC(promote_keys, false);
static const mapspec retire_spec = SPEC(retire_keys, false);

const keyspec *kiln_dsl__find_key(const mapspec *spec, const kiln_ynode *key)
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
void kiln_dsl__walk(vctx *v, const mapspec *spec, const kiln_ynode *map,
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
        k = kiln_dsl__find_key(spec, key);
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
bool kiln_dsl__nested_map(vctx *v, const kiln_ynode *val, const char *what)
{
    char got[KILN_DSL_QUOTE_SIZE];
    if (val->type == KILN_YNODE_MAP || kiln_dsl__is_null(val))
        return true;
    error_at(v, val, "%s: expected a mapping, got %s", what,
             kiln_dsl__describe(got, val));
    return false;
}

/* Does map have key? */
bool kiln_dsl__has_key(const kiln_ynode *map, const char *key)
{
    for (size_t i = 0; map && map->type == KILN_YNODE_MAP && i < map->n; i++) {
        const kiln_ynode *kn = map->u.items[2 * i];
        if (kiln_dsl__is_text(kn) && strlen(key) == kn->n &&
            memcmp(kn->u.str, key, kn->n) == 0)
            return true;
    }
    return false;
}

static void set_defaults(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k)
{
    if (kiln_dsl__nested_map(v, val, k->name))
        kiln_dsl__walk(v, &defaults_spec,
                       val->type == KILN_YNODE_MAP ? val : NULL, &v->tmpl,
                       "defaults", NULL, key);
}

static void set_git(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                    void *obj, const keyspec *k)
{
    if (kiln_dsl__nested_map(v, val, k->name))
        kiln_dsl__walk(v, &git_spec, val->type == KILN_YNODE_MAP ? val : NULL,
                       obj, "git", NULL, key);
}

/* The step's registry operations, made on first use. */
static kiln_registry_ops *registry_ops(vctx *v, kiln_step *st)
{
    if (!st->reg)
        st->reg = kiln_arena_alloc(v->p->arena, sizeof(*st->reg));
    return st->reg;
}

/* register: {model: NAME, path: OUTPUT}, and alias: and deploy: (the
 * command run when an alias of the model moves); the path must be one of
 * the step's declared outputs, as written. */
static void set_register(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k)
{
    kiln_step *st = obj;
    if (!kiln_dsl__nested_map(v, val, k->name))
        return;
    registry_ops(v, st)->register_pos = model_pos(v, key);
    kiln_dsl__walk(v, &register_spec, val->type == KILN_YNODE_MAP ? val : NULL,
                   st->reg, "register", NULL, key);
}

/* promote: {model, from, to} and retire: {model, alias}: what a gated step
 * does to the registry once it succeeded. */
static void set_promote(vctx *v, const kiln_ynode *key,
                        const kiln_ynode *val, void *obj, const keyspec *k)
{
    kiln_step *st = obj;
    if (!kiln_dsl__nested_map(v, val, k->name))
        return;
    registry_ops(v, st)->promote_pos = model_pos(v, key);
    kiln_dsl__walk(v, &promote_spec, val->type == KILN_YNODE_MAP ? val : NULL,
                   st->reg, "promote", NULL, key);
}

static void set_retire(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k)
{
    kiln_step *st = obj;
    if (!kiln_dsl__nested_map(v, val, k->name))
        return;
    registry_ops(v, st)->retire_pos = model_pos(v, key);
    kiln_dsl__walk(v, &retire_spec, val->type == KILN_YNODE_MAP ? val : NULL,
                   st->reg, "retire", NULL, key);
}

static void set_steps(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                      void *obj, const keyspec *k)
{
    v->steps = val; /* read by build_steps(), once defaults are known */
}

/* What walk() cannot see in a step: run: is required unless kiln runs
 * checks itself, checks need kind: validate and a data: file, and a
 * deploy step's cache depends on its kind, wherever kind: is written. */
static void check_step(vctx *v, kiln_step *st, const kiln_ynode *key,
                       const kiln_ynode *val)
{
    char q[KILN_DSL_QUOTE_SIZE];
    const kiln_validation *va = st->validation;
    kiln_dsl__quote(q, key->u.str, key->n);
    /* A step that only promotes or retires runs nothing of its own. */
    if (!kiln_dsl__has_key(val, "run") && !va &&
        (kiln_dsl__has_key(val, "promote") || kiln_dsl__has_key(val,
                                                                "retire")))
        st->run = "true";
    else if (!kiln_dsl__has_key(val, "run") && !va)
        error_at(v, key, "step %s has no \"run\" command", q);
    if (st->reg && st->reg->promote_to && st->reg->promote_from &&
        strcmp(st->reg->promote_to, st->reg->promote_from) == 0)
        kiln_dsl__error(v->c, st->reg->promote_pos.line,
                        st->reg->promote_pos.col,
                        "step %s: promote: from and to are the same alias "
                        "\"%s\"", q, st->reg->promote_to);
    /* It changes the registry: never served from the cache. */
    if ((kiln_dsl__has_key(val, "promote") ||
         kiln_dsl__has_key(val, "retire")) && !st->cache_set)
        st->cache = false;
    /* A deploy's effect lies outside its outputs (a server now serves
     * the model): restoring the outputs from the cache would skip it. The
     * step says cache: true itself when that is what it means. */
    if (st->kind == KILN_KIND_DEPLOY && !st->cache_set)
        st->cache = false;
    /* In defaults: they are for the Slurm steps among others; in a step
     * that runs elsewhere they would be silently ignored. */
    if (kiln_dsl__has_key(val, "slurm") && strcmp(st->executor, "slurm") != 0)
        kiln_dsl__error(v->c, st->slurm->pos.line, st->slurm->pos.col,
                        "step %s: slurm: options need \"executor: "
                        "slurm\" (the step runs on \"%s\")", q,
                        st->executor);
    if (!va)
        return;
    if (st->kind != KILN_KIND_VALIDATE)
        kiln_dsl__error(v->c, va->pos.line, va->pos.col, "step %s: data:, "
                        "schema: and the other checks need \"kind: "
                        "validate\"", q);
    else if (!va->data && !kiln_dsl__has_key(val, "data"))
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
    kiln_dsl__check_name(v, key, "step");
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
    kiln_dsl__walk(v, &step_spec, val->type == KILN_YNODE_MAP ? val : NULL, st,
                   "step", key, key);
    check_step(v, st, key, val);
    kiln_dsl__container_step(v, st, key);
    kiln_dsl__secrets_step(v, st);
    if (st->reg && st->reg->register_path) {
        const kiln_registry_ops *r = st->reg;
        size_t i;
        for (i = 0; i < st->outputs.n; i++)
            if (strcmp(st->outputs.items[i], r->register_path) == 0)
                break;
        if (i == st->outputs.n)
            kiln_dsl__error(v->c, r->register_pos.line, r->register_pos.col,
                            "register: path \"%s\" is not one of step %s's "
                            "outputs", r->register_path,
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
    if (!v->stop)
        kiln_dsl__container_done(v);
    if (!v->stop)
        kiln_dsl__matrix_expand(v);
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
    {
        kiln_resources *r = kiln_arena_alloc(p->arena, sizeof(*r));
        kiln_slurm_opts *o = kiln_arena_alloc(p->arena, sizeof(*o));
        memset(r, 0, sizeof(*r));
        memset(o, 0, sizeof(*o));
        r->cpus = 1;
        v.tmpl.resources = r;
        v.tmpl.slurm = o;
    }
    v.tmpl.cache = true;
    v.tmpl.deterministic = true;
    p->schedule.timezone = "UTC";
    p->schedule.max_catchup = 10;
    p->schedule.max_active_runs = 1;
    p->retention.keep_runs = p->retention.runs_ms = -1;
    p->retention.keep_logs = p->retention.logs_ms = -1;
    p->retention.compress_ms = -1;

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
    kiln_dsl__walk(&v, &pipeline_spec, root, p, NULL, NULL, root);
    if (!v.stop)
        build_steps(&v);
    kiln_dsl__record_dispose(&v);
    return v.stop ? -1 : 0;
}
