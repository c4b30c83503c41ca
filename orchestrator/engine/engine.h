/*
 * engine.h: running pipelines' DAGs on the loop.
 *
 * An engine is shared by every run of a process (`kiln run` has one run,
 * `kiln serve` many): it owns the executors and the global job limit, and
 * hands free slots to the runs' ready steps round-robin, so concurrent runs
 * share the limit fairly. A run starts a step as soon as all its needs
 * succeeded, retries failed attempts with backoff, enforces timeouts,
 * records every state change in the store as it happens, and reports
 * through callbacks.
 */
#ifndef KILN_ENGINE_H
#define KILN_ENGINE_H

#include <uv.h>

#include "dsl/dsl.h"
#include "engine/mover.h"
#include "executors/executor.h"
#include "store/store.h"

typedef struct kiln_engine kiln_engine;
typedef struct kiln_run kiln_run;

/*
 * Create an engine on loop recording into store, with logs under
 * state_dir/logs and at most jobs steps running at once (0: the number of
 * CPUs). It cannot fail (allocations abort). Free it with
 * kiln_engine_free() once every run is done.
 */
kiln_engine *kiln_engine_new(uv_loop_t *loop, kiln_store *store,
                             const char *state_dir, unsigned jobs);
/* Release the engine; its memory goes once the loop has run its close
 * callback (run the loop once more before uv_loop_close()). */
void kiln_engine_free(kiln_engine *eng); /* NULL is fine */
unsigned kiln_engine_jobs(const kiln_engine *eng);
/* Step caching (on by default): kiln run --no-cache turns it off. */
void kiln_engine_set_cache(kiln_engine *eng, bool cache);
/* The engine's registry moves (mover.h): its runs' promote: and retire:
 * go through it, and so should every other move of the process (the
 * daemon's API), so that one runs at a time. */
kiln_mover *kiln_engine_mover(kiln_engine *eng);
/* Let at most cap steps of pool name (a step's `pool:`) run at once, within
 * the global job limit. Steps naming a pool never set here are not
 * limited by it. */
void kiln_engine_set_pool(kiln_engine *eng, const char *name, unsigned cap);
/* Run the steps whose executor: is ex->ops->name on ex, an executor made
 * outside the built-in table (a test's fake, a container runtime). The
 * engine takes ex: it sets its loop, on_done and data, and frees it with
 * itself. Steps started (or taken over) after the call use it, even where
 * a built-in executor has the same name. Its steps take --jobs slots
 * unless a built-in remote executor has its name (kiln_executor_remote()).
 * The DSL takes any executor: name; the CLI's checks (kiln validate, kiln
 * run) want a built-in one. */
void kiln_engine_add_executor(kiln_engine *eng, kiln_executor *ex);

/* Something changed: step is the step's index, or -1 for the run itself. */
typedef void (*kiln_run_event_cb)(kiln_run *run, ssize_t step, void *data);
/* The run ended; the callback may free it. */
typedef void (*kiln_run_done_cb)(kiln_run *run, void *data);

typedef struct kiln_run_options {
    const kiln_pipeline *pipeline; /* borrowed; outlives the run */
    const char *file;       /* the pipeline file's absolute path */
    const char *hash;       /* sha256 of its bytes */
    const char *root;       /* steps' workdirs are relative to this;
                               NULL: pipeline->dir */
    size_t n_params;        /* overrides of the pipeline's params */
    const kiln_kv *params;
    const char *trigger;    /* "manual" by default */
    const char *trigger_info; /* JSON text or NULL */
    const char *started_by; /* who starts it: a user, "scheduler",
                               "trigger:drift"... (the audit trail's
                               run.started row); NULL: nobody said */
    const char *started_via; /* "cli", "api", "page", "daemon" (static) */
    const char *git_commit; /* NULL: not in a repository */
    const char *git_branch;
    bool git_dirty;
    int64_t reuse_run;      /* a retry: the run retried, or 0 */
    size_t n_reuse;         /* its steps that succeeded, and the */
    const kiln_kv *reuse;   /* execution ids (as text) that made them:
                               those steps are recorded as reused, not
                               run again */
    int64_t reproduces;     /* kiln reproduce: the run repeated, or 0 */
    bool no_cache;          /* nothing comes from the cache (kiln run
                               --no-cache), as the engine's
                               kiln_engine_set_cache() for one run: a run
                               taken over keeps it */
    bool side_effects_off;  /* deploy steps do not run, register:
                               registers nothing, no alias moves */
    bool keep_aliases;      /* register: registers, but no alias moves
                               (kiln reproduce --with-deploy) */
    size_t n_model_pins;    /* models: of these names read these
                               versions (name -> version as text) */
    const kiln_kv *model_pins;
    size_t n_image_pins;    /* container steps of these names run these
                               images (step -> image ID: kiln reproduce) */
    const kiln_kv *image_pins;
    const char *const *skip; /* NULL, or per step (pipeline order): NULL
                               to run it, else why it does not (it is
                               recorded skipped; what needs it goes on,
                               its outputs being where the caller put
                               them) */
    const bool *skip_fails;  /* NULL, or per step: its skip is a failure
                               of the run (it could not run) */
    const char *const *reuse_only; /* NULL, or per step (pipeline order):
                               NULL to run it as usual, else it is not
                               selected but needed (kiln run --from): it
                               is served from the cache, else from its
                               reuse execution, else it fails with this
                               reason; it never runs */
    kiln_run_event_cb on_event; /* may be NULL */
    /* May be NULL: called as the run ends, inside the transaction that
     * records its end, so what it records (notifications) commits with
     * the end or not at all (a run killed in between is unfinished, and
     * recovery ends it again). */
    kiln_run_done_cb on_ending;
    kiln_run_done_cb on_done;
    void *data;
} kiln_run_options;

