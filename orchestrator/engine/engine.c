/*
 * engine.c: the engine, its runs, and every change of a step's state.
 *
 * Every step of a run moves PENDING -> READY -> RUNNING -> (RETRYING ->
 * RUNNING)* -> SUCCEEDED | FAILED | CANCELLED, or PENDING -> SKIPPED when
 * something upstream failed or was gated. kiln_engine__step_set_at() is
 * the only place a state changes: it records the change in the store,
 * then tells the run's owner. Free slots go to ready steps round-robin
 * between runs, once per loop iteration. Store calls are short prepared
 * statements on the loop thread.
 *
 * The changes of one turn of the loop are written in one transaction,
 * the batch, rather than one each: it is opened by the first write and
 * committed once, before anything that depends on its changes happens.
 * The attempts dispatch records are started only once it is committed,
 * a run ends (and its owner notifies) only after it, and what the owner
 * is told of steps waits for it too; otherwise the check handle commits
 * it after the turn's I/O callbacks, so it is never open while the loop
 * waits. An attempt that ended is in the batch until then; a kiln killed
 * before the commit left the attempt recorded as running, and recovery
 * reads how it ended from its status file, as for any attempt that ended
 * while no kiln watched.
 */
#include "internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static void env_set_param(kiln_env *e, const char *name, const char *value)
{
    char *key = kiln_asprintf("KILN_PARAM_%s", name);
    for (char *c = key; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
    kiln_env_set(e, key, value);
    free(key);
}

void kiln_engine__env_set_kv(kiln_env *e, size_t n, const kiln_kv *kv)
{
    for (size_t i = 0; i < n; i++)
        kiln_env_set(e, kv[i].key, kv[i].value);
}

int kiln_run_check_params(const kiln_pipeline *p, size_t n,
                          const kiln_kv *params, kiln_err *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j, len = strlen(params[i].value);
        /* Refused here, not by the exec of every step (E2BIG). */
        if (len > KILN_PARAM_VALUE_MAX)
            return kiln_err_set(err, KILN_EINVAL, "parameter \"%s\" is %zu "
                                "bytes: at most %d KiB (steps get it in "
                                "their environment; pass a larger value "
                                "as a file's path)", params[i].key, len,
                                KILN_PARAM_VALUE_MAX / 1024);
        /* Recorded as JSON, which holds only UTF-8: another value ran,
         * then vanished from every view of the run. */
        {
            json_t *text = json_stringn(params[i].value, len);
            if (!text)
                return kiln_err_set(err, KILN_EINVAL, "parameter \"%s\" is "
                                    "not UTF-8 text", params[i].key);
            json_decref(text);
        }
        if ((total += len) > KILN_PARAMS_MAX)
            return kiln_err_set(err, KILN_EINVAL, "the parameters are more "
                                "than %d KiB together (steps get them in "
                                "their environment; pass larger values as "
                                "files' paths)", KILN_PARAMS_MAX / 1024);
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

kiln_engine *kiln_engine_new(uv_loop_t *loop, kiln_store *store,
                             const char *state_dir, unsigned jobs)
{
    kiln_engine *eng = kiln_calloc(1, sizeof(*eng));
    eng->loop = loop;
    eng->store = store;
    eng->state_dir = kiln_strdup(state_dir);
    eng->jobs = jobs ? jobs : uv_available_parallelism();
    uv_prepare_init(loop, &eng->prepare);
    eng->prepare.data = eng;
    uv_check_init(loop, &eng->check);
    eng->check.data = eng;
    eng->cache = true;
    eng->objects = kiln_path_join(state_dir, "objects");
    eng->mover = kiln_mover_new(loop, kiln_store_path(store));
    /* Found now, while the path still names this binary. */
    if ((eng->kiln = kiln_self_exe()) == NULL)
        eng->kiln = kiln_strdup("kiln"); /* from PATH */
    return eng;
}

static void on_engine_close(uv_handle_t *h)
{
    kiln_engine *eng = h->data;
    if (--eng->closing == 0)
        free(eng);
}

void kiln_engine_free(kiln_engine *eng)
{
    if (!eng)
        return;
    assert(eng->runs == NULL);
    kiln_engine__flush(eng);
    for (size_t i = 0; i < eng->n_executors; i++)
        kiln_executor_free(eng->executors[i]);
    free(eng->executors);
    for (size_t i = 0; i < eng->n_pools; i++)
        free(eng->pools[i].name);
    free(eng->pools);
    free(eng->state_dir);
    free(eng->objects);
    free(eng->kiln);
    free(eng->events);
    free(eng->spawn);
    kiln_mover_free(eng->mover); /* the moves queued still run */
    for (size_t i = 0; i < eng->n_spares; i++)
        free(eng->spares[i]);
    eng->closing = 2;
    uv_close((uv_handle_t *)&eng->prepare, on_engine_close);
    uv_close((uv_handle_t *)&eng->check, on_engine_close);
}

kiln_mover *kiln_engine_mover(kiln_engine *eng)
{
    return eng->mover;
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

/* The engine's executor called name, created on first use. */
int kiln_engine__executor(kiln_executor **out, kiln_engine *eng,
                          const char *name, kiln_err *err)
{
    for (size_t i = 0; i < eng->n_executors; i++) {
        if (strcmp(eng->executors[i]->ops->name, name) == 0) {
            *out = eng->executors[i];
            return 0;
        }
    }
    int rc = kiln_executor_new(out, name, eng->loop,
                               kiln_engine__on_task_done, eng, err);
    if (rc != 0)
        return rc;
    eng->executors = kiln_realloc(eng->executors, (eng->n_executors + 1) *
                                  sizeof(*eng->executors));
    eng->executors[eng->n_executors++] = *out;
    return 0;
}

void kiln_engine_add_executor(kiln_engine *eng, kiln_executor *ex)
{
    ex->loop = eng->loop;
    ex->on_done = kiln_engine__on_task_done;
    ex->data = eng;
    ex->active = 0;
    /* First, so it is found before one of the same name. */
    eng->executors = kiln_realloc(eng->executors, (eng->n_executors + 1) *
                                  sizeof(*eng->executors));
    memmove(eng->executors + 1, eng->executors,
            eng->n_executors * sizeof(*eng->executors));
    eng->executors[0] = ex;
    eng->n_executors++;
}

/* Remember the first store failure and start no more steps: kiln cannot
 * keep a record it cannot write. Running steps are not killed for it;
 * the run fails with the real cause. (A database locked by another
 * process is waited for, not a failure: kiln_store_set_patient().) */
void kiln_engine__store_failed(kiln_run *run, const kiln_err *err)
{
    if (run->store_err.code == 0) {
        run->store_err = *err;
        kiln_err_print(err);
        /* Drained at the next dispatch, not under the caller's feet. */
        run->cancelling = true;
        run->drain_wanted = true;
        kiln_engine__request_dispatch(run->eng);
    }
}

/* Tell the run's owner, at once when nothing is waiting to be
 * committed, else once it is (a step's changes in one batch are told
 * once, in its state after them). */
void kiln_engine__emit(kiln_run *run, ssize_t step)
{
    kiln_engine *eng = run->eng;
    if (!run->on_event)
        return;
    if (!eng->batch) {
        run->on_event(run, step, run->data);
        return;
    }
    if (step >= 0) {
        if (run->steps[step].event_queued)
            return;
        run->steps[step].event_queued = true;
    }
    if (eng->n_events == eng->cap_events) {
        eng->cap_events = eng->cap_events ? eng->cap_events * 2 : 64;
        eng->events = kiln_realloc(eng->events, eng->cap_events *
                                   sizeof(*eng->events));
    }
    eng->events[eng->n_events].run = run;
    eng->events[eng->n_events++].step = step;
}

/* The steps that take no slot (a cluster runs them) start even when
 * every slot is busy: counted among the ready ones. */
static bool unslotted(const step_rt *s)
{
    return kiln_engine__step_slots(s->run->eng,
                                   &s->run->p->steps[s->idx]) == 0;
}

/* s became READY: into its run's ready list, by rank (steps become ready
 * mostly in rank order: looked for from the tail). */
static void ready_insert(step_rt *s)
{
    kiln_run *run = s->run;
    step_rt *after = run->ready_tail;
    while (after && after->rank > s->rank)
        after = after->ready_prev;
    s->ready_prev = after;
    s->ready_next = after ? after->ready_next : run->ready_head;
    if (s->ready_next)
        s->ready_next->ready_prev = s;
    else
        run->ready_tail = s;
    if (after)
        after->ready_next = s;
    else
        run->ready_head = s;
    if (unslotted(s))
        run->n_ready_unslotted++;
}

static void ready_remove(step_rt *s)
{
    kiln_run *run = s->run;
    if (s->ready_prev)
        s->ready_prev->ready_next = s->ready_next;
    else
        run->ready_head = s->ready_next;
    if (s->ready_next)
        s->ready_next->ready_prev = s->ready_prev;
    else
        run->ready_tail = s->ready_prev;
    s->ready_prev = s->ready_next = NULL;
    if (unslotted(s))
        run->n_ready_unslotted--;
}

static void on_check(uv_check_t *check);

/* Open the batch if it is not. */
static int batch_open(kiln_engine *eng, kiln_err *err)
{
    int rc;
    if (eng->batch)
        return 0;
    if ((rc = kiln_store_begin(eng->store, err)) != 0)
        return rc;
    eng->batch = true;
    uv_check_start(&eng->check, on_check);
    return 0;
}

/* Change a step's state as of at_ms (0: now; an attempt's end is
 * recorded with its real time, however late kiln records it), record it
 * and tell the run's owner. */
void kiln_engine__step_set_at(step_rt *s, kiln_step_state state,
                              const char *reason, int64_t at_ms)
{
    kiln_run *run = s->run;
    kiln_err err = KILN_ERR_INIT;
    bool was_ended = kiln_step_state_final(s->state);

    if (at_ms <= 0)
        at_ms = kiln_now_ms();
    if (s->state == KILN_STEP_READY && state != KILN_STEP_READY)
        ready_remove(s);
    else if (state == KILN_STEP_READY && s->state != KILN_STEP_READY)
        ready_insert(s);
    s->state = state;
    if (reason != s->reason) {
        free(s->reason);
        s->reason = reason && *reason ? kiln_strdup(reason) : NULL;
    }
    if (state == KILN_STEP_RUNNING && !s->started_ms)
        s->started_ms = at_ms;
    if (kiln_step_state_final(state)) {
        s->finished_ms = at_ms;
        if (!was_ended)
            run->n_done++;
        /* Recorded with each attempt, and no attempt follows (one that
         * does makes its paths again). */
        free(s->key_doc);
        s->key_doc = NULL;
        free(s->log_path);
        free(s->status_path);
        free(s->metrics_path);
        free(s->job_name);
        s->log_path = s->status_path = s->metrics_path = s->job_name = NULL;
    }
    if (state != KILN_STEP_READY &&
        (batch_open(run->eng, &err) != 0 ||
         kiln_store_step_set_state(run->eng->store, run->id,
                                  run->p->steps[s->idx].name, state,
                                  s->attempt,
                                  reason && *reason ? reason : NULL,
                                  s->by_gate, at_ms, &err) != 0))
        kiln_engine__store_failed(run, &err);
    kiln_engine__emit(run, (ssize_t)s->idx);
}

void kiln_engine__step_set(step_rt *s, kiln_step_state state,
                           const char *reason)
{
    kiln_engine__step_set_at(s, state, reason, 0);
}

/* Group the writes of one change of a run (an attempt's end with the
 * steps it releases, a cache hit...) so a crash leaves all or none: they
 * go into the batch, which holds all of them or none. */
void kiln_engine__tx_begin(kiln_run *run)
{
    kiln_err err = KILN_ERR_INIT;
    if (batch_open(run->eng, &err) != 0)
        kiln_engine__store_failed(run, &err);
}

void kiln_engine__tx_end(kiln_run *run)
{
    (void)run; /* committed with the batch */
}

void kiln_engine__flush(kiln_engine *eng)
{
    kiln_err err = KILN_ERR_INIT;
    struct engine_event *ev;
    size_t n;

    if (eng->batch) {
        eng->batch = false;
        uv_check_stop(&eng->check);
        if (kiln_store_commit(eng->store, &err) != 0) {
            for (kiln_run *r = eng->runs; r; r = r->next)
                kiln_engine__store_failed(r, &err);
            /* Their ends not recorded: recovery may read them. */
            while (eng->n_spares > eng->n_spares_ready)
                free(eng->spares[--eng->n_spares]);
        }
        eng->n_spares_ready = eng->n_spares;
    }
    /* Told in order; what the owners do meanwhile queues anew. */
    while (eng->n_events && !eng->batch) {
        ev = eng->events;
        n = eng->n_events;
        eng->events = NULL;
        eng->n_events = eng->cap_events = 0;
        for (size_t i = 0; i < n; i++) {
            kiln_run *r = ev[i].run;
            if (ev[i].step >= 0)
                r->steps[ev[i].step].event_queued = false;
            r->on_event(r, ev[i].step, r->data);
        }
        free(ev);
    }
}

void kiln_engine__spare_put(kiln_engine *eng, char *path)
{
    if (eng->n_spares < KILN_ARRAY_SIZE(eng->spares))
        eng->spares[eng->n_spares++] = path;
    else
        free(path);
}

char *kiln_engine__spare_take(kiln_engine *eng)
{
    char *path;
    if (eng->n_spares_ready == 0)
        return NULL;
    /* The last committed one; the last waiting one takes its place. */
    path = eng->spares[--eng->n_spares_ready];
    eng->spares[eng->n_spares_ready] = eng->spares[--eng->n_spares];
    return path;
}

/* s succeeded (at at_ms; 0: now): the steps whose last need it was
 * become ready. */
void kiln_engine__succeed(step_rt *s, const char *why, int64_t at_ms)
{
    kiln_run *run = s->run;
    kiln_engine__step_set_at(s, KILN_STEP_SUCCEEDED, why, at_ms);
    for (size_t i = 0; i < s->n_down; i++) {
        step_rt *d = &run->steps[s->down[i]];
        if (--d->unmet == 0 && d->state == KILN_STEP_PENDING &&
            !run->cancelling)
            kiln_engine__step_set(d, KILN_STEP_READY, NULL);
    }
}

void kiln_engine__pass(step_rt *s, const char *why, bool fails)
{
    kiln_run *run = s->run;
    kiln_engine__tx_begin(run);
    /* Skipped on purpose, as a gate skips: not a failure of the run
     * (unless it could not run). */
    s->by_gate = !fails;
    kiln_engine__step_set(s, KILN_STEP_SKIPPED, why);
    for (size_t i = 0; i < s->n_down; i++) {
        step_rt *d = &run->steps[s->down[i]];
        if (--d->unmet == 0 && d->state == KILN_STEP_PENDING &&
            !run->cancelling)
            kiln_engine__step_set(d, KILN_STEP_READY, NULL);
    }
    kiln_engine__tx_end(run);
}

/* Mark everything downstream of s skipped, depth first. */
void kiln_engine__skip_downstream(step_rt *s, const char *why, bool by_gate)
{
    for (size_t i = 0; i < s->n_down; i++) {
        step_rt *d = &s->run->steps[s->down[i]];
        if (d->state == KILN_STEP_PENDING) {
            d->by_gate = by_gate;
            kiln_engine__step_set(d, KILN_STEP_SKIPPED, why);
            kiln_engine__skip_downstream(d, why, by_gate);
        }
    }
}

/* Slots a step holds while it runs: its resources.cpus on this machine
 * (at most --jobs, so a step asking for more still runs, alone), none
 * when a cluster runs it: the cluster's scheduler weighs those. */
unsigned kiln_engine__step_slots(const kiln_engine *eng, const kiln_step *st)
{
    unsigned n = st->resources->cpus ? st->resources->cpus : 1;
    if (kiln_executor_remote(st->executor))
        return 0;
    return n < eng->jobs ? n : eng->jobs;
}

/* Take s->slots (and a place in the step's pool) for s. */
void kiln_engine__take_slot(step_rt *s)
{
    kiln_engine *eng = s->run->eng;
    struct pool *pool = step_pool(eng, &s->run->p->steps[s->idx]);
    eng->busy += s->slots;
    s->run->n_running++;
    kiln_engine__matrix_count(s, 1);
    if (pool)
        pool->busy++;
}

/* A step's slot (and its pool's) is free again. */
void kiln_engine__release_slot(step_rt *s)
{
    kiln_engine *eng = s->run->eng;
    struct pool *pool = step_pool(eng, &s->run->p->steps[s->idx]);
    eng->busy -= s->slots;
    s->run->n_running--;
    kiln_engine__matrix_count(s, -1);
    if (pool)
        pool->busy--;
}

/* The next READY step of run whose pool has room and whose slots are
 * free, or NULL. A step weighing more than what is free waits while
 * lighter ones behind it may start. */
static step_rt *next_ready(kiln_run *run)
{
    if (run->cancelling)
        return NULL;
    if (run->eng->busy >= run->eng->jobs && run->n_ready_unslotted == 0)
        return NULL; /* nothing ready could start */
    for (step_rt *s = run->ready_head; s; s = s->ready_next) {
        struct pool *pool;
        if (s->phase == PHASE_CACHE)
            continue;
        pool = step_pool(run->eng, &run->p->steps[s->idx]);
        s->slots = kiln_engine__step_slots(run->eng, &run->p->steps[s->idx]);
        if ((!pool || pool->busy < pool->cap) &&
            run->eng->busy + s->slots <= run->eng->jobs &&
            kiln_engine__matrix_room(s))
            return s;
    }
    return NULL;
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
        if (s->attempt == 0 && s->run->skip && s->run->skip[s->idx]) {
            kiln_engine__pass(s, s->run->skip[s->idx],
                              s->run->skip_fails[s->idx]);
        } else if (s->attempt == 0 && s->run->side_effects_off &&
                   s->run->p->steps[s->idx].kind == KILN_KIND_DEPLOY) {
            kiln_engine__pass(s, "a deploy step: side effects are off "
                              "(kiln reproduce --with-deploy runs it)",
                              false);
        } else if (kiln_engine__gate_passes(s)) {
            const char *only = s->run->reuse_only
                                   ? s->run->reuse_only[s->idx] : NULL;
            /* Not selected but needed: the cache first, then what an
             * earlier run made, and never run. */
            if (only && kiln_engine__cacheable(s))
                kiln_engine__prepare(s);
            else if (s->attempt == 0 && s->run->reuse_exec &&
                     s->run->reuse_exec[s->idx] > 0)
                kiln_engine__step_reuse(s, s->run->reuse_exec[s->idx]);
            else if (only)
                kiln_engine__step_unavailable(s, only);
            else if (kiln_engine__needs_prepare(s))
                kiln_engine__prepare(s);
            else if (kiln_engine__step_start(s)) {
                if (eng->n_spawn == eng->cap_spawn) {
                    eng->cap_spawn = eng->cap_spawn ? eng->cap_spawn * 2
                                                    : 16;
                    eng->spawn = kiln_realloc(eng->spawn, eng->cap_spawn *
                                              sizeof(*eng->spawn));
                }
                eng->spawn[eng->n_spawn++] = s;
            }
        }
        kiln_engine__run_maybe_finish(s->run);
    }
    /* The attempts recorded, with everything before them, committed at
     * once; then their processes start. */
    kiln_engine__flush(eng);
    for (size_t i = 0; i < eng->n_spawn; i++)
        kiln_engine__step_spawn(eng->spawn[i]);
    eng->n_spawn = 0;
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
    /* What starting them wrote (their processes' ids): never left open
     * while the loop waits. */
    kiln_engine__flush(eng);
}

/* After the turn's I/O callbacks: commit the batch, unless a dispatch
 * comes before the loop waits again (it commits the batch first). */
static void on_check(uv_check_t *check)
{
    kiln_engine *eng = check->data;
    if (!eng->dispatch_wanted)
        kiln_engine__flush(eng);
}

void kiln_engine__request_dispatch(kiln_engine *eng)
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

/* A failed run's reason, in b: every step that failed, with its own
 * reason ("step \"train\" failed: exit 1", "steps \"a\" and \"b\"
 * failed: a: exit 1; b: timed out after 5s"). NULL when none did (a
 * step was skipped for another cause). */
static bool failed(kiln_step_state st)
{
    return st == KILN_STEP_FAILED || st == KILN_STEP_TIMED_OUT;
}

static const char *failed_reason(kiln_run *run, kiln_buf *b)
{
    size_t n = 0, k = 0, i;
    for (i = 0; i < run->p->n_steps; i++)
        n += failed(run->steps[i].state);
    if (n == 0)
        return NULL;
    kiln_buf_puts(b, n == 1 ? "step " : "steps ");
    for (i = 0; i < run->p->n_steps; i++) {
        if (!failed(run->steps[i].state))
            continue;
        k++;
        kiln_buf_printf(b, "%s\"%s\"", k == 1 ? "" : k == n ? " and " : ", ",
                        run->p->steps[i].name);
    }
    kiln_buf_puts(b, " failed: ");
    k = 0;
    for (i = 0; i < run->p->n_steps; i++) {
        const step_rt *s = &run->steps[i];
        if (!failed(s->state))
            continue;
        if (n > 1)
            kiln_buf_printf(b, "%s%s: ", k++ ? "; " : "",
                            run->p->steps[i].name);
        kiln_buf_puts(b, s->reason ? s->reason : "failed");
    }
    return kiln_buf_cstr(b);
}

/* Record the run's end (run->state, reason) with what on_ending records,
 * in one transaction. */
static int record_end(kiln_run *run, const char *reason, kiln_err *err)
{
    kiln_store *st = run->eng->store;
    if (!run->on_ending)
        return kiln_store_run_set_state(st, run->id, run->state, reason,
                                        err);
    if (kiln_store_begin(st, err) != 0)
        return KILN_ERROR;
    if (kiln_store_run_set_state(st, run->id, run->state, reason,
                                 err) != 0) {
        kiln_store_rollback(st);
        return KILN_ERROR;
    }
    run->on_ending(run, run->data);
    kiln_crash_point("run-ending");
    return kiln_store_commit(st, err);
}

/* End the run once every step has ended. */
/* Did a cancel or a drain stop any step of run? */
static bool run_has_cancelled(const kiln_run *run)
{
    for (size_t i = 0; i < run->p->n_steps; i++)
        if (run->steps[i].state == KILN_STEP_CANCELLED)
            return true;
    return false;
}

void kiln_engine__run_maybe_finish(kiln_run *run)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_buf b = KILN_BUF_INIT;
    const char *reason = NULL;
    char why[600];

    if (run->finished || run->n_done < run->p->n_steps || run->n_hashing)
        return;
    /* Everything of the run recorded and told before its end. */
    kiln_engine__flush(run->eng);
    if (run->finished)
        return;
    run->finished = true;
    if (run->store_err.code) {
        /* Failed for a reason of kiln's own, said as it is. */
        run->state = KILN_RUN_FAILED;
        snprintf(why, sizeof(why), "cannot record: %s", run->store_err.msg);
        reason = why;
    } else if (run->cancelling && run_has_cancelled(run)) {
        run->state = KILN_RUN_CANCELLED;
        reason = "cancelled";
    } else {
        /* Not cancelled, or a drain (kiln serve stopping) that every
         * step outlived: as they ended. */
        run->state = KILN_RUN_SUCCEEDED;
        for (size_t i = 0; i < run->p->n_steps; i++) {
            kiln_step_state st = run->steps[i].state;
            /* A gate saying no is a decision, not a failure. */
            if (st != KILN_STEP_SUCCEEDED && st != KILN_STEP_GATED &&
                !(st == KILN_STEP_SKIPPED && run->steps[i].by_gate))
                run->state = KILN_RUN_FAILED;
        }
        if (run->state == KILN_RUN_FAILED)
            reason = failed_reason(run, &b);
    }
    if (record_end(run, reason, &err) != 0 && run->store_err.code == 0) {
        run->store_err = err;
        kiln_err_print(&err);
    }
    kiln_buf_dispose(&b);
    unlink_run(run);
    kiln_engine__emit(run, -1);
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
            kiln_engine__timer_stop(s);
            kiln_engine__step_set(s, KILN_STEP_CANCELLED, reason);
        } else if (s->phase == PHASE_SECRETS) {
            kiln_engine__secrets_stop(s); /* it does not start */
        }
    }
    kiln_engine__run_maybe_finish(run);
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
            kiln_engine__timer_stop(s);
            kiln_engine__step_set(s, KILN_STEP_CANCELLED, "cancelled");
            break;
        case KILN_STEP_RUNNING:
            if (s->phase == PHASE_SECRETS) {
                kiln_engine__secrets_stop(s); /* it does not start */
            } else if (s->ex && s->task) {
                kiln_executor_cancel(s->ex, s->task, force);
                kiln_engine__stop_container(s, force);
            }
            break;
        default:
            break;
        }
    }
    kiln_engine__run_maybe_finish(run);
}

