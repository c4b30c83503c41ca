/*
 * internal.h: what the engine's files share: the runtime state of an
 * engine, its runs and their steps, and the functions that move them.
 *
 *   engine.c .. the engine, dispatch, a run's life and every state change
 *   step.c .... gates, an attempt's environment, start, timeout and end
 *   hashing.c . after an attempt: artifacts, metrics, model versions, the
 *               cache entry, on the thread pool
 *   restore.c . before a step's first attempt: its model copies, image,
 *               environment captures and cache key, a restore of its
 *               outputs; a retry's reuse
 *   resume.c .. taking over a run a dead kiln left (kiln_run_resume())
 * and, with headers of their own: cache.c (key documents, the object
 * store), keys.c (kiln why, --dry-run), registry.c (model versions'
 * bytes), container.c (container steps), capture.c (environment
 * captures), secrets.c (a step's secrets, read when an attempt starts),
 * artifacts.c, command.c, env.c, takeover.c.
 */
#ifndef KILN_ENGINE_INTERNAL_H
#define KILN_ENGINE_INTERNAL_H

#include "engine/engine.h"
#include "engine/mover.h"
#include "engine/artifacts.h"
#include "engine/env.h"
#include "engine/container.h"
#include "engine/registry.h"
#include "executors/executor.h"

/* What a step is doing beyond its state, one at a time (tmux's job
 * states): the step's state says where it is in the DAG, its phase what
 * kiln is doing for it right now. */
typedef enum step_phase {
    PHASE_IDLE = 0,    /* nothing: not dispatched yet, or between
                          attempts */
    PHASE_CACHE,       /* its cache key and entry are being looked at, or
                          its outputs restored, on the thread pool */
    PHASE_CHECKED,     /* the cache had nothing: it runs when dispatched */
    PHASE_SECRETS,     /* its attempt is recorded, its secrets are being
                          read on the thread pool: it starts after */
    PHASE_RUNNING,     /* an attempt's process runs */
    PHASE_TIMED_OUT,   /* ...and is being stopped: its timeout passed */
    PHASE_HASHING      /* an attempt ended: its artifacts are hashed and
                          metrics read, on the thread pool */
} step_phase;

/* What only some steps use, apart so that the others (the 100,000 steps
 * of a fan-out) do not carry it: made by kiln_engine__extra() when it is
 * first set. */
typedef struct secrets_job secrets_job;

typedef struct step_extra {
    kiln_image image;       /* a container step's image, resolved before
                               its first attempt */
    char *container;        /* the running attempt's container name */
    size_t n_pins;
    kiln_registry_pin *pins; /* the model versions it reads (models:),
                                recorded as its inputs */
    kiln_env model_env;     /* KILN_MODEL_*: read-only copies */
    size_t n_captures;      /* environment captures to record with its
                               first attempt: hash and text */
    char **capture_sha, **capture_text;
    char *selected;         /* select:'s winner (an item's name), or NULL */
    char *select_note;      /* ...said as the step's reason on success */
    struct secrets_job *secrets; /* reading its secrets (PHASE_SECRETS) */
} step_extra;

