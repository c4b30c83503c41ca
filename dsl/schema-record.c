/*
 * schema-record.c: what a step reads besides its inputs, which its cache
 * key and the record of a run must name to say what the step saw (schema.h):
 *
 *   params:       the pipeline params the step uses (a step's own key);
 *   models:       the model versions it reads from the registry, by alias
 *                 or by version (a step's own key);
 *   environment:  lock files and commands describing its software (in
 *                 defaults: too; a step's replaces the defaults' whole).
 */
#include "schema.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/*
 * The items of the list value *valp into *items and *n: a single scalar
 * counts as a one-item list (*items then points at *valp, which must
 * outlive them) and null as an empty one, as in kiln_dsl__set_list().
 * Anything else is reported (list says what was expected) and gives false.
 */
static bool list_items(vctx *v, const kiln_ynode *const *valp,
                       const keyspec *k, const char *list,
                       kiln_ynode *const **items, size_t *n)
{
    const kiln_ynode *val = *valp;
    char got[KILN_DSL_QUOTE_SIZE];
    *items = NULL;
    *n = 0;
    if (kiln_dsl__is_null(val))
        return true;
    if (val->type == KILN_YNODE_SCALAR) {
        *items = (kiln_ynode *const *)valp;
        *n = 1;
        return true;
    }
    if (val->type == KILN_YNODE_SEQ) {
        *items = val->u.items;
        *n = val->n;
        return true;
    }
    error_at(v, val, "%s: expected %s, got %s", k->name, list,
             kiln_dsl__describe(got, val));
    return false;
}

/* params:. */

/* Index the pipeline's params, once: top-level keys are all read before
 * the steps, so they are complete by the first step's params:. A file
 * with 100,000 steps must not look through them step by step. */
static void index_params(vctx *v)
{
    const kiln_pipeline *p = v->p;
    if (v->params_indexed)
        return;
    v->params_indexed = true;
    kiln_dsl__strmap_init(&v->param_idx, p->n_params);
    v->param_names = kiln_malloc((p->n_params ? p->n_params : 1) *
                                 sizeof(*v->param_names));
    for (size_t i = 0; i < p->n_params; i++) {
        v->param_names[i] = p->params[i].key;
        kiln_dsl__strmap_set(&v->param_idx, p->params[i].key,
                             strlen(p->params[i].key), i);
    }
}

void kiln_dsl__record_dispose(vctx *v)
{
    if (!v->params_indexed)
        return;
    kiln_dsl__strmap_dispose(&v->param_idx);
    free(v->param_names);
    v->param_names = NULL;
    v->params_indexed = false;
}

/* An item of params: that names no declared param. */
static void unknown_param(vctx *v, const kiln_step *st, const kiln_ynode *it)
{
    char q[KILN_DSL_QUOTE_SIZE], qs[KILN_DSL_QUOTE_SIZE];
    const char *guess;

    kiln_dsl__quote(qs, st->name, strlen(st->name));
    kiln_dsl__quote(q, it->u.str, it->n);
    if (v->p->n_params == 0) {
        error_at(v, it, "step %s uses param %s, but the pipeline declares "
                 "no params (add it to the top-level \"params:\")", qs, q);
        return;
    }
    guess = kiln_dsl__suggest(v->c, it->u.str, it->n, v->param_names,
                              v->p->n_params);
    if (guess)
        error_at(v, it, "step %s uses unknown param %s (did you mean "
                 "\"%s\"?)", qs, q, guess);
    else
        error_at(v, it, "step %s uses unknown param %s: declare it in the "
                 "top-level \"params:\"", qs, q);
}

/*
 * params: [NAME...]: the params the step uses, each declared at the top
 * level, each once. Written at all (even as []), it limits what joins
 * the step's cache key and environment to those; has_params says so.
 */
