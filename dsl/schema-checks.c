/*
 * schema-checks.c: the checks of a validate step (data:, schema:,
 * min_rows:, max_rows:, strict:, drift:), written among the step's keys and
 * kept in its kiln_validation (schema.h). Drift triggers read their method
 * and threshold with the setters here.
 */
#include "schema.h"

#include <math.h>
#include <string.h>

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

void kiln_dsl__set_method(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
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
    kiln_dsl__set_number(v, key, val, obj, k);
    r->has_min = !kiln_dsl__is_null(val) &&
                 kiln_dsl__as_number(val, &r->min) == 0;
}

static void set_rule_max(vctx *v, const kiln_ynode *key,
                         const kiln_ynode *val, void *obj, const keyspec *k)
{
    kiln_col_rule *r = obj;
    kiln_dsl__set_number(v, key, val, obj, k);
    r->has_max = !kiln_dsl__is_null(val) &&
                 kiln_dsl__as_number(val, &r->max) == 0;
}

static void set_values(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k)
{
    kiln_dsl__set_list(v, val, obj, k, "a list of values", "a value");
}

/* A drift check's threshold when none is written: the usual rules of
 * thumb (psi 0.2, a ks p-value of 0.05, 0.1 for the others). */
void kiln_dsl__drift_defaults(kiln_drift_check *d)
{
    if (!d->method)
        d->method = "psi";
    if (isnan(d->threshold))
        d->threshold = strcmp(d->method, "ks") == 0    ? 0.05
                       : strcmp(d->method, "psi") == 0 ? 0.2
                                                       : 0.1;
}

/* The tables. Setters for nested mappings come after them. */

static void set_schema(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                       void *obj, const keyspec *k);
static void set_check_drift(vctx *v, const kiln_ynode *key,
                            const kiln_ynode *val, void *obj,
                            const keyspec *k);

/* The checks of a validate step; target: kiln_validation. */
static const keyspec validation_keys[] = {
    ROW(kiln_validation, "data", kiln_dsl__set_string, data),
    {"schema", set_schema, 0, 0, NULL},
    ROW(kiln_validation, "min_rows", set_rows, min_rows),
    ROW(kiln_validation, "max_rows", set_rows, max_rows),
    ROW(kiln_validation, "strict", kiln_dsl__set_bool, strict),
    {"drift", set_check_drift, 0, 0, NULL},
};

/* A column of schema:; target: kiln_col_rule. */
static const keyspec rule_keys[] = {
    ROW(kiln_col_rule, "type", set_col_type, type),
    ROW(kiln_col_rule, "min", set_rule_min, min),
    ROW(kiln_col_rule, "max", set_rule_max, max),
    ROW(kiln_col_rule, "max_missing", kiln_dsl__set_fraction, max_missing),
    ROW(kiln_col_rule, "values", set_values, values),
};

/* drift: of a validate step; target: kiln_drift_check. */
static const keyspec check_drift_keys[] = {
    {"reference", kiln_dsl__set_string,
     offsetof(kiln_drift_check, reference), 0,
     "drift: needs \"reference:\", the CSV file to compare with"},
    ROW(kiln_drift_check, "columns", kiln_dsl__set_columns, columns),
    ROW(kiln_drift_check, "method", kiln_dsl__set_method, method),
    ROW(kiln_drift_check, "threshold", kiln_dsl__set_nonneg, threshold),
};

/* Each table fits walk()'s 64-bit mask of the keys seen. */
_Static_assert(KILN_ARRAY_SIZE(validation_keys) <= 64, "too many keys");
_Static_assert(KILN_ARRAY_SIZE(rule_keys) <= 64, "too many keys");
_Static_assert(KILN_ARRAY_SIZE(check_drift_keys) <= 64, "too many keys");

static const mapspec validation_spec = SPEC(validation_keys, false);
static const mapspec rule_spec = SPEC(rule_keys, false);
static const mapspec check_drift_spec = SPEC(check_drift_keys, false);

/* data:, schema: and the other checks of a step go into its
 * kiln_validation, made on first use. */
void kiln_dsl__set_check(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                         void *obj, const keyspec *k)
{
    kiln_step *st = obj;
    const keyspec *ck = kiln_dsl__find_key(&validation_spec, key);
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
    if (!kiln_dsl__nested_map(v, val, "schema column"))
        return;
    kiln_dsl__walk(v, &rule_spec, val->type == KILN_YNODE_MAP ? val : NULL, r,
                   "column", name, name);
    if (r->values.n && r->type == KILN_COL_ANY)
        r->type = KILN_COL_CATEGORY;
    if (r->values.n && r->type != KILN_COL_CATEGORY)
        error_at(v, name, "column %s: values: is for type category, not %s",
                 q, kiln_col_type_name(r->type));
    if (r->type == KILN_COL_ANY && kiln_dsl__has_key(val, "type"))
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
    if (!kiln_dsl__nested_map(v, val, k->name))
        return;
    d = kiln_arena_alloc(v->p->arena, sizeof(*d));
    memset(d, 0, sizeof(*d));
    d->threshold = NAN;
    d->pos = model_pos(v, key);
    kiln_dsl__walk(v, &check_drift_spec,
                   val->type == KILN_YNODE_MAP ? val : NULL, d, "drift", NULL,
                   key);
    kiln_dsl__drift_defaults(d);
    va->drift = d;
}
