/*
 * step.c: one attempt of a step: its gate, environment and task, its
 * start (recorded before its process starts), its timeout, and its end.
 */
#include "internal.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "engine/cache.h"
#include "engine/command.h"
#include "engine/secrets.h"

/* Retry delays double from the step's retry_delay up to this. */
#define MAX_RETRY_DELAY_MS (10 * 60 * 1000)

/* Gates. */

/* A gate's lookups: its step, and each value read (for the record). */
typedef struct gate_ctx {
    step_rt *s;
    json_t *values;          /* "metrics.STEP.KEY", "params.NAME" ->
                                number, or null when there is none */
} gate_ctx;

/* Does ref read select:'s winner (metrics.selected.KEY)? */
static bool k_selected(const step_rt *s, const kiln_expr *ref)
{
    return s->run->p->steps[s->idx].select &&
           strcmp(ref->step, "selected") == 0 &&
           kiln_pipeline_find_step(s->run->p, "selected") < 0;
}

static bool lookup(double *out, const kiln_expr *ref, step_rt *s)
{
    kiln_run *run = s->run;
    kiln_err err = KILN_ERR_INIT;
    bool found = false;
    if (ref->kind == KILN_EXPR_METRIC && k_selected(s, ref)) {
        /* metrics.selected.KEY: the winner of select:. */
        if (s->x && s->x->selected &&
            kiln_store_metric_get(run->eng->store, out, &found, run->id,
                                  s->x->selected, ref->key, &err) != 0)
            kiln_engine__store_failed(run, &err);
        return found;
    }
    if (ref->kind == KILN_EXPR_METRIC) {
        ssize_t k = kiln_pipeline_find_step(run->p, ref->step);
        /* A step a reproduction did not run again (--step): its metrics
         * as the run it repeats recorded them. */
        int64_t from = run->reproduces && run->skip && k >= 0 &&
                       run->skip[k] ? run->reproduces : run->id;
        if (kiln_store_metric_get(run->eng->store, out, &found, from,
                                  ref->step, ref->key, &err) != 0)
            kiln_engine__store_failed(run, &err);
        return found;
    }
    return kiln_step_param_number(out, &run->p->steps[s->idx], run->params,
                                  run->n_params, ref->key);
}

static bool gate_lookup(double *out, const kiln_expr *ref, void *data)
{
    gate_ctx *g = data;
    bool found = lookup(out, ref, g->s);
    char *name = ref->kind == KILN_EXPR_METRIC
                     ? kiln_asprintf("metrics.%s.%s", ref->step, ref->key)
                     : kiln_asprintf("params.%s", ref->key);
    json_object_set_new(g->values, name, found ? json_real(*out)
                                               : json_null());
    free(name);
    return found;
}

/* Decide a step's when: before its first attempt. Returns true when it
 * may run; otherwise the step is gated (false) or failed (no value). */
