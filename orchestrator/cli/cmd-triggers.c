/* cmd-triggers.c: kiln triggers [PIPELINE] [--limit N] [--state DIR]
 * [--json]: the latest trigger checks. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"limit", required_argument, NULL, 'n'},
    {"state", required_argument, NULL, 's'},
    {"json", no_argument, NULL, 'J'},
    {NULL, 0, NULL, 0},
};

static void print_checks(json_t *rows)
{
    json_t *row;
    size_t i;
    char when[40], run[24];

    printf("%-20s %-16s %-7s %-6s %-7s %s\n", "CHECKED", "PIPELINE",
           "TRIGGER", "STATUS", "RUN", "REASON");
    json_array_foreach(rows, i, row) {
        json_t *id = json_object_get(row, "run_id");
        snprintf(run, sizeof(run), "%lld",
                 (long long)json_integer_value(id));
        printf("%-20s %-16s %-7s %-6s %-7s %s\n",
               kiln_fmt_time(when, sizeof(when), json_integer_value(
                   json_object_get(row, "checked_at"))),
               kiln_cli_str(row, "pipeline"), kiln_cli_str(row, "trigger"),
               kiln_cli_str(row, "status"),
               json_is_integer(id) ? run : "-",
               kiln_cli_str(row, "reason"));
    }
    if (json_array_size(rows) == 0)
        printf("no trigger checks recorded\n");
}

static int exec_triggers(int argc, char **argv)
{
    const char *state_opt = NULL, *pipeline = NULL;
    bool json = false;
    int64_t limit = 20;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *rows = NULL;
    int c, status = KILN_EXIT_OK;

    optind = 1;
    while ((c = getopt_long(argc, argv, "hn:s:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            kiln_cli_help(&kiln_cmd_triggers);
            return KILN_EXIT_OK;
        case 'n':
            if (kiln_cli_parse_id(&limit, optarg, &err) != 0 ||
                limit > 100000)
                return kiln_cli_usage_error(&kiln_cmd_triggers, "--limit "
                                            "expects a number from 1 to "
                                            "100000");
            break;
        case 's':
            state_opt = optarg;
            break;
        case 'J':
            json = true;
            break;
        default:
            return kiln_cli_usage_error(&kiln_cmd_triggers, "bad option");
        }
    }
    if (optind < argc)
        pipeline = argv[optind++];
    if (optind != argc)
        return kiln_cli_usage_error(&kiln_cmd_triggers, "unexpected "
                                    "argument \"%s\"", argv[optind]);
    if (kiln_cli_open_store(&store, state_opt, true, &err) != 0 ||
        kiln_store_checks_json(store, &rows, pipeline, (int)limit,
                               &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }
    if (json) {
        json_t *doc = json_pack("{s:O}", "checks", rows);
        kiln_cli_print_json(doc);
        json_decref(doc);
    } else {
        print_checks(rows);
    }
done:
    json_decref(rows);
    kiln_store_close(store);
    return status;
}

const kiln_cmd kiln_cmd_triggers = {
    .name = "triggers",
    .usage = "triggers [PIPELINE] [--limit N] [--state DIR] [--json]",
    .summary = "Show the latest trigger checks: what each saw, and whether "
               "it fired.",
    .help = "Options:\n"
            "  -n, --limit N      show the N latest checks (20)\n"
            "  -s, --state DIR    state directory (see kiln serve --help)\n"
            "      --json         print JSON, each check with its detail "
            "(per-column\n"
            "                     statistics, files, commit, value)\n",
    .exec = exec_triggers,
};
