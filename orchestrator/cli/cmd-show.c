/* cmd-show.c: kiln show RUN [--json] */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

typedef struct show_opts {
    int64_t run;       /* RUN */
    const char *state; /* --state DIR */
    bool json;         /* --json */
} show_opts;

static const kiln_opt options[] = {
    KILN_CLI_ARG_RUN(show_opts, run),
    KILN_CLI_OPT_STATE(show_opts),
    KILN_CLI_OPT_JSON(show_opts),
    KILN_OPT_END,
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

static int exec_show(void *opts)
{
    const show_opts *o = opts;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *run = NULL;
    int status = KILN_EXIT_OK;

    if (kiln_cli_open_store(&store, o->state, true, &err) != 0 ||
        kiln_store_run_json(store, &run, o->run, &err) != 0)
        status = kiln_cli_fail(&err);
    else
        kiln_cli_output(run, o->json, print_run);
    json_decref(run);
    kiln_store_close(store);
    return status;
}

const kiln_cmd kiln_cmd_show = {
    .name = "show",
    .summary = "Show a run: steps, attempts, durations, exit codes, commit, "
               "params.",
    .opts = options,
    .opts_size = sizeof(show_opts),
    .exec = exec_show,
};
