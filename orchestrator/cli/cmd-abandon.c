/* cmd-abandon.c: kiln abandon RUN [--reason TEXT] — end an orphaned run
 * for good: stop what of it still runs, and record it as failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "executors/executor.h"
#include "cli/cli.h"
#include "engine/takeover.h"

typedef struct abandon_opts {
    int64_t run;        /* RUN */
    const char *reason; /* --reason TEXT */
    const char *state;  /* --state DIR */
} abandon_opts;

static const kiln_opt options[] = {
    KILN_CLI_ARG_RUN(abandon_opts, run),
    KILN_OPT_VALUE(0, "reason", abandon_opts, reason, "TEXT",
                   "why, recorded with the run"),
    KILN_CLI_OPT_STATE(abandon_opts),
    KILN_OPT_END,
};

/* An attempt still running when its run is abandoned. */
typedef struct stopping {
    kiln_task task;
    int64_t exec_id;
    char *log_path;
    char *status_path;
    bool done;
} stopping;

static void on_stopped(kiln_task *task, void *data)
{
    stopping *s = task->data;
    (void)data;
    s->done = true;
}

/*
 * Stop the processes of the run's attempts that still run, through their
 * executors (SIGTERM, then SIGKILL after the grace period; scancel), and
 * record each as cancelled with how it ended.
 */
static int stop_attempts(kiln_store *store, const kiln_run_info *run,
                         const char *why, kiln_err *err)
{
    uv_loop_t loop;
    kiln_executor **exs = NULL;
    stopping *stops;
    size_t n_ex = 0, n = 0, cap = 0, i, k;
    int rc = 0;

    for (i = 0; i < run->n_steps; i++)
        cap += run->steps[i].n_attempts;
    if (uv_loop_init(&loop) != 0)
        return kiln_err_set(err, KILN_ERROR, "cannot make an event loop");
    stops = kiln_calloc(cap ? cap : 1, sizeof(*stops));
    for (i = 0; i < run->n_steps; i++) {
        for (k = 0; k < run->steps[i].n_attempts; k++) {
            const kiln_attempt_info *a = &run->steps[i].attempt[k];
            const char *exn = a->executor, *ext = a->external_id;
            const char *log = a->log_path;
            kiln_executor *ex = NULL;
            kiln_err aerr = KILN_ERR_INIT;
            stopping *s = &stops[n];
            size_t e;
            if (a->state != KILN_EXEC_RUNNING || !exn)
                continue;
            for (e = 0; e < n_ex; e++)
                if (strcmp(exs[e]->ops->name, exn) == 0)
                    ex = exs[e];
            if (!ex && kiln_executor_new(&ex, exn, &loop, on_stopped, NULL,
                                         &aerr) == 0) {
                exs = kiln_realloc(exs, (n_ex + 1) * sizeof(*exs));
                exs[n_ex++] = ex;
            }
            s->exec_id = a->id;
            s->log_path = kiln_strdup(log ? log : "");
            s->status_path = log && strlen(log) > 4
                ? kiln_asprintf("%.*s.status", (int)(strlen(log) - 4), log)
                : NULL;
            s->task.log_path = s->log_path;
            s->task.status_path = s->status_path;
            s->task.data = s;
            s->task.cpus = 1;
            if (ex && kiln_executor_attach(ex, &s->task, ext, &aerr) == 0) {
                kiln_executor_cancel(ex, &s->task, false);
                n++;
            } else {
                free(s->log_path);
                free(s->status_path);
                memset(s, 0, sizeof(*s));
            }
        }
    }
    if (n)
        fprintf(stderr, "kiln: stopping %zu step process%s of run %lld\n",
                n, n == 1 ? "" : "es", (long long)run->id);
    uv_run(&loop, UV_RUN_DEFAULT);
    for (i = 0; i < n; i++) {
        kiln_task *t = &stops[i].task;
        if (rc == 0 &&
            kiln_store_exec_finish(store, stops[i].exec_id,
                                   KILN_EXEC_CANCELLED,
                                   t->outcome == KILN_TASK_LOST
                                       ? -1 : t->exit_code,
                                   t->term_signal, why,
                                   t->finished_ms ? t->finished_ms
                                                  : kiln_now_ms(),
                                   err) != 0)
            rc = err->code;
        free(stops[i].log_path);
        free(stops[i].status_path);
    }
    for (i = 0; i < n_ex; i++)
        kiln_executor_free(exs[i]);
    free(exs);
    free(stops);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return rc;
}

