/* cmd-runs.c: kiln runs [--pipeline P] [--limit N] [--json] */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

typedef struct runs_opts {
    const char *pipeline; /* --pipeline P */
    long limit;           /* --limit N */
    const char *state;    /* --state DIR */
    bool json;            /* --json */
} runs_opts;

static const kiln_opt options[] = {
    KILN_CLI_OPT_PIPELINE(runs_opts),
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

static int exec_runs(void *opts)
{
    const runs_opts *o = opts;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *runs = NULL;
    int status = KILN_EXIT_OK;

    if (kiln_cli_open_store(&store, o->state, true, &err) != 0 ||
        kiln_store_runs_json(store, &runs, o->pipeline, (int)o->limit,
                             &err) != 0)
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
    .opts = options,
    .opts_size = sizeof(runs_opts),
    .exec = exec_runs,
};
