/*
 * cmd-run.c: kiln run FILE — run a pipeline now, in the foreground.
 *
 * Before the loop starts: load and check the file, pin the Git commit (or
 * check out --commit REV under the state directory and load the file as it
 * is there), open the store. Then one engine, one run, and SIGINT/SIGTERM
 * handlers that cancel it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../dsl/dsl.h"
#include "cli.h"
#include "engine.h"
#include "git.h"
#include "hash.h"
#include "notify.h"
#include "progress.h"
#include "report.h"
#include "state.h"

enum { OPT_JSON = 256, OPT_COMMIT, OPT_REQUIRE_CLEAN, OPT_POOL,
       OPT_NO_CACHE, OPT_JUNIT };

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"param", required_argument, NULL, 'p'},
    {"jobs", required_argument, NULL, 'j'},
    {"state", required_argument, NULL, 's'},
    {"json", no_argument, NULL, OPT_JSON},
    {"commit", required_argument, NULL, OPT_COMMIT},
    {"require-clean", no_argument, NULL, OPT_REQUIRE_CLEAN},
    {"pool", required_argument, NULL, OPT_POOL},
    {"no-cache", no_argument, NULL, OPT_NO_CACHE},
    {"junit", required_argument, NULL, OPT_JUNIT},
    {NULL, 0, NULL, 0},
};

typedef struct run_ctx {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    kiln_progress *progress;
    kiln_run *run;
    kiln_run_state state;
    kiln_err store_err;
    int signals;       /* how many SIGINT/SIGTERM arrived */
    bool json;
    kiln_http *http;   /* notify: webhooks, when the pipeline has some */
    kiln_notifier *notifier;
    kiln_store *store;
    const char *junit; /* --junit PATH */
} run_ctx;

static void print_summary(run_ctx *ctx, kiln_store *store, FILE *out);
static void write_reports(kiln_store *store, int64_t id, const char *junit);

static void on_event(kiln_run *run, ssize_t step, void *data)
{
    run_ctx *ctx = data;
    kiln_progress_event(ctx->progress, run, step);
}

static void on_done(kiln_run *run, void *data)
{
    run_ctx *ctx = data;
    const kiln_err *serr = kiln_run_store_error(run);
    ctx->state = kiln_run_state_get(run);
    if (serr)
        ctx->store_err = *serr;
    kiln_progress_close(ctx->progress, run);
    uv_close((uv_handle_t *)&ctx->sigint, NULL);
    uv_close((uv_handle_t *)&ctx->sigterm, NULL);
    /* The summary and reports now; the loop then runs on until the
     * notifications are delivered or given up (each attempt has a
     * timeout). */
    if (!serr) {
        print_summary(ctx, ctx->store, ctx->json ? stderr : stdout);
        fflush(stdout); /* seen now, even through a pipe */
        write_reports(ctx->store, kiln_run_id(run), ctx->junit);
    }
    kiln_notifier_run_ended(ctx->notifier, kiln_run_pipeline(run),
                            kiln_run_id(run));
}

static void on_signal(uv_signal_t *sig, int signum)
{
    run_ctx *ctx = sig->data;
    if (!ctx->run)
        return;
    ctx->signals++;
    if (ctx->signals == 1)
        fprintf(stderr, "kiln: %s received, cancelling run %lld (again to "
                "kill at once)\n", strsignal(signum),
                (long long)kiln_run_id(ctx->run));
    kiln_run_cancel(ctx->run, ctx->signals > 1);
}

/* The reports CI systems read: --junit PATH, and a Markdown summary
 * appended to $GITHUB_STEP_SUMMARY when GitHub Actions sets it. A report
 * that cannot be written is said, and does not change the exit status. */
static void write_reports(kiln_store *store, int64_t id, const char *junit)
{
    const char *summary = getenv("GITHUB_STEP_SUMMARY");
    kiln_err err = KILN_ERR_INIT;
    if (junit && kiln_report_junit(store, id, junit, &err) != 0)
        fprintf(stderr, "kiln: warning: --junit: %s\n", err.msg);
    if (summary && *summary &&
        kiln_report_markdown(store, id, summary, &err) != 0)
        fprintf(stderr, "kiln: warning: GITHUB_STEP_SUMMARY: %s\n",
                err.msg);
}