bool kiln_engine__gate_passes(step_rt *s)
{
    const kiln_step *st = &s->run->p->steps[s->idx];
    kiln_buf trace = KILN_BUF_INIT;
    kiln_err err = KILN_ERR_INIT, serr = KILN_ERR_INIT;
    char why[600], *text;
    json_t *doc;
    gate_ctx g;
    json_t *sel = NULL;
    bool pass = true;
    int rc;

    if (s->attempt > 0)
        return true;
    /* select:'s decision is recorded with the gate's, before it. */
    if (st->select && !(sel = kiln_engine__select_doc(s, &serr)))
        kiln_engine__store_failed(s->run, &serr);
    if (!st->when_expr) {
        if (sel) {
            doc = json_pack("{s:o}", "select", sel);
            text = json_dumps(doc, JSON_COMPACT);
            if (kiln_store_step_gate(s->run->eng->store, s->run->id,
                                     st->name, text, &serr) != 0)
                kiln_engine__store_failed(s->run, &serr);
            free(text);
            json_decref(doc);
        }
        return true;
    }
    kiln_engine__tx_begin(s->run);
    g.s = s;
    g.values = json_object();
    rc = kiln_expr_eval(&pass, st->when_expr, gate_lookup, &g, &trace, &err);
    /* The decision, whichever way it went, with the values it read. */
    doc = json_pack("{s:s, s:o, s:o, s:s, s:s?}", "when", st->when,
                    "passed", rc == 0 ? json_boolean(pass) : json_null(),
                    "values", g.values, "trace", kiln_buf_cstr(&trace),
                    "error", rc ? err.msg : NULL);
    if (sel)
        json_object_set_new(doc, "select", sel);
    text = json_dumps(doc, JSON_COMPACT);
    if (kiln_store_step_gate(s->run->eng->store, s->run->id, st->name, text,
                             &serr) != 0)
        kiln_engine__store_failed(s->run, &serr);
    free(text);
    json_decref(doc);
    if (rc != 0) {
        text = kiln_asprintf("gate %s: %s", st->when, err.msg);
        kiln_engine__step_set(s, KILN_STEP_FAILED, text);
        free(text);
        snprintf(why, sizeof(why), "upstream step \"%s\" failed", st->name);
        kiln_engine__skip_downstream(s, why, false);
        pass = false;
    } else if (!pass) {
        /* Whole, however long the expression. */
        text = kiln_asprintf("gated: %s was false (%s)", st->when,
                             kiln_buf_cstr(&trace));
        kiln_engine__step_set(s, KILN_STEP_GATED, text);
        free(text);
        snprintf(why, sizeof(why), "upstream step \"%s\" was gated",
                 st->name);
        kiln_engine__skip_downstream(s, why, true);
    }
    kiln_engine__tx_end(s->run);
    kiln_buf_dispose(&trace);
    return pass;
}

static void on_retry_timer(uv_timer_t *timer)
{
    step_rt *s = timer->data;
    if (s->state == KILN_STEP_RETRYING)
        kiln_engine__step_set(s, KILN_STEP_READY, NULL);
    kiln_engine__request_dispatch(s->run->eng);
}

static void on_timeout(uv_timer_t *timer)
{
    step_rt *s = timer->data;
    if (s->state != KILN_STEP_RUNNING || !s->ex || !s->task)
        return;
    s->phase = PHASE_TIMED_OUT;
    kiln_executor_cancel(s->ex, s->task, false);
    kiln_engine__stop_container(s, false);
}

/* A step with params: sees only those as KILN_PARAM_* (their names are
 * upper-cased there). */
static bool uses_param(const char *upper, void *data)
{
    const kiln_step *st = data;
    for (size_t i = 0; i < st->params.n; i++)
        if (strcasecmp(st->params.items[i], upper) == 0)
            return true;
    return false;
}

/* How long a stopped container gets between SIGTERM and SIGKILL: as
 * long as a local step's process group. */
#define CONTAINER_GRACE_S 10

void kiln_engine__stop_container(step_rt *s, bool force)
{
    const kiln_step *st = &s->run->p->steps[s->idx];
    if (st->container && s->x && s->x->container)
        kiln_container_stop(s->run->eng->loop, st->container,
                            s->x->container, force ? 0 : CONTAINER_GRACE_S);
}

/* The variables a container gets, by name: kiln's own (KILN_*, params,
 * model copies, $KILN_METRICS) and the pipeline's and step's env:, not
 * the host's (its PATH, its HOME). */
static void container_names(kiln_container_env *ce, const kiln_env *env,
                            const kiln_pipeline *p, const kiln_step *st)
{
    ce->names = kiln_calloc(env->n + p->n_env + st->n_env + 1,
                            sizeof(char *));
    for (size_t i = 0; i < env->n; i++)
        if (strncmp(env->v[i], "KILN_", 5) == 0)
            ce->names[ce->n_names++] = kiln_strndup(
                env->v[i], (size_t)(strchr(env->v[i], '=') - env->v[i]));
    for (size_t i = 0; i < p->n_env; i++)
        ce->names[ce->n_names++] = kiln_strdup(p->env[i].key);
    for (size_t i = 0; i < st->n_env; i++)
        ce->names[ce->n_names++] = kiln_strdup(st->env[i].key);
    /* Secrets by name too: kiln-shim puts their values in the engine's
     * environment, never on its command line. */
    ce->names = kiln_realloc(ce->names, (ce->n_names + st->n_secrets + 1) *
                                            sizeof(char *));
    for (size_t i = 0; i < st->n_secrets; i++)
        ce->names[ce->n_names++] = kiln_strdup(st->secrets[i].name);
}

