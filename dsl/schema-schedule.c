/*
 * schema-schedule.c: schedule:, one or more cron expressions with the
 * policies of the runs they start (schema.h).
 */
#include "schema.h"

#include <string.h>

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

/* schedule:; target: kiln_schedule. */
static const keyspec schedule_keys[] = {
    {"cron", set_cron, 0, 0, "schedule has no \"cron:\" expression"},
    ROW(kiln_schedule, "timezone", set_timezone, timezone),
    ROW(kiln_schedule, "catchup", kiln_dsl__set_bool, catchup),
    ROW(kiln_schedule, "max_catchup", set_max_catchup, max_catchup),
    ROW(kiln_schedule, "concurrency", set_concurrency, concurrency),
    ROW(kiln_schedule, "max_active_runs", set_max_active, max_active_runs),
    ROW(kiln_schedule, "start_deadline", kiln_dsl__set_duration,
        start_deadline_ms),
};

/* Each table fits walk()'s 64-bit mask of the keys seen. */
_Static_assert(KILN_ARRAY_SIZE(schedule_keys) <= 64, "too many keys");

static const mapspec schedule_spec = SPEC(schedule_keys, false);

/* schedule: a mapping, or just a cron expression (or a list of them). */
void kiln_dsl__set_schedule(vctx *v, const kiln_ynode *key,
                            const kiln_ynode *val, void *obj, const keyspec *k)
{
    kiln_pipeline *p = obj;
    kiln_schedule *sch = &p->schedule;
    sch->pos = model_pos(v, key);
    if (val->type == KILN_YNODE_MAP)
        kiln_dsl__walk(v, &schedule_spec, val, sch, "schedule", NULL, key);
    else
        set_cron(v, key, val, sch, &schedule_keys[0]);
}