static int load(kiln_pipeline **out, const char *path)
{
    kiln_diag diag = KILN_DIAG_INIT;
    int rc;
    if (access(path, F_OK) != 0) {
        fprintf(stderr, "kiln: error: %s: no such file\n", path);
        return KILN_EXIT_USAGE;
    }
    rc = kiln_dsl_load_file(out, path, &diag);
    if (rc == 0)
        rc = kiln_cli_check_pipeline(*out, &diag);
    /* Print before freeing: the errors' positions point into the
     * pipeline. */
    if (rc != 0)
        kiln_diag_print(&diag);
    if (rc != 0 && *out) {
        kiln_pipeline_free(*out);
        *out = NULL;
    }
    kiln_diag_dispose(&diag);
    return rc == 0 ? 0 : rc == KILN_EINVAL ? KILN_EXIT_USAGE
                                           : KILN_EXIT_SYSTEM;
}

static void print_summary(run_ctx *ctx, kiln_store *store, FILE *out)
{
    json_t *run = NULL;
    kiln_err err = KILN_ERR_INIT;
    if (kiln_store_run_json(store, &run, kiln_run_id(ctx->run), &err) != 0) {
        kiln_err_print(&err);
        return;
    }
    if (ctx->json) {
        kiln_cli_print_json(run);
    } else {
        json_t *reason = json_object_get(run, "reason");
        json_int_t started = json_integer_value(json_object_get(run,
                                                "started_at"));
        json_int_t finished = json_integer_value(json_object_get(run,
                                                 "finished_at"));
        char dur[32];
        fprintf(out, "run %lld %s in %s", (long long)kiln_run_id(ctx->run),
                kiln_run_state_name(ctx->state),
                kiln_fmt_duration(dur, sizeof(dur), finished - started));
        if (ctx->state != KILN_RUN_SUCCEEDED && json_is_string(reason))
            fprintf(out, ": %s", json_string_value(reason));
        fputc('\n', out);
        if (ctx->state == KILN_RUN_FAILED)
            fprintf(out, "see: kiln show %lld; kiln logs %lld STEP\n",
                    (long long)kiln_run_id(ctx->run),
                    (long long)kiln_run_id(ctx->run));
    }
    json_decref(run);
}

