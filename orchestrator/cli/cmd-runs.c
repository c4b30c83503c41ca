/* cmd-runs.c: kiln runs [--pipeline P] [--status S] [--trigger K]
 * [--since T] [--limit N] [--json]: the filters of GET /api/v1/runs. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef struct runs_opts {
    const char *pipeline; /* --pipeline P */
    const char *status;   /* --status S */
    const char *trigger;  /* --trigger K */
    int64_t since_ms;     /* --since T */
    long limit;           /* --limit N */
    const char *state;    /* --state DIR */
    bool json;            /* --json */
} runs_opts;

static const kiln_opt options[] = {
    KILN_CLI_OPT_PIPELINE(runs_opts),
    KILN_OPT_CHOICE(0, "status", runs_opts, status,
                    "queued|running|succeeded|failed|cancelled|orphaned",
                    "only runs in this state (orphaned: not ended, their "
                    "kiln process gone)"),
    KILN_OPT_VALUE(0, "trigger", runs_opts, trigger, "K", "only runs "
                   "started so: manual, schedule, retry, reproduce, or a "
                   "trigger's kind"),
    KILN_OPT_PARSED(0, "since", runs_opts, since_ms, int64_t,
                    kiln_cli_opt_when, "T", "only runs created at or after "
                    "T (2026-12-01, 2026-12-01T05:00Z, or ago: 30m, 2h, "
                    "7d)"),
    KILN_OPT_INT('n', "limit", runs_opts, limit, "N", 1, INT_MAX,
                 "at most N runs", .def = "20"),
    KILN_CLI_OPT_STATE(runs_opts),
    KILN_CLI_OPT_JSON(runs_opts),
    KILN_OPT_END,
};

static void print_table(json_t *runs)
{
    size_t i;
    json_t *r;
    printf("%-6s %-20s %-10s %-9s %-12s %-20s %s\n", "RUN", "PIPELINE",
           "STATUS", "TRIGGER", "COMMIT", "STARTED", "DURATION");
    json_array_foreach(runs, i, r) {
        json_int_t start = json_integer_value(json_object_get(r,
                                              "started_at"));
        json_int_t end = json_integer_value(json_object_get(r,
                                            "finished_at"));
        const char *commit = json_string_value(json_object_get(r,
                                               "git_commit"));
        char when[32] = "-", dur[32] = "-", c[16];
        if (start)
            kiln_fmt_time(when, sizeof(when), start);
        if (start && end)
            kiln_fmt_duration(dur, sizeof(dur), end - start);
        snprintf(c, sizeof(c), "%.10s%s", commit ? commit : "-",
                 json_is_true(json_object_get(r, "git_dirty")) ? "+" : "");
        printf("%-6lld %-20s %-10s %-9s %-12s %-20s %s\n",
               (long long)json_integer_value(json_object_get(r, "id")),
               json_string_value(json_object_get(r, "pipeline")),
               json_is_true(json_object_get(r, "orphaned"))
                   ? "orphaned" : json_string_value(json_object_get(r,
                                                                  "status")),
               json_string_value(json_object_get(r, "trigger")), c, when,
               dur);
    }
}

/* --status orphaned keeps the orphans (at most limit), queued and running
 * the others: kiln runs shows an orphan as orphaned, not as its record
 * says. */
static void keep_orphans(json_t *runs, bool orphans, size_t limit)
{
    for (size_t i = json_array_size(runs); i-- > 0;)
        if (json_is_true(json_object_get(json_array_get(runs, i),
                                         "orphaned")) != orphans)
            json_array_remove(runs, i);
    while (json_array_size(runs) > limit)
        json_array_remove(runs, json_array_size(runs) - 1);
}

static int exec_runs(void *opts)
{
    const runs_opts *o = opts;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *runs = NULL;
    int status = KILN_EXIT_OK;

    kiln_runs_query q;
    bool orphaned = o->status && strcmp(o->status, "orphaned") == 0;

    memset(&q, 0, sizeof(q));
    q.pipeline = o->pipeline;
    q.status = orphaned ? NULL : o->status;
    q.trigger = o->trigger;
    q.since_ms = o->since_ms;
    /* Orphans are runs recorded as not ended: found among those. */
    q.limit = orphaned ? INT_MAX : (int)o->limit;
    if (kiln_cli_open_store(&store, o->state, true, &err) != 0 ||
        kiln_store_runs_query_json(store, &runs, &q, &err) != 0) {
        status = kiln_cli_fail(&err);
    } else {
        if (orphaned || (o->status && (strcmp(o->status, "queued") == 0 ||
                                       strcmp(o->status, "running") == 0)))
            keep_orphans(runs, orphaned, (size_t)o->limit);
        kiln_cli_output(runs, o->json, print_table);
    }
    json_decref(runs);
    kiln_store_close(store);
    return status;
}

const kiln_cmd kiln_cmd_runs = {
    .name = "runs",
    .summary = "List recent runs, newest first.",
    .help = "The filters are GET /api/v1/runs's (pipeline, status, "
            "trigger, since); given\ntogether, a run must pass them all.\n",
    .opts = options,
    .opts_size = sizeof(runs_opts),
    .exec = exec_runs,
};
