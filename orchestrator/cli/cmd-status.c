/* cmd-status.c: kiln status [--state DIR] [--json]: what kiln serve
 * publishes in the store (the files it could not load, schedules), runs
 * in flight and fires that did not start. */
#include <stdio.h>
#include <stdlib.h>

#include "dsl/cron.h"
#include "cli/cli.h"
#include "daemon/lock.h"

typedef struct status_opts {
    const char *state; /* --state DIR */
    bool json;         /* --json */
} status_opts;

static const kiln_opt options[] = {
    KILN_CLI_OPT_STATE(status_opts),
    KILN_CLI_OPT_JSON(status_opts),
    KILN_OPT_END,
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

    /* A broken file matters only while a daemon runs with it. */
    if (json_array_size(json_object_get(st, "load_errors"))) {
        printf("\nPIPELINE FILES THAT DID NOT LOAD\n");
        json_array_foreach(json_object_get(st, "load_errors"), i, row) {
            const char *p = json_string_value(json_object_get(row,
                                                              "pipeline"));
            json_t *e;
            size_t k;
            printf("  %s: ", json_string_value(json_object_get(row,
                                                               "file")));
            if (p)
                printf("pipeline %s keeps its last good definition", p);
            else
                printf("never loaded");
            printf(" (failing since %s)\n",
                   when(a, sizeof(a), json_object_get(row, "since")));
            json_array_foreach(json_object_get(row, "errors"), k, e)
                printf("    %s\n", json_string_value(e));
        }
    }

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

static int exec_status(void *opts)
{
    const status_opts *o = opts;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *st = NULL;
    char *dir;
    long holder;
    int status = KILN_EXIT_OK;

    if (kiln_cli_open_store(&store, o->state, true, &err) != 0 ||
        kiln_store_status_json(store, &st, 20, &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }
    dir = kiln_cli_state_dir(o->state);
    holder = kiln_lock_holder(dir);
    free(dir);
    if (holder == 0)
        json_object_set_new(st, "load_errors", json_array());
    if (o->json) {
        json_object_set_new(st, "daemon_pid", holder > 0 ? json_integer(holder)
                                                         : json_null());
        json_object_set_new(st, "daemon_running", json_boolean(holder != 0));
        kiln_cli_print_json(st);
    } else {
        print_status(st, holder);
    }
done:
    json_decref(st);
    kiln_store_close(store);
    return status;
}

const kiln_cmd kiln_cmd_status = {
    .name = "status",
    .summary = "Show the daemon, files it could not load, next fire times, "
               "active runs and recent skipped or missed fires.",
    .opts = options,
    .opts_size = sizeof(status_opts),
    .exec = exec_status,
};