static int exec_run(int argc, char **argv)
{
    kiln_kv *params = kiln_calloc((size_t)argc, sizeof(kiln_kv));
    kiln_kv *pools = kiln_calloc((size_t)argc, sizeof(kiln_kv));
    size_t n_params = 0, n_pools = 0;
    const char *state_opt = NULL, *commit_opt = NULL;
    bool require_clean = false, json = false, no_cache = false;
    const char *junit = NULL;
    unsigned jobs = 0;
    kiln_pipeline *p = NULL;
    kiln_git_info git;
    kiln_store *store = NULL;
    kiln_engine *eng = NULL;
    kiln_err err = KILN_ERR_INIT;
    char *file = NULL, *state = NULL, *db = NULL, *checkout = NULL;
    char *root = NULL, commit[41] = "", hash[KILN_HASH_HEX];
    run_ctx ctx;
    int c, status = KILN_EXIT_OK;

    memset(&git, 0, sizeof(git));
    memset(&ctx, 0, sizeof(ctx));
    optind = 1;
    while ((c = getopt_long(argc, argv, "hp:j:s:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            kiln_cli_help(&kiln_cmd_run);
            goto done;
        case 'p':
            if (kiln_cli_parse_param(&params[n_params++], optarg, &err) != 0) {
                status = kiln_cli_usage_error(&kiln_cmd_run, "%s", err.msg);
                goto done;
            }
            break;
        case 'j': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 4096) {
                status = kiln_cli_usage_error(&kiln_cmd_run, "--jobs "
                                              "expects 1 to 4096, got "
                                              "\"%s\"", optarg);
                goto done;
            }
            jobs = (unsigned)v;
            break;
        }
        case 's':
            state_opt = optarg;
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_COMMIT:
            commit_opt = optarg;
            break;
        case OPT_REQUIRE_CLEAN:
            require_clean = true;
            break;
        case OPT_NO_CACHE:
            no_cache = true;
            break;
        case OPT_JUNIT:
            junit = optarg;
            break;
        case OPT_POOL:
            if (kiln_cli_parse_pool(&pools[n_pools++], optarg, &err) != 0) {
                status = kiln_cli_usage_error(&kiln_cmd_run, "%s", err.msg);
                goto done;
            }
            break;
        default:
            status = kiln_cli_usage_error(&kiln_cmd_run, "bad option");
            goto done;
        }
    }
    if (optind != argc - 1) {
        status = kiln_cli_usage_error(&kiln_cmd_run, "expected one FILE");
        goto done;
    }
    if ((status = load(&p, argv[optind])) != 0)
        goto done;
    if (kiln_run_check_params(p, n_params, params, &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }
    file = kiln_path_absolute(argv[optind]);

    /* Pin the commit. */
    if (kiln_git_inspect(&git, file, &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }
    if (!git.in_repo && commit_opt) {
        kiln_err_set(&err, KILN_EINVAL, "--commit: %s is not in a Git "
                     "repository", argv[optind]);
        status = kiln_cli_fail(&err);
        goto done;
    }
    if (!git.in_repo)
        fprintf(stderr, "kiln: warning: %s is not in a Git repository; the "
                "run records no commit\n", argv[optind]);
    if (git.in_repo && !commit_opt && git.dirty &&
        (require_clean || p->git_require_clean)) {
        fprintf(stderr, "kiln: error: the work tree of %s has uncommitted "
                "changes and %s requires a clean tree:\n", git.workdir,
                require_clean ? "--require-clean" : "the pipeline");
        for (size_t i = 0; i < git.n_changed; i++)
            fprintf(stderr, "  %s\n", git.changed[i]);
        fprintf(stderr, "commit or stash them, or run a commit with "
                "--commit REV\n");
        status = KILN_EXIT_USAGE;
        goto done;
    }

    state = kiln_state_dir_pick(state_opt, git.in_repo ? git.workdir : NULL,
                                p->dir);
    if (kiln_state_dir_prepare(state, &err) != 0) {
        status = KILN_EXIT_SYSTEM;
        kiln_err_print(&err);
        goto done;
    }

    if (commit_opt) {
        /* Run the pipeline as it is at REV, in a checkout of its own. */
        const char *rel = file + strlen(git.workdir) + 1;
        char *dir, *path;
        if (kiln_git_resolve(commit, file, commit_opt, &err) != 0) {
            status = kiln_cli_fail(&err);
            goto done;
        }
        dir = kiln_asprintf("%s/checkouts/%s", state, commit);
        if (kiln_git_checkout(file, commit, dir, &err) != 0) {
            free(dir);
            status = kiln_cli_fail(&err);
            goto done;
        }
        path = kiln_path_join(dir, rel);
        free(dir);
        kiln_pipeline_free(p);
        p = NULL;
        if (access(path, F_OK) != 0) {
            kiln_err_set(&err, KILN_ENOTFOUND, "%s does not exist at "
                         "commit %.12s", rel, commit);
            free(path);
            status = kiln_cli_fail(&err);
            goto done;
        }
        status = load(&p, path);
        if (status == 0 &&
            kiln_run_check_params(p, n_params, params, &err) != 0)
            status = kiln_cli_fail(&err);
        free(file);
        file = path;
        if (status != 0)
            goto done;
        root = kiln_strdup(p->dir);
    } else if (git.in_repo) {
        snprintf(commit, sizeof(commit), "%s", git.commit);
    }
    if (kiln_hash_file(hash, file, &err) != 0) {
        status = kiln_cli_fail(&err);
        goto done;
    }

    db = kiln_path_join(state, "kiln.db");
    if (kiln_store_open(&store, db, &err) != 0) {
        kiln_err_print(&err);
        status = KILN_EXIT_SYSTEM;
        goto done;
    }

    uv_loop_init(&ctx.loop);
    ctx.json = json;
    ctx.store = store;
    ctx.junit = junit;
    kiln_engine_new(&eng, &ctx.loop, store, state, jobs, &err);
    kiln_engine_set_cache(eng, !no_cache);
    for (size_t i = 0; i < n_pools; i++)
        kiln_engine_set_pool(eng, pools[i].key,
                             (unsigned)atoi(pools[i].value));
    ctx.progress = kiln_progress_new(&ctx.loop, json ? stderr : stdout,
                                     isatty(json ? 2 : 1));
    uv_signal_init(&ctx.loop, &ctx.sigint);
    uv_signal_init(&ctx.loop, &ctx.sigterm);
    ctx.sigint.data = ctx.sigterm.data = &ctx;
    uv_signal_start(&ctx.sigint, on_signal, SIGINT);
    uv_signal_start(&ctx.sigterm, on_signal, SIGTERM);
    if (p->n_notify) {
        if (kiln_http_new(&ctx.http, &ctx.loop, &err) != 0)
            fprintf(stderr, "kiln: warning: %s: no notifications\n",
                    err.msg);
        kiln_notifier_new(&ctx.notifier, &ctx.loop, ctx.http, store, &err);
    }
    {
        kiln_run_options o = KILN_RUN_OPTIONS_INIT;
        o.pipeline = p;
        o.file = file;
        o.hash = hash;
        o.root = root;
        o.n_params = n_params;
        o.params = params;
        o.trigger = "manual";
        o.git_commit = commit[0] ? commit : NULL;
        o.git_branch = commit_opt ? NULL : git.branch;
        o.git_dirty = commit_opt ? false : git.dirty;
        o.on_event = on_event;
        o.on_done = on_done;
        o.data = &ctx;
        if (kiln_run_start(&ctx.run, eng, &o, &err) != 0) {
            kiln_err_print(&err);
            status = KILN_EXIT_SYSTEM;
            kiln_progress_close(ctx.progress, NULL);
            uv_close((uv_handle_t *)&ctx.sigint, NULL);
            uv_close((uv_handle_t *)&ctx.sigterm, NULL);
        }
    }
    uv_run(&ctx.loop, UV_RUN_DEFAULT);
    if (ctx.run) {
        status = ctx.store_err.code ? KILN_EXIT_SYSTEM
                 : ctx.state == KILN_RUN_SUCCEEDED ? KILN_EXIT_OK
                                                   : KILN_EXIT_FAILED;
        kiln_run_free(ctx.run);
        uv_run(&ctx.loop, UV_RUN_DEFAULT);
    }
    kiln_http_close(ctx.http);
    kiln_notifier_free(ctx.notifier);
    kiln_engine_free(eng);
    uv_run(&ctx.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&ctx.loop) != 0)
        fprintf(stderr, "kiln: warning: handles left open on exit\n");

done:
    kiln_store_close(store);
    kiln_git_info_dispose(&git);
    kiln_pipeline_free(p);
    free(params);
    free(pools);
    free(file);
    free(state);
    free(db);
    free(checkout);
    free(root);
    return status;
}

