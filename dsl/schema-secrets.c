/*
 * schema-secrets.c: secrets:, on the pipeline and on a step (schema.h).
 *
 *   secrets:
 *     DB_PASSWORD: {env: PGPASSWORD}       # kiln's own environment
 *     API_TOKEN: {file: /run/secrets/api}  # a file's bytes
 *     SIGNING_KEY: {command: "pass show signing"}  # a command's output
 *
 * Each entry names the variable the step sees and a reference to where
 * its value is; the value itself is read only when a step starts, so a
 * loaded pipeline never holds one. A step's entries replace the
 * pipeline's of the same name (kiln_dsl__secrets_step()).
 */
#include "schema.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"env", "file", "command"};

const char *kiln_secret_kind_name(kiln_secret_kind kind)
{
    return (size_t)kind < KILN_ARRAY_SIZE(kind_names) ? kind_names[kind]
                                                      : "?";
}

/* A reference's value: a variable name for env:, a non-empty string for
 * file: and command:. The kind is the row's; which rows were written is
 * checked by walk_ref(). */
static void set_ref(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                    void *obj, const keyspec *k)
{
    kiln_secret *s = obj;
    char got[KILN_DSL_QUOTE_SIZE];
    (void)key;
    if (!kiln_dsl__is_text(val) || val->n == 0 ||
        strlen(val->u.str) != val->n) {
        error_at(v, val, "secret \"%s\": %s: expected %s, got %s", s->name,
                 k->name, k->off == KILN_SECRET_ENV ? "a variable name"
                 : k->off == KILN_SECRET_FILE ? "a path" : "a command",
                 kiln_dsl__describe(got, val));
        return;
    }
    if (k->off == KILN_SECRET_ENV && !kiln_dsl_valid_param_name(val->u.str)) {
        error_at(v, val, "secret \"%s\": env: invalid variable name %s: use "
                 "letters, digits and \"_\", not starting with a digit",
                 s->name, kiln_dsl__quote(got, val->u.str, val->n));
        return;
    }
    s->kind = (kiln_secret_kind)k->off;
    s->ref = model_str(v, val);
}

/* A reference; target: kiln_secret. The kind goes in off. */
static const keyspec ref_keys[] = {
    {"env", set_ref, KILN_SECRET_ENV, 0, NULL},
    {"file", set_ref, KILN_SECRET_FILE, 0, NULL},
    {"command", set_ref, KILN_SECRET_COMMAND, 0, NULL},
};

_Static_assert(KILN_ARRAY_SIZE(ref_keys) <= 64, "too many keys");

static const mapspec ref_spec = SPEC(ref_keys, false);

/* The reference of secret s, written as the mapping val: exactly one of
 * env:, file: and command:. Returns false after an error. */
static bool walk_ref(vctx *v, const kiln_ynode *name, const kiln_ynode *val,
                     kiln_secret *s)
{
    const kiln_ynode *first = NULL;
    size_t before = v->c->n_errors;
    char got[KILN_DSL_QUOTE_SIZE];

    if (val->type != KILN_YNODE_MAP || val->n == 0) {
        error_at(v, val, "secret \"%s\": expected a reference such as {env: "
                 "VAR}, {file: PATH} or {command: CMD}, got %s", s->name,
                 kiln_dsl__describe(got, val));
        return false;
    }
    for (size_t i = 0; i < val->n; i++) {
        const kiln_ynode *kn = val->u.items[2 * i];
        if (!kiln_dsl__is_text(kn) || !kiln_dsl__find_key(&ref_spec, kn))
            continue;
        if (first) {
            /* Reported at the second: that is the one to drop. */
            error_at(v, kn, "secret \"%s\": give one of env:, file: or "
                     "command:, not both %.*s: and %.*s:", s->name,
                     (int)first->n, first->u.str, (int)kn->n, kn->u.str);
            return false;
        }
        first = kn;
    }
    kiln_dsl__walk(v, &ref_spec, val, s, "secret", name, val);
    if (!first && v->c->n_errors == before)
        error_at(v, val, "secret \"%s\": expected one of env:, file: or "
                 "command:", s->name);
    return first && s->ref && v->c->n_errors == before;
}