typedef struct step_rt {
    kiln_run *run;
    size_t idx;
    kiln_step_state state;
    unsigned rank;          /* its place in the pipeline's topo order */
    struct step_rt *ready_prev, *ready_next; /* in run's ready list while
                                               READY, by rank */
    int attempt;            /* attempts started so far */
    unsigned unmet;         /* needs not yet succeeded */
    unsigned slots;         /* of --jobs it holds while it runs */
    step_phase phase;
    int exit_code;          /* of the attempt that ended (-1: none) */
    int term_signal;
    size_t n_down;          /* steps that need this one */
    size_t *down;           /* in the run's down_edges */
    uv_timer_t *timer;      /* retry delay, or timeout while running:
                               only a step with retries or a timeout has
                               one (152 bytes) */
    kiln_task *task;        /* the attempt's, from its preparation to its
                               end (NULL otherwise: a finished step keeps
                               none of its 500 bytes) */
    kiln_executor *ex;      /* while running */
    int64_t exec_id;        /* the running attempt's executions row */
    int64_t exec_finished_ms;
    char cache_key[KILN_HASH_HEX]; /* "" until computed */
    bool event_queued;      /* a change waits in the engine's events */
    bool may_cache;         /* its cache is looked at and written */
    bool by_gate;           /* SKIPPED because something upstream was
                               gated: not a failure */
    bool timed_out;         /* the last attempt ran past the timeout */
    kiln_artifact_list inputs; /* hashed for the key (cache_key set),
                                  before the step ran: what it consumed,
                                  recorded as such */
    char *key_doc;          /* what went into cache_key (JSON text), or
                               NULL */
    step_extra *x;          /* what few steps use; NULL until one does */
    int64_t started_ms, finished_ms;
    char *reason;           /* why it is in its state, whole; NULL: "" */
    kiln_env env;           /* the running attempt's environment */
    char *log_path;
    char *status_path;      /* where kiln-shim writes the exit status */
    char *metrics_path;     /* $KILN_METRICS of the attempt */
    const char *workdir;    /* one of the run's workdirs */
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
    size_t *down_edges;      /* every step's down, one after the other */
    char **workdirs;         /* the steps' working directories, each once
                                for a series of steps that share it */
    size_t n_workdirs;
    step_rt *ready_head;     /* READY steps, by rank: dispatch takes the */
    step_rt *ready_tail;     /* first that may start, never scans all */
    size_t n_ready_unslotted; /* ...of them, those that take no slot */
    bool fresh_logs;         /* log_dir was made by this run's start:
                                nothing of an earlier process is there */
    char upstream_sha[KILN_HASH_HEX]; /* the $KILN_UPSTREAM file written
                                         last, by its content's hash */
    const kiln_step *upstream_of; /* the step it was made for (its needs
                                     were all ended then) */
    char *root;
    char *file;              /* the pipeline file the run was started
                                with (a pinned run's is in its checkout):
                                validate-step reads the checks there */
    char *log_dir;           /* STATE/logs/RUN: STEP.ATTEMPT.log files */
    int64_t reuse_run;       /* a retry of this run (0: none)... */
    int64_t *reuse_exec;     /* ...reusing these executions, by step */
    kiln_env base_env;       /* environ + pipeline env + params + KILN_* */
    bool no_cache;           /* nothing from the cache (--no-cache) */
    bool side_effects_off;   /* kiln reproduce: deploy steps do not run,
                                register: registers nothing */
    bool keep_aliases;       /* register: moves no alias */
    const char *via;         /* how it was started ("cli", "daemon"...;
                                static): its alias moves are audited so */
    int64_t reproduces;      /* kiln reproduce: the run repeated; a gate
                                reads the metrics of a step not run again
                                from there */
    bool has_aliases;        /* the registry had aliases at the start:
                                steps get KILN_MODEL_<NAME>_<ALIAS> */
    size_t n_model_pins;     /* kiln reproduce: models: read these
                                versions (name -> version, as text) */
    kiln_kv *model_pins;
    uv_mutex_t images_lock;  /* images resolved in this run, once per
                                engine and reference, on the thread pool:
                                every step of a run runs the same image
                                for the same tag, and pulls it once */
    size_t n_images;
    struct run_image {
        char *key;           /* "ENGINE REF PULL" */
        int rc;              /* the resolution's result... */
        kiln_err err;
        kiln_image img;      /* ...and image */
    } *images;
    size_t n_image_pins;     /* kiln reproduce: container steps run these
                                images (step -> image ID) */
    kiln_kv *image_pins;
    char **skip;             /* NULL, or per step why it does not run
                                (kiln reproduce): what needs it goes on */
    bool *skip_fails;        /* ...and whether that fails the run */
    char **reuse_only;       /* NULL, or per step: not selected (kiln run
                                --from/--only/--until) but needed, so
                                served from the cache or reuse_exec, or
                                else failed with this reason */
    size_t n_params;
    kiln_kv *params;         /* effective params (gates read them) */
    unsigned *matrix_running; /* by p->matrices: items running */
    kiln_err store_err;
    bool drain_wanted;       /* a store failure: drain at next dispatch */
    kiln_run_event_cb on_event;
    kiln_run_done_cb on_ending;
    kiln_run_done_cb on_done;
    void *data;
    uv_idle_t closer;        /* never started: closed on kiln_run_free(),
                                so the memory goes on a later turn of the
                                loop (the caller may be inside the
                                engine's own callback) */
    int pending_closes;      /* handles (closer, step timers) closing */
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
    /* State changes are written in one transaction per turn of the loop
     * (the batch), committed before anything that depends on them: the
     * processes of the attempts it records, what is told of them (events
     * wait in events[] until then), a run's end. */
    bool batch;              /* the batch's transaction is open */
    uv_check_t check;        /* commits it after the turn's I/O callbacks */
    int closing;             /* handles still closing in kiln_engine_free */
    size_t n_events, cap_events;
    struct engine_event {
        kiln_run *run;
        ssize_t step;        /* -1: the run */
    } *events;               /* changes to tell once the batch commits */
    size_t n_spawn, cap_spawn;
    step_rt **spawn;         /* attempts recorded, started once committed */
    /* The status files of local attempts whose end is recorded, handed
     * to the executor as the next attempts' (kiln_task.spare_path):
     * creating a file costs more than a step on some file systems,
     * renaming one little. The first n_spares_ready are committed; the
     * others wait for the batch. */
    size_t n_spares, n_spares_ready;
    char *spares[64];
    kiln_mover *mover;       /* alias moves, one at a time off the loop */
};

