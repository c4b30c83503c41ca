/* cmd-status.c: kiln status [--state DIR] [--json] */
#include <stdio.h>
#include <stdlib.h>

#include "dsl/cron.h"
#include "cli/cli.h"
#include "daemon/lock.h"

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"state", required_argument, NULL, 's'},
    {"json", no_argument, NULL, 'J'},
    {NULL, 0, NULL, 0},
};

static const char *when(char *buf, size_t size, json_t *ms)
{
    if (!json_is_integer(ms))
        return "-";
    return kiln_fmt_time(buf, size, json_integer_value(ms));
}

static void print_status(json_t *st, long holder)
{
    json_t *row;
    size_t i;
    char a[40];

    if (holder > 0)
        printf("daemon: running (pid %ld)\n", holder);
    else if (holder < 0)
        printf("daemon: running\n");
    else
        printf("daemon: not running\n");

    printf("\n%-20s %-20s %-18s %s\n", "PIPELINE", "SCHEDULE", "TIMEZONE",
           "NEXT FIRE");
    json_array_foreach(json_object_get(st, "schedules"), i, row) {
        json_t *next = json_object_get(row, "next_due");
        const char *tz = json_string_value(json_object_get(row, "timezone"));
        printf("%-20s %-20s %-18s %s\n",
               json_string_value(json_object_get(row, "pipeline")),
               json_string_value(json_object_get(row, "schedule")), tz,
               json_is_integer(next)
                   ? kiln_time_iso(a, sizeof(a),
                                   json_integer_value(next) / 1000, tz)
                   : "never");
    }
    printf("\nACTIVE RUNS\n");
    if (json_array_size(json_object_get(st, "active")) == 0)
        printf("  none\n");
    json_array_foreach(json_object_get(st, "active"), i, row)
        printf("  run %-6lld %-20s %-8s started %s\n",
               (long long)json_integer_value(json_object_get(row, "id")),
               json_string_value(json_object_get(row, "pipeline")),
               json_string_value(json_object_get(row, "trigger")),
               when(a, sizeof(a), json_object_get(row, "started_at")));
    printf("\nRECENT FIRES THAT DID NOT START\n");
    if (json_array_size(json_object_get(st, "fires")) == 0)
        printf("  none\n");
    json_array_foreach(json_object_get(st, "fires"), i, row)
        printf("  %-20s %-8s due %s: %s\n",
               json_string_value(json_object_get(row, "pipeline")),
               json_string_value(json_object_get(row, "status")),
               when(a, sizeof(a), json_object_get(row, "due_at")),
               json_string_value(json_object_get(row, "reason")));
}

static int exec_status(int argc, char **argv)
{
    const char *state_opt = NULL;
    bool json = false;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *st = NULL;
    char *dir;
    long holder;
    int c, status;

    optind = 1;
    while ((c = getopt_long(argc, argv, "hs:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            kiln_cli_help(&kiln_cmd_status);
            return KILN_EXIT_OK;
        case 's':
            state_opt = optarg;
            break;
        case 'J':
            json = true;
            break;
        default:
            return kiln_cli_usage_error(&kiln_cmd_status, "bad option");
        }
    }
    if (optind != argc)
        return kiln_cli_usage_error(&kiln_cmd_status, "unexpected argument "
                                    "\"%s\"", argv[optind]);
    if (kiln_cli_open_store(&store, state_opt, true, &err) != 0 ||
        kiln_store_status_json(store, &st, 20, &err) != 0) {
        status = kiln_cli_fail(&err);
        kiln_store_close(store);
        return status;
    }
    dir = kiln_cli_state_dir(state_opt);
    holder = kiln_lock_holder(dir);
    free(dir);
    if (json) {
        json_object_set_new(st, "daemon_pid", holder > 0 ? json_integer(holder)
                                                         : json_null());
        json_object_set_new(st, "daemon_running", json_boolean(holder != 0));
        kiln_cli_print_json(st);
    } else {
        print_status(st, holder);
    }
    json_decref(st);
    kiln_store_close(store);
    return KILN_EXIT_OK;
}

const kiln_cmd kiln_cmd_status = {
    .name = "status",
    .usage = "status [--state DIR] [--json]",
    .summary = "Show the daemon, next fire times, active runs and recent "
               "skipped or missed fires.",
    .help = "Options:\n"
            "  -s, --state DIR    state directory (see kiln serve --help)\n"
            "      --json         print JSON\n",
    .exec = exec_status,
};
