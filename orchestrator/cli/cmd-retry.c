/*
 * cmd-retry.c: kiln retry RUN [--from STEP] — a new run of RUN's
 * definition and params, on the work tree as it is now, that reuses the
 * steps of RUN that succeeded (with --from, all but STEP and what is
 * downstream of it), as
 * the status page's Retry does: in the foreground, or through kiln
 * serve's API with --server (POST /api/v1/runs/{id}/retry).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "cli/api-client.h"
#include "cli/cli.h"
#include "cli/foreground.h"
#include "git/git.h"

typedef struct retry_opts {
    int64_t run;            /* RUN */
    const char *from;       /* --from STEP */
    const char *server;     /* --server URL */
    const char *token_file; /* --token-file FILE */
    bool wait;              /* --wait (with --server) */
    const char *state;      /* --state DIR */
    long jobs;              /* --jobs N; 0: CPUs */
    bool no_cache;          /* --no-cache */
    const char *junit;      /* --junit PATH */
    bool json;              /* --json */
} retry_opts;

static const kiln_opt options[] = {
    KILN_CLI_ARG_RUN(retry_opts, run),
    KILN_OPT_VALUE(0, "from", retry_opts, from, "STEP", "run STEP and "
                   "everything downstream of it again, reuse the rest (RUN "
                   "may then have succeeded)"),
    KILN_OPT_VALUE(0, "server", retry_opts, server, "URL", "retry in the "
                   "kiln serve of this HTTP API (http://host:8080/; or "
                   "$KILN_SERVER); without it, in the foreground"),
    KILN_CLI_OPT_TOKEN_FILE(retry_opts, "the API token (else $KILN_TOKEN)"),
    KILN_OPT_SWITCH('w', "wait", retry_opts, wait, "with --server: follow "
                    "the new run; exit 0 if it succeeds, 1 if not"),
    KILN_CLI_OPT_STATE(retry_opts),
    KILN_CLI_OPT_JOBS(retry_opts, "run at most N steps at once "
                      "(default: CPUs)"),
    KILN_OPT_SWITCH(0, "no-cache", retry_opts, no_cache, "run the steps "
                    "not reused even when their outputs are cached"),
    KILN_CLI_OPT_JUNIT(retry_opts),
    KILN_CLI_OPT_JSON_HELP(retry_opts, "print a JSON summary of the run on "
                           "stdout"),
    KILN_OPT_END,
};

/* Through kiln serve's API. */
static int retry_remote(const retry_opts *o, const char *server)
{
    kiln_err err = KILN_ERR_INIT;
    json_t *reply = NULL, *body = json_object();
    char *token = NULL, *path;
    long code = 0;
    int status = KILN_EXIT_OK;

    if (o->from)
        json_object_set_new(body, "from", json_string(o->from));
    path = kiln_asprintf("/api/v1/runs/%lld/retry", (long long)o->run);
    if (kiln_cli_read_token(&token, o->token_file, &err) != 0) {
        status = kiln_cli_fail(&err);
    } else if (kiln_api_call(&code, &reply, "POST", server, path, body,
                             token, &err) != 0) {
        kiln_err_print(&err);
        status = KILN_EXIT_SYSTEM;
    } else if (code != 201) {
        fprintf(stderr, "kiln: error: %s: HTTP %ld: %s\n", server, code,
                kiln_cli_str(reply, "error"));
        status = code == 400 || code == 404 || code == 409
                     ? KILN_EXIT_USAGE : KILN_EXIT_SYSTEM;
    } else {
        int64_t id = json_integer_value(json_object_get(reply, "run_id"));
        if (o->json && !o->wait)
            kiln_cli_print_json(reply);
        else if (!o->json)
            printf("run %lld started (retries run %lld)\n", (long long)id,
                   (long long)o->run);
        fflush(stdout);
        if (o->wait)
            status = kiln_cli_follow_run(server, token, NULL, id, o->json);
    }
    free(path);
    free(token);
    json_decref(body);
    json_decref(reply);
    return status;
}

/* Why run cannot be retried here, or NULL. */
static const char *refusal(const kiln_run_info *run, const char *from,
                           char *buf, size_t size)
{
    char hash[KILN_HASH_HEX];
    kiln_err herr = KILN_ERR_INIT;
    if (!kiln_run_state_final(run->state))
        snprintf(buf, size, "run %lld is %s: only an ended run can be "
                 "retried%s", (long long)run->id,
                 kiln_run_info_orphaned(run) ? "orphaned" : "still running",
                 kiln_run_info_orphaned(run)
                     ? " (kiln resume or kiln abandon it first)" : "");
    else if (run->state == KILN_RUN_SUCCEEDED && !from)
        snprintf(buf, size, "run %lld succeeded: nothing to retry (--from "
                 "STEP runs a step and what follows it again)",
                 (long long)run->id);
    else if (!run->file || !run->hash ||
             kiln_hash_file(hash, run->file, &herr) != 0 ||
             strcmp(hash, run->hash) != 0)
        snprintf(buf, size, "the pipeline file of run %lld (%s) changed or "
                 "is gone since it ran: start a new run instead",
                 (long long)run->id, run->file ? run->file : "-");
    else
        return NULL;
    return buf;
}

static int load(kiln_pipeline **out, const char *path)
{
    kiln_diag diag = KILN_DIAG_INIT;
    int rc = kiln_dsl_load_file(out, path, &diag);
    if (rc == 0)
        rc = kiln_cli_check_pipeline(*out, &diag);
    if (rc != 0)
        kiln_diag_print(&diag);
    kiln_diag_dispose(&diag);
    return rc == 0 ? 0 : rc == KILN_EINVAL ? KILN_EXIT_USAGE
                                           : KILN_EXIT_SYSTEM;
}