/* Wrap the attempt's command in its container. */
static void containerise(step_rt *s)
{
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_container_env ce;
    char *models = kiln_path_join(run->eng->state_dir, "models");
    char **wrapped;

    memset(&ce, 0, sizeof(ce));
    free(kiln_engine__extra(s)->container);
    s->x->container = kiln_container_name(run->id, st->name, s->attempt);
    ce.root = run->root;
    ce.workdir = s->workdir;
    ce.log_dir = run->log_dir;
    ce.models_dir = models;
    ce.pipeline_dir = run->root;
    container_names(&ce, &s->env, run->p, st);
    wrapped = kiln_container_argv(st->container, &s->x->image,
                                  s->x->container, &ce, s->task->argv);
    free((char **)s->task->argv);
    s->task->argv = wrapped;
    for (size_t i = 0; i < ce.n_names; i++)
        free(ce.names[i]);
    free(ce.names);
    free(models);
}

/* Reading a step's secrets, on the thread pool: a {command:} may take
 * up to KILN_SECRET_TIMEOUT_MS, and the loop serves everything else
 * meanwhile. */
struct secrets_job {
    uv_work_t req;
    step_rt *s;
    char *const *envv;  /* the attempt's, left alone by the loop */
    int stop[2];        /* a pipe: written to, the command is killed */
    char **values;
    int rc;
    kiln_err err;
};

/* A warning about a value too short to be masked, and a {command:}'s
 * stderr, go to the attempt's log. */
static void secrets_work(uv_work_t *req)
{
    secrets_job *j = req->data;
    step_rt *s = j->s;
    kiln_buf warn = KILN_BUF_INIT;
    int fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                  0644);

    j->rc = kiln_secrets_resolve(&j->values, &s->run->p->steps[s->idx],
                                 s->run->root, j->envv, fd, j->stop[0],
                                 &warn, &j->err);
    if (fd >= 0 && warn.len &&
        write(fd, warn.ptr, warn.len) != (ssize_t)warn.len && j->rc == 0)
        j->rc = kiln_err_set_os(&j->err, "cannot write %s", s->log_path);
    if (fd >= 0)
        close(fd);
    kiln_buf_dispose(&warn);
    if (j->rc != 0) {
        kiln_secrets_free(j->values);
        j->values = NULL;
    }
}

static void step_launch(step_rt *s, int rc, kiln_err *err);
static void start_ended(step_rt *s, kiln_exec_state state, const char *why);

static void secrets_done(uv_work_t *req, int status)
{
    secrets_job *j = req->data;
    step_rt *s = j->s;

    (void)status; /* never cancelled: uv_cancel() is not called */
    s->x->secrets = NULL;
    for (int i = 0; i < 2; i++)
        if (j->stop[i] >= 0)
            close(j->stop[i]);
    s->phase = PHASE_IDLE;
    s->task->secrets = j->values;
    if (s->run->cancelling) {
        /* Cancelled while they were read: nothing started. */
        start_ended(s, KILN_EXEC_CANCELLED, "cancelled");
        kiln_engine__run_maybe_finish(s->run);
        kiln_engine__request_dispatch(s->run->eng);
    } else {
        step_launch(s, j->rc, &j->err);
    }
    free(j);
}

void kiln_engine__secrets_stop(step_rt *s)
{
    secrets_job *j = s->phase == PHASE_SECRETS && s->x ? s->x->secrets
                                                       : NULL;
    if (j && j->stop[1] >= 0) {
        ssize_t w = write(j->stop[1], "", 1); /* full: stopping already */
        (void)w;
    }
}

