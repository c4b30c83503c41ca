/* cmd-triggers.c: kiln triggers [PIPELINE] [--limit N] [--state DIR]
 * [--json]: the latest trigger checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef struct triggers_opts {
    const char *pipeline; /* [PIPELINE] */
    long limit;           /* --limit N */
    const char *state;    /* --state DIR */
    bool json;            /* --json */
} triggers_opts;

static const kiln_opt options[] = {
    KILN_OPT_ARG(triggers_opts, pipeline, "PIPELINE", NULL,
                 .flags = KILN_OPT_OPTIONAL),
    KILN_OPT_INT('n', "limit", triggers_opts, limit, "N", 1, 100000,
                 "show the N latest checks", .def = "20"),
    KILN_CLI_OPT_STATE(triggers_opts),
    KILN_CLI_OPT_JSON_HELP(triggers_opts, "print JSON, each check with its "
                           "detail (per-column statistics, files, commit, "
                           "value)"),
    KILN_OPT_END,
};

/* How the alerts a check sent (drift notifications) went: "-" when it
 * sent none, else "failed", "pending" or "sent" (the worst of them). */
static const char *alert_of(json_t *row)
{
    static const char *const worst[] = {"failed", "pending", "sent"};
    json_t *notes = json_object_get(row, "notifications"), *nt;
    size_t i, w = KILN_ARRAY_SIZE(worst);
    json_array_foreach(notes, i, nt) {
        const char *st = json_string_value(json_object_get(nt, "status"));
        for (size_t k = 0; st && k < w; k++)
            if (strcmp(st, worst[k]) == 0)
                w = k;
    }
    return w < KILN_ARRAY_SIZE(worst) ? worst[w] : "-";
}

static void print_checks(json_t *rows)
{
    json_t *row;
    size_t i;
    char when[40], run[24];

    printf("%-20s %-16s %-7s %-6s %-7s %-7s %s\n", "CHECKED", "PIPELINE",
           "TRIGGER", "STATUS", "RUN", "ALERT", "REASON");
    json_array_foreach(rows, i, row) {
        json_t *id = json_object_get(row, "run_id");
        snprintf(run, sizeof(run), "%lld",
                 (long long)json_integer_value(id));
        printf("%-20s %-16s %-7s %-6s %-7s %-7s %s\n",
               kiln_fmt_time(when, sizeof(when), json_integer_value(
                   json_object_get(row, "checked_at"))),
               kiln_cli_str(row, "pipeline"), kiln_cli_str(row, "trigger"),
               kiln_cli_str(row, "status"),
               json_is_integer(id) ? run : "-", alert_of(row),
               kiln_cli_str(row, "reason"));
    }
    if (json_array_size(rows) == 0)
        printf("no trigger checks recorded\n");
}

static int exec_triggers(void *opts)
{
    const triggers_opts *o = opts;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *rows = NULL, *doc = NULL;
    int status = KILN_EXIT_OK;

    if (kiln_cli_open_store(&store, o->state, true, &err) != 0 ||
        kiln_store_checks_json(store, &rows, o->pipeline, (int)o->limit,
                               &err) != 0) {
        status = kiln_cli_fail(&err);
    } else if (o->json) {
        doc = json_pack("{s:O}", "checks", rows);
        kiln_cli_print_json(doc);
    } else {
        print_checks(rows);
    }
    json_decref(doc);
    json_decref(rows);
    kiln_store_close(store);
    return status;
}

const kiln_cmd kiln_cmd_triggers = {
    .name = "triggers",
    .summary = "Show the latest trigger checks: what each saw, and whether "
               "it fired.",
    .opts = options,
    .opts_size = sizeof(triggers_opts),
    .exec = exec_triggers,
};