/* In the foreground, as kiln run. */
static int retry_local(const retry_opts *o)
{
    kiln_store *store = NULL;
    kiln_run_info *run = NULL;
    kiln_pipeline *p = NULL;
    kiln_kv *reuse = NULL;
    kiln_err err = KILN_ERR_INIT;
    kiln_git_info git;
    char why[600], *state = kiln_cli_state_dir(o->state), *info = NULL;
    size_t n_reuse = 0;
    int status;

    memset(&git, 0, sizeof(git));
    if (kiln_cli_open_store(&store, o->state, false, &err) != 0 ||
        kiln_store_run_get(&run, store, o->run, &err) != 0) {
        status = err.code == KILN_ENOTFOUND ? KILN_EXIT_USAGE
                                            : KILN_EXIT_SYSTEM;
        kiln_err_print(&err);
        goto done;
    }
    if (refusal(run, o->from, why, sizeof(why))) {
        fprintf(stderr, "kiln: error: %s\n", why);
        status = KILN_EXIT_USAGE;
        goto done;
    }
    if ((status = load(&p, run->file)) != 0)
        goto done;
    if (kiln_run_retry_reuse(&reuse, &n_reuse, p, run, o->from,
                             &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }
    info = kiln_asprintf("{\"retry_of\":%lld}", (long long)run->id);
    {
        kiln_fg_options fo;
        kiln_run_options ro = KILN_RUN_OPTIONS_INIT;
        kiln_err gerr = KILN_ERR_INIT;
        memset(&fo, 0, sizeof(fo));
        fo.store = store;
        fo.state_dir = state;
        fo.jobs = (unsigned)o->jobs;
        fo.cache = !o->no_cache;
        fo.json = o->json;
        fo.junit = o->junit;
        ro.pipeline = p;
        ro.file = run->file;
        ro.hash = run->hash;
        ro.root = run->workdir;
        ro.n_params = run->n_params;
        ro.params = run->params;
        ro.trigger = "retry";
        ro.trigger_info = info;
        ro.started_by = kiln_user_name();
        ro.started_via = "cli";
        ro.git_commit = run->git_commit;
        ro.git_branch = run->git_branch;
        ro.git_dirty = run->git_dirty;
        /* The work tree as it is now runs: its commit is recorded, not
         * RUN's (a run pinned with --commit ran a checkout, which does
         * not move). */
        if (!(run->git_commit &&
              kiln_git_in_checkout(run->file, run->git_commit)) &&
            kiln_git_inspect(&git, run->file, &gerr) == 0 && git.in_repo) {
            ro.git_commit = git.commit[0] ? git.commit : NULL;
            ro.git_branch = git.branch;
            ro.git_dirty = git.dirty;
            if (!run->git_commit || strcmp(run->git_commit, git.commit) ||
                git.dirty != run->git_dirty)
                fprintf(stderr, "kiln: note: run %lld ran at commit "
                        "%.12s%s; the work tree is at %.12s%s now, which "
                        "this run records\n", (long long)run->id,
                        run->git_commit ? run->git_commit : "(none)",
                        run->git_dirty ? "+" : "", git.commit,
                        git.dirty ? "+" : "");
        }
        ro.reuse_run = run->id;
        ro.n_reuse = n_reuse;
        ro.reuse = reuse;
        if (!o->json)
            printf("retrying run %lld (%zu step%s reused)\n",
                   (long long)run->id, n_reuse, n_reuse == 1 ? "" : "s");
        fflush(stdout);
        status = kiln_fg_run(&fo, &ro, NULL);
    }
done:
    kiln_git_info_dispose(&git);
    kiln_run_reuse_free(reuse, n_reuse);
    kiln_pipeline_free(p);
    kiln_run_info_free(run);
    kiln_store_close(store);
    free(info);
    free(state);
    return status;
}

static int exec_retry(void *opts)
{
    const retry_opts *o = opts;
    const char *server = o->server ? o->server : getenv("KILN_SERVER");
    if (server && *server)
        return retry_remote(o, server);
    if (o->wait) {
        fprintf(stderr, "kiln retry: --wait goes with --server (without "
                "it the retry runs in the foreground)\n");
        return KILN_EXIT_USAGE;
    }
    return retry_local(o);
}

const kiln_cmd kiln_cmd_retry = {
    .name = "retry",
    .summary = "Run a failed run again, reusing the steps that succeeded.",
    .help =
        "A new run of RUN's pipeline file and params (trigger retry) on\n"
        "the work tree as it is now, recording the commit checked out\n"
        "now (a run pinned with --commit is retried at its commit), as\n"
        "the status page's Retry starts: the steps of RUN that\n"
        "succeeded are recorded as reused from it, the others run. With\n"
        "--from STEP, STEP and every step downstream of it run again too.\n"
        "Steps that run again may be served from the cache, as in kiln\n"
        "run, when nothing they read changed (--no-cache: never).\n"
        "It runs in the foreground (as kiln run), or in a kiln serve with\n"
        "--server. The audit trail has run.retried by the Unix user (via\n"
        "cli), or by the token's user (via api).\n",
    .notes =
        "Exit status as kiln run's: 0 succeeded, 1 a step failed or the\n"
        "run was cancelled, 2 the run cannot be retried (still running,\n"
        "succeeded without --from, its pipeline file changed, no such\n"
        "run or step), 3 kiln itself could not work. With --server: 0\n"
        "started (with --wait: succeeded).\n",
    .opts = options,
    .opts_size = sizeof(retry_opts),
    .exec = exec_retry,
};