void kiln_dsl__set_step_params(vctx *v, const kiln_ynode *key,
                               const kiln_ynode *val, void *obj,
                               const keyspec *k)
{
    kiln_step *st = obj;
    kiln_strlist *l = &st->params;
    kiln_ynode *const *items;
    char got[KILN_DSL_QUOTE_SIZE], q[KILN_DSL_QUOTE_SIZE];
    kiln_strmap seen;
    size_t n, i, t;

    memset(l, 0, sizeof(*l));
    st->has_params = true;
    if (!list_items(v, &val, k, "a list of param names", &items, &n))
        return;
    index_params(v);
    l->items = kiln_arena_alloc(v->p->arena, n * sizeof(*l->items));
    l->pos = kiln_arena_alloc(v->p->arena, n * sizeof(*l->pos));
    kiln_dsl__strmap_init(&seen, n);
    for (i = 0; i < n && charge(v, items[i]); i++) {
        const kiln_ynode *it = items[i];
        if (it->flags & KILN_YNODE_BAD)
            continue;
        if (!kiln_dsl__is_text(it) || it->n == 0) {
            error_at(v, it, "%s: expected a param name, got %s", k->name,
                     kiln_dsl__describe(got, it));
            continue;
        }
        /* Declared names hold no NUL: looking up all it->n bytes keeps
         * "seed\0x" from passing for "seed". */
        if (!kiln_dsl__strmap_get(&v->param_idx, it->u.str, it->n, &t)) {
            unknown_param(v, st, it);
            continue;
        }
        if (!kiln_dsl__strmap_add(&seen, it->u.str, it->n, i, &t)) {
            error_at(v, it, "step %s uses param %s twice",
                     kiln_dsl__quote(got, st->name, strlen(st->name)),
                     kiln_dsl__quote(q, it->u.str, it->n));
            continue;
        }
        l->items[l->n] = model_str(v, it);
        l->pos[l->n] = model_pos(v, it);
        l->n++;
    }
    kiln_dsl__strmap_dispose(&seen);
}

/* models:. */

/* models: {version: N}, an integer from 1 to INT_MAX. */
static void set_version(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                        void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    uint64_t n;
    if (kiln_dsl__as_count(val, &n) < 0 || n == 0 || n > INT_MAX) {
        error_at(v, val, "%s: expected a version number >= 1, got %s",
                 k->name, kiln_dsl__describe(got, val));
        return;
    }
    *FIELD(obj, k->off, int) = (int)n;
}

/* An item of models: written as a mapping; target: kiln_model_ref. */
static const keyspec model_ref_keys[] = {
    {"model", kiln_dsl__set_name, offsetof(kiln_model_ref, name), 0,
     "models: an item needs \"model: NAME\""},
    ROW(kiln_model_ref, "alias", kiln_dsl__set_name, alias),
    ROW(kiln_model_ref, "version", set_version, version),
    ROW(kiln_model_ref, "optional", kiln_dsl__set_bool, optional),
};

/* Each table fits walk()'s 64-bit mask of the keys seen. */
_Static_assert(KILN_ARRAY_SIZE(model_ref_keys) <= 64, "too many keys");

static const mapspec model_ref_spec = SPEC(model_ref_keys, false);

/* Check part (len bytes of the item it, quoted in q) as a model or an
 * alias name (what), with the rules of step names. Returns the name in
 * the pipeline's arena, or NULL after an error. */
static const char *ref_name(vctx *v, const kiln_ynode *it, const char *q,
                            const char *what, const char *part, size_t len)
{
    char name[KILN_DSL_MAX_NAME + 1], qn[KILN_DSL_QUOTE_SIZE];
    if (len == 0) {
        error_at(v, it, "models: %s has no %s name (expected NAME@ALIAS "
                 "or NAME:VERSION, such as churn@production or churn:3)",
                 q, what);
        return NULL;
    }
    kiln_dsl__quote(qn, part, len);
    if (len > KILN_DSL_MAX_NAME) {
        error_at(v, it, "models: %s: invalid %s name %s: use at most %d "
                 "characters", q, what, qn, KILN_DSL_MAX_NAME);
        return NULL;
    }
    memcpy(name, part, len);
    name[len] = '\0';
    if (strlen(name) != len || !kiln_dsl_valid_name(name)) {
        error_at(v, it, "models: %s: invalid %s name %s: use lowercase "
                 "letters, digits, \"-\" and \"_\"", q, what, qn);
        return NULL;
    }
    return kiln_arena_strndup(v->p->arena, part, len);
}

