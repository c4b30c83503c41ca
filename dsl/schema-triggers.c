/*
 * schema-triggers.c: triggers:, a list of drift, data, git and metric
 * triggers, each with a table of its own (schema.h). A drift trigger's
 * method and threshold are read as a drift check's are (schema-checks.c).
 */
#include "schema.h"

#include <math.h>
#include <string.h>

/* How often a trigger is checked: at least a second. */
static void set_every(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                      void *obj, const keyspec *k)
{
    int64_t old = *FIELD(obj, k->off, int64_t);
    kiln_dsl__set_duration(v, key, val, obj, k);
    if (*FIELD(obj, k->off, int64_t) < 1000) {
        if (*FIELD(obj, k->off, int64_t) != old)
            error_at(v, val, "%s: check at most once a second (1s)",
                     k->name);
        *FIELD(obj, k->off, int64_t) = old;
    }
}

static void set_below(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                      void *obj, const keyspec *k)
{
    kiln_trigger *t = obj;
    kiln_dsl__set_number(v, key, val, obj, k);
    t->has_below = kiln_dsl__as_number(val, &t->below) == 0;
}

static void set_above(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                      void *obj, const keyspec *k)
{
    kiln_trigger *t = obj;
    kiln_dsl__set_number(v, key, val, obj, k);
    t->has_above = kiln_dsl__as_number(val, &t->above) == 0;
}

/* The triggers; target: kiln_trigger. */
static const keyspec drift_trigger_keys[] = {
    {"reference", kiln_dsl__set_string,
     offsetof(kiln_trigger, drift.reference), 0,
     "drift trigger: needs \"reference:\", a CSV file"},
    {"current", kiln_dsl__set_string,
     offsetof(kiln_trigger, drift.current), 0,
     "drift trigger: needs \"current:\", a CSV file"},
    ROW(kiln_trigger, "columns", kiln_dsl__set_columns, drift.columns),
    ROW(kiln_trigger, "method", kiln_dsl__set_method, drift.method),
    ROW(kiln_trigger, "threshold", kiln_dsl__set_nonneg, drift.threshold),
    ROW(kiln_trigger, "every", set_every, every_ms),
};

static const keyspec data_trigger_keys[] = {
    {"path", kiln_dsl__set_string, offsetof(kiln_trigger, path), 0,
     "data trigger: needs \"path:\", a file or directory to watch"},
    ROW(kiln_trigger, "every", set_every, every_ms),
};

static const keyspec git_trigger_keys[] = {
    ROW(kiln_trigger, "branch", kiln_dsl__set_string, branch),
    ROW(kiln_trigger, "remote", kiln_dsl__set_string, remote),
    ROW(kiln_trigger, "repo", kiln_dsl__set_string, repo),
    ROW(kiln_trigger, "every", set_every, every_ms),
};

static const keyspec metric_trigger_keys[] = {
    ROW(kiln_trigger, "url", kiln_dsl__set_url, url),
    ROW(kiln_trigger, "file", kiln_dsl__set_string, file),
    ROW(kiln_trigger, "json", kiln_dsl__set_string, json),
    ROW(kiln_trigger, "pipeline", kiln_dsl__set_string, pipeline),
    ROW(kiln_trigger, "key", kiln_dsl__set_string, key),
    ROW(kiln_trigger, "below", set_below, below),
    ROW(kiln_trigger, "above", set_above, above),
    ROW(kiln_trigger, "every", set_every, every_ms),
    ROW(kiln_trigger, "timeout", kiln_dsl__set_duration, timeout_ms),
};

/* Each table fits walk()'s 64-bit mask of the keys seen. */
_Static_assert(KILN_ARRAY_SIZE(drift_trigger_keys) <= 64, "too many keys");
_Static_assert(KILN_ARRAY_SIZE(data_trigger_keys) <= 64, "too many keys");
_Static_assert(KILN_ARRAY_SIZE(git_trigger_keys) <= 64, "too many keys");
_Static_assert(KILN_ARRAY_SIZE(metric_trigger_keys) <= 64, "too many keys");

/* By kiln_trigger_kind. */
static const mapspec trigger_specs[] = {
    SPEC(drift_trigger_keys, false),
    SPEC(data_trigger_keys, false),
    SPEC(git_trigger_keys, false),
    SPEC(metric_trigger_keys, false),
};

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
    if (!kiln_dsl__nested_map(v, val, kiln_dsl__trigger_names[kind]))
        return;
    kiln_dsl__walk(v, &trigger_specs[kind],
                   val->type == KILN_YNODE_MAP ? val : NULL, t, "trigger", key,
                   key);
    kiln_dsl__drift_defaults(&t->drift);
    if (t->kind == KILN_TRIGGER_METRIC) {
        /* Judge by the keys written: a bad value was reported already. */
        int sources = kiln_dsl__has_key(val, "url") +
                      kiln_dsl__has_key(val, "file") +
                      kiln_dsl__has_key(val, "pipeline");
        if (sources != 1)
            error_at(v, key, "metric trigger: give one of \"url:\", "
                     "\"file:\" or \"pipeline:\" (with \"key: STEP.KEY\", a "
                     "metric kiln recorded)");
        else if (kiln_dsl__has_key(val, "pipeline") &&
                 (!t->key || !strchr(t->key, '.') || t->key[0] == '.'))
            error_at(v, key, "metric trigger: pipeline: needs \"key: "
                     "STEP.KEY\", the metric as its step recorded it "
                     "(monitor.low_confidence_share)");
        else if (kiln_dsl__has_key(val, "pipeline") && t->pipeline &&
                 !kiln_dsl_valid_name(t->pipeline))
            error_at(v, key, "metric trigger: pipeline: \"%s\" is not a "
                     "pipeline name", t->pipeline);
        else if (!kiln_dsl__has_key(val, "pipeline") &&
                 kiln_dsl__has_key(val, "key"))
            error_at(v, key, "metric trigger: key: goes with pipeline: "
                     "(a document's number is found with json:)");
        else if (kiln_dsl__has_key(val, "pipeline") &&
                 kiln_dsl__has_key(val, "json"))
            error_at(v, key, "metric trigger: json: goes with url: or "
                     "file:, not pipeline:");
        if (!kiln_dsl__has_key(val, "below") &&
            !kiln_dsl__has_key(val, "above"))
            error_at(v, key, "metric trigger: give \"below:\" or "
                     "\"above:\", the bound that fires it");
        if (t->timeout_ms <= 0)
            t->timeout_ms = 10000;
    }
}

void kiln_dsl__set_triggers(vctx *v, const kiln_ynode *key,
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
