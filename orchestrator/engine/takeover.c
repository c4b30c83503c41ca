/* takeover.c: preparing to take over an orphaned run, or ending one for
 * good. */
#include "takeover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "executors/executor.h"

/* A run of kiln run --from/--only/--until (its trigger_info says what was
 * picked): the steps not picked stay unrun. Those the picked ones need
 * may still come from the cache; their reuse from an earlier run is not
 * recorded, so they fail unrun instead. */
static void keep_selection(kiln_takeover *t, const json_t *info)
{
    json_t *only = json_object_get(info, "only"), *v;
    const kiln_pipeline *p = t->p;
    const char **names = NULL;
    kiln_run_selection sel;
    kiln_err err = KILN_ERR_INIT;
    bool *selected;
    size_t i;

    memset(&sel, 0, sizeof(sel));
    sel.from = json_string_value(json_object_get(info, "from"));
    sel.until = json_string_value(json_object_get(info, "until"));
    if (json_is_array(only) && json_array_size(only)) {
        names = kiln_calloc(json_array_size(only), sizeof(char *));
        json_array_foreach(only, i, v)
            names[sel.n_only++] = json_string_value(v) ? json_string_value(v)
                                                       : "";
        sel.only = names;
    }
    selected = kiln_calloc(p->n_steps + 1, sizeof(bool));
    if ((sel.n_only || sel.from || sel.until) &&
        kiln_run_select(selected, p, &sel, &err) == 0) {
        t->why = kiln_strdup("not selected, and the run was taken over "
                             "before its outputs were reused: the cache "
                             "does not have them");
        t->skip = kiln_calloc(p->n_steps, sizeof(char *));
        t->reuse_only = kiln_calloc(p->n_steps, sizeof(char *));
        for (size_t k = 0; k < p->n_steps; k++)
            if (!selected[k])
                t->skip[k] = "not selected";
        for (size_t k = 0; k < p->n_steps; k++)
            for (size_t n = 0; selected[k] && n < p->steps[k].needs.n; n++)
                if (!selected[p->steps[k].need_idx[n]]) {
                    t->skip[p->steps[k].need_idx[n]] = NULL;
                    t->reuse_only[p->steps[k].need_idx[n]] = t->why;
                }
        t->opts.skip = t->skip;
        t->opts.reuse_only = t->reuse_only;
    }
    free(selected);
    free(names);
}

/* How run id was started ("cli", "api"...: its run.started audit row),
 * as one of the static names a run's via is; "cli" when unknown. What
 * the run does for whoever started it (a promote:, a retire:) is audited
 * as it was before the takeover. */
static const char *started_via(kiln_store *st, int64_t id)
{
    static const char *const vias[] = {"cli", "api", "page", "daemon"};
    kiln_audit_query q;
    kiln_audit_row *rows = NULL;
    kiln_err ignored = KILN_ERR_INIT;
    const char *via = "cli";
    char target[32];
    size_t n = 0;

    memset(&q, 0, sizeof(q));
    snprintf(target, sizeof(target), "run %lld", (long long)id);
    q.target = target;
    q.action_prefix = "run.started";
    if (kiln_store_audit_list(&rows, &n, st, &q, &ignored) == 0 && n > 0)
        for (size_t i = 0; i < KILN_ARRAY_SIZE(vias); i++)
            if (rows[0].via && strcmp(rows[0].via, vias[i]) == 0)
                via = vias[i];
    kiln_audit_rows_free(rows, n);
    return via;
}