/* Read the secrets of s's attempt off the loop, then start it. */
static void step_secrets(step_rt *s)
{
    secrets_job *j = kiln_calloc(1, sizeof(*j));
    j->req.data = j;
    j->s = s;
    j->envv = s->task->env;
    j->err = (kiln_err)KILN_ERR_INIT;
    if (pipe2(j->stop, O_CLOEXEC | O_NONBLOCK) != 0)
        j->stop[0] = j->stop[1] = -1; /* not stopped early, then */
    kiln_engine__extra(s)->secrets = j;
    s->phase = PHASE_SECRETS;
    if (uv_queue_work(s->run->eng->loop, &j->req, secrets_work,
                      secrets_done) != 0) {
        secrets_work(&j->req);
        secrets_done(&j->req, 0);
    }
}

/* Build the attempt's environment, log and status paths and task.
 * Returns 0, or an error when it has no executor or a secret cannot be
 * read (recorded as a failed attempt by the caller). */
static int step_prepare(step_rt *s, kiln_err *err)
{
    kiln_run *run = s->run;
    kiln_engine *eng = run->eng;
    const kiln_step *st = &run->p->steps[s->idx];
    char attempt[16];
    int rc;

    if ((rc = kiln_engine__executor(&s->ex, eng, st->executor, err)) != 0)
        return rc;
    free(s->log_path);
    s->log_path = kiln_asprintf("%s/%s.%d.log", run->log_dir, st->name,
                                s->attempt);
    free(s->status_path);
    free(s->job_name);
    s->job_name = NULL;
    s->status_path = kiln_asprintf("%s/%s.%d.status", run->log_dir,
                                   st->name, s->attempt);

    kiln_env_dispose(&s->env);
    kiln_env_borrow(&s->env, kiln_env_vector(&run->base_env));
    kiln_engine__env_set_kv(&s->env, st->n_env, st->env);
    /* An item's own values over the run's. */
    for (size_t i = 0; i < st->n_item_params; i++) {
        char *key = kiln_asprintf("KILN_PARAM_%s", st->item_params[i].key);
        for (char *c = key; *c; c++)
            *c = (char)toupper((unsigned char)*c);
        kiln_env_set(&s->env, key, st->item_params[i].value);
        free(key);
    }
    kiln_env_set(&s->env, "KILN_STEP", st->name);
    snprintf(attempt, sizeof(attempt), "%d", s->attempt);
    kiln_env_set(&s->env, "KILN_ATTEMPT", attempt);
    free(s->metrics_path);
    s->metrics_path = kiln_asprintf("%s/%s.%d.metrics.json", run->log_dir,
                                    st->name, s->attempt);
    /* A run's own new log directory has none: an attempt's number is
     * never used twice. */
    if (!run->fresh_logs)
        unlink(s->metrics_path);
    kiln_env_set(&s->env, "KILN_METRICS", s->metrics_path);
    /* KILN_MODEL_*: the read-only copies of the versions it reads (and
     * of every alias's), made before its first attempt. */
    for (size_t i = 0; s->x && i < s->x->model_env.n; i++) {
        char *eq = strchr(s->x->model_env.v[i], '=');
        char *key = kiln_strndup(s->x->model_env.v[i],
                                 (size_t)(eq - s->x->model_env.v[i]));
        kiln_env_set(&s->env, key, eq + 1);
        free(key);
    }
    if (st->has_params)
        kiln_env_unset_prefix(&s->env, "KILN_PARAM_", uses_param,
                              (void *)st);
    if ((rc = kiln_engine__write_upstream(s, err)) != 0)
        return rc;

    kiln_engine__task_new(s);
    s->task->argv = st->validation
                       ? kiln_command_validate_argv(eng->kiln, st->run,
                                                    run->file, st->name)
                       : kiln_command_argv(st->run);
    if (st->container && s->x && s->x->image.id)
        containerise(s);
    s->task->env = kiln_env_vector(&s->env);
    s->task->workdir = s->workdir;
    s->task->log_path = s->log_path;
    s->task->status_path = s->status_path;
    if (!kiln_executor_remote(st->executor))
        s->task->spare_path = kiln_engine__spare_take(eng);
    s->task->fresh_paths = run->fresh_logs;
    s->task->cpus = st->resources->cpus ? st->resources->cpus : 1;
    s->task->name = s->job_name = kiln_asprintf("%s.%s", run->p->name,
                                               st->name);
    s->task->mem_mb = st->resources->mem_mb;
    s->task->gpus = st->resources->gpus;
    s->task->time_limit_ms = st->resources->time_ms;
    s->task->partition = st->resources->partition;
    s->task->account = st->slurm->account;
    s->task->qos = st->slurm->qos;
    s->task->n_extra = st->slurm->extra.n;
    s->task->extra = st->slurm->extra.items;
    s->task->data = s;
    return 0;
}

