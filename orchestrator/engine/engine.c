/*
 * engine.c: the DAG state machine of runs, and slot sharing between them.
 *
 * Every step of a run moves PENDING -> READY -> RUNNING -> (RETRYING ->
 * RUNNING)* -> SUCCEEDED | FAILED | CANCELLED, or PENDING -> SKIPPED when
 * something upstream failed. step_set() is the only place a state changes:
 * it records the change in the store, then tells the run's owner. Store
 * calls are short prepared statements on the loop thread.
 */
#include "engine.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "executors/executor.h"
#include "engine/artifacts.h"
#include "engine/cache.h"
#include "engine/command.h"
#include "engine/env.h"
#include "data/metrics.h"

extern char **environ;

/* Retry delays double from the step's retry_delay up to this. */
#define MAX_RETRY_DELAY_MS (10 * 60 * 1000)

/* What a step is doing beyond its state, one at a time (tmux's job
 * states): the step's state says where it is in the DAG, its phase what
 * kiln is doing for it right now. */
typedef enum step_phase {
    PHASE_IDLE = 0,    /* nothing: not dispatched yet, or between
                          attempts */
    PHASE_CACHE,       /* its cache key and entry are being looked at, or
                          its outputs restored, on the thread pool */
    PHASE_CHECKED,     /* the cache had nothing: it runs when dispatched */
    PHASE_RUNNING,     /* an attempt's process runs */
    PHASE_TIMED_OUT,   /* ...and is being stopped: its timeout passed */
    PHASE_HASHING      /* an attempt ended: its artifacts are hashed and
                          metrics read, on the thread pool */
} step_phase;

typedef struct step_rt {
    kiln_run *run;
    size_t idx;
    kiln_step_state state;
    int attempt;            /* attempts started so far */
    unsigned unmet;         /* needs not yet succeeded */
    size_t n_down;          /* steps that need this one */
    size_t *down;
    uv_timer_t timer;       /* retry delay, or timeout while running */
    kiln_task task;
    kiln_executor *ex;      /* while running */
    unsigned slots;         /* of --jobs it holds while it runs */
    int64_t exec_id;        /* the running attempt's executions row */
    int exit_code;          /* of the attempt that ended (-1: none) */
    int term_signal;
    int64_t exec_finished_ms;
    step_phase phase;
    char cache_key[KILN_HASH_HEX]; /* "" until computed */
    kiln_artifact_list inputs; /* hashed for the key (cache_key set),
                                  before the step ran: what it consumed,
                                  recorded as such */
    bool by_gate;           /* SKIPPED because something upstream was
                               gated: not a failure */
    int64_t started_ms, finished_ms;
    char reason[256];
    kiln_env env;           /* the running attempt's environment */
    char *log_path;
    char *status_path;      /* where kiln-shim writes the exit status */
    char *metrics_path;     /* $KILN_METRICS of the attempt */
    char *workdir;
    char *job_name;         /* "PIPELINE.STEP", for a cluster's queue */
} step_rt;

struct kiln_run {
    kiln_engine *eng;
    kiln_run *next;          /* in eng->runs */
    const kiln_pipeline *p;  /* borrowed: may go before the run's memory,
                                which waits for its timers to close */
    size_t n_steps;
    int64_t id;
    kiln_run_state state;
    bool cancelling;
    bool finished;           /* on_done was called */
    size_t n_done;           /* steps in an end state */
    size_t n_running;
    size_t n_hashing;        /* artifact hashing jobs on the thread pool */
    step_rt *steps;
    char *root;
    char *file;              /* the pipeline file the run was started
                                with (a pinned run's is in its checkout):
                                validate-step reads the checks there */
    char *log_dir;           /* STATE/logs/RUN: STEP.ATTEMPT.log files */
    int64_t reuse_run;       /* a retry of this run (0: none)... */
    int64_t *reuse_exec;     /* ...reusing these executions, by step */
    kiln_env base_env;       /* environ + pipeline env + params + KILN_* */
    size_t n_params;
    kiln_kv *params;         /* effective params (gates read them) */
    kiln_err store_err;
    bool drain_wanted;       /* a store failure: drain at next dispatch */
    kiln_run_event_cb on_event;
    kiln_run_done_cb on_done;
    void *data;
    int pending_closes;      /* step timers still closing */
    bool free_requested;
};

struct kiln_engine {
    uv_loop_t *loop;
    kiln_store *store;
    char *state_dir;
    unsigned jobs;
    unsigned busy;           /* slots in use */
    bool cache;              /* skip steps whose outputs are cached */
    char *objects;           /* STATE/objects: the cache's store */
    char *kiln;              /* this binary: steps with checks run
                                `kiln validate-step` */
    size_t n_pools;
    struct pool {
        char *name;
        unsigned cap, busy;
    } *pools;                /* named limits on classes of steps */
    kiln_run *runs;          /* live runs */
    kiln_run *cursor;        /* round-robin position for dispatch */
    size_t n_executors;
    kiln_executor **executors;
    uv_prepare_t prepare;    /* dispatches once per loop iteration */
    bool dispatch_wanted;
};