const kiln_cmd kiln_cmd_run = {
    .name = "run",
    .usage = "run FILE [--param NAME=VALUE]... [--jobs N] [--pool NAME=N]... "
             "[--state DIR] [--commit REV] [--require-clean] [--no-cache] "
             "[--junit PATH] [--json]",
    .summary = "Run a pipeline now, in the foreground.",
    .help =
        "Options:\n"
        "  -p, --param NAME=VALUE  override a parameter (repeatable); steps\n"
        "                          see it as $KILN_PARAM_NAME\n"
        "  -j, --jobs N            run at most N steps at once (default: "
        "CPUs)\n"
        "      --pool NAME=N       at most N steps of pool NAME at once "
        "(repeatable)\n"
        "  -s, --state DIR         state directory (default: $KILN_STATE, "
        "else\n"
        "                          .kiln/ at the top of the Git work tree)\n"
        "      --commit REV        run the pipeline as it is at commit REV, "
        "in a\n"
        "                          checkout under the state directory\n"
        "      --require-clean     refuse to run with uncommitted changes\n"
        "      --junit PATH        write a JUnit XML report (a testcase per "
        "step)\n"
        "      --no-cache          run every step, even those whose outputs "
        "are\n"
        "                          cached\n"
        "      --json              print a JSON summary of the run on "
        "stdout\n\n"
        "Exit status: 0 succeeded, 1 a step failed or the run was "
        "cancelled,\n"
        "2 invalid pipeline or usage, 3 kiln itself could not work.\n",
    .exec = exec_run,
};