void kiln_engine__task_new(step_rt *s)
{
    kiln_engine__task_free(s);
    s->task = kiln_calloc(1, sizeof(*s->task));
}

void kiln_engine__task_free(step_rt *s)
{
    if (!s->task)
        return;
    free((char **)s->task->argv);
    free((char *)s->task->spare_path);
    kiln_secrets_free((char **)s->task->secrets);
    free(s->task);
    s->task = NULL;
}

/* Start the prepared attempt's process. */
static int step_spawn(step_rt *s, kiln_err *err)
{
    int rc = kiln_executor_start(s->ex, s->task, err);
    if (rc != 0) {
        free((char **)s->task->argv);
        s->task->argv = NULL;
    }
    return rc;
}

/* Finish an attempt that ended at at_ms: decide between success, another
 * attempt and failure. */
void kiln_engine__step_attempt_ended(step_rt *s, bool ok, const char *reason,
                                     int64_t at_ms)
{
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];

    if (ok) {
        kiln_engine__succeed(s, s->x ? s->x->select_note : NULL, at_ms);
    } else if (run->cancelling) {
        kiln_engine__step_set_at(s, KILN_STEP_CANCELLED, reason, at_ms);
    } else if (s->attempt <= st->retries) {
        int64_t delay = st->retry_delay_ms;
        char why[300];
        for (int i = 1; i < s->attempt && delay < MAX_RETRY_DELAY_MS; i++)
            delay *= 2;
        if (delay > MAX_RETRY_DELAY_MS)
            delay = MAX_RETRY_DELAY_MS;
        snprintf(why, sizeof(why), "%s; retrying in %.1fs", reason,
                 (double)delay / 1000.0);
        kiln_engine__step_set_at(s, KILN_STEP_RETRYING, why, at_ms);
        uv_timer_start(s->timer, on_retry_timer, (uint64_t)delay, 0);
    } else {
        char why[300];
        kiln_engine__step_set_at(s, s->timed_out ? KILN_STEP_TIMED_OUT
                                                 : KILN_STEP_FAILED,
                                 reason, at_ms);
        snprintf(why, sizeof(why), "upstream step \"%s\" %s", st->name,
                 s->timed_out ? "timed out" : "failed");
        if (!kiln_engine__item_failed(s))
            kiln_engine__skip_downstream(s, why, false);
    }
}

/* The attempt of s ended before its process started: as state, for
 * why. */
static void start_ended(step_rt *s, kiln_exec_state state, const char *why)
{
    kiln_run *run = s->run;
    kiln_err serr = KILN_ERR_INIT;
    int64_t now = kiln_now_ms();

    kiln_engine__task_free(s);
    kiln_engine__tx_begin(run);
    if (kiln_store_exec_finish(run->eng->store, s->exec_id, state, -1, 0,
                               why, now, &serr) != 0)
        kiln_engine__store_failed(run, &serr);
    kiln_engine__release_slot(s);
    kiln_engine__step_attempt_ended(s, false, why, now);
    kiln_engine__tx_end(run);
}

/* The attempt of s could not start (err): recorded as failed. */
static void start_failed(step_rt *s, const kiln_err *err)
{
    char why[600];
    snprintf(why, sizeof(why), "could not start: %s", err->msg);
    start_ended(s, KILN_EXEC_FAILED, why);
}