/* KILN_PARAM_<NAME>: the parameter's name in upper case. */
static void env_set_param(kiln_env *e, const char *name, const char *value)
{
    char *key = kiln_asprintf("KILN_PARAM_%s", name);
    for (char *c = key; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
    kiln_env_set(e, key, value);
    free(key);
}

static void env_set_kv(kiln_env *e, size_t n, const kiln_kv *kv)
{
    for (size_t i = 0; i < n; i++)
        kiln_env_set(e, kv[i].key, kv[i].value);
}

int kiln_run_check_params(const kiln_pipeline *p, size_t n,
                          const kiln_kv *params, kiln_err *err)
{
    for (size_t i = 0; i < n; i++) {
        size_t j;
        for (j = 0; j < p->n_params; j++)
            if (strcmp(p->params[j].key, params[i].key) == 0)
                break;
        if (j == p->n_params) {
            kiln_buf known = KILN_BUF_INIT;
            for (j = 0; j < p->n_params; j++)
                kiln_buf_printf(&known, "%s%s", j ? ", " : "",
                                p->params[j].key);
            kiln_err_set(err, KILN_EINVAL, "pipeline \"%s\" has no "
                         "parameter \"%s\" (it has: %s)", p->name,
                         params[i].key,
                         known.len ? kiln_buf_cstr(&known) : "none");
            kiln_buf_dispose(&known);
            return KILN_EINVAL;
        }
    }
    return 0;
}

/* Engine. */

int kiln_engine_new(kiln_engine **out, uv_loop_t *loop, kiln_store *store,
                    const char *state_dir, unsigned jobs, kiln_err *err)
{
    kiln_engine *eng = kiln_calloc(1, sizeof(*eng));
    (void)err;
    eng->loop = loop;
    eng->store = store;
    eng->state_dir = kiln_strdup(state_dir);
    eng->jobs = jobs ? jobs : uv_available_parallelism();
    uv_prepare_init(loop, &eng->prepare);
    eng->prepare.data = eng;
    eng->cache = true;
    eng->objects = kiln_path_join(state_dir, "objects");
    /* Found now, while the path still names this binary. */
    if ((eng->kiln = kiln_self_exe()) == NULL)
        eng->kiln = kiln_strdup("kiln"); /* from PATH */
    *out = eng;
    return 0;
}

static void on_engine_close(uv_handle_t *h)
{
    free(h->data);
}

void kiln_engine_free(kiln_engine *eng)
{
    if (!eng)
        return;
    assert(eng->runs == NULL);
    for (size_t i = 0; i < eng->n_executors; i++)
        kiln_executor_free(eng->executors[i]);
    free(eng->executors);
    for (size_t i = 0; i < eng->n_pools; i++)
        free(eng->pools[i].name);
    free(eng->pools);
    free(eng->state_dir);
    free(eng->objects);
    free(eng->kiln);
    uv_close((uv_handle_t *)&eng->prepare, on_engine_close);
}

void kiln_engine_set_pool(kiln_engine *eng, const char *name, unsigned cap)
{
    for (size_t i = 0; i < eng->n_pools; i++) {
        if (strcmp(eng->pools[i].name, name) == 0) {
            eng->pools[i].cap = cap;
            return;
        }
    }
    eng->pools = kiln_realloc(eng->pools, (eng->n_pools + 1) *
                              sizeof(*eng->pools));
    eng->pools[eng->n_pools].name = kiln_strdup(name);
    eng->pools[eng->n_pools].cap = cap;
    eng->pools[eng->n_pools].busy = 0;
    eng->n_pools++;
}

/* The pool a step draws from, or NULL (no pool, or one not configured:
 * unlimited). */
static struct pool *step_pool(kiln_engine *eng, const kiln_step *st)
{
    if (!st->pool)
        return NULL;
    for (size_t i = 0; i < eng->n_pools; i++)
        if (strcmp(eng->pools[i].name, st->pool) == 0)
            return &eng->pools[i];
    return NULL;
}

void kiln_engine_set_cache(kiln_engine *eng, bool cache)
{
    eng->cache = cache;
}

unsigned kiln_engine_jobs(const kiln_engine *eng)
{
    return eng->jobs;
}

static void on_task_done(kiln_task *task, void *data);

/* The engine's executor called name, created on first use. */
static int engine_executor(kiln_executor **out, kiln_engine *eng,
                           const char *name, kiln_err *err)
{
    for (size_t i = 0; i < eng->n_executors; i++) {
        if (strcmp(eng->executors[i]->ops->name, name) == 0) {
            *out = eng->executors[i];
            return 0;
        }
    }
    int rc = kiln_executor_new(out, name, eng->loop, on_task_done, eng, err);
    if (rc != 0)
        return rc;
    eng->executors = kiln_realloc(eng->executors, (eng->n_executors + 1) *
                                  sizeof(*eng->executors));
    eng->executors[eng->n_executors++] = *out;
    return 0;
}

static void request_dispatch(kiln_engine *eng);
static void run_maybe_finish(kiln_run *run);

/* Remember the first store failure and start no more steps: kiln cannot
 * keep a record it cannot write. Running steps are not killed for it;
 * the run fails with the real cause. (A database locked by another
 * process is waited for, not a failure: kiln_store_set_patient().) */
static void store_failed(kiln_run *run, const kiln_err *err)
{
    if (run->store_err.code == 0) {
        run->store_err = *err;
        kiln_err_print(err);
        /* Drained at the next dispatch, not under the caller's feet. */
        run->cancelling = true;
        run->drain_wanted = true;
        request_dispatch(run->eng);
    }
}

static void emit(kiln_run *run, ssize_t step)
{
    if (run->on_event)
        run->on_event(run, step, run->data);
}

/* Change a step's state as of at_ms (0: now; an attempt's end is
 * recorded with its real time, however late kiln records it), record it
 * and tell the run's owner. */
static void step_set_at(step_rt *s, kiln_step_state state,
                        const char *reason, int64_t at_ms)
{
    kiln_run *run = s->run;
    kiln_err err = KILN_ERR_INIT;
    bool was_ended = kiln_step_state_final(s->state);

    if (at_ms <= 0)
        at_ms = kiln_now_ms();
    s->state = state;
    snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "");
    if (state == KILN_STEP_RUNNING && !s->started_ms)
        s->started_ms = at_ms;
    if (kiln_step_state_final(state)) {
        s->finished_ms = at_ms;
        if (!was_ended)
            run->n_done++;
    }
    if (state != KILN_STEP_READY &&
        kiln_store_step_set_state(run->eng->store, run->id,
                                  run->p->steps[s->idx].name, state,
                                  s->attempt,
                                  reason && *reason ? reason : NULL,
                                  s->by_gate, at_ms, &err) != 0)
        store_failed(run, &err);
    emit(run, (ssize_t)s->idx);
}

static void step_set(step_rt *s, kiln_step_state state, const char *reason)
{
    step_set_at(s, state, reason, 0);
}

/* Group the writes of one change of a run (an attempt's end with the
 * steps it releases, a cache hit...) so a crash leaves all or none. */
static void tx_begin(kiln_run *run)
{
    kiln_err err = KILN_ERR_INIT;
    if (kiln_store_begin(run->eng->store, &err) != 0)
        store_failed(run, &err);
}

static void tx_end(kiln_run *run)
{
    kiln_err err = KILN_ERR_INIT;
    if (kiln_store_commit(run->eng->store, &err) != 0)
        store_failed(run, &err);
}

/* s succeeded (at at_ms; 0: now): the steps whose last need it was
 * become ready. */
static void succeed(step_rt *s, const char *why, int64_t at_ms)
{
    kiln_run *run = s->run;
    step_set_at(s, KILN_STEP_SUCCEEDED, why, at_ms);
    for (size_t i = 0; i < s->n_down; i++) {
        step_rt *d = &run->steps[s->down[i]];
        if (--d->unmet == 0 && d->state == KILN_STEP_PENDING &&
            !run->cancelling)
            step_set(d, KILN_STEP_READY, NULL);
    }
}

/* Mark everything downstream of s skipped, depth first. */
static void skip_downstream(step_rt *s, const char *why, bool by_gate)
{
    for (size_t i = 0; i < s->n_down; i++) {
        step_rt *d = &s->run->steps[s->down[i]];
        if (d->state == KILN_STEP_PENDING) {
            d->by_gate = by_gate;
            step_set(d, KILN_STEP_SKIPPED, why);
            skip_downstream(d, why, by_gate);
        }
    }
}

/* Gates. */

static bool gate_lookup(double *out, const kiln_expr *ref, void *data)
{
    step_rt *s = data;
    kiln_run *run = s->run;
    kiln_err err = KILN_ERR_INIT;
    bool found = false;
    if (ref->kind == KILN_EXPR_METRIC) {
        if (kiln_store_metric_get(run->eng->store, out, &found, run->id,
                                  ref->step, ref->key, &err) != 0)
            store_failed(run, &err);
        return found;
    }
    for (size_t i = 0; i < run->n_params; i++) {
        if (strcmp(run->params[i].key, ref->key) == 0) {
            char *end;
            *out = strtod(run->params[i].value, &end);
            return end != run->params[i].value && *end == '\0';
        }
    }
    return false;
}

/* Decide a step's when: before its first attempt. Returns true when it
 * may run; otherwise the step is gated (false) or failed (no value). */
static bool gate_passes(step_rt *s)
{
    const kiln_step *st = &s->run->p->steps[s->idx];
    kiln_buf trace = KILN_BUF_INIT;
    kiln_err err = KILN_ERR_INIT;
    char why[600];
    bool pass = true;

    if (!st->when_expr || s->attempt > 0)
        return true;
    tx_begin(s->run);
    if (kiln_expr_eval(&pass, st->when_expr, gate_lookup, s, &trace,
                       &err) != 0) {
        snprintf(why, sizeof(why), "gate %s: %s", st->when, err.msg);
        step_set(s, KILN_STEP_FAILED, why);
        snprintf(why, sizeof(why), "upstream step \"%s\" failed", st->name);
        skip_downstream(s, why, false);
        pass = false;
    } else if (!pass) {
        snprintf(why, sizeof(why), "gated: %s was false (%s)", st->when,
                 kiln_buf_cstr(&trace));
        step_set(s, KILN_STEP_GATED, why);
        snprintf(why, sizeof(why), "upstream step \"%s\" was gated",
                 st->name);
        skip_downstream(s, why, true);
    }
    tx_end(s->run);
    kiln_buf_dispose(&trace);
    return pass;
}

static void on_retry_timer(uv_timer_t *timer)
{
    step_rt *s = timer->data;
    if (s->state == KILN_STEP_RETRYING)
        step_set(s, KILN_STEP_READY, NULL);
    request_dispatch(s->run->eng);
}

static void on_timeout(uv_timer_t *timer)
{
    step_rt *s = timer->data;
    if (s->state != KILN_STEP_RUNNING || !s->ex)
        return;
    s->phase = PHASE_TIMED_OUT;
    kiln_executor_cancel(s->ex, &s->task, false);
}