/* The environment every step of the run starts from. */
static void run_base_env(kiln_env *env, kiln_run *run,
                         const kiln_run_options *o)
{
    const kiln_pipeline *p = run->p;
    char id[32];

    kiln_env_borrow(env, environ);
    kiln_engine__env_set_kv(env, p->n_env, p->env);
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

/* The run's memory, once nothing refers to it. */
static void run_dispose(kiln_run *run)
{
    free(run->down_edges);
    for (size_t i = 0; i < run->n_workdirs; i++)
        free(run->workdirs[i]);
    free(run->workdirs);
    for (size_t i = 0; i < run->n_steps; i++) {
        kiln_env_dispose(&run->steps[i].env);
        kiln_artifact_list_dispose(&run->steps[i].inputs);
        free(run->steps[i].log_path);
        free(run->steps[i].status_path);
        free(run->steps[i].job_name);
        free(run->steps[i].metrics_path);
        free(run->steps[i].reason);
        kiln_engine__prepared_dispose(&run->steps[i]);
        if (run->steps[i].x) {
            free(run->steps[i].x->selected);
            free(run->steps[i].x->select_note);
            free(run->steps[i].x);
        }
        kiln_engine__task_free(&run->steps[i]);
    }
    for (size_t i = 0; run->skip && i < run->n_steps; i++)
        free(run->skip[i]);
    free(run->skip);
    free(run->skip_fails);
    for (size_t i = 0; run->reuse_only && i < run->n_steps; i++)
        free(run->reuse_only[i]);
    free(run->reuse_only);
    for (size_t i = 0; i < run->n_model_pins; i++) {
        free((char *)run->model_pins[i].key);
        free((char *)run->model_pins[i].value);
    }
    free(run->model_pins);
    for (size_t i = 0; i < run->n_image_pins; i++) {
        free((char *)run->image_pins[i].key);
        free((char *)run->image_pins[i].value);
    }
    free(run->image_pins);
    for (size_t i = 0; i < run->n_images; i++) {
        free(run->images[i].key);
        kiln_image_dispose(&run->images[i].img);
    }
    free(run->images);
    uv_mutex_destroy(&run->images_lock);
    free(run->steps);
    free(run->reuse_exec);
    kiln_env_dispose(&run->base_env);
    for (size_t i = 0; i < run->n_params; i++)
        free((char *)run->params[i].value);
    free(run->params);
    free(run->matrix_running);
    free(run->log_dir);
    free(run->root);
    free(run->file);
    free(run);
}

static void on_timer_close(uv_handle_t *h)
{
    kiln_run *run = ((step_rt *)h->data)->run;
    free(h);
    if (--run->pending_closes == 0 && run->free_requested)
        run_dispose(run);
}

static void on_closer_close(uv_handle_t *h)
{
    kiln_run *run = h->data;
    if (--run->pending_closes == 0 && run->free_requested)
        run_dispose(run);
}

/* The part of starting and resuming a run that is the same: the runtime
 * state of a run already recorded as id. */
kiln_run *kiln_engine__run_new(kiln_engine *eng, const kiln_run_options *o,
                               int64_t id)
{
    const kiln_pipeline *p = o->pipeline;
    kiln_run *run = kiln_calloc(1, sizeof(*run));
    size_t n_edges = 0;
    run->eng = eng;
    run->p = p;
    run->n_steps = p->n_steps;
    run->id = id;
    run->root = kiln_strdup(o->root ? o->root : p->dir);
    run->file = kiln_path_absolute(o->file ? o->file : p->file);
    run->on_event = o->on_event;
    run->on_ending = o->on_ending;
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
    run->no_cache = o->no_cache;
    run->side_effects_off = o->side_effects_off;
    run->keep_aliases = o->keep_aliases || o->side_effects_off;
    run->via = o->started_via ? o->started_via : "cli";
    run->reproduces = o->reproduces;
    if (o->n_model_pins) {
        run->n_model_pins = o->n_model_pins;
        run->model_pins = kiln_calloc(o->n_model_pins, sizeof(kiln_kv));
        for (size_t i = 0; i < o->n_model_pins; i++) {
            run->model_pins[i].key = kiln_strdup(o->model_pins[i].key);
            run->model_pins[i].value = kiln_strdup(o->model_pins[i].value);
        }
    }
    uv_mutex_init(&run->images_lock);
    if (o->n_image_pins) {
        run->n_image_pins = o->n_image_pins;
        run->image_pins = kiln_calloc(o->n_image_pins, sizeof(kiln_kv));
        for (size_t i = 0; i < o->n_image_pins; i++) {
            run->image_pins[i].key = kiln_strdup(o->image_pins[i].key);
            run->image_pins[i].value = kiln_strdup(o->image_pins[i].value);
        }
    }
    if (o->skip) {
        run->skip = kiln_calloc(p->n_steps, sizeof(char *));
        run->skip_fails = kiln_calloc(p->n_steps, sizeof(bool));
        for (size_t i = 0; i < p->n_steps; i++) {
            run->skip[i] = o->skip[i] ? kiln_strdup(o->skip[i]) : NULL;
            run->skip_fails[i] = o->skip_fails && o->skip_fails[i];
        }
    }
    if (o->reuse_only) {
        run->reuse_only = kiln_calloc(p->n_steps, sizeof(char *));
        for (size_t i = 0; i < p->n_steps; i++)
            run->reuse_only[i] = o->reuse_only[i]
                                     ? kiln_strdup(o->reuse_only[i]) : NULL;
    }
    {
        kiln_model_alias *aliases = NULL;
        size_t n = 0;
        kiln_err err = KILN_ERR_INIT;
        if (kiln_store_model_aliases(&aliases, &n, eng->store, &err) == 0)
            run->has_aliases = n > 0;
        kiln_model_aliases_free(aliases, n);
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
    run->matrix_running = kiln_calloc(p->n_matrices + 1, sizeof(unsigned));
    run->steps = kiln_calloc(p->n_steps, sizeof(step_rt));
    uv_idle_init(eng->loop, &run->closer);
    run->closer.data = run;
    for (size_t i = 0; i < p->n_steps; i++) {
        step_rt *s = &run->steps[i];
        s->run = run;
        s->idx = i;

        s->unmet = (unsigned)p->steps[i].needs.n;
        n_edges += p->steps[i].needs.n;
        for (size_t j = 0; j < p->steps[i].needs.n; j++)
            run->steps[p->steps[i].need_idx[j]].n_down++;
        /* Steps in a row with the same workdir (usually every step)
         * share the path. */
        if (i == 0 || !p->steps[i].workdir || !p->steps[i - 1].workdir ||
            strcmp(p->steps[i].workdir, p->steps[i - 1].workdir) != 0) {
            run->workdirs = kiln_realloc(run->workdirs,
                                         (run->n_workdirs + 1) *
                                             sizeof(char *));
            run->workdirs[run->n_workdirs++] =
                kiln_path_join(run->root, p->steps[i].workdir);
        }
        s->workdir = run->workdirs[run->n_workdirs - 1];
        if (p->steps[i].timeout_ms > 0 || p->steps[i].retries > 0) {
            s->timer = kiln_malloc(sizeof(*s->timer));
            uv_timer_init(eng->loop, s->timer);
            s->timer->data = s;
        }
    }
    /* Each step's down: a slice of one array, filled in step order. */
    run->down_edges = kiln_malloc((n_edges ? n_edges : 1) * sizeof(size_t));
    for (size_t i = 0, at = 0; i < p->n_steps; i++) {
        run->steps[i].down = run->down_edges + at;
        at += run->steps[i].n_down;
        run->steps[i].n_down = 0;
    }
    for (size_t i = 0; i < p->n_steps; i++)
        for (size_t j = 0; j < p->steps[i].needs.n; j++) {
            step_rt *up = &run->steps[p->steps[i].need_idx[j]];
            up->down[up->n_down++] = i;
        }
    for (size_t i = 0; i < p->n_steps; i++)
        run->steps[p->topo[i]].rank = (unsigned)i;
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
    bool fresh;
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
    rec.reproduces = o->reproduces;
    rec.started_by = o->started_by;
    rec.retry_of = o->reuse_run;
    rec.started_via = o->started_via ? o->started_via : "cli";
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
    /* Made now (not there from a database since removed): no file of
     * an earlier process is in it, nothing there needs removing. */
    fresh = rc == 0 && access(log_dir, F_OK) != 0;
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
    run = kiln_engine__run_new(eng, o, id);
    run->fresh_logs = fresh;
    *out = run;
    kiln_engine__emit(run, -1);
    for (size_t i = 0; i < p->n_steps; i++)
        if (run->steps[p->topo[i]].unmet == 0)
            kiln_engine__step_set(&run->steps[p->topo[i]], KILN_STEP_READY,
                                  NULL);
    kiln_engine__request_dispatch(eng);
    return 0;
}

void kiln_run_free(kiln_run *run)
{
    if (!run)
        return;
    assert(run->finished);
    run->free_requested = true;
    run->pending_closes = 1;
    uv_close((uv_handle_t *)&run->closer, on_closer_close);
    for (size_t i = 0; i < run->n_steps; i++)
        if (run->steps[i].timer) {
            run->pending_closes++;
            uv_close((uv_handle_t *)run->steps[i].timer, on_timer_close);
        }
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
    return run->steps[step].reason ? run->steps[step].reason : "";
}
