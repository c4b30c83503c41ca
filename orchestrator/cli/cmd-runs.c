/* cmd-runs.c: kiln runs [--pipeline P] [--limit N] [--json] */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"pipeline", required_argument, NULL, 'P'},
    {"limit", required_argument, NULL, 'n'},
    {"state", required_argument, NULL, 's'},
    {"json", no_argument, NULL, 'J'},
    {NULL, 0, NULL, 0},
};

static void print_table(json_t *runs)
{
    size_t i;
    json_t *r;
    printf("%-6s %-20s %-10s %-8s %-12s %-20s %s\n", "RUN", "PIPELINE",
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
        printf("%-6lld %-20s %-10s %-8s %-12s %-20s %s\n",
               (long long)json_integer_value(json_object_get(r, "id")),
               json_string_value(json_object_get(r, "pipeline")),
               json_is_true(json_object_get(r, "orphaned"))
                   ? "orphaned" : json_string_value(json_object_get(r,
                                                                  "status")),
               json_string_value(json_object_get(r, "trigger")), c, when,
               dur);
    }
}

static int exec_runs(int argc, char **argv)
{
    const char *pipeline = NULL, *state = NULL;
    int c, limit = 20, status;
    bool json = false;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *runs = NULL;

    optind = 1;
    while ((c = getopt_long(argc, argv, "hP:n:s:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            kiln_cli_help(&kiln_cmd_runs);
            return KILN_EXIT_OK;
        case 'P':
            pipeline = optarg;
            break;
        case 'n':
            limit = atoi(optarg);
            if (limit < 1)
                return kiln_cli_usage_error(&kiln_cmd_runs, "--limit "
                                            "expects a positive number");
            break;
        case 's':
            state = optarg;
            break;
        case 'J':
            json = true;
            break;
        default:
            return kiln_cli_usage_error(&kiln_cmd_runs, "bad option");
        }
    }
    if (optind != argc)
        return kiln_cli_usage_error(&kiln_cmd_runs, "unexpected argument "
                                    "\"%s\"", argv[optind]);
    if (kiln_cli_open_store(&store, state, true, &err) != 0 ||
        kiln_store_runs_json(store, &runs, pipeline, limit, &err) != 0) {
        status = kiln_cli_fail(&err);
        kiln_store_close(store);
        return status;
    }
    if (json) {
        kiln_cli_print_json(runs);
    } else {
        print_table(runs);
    }
    json_decref(runs);
    kiln_store_close(store);
    return KILN_EXIT_OK;
}

const kiln_cmd kiln_cmd_runs = {
    .name = "runs",
    .usage = "runs [--pipeline P] [--limit N] [--state DIR] [--json]",
    .summary = "List recent runs, newest first.",
    .help = "Options:\n"
            "  -P, --pipeline P   only runs of pipeline P\n"
            "  -n, --limit N      at most N runs (default 20)\n"
            "  -s, --state DIR    state directory (see kiln run --help)\n"
            "      --json         print JSON\n",
    .exec = exec_runs,
};
