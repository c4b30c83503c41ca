/*
 * schema-retention.c: retention:, how long the record keeps the
 * pipeline's runs and their logs (schema.h):
 *
 *   retention:
 *     runs: {keep_last: 100, older_than: 90d}
 *     logs: {keep_last: 20, older_than: 30d, compress_after: 1d}
 *
 * kiln gc --runs and kiln serve apply it (store/retention.c).
 */
#include "schema.h"

/* The most a keep_last: may say (far beyond any real record). */
#define MAX_KEEP 1000000000ULL

/* keep_last: an integer >= 0 into the int64_t at k->off. */
static void set_keep(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                     void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    uint64_t n;
    if (kiln_dsl__is_null(val) || kiln_dsl__as_count(val, &n) < 0 ||
        n > MAX_KEEP) {
        error_at(v, val, "%s: expected a number of runs (an integer from "
                 "0 to %llu), got %s", k->name, MAX_KEEP,
                 kiln_dsl__describe(got, val));
        return;
    }
    *FIELD(obj, k->off, int64_t) = (int64_t)n;
}

/* runs:; target: kiln_retention. */
static const keyspec runs_keys[] = {
    ROW(kiln_retention, "keep_last", set_keep, keep_runs),
    ROW(kiln_retention, "older_than", kiln_dsl__set_duration, runs_ms),
};

/* logs:; target: kiln_retention. */
static const keyspec logs_keys[] = {
    ROW(kiln_retention, "keep_last", set_keep, keep_logs),
    ROW(kiln_retention, "older_than", kiln_dsl__set_duration, logs_ms),
    ROW(kiln_retention, "compress_after", kiln_dsl__set_duration,
        compress_ms),
};

static const mapspec runs_spec = SPEC(runs_keys, false);
static const mapspec logs_spec = SPEC(logs_keys, false);

static void set_runs(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                     void *obj, const keyspec *k)
{
    if (kiln_dsl__nested_map(v, val, "runs"))
        kiln_dsl__walk(v, &runs_spec, val->type == KILN_YNODE_MAP ? val
                                                                  : NULL,
                       obj, "runs", NULL, key);
}

static void set_logs(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                     void *obj, const keyspec *k)
{
    if (kiln_dsl__nested_map(v, val, "logs"))
        kiln_dsl__walk(v, &logs_spec, val->type == KILN_YNODE_MAP ? val
                                                                  : NULL,
                       obj, "logs", NULL, key);
}

/* retention:; target: kiln_retention. */
static const keyspec retention_keys[] = {
    {"runs", set_runs, 0, 0, NULL},
    {"logs", set_logs, 0, 0, NULL},
};

_Static_assert(KILN_ARRAY_SIZE(retention_keys) <= 64, "too many keys");
_Static_assert(KILN_ARRAY_SIZE(logs_keys) <= 64, "too many keys");

static const mapspec retention_spec = SPEC(retention_keys, false);

void kiln_dsl__set_retention(vctx *v, const kiln_ynode *key,
                             const kiln_ynode *val, void *obj,
                             const keyspec *k)
{
    kiln_pipeline *p = obj;
    if (!kiln_dsl__nested_map(v, val, k->name))
        return;
    p->retention.pos = model_pos(v, key);
    kiln_dsl__walk(v, &retention_spec, val->type == KILN_YNODE_MAP ? val
                                                                   : NULL,
                   &p->retention, "retention", NULL, key);
}
