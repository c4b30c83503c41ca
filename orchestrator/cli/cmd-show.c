/* cmd-show.c: kiln show RUN [--json] */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"state", required_argument, NULL, 's'},
    {"json", no_argument, NULL, 'J'},
    {NULL, 0, NULL, 0},
};

static const char *span(char *buf, size_t size, json_t *o)
{
    json_int_t start = json_integer_value(json_object_get(o, "started_at"));
    json_int_t end = json_integer_value(json_object_get(o, "finished_at"));
    if (!start)
        return "-";
    return kiln_fmt_duration(buf, size, (end ? end : kiln_now_ms()) - start);
}

static void print_run(json_t *run)
{
    json_t *steps = json_object_get(run, "steps"), *s, *a, *params;
    const char *key;
    json_t *v;
    size_t i, j;
    char dur[32], when[32];

    printf("run %lld  %s  %s\n",
           (long long)json_integer_value(json_object_get(run, "id")),
           kiln_cli_str(run, "pipeline"), kiln_cli_str(run, "status"));
    if (json_is_string(json_object_get(run, "reason")))
        printf("  reason:   %s\n", kiln_cli_str(run, "reason"));
    if (json_is_true(json_object_get(run, "orphaned")))
        printf("  orphaned: the kiln process that ran it (pid %lld) is "
               "gone;\n            kiln resume %lld takes it over (or kiln "
               "serve does),\n            kiln abandon %lld ends it\n",
               (long long)json_integer_value(json_object_get(run,
                                                             "owner_pid")),
               (long long)json_integer_value(json_object_get(run, "id")),
               (long long)json_integer_value(json_object_get(run, "id")));
    printf("  trigger:  %s\n", kiln_cli_str(run, "trigger"));
    printf("  commit:   %s%s%s%s\n", kiln_cli_str(run, "git_commit"),
           json_is_string(json_object_get(run, "git_branch")) ? " on " : "",
           json_is_string(json_object_get(run, "git_branch"))
               ? kiln_cli_str(run, "git_branch") : "",
           json_is_true(json_object_get(run, "git_dirty"))
               ? " (dirty)" : "");
    printf("  file:     %s\n", kiln_cli_str(run, "file"));
    if (json_integer_value(json_object_get(run, "started_at")))
        printf("  started:  %s\n", kiln_fmt_time(when, sizeof(when),
               json_integer_value(json_object_get(run, "started_at"))));
    printf("  duration: %s\n", span(dur, sizeof(dur), run));
    params = json_object_get(run, "params");
    if (json_object_size(params)) {
        printf("  params:  ");
        json_object_foreach(params, key, v)
            printf(" %s=%s", key, json_string_value(v));
        printf("\n");
    }
    printf("\n  %-22s %-9s %-10s %-8s %-9s %s\n", "STEP", "KIND", "STATUS",
           "ATTEMPTS", "DURATION", "REASON");
    json_array_foreach(steps, i, s) {
        printf("  %-22s %-9s %-10s %-8lld %-9s %s\n", kiln_cli_str(s, "name"),
               kiln_cli_str(s, "kind"), kiln_cli_str(s, "status"),
               (long long)json_integer_value(json_object_get(s, "attempts")),
               span(dur, sizeof(dur), s),
               json_is_string(json_object_get(s, "reason"))
                   ? kiln_cli_str(s, "reason") : "");
        json_t *attempts = json_object_get(s, "attempts_detail");
        if (json_array_size(attempts) < 2)
            continue;
        json_array_foreach(attempts, j, a) {
            json_t *code = json_object_get(a, "exit_code");
            char c[16] = "-";
            if (json_is_integer(code))
                snprintf(c, sizeof(c), "%lld",
                         (long long)json_integer_value(code));
            printf("    attempt %lld: %-10s exit %-4s %-9s %s\n",
                   (long long)json_integer_value(json_object_get(a,
                                                 "attempt")),
                   kiln_cli_str(a, "status"), c, span(dur, sizeof(dur), a),
                   json_is_string(json_object_get(a, "reason"))
                       ? kiln_cli_str(a, "reason") : "");
        }
    }
}

static int exec_show(int argc, char **argv)
{
    const char *state = NULL;
    bool json = false;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *run = NULL;
    int64_t id;
    int c, status;

    optind = 1;
    while ((c = getopt_long(argc, argv, "hs:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            kiln_cli_help(&kiln_cmd_show);
            return KILN_EXIT_OK;
        case 's':
            state = optarg;
            break;
        case 'J':
            json = true;
            break;
        default:
            return kiln_cli_usage_error(&kiln_cmd_show, "bad option");
        }
    }
    if (optind != argc - 1)
        return kiln_cli_usage_error(&kiln_cmd_show, "expected one RUN id");
    if (kiln_cli_parse_id(&id, argv[optind], &err) != 0 ||
        kiln_cli_open_store(&store, state, true, &err) != 0 ||
        kiln_store_run_json(store, &run, id, &err) != 0) {
        status = kiln_cli_fail(&err);
        kiln_store_close(store);
        return status;
    }
    if (json) {
        kiln_cli_print_json(run);
    } else {
        print_run(run);
    }
    json_decref(run);
    kiln_store_close(store);
    return KILN_EXIT_OK;
}

const kiln_cmd kiln_cmd_show = {
    .name = "show",
    .usage = "show RUN [--state DIR] [--json]",
    .summary = "Show a run: steps, attempts, durations, exit codes, commit, "
               "params.",
    .help = "Options:\n"
            "  -s, --state DIR    state directory (see kiln run --help)\n"
            "      --json         print JSON\n",
    .exec = exec_show,
};