int kiln_takeover_load(kiln_takeover *t, kiln_store *st, int64_t id,
                       kiln_err *err)
{
    kiln_diag diag = KILN_DIAG_INIT;
    const kiln_run_info *rec;
    json_t *info;
    int rc;

    memset(t, 0, sizeof(*t));
    if ((rc = kiln_store_run_get(&t->rec, st, id, err)) != 0)
        return rc;
    rec = t->rec;
    if (kiln_run_state_final(rec->state))
        return kiln_err_set(err, KILN_EBUSY, "run %lld has ended (%s)",
                            (long long)id, kiln_run_state_name(rec->state));
    /* Its owner is this process only when kiln serve no longer runs it:
     * it could not record its end. */
    if (!kiln_run_info_orphaned(rec) && rec->owner_pid != getpid())
        return kiln_err_set(err, KILN_EBUSY, "run %lld is still run by "
                            "kiln process %lld", (long long)id,
                            (long long)rec->owner_pid);
    /* A reproduction ran with what kiln reproduce set up and did not
     * record (side effects off, aliases kept, model and image pins,
     * inputs put back by hash): taken over, its deploy steps would run
     * and its outputs be made from other inputs. */
    info = rec->trigger_info ? json_loads(rec->trigger_info, 0, NULL) : NULL;
    if (rec->trigger && strcmp(rec->trigger, "reproduce") == 0) {
        long long of = (long long)json_integer_value(
            json_object_get(info, "reproduces"));
        json_decref(info);
        return kiln_err_set(err, KILN_EINVAL, "it is a reproduction of run "
                            "%lld, which only kiln reproduce can run (kiln "
                            "reproduce %lld starts it again)", of, of);
    }
    if (!rec->file || kiln_dsl_load_file(&t->p, rec->file, &diag) != 0) {
        kiln_diag_dispose(&diag);
        json_decref(info);
        return kiln_err_set(err, KILN_EINVAL, "its pipeline file no longer "
                            "loads");
    }
    kiln_diag_dispose(&diag);
    t->file = kiln_path_absolute(rec->file);
    if (kiln_hash_file(t->hash, t->file, err) != 0 || !rec->hash ||
        strcmp(t->hash, rec->hash) != 0) {
        json_decref(info);
        return kiln_err_set(err, KILN_EINVAL, "its pipeline file changed "
                            "since it started");
    }
    t->opts.pipeline = t->p;
    t->opts.file = t->file;
    t->opts.hash = t->hash;
    t->opts.root = rec->workdir;
    t->opts.n_params = rec->n_params;
    t->opts.params = rec->params;
    t->opts.git_commit = rec->git_commit;
    t->opts.started_via = started_via(st, id);
    keep_selection(t, info);
    /* kiln run --no-cache, recorded in trigger_info: still none. */
    t->opts.no_cache = json_is_true(json_object_get(info, "no_cache"));
    json_decref(info);
    return 0;
}

void kiln_takeover_dispose(kiln_takeover *t)
{
    kiln_pipeline_free(t->p);
    free(t->file);
    kiln_run_info_free(t->rec);
    free(t->skip);
    free(t->reuse_only);
    free(t->why);
    memset(t, 0, sizeof(*t));
}

/* An attempt still running, as recorded, when its run is abandoned. */
typedef struct stopping {
    kiln_task task;
    int64_t exec_id;
    char *log_path;
    char *status_path;
} stopping;

/* One kiln_takeover_stop_start(): what it stops, on the caller's loop. */
typedef struct kiln_takeover_stop_req {
    kiln_store *st;
    char *why;
    kiln_executor **exs;
    size_t n_ex;
    stopping *stops;
    size_t n;          /* attempts attached */
    size_t left;       /* of them, not yet ended (+1 while attaching) */
    uv_timer_t soon;   /* the end is recorded outside executor callbacks */
    kiln_takeover_stopped_cb cb;
    void *data;
} stop_req;

/* Record how the attempt ended: as its status file says when it ended
 * unwatched, cancelled with why when it was stopped. */
static int record_end(kiln_store *st, const stopping *s, const char *why,
                      kiln_err *err)
{
    const kiln_task *t = &s->task;
    kiln_exec_state state = KILN_EXEC_FAILED;
    int64_t at = t->finished_ms ? t->finished_ms : kiln_now_ms();

    switch (t->outcome) {
    case KILN_TASK_CANCELED:
        return kiln_store_exec_finish(st, s->exec_id, KILN_EXEC_CANCELLED,
                                      t->term_signal ? -1 : t->exit_code,
                                      t->term_signal, why, at, err);
    case KILN_TASK_LOST:
        return kiln_store_exec_finish(st, s->exec_id, KILN_EXEC_LOST, -1, 0,
                                      t->reason, at, err);
    case KILN_TASK_EXITED:
        if (t->exit_code == 0)
            state = KILN_EXEC_SUCCEEDED;
        break;
    case KILN_TASK_SIGNALED:
        break;
    }
    return kiln_store_exec_finish(st, s->exec_id, state,
                                  t->outcome == KILN_TASK_EXITED
                                      ? t->exit_code : -1,
                                  t->term_signal,
                                  t->reason[0] ? t->reason : NULL, at, err);
}