/*
 * An item of models: written as a string: NAME@ALIAS or NAME:VERSION,
 * then "?" when the step may run without it. Neither a name nor an alias
 * holds "@", ":" or "?", so the first "@" or ":" splits the item. Returns
 * false after an error.
 */
static bool parse_ref(vctx *v, const kiln_ynode *it, kiln_model_ref *m)
{
    const char *s = it->u.str;
    char q[KILN_DSL_QUOTE_SIZE];
    size_t n = it->n, cut;
    uint64_t version = 0;

    kiln_dsl__quote(q, s, n);
    if (n > 0 && s[n - 1] == '?') {
        m->optional = true;
        n--;
    }
    /* A NUL inside the text would end the string early: count it as a
     * character no name may hold. */
    for (cut = 0; cut < n && s[cut] != '@' && s[cut] != ':'; cut++)
        ;
    if (cut == n) {
        error_at(v, it, "models: %s: expected NAME@ALIAS or NAME:VERSION, "
                 "such as churn@production or churn:3", q);
        return false;
    }
    m->name = ref_name(v, it, q, "model", s, cut);
    if (!m->name)
        return false;
    if (s[cut] == '@') {
        m->alias = ref_name(v, it, q, "alias", s + cut + 1, n - cut - 1);
        return m->alias != NULL;
    }
    for (size_t i = cut + 1; i < n && version <= INT_MAX; i++) {
        if (s[i] < '0' || s[i] > '9') {
            version = 0;
            break;
        }
        version = version * 10 + (uint64_t)(s[i] - '0');
    }
    if (version == 0 || version > INT_MAX) {
        error_at(v, it, "models: %s: expected a version number >= 1 after "
                 "\":\", such as churn:3", q);
        return false;
    }
    m->version = (int)version;
    return true;
}

/* An item of models: written as a mapping: {model: NAME, alias: ALIAS} or
 * {model: NAME, version: N}, and optional:. Returns false after an
 * error. */
static bool walk_ref(vctx *v, const kiln_ynode *it, kiln_model_ref *m)
{
    const kiln_ynode *alias = NULL, *version = NULL;
    size_t before = v->c->n_errors;

    kiln_dsl__walk(v, &model_ref_spec, it, m, "models", NULL, it);
    for (size_t i = 0; i < it->n; i++) {
        const kiln_ynode *kn = it->u.items[2 * i];
        if (!kiln_dsl__is_text(kn))
            continue;
        if (kn->n == 5 && memcmp(kn->u.str, "alias", 5) == 0)
            alias = kn;
        else if (kn->n == 7 && memcmp(kn->u.str, "version", 7) == 0)
            version = kn;
        else
            continue;
        /* Reported at whichever came second: that is the one to drop. */
        if (alias && version) {
            error_at(v, kn, "models: give either \"alias:\" or "
                     "\"version:\", not both");
            return false;
        }
    }
    if (!alias && !version) {
        error_at(v, it, "models: an item needs \"alias: NAME\" or "
                 "\"version: N\" besides \"model:\"");
        return false;
    }
    return v->c->n_errors == before;
}

/*
 * models: the model versions the step reads, each model once. Written as
 * strings or mappings, they end up alike; what a reference resolves to is
 * the engine's business, at run time.
 */