/* KILN_MODEL_<NAME>_<ALIAS>: the path of the version each registry alias
 * points at now, so a deploy step knows what to ship. */
static void set_model_env(step_rt *s)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_model_alias *aliases = NULL;
    size_t n = 0;
    if (kiln_store_model_aliases(&aliases, &n, s->run->eng->store,
                                 &err) != 0) {
        store_failed(s->run, &err);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char *key = kiln_asprintf("KILN_MODEL_%s_%s", aliases[i].name,
                                  aliases[i].alias);
        for (char *c = key; *c; c++)
            *c = (char)(isalnum((unsigned char)*c)
                            ? toupper((unsigned char)*c) : '_');
        kiln_env_set(&s->env, key, aliases[i].path);
        free(key);
    }
    kiln_model_aliases_free(aliases, n);
}

/* Build the attempt's environment, log and status paths and task.
 * Returns 0, or an error when it has no executor (recorded as a failed
 * attempt by the caller). */
static int step_prepare(step_rt *s, kiln_err *err)
{
    kiln_run *run = s->run;
    kiln_engine *eng = run->eng;
    const kiln_step *st = &run->p->steps[s->idx];
    char attempt[16];
    int rc;

    if ((rc = engine_executor(&s->ex, eng, st->executor, err)) != 0)
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
    env_set_kv(&s->env, st->n_env, st->env);
    kiln_env_set(&s->env, "KILN_STEP", st->name);
    snprintf(attempt, sizeof(attempt), "%d", s->attempt);
    kiln_env_set(&s->env, "KILN_ATTEMPT", attempt);
    free(s->metrics_path);
    s->metrics_path = kiln_asprintf("%s/%s.%d.metrics.json", run->log_dir,
                                    st->name, s->attempt);
    unlink(s->metrics_path);
    kiln_env_set(&s->env, "KILN_METRICS", s->metrics_path);
    set_model_env(s);

    memset(&s->task, 0, sizeof(s->task));
    s->task.argv = st->validation
                       ? kiln_command_validate_argv(eng->kiln, st->run,
                                                    run->file, st->name)
                       : kiln_command_argv(st->run);
    s->task.env = kiln_env_vector(&s->env);
    s->task.workdir = s->workdir;
    s->task.log_path = s->log_path;
    s->task.status_path = s->status_path;
    s->task.cpus = st->resources.cpus ? st->resources.cpus : 1;
    s->task.name = s->job_name = kiln_asprintf("%s.%s", run->p->name,
                                               st->name);
    s->task.mem_mb = st->resources.mem_mb;
    s->task.gpus = st->resources.gpus;
    s->task.time_limit_ms = st->resources.time_ms;
    s->task.partition = st->resources.partition;
    s->task.account = st->slurm.account;
    s->task.qos = st->slurm.qos;
    s->task.n_extra = st->slurm.extra.n;
    s->task.extra = st->slurm.extra.items;
    s->task.data = s;
    return 0;
}

/* Start the prepared attempt's process. */
static int step_spawn(step_rt *s, kiln_err *err)
{
    int rc = kiln_executor_start(s->ex, &s->task, err);
    if (rc != 0) {
        free((char **)s->task.argv);
        s->task.argv = NULL;
    }
    return rc;
}

/* Finish an attempt that ended at at_ms: decide between success, another
 * attempt and failure. */
static void step_attempt_ended(step_rt *s, bool ok, const char *reason,
                               int64_t at_ms)
{
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];

    if (ok) {
        succeed(s, NULL, at_ms);
    } else if (run->cancelling) {
        step_set_at(s, KILN_STEP_CANCELLED, reason, at_ms);
    } else if (s->attempt <= st->retries) {
        int64_t delay = st->retry_delay_ms;
        char why[300];
        for (int i = 1; i < s->attempt && delay < MAX_RETRY_DELAY_MS; i++)
            delay *= 2;
        if (delay > MAX_RETRY_DELAY_MS)
            delay = MAX_RETRY_DELAY_MS;
        snprintf(why, sizeof(why), "%s; retrying in %.1fs", reason,
                 (double)delay / 1000.0);
        step_set_at(s, KILN_STEP_RETRYING, why, at_ms);
        uv_timer_start(&s->timer, on_retry_timer, (uint64_t)delay, 0);
    } else {
        char why[300];
        step_set_at(s, KILN_STEP_FAILED, reason, at_ms);
        snprintf(why, sizeof(why), "upstream step \"%s\" failed", st->name);
        skip_downstream(s, why, false);
    }
}

/* Slots a step holds while it runs: its resources.cpus on this machine
 * (at most --jobs, so a step asking for more still runs, alone), none
 * when a cluster runs it: the cluster's scheduler weighs those. */
static unsigned step_slots(const kiln_engine *eng, const kiln_step *st)
{
    unsigned n = st->resources.cpus ? st->resources.cpus : 1;
    if (kiln_executor_remote(st->executor))
        return 0;
    return n < eng->jobs ? n : eng->jobs;
}

/* Take s->slots (and a place in the step's pool) for s. */
static void take_slot(step_rt *s)
{
    kiln_engine *eng = s->run->eng;
    struct pool *pool = step_pool(eng, &s->run->p->steps[s->idx]);
    eng->busy += s->slots;
    s->run->n_running++;
    if (pool)
        pool->busy++;
}

/* A step's slot (and its pool's) is free again. */
static void release_slot(step_rt *s)
{
    kiln_engine *eng = s->run->eng;
    struct pool *pool = step_pool(eng, &s->run->p->steps[s->idx]);
    eng->busy -= s->slots;
    s->run->n_running--;
    if (pool)
        pool->busy--;
}

/*
 * Start the next attempt of s. The attempt and the step's RUNNING are
 * recorded (one transaction) before its process starts, and the
 * executor's id for the process right after, so a kiln killed at any
 * instant leaves a record through which recovery finds the process
 * (kiln_executor_attach() by id, or by the attempt's status file when
 * the id was not recorded yet) or knows it never started.
 */
static void step_start(step_rt *s)
{
    kiln_run *run = s->run;
    kiln_engine *eng = run->eng;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_err err = KILN_ERR_INIT, serr = KILN_ERR_INIT;
    kiln_exec_rec rec;
    int64_t now = kiln_now_ms();
    int rc;

    s->attempt++;
    take_slot(s);
    rc = step_prepare(s, &err);
    memset(&rec, 0, sizeof(rec));
    rec.run_id = run->id;
    rec.step = st->name;
    rec.kind = kiln_step_kind_name(st->kind);
    rec.attempt = s->attempt;
    rec.log_path = s->log_path ? s->log_path : "";
    rec.executor = st->executor;
    rec.started_ms = now;
    tx_begin(run);
    if (kiln_store_exec_start(eng->store, &s->exec_id, &rec, &serr) != 0)
        store_failed(run, &serr);
    step_set_at(s, KILN_STEP_RUNNING, NULL, now);
    tx_end(run);
    kiln_crash_point("attempt-recorded");
    if (rc == 0 && run->store_err.code) {
        /* Not recorded: start nothing kiln could not account for. */
        kiln_err_set(&err, KILN_ERROR, "%s", run->store_err.msg);
        rc = KILN_ERROR;
    }
    if (rc == 0)
        rc = step_spawn(s, &err);
    if (rc != 0) {
        char why[600];
        snprintf(why, sizeof(why), "could not start: %s", err.msg);
        free((char **)s->task.argv);
        s->task.argv = NULL;
        now = kiln_now_ms();
        tx_begin(run);
        if (kiln_store_exec_finish(eng->store, s->exec_id, KILN_EXEC_FAILED,
                                   -1, 0, why, now, &serr) != 0)
            store_failed(run, &serr);
        release_slot(s);
        step_attempt_ended(s, false, why, now);
        tx_end(run);
        return;
    }
    kiln_crash_point("spawned");
    if (kiln_store_exec_set_external(eng->store, s->exec_id,
                                     s->task.external_id,
                                     s->task.started_ms, &serr) != 0)
        store_failed(run, &serr);
    kiln_crash_point("started");
    s->phase = PHASE_RUNNING;
    if (st->timeout_ms > 0)
        uv_timer_start(&s->timer, on_timeout, (uint64_t)st->timeout_ms, 0);
}

