/* cmd-trigger.c: kiln trigger PIPELINE [--param NAME=VALUE]... [--wait]
 * [--server URL] [--token-file FILE] [--state DIR] [--json]: ask a running
 * kiln serve to start a run now, over its HTTP API (--server) or through
 * the local state directory; with --wait, follow the run to its end. */
#include <pwd.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/api-client.h"
#include "cli/cli.h"

typedef struct trigger_opts {
    const char *pipeline;   /* PIPELINE */
    kiln_opt_list params;   /* --param NAME=VALUE..., kiln_kv */
    bool wait;              /* --wait */
    const char *server;     /* --server URL */
    const char *token_file; /* --token-file FILE */
    const char *state;      /* --state DIR */
    bool json;              /* --json */
} trigger_opts;

static const kiln_opt options[] = {
    KILN_OPT_ARG(trigger_opts, pipeline, "PIPELINE", NULL),
    KILN_CLI_OPT_PARAM(trigger_opts),
    KILN_OPT_SWITCH('w', "wait", trigger_opts, wait, "follow the run; exit "
                    "0 if it succeeds, 1 if not"),
    KILN_CLI_OPT_SERVER(trigger_opts),
    KILN_CLI_OPT_TOKEN_FILE(trigger_opts, "the API token (else "
                            "$KILN_TOKEN)"),
    KILN_CLI_OPT_STATE(trigger_opts),
    KILN_CLI_OPT_JSON_HELP(trigger_opts, "print the daemon's reply as JSON"),
    KILN_OPT_END,
};

static const char *user_name(void)
{
    struct passwd *pw = getpwuid(getuid());
    return pw ? pw->pw_name : "unknown";
}

/* Ask over HTTP: the reply in kiln trigger's shape, or an exit status. */
static int ask_http(json_t **reply, const char *server, const char *token,
                    const char *pipeline, json_t *params)
{
    kiln_err err = KILN_ERR_INIT;
    json_t *body = json_pack("{s:O}", "params", params);
    char *path = kiln_asprintf("/api/v1/pipelines/%s/runs", pipeline);
    long status;
    int rc = kiln_api_call(&status, reply, "POST", server, path, body, token,
                           &err);
    free(path);
    json_decref(body);
    if (rc != 0) {
        kiln_err_print(&err);
        return KILN_EXIT_SYSTEM;
    }
    if (status == 201 || status == 202 || status == 409)
        return 0;
    fprintf(stderr, "kiln: error: %s: HTTP %ld: %s\n", server, status,
            kiln_cli_str(*reply, "error"));
    json_decref(*reply);
    *reply = NULL;
    return status == 400 || status == 404 ? KILN_EXIT_USAGE
                                          : KILN_EXIT_SYSTEM;
}

/* Ask the daemon of the local state directory, through its inbox: the
 * reply, or an exit status after saying why not (printing the reply with
 * json). */
static int ask_local(json_t **reply, const char *state, const char *pipeline,
                     json_t *params, bool json)
{
    json_t *req = json_pack("{s:s, s:s, s:O, s:s, s:i}", "op", "trigger",
                            "pipeline", pipeline, "params", params, "user",
                            user_name(), "pid", (int)getpid());
    const char *code;
    int status = kiln_cli_ask_daemon(reply, state, req);
    json_decref(req);
    if (status != 0)
        return status;
    if ((code = json_string_value(json_object_get(*reply, "code")))) {
        if (json)
            kiln_cli_print_json(*reply);
        else
            fprintf(stderr, "kiln: error: %s\n",
                    kiln_cli_str(*reply, "error"));
        return strcmp(code, "unavailable") == 0 ? KILN_EXIT_SYSTEM
                                                : KILN_EXIT_USAGE;
    }
    return 0;
}

/* The run's record, from the API or the local store. */
static json_t *fetch_run(const char *server, const char *token,
                         kiln_store *store, int64_t id, kiln_err *err)
{
    json_t *run = NULL;
    if (server) {
        char *path = kiln_asprintf("/api/v1/runs/%lld", (long long)id);
        long status;
        if (kiln_api_call(&status, &run, "GET", server, path, NULL, token,
                          err) == 0 &&
            status != 200) {
            kiln_err_set(err, KILN_ERROR, "%s: HTTP %ld", path, status);
            json_decref(run);
            run = NULL;
        }
        free(path);
    } else if (kiln_store_run_json(store, &run, id, err) != 0) {
        run = NULL;
    }
    return run;
}