static int cmp_secret(const void *a, const void *b)
{
    return strcmp(((const kiln_secret *)a)->name,
                  ((const kiln_secret *)b)->name);
}

/*
 * secrets: a mapping of variable names to references, into the
 * kiln_secret array at k->off and its count at k->off_n, sorted by name
 * (a name once: the YAML reader refuses duplicate keys). A name must be
 * a variable's and not one of kiln's own (KILN_*).
 */
void kiln_dsl__set_secrets(vctx *v, const kiln_ynode *key,
                           const kiln_ynode *val, void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE], q[KILN_DSL_QUOTE_SIZE];
    kiln_secret *list;
    size_t n = 0;

    (void)key;
    if (kiln_dsl__is_null(val))
        return;
    if (val->type != KILN_YNODE_MAP) {
        error_at(v, val, "%s: expected a mapping of names to references "
                 "such as {env: VAR}, got %s", k->name,
                 kiln_dsl__describe(got, val));
        return;
    }
    list = kiln_arena_alloc(v->p->arena, val->n * sizeof(*list));
    for (size_t i = 0; i < val->n && charge(v, val->u.items[2 * i]); i++) {
        const kiln_ynode *name = val->u.items[2 * i];
        const kiln_ynode *ref = val->u.items[2 * i + 1];
        kiln_secret *s = &list[n];
        if ((name->flags & KILN_YNODE_BAD) || (ref->flags & KILN_YNODE_BAD))
            continue;
        if (!kiln_dsl__is_text(name)) {
            error_at(v, name, "%s: expected a name, got %s", k->name,
                     kiln_dsl__describe(got, name));
            continue;
        }
        kiln_dsl__quote(q, name->u.str, name->n);
        if (!kiln_dsl_valid_param_name(name->u.str) ||
            strlen(name->u.str) != name->n) {
            error_at(v, name, "invalid secret name %s: use letters, digits "
                     "and \"_\", not starting with a digit", q);
            continue;
        }
        if (strncmp(name->u.str, "KILN_", 5) == 0) {
            error_at(v, name, "invalid secret name %s: names starting with "
                     "KILN_ are kiln's own variables", q);
            continue;
        }
        memset(s, 0, sizeof(*s));
        s->name = model_str(v, name);
        s->pos = model_pos(v, name);
        if (walk_ref(v, name, ref, s))
            n++;
    }
    qsort(list, n, sizeof(*list), cmp_secret);
    *FIELD(obj, k->off, kiln_secret *) = list;
    *FIELD(obj, k->off_n, size_t) = n;
}

/* Once step st is read: its secrets in effect, the pipeline's with the
 * step's own (st->secrets so far) in place of those of the same name,
 * sorted by name. */
void kiln_dsl__secrets_step(vctx *v, kiln_step *st)
{
    const kiln_pipeline *p = v->p;
    kiln_secret *all;
    size_t i = 0, j = 0, n = 0;

    if (p->n_secrets == 0)
        return; /* the step's own, if any, are all there is */
    all = kiln_arena_alloc(v->p->arena, (p->n_secrets + st->n_secrets) *
                                            sizeof(*all));
    /* Both lists are sorted: merge them. */
    while (i < p->n_secrets || j < st->n_secrets) {
        int c = i == p->n_secrets   ? 1
                : j == st->n_secrets ? -1
                : strcmp(p->secrets[i].name, st->secrets[j].name);
        if (c < 0) {
            all[n++] = p->secrets[i++];
        } else {
            if (c == 0)
                i++;
            all[n++] = st->secrets[j++];
        }
    }
    st->secrets = all;
    st->n_secrets = n;
}