static void attempt_finish(step_rt *s, kiln_exec_state status,
                           const char *why, bool ok);
static void hash_start(step_rt *s, kiln_exec_state status, const char *why);
static bool cacheable(step_rt *s);
static void cache_check(step_rt *s);

static void on_task_done(kiln_task *task, void *data)
{
    step_rt *s = task->data;
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    char why[300], dur[32];
    kiln_exec_state status;
    bool ok = false;

    (void)data;

    uv_timer_stop(&s->timer);
    release_slot(s);
    free((char **)s->task.argv);
    s->task.argv = NULL;

    if (s->phase == PHASE_TIMED_OUT) {
        snprintf(why, sizeof(why), "timed out after %s",
                 kiln_fmt_duration(dur, sizeof(dur), st->timeout_ms));
        status = KILN_EXEC_FAILED;
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
    /* A step that ended well with declared inputs, outputs or metrics is
     * done only once they are found, hashed and read, off the loop. */
    if (ok && (st->inputs.n || st->outputs.n || st->metrics ||
               st->validation ||
               (s->metrics_path && access(s->metrics_path, F_OK) == 0))) {
        hash_start(s, KILN_EXEC_SUCCEEDED, NULL);
        return;
    }
    /* A failed attempt's $KILN_METRICS are kept too: a validate step
     * that failed says by how much. */
    if (!ok && task->outcome != KILN_TASK_LOST && s->metrics_path &&
        access(s->metrics_path, F_OK) == 0) {
        hash_start(s, status, why);
        return;
    }
    tx_begin(run);
    attempt_finish(s, status, why, ok);
}

/* Record the end of the running attempt and move the step on, in the
 * transaction the caller opened (tx_begin()), which this ends. */
static void attempt_finish(step_rt *s, kiln_exec_state status,
                           const char *why, bool ok)
{
    kiln_run *run = s->run;
    kiln_err err = KILN_ERR_INIT;
    if (kiln_store_exec_finish(run->eng->store, s->exec_id, status,
                               s->exit_code, s->term_signal,
                               why[0] ? why : NULL, s->exec_finished_ms,
                               &err) != 0)
        store_failed(run, &err);
    /* A step that ended well while its run was draining did succeed. */
    step_attempt_ended(s, ok, why, s->exec_finished_ms);
    tx_end(run);
    kiln_crash_point("attempt-ended");
    run_maybe_finish(run);
    request_dispatch(run->eng);
}

/* Hashing a step's artifacts on the thread pool. */

typedef struct hash_job {
    uv_work_t req;
    step_rt *s;
    kiln_artifact_list in, out;
    kiln_metrics metrics;
    kiln_err err;
    int rc;
    bool cached;             /* outputs are now in the object store */
    kiln_cache_files files;  /* ...as these files */
    kiln_exec_state status;  /* how the attempt ended: when not
                                SUCCEEDED, its metrics alone are read */
    char why[300];           /* ...and why it failed */
} hash_job;

/* Read the attempt's metrics: $KILN_METRICS, then the declared file
 * (not after a failure: it may be an earlier attempt's). Warnings go to
 * the end of the step's log. Runs on the thread pool. */
static void read_metrics(hash_job *j)
{
    step_rt *s = j->s;
    const kiln_step *st = &s->run->p->steps[s->idx];
    kiln_buf warn = KILN_BUF_INIT;
    if (s->metrics_path)
        kiln_metrics_read(&j->metrics, s->metrics_path, &warn);
    if (st->metrics && j->status == KILN_EXEC_SUCCEEDED) {
        char *path = kiln_path_join(s->workdir, st->metrics);
        if (!kiln_metrics_read(&j->metrics, path, &warn))
            kiln_buf_printf(&warn, "kiln: warning: the step declared "
                            "metrics file %s but did not write it\n",
                            st->metrics);
        free(path);
    }
    if (warn.len && s->log_path) {
        FILE *f = fopen(s->log_path, "a");
        if (f) {
            fputs(kiln_buf_cstr(&warn), f);
            fclose(f);
        }
    }
    kiln_buf_dispose(&warn);
}

static void hash_work(uv_work_t *req)
{
    hash_job *j = req->data;
    const kiln_step *st = &j->s->run->p->steps[j->s->idx];
    if (j->status != KILN_EXEC_SUCCEEDED) {
        read_metrics(j);
        return;
    }
    /* Inputs hashed for the cache key before the step are what it read;
     * otherwise hash them now. */
    if (j->s->cache_key[0]) {
        j->in = j->s->inputs;
        memset(&j->s->inputs, 0, sizeof(j->s->inputs));
        j->rc = 0;
    } else {
        j->rc = kiln_artifacts_collect_inputs(&j->in, j->s->workdir, st,
                                              &j->err);
    }
    if (j->rc == 0)
        j->rc = kiln_artifacts_collect(&j->out, j->s->workdir, &st->outputs,
                                       &j->err);
    read_metrics(j);
    /* Keep the outputs for the next run with the same key. */
    if (j->rc == 0 && j->s->cache_key[0] && j->out.n_missing == 0) {
        kiln_err cerr = KILN_ERR_INIT;
        j->cached = kiln_cache_save(&j->files, j->s->run->eng->objects,
                                    j->s->workdir, &j->out, &cerr) == 0;
    }
}

/* register: the output named by the step becomes the model's next
 * version. */
static int register_model(step_rt *s, const kiln_artifact_list *out,
                          kiln_err *err)
{
    const kiln_step *st = &s->run->p->steps[s->idx];
    char *want, *path;
    int version, rc = 0;

    if (!st->register_model)
        return 0;
    want = kiln_path_join(s->workdir, st->register_path);
    path = kiln_path_absolute(want);
    free(want);
    for (size_t i = 0; i < out->n; i++) {
        if (strcmp(out->items[i].path, path) == 0) {
            rc = kiln_store_model_register(s->run->eng->store, &version,
                                           st->register_model, path,
                                           out->items[i].sha256, s->run->id,
                                           s->exec_id, err);
            if (rc == 0 && st->register_alias)
                rc = kiln_store_model_promote(s->run->eng->store,
                                              st->register_model, version,
                                              st->register_alias, err);
            if (rc == 0 && s->log_path) {
                FILE *f = fopen(s->log_path, "a");
                if (f) {
                    fprintf(f, "kiln: registered %s as version %d of model "
                            "%s%s%s\n", path, version, st->register_model,
                            st->register_alias ? ", now " : "",
                            st->register_alias ? st->register_alias : "");
                    fclose(f);
                }
            }
            break;
        }
    }
    free(path);
    return rc;
}

static void hash_done(uv_work_t *req, int status)
{
    hash_job *j = req->data;
    step_rt *s = j->s;
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_err err = KILN_ERR_INIT;
    char why[600];
    (void)status;

    why[0] = '\0';
    run->n_hashing--;
    s->phase = PHASE_IDLE;
    kiln_crash_point("hashed");
    tx_begin(run);
    if (j->status != KILN_EXEC_SUCCEEDED) {
        if (kiln_store_record_metrics(run->eng->store, s->exec_id, run->id,
                                      st->name, j->metrics.n,
                                      (const char *const *)j->metrics.keys,
                                      j->metrics.values, &err) != 0)
            store_failed(run, &err);
        snprintf(why, sizeof(why), "%s", j->why);
        /* validate-step exits 1 when checks failed: say how many. */
        for (size_t i = 0; st->validation && s->exit_code == 1 &&
                           i < j->metrics.n; i++)
            if (strcmp(j->metrics.keys[i], "validate.violations") == 0)
                snprintf(why, sizeof(why), "%.0f check%s failed (kiln logs "
                         "%lld %s)", j->metrics.values[i],
                         j->metrics.values[i] == 1 ? "" : "s",
                         (long long)run->id, st->name);
        kiln_metrics_dispose(&j->metrics);
        attempt_finish(s, j->status, why, false);
        free(j);
        return;
    }
    if (j->rc != 0) {
        snprintf(why, sizeof(why), "cannot hash its artifacts: %s",
                 j->err.msg);
    } else if (j->out.n_missing) {
        kiln_buf b = KILN_BUF_INIT;
        for (size_t i = 0; i < j->out.n_missing; i++)
            kiln_buf_printf(&b, "%s%s", i ? ", " : "", j->out.missing[i]);
        snprintf(why, sizeof(why), "declared output%s missing after the "
                 "step exited 0: %s", j->out.n_missing > 1 ? "s" : "",
                 kiln_buf_cstr(&b));
        kiln_buf_dispose(&b);
    } else {
        size_t n = j->in.n + j->out.n, k = 0;
        kiln_artifact_rec *recs = kiln_calloc(n ? n : 1, sizeof(*recs));
        for (size_t i = 0; i < j->in.n; i++, k++) {
            recs[k].path = j->in.items[i].path;
            recs[k].sha256 = j->in.items[i].sha256;
            recs[k].size = j->in.items[i].size;
            recs[k].is_dir = j->in.items[i].is_dir;
            recs[k].type = "file";
        }
        for (size_t i = 0; i < j->out.n; i++, k++) {
            recs[k].path = j->out.items[i].path;
            recs[k].sha256 = j->out.items[i].sha256;
            recs[k].size = j->out.items[i].size;
            recs[k].is_dir = j->out.items[i].is_dir;
            recs[k].type = kiln_artifact_type(st->kind);
            recs[k].output = true;
        }
        /* Metrics first: a registered model carries the run's metrics. */
        if (kiln_store_record_artifacts(run->eng->store, s->exec_id, recs, n,
                                        &err) != 0 ||
            kiln_store_record_metrics(run->eng->store, s->exec_id, run->id,
                                      st->name, j->metrics.n,
                                      (const char *const *)j->metrics.keys,
                                      j->metrics.values, &err) != 0 ||
            register_model(s, &j->out, &err) != 0)
            store_failed(run, &err);
        if (j->cached &&
            kiln_store_cache_save(run->eng->store, s->exec_id, s->cache_key,
                                  j->files.n, j->files.rel,
                                  j->files.sha256, &err) != 0)
            store_failed(run, &err);
        free(recs);
    }
    kiln_cache_files_dispose(&j->files);
    kiln_metrics_dispose(&j->metrics);
    kiln_artifact_list_dispose(&j->in);
    kiln_artifact_list_dispose(&j->out);
    free(j);
    if (why[0] && s->exit_code == 0)
        s->exit_code = -1; /* the command succeeded; the step did not */
    attempt_finish(s, why[0] ? KILN_EXEC_FAILED : KILN_EXEC_SUCCEEDED, why,
                   why[0] == '\0');
}

/* Finish an attempt off the loop: hash its artifacts and read its
 * metrics, or for one that did not succeed (status and why), only read
 * its metrics. */
static void hash_start(step_rt *s, kiln_exec_state status, const char *why)
{
    hash_job *j = kiln_calloc(1, sizeof(*j));
    j->s = s;
    j->status = status;
    s->phase = PHASE_HASHING;
    if (why)
        snprintf(j->why, sizeof(j->why), "%s", why);
    j->req.data = j;
    s->run->n_hashing++;
    uv_queue_work(s->run->eng->loop, &j->req, hash_work, hash_done);
}

/* Step caching. */

static bool cacheable(step_rt *s)
{
    const kiln_step *st = &s->run->p->steps[s->idx];
    /* Outputs to restore, or a validate step's checks: what they decide
     * depends only on the data, the reference and the checks, all in the
     * key. */
    return s->run->eng->cache && st->cache &&
           (st->outputs.n > 0 || st->validation) && s->attempt == 0 &&
           s->phase == PHASE_IDLE;
}

typedef struct cache_job {
    uv_work_t req;
    step_rt *s;
    kiln_artifact_list in;   /* the inputs, hashed for the key */
    char key[KILN_HASH_HEX];
    int rc;
    kiln_cache_entry hit;    /* the lookup's answer, for the restore */
    kiln_artifact_list out;  /* the restored outputs, hashed */
    kiln_err err;
} cache_job;

static void cache_job_free(cache_job *j)
{
    kiln_artifact_list_dispose(&j->in);
    kiln_artifact_list_dispose(&j->out);
    kiln_cache_entry_dispose(&j->hit);
    free(j);
}

static void key_work(uv_work_t *req)
{
    cache_job *j = req->data;
    step_rt *s = j->s;
    const kiln_step *st = &s->run->p->steps[s->idx];
    j->rc = kiln_artifacts_collect_inputs(&j->in, s->workdir, st, &j->err);
    if (j->rc == 0)
        kiln_cache_key(j->key, st, s->run->p, &j->in, s->workdir,
                       s->run->n_params, s->run->params);
}

/* Record an execution that ran nothing (a cache hit, a retry's reuse) as
 * attempt 1, ended: its executor says which. */
static int record_unrun(step_rt *s, const char *executor, const char *why,
                        kiln_err *err)
{
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_exec_rec rec;
    int rc;

    memset(&rec, 0, sizeof(rec));
    s->attempt = 1;
    rec.run_id = run->id;
    rec.step = st->name;
    rec.kind = kiln_step_kind_name(st->kind);
    rec.attempt = 1;
    rec.log_path = "";
    rec.executor = executor;
    rec.started_ms = kiln_now_ms();
    if ((rc = kiln_store_exec_start(run->eng->store, &s->exec_id, &rec,
                                    err)) != 0)
        return rc;
    return kiln_store_exec_finish(run->eng->store, s->exec_id,
                                  KILN_EXEC_CACHED, -1, 0, why, kiln_now_ms(),
                                  err);
}

static void restore_work(uv_work_t *req)
{
    cache_job *j = req->data;
    step_rt *s = j->s;
    const kiln_step *st = &s->run->p->steps[s->idx];
    j->rc = kiln_cache_restore(s->run->eng->objects, s->workdir, j->hit.n,
                               j->hit.rel, j->hit.sha256, &j->err);
    kiln_crash_point("restoring");
    if (j->rc == 0)
        j->rc = kiln_artifacts_collect(&j->out, s->workdir, &st->outputs,
                                       &j->err);
}

/* The cache had the step's outputs (or not): record it as a cached
 * execution, or let the step run after all. */
static void restore_done(uv_work_t *req, int status)
{
    cache_job *j = req->data;
    step_rt *s = j->s;
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_err err = KILN_ERR_INIT;
    (void)status;

    run->n_hashing--;
    s->phase = PHASE_CHECKED;
    release_slot(s);
    if (s->state != KILN_STEP_READY || run->cancelling) {
        /* Cancelled meanwhile. */
    } else if (j->rc != 0 || j->out.n_missing) {
        FILE *f;
        s->log_path = kiln_asprintf("%s/%s.cache.log", run->log_dir,
                                    st->name);
        if ((f = fopen(s->log_path, "a")) != NULL) {
            fprintf(f, "kiln: warning: %s; running the step instead\n",
                    j->rc ? j->err.msg : "a cached output is missing");
            fclose(f);
        }
    } else {
        const kiln_artifact_list *in = s->cache_key[0] ? &s->inputs : &j->in;
        size_t n = in->n + j->out.n, k = 0;
        kiln_artifact_rec *recs = kiln_calloc(n ? n : 1, sizeof(*recs));
        char why[120];
        snprintf(why, sizeof(why), "cached from run %lld",
                 (long long)j->hit.run_id);
        for (size_t i = 0; i < in->n; i++, k++) {
            recs[k].path = in->items[i].path;
            recs[k].sha256 = in->items[i].sha256;
            recs[k].size = in->items[i].size;
            recs[k].type = "file";
        }
        for (size_t i = 0; i < j->out.n; i++, k++) {
            recs[k].path = j->out.items[i].path;
            recs[k].sha256 = j->out.items[i].sha256;
            recs[k].size = j->out.items[i].size;
            recs[k].type = kiln_artifact_type(st->kind);
            recs[k].output = true;
        }
        kiln_crash_point("restored");
        tx_begin(run);
        if (record_unrun(s, "cache", why, &err) != 0 ||
            kiln_store_cache_hit(run->eng->store, s->exec_id,
                                 j->hit.exec_id, j->key, &err) != 0 ||
            kiln_store_record_artifacts(run->eng->store, s->exec_id, recs, n,
                                        &err) != 0)
            store_failed(run, &err);
        free(recs);
        step_set(s, KILN_STEP_RUNNING, NULL);
        succeed(s, why, 0);
        tx_end(run);
    }
    cache_job_free(j);
    run_maybe_finish(run);
    request_dispatch(run->eng);
}

static void key_done(uv_work_t *req, int status)
{
    cache_job *j = req->data;
    step_rt *s = j->s;
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_err err = KILN_ERR_INIT;
    (void)status;

    if (j->rc == 0) {
        memcpy(s->cache_key, j->key, sizeof(s->cache_key));
        /* Keep the hashed inputs for the step's records. */
        kiln_artifact_list_dispose(&s->inputs);
        s->inputs = j->in;
        memset(&j->in, 0, sizeof(j->in));
    }
    /* A hit restores its outputs on the thread pool, and only the step's
     * own declared outputs are ever put back. */
    if (j->rc == 0 && s->state == KILN_STEP_READY && !run->cancelling &&
        kiln_store_cache_lookup(run->eng->store, &j->hit, j->key,
                                &err) == 0 &&
        (j->hit.n > 0 || st->outputs.n == 0) &&
        kiln_cache_outputs_match(&st->outputs, s->workdir, j->hit.n,
                                 j->hit.rel)) {
        uv_queue_work(run->eng->loop, &j->req, restore_work, restore_done);
        return;
    }
    if (err.code && err.code != KILN_ENOTFOUND)
        store_failed(run, &err);
    run->n_hashing--;
    s->phase = PHASE_CHECKED;
    release_slot(s);
    cache_job_free(j);
    run_maybe_finish(run);
    request_dispatch(run->eng);
}

/* Before a cacheable step's first attempt: hash its inputs into its key,
 * off the loop, then look the key up. */
static void cache_check(step_rt *s)
{
    cache_job *j = kiln_calloc(1, sizeof(*j));
    j->s = s;
    j->req.data = j;
    s->phase = PHASE_CACHE;
    take_slot(s);
    s->run->n_hashing++;
    uv_queue_work(s->run->eng->loop, &j->req, key_work, key_done);
}

/* The next READY step of run whose pool has room and whose slots are
 * free, or NULL. A step weighing more than what is free waits while
 * lighter ones behind it may start. */
static step_rt *next_ready(kiln_run *run)
{
    if (run->cancelling)
        return NULL;
    for (size_t i = 0; i < run->p->n_steps; i++) {
        step_rt *s = &run->steps[run->p->topo[i]];
        struct pool *pool;
        if (s->state != KILN_STEP_READY || s->phase == PHASE_CACHE)
            continue;
        pool = step_pool(run->eng, &run->p->steps[s->idx]);
        s->slots = step_slots(run->eng, &run->p->steps[s->idx]);
        if ((!pool || pool->busy < pool->cap) &&
            run->eng->busy + s->slots <= run->eng->jobs)
            return s;
    }
    return NULL;
}

/* A retry: the step succeeded in the run retried, so record that
 * execution's outputs and metrics as this run's and go on. The files are
 * where that run left them (the same workdir or checkout). */
static void step_reuse(step_rt *s, int64_t from_exec)
{
    kiln_run *run = s->run;
    kiln_err err = KILN_ERR_INIT;
    char why[80];

    snprintf(why, sizeof(why), "reused from run %lld",
             (long long)run->reuse_run);
    tx_begin(run);
    if (record_unrun(s, "reuse", why, &err) != 0 ||
        kiln_store_exec_reuse(run->eng->store, s->exec_id, from_exec,
                              &err) != 0)
        store_failed(run, &err);
    step_set(s, KILN_STEP_RUNNING, NULL);
    succeed(s, why, 0);
    tx_end(run);
}

/* Hand free slots to ready steps, one per run in turn. Steps that take no
 * slot (a cluster runs them) start even when every slot is busy. */
static void dispatch(kiln_engine *eng)
{
    while (eng->runs) {
        kiln_run *start = eng->cursor ? eng->cursor : eng->runs, *r = start;
        step_rt *s = NULL;
        do {
            s = next_ready(r);
            r = r->next ? r->next : eng->runs;
            if (s)
                break;
        } while (r != start);
        eng->cursor = r;
        if (!s)
            break;
        if (gate_passes(s)) {
            if (s->attempt == 0 && s->run->reuse_exec &&
                s->run->reuse_exec[s->idx] > 0)
                step_reuse(s, s->run->reuse_exec[s->idx]);
            else if (cacheable(s))
                cache_check(s);
            else
                step_start(s);
        }
        run_maybe_finish(s->run);
    }
}

/* Dispatch runs from a prepare handle, after every callback of the loop
 * iteration: runs started by timers due at the same instant then share
 * free slots round-robin instead of the first taking them all. */
static void on_prepare(uv_prepare_t *prepare)
{
    kiln_engine *eng = prepare->data;
    kiln_run *r, *next;
    uv_prepare_stop(prepare);
    eng->dispatch_wanted = false;
    for (r = eng->runs; r; r = next) {
        next = r->next;
        if (r->drain_wanted) {
            char why[600];
            r->drain_wanted = false;
            snprintf(why, sizeof(why), "cannot record: %s",
                     r->store_err.msg);
            kiln_run_drain(r, why);
        }
    }
    dispatch(eng);
}

static void request_dispatch(kiln_engine *eng)
{
    if (!eng->dispatch_wanted) {
        eng->dispatch_wanted = true;
        uv_prepare_start(&eng->prepare, on_prepare);
    }
}

static void unlink_run(kiln_run *run)
{
    kiln_engine *eng = run->eng;
    kiln_run **pp;
    for (pp = &eng->runs; *pp; pp = &(*pp)->next) {
        if (*pp == run) {
            *pp = run->next;
            break;
        }
    }
    if (eng->cursor == run)
        eng->cursor = run->next;
}

/* End the run once every step has ended. */
static void run_maybe_finish(kiln_run *run)
{
    kiln_err err = KILN_ERR_INIT;
    const char *reason = NULL;
    char why[600];

    if (run->finished || run->n_done < run->p->n_steps || run->n_hashing)
        return;
    run->finished = true;
    if (run->store_err.code) {
        /* Failed for a reason of kiln's own, said as it is. */
        run->state = KILN_RUN_FAILED;
        snprintf(why, sizeof(why), "cannot record: %s", run->store_err.msg);
        reason = why;
    } else if (run->cancelling) {
        run->state = KILN_RUN_CANCELLED;
        reason = "cancelled";
    } else {
        run->state = KILN_RUN_SUCCEEDED;
        for (size_t i = 0; i < run->p->n_steps; i++) {
            kiln_step_state st = run->steps[i].state;
            /* A gate saying no is a decision, not a failure. */
            if (st != KILN_STEP_SUCCEEDED && st != KILN_STEP_GATED &&
                !(st == KILN_STEP_SKIPPED && run->steps[i].by_gate)) {
                run->state = KILN_RUN_FAILED;
                if (run->steps[i].state == KILN_STEP_FAILED && !reason) {
                    snprintf(why, sizeof(why), "step \"%s\" failed: %s",
                             run->p->steps[i].name, run->steps[i].reason);
                    reason = why;
                }
            }
        }
    }
    if (kiln_store_run_set_state(run->eng->store, run->id, run->state,
                                 reason, &err) != 0 &&
        run->store_err.code == 0) {
        run->store_err = err;
        kiln_err_print(&err);
    }
    unlink_run(run);
    emit(run, -1);
    run->on_done(run, run->data);
}

void kiln_run_drain(kiln_run *run, const char *reason)
{
    if (run->finished)
        return;
    run->cancelling = true;
    for (size_t i = 0; i < run->p->n_steps; i++) {
        step_rt *s = &run->steps[i];
        if (s->state == KILN_STEP_PENDING || s->state == KILN_STEP_READY ||
            s->state == KILN_STEP_RETRYING) {
            uv_timer_stop(&s->timer);
            step_set(s, KILN_STEP_CANCELLED, reason);
        }
    }
    run_maybe_finish(run);
}

void kiln_run_cancel(kiln_run *run, bool force)
{
    if (run->finished)
        return;
    run->cancelling = true;
    for (size_t i = 0; i < run->p->n_steps; i++) {
        step_rt *s = &run->steps[i];
        switch (s->state) {
        case KILN_STEP_PENDING:
        case KILN_STEP_READY:
        case KILN_STEP_RETRYING:
            uv_timer_stop(&s->timer);
            step_set(s, KILN_STEP_CANCELLED, "cancelled");
            break;
        case KILN_STEP_RUNNING:
            if (s->ex)
                kiln_executor_cancel(s->ex, &s->task, force);
            break;
        default:
            break;
        }
    }
    run_maybe_finish(run);
}

/* The environment every step of the run starts from. */
static void run_base_env(kiln_env *env, kiln_run *run,
                         const kiln_run_options *o)
{
    const kiln_pipeline *p = run->p;
    char id[32];

    kiln_env_borrow(env, environ);
    env_set_kv(env, p->n_env, p->env);
    for (size_t i = 0; i < p->n_params; i++) {
        const char *value = p->params[i].value;
        for (size_t j = 0; j < o->n_params; j++)
            if (strcmp(o->params[j].key, p->params[i].key) == 0)
                value = o->params[j].value;
        env_set_param(env, p->params[i].key, value);
    }
    snprintf(id, sizeof(id), "%lld", (long long)run->id);
    kiln_env_set(env, "KILN_RUN_ID", id);
    kiln_env_set(env, "KILN_PIPELINE", p->name);
    kiln_env_set(env, "KILN_GIT_COMMIT", o->git_commit ? o->git_commit : "");
    kiln_env_set(env, "KILN_STATE", run->eng->state_dir);
}

/* The run's params: the pipeline's, with o's overrides (values
 * borrowed; free() the array). */
static kiln_kv *effective_params(const kiln_pipeline *p,
                                 const kiln_run_options *o)
{
    kiln_kv *kv = kiln_calloc(p->n_params ? p->n_params : 1, sizeof(*kv));
    for (size_t i = 0; i < p->n_params; i++) {
        kv[i].key = p->params[i].key;
        kv[i].value = p->params[i].value;
        for (size_t j = 0; j < o->n_params; j++)
            if (strcmp(o->params[j].key, p->params[i].key) == 0)
                kv[i].value = o->params[j].value;
    }
    return kv;
}

static void on_timer_close(uv_handle_t *h)
{
    kiln_run *run = ((step_rt *)h->data)->run;
    if (--run->pending_closes == 0 && run->free_requested) {
        for (size_t i = 0; i < run->n_steps; i++) {
            free(run->steps[i].down);
            kiln_env_dispose(&run->steps[i].env);
            kiln_artifact_list_dispose(&run->steps[i].inputs);
            free(run->steps[i].log_path);
            free(run->steps[i].status_path);
            free(run->steps[i].job_name);
            free(run->steps[i].metrics_path);
            free(run->steps[i].workdir);
        }
        free(run->steps);
        free(run->reuse_exec);
        kiln_env_dispose(&run->base_env);
        for (size_t i = 0; i < run->n_params; i++)
            free((char *)run->params[i].value);
        free(run->params);
        free(run->log_dir);
        free(run->root);
        free(run->file);
        free(run);
    }
}

/* The part of starting and resuming a run that is the same: the runtime
 * state of a run already recorded as id. */
static kiln_run *run_new(kiln_engine *eng, const kiln_run_options *o,
                         int64_t id)
{
    const kiln_pipeline *p = o->pipeline;
    kiln_run *run = kiln_calloc(1, sizeof(*run));
    run->eng = eng;
    run->p = p;
    run->n_steps = p->n_steps;
    run->id = id;
    run->root = kiln_strdup(o->root ? o->root : p->dir);
    run->file = kiln_path_absolute(o->file ? o->file : p->file);
    run->on_event = o->on_event;
    run->on_done = o->on_done;
    if (o->n_reuse) {
        run->reuse_run = o->reuse_run;
        run->reuse_exec = kiln_calloc(p->n_steps, sizeof(int64_t));
        for (size_t i = 0; i < o->n_reuse; i++) {
            ssize_t k = kiln_pipeline_find_step(p, o->reuse[i].key);
            if (k >= 0)
                run->reuse_exec[k] = strtoll(o->reuse[i].value, NULL, 10);
        }
    }
    run->data = o->data;
    run->log_dir = kiln_asprintf("%s/logs/%lld", eng->state_dir,
                                 (long long)id);
    run_base_env(&run->base_env, run, o);
    run->n_params = p->n_params;
    run->params = kiln_calloc(p->n_params ? p->n_params : 1,
                              sizeof(kiln_kv));
    for (size_t i = 0; i < p->n_params; i++) {
        const char *value = p->params[i].value;
        for (size_t j = 0; j < o->n_params; j++)
            if (strcmp(o->params[j].key, p->params[i].key) == 0)
                value = o->params[j].value;
        run->params[i].key = p->params[i].key;
        run->params[i].value = kiln_strdup(value);
    }
    run->steps = kiln_calloc(p->n_steps, sizeof(step_rt));
    for (size_t i = 0; i < p->n_steps; i++) {
        step_rt *s = &run->steps[i];
        s->run = run;
        s->idx = i;
        s->unmet = (unsigned)p->steps[i].needs.n;
        s->workdir = kiln_path_join(run->root, p->steps[i].workdir);
        uv_timer_init(eng->loop, &s->timer);
        s->timer.data = s;
        for (size_t j = 0; j < p->steps[i].needs.n; j++) {
            step_rt *up = &run->steps[p->steps[i].need_idx[j]];
            up->down = kiln_realloc(up->down, (up->n_down + 1) *
                                    sizeof(size_t));
            up->down[up->n_down++] = i;
        }
    }
    run->next = eng->runs;
    eng->runs = run;
    return run;
}

int kiln_run_start(kiln_run **out, kiln_engine *eng,
                   const kiln_run_options *o, kiln_err *err)
{
    const kiln_pipeline *p = o->pipeline;
    kiln_run *run;
    kiln_run_rec rec;
    const char **names, **kinds;
    char *root, *log_dir;
    kiln_kv *params;
    int64_t id = 0;
    int rc;

    *out = NULL;
    names = kiln_calloc(p->n_steps, sizeof(char *));
    kinds = kiln_calloc(p->n_steps, sizeof(char *));
    for (size_t i = 0; i < p->n_steps; i++) {
        names[i] = p->steps[p->topo[i]].name;
        kinds[i] = kiln_step_kind_name(p->steps[p->topo[i]].kind);
    }
    root = kiln_strdup(o->root ? o->root : p->dir);
    memset(&rec, 0, sizeof(rec));
    rec.pipeline = p->name;
    rec.file = o->file;
    rec.hash = o->hash;
    rec.trigger = o->trigger ? o->trigger : "manual";
    rec.trigger_info = o->trigger_info;
    params = effective_params(p, o);
    rec.n_params = p->n_params;
    rec.params = params;
    rec.git_commit = o->git_commit;
    rec.git_branch = o->git_branch;
    rec.git_dirty = o->git_dirty;
    rec.workdir = root;
    rec.n_steps = p->n_steps;
    rec.step_names = names;
    rec.step_kinds = kinds;
    rc = kiln_store_run_create(eng->store, &id, &rec, err);
    free(names);
    free(kinds);
    free(root);
    free(params);
    log_dir = kiln_asprintf("%s/logs/%lld", eng->state_dir, (long long)id);
    if (rc == 0)
        rc = kiln_mkdir_p(log_dir, err);
    free(log_dir);
    if (rc == 0)
        rc = kiln_store_run_set_state(eng->store, id, KILN_RUN_RUNNING,
                                      NULL, err);
    if (rc != 0) {
        if (id)
            kiln_store_run_set_state(eng->store, id, KILN_RUN_FAILED,
                                     err->msg, NULL);
        return rc;
    }
    kiln_store_set_patient(eng->store, true);
    run = run_new(eng, o, id);
    *out = run;
    emit(run, -1);
    for (size_t i = 0; i < p->n_steps; i++)
        if (run->steps[p->topo[i]].unmet == 0)
            step_set(&run->steps[p->topo[i]], KILN_STEP_READY, NULL);
    request_dispatch(eng);
    return 0;
}

/* Take over a running step left by a dead kiln: attach to its process, or
 * if that cannot be done, count the attempt as lost. */
static void step_reattach(step_rt *s, const kiln_attempt_info *a)
{
    kiln_run *run = s->run;
    kiln_engine *eng = run->eng;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_err err = KILN_ERR_INIT, serr = KILN_ERR_INIT;
    char why[700];

    s->attempt = a->attempt;
    s->exec_id = a->id;
    s->started_ms = a->started_ms;
    s->state = KILN_STEP_RUNNING;
    s->phase = PHASE_RUNNING;
    free(s->log_path);
    s->log_path = kiln_strdup(a->log_path ? a->log_path : "");
    free(s->status_path);
    s->status_path = kiln_asprintf("%s/%s.%d.status", run->log_dir, st->name,
                                   s->attempt);
    free(s->metrics_path);
    s->metrics_path = kiln_asprintf("%s/%s.%d.metrics.json", run->log_dir,
                                    st->name, s->attempt);
    memset(&s->task, 0, sizeof(s->task));
    s->task.log_path = s->log_path;
    s->task.status_path = s->status_path;
    s->task.data = s;
    s->task.cpus = st->resources.cpus ? st->resources.cpus : 1;
    s->slots = step_slots(eng, st);
    take_slot(s);
    /* Without an id (kiln stopped right after recording the attempt),
     * the executor looks for the process by the attempt's status file. */
    if (engine_executor(&s->ex, eng, st->executor, &err) == 0 &&
        kiln_executor_attach(s->ex, &s->task, a->external_id, &err) == 0) {
        if (!a->external_id &&
            kiln_store_exec_set_external(eng->store, s->exec_id,
                                         s->task.external_id, s->started_ms,
                                         &serr) != 0)
            store_failed(run, &serr);
        return;
    }
    s->ex = NULL;
    s->phase = PHASE_IDLE;
    release_slot(s);
    if (!a->external_id && err.code == KILN_ENOTFOUND) {
        /* It never started: the step runs, as if for the first time. */
        snprintf(why, sizeof(why), "never started: kiln stopped before it "
                 "started the step's process");
        if (kiln_store_exec_finish(eng->store, s->exec_id, KILN_EXEC_LOST,
                                   -1, 0, why, kiln_now_ms(), &serr) != 0)
            store_failed(run, &serr);
        s->state = KILN_STEP_PENDING;
        return;
    }
    /* Nothing to watch: the attempt is lost. */
    snprintf(why, sizeof(why), "lost: %s", err.msg);
    tx_begin(run);
    if (kiln_store_exec_finish(eng->store, s->exec_id, KILN_EXEC_LOST, -1, 0,
                               why, kiln_now_ms(), &serr) != 0)
        store_failed(run, &serr);
    step_attempt_ended(s, false, why, 0);
    tx_end(run);
}

int kiln_run_resume(kiln_run **out, kiln_engine *eng,
                    const kiln_run_options *o, const kiln_run_info *rec,
                    kiln_err *err)
{
    const kiln_pipeline *p = o->pipeline;
    kiln_run *run;

    *out = NULL;
    /* Every recorded step must still be in the definition. */
    for (size_t i = 0; i < rec->n_steps; i++)
        if (kiln_pipeline_find_step(p, rec->steps[i].name) < 0)
            return kiln_err_set(err, KILN_EINVAL, "run %lld has a step "
                                "\"%s\" the pipeline no longer has",
                                (long long)rec->id, rec->steps[i].name);
    kiln_store_set_patient(eng->store, true);
    run = run_new(eng, o, rec->id);
    *out = run;
    /* Steps that ended stay as they ended; pending ones wait again. */
    for (size_t i = 0; i < rec->n_steps; i++) {
        const kiln_step_info *si = &rec->steps[i];
        step_rt *s = &run->steps[kiln_pipeline_find_step(p, si->name)];
        s->attempt = si->attempts;
        if (kiln_step_state_final(si->state)) {
            s->state = si->state;
            s->by_gate = si->by_gate;
            snprintf(s->reason, sizeof(s->reason), "%s",
                     si->reason ? si->reason : "");
            run->n_done++;
        }
    }
    for (size_t k = 0; k < p->n_steps; k++) {
        step_rt *s = &run->steps[k];
        for (size_t j = 0; j < s->n_down; j++)
            if (s->state == KILN_STEP_SUCCEEDED)
                run->steps[s->down[j]].unmet--;
    }
    /* Running steps: find their processes again. */
    for (size_t i = 0; i < rec->n_steps; i++) {
        const kiln_step_info *si = &rec->steps[i];
        const kiln_attempt_info *last = kiln_step_info_last(si);
        step_rt *s = &run->steps[kiln_pipeline_find_step(p, si->name)];
        if (si->state != KILN_STEP_RUNNING)
            continue;
        if (last && last->state == KILN_EXEC_RUNNING)
            step_reattach(s, last);
        else
            s->state = KILN_STEP_PENDING; /* its attempt ended: decide
                                             again */
    }
    emit(run, -1);
    for (size_t k = 0; k < p->n_steps; k++) {
        step_rt *s = &run->steps[p->topo[k]];
        bool blocked = false, gated = false;
        if (s->state != KILN_STEP_PENDING)
            continue;
        for (size_t j = 0; j < p->steps[s->idx].needs.n; j++) {
            const step_rt *up = &run->steps[p->steps[s->idx].need_idx[j]];
            if (up->state == KILN_STEP_GATED ||
                (up->state == KILN_STEP_SKIPPED && up->by_gate))
                gated = true;
            else if (up->state == KILN_STEP_FAILED ||
                     up->state == KILN_STEP_SKIPPED ||
                     up->state == KILN_STEP_CANCELLED)
                blocked = true;
        }
        if (blocked || gated) {
            s->by_gate = gated && !blocked;
            step_set(s, KILN_STEP_SKIPPED, s->by_gate
                     ? "an upstream step was gated"
                     : "an upstream step did not succeed");
        } else if (s->unmet == 0) {
            step_set(s, KILN_STEP_READY, NULL);
        }
    }
    run_maybe_finish(run);
    request_dispatch(eng);
    return 0;
}

void kiln_run_free(kiln_run *run)
{
    if (!run)
        return;
    assert(run->finished);
    run->free_requested = true;
    run->pending_closes = (int)run->n_steps;
    for (size_t i = 0; i < run->n_steps; i++)
        uv_close((uv_handle_t *)&run->steps[i].timer, on_timer_close);
}

int64_t kiln_run_id(const kiln_run *run)
{
    return run->id;
}

kiln_run_state kiln_run_state_get(const kiln_run *run)
{
    return run->state;
}

const kiln_pipeline *kiln_run_pipeline(const kiln_run *run)
{
    return run->p;
}

const kiln_err *kiln_run_store_error(const kiln_run *run)
{
    return run->store_err.code ? &run->store_err : NULL;
}

kiln_step_state kiln_run_step_state(const kiln_run *run, size_t step)
{
    return run->steps[step].state;
}

int kiln_run_step_attempt(const kiln_run *run, size_t step)
{
    return run->steps[step].attempt;
}

int64_t kiln_run_step_started(const kiln_run *run, size_t step)
{
    return run->steps[step].started_ms;
}

int64_t kiln_run_step_finished(const kiln_run *run, size_t step)
{
    return run->steps[step].finished_ms;
}

const char *kiln_run_step_reason(const kiln_run *run, size_t step)
{
    return run->steps[step].reason;
}