/* The run failed with why, and the audit row run.abandoned (the Unix
 * user, via cli), in one transaction. */
static int record_abandon(kiln_store *store, const kiln_run_info *run,
                          const char *why, kiln_err *err)
{
    char target[48];
    json_t *before, *after;
    char *b, *a;
    int rc;

    snprintf(target, sizeof(target), "run %lld", (long long)run->id);
    before = json_pack("{s:s, s:s}", "pipeline", run->pipeline, "status",
                       kiln_run_state_name(run->state));
    after = json_pack("{s:s, s:s}", "status",
                      kiln_run_state_name(KILN_RUN_FAILED), "reason", why);
    b = json_dumps(before, JSON_COMPACT | JSON_PRESERVE_ORDER);
    a = json_dumps(after, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if ((rc = kiln_store_begin(store, err)) == 0) {
        if ((rc = kiln_store_run_abandon(store, run->id, why, err)) == 0)
            rc = kiln_store_audit(store, kiln_user_name(), "cli",
                                  "run.abandoned", target, b, a, err);
        if (rc == 0)
            rc = kiln_store_commit(store, err);
        else
            kiln_store_rollback(store);
    }
    json_decref(before);
    json_decref(after);
    free(b);
    free(a);
    return rc;
}

static int exec_abandon(void *opts)
{
    const abandon_opts *o = opts;
    const char *reason = o->reason;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    kiln_run_info *run = NULL;
    char *state, *why = NULL;
    int64_t id = o->run;
    int rc = KILN_EXIT_OK;

    state = kiln_cli_state_dir(o->state);
    if (kiln_cli_open_store(&store, state, false, &err) != 0 ||
        kiln_store_run_get(&run, store, id, &err) != 0) {
        rc = kiln_cli_fail(&err);
        goto done;
    }
    if (kiln_run_state_final(run->state)) {
        fprintf(stderr, "kiln: error: run %lld has ended (%s)\n",
                (long long)id, kiln_run_state_name(run->state));
        rc = KILN_EXIT_USAGE;
        goto done;
    }
    if (!kiln_run_info_orphaned(run)) {
        fprintf(stderr, "kiln: error: run %lld is still run by kiln process "
                "%lld: kiln cancel %lld stops it\n", (long long)id,
                (long long)run->owner_pid, (long long)id);
        rc = KILN_EXIT_USAGE;
        goto done;
    }
    why = kiln_asprintf("abandoned%s%s", reason ? ": " : "",
                        reason ? reason : " (kiln abandon)");
    if (stop_attempts(store, run, why, &err) != 0 ||
        record_abandon(store, run, why, &err) != 0) {
        rc = kiln_cli_fail(&err);
        goto done;
    }
    printf("run %lld abandoned\n", (long long)id);
done:
    kiln_run_info_free(run);
    kiln_store_close(store);
    free(state);
    free(why);
    return rc;
}

const kiln_cmd kiln_cmd_abandon = {
    .name = "abandon",
    .summary = "End an orphaned run: stop what still runs, record it "
               "failed.",
    .help =
        "For a run whose kiln process is gone (orphaned in kiln runs) that\n"
        "should not be resumed: its steps' processes that still run are\n"
        "stopped (SIGTERM, SIGKILL after 10 s; scancel), their attempts\n"
        "recorded as cancelled, the steps that had not ended cancelled, and\n"
        "the run failed with the reason.\n",
    .opts = options,
    .opts_size = sizeof(abandon_opts),
    .exec = exec_abandon,
};