/* Take over path (an ended attempt's status file, recorded in the
 * batch), to hand out once the batch is committed. */
void kiln_engine__spare_put(kiln_engine *eng, char *path);
/* A committed spare file (the caller frees the string), or NULL. */
char *kiln_engine__spare_take(kiln_engine *eng);

/* KILN_PARAM_<NAME>: the parameter's name in upper case. */

/* engine.c: state changes, slots, dispatch. */
/* Remember the first store failure and start no more steps. */
void kiln_engine__store_failed(kiln_run *run, const kiln_err *err);
/* Tell the run's owner something changed (step -1: the run). */
void kiln_engine__emit(kiln_run *run, ssize_t step);
/* Stop a step's timer, when it has one. */
static inline void kiln_engine__timer_stop(step_rt *s)
{
    if (s->timer)
        uv_timer_stop(s->timer);
}

/* Change a step's state as of at_ms (0: now), record it, tell the
 * owner; kiln_engine__step_set() is as of now. */
void kiln_engine__step_set_at(step_rt *s, kiln_step_state state,
                              const char *reason, int64_t at_ms);
void kiln_engine__step_set(step_rt *s, kiln_step_state state,
                           const char *reason);
/* One transaction for the writes of one change of a run: the engine's
 * batch, opened by the first write of a turn of the loop and committed
 * once (kiln_engine__flush()), so tx_end() leaves it open. */
void kiln_engine__tx_begin(kiln_run *run);
void kiln_engine__tx_end(kiln_run *run);
/* Commit the batch (a failure is every live run's store failure), then
 * tell the runs' owners what changed in it. */
void kiln_engine__flush(kiln_engine *eng);
/* s succeeded: the steps whose last need it was become ready. */
void kiln_engine__succeed(step_rt *s, const char *why, int64_t at_ms);
/* s is skipped on purpose (not selected, side effects off): what needs
 * it goes on. */
void kiln_engine__pass(step_rt *s, const char *why, bool fails);
/* Everything downstream of s is skipped (by_gate: because of a gate). */
void kiln_engine__skip_downstream(step_rt *s, const char *why,
                                  bool by_gate);
unsigned kiln_engine__step_slots(const kiln_engine *eng,
                                 const kiln_step *st);
void kiln_engine__take_slot(step_rt *s);
void kiln_engine__release_slot(step_rt *s);
/* The engine's executor called name, created on first use. */
int kiln_engine__executor(kiln_executor **out, kiln_engine *eng,
                          const char *name, kiln_err *err);
void kiln_engine__request_dispatch(kiln_engine *eng);
/* End the run once every step has ended. */
void kiln_engine__run_maybe_finish(kiln_run *run);
/* The runtime state of a run already recorded as id. */
kiln_run *kiln_engine__run_new(kiln_engine *eng, const kiln_run_options *o,
                               int64_t id);
void kiln_engine__env_set_kv(kiln_env *e, size_t n, const kiln_kv *kv);

/* step.c: attempts. */
/* Decide a step's when: before its first attempt: true when it may run;
 * otherwise it is recorded gated (or failed) and what follows skipped. */
bool kiln_engine__gate_passes(step_rt *s);
/* Stop s's container, if it runs in one (cancel, timeout; force: no
 * grace). */
void kiln_engine__stop_container(step_rt *s, bool force);
/* Record s's next attempt (in the batch). True when its process is to
 * be started once the batch is committed (kiln_engine__step_spawn());
 * false when it could not be prepared (recorded as failed). */
bool kiln_engine__step_start(step_rt *s);
/* Start the process of the attempt kiln_engine__step_start() recorded,
 * now committed. */
void kiln_engine__step_spawn(step_rt *s);
/* A step reading its secrets for an attempt that is not to start: its
 * {command:} is killed (the attempt ends as cancelled). */
void kiln_engine__secrets_stop(step_rt *s);
/* An attempt ended at at_ms: success, another attempt, or failure. */
void kiln_engine__step_attempt_ended(step_rt *s, bool ok,
                                     const char *reason, int64_t at_ms);
/* Record the end of the running attempt and move the step on, ending the
 * transaction the caller began. */
