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

/* Newest first. */
static int by_id_desc(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a,
                                                      "id"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b,
                                                      "id"));
    return x < y ? 1 : x > y ? -1 : 0;
}

/* q's runs; --status orphaned: those recorded queued or running whose
 * kiln process is gone; queued and running: the others. Unfinished runs
 * are few (an index of their own), so all of them are read. */
static int query(kiln_store *store, json_t **out, kiln_runs_query *q,
                 const char *status, size_t limit, kiln_err *err)
{
    bool orphans = status && strcmp(status, "orphaned") == 0;
    bool unfinished = orphans || (status && (strcmp(status, "queued") == 0 ||
                                             strcmp(status, "running") == 0));
    json_t *more = NULL, **rows;
    size_t n;
    int rc;

    q->status = orphans ? "running" : status;
    q->limit = unfinished ? INT_MAX : (int)limit;
    if ((rc = kiln_store_runs_query_json(store, out, q, err)) != 0 ||
        !unfinished)
        return rc;
    if (orphans) {
        q->status = "queued";
        if ((rc = kiln_store_runs_query_json(store, &more, q, err)) != 0)
            return rc;
        json_array_extend(*out, more);
        json_decref(more);
    }
    n = json_array_size(*out);
    rows = kiln_calloc(n + 1, sizeof(*rows));
    for (size_t i = 0; i < n; i++)
        rows[i] = json_incref(json_array_get(*out, i));
    qsort(rows, n, sizeof(*rows), by_id_desc);
    json_array_clear(*out);
    for (size_t i = 0; i < n; i++)
        if (json_is_true(json_object_get(rows[i], "orphaned")) == orphans &&
            json_array_size(*out) < limit)
            json_array_append(*out, rows[i]);
    for (size_t i = 0; i < n; i++)
        json_decref(rows[i]);
    free(rows);
    return 0;
}

static int exec_runs(void *opts)
{
    const runs_opts *o = opts;
    kiln_store *store = NULL;
    kiln_runs_query q;
    kiln_err err = KILN_ERR_INIT;
    json_t *runs = NULL;
    int status = KILN_EXIT_OK;

    memset(&q, 0, sizeof(q));
    q.pipeline = o->pipeline;
    q.trigger = o->trigger;
    q.since_ms = o->since_ms;
    if (kiln_cli_open_store(&store, o->state, true, &err) != 0 ||
        query(store, &runs, &q, o->status, (size_t)o->limit, &err) != 0)
        status = kiln_cli_fail(&err);
    else
        kiln_cli_output(runs, o->json, print_table);
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
