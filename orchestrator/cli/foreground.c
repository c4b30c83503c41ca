/*
 * foreground.c: a run in the foreground (kiln run, kiln resume).
 *
 * One loop, one engine, one run, and SIGINT/SIGTERM handlers that cancel
 * it; the summary and reports come when the run ends, then the loop runs
 * on until the notifications are delivered or given up.
 */
#include "foreground.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/checkpoint.h"
#include "notify/notify.h"
#include "notify/openlineage.h"
#include "cli/progress.h"
#include "cli/report.h"

typedef struct run_ctx {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    kiln_progress *progress;
    kiln_run *run;
    kiln_run_state state;
    kiln_err store_err;
    int signals;       /* how many SIGINT/SIGTERM arrived */
    bool json;
    bool to_stderr;        /* progress and summary on stderr */
    kiln_http *http;   /* notify: webhooks, when the pipeline has some */
    kiln_notifier *notifier;
    kiln_store *store;
    const char *junit; /* --junit PATH */
    kiln_openlineage *lineage; /* --openlineage, or NULL */
} run_ctx;

static void print_summary(run_ctx *ctx, kiln_store *store, FILE *out);
static void write_reports(kiln_store *store, int64_t id, const char *junit);

static void on_event(kiln_run *run, ssize_t step, void *data)
{
    run_ctx *ctx = data;
    const kiln_pipeline *p = kiln_run_pipeline(run);
    kiln_progress_event(ctx->progress, run, step);
    if (step < 0)
        kiln_openlineage_run(ctx->lineage, p, kiln_run_id(run),
                             kiln_run_state_get(run), NULL);
    else
        kiln_openlineage_step(ctx->lineage, p, kiln_run_id(run),
                              (size_t)step,
                              kiln_run_step_state(run, (size_t)step),
                              kiln_run_step_reason(run, (size_t)step));
}

/* The notifications, recorded with the run's end. */
static void on_ending(kiln_run *run, void *data)
{
    run_ctx *ctx = data;
    kiln_notifier_run_ended(ctx->notifier, kiln_run_pipeline(run),
                            kiln_run_id(run));
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
        print_summary(ctx, ctx->store,
                      ctx->json || ctx->to_stderr ? stderr : stdout);
        fflush(stdout); /* seen now, even through a pipe */
        write_reports(ctx->store, kiln_run_id(run), ctx->junit);
    }
    /* What waits gets 2 s more: a receiver that does not answer never
     * keeps kiln from exiting much past the run. */
    kiln_openlineage_close(ctx->lineage, 2000);
    ctx->lineage = NULL;
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

/* The run's line, or with --json the whole record. Its row alone for
 * the line: the record of every step and attempt of a big run is
 * kilobytes a step. */
