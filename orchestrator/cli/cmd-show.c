/* cmd-show.c: kiln show RUN [--json] [--env STEP] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef struct show_opts {
    int64_t run;       /* RUN */
    const char *state; /* --state DIR */
    bool json;         /* --json */
    const char *env;   /* --env STEP */
} show_opts;

static const kiln_opt options[] = {
    KILN_CLI_ARG_RUN(show_opts, run),
    KILN_CLI_OPT_STATE(show_opts),
    KILN_CLI_OPT_JSON(show_opts),
    KILN_OPT_VALUE(0, "env", show_opts, env, "STEP", "print the step's "
                   "environment captures (environment:): each lock file's "
                   "and command's text"),
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

/* select:'s ranking, best first: the first ten items and a count of the
 * rest. */
static void print_ranking(json_t *sel)
{
    json_t *rank = json_object_get(sel, "ranking"), *r;
    size_t k;
    if (!json_is_array(rank))
        return;
    printf("    ranking by %s (%s):", kiln_cli_str(sel, "metric"),
           kiln_cli_str(sel, "mode"));
    json_array_foreach(rank, k, r) {
        if (k == 10) {
            printf(", %zu more", json_array_size(rank) - 10);
            break;
        }
        printf("%s %s %g", k ? "," : "", kiln_cli_str(r, "step"),
               json_number_value(json_object_get(r, "value")));
    }
    printf("%s\n", json_array_size(rank) ? "" : " none");
}

/* What the run's webhooks were told, and whether it arrived. */
static void print_notifications(json_t *notes)
{
    json_t *n;
    size_t i;
    if (!json_array_size(notes))
        return;
    printf("\n  NOTIFICATION  WEBHOOK                    OUTCOME\n");
    json_array_foreach(notes, i, n) {
        long long attempts = json_integer_value(json_object_get(n,
                                                                "attempts"));
        const char *status = kiln_cli_str(n, "status");
        printf("  %-13s %-26s ", kiln_cli_str(n, "event"),
               kiln_cli_str(n, "webhook"));
        if (strcmp(status, "sent") == 0)
            printf("sent (%lld attempt%s)\n", attempts,
                   attempts == 1 ? "" : "s");
        else if (strcmp(status, "pending") == 0)
            printf("pending (%lld attempt%s so far)\n", attempts,
                   attempts == 1 ? "" : "s");
        else
            printf("%s after %lld attempt%s: %s\n", status, attempts,
                   attempts == 1 ? "" : "s",
                   json_is_string(json_object_get(n, "error"))
                       ? kiln_cli_str(n, "error") : "?");
    }
}

static void print_run(json_t *run)
{
    json_t *steps = json_object_get(run, "steps"), *s, *a, *params;
    const char *key;
    json_t *v;
    size_t i, j;
    int width = 22;
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
    if (json_is_string(json_object_get(run, "started_by")))
        printf("  by:       %s\n", kiln_cli_str(run, "started_by"));
    if (json_is_integer(json_object_get(json_object_get(run, "trigger_info"),
                                        "reproduces")))
        printf("  reproduces run %lld (kiln reproduce)\n",
               (long long)json_integer_value(json_object_get(
                   json_object_get(run, "trigger_info"), "reproduces")));
    {
        /* kiln retry, and what kiln run --only/--from/--until picked. */
        json_t *info = json_object_get(run, "trigger_info"), *x;
        size_t k;
        if (json_is_integer(json_object_get(info, "retry_of")))
            printf("  retries run %lld\n", (long long)json_integer_value(
                       json_object_get(info, "retry_of")));
        if (json_object_get(info, "only") || json_object_get(info, "from") ||
            json_object_get(info, "until")) {
            printf("  selected:");
            json_array_foreach(json_object_get(info, "only"), k, x)
                printf("%s %s", k ? "" : " --only", json_string_value(x));
            if (json_is_string(json_object_get(info, "from")))
                printf(" --from %s", kiln_cli_str(info, "from"));
            if (json_is_string(json_object_get(info, "until")))
                printf(" --until %s", kiln_cli_str(info, "until"));
            printf("\n");
        }
    }
    if (json_array_size(json_object_get(run, "reproduced_by"))) {
        json_t *r;
        size_t k;
        printf("  reproduced by run");
        json_array_foreach(json_object_get(run, "reproduced_by"), k, r)
            printf("%s %lld", k ? "," : "", (long long)json_integer_value(r));
        printf("\n");
    }
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
    json_array_foreach(steps, i, s) /* a sweep's item names are long */
        if (strlen(kiln_cli_str(s, "name")) > (size_t)width)
            width = (int)strlen(kiln_cli_str(s, "name"));
    printf("\n  %-*s %-9s %-10s %-8s %-9s %s\n", width, "STEP", "KIND",
           "STATUS", "ATTEMPTS", "DURATION", "REASON");
    json_array_foreach(steps, i, s) {
        printf("  %-*s %-9s %-10s %-8lld %-9s %s\n", width,
               kiln_cli_str(s, "name"),
               kiln_cli_str(s, "kind"), kiln_cli_str(s, "status"),
               (long long)json_integer_value(json_object_get(s, "attempts")),
               span(dur, sizeof(dur), s),
               json_is_string(json_object_get(s, "reason"))
                   ? kiln_cli_str(s, "reason") : "");
        json_t *attempts = json_object_get(s, "attempts_detail");
        json_t *last = json_array_get(attempts,
                                      json_array_size(attempts) - 1);
        if (json_is_string(json_object_get(last, "image")))
            printf("    image %s (%.19s)\n", kiln_cli_str(last, "image_ref"),
                   kiln_cli_str(last, "image"));
        print_ranking(json_object_get(json_object_get(s, "gate"),
                                      "select"));
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
    print_notifications(json_object_get(run, "notifications"));
}

/* --env STEP: the texts the step's last keyed attempt captured. */
static int show_env(kiln_store *store, int64_t run_id, const char *name,
                    bool as_json, kiln_err *err)
{
    kiln_run_info *run = NULL;
    const kiln_step_info *step;
    char *text = NULL;
    json_t *doc = NULL, *env, *v, *out = json_object();
    const char *label;
    int rc;

    if ((rc = kiln_store_run_get(&run, store, run_id, err)) != 0)
        goto done;
    if (!(step = kiln_run_info_step(run, name))) {
        rc = kiln_err_set(err, KILN_ENOTFOUND, "run %lld has no step %s",
                          (long long)run_id, name);
        goto done;
    }
    for (size_t i = step->n_attempts; i-- > 0 && !text;)
        if ((rc = kiln_store_key_doc_get(store, &text, step->attempt[i].id,
                                         err)) != 0)
            goto done;
    doc = text ? json_loads(text, 0, NULL) : NULL;
    env = json_object_get(doc, "environment");
    if (!json_object_size(env)) {
        rc = kiln_err_set(err, KILN_ENOTFOUND, "step %s of run %lld "
                          "captured no environment (it has no "
                          "environment:)", name, (long long)run_id);
        goto done;
    }
    json_object_foreach(env, label, v) {
        char *captured = NULL;
        if ((rc = kiln_store_capture_get(store, &captured,
                                         json_string_value(v), err)) != 0)
            goto done;
        if (as_json) {
            json_object_set_new(out, label, json_pack(
                "{s:s, s:s}", "sha256", json_string_value(v), "text",
                captured));
        } else {
            printf("== %s (sha256 %.12s)\n%s", label, json_string_value(v),
                   captured);
            if (captured[0] && captured[strlen(captured) - 1] != '\n')
                printf("\n");
        }
        free(captured);
    }
    if (as_json)
        kiln_cli_print_json(out);
done:
    json_decref(out);
    json_decref(doc);
    free(text);
    kiln_run_info_free(run);
    return rc;
}

static int exec_show(void *opts)
{
    const show_opts *o = opts;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *run = NULL;
    int status = KILN_EXIT_OK;

    if (o->env) {
        if (kiln_cli_open_store(&store, o->state, true, &err) != 0 ||
            show_env(store, o->run, o->env, o->json, &err) != 0)
            status = kiln_cli_fail(&err);
        kiln_store_close(store);
        return status;
    }
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