void kiln_engine__attempt_finish(step_rt *s, kiln_exec_state status,
                                 const char *why, bool ok);
void kiln_engine__on_task_done(kiln_task *task, void *data);

/* hashing.c */
/* Finish an attempt off the loop: hash its artifacts and read its
 * metrics (only its metrics when status is not SUCCEEDED). */
void kiln_engine__hash_start(step_rt *s, kiln_exec_state status,
                             const char *why);

/* sweep.c: the items of matrix steps. */
/* May s start, as far as its matrix's max_parallel: goes? */
bool kiln_engine__matrix_room(const step_rt *s);
/* s (an item or not) starts (delta 1) or stops (-1) running. */
void kiln_engine__matrix_count(step_rt *s, int delta);
/* s failed for good. An item of an on_failure: continue matrix: what
 * needs it goes on (true: the caller skips nothing); of a fail_fast one:
 * its siblings not started are skipped (false: the caller skips what
 * needs s, as for any step). */
bool kiln_engine__item_failed(step_rt *s);
/* Taking a run over: is s a failed item of an on_failure: continue
 * matrix (what needs it counts it as ended)? Does s, which did not
 * succeed, stop what needs it (false: such an item, while a sibling
 * succeeded or may still)? */
bool kiln_engine__item_passes_on(const step_rt *s);
bool kiln_engine__item_blocks(const step_rt *s);
/* select:'s decision for s, as recorded: {from, metric, mode, selected,
 * value, ranking [{step, value}] best first}; sets s->x->selected and
 * s->x->select_note. NULL after a store error. The caller frees it. */
json_t *kiln_engine__select_doc(step_rt *s, kiln_err *err);
/* What $KILN_UPSTREAM holds for s: for every step it needs, its params
 * (an item's), status, metrics and outputs (absolute paths), and with
 * select: the winner's entry as "selected" (KILN_SELECTED_* set in
 * s->env); NULL after a store error or when select: has no winner. The
 * caller frees it. */
json_t *kiln_engine__upstream_doc(step_rt *s, kiln_err *err);
/* The attempt's task: a new one (any earlier one freed), and freeing it
 * with its argv and secrets (NULL: nothing to do). */
void kiln_engine__task_new(step_rt *s);
void kiln_engine__task_free(step_rt *s);
/* Write it to LOG_DIR/upstream-HASH.json (named by its content, shared
 * by the steps that see the same) and set KILN_UPSTREAM in s->env, for a
 * step with needs. */
int kiln_engine__write_upstream(step_rt *s, kiln_err *err);

/* restore.c */
/* Should s's cache be looked at before its first attempt? */
bool kiln_engine__cacheable(step_rt *s);
/* Does s need its inputs hashed, its models copied or its environment
 * captured before its first attempt? */
bool kiln_engine__needs_prepare(step_rt *s);
/* Before s's first attempt, off the loop: its models' copies, its
 * environment captures, its inputs hashed (and kept), its key; then the
 * cache looked up when it may be. */
void kiln_engine__prepare(step_rt *s);
/* The artifact records of an execution of s: the inputs it read, the
 * model versions it read (models:), the outputs it made, typed by what
 * declared them; *n of them (free the array; the strings are borrowed). */
kiln_artifact_rec *kiln_engine__artifact_recs(step_rt *s,
                                              const kiln_artifact_list *in,
                                              const kiln_artifact_list *out,
                                              size_t *n);
/* Record the files of each directory in list kept in the object store
 * (files, relative to workdir), by the directory's hash. */
struct kiln_cache_files;
void kiln_engine__record_trees(kiln_run *run,
                               const kiln_artifact_list *list,
                               const struct kiln_cache_files *files,
                               const char *workdir);
/* Taking over a running attempt (exec_id) of s: what its preparation
 * found, from its record (key document, model versions and their copies,
 * image). */
void kiln_engine__prepared_restore(step_rt *s, int64_t exec_id);
/* s's step_extra, made the first time. */
step_extra *kiln_engine__extra(step_rt *s);
/* Dispose what kiln_engine__prepare() left on s. */
void kiln_engine__prepared_dispose(step_rt *s);
/* Record s's environment captures (texts by hash), once, in the
 * caller's transaction; its key document goes with each execution row. */
void kiln_engine__record_key(step_rt *s);
/* A retry: record from_exec's outputs and metrics as s's, and go on. */
void kiln_engine__step_reuse(step_rt *s, int64_t from_exec);
/* A step not selected whose outputs are neither cached nor reusable: it
 * fails with why without running, and what needs it is skipped. */
void kiln_engine__step_unavailable(step_rt *s, const char *why);

#endif