int kiln_cli_follow_run(const char *server, const char *token,
                        const char *state, int64_t id, bool json)
{
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *seen = json_object(), *run = NULL;
    struct timespec nap = {0, 500 * 1000 * 1000};
    const char *status = "";
    int failures = 0, rc;

    if (!server && kiln_cli_open_store(&store, state, false, &err) != 0)
        return kiln_cli_fail(&err);
    for (;;) {
        json_t *step;
        size_t i;
        json_decref(run);
        if (!(run = fetch_run(server, token, store, id, &err))) {
            /* A daemon restarting is no reason to give up at once. */
            if (++failures > 20) {
                kiln_err_print(&err);
                rc = KILN_EXIT_SYSTEM;
                break;
            }
            nanosleep(&nap, NULL);
            continue;
        }
        failures = 0;
        json_array_foreach(json_object_get(run, "steps"), i, step) {
            const char *name = kiln_cli_str(step, "name");
            const char *st = kiln_cli_str(step, "status");
            const char *was = json_string_value(json_object_get(seen, name));
            if (!json && (!was || strcmp(was, st) != 0) &&
                strcmp(st, "pending") != 0) {
                const char *why = kiln_cli_str(step, "reason");
                printf("  %-20s %s%s%s\n", name, st, *why && *why != '-'
                       ? ": " : "", *why && *why != '-' ? why : "");
                fflush(stdout);
            }
            json_object_set_new(seen, name, json_string(st));
        }
        status = kiln_cli_str(run, "status");
        if (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0
            || strcmp(status, "cancelled") == 0) {
            if (json)
                kiln_cli_print_json(run);
            else
                printf("run %lld %s\n", (long long)id, status);
            rc = strcmp(status, "succeeded") == 0 ? KILN_EXIT_OK
                                                  : KILN_EXIT_FAILED;
            break;
        }
        nanosleep(&nap, NULL);
    }
    json_decref(run);
    json_decref(seen);
    kiln_store_close(store);
    return rc;
}

static int exec_trigger(void *opts)
{
    const trigger_opts *o = opts;
    const kiln_kv *kv = o->params.items;
    const char *state_opt = o->state, *token_file = o->token_file;
    const char *server = o->server ? o->server : getenv("KILN_SERVER");
    bool json = o->json, wait = o->wait;
    json_t *params = json_object(), *reply = NULL;
    kiln_err err = KILN_ERR_INIT;
    char *token = NULL;
    int64_t id = 0;
    int status = KILN_EXIT_OK;

    for (size_t i = 0; i < o->params.n; i++)
        json_object_set_new(params, kv[i].key, json_string(kv[i].value));
    if (server && *server) {
        if (kiln_cli_read_token(&token, token_file, &err) != 0) {
            status = kiln_cli_fail(&err);
            goto done;
        }
        status = ask_http(&reply, server, token, o->pipeline, params);
    } else {
        server = NULL;
        status = ask_local(&reply, state_opt, o->pipeline, params, json);
    }
    if (status != 0)
        goto done;
    {
        const char *st = kiln_cli_str(reply, "status");
        id = json_integer_value(json_object_get(reply, "run_id"));
        if (json && !wait)
            kiln_cli_print_json(reply);
        if (strcmp(st, "started") == 0) {
            if (!json)
                printf("run %lld started\n", (long long)id);
        } else if (strcmp(st, "queued") == 0) {
            if (!json)
                printf("queued: %s\n", kiln_cli_str(reply, "reason"));
            if (wait) {
                fprintf(stderr, "kiln: a queued run has no id yet; --wait "
                        "cannot follow it\n");
                status = KILN_EXIT_FAILED;
            }
            goto done;
        } else {
            if (!json)
                fprintf(stderr, "kiln: %s: %s\n", st,
                        kiln_cli_str(reply, "reason"));
            status = KILN_EXIT_FAILED;
            goto done;
        }
    }
    if (wait && id > 0)
        status = kiln_cli_follow_run(server, token, state_opt, id, json);
done:
    json_decref(params);
    json_decref(reply);
    free(token);
    return status;
}

const kiln_cmd kiln_cmd_trigger = {
    .name = "trigger",
    .summary = "Ask the running kiln serve to start a run of a pipeline "
               "now.",
    .help = "The run is recorded as manual and obeys the pipeline's "
            "concurrency policy\n(it may be queued or refused), not its "
            "cooldown.\n",
    .notes = "Exit status: 0 started or queued (with --wait: the run "
             "succeeded); 1 refused\nby a policy (with --wait: the run "
             "failed or was cancelled); 2 unknown\npipeline or parameter; "
             "3 no daemon, a wrong token, or no answer.\n",
    .opts = options,
    .opts_size = sizeof(trigger_opts),
    .exec = exec_trigger,
};