static void print_summary(run_ctx *ctx, kiln_store *store, FILE *out)
{
    json_t *run = NULL, *rows = NULL;
    kiln_err err = KILN_ERR_INIT;
    int64_t id = kiln_run_id(ctx->run);
    int rc = ctx->json ? kiln_store_run_json(store, &run, id, &err)
                       : kiln_store_runs_page_json(store, &rows, NULL, NULL,
                                                   id + 1, 1, &err);
    if (rc != 0) {
        kiln_err_print(&err);
        return;
    }
    if (rows) {
        run = json_incref(json_array_get(rows, 0));
        json_decref(rows);
        if (!run)
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

int kiln_fg_run(const kiln_fg_options *fo, kiln_run_options *ro,
                const kiln_run_info *resume)
{
    const kiln_pipeline *p = ro->pipeline;
    kiln_store *store = fo->store;
    kiln_engine *eng = NULL;
    kiln_checkpointer *ckpt = NULL;
    kiln_err err = KILN_ERR_INIT;
    run_ctx ctx;
    const char *given_info = ro->trigger_info;
    char *no_cache_info = NULL;
    int rc, status = KILN_EXIT_OK;

    memset(&ctx, 0, sizeof(ctx));
    kiln_cli_survive_closed_pipe();
    if (uv_loop_init(&ctx.loop) != 0) {
        fprintf(stderr, "kiln: error: cannot make an event loop\n");
        return KILN_EXIT_SYSTEM;
    }
    ctx.json = fo->json;
    ctx.store = store;
    ctx.junit = fo->junit;
    if (fo->openlineage) {
        kiln_openlineage_options lo;
        memset(&lo, 0, sizeof(lo));
        lo.loop = &ctx.loop;
        lo.target = fo->openlineage;
        lo.job_namespace = fo->openlineage_ns;
        lo.store = store;
        lo.state_dir = fo->state_dir;
        if (kiln_openlineage_new(&ctx.lineage, &lo, &err) != 0) {
            kiln_err_print(&err);
            uv_loop_close(&ctx.loop);
            return KILN_EXIT_SYSTEM;
        }
    }
    eng = kiln_engine_new(&ctx.loop, store, fo->state_dir, fo->jobs);
    ckpt = kiln_checkpointer_new(&ctx.loop, store);
    kiln_engine_set_cache(eng, fo->cache);
    for (size_t i = 0; i < fo->n_pools; i++)
        kiln_engine_set_pool(eng, fo->pools[i].key,
                             (unsigned)atoi(fo->pools[i].value));
    ctx.to_stderr = fo->to_stderr;
    ctx.progress = kiln_progress_new(&ctx.loop,
                                     fo->json || fo->to_stderr ? stderr
                                                               : stdout,
                                     isatty(fo->json || fo->to_stderr ? 2 : 1));
    uv_signal_init(&ctx.loop, &ctx.sigint);
    uv_signal_init(&ctx.loop, &ctx.sigterm);
    ctx.sigint.data = ctx.sigterm.data = &ctx;
    uv_signal_start(&ctx.sigint, on_signal, SIGINT);
    uv_signal_start(&ctx.sigterm, on_signal, SIGTERM);
    if (p->n_notify) {
        if (kiln_http_new(&ctx.http, &ctx.loop, &err) != 0)
            fprintf(stderr, "kiln: warning: %s: no notifications\n",
                    err.msg);
        ctx.notifier = kiln_notifier_new(&ctx.loop, ctx.http, store);
        /* What a killed kiln run of this pipeline did not deliver (a CI
         * job cancelled with SIGKILL) goes out with this run's. */
        size_t left = kiln_notifier_adopt(ctx.notifier, p->name);
        if (left)
            fprintf(stderr, "kiln: posting %zu notification%s of %s that "
                    "a kiln no longer running did not deliver\n", left,
                    left == 1 ? "" : "s", p->name);
    }
    ro->on_event = on_event;
    ro->on_ending = on_ending;
    ro->on_done = on_done;
    ro->data = &ctx;
    if (!fo->cache && !resume) {
        /* Recorded with how the run was started, so that a kiln that
         * takes it over serves nothing from the cache either. */
        json_t *info = ro->trigger_info
                           ? json_loads(ro->trigger_info, 0, NULL) : NULL;
        if (!json_is_object(info)) {
            json_decref(info);
            info = json_object();
        }
        json_object_set_new(info, "no_cache", json_true());
        no_cache_info = json_dumps(info, JSON_COMPACT);
        json_decref(info);
        ro->trigger_info = no_cache_info;
        ro->no_cache = true;
    }
    rc = resume ? kiln_run_resume(&ctx.run, eng, ro, resume, &err)
                : kiln_run_start(&ctx.run, eng, ro, &err);
    if (rc != 0) {
        kiln_err_print(&err);
        status = rc == KILN_EINVAL ? KILN_EXIT_USAGE : KILN_EXIT_SYSTEM;
        ctx.run = NULL;
        kiln_openlineage_close(ctx.lineage, 0);
        ctx.lineage = NULL;
        kiln_progress_close(ctx.progress, NULL);
        uv_close((uv_handle_t *)&ctx.sigint, NULL);
        uv_close((uv_handle_t *)&ctx.sigterm, NULL);
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
    kiln_checkpointer_free(ckpt);
    uv_run(&ctx.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&ctx.loop) != 0)
        fprintf(stderr, "kiln: warning: handles left open on exit\n");
    ro->trigger_info = given_info;
    free(no_cache_info);
    return status;
}