#define KILN_RUN_OPTIONS_INIT {0}

/* A param's value, and all of a run's together: steps get each in their
 * environment ($KILN_PARAM_NAME), where one string may not pass 128 KiB
 * and all of them with the arguments 2 MiB (Linux). */
#define KILN_PARAM_VALUE_MAX (32 * 1024)
#define KILN_PARAMS_MAX (128 * 1024)

/*
 * Check param overrides against the pipeline's declared params and the
 * sizes above. Returns 0, or KILN_EINVAL naming the unknown parameter or
 * the one too long.
 */
int kiln_run_check_params(const kiln_pipeline *p, size_t n,
                          const kiln_kv *params, kiln_err *err);

/*
 * Record a new run and start it. Returns 0 and *out, or an error (the store
 * could not record it) and no callback will follow. After a 0 return
 * on_done runs exactly once; free the run there or after it with
 * kiln_run_free().
 */
int kiln_run_start(kiln_run **out, kiln_engine *eng,
                   const kiln_run_options *opts, kiln_err *err);
/*
 * Take over a run a kiln process that died left unfinished, as recorded
 * in rec (kiln_store_run_get()). Steps that ended keep their
 * end and never run again; running ones are found again through their
 * executor (kiln_executor_attach) or, gone without a trace, count as a
 * lost attempt and are retried per their retries; the rest run as usual.
 * opts as for kiln_run_start() (its record fields are ignored). Returns
 * KILN_EINVAL when the definition no longer fits the record.
 */
int kiln_run_resume(kiln_run **out, kiln_engine *eng,
                    const kiln_run_options *opts, const kiln_run_info *rec,
                    kiln_err *err);
/* Selecting steps (select.c). */

/*
 * What a retry of run (of definition p) reuses: the executions that made
 * its steps that succeeded, as kiln_run_options' reuse (*out, *n: keys
 * borrowed from run, values allocated; free with kiln_run_reuse_free()).
 * With from, that step and every step downstream of it run again.
 * Returns KILN_EINVAL when p has no step from.
 */
int kiln_run_retry_reuse(kiln_kv **out, size_t *n, const kiln_pipeline *p,
                         const kiln_run_info *run, const char *from,
                         kiln_err *err);
void kiln_run_reuse_free(kiln_kv *reuse, size_t n); /* NULL is fine */

/* The steps kiln run --only/--from/--until picks: each criterion given
 * (only: n_only names; from: it and what is downstream of it; until: it
 * and what is upstream of it) narrows the selection. */
typedef struct kiln_run_selection {
    size_t n_only;
    const char *const *only;
    const char *from;
    const char *until;
} kiln_run_selection;

/*
 * Fill selected (p->n_steps, pipeline order) by sel. Returns 0, or
 * KILN_EINVAL naming a step p does not have, or when nothing is selected.
 */
int kiln_run_select(bool *selected, const kiln_pipeline *p,
                    const kiln_run_selection *sel, kiln_err *err);
/* Mark step and every step downstream (down) or upstream (!down) of it
 * in mark (p->n_steps, pipeline order). */
void kiln_pipeline_mark(bool *mark, const kiln_pipeline *p, size_t step,
                        bool down);

/* Cancel: pending steps are cancelled at once, running ones are stopped
 * (force: SIGKILL now rather than SIGTERM first). */
void kiln_run_cancel(kiln_run *run, bool force);
/* Stop starting steps: pending ones are cancelled with reason, running
 * ones go on; a later kiln_run_cancel() stops them. */
void kiln_run_drain(kiln_run *run, const char *reason);
void kiln_run_free(kiln_run *run); /* after on_done; NULL is fine */

/* Accessors. */
int64_t kiln_run_id(const kiln_run *run);
kiln_run_state kiln_run_state_get(const kiln_run *run);
const kiln_pipeline *kiln_run_pipeline(const kiln_run *run);
/* The first store error that stopped the run, or NULL. */
const kiln_err *kiln_run_store_error(const kiln_run *run);
kiln_step_state kiln_run_step_state(const kiln_run *run, size_t step);
int kiln_run_step_attempt(const kiln_run *run, size_t step);
int64_t kiln_run_step_started(const kiln_run *run, size_t step);
int64_t kiln_run_step_finished(const kiln_run *run, size_t step);
/* Why the step failed, was skipped or is retrying; "" otherwise. */
const char *kiln_run_step_reason(const kiln_run *run, size_t step);

#endif