/*
 * Record the next attempt of s. The attempt and the step's RUNNING go
 * into the batch, and its process starts only once the batch is
 * committed (kiln_engine__step_spawn()), the executor's id for the
 * process recorded right after, so a kiln killed at any instant leaves a
 * record through which recovery finds the process
 * (kiln_executor_attach() by id, or by the attempt's status file when
 * the id was not recorded yet) or knows it never started.
 */
bool kiln_engine__step_start(step_rt *s)
{
    kiln_run *run = s->run;
    kiln_engine *eng = run->eng;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_err err = KILN_ERR_INIT, serr = KILN_ERR_INIT;
    kiln_exec_rec rec;
    int64_t now = kiln_now_ms();
    int rc;

    s->attempt++;
    s->timed_out = false;
    kiln_engine__take_slot(s);
    rc = step_prepare(s, &err);
    memset(&rec, 0, sizeof(rec));
    rec.run_id = run->id;
    rec.step = st->name;
    rec.kind = kiln_step_kind_name(st->kind);
    rec.attempt = s->attempt;
    rec.log_path = s->log_path ? s->log_path : "";
    rec.executor = st->executor;
    rec.started_ms = now;
    rec.image = s->x ? s->x->image.id : NULL;
    rec.image_ref = s->x ? s->x->image.ref : NULL;
    if (!s->key_doc) {
        /* Nothing to hash before it ran: its key is its definition. */
        kiln_artifact_list none = {0};
        json_t *doc = kiln_cache_key_doc(st, run->p, &none, s->workdir,
                                         run->n_params, run->params);
        s->key_doc = kiln_cache_key_of(s->cache_key, doc);
        s->cache_key[0] = '\0'; /* not a cache entry's key */
        json_decref(doc);
    }
    rec.key_doc = s->key_doc;
    kiln_engine__tx_begin(run);
    if (kiln_store_exec_start(eng->store, &s->exec_id, &rec, &serr) != 0)
        kiln_engine__store_failed(run, &serr);
    else
        kiln_engine__record_key(s);
    kiln_engine__step_set_at(s, KILN_STEP_RUNNING, NULL, now);
    kiln_engine__tx_end(run);
    if (rc != 0) {
        start_failed(s, &err);
        return false;
    }
    return true;
}

void kiln_engine__step_spawn(step_rt *s)
{
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_err err = KILN_ERR_INIT;
    int rc = 0;

    kiln_crash_point("attempt-recorded");
    if (run->store_err.code) {
        /* Not recorded: start nothing kiln could not account for. */
        kiln_err_set(&err, KILN_ERROR, "%s", run->store_err.msg);
        rc = KILN_ERROR;
    }
    if (rc == 0 && !s->task)
        rc = kiln_err_set(&err, KILN_ERROR, "no task prepared");
    if (rc == 0 && st->n_secrets > 0) {
        step_secrets(s); /* then step_launch() */
        return;
    }
    step_launch(s, rc, &err);
}

/* Start the process of s's recorded attempt, unless rc says why it
 * cannot start (err): then the attempt failed. */
static void step_launch(step_rt *s, int rc, kiln_err *err)
{
    kiln_run *run = s->run;
    kiln_engine *eng = run->eng;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_err serr = KILN_ERR_INIT;

    if (rc == 0)
        rc = step_spawn(s, err);
    /* The executor has written them where the step reads them. */
    if (s->task) {
        kiln_secrets_free((char **)s->task->secrets);
        s->task->secrets = NULL;
    }
    if (rc != 0) {
        start_failed(s, err);
        kiln_engine__run_maybe_finish(run);
        kiln_engine__request_dispatch(eng);
        return;
    }
    kiln_crash_point("spawned");
    /* In the batch, committed before the loop waits again. */
    kiln_engine__tx_begin(run);
    if (kiln_store_exec_set_external(eng->store, s->exec_id,
                                     s->task->external_id,
                                     s->task->started_ms, &serr) != 0)
        kiln_engine__store_failed(run, &serr);
    kiln_crash_point("started");
    s->phase = PHASE_RUNNING;
    if (st->timeout_ms > 0)
        uv_timer_start(s->timer, on_timeout, (uint64_t)st->timeout_ms, 0);
}

