/* cmd-trigger.c: kiln trigger PIPELINE [--param NAME=VALUE]... [--state DIR]
 * [--json]: ask the running kiln serve to start a run now. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "inbox.h"
#include "lock.h"

/* How long the daemon has to answer. */
#define REPLY_TIMEOUT_MS 10000

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"param", required_argument, NULL, 'p'},
    {"state", required_argument, NULL, 's'},
    {"json", no_argument, NULL, 'J'},
    {NULL, 0, NULL, 0},
};

static const char *user_name(void)
{
    struct passwd *pw = getpwuid(getuid());
    return pw ? pw->pw_name : "unknown";
}

static int exec_trigger(int argc, char **argv)
{
    const char *state_opt = NULL, *code;
    bool json = false;
    json_t *req = NULL, *params = json_object(), *reply = NULL;
    kiln_err err = KILN_ERR_INIT;
    char *dir = NULL;
    kiln_kv kv;
    int c, status = KILN_EXIT_OK;

    optind = 1;
    while ((c = getopt_long(argc, argv, "hp:s:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            kiln_cli_help(&kiln_cmd_trigger);
            goto done;
        case 'p':
            if (kiln_cli_parse_param(&kv, optarg, &err) != 0) {
                status = kiln_cli_usage_error(&kiln_cmd_trigger, "%s",
                                              err.msg);
                goto done;
            }
            json_object_set_new(params, kv.key, json_string(kv.value));
            break;
        case 's':
            state_opt = optarg;
            break;
        case 'J':
            json = true;
            break;
        default:
            status = kiln_cli_usage_error(&kiln_cmd_trigger, "bad option");
            goto done;
        }
    }
    if (optind != argc - 1) {
        status = kiln_cli_usage_error(&kiln_cmd_trigger, "expected one "
                                      "pipeline name");
        goto done;
    }
    dir = kiln_cli_state_dir(state_opt);
    if (kiln_lock_holder(dir) == 0) {
        fprintf(stderr, "kiln: error: no kiln serve is running on state "
                "directory %s\n", dir);
        status = KILN_EXIT_SYSTEM;
        goto done;
    }
    req = json_pack("{s:s, s:s, s:O, s:s, s:i}", "op", "trigger", "pipeline",
                    argv[optind], "params", params, "user", user_name(),
                    "pid", (int)getpid());
    if (kiln_inbox_send(&reply, dir, req, REPLY_TIMEOUT_MS, &err) != 0) {
        kiln_err_print(&err);
        status = KILN_EXIT_SYSTEM;
        goto done;
    }
    if (json)
        kiln_cli_print_json(reply);
    if ((code = json_string_value(json_object_get(reply, "code")))) {
        if (!json)
            fprintf(stderr, "kiln: error: %s\n",
                    kiln_cli_str(reply, "error"));
        status = strcmp(code, "unavailable") == 0 ? KILN_EXIT_SYSTEM
                                                  : KILN_EXIT_USAGE;
        goto done;
    }
    {
        const char *st = kiln_cli_str(reply, "status");
        json_int_t id = json_integer_value(json_object_get(reply,
                                                           "run_id"));
        if (strcmp(st, "started") == 0) {
            if (!json)
                printf("run %lld started\n", (long long)id);
        } else if (strcmp(st, "queued") == 0) {
            if (!json)
                printf("queued: %s\n", kiln_cli_str(reply, "reason"));
        } else {
            if (!json)
                fprintf(stderr, "kiln: %s: %s\n", st,
                        kiln_cli_str(reply, "reason"));
            status = KILN_EXIT_FAILED;
        }
    }
done:
    json_decref(req);
    json_decref(params);
    json_decref(reply);
    free(dir);
    return status;
}

const kiln_cmd kiln_cmd_trigger = {
    .name = "trigger",
    .usage = "trigger PIPELINE [--param NAME=VALUE]... [--state DIR] "
             "[--json]",
    .summary = "Ask the running kiln serve to start a run of a pipeline "
               "now.",
    .help = "The run is recorded as manual and obeys the pipeline's "
            "concurrency policy\n(it may be queued or refused), not its "
            "cooldown.\n\n"
            "Options:\n"
            "  -p, --param NAME=VALUE  override a parameter (repeatable)\n"
            "  -s, --state DIR         the daemon's state directory (see "
            "kiln serve --help)\n"
            "      --json              print the daemon's reply as JSON\n\n"
            "Exit status: 0 started or queued; 1 refused by a policy; 2 "
            "unknown pipeline\nor parameter; 3 no daemon running, or it did "
            "not answer.\n",
    .exec = exec_trigger,
};