static void req_free(uv_handle_t *h)
{
    stop_req *r = h->data;
    free(r->why);
    free(r);
}

/* All ended: record them, then tell the caller. */
static void on_all_stopped(uv_timer_t *timer)
{
    stop_req *r = timer->data;
    kiln_err err = KILN_ERR_INIT;
    int rc = 0;

    for (size_t i = 0; i < r->n; i++) {
        if (rc == 0 && record_end(r->st, &r->stops[i], r->why, &err) != 0)
            rc = err.code;
        free(r->stops[i].log_path);
        free(r->stops[i].status_path);
    }
    for (size_t i = 0; i < r->n_ex; i++)
        kiln_executor_free(r->exs[i]);
    free(r->exs);
    free(r->stops);
    r->cb(rc, &err, r->data);
    uv_close((uv_handle_t *)&r->soon, req_free);
}

static void ended_one(stop_req *r)
{
    if (--r->left == 0)
        uv_timer_start(&r->soon, on_all_stopped, 0, 0);
}

static void on_stopped(kiln_task *task, void *data)
{
    (void)task;
    ended_one(data);
}

void kiln_takeover_stop_start(uv_loop_t *loop, kiln_store *st,
                              const kiln_run_info *run, const char *why,
                              kiln_takeover_stopped_cb cb, void *data)
{
    stop_req *r = kiln_calloc(1, sizeof(*r));
    size_t cap = 0, i, k;

    r->st = st;
    r->why = kiln_strdup(why);
    r->cb = cb;
    r->data = data;
    r->left = 1;
    uv_timer_init(loop, &r->soon);
    r->soon.data = r;
    for (i = 0; i < run->n_steps; i++)
        cap += run->steps[i].n_attempts;
    r->stops = kiln_calloc(cap ? cap : 1, sizeof(*r->stops));
    for (i = 0; i < run->n_steps; i++) {
        for (k = 0; k < run->steps[i].n_attempts; k++) {
            const kiln_attempt_info *a = &run->steps[i].attempt[k];
            const char *exn = a->executor, *ext = a->external_id;
            const char *log = a->log_path;
            kiln_executor *ex = NULL;
            kiln_err aerr = KILN_ERR_INIT;
            stopping *s = &r->stops[r->n];
            size_t e;
            if (a->state != KILN_EXEC_RUNNING || !exn)
                continue;
            for (e = 0; e < r->n_ex; e++)
                if (strcmp(r->exs[e]->ops->name, exn) == 0)
                    ex = r->exs[e];
            if (!ex && kiln_executor_new(&ex, exn, loop, on_stopped, r,
                                         &aerr) == 0) {
                r->exs = kiln_realloc(r->exs, (r->n_ex + 1) *
                                      sizeof(*r->exs));
                r->exs[r->n_ex++] = ex;
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
            /* The executor stops only what still runs: what ended is
             * reported as it ended. */
            r->left++;
            if (ex && kiln_executor_attach(ex, &s->task, ext, &aerr) == 0) {
                r->n++;
                kiln_executor_cancel(ex, &s->task, false);
            } else {
                r->left--;
                free(s->log_path);
                free(s->status_path);
                memset(s, 0, sizeof(*s));
            }
        }
    }
    if (r->n)
        fprintf(stderr, "kiln: ending %zu step attempt%s of run %lld\n",
                r->n, r->n == 1 ? "" : "es", (long long)run->id);
    ended_one(r);
}

typedef struct sync_stop {
    int rc;
    kiln_err *err;
} sync_stop;

static void on_sync_stopped(int rc, kiln_err *err, void *data)
{
    sync_stop *s = data;
    if ((s->rc = rc) != 0)
        *s->err = *err;
}

int kiln_takeover_stop(kiln_store *st, const kiln_run_info *run,
                       const char *why, kiln_err *err)
{
    uv_loop_t loop;
    sync_stop s = {0, err};

    if (uv_loop_init(&loop) != 0)
        return kiln_err_set(err, KILN_ERROR, "cannot make an event loop");
    kiln_takeover_stop_start(&loop, st, run, why, on_sync_stopped, &s);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return s.rc;
}