void kiln_engine__on_task_done(kiln_task *task, void *data)
{
    step_rt *s = task->data;
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    char why[300], dur[32];
    kiln_exec_state status;
    bool ok = false, lost;

    (void)data;

    kiln_engine__timer_stop(s);
    kiln_engine__release_slot(s);
    free((char **)s->task->argv);
    s->task->argv = NULL;
    /* Made again for another attempt: not kept by every step that ran. */
    kiln_env_dispose(&s->env);
    s->task->env = NULL;

    if (s->phase == PHASE_TIMED_OUT) {
        snprintf(why, sizeof(why), "timed out after %s",
                 kiln_fmt_duration(dur, sizeof(dur), st->timeout_ms));
        status = KILN_EXEC_TIMED_OUT;
        s->timed_out = true;
    } else if (task->outcome == KILN_TASK_CANCELED) {
        snprintf(why, sizeof(why), "cancelled");
        status = KILN_EXEC_CANCELLED;
    } else if (task->outcome == KILN_TASK_EXITED && task->exit_code == 0) {
        why[0] = '\0';
        status = KILN_EXEC_SUCCEEDED;
        ok = true;
    } else {
        snprintf(why, sizeof(why), "%s", task->reason[0] ? task->reason :
                 "failed");
        status = KILN_EXEC_FAILED;
    }
    if (task->outcome == KILN_TASK_LOST)
        status = KILN_EXEC_LOST;
    s->phase = PHASE_IDLE;
    s->ex = NULL;
    s->exit_code = task->outcome == KILN_TASK_EXITED ||
                   task->outcome == KILN_TASK_CANCELED ?
                   (task->term_signal ? -1 : task->exit_code) : -1;
    s->term_signal = task->term_signal;
    s->exec_finished_ms = task->finished_ms;
    lost = task->outcome == KILN_TASK_LOST;
    kiln_engine__task_free(s);
    task = NULL;
    /* A step that ended well with declared inputs, outputs or metrics is
     * done only once they are found, hashed and read, off the loop (and
     * its promote: or retire: done, back on it). */
    if (ok && (st->inputs.n || st->outputs.n || st->metrics ||
               st->validation || (s->x && s->x->n_pins) ||
               (st->reg && (st->reg->promote_model || st->reg->retire_model)) ||
               (s->metrics_path && access(s->metrics_path, F_OK) == 0))) {
        kiln_engine__hash_start(s, KILN_EXEC_SUCCEEDED, NULL);
        return;
    }
    /* A failed attempt's $KILN_METRICS are kept too: a validate step
     * that failed says by how much. */
    if (!ok && !lost && s->metrics_path &&
        access(s->metrics_path, F_OK) == 0) {
        kiln_engine__hash_start(s, status, why);
        return;
    }
    kiln_engine__tx_begin(run);
    kiln_engine__attempt_finish(s, status, why, ok);
}

/* Record the end of the running attempt and move the step on, in the
 * transaction the caller opened (kiln_engine__tx_begin()), which this ends. */
void kiln_engine__attempt_finish(step_rt *s, kiln_exec_state status,
                                 const char *why, bool ok)
{
    kiln_run *run = s->run;
    kiln_err err = KILN_ERR_INIT;
    if (kiln_store_exec_finish(run->eng->store, s->exec_id, status,
                               s->exit_code, s->term_signal,
                               why[0] ? why : NULL, s->exec_finished_ms,
                               &err) != 0)
        kiln_engine__store_failed(run, &err);
    else if (status != KILN_EXEC_LOST && s->status_path &&
             !kiln_executor_remote(run->p->steps[s->idx].executor)) {
        /* Its status file is read no more once this is committed: the
         * next attempt's, renamed. */
        kiln_engine__spare_put(run->eng, s->status_path);
        s->status_path = NULL;
    }
    /* A step that ended well while its run was draining did succeed. */
    kiln_engine__step_attempt_ended(s, ok, why, s->exec_finished_ms);
    kiln_engine__tx_end(run);
    kiln_crash_point("attempt-ended");
    kiln_engine__run_maybe_finish(run);
    kiln_engine__request_dispatch(run->eng);
}