void kiln_dsl__set_models(vctx *v, const kiln_ynode *key,
                          const kiln_ynode *val, void *obj, const keyspec *k)
{
    kiln_step *st = obj;
    kiln_ynode *const *items;
    char got[KILN_DSL_QUOTE_SIZE], q[KILN_DSL_QUOTE_SIZE];
    kiln_strmap seen;
    size_t n, i, t;
    char *ref;

    st->n_models = 0;
    st->models = NULL;
    if (!list_items(v, &val, k, "a list of models such as "
                    "[churn@production]", &items, &n))
        return;
    st->models = kiln_arena_alloc(v->p->arena, n * sizeof(*st->models));
    kiln_dsl__strmap_init(&seen, n);
    for (i = 0; i < n && charge(v, items[i]); i++) {
        const kiln_ynode *it = items[i];
        kiln_model_ref *m = &st->models[st->n_models];
        bool good;
        if (it->flags & KILN_YNODE_BAD)
            continue;
        memset(m, 0, sizeof(*m));
        m->pos = model_pos(v, it);
        if (it->type == KILN_YNODE_MAP) {
            good = walk_ref(v, it, m);
        } else if (kiln_dsl__is_text(it)) {
            good = parse_ref(v, it, m);
        } else {
            error_at(v, it, "%s: expected a model such as churn@production,"
                     " churn:3 or {model: churn, alias: production}, got %s",
                     k->name, kiln_dsl__describe(got, it));
            continue;
        }
        if (!good || !m->name)
            continue;
        /* The same model by two aliases (production and challenger) is
         * fine; the same reference twice is not. */
        ref = m->alias ? kiln_arena_printf(v->p->arena, "%s@%s", m->name,
                                           m->alias)
                       : kiln_arena_printf(v->p->arena, "%s:%d", m->name,
                                           m->version);
        if (!kiln_dsl__strmap_add(&seen, ref, strlen(ref), i, &t)) {
            error_at(v, it, "step %s reads model %s twice",
                     kiln_dsl__quote(got, st->name, strlen(st->name)),
                     kiln_dsl__quote(q, ref, strlen(ref)));
            continue;
        }
        st->n_models++;
    }
    kiln_dsl__strmap_dispose(&seen);
}

/* environment:. */

static void set_env_files(vctx *v, const kiln_ynode *key,
                          const kiln_ynode *val, void *obj, const keyspec *k)
{
    kiln_dsl__set_list(v, val, obj, k, "a list of paths such as "
                       "[requirements.txt]", "a path");
}

static void set_env_commands(vctx *v, const kiln_ynode *key,
                             const kiln_ynode *val, void *obj,
                             const keyspec *k)
{
    kiln_dsl__set_list(v, val, obj, k, "a list of commands such as "
                       "[\"python3 -m pip freeze\"]", "a command");
}

/* environment:; target: kiln_environment. */
static const keyspec environment_keys[] = {
    ROW(kiln_environment, "files", set_env_files, files),
    ROW(kiln_environment, "commands", set_env_commands, commands),
};

_Static_assert(KILN_ARRAY_SIZE(environment_keys) <= 64, "too many keys");

static const mapspec environment_spec = SPEC(environment_keys, false);

/*
 * environment: in defaults: or a step. Unlike resources:, a step's
 * replaces the defaults' whole: a step that names its own lock files
 * does not depend on the others'. An environment that names nothing
 * would describe nothing, so it is an error, not a way to opt out.
 */
void kiln_dsl__set_environment(vctx *v, const kiln_ynode *key,
                               const kiln_ynode *val, void *obj,
                               const keyspec *k)
{
    kiln_step *st = obj;
    kiln_environment *e;
    size_t before = v->c->n_errors;

    if (!kiln_dsl__nested_map(v, val, k->name))
        return;
    e = kiln_arena_alloc(v->p->arena, sizeof(*e));
    e->pos = model_pos(v, key);
    kiln_dsl__walk(v, &environment_spec,
                   val->type == KILN_YNODE_MAP ? val : NULL, e,
                   "environment", NULL, key);
    /* Entries that were wrong were reported already: say nothing more. */
    if (e->files.n + e->commands.n == 0 && v->c->n_errors == before)
        error_at(v, key, "environment: expected \"files:\" or "
                 "\"commands:\" with at least one entry, such as "
                 "{files: [requirements.txt]}");
    st->environment = e;
}
