/*
 * store.h: the SQLite record of pipelines, runs and step executions.
 *
 * One kiln.db per state directory, in WAL mode, shared safely by several
 * kiln processes (a busy handler, then KILN_EBUSY with a clear message).
 * Every state change is its own short transaction, committed when it
 * happens, or part of a larger one (kiln_store_begin()), so a crash never
 * leaves a record claiming a success that did not happen. Calls block
 * briefly on the calling thread (one prepared statement each); the engine
 * makes them on the loop thread.
 *
 * Reads hand out typed records (kiln_run_info, with enum states) that the
 * caller frees with one call, as libgit2's odb objects; the JSON views
 * for --json output and the HTTP API are in store/json.h.
 *
 * Times are milliseconds since the epoch, UTC.
 *
 *   Opening and transactions .......... store.c
 *   States and their stored text ....... states.c
 *   Runs, steps and executions ......... runs.c
 *   Artifacts and lineage .............. lineage.c
 *   Metrics ............................ metrics.c
 *   The step cache ..................... cache.c
 *   The model registry ................. models.c
 *   The audit trail .................. audit.c
 *   Schedules, fires, trigger checks,
 *   trigger state ...................... triggers.c
 *   Notifications, pending and sent .... notifications.c
 *   Retention: old runs, logs, checks .. retention.c
 *   Step logs, plain or gzip'd ......... logs.c
 *   JSON views ......................... json.c (store/json.h)
 */
#ifndef KILN_STORE_H
#define KILN_STORE_H

#include <stdio.h>
#include <sys/types.h>

#include "base/base.h"

typedef struct kiln_store kiln_store;

/* The current schema version; kiln_store_open() migrates older files. */
#define KILN_STORE_SCHEMA 26

/* Opening and transactions. */

/*
 * Open (creating and migrating as needed) the database at path. Returns 0
 * and *out (close with kiln_store_close()), KILN_EBUSY when another process
 * holds it locked too long, or KILN_ERROR.
 */
int kiln_store_open(kiln_store **out, const char *path, kiln_err *err);
/* Open an existing database to read only: nothing is written (no WAL
 * switch, no migration), so it works on a full disk or a read-only state
 * directory. KILN_ERROR when its schema is not this kiln's. */
int kiln_store_open_readonly(kiln_store **out, const char *path,
                             kiln_err *err);
void kiln_store_close(kiln_store *st); /* NULL is fine */
const char *kiln_store_path(const kiln_store *st);

/*
 * Checkpoints away from the thread that writes. SQLite checkpoints the
 * WAL inside the commit that fills it past 1,000 frames, with two
 * fsyncs: hundreds of milliseconds on a busy disk, in the middle of an
 * event loop. With a hook, that commit calls wanted(data, frames) after
 * every commit instead, and the caller runs kiln_store_checkpoint() on
 * another thread (engine/checkpoint.h).
 */
void kiln_store_on_wal(kiln_store *st, void (*wanted)(void *data,
                                                      int frames),
                       void *data);
/* A passive checkpoint of the database at path (what readers do not
 * hold up), over a connection of its own: any thread. *frames gets the
 * WAL's frames as it began, *copied those copied to the database (all
 * of them unless a reader held some up). The commit after one that
 * copied them all, with none added since, starts the WAL over. */
int kiln_store_checkpoint(const char *path, int *frames, int *copied,
                          kiln_err *err);

/*
 * Group writes into one transaction, so a crash leaves all of them or
 * none: begin, the kiln_store_* writes, then commit (or rollback on an
 * error). Transactions nest: every write function is one itself.
 */
int kiln_store_begin(kiln_store *st, kiln_err *err);
int kiln_store_commit(kiln_store *st, kiln_err *err);
void kiln_store_rollback(kiln_store *st);
/* Once a run is being recorded, a write that finds the database locked
 * by another process waits for as long as it takes (saying so every
 * 10 s), rather than give up after KILN_BUSY_TIMEOUT seconds (10): what
 * happened is recorded late, with its real times, never dropped. */
void kiln_store_set_patient(kiln_store *st, bool patient);
/* One snapshot for the reads that follow, when no transaction is open
 * (else nothing): a reader of many small statements takes SQLite's locks
 * once, not once a statement. Returns whether it began one; pass that to
 * kiln_store_snapshot_end(). Nothing may be written in between. */
bool kiln_store_snapshot_begin(kiln_store *st);
void kiln_store_snapshot_end(kiln_store *st, bool began);
/* Changes whenever the database changes, by this process or (when others
 * is true; a prepared PRAGMA) another: what a cache of query results
 * checks. Without others, other processes' commits since the last look
 * are not seen. */
uint64_t kiln_store_version(kiln_store *st, bool others);

/* States. One table (states.c) maps each to its stored text and says
 * whether it is final. */

typedef enum kiln_step_state {
    KILN_STEP_PENDING = 0, /* waiting for its needs */
    KILN_STEP_READY,       /* needs met, waiting for a slot (stored as
                              pending) */
    KILN_STEP_RUNNING,
    KILN_STEP_RETRYING,    /* failed, waiting to try again */
    KILN_STEP_SUCCEEDED,
    KILN_STEP_FAILED,
    KILN_STEP_SKIPPED,     /* an upstream step failed or was gated */
    KILN_STEP_CANCELLED,
    KILN_STEP_GATED,       /* its when: was false */
    KILN_STEP_TIMED_OUT    /* its last attempt ran past its timeout: a
                              failure, said as such */
} kiln_step_state;

typedef enum kiln_run_state {
    KILN_RUN_RUNNING = 0,
    KILN_RUN_SUCCEEDED,
    KILN_RUN_FAILED,
    KILN_RUN_CANCELLED,
    KILN_RUN_QUEUED        /* recorded, not started */
} kiln_run_state;

/* How one attempt (an execution) ended. */
typedef enum kiln_exec_state {
    KILN_EXEC_RUNNING = 0,
    KILN_EXEC_SUCCEEDED,
    KILN_EXEC_FAILED,
    KILN_EXEC_CANCELLED,
    KILN_EXEC_LOST,        /* kiln lost track of it */
    KILN_EXEC_CACHED,      /* ran nothing: outputs restored or reused */
    KILN_EXEC_TIMED_OUT    /* stopped at its step's timeout */
} kiln_exec_state;

const char *kiln_step_state_name(kiln_step_state s); /* as stored */
const char *kiln_run_state_name(kiln_run_state s);
const char *kiln_exec_state_name(kiln_exec_state s);
bool kiln_step_state_final(kiln_step_state s);
bool kiln_run_state_final(kiln_run_state s);
/* The state stored as text; KILN_EINVAL for text that names none. */
int kiln_step_state_parse(kiln_step_state *out, const char *text);
int kiln_run_state_parse(kiln_run_state *out, const char *text);
int kiln_exec_state_parse(kiln_exec_state *out, const char *text);

/* Runs, steps and executions: writes. */

/* A new run, as kiln_store_run_create() records it. */
typedef struct kiln_run_rec {
    const char *pipeline;
    const char *file;        /* the pipeline file's absolute path */
    const char *hash;        /* sha256 of the file's bytes */
    const char *trigger;     /* "manual", "schedule", ... */
    const char *trigger_info; /* JSON text or NULL */
    size_t n_params;         /* the effective params */
    const kiln_kv *params;
    const char *git_commit;  /* NULL outside a repository */
    const char *git_branch;  /* NULL when detached */
    bool git_dirty;
    const char *workdir;     /* the tree steps run in */
    int64_t reproduces;      /* kiln reproduce: the run repeated, or 0 */
    const char *started_by;  /* who started it (a user, "scheduler",
                                "trigger:drift"...); NULL: not said, and
                                no audit row */
    const char *started_via; /* "cli", "api", "page", "daemon" */
    int64_t retry_of;        /* a retry of this run (audited as
                                run.retried), or 0 */
    size_t n_steps;
    const char **step_names; /* n_steps names, in topological order */
    const char **step_kinds;
} kiln_run_rec;

/* Record a queued run with a pending row per step, in one transaction,
 * owned by this process; with started_by, the audit row run.started in
 * the same transaction. */
int kiln_store_run_create(kiln_store *st, int64_t *out_id,
                          const kiln_run_rec *rec, kiln_err *err);
/* Move a run to state; RUNNING sets started_at, a final state
 * finished_at. reason may be NULL (the recorded one stays). */
int kiln_store_run_set_state(kiln_store *st, int64_t run_id,
                             kiln_run_state state, const char *reason,
                             kiln_err *err);
/* Move a step of a run to state with its attempt count, as of at_ms (0:
 * now); started_at is set on the first RUNNING, finished_at by a final
 * state. by_gate: SKIPPED because something upstream was gated (a
 * decision, not a failure). */
int kiln_store_step_set_state(kiln_store *st, int64_t run_id,
                              const char *step, kiln_step_state state,
                              int attempts, const char *reason,
                              bool by_gate, int64_t at_ms, kiln_err *err);

/* How a step's gate was decided: doc is JSON text, {"when": EXPR,
 * "passed": BOOL or null, "values": {NAME: NUMBER or null}, "trace":
 * TEXT, "error": MSG when a value could not be read}. */
int kiln_store_step_gate(kiln_store *st, int64_t run_id, const char *step,
                         const char *doc, kiln_err *err);

/* One attempt of a step, as kiln_store_exec_start() records it. */
typedef struct kiln_exec_rec {
    int64_t run_id;
    const char *step;
    const char *kind;
    int attempt;             /* 1-based */
    const char *log_path;
    const char *executor;
    const char *external_id; /* NULL until its process started */
    int64_t started_ms;
    const char *image;       /* a container step's image ID, or NULL */
    const char *image_ref;   /* ...and the image as written */
    const char *key_doc;     /* what went into its cache key, or NULL */
} kiln_exec_rec;

int kiln_store_exec_start(kiln_store *st, int64_t *out_id,
                          const kiln_exec_rec *rec, kiln_err *err);
/* The attempt's process started: its executor's id for it and when.
 * (The attempt is recorded before its process starts, so a crash never
 * leaves a process kiln has no record of.) */
int kiln_store_exec_set_external(kiln_store *st, int64_t exec_id,
                                 const char *external_id,
                                 int64_t started_ms, kiln_err *err);
/* End an attempt. exit_code < 0 and signal 0 store NULLs. */
int kiln_store_exec_finish(kiln_store *st, int64_t exec_id,
                           kiln_exec_state state, int exit_code, int signal,
                           const char *reason, int64_t finished_ms,
                           kiln_err *err);
/* Give up on a run kiln cannot take over: running attempts become lost,
 * unfinished steps cancelled, the run failed with reason; one
 * transaction. */
int kiln_store_run_abandon(kiln_store *st, int64_t run_id,
                           const char *reason, kiln_err *err);

/* Runs: the typed record. */

typedef struct kiln_attempt_info {
    int64_t id;              /* the executions row */
    int attempt;             /* 1-based */
    kiln_exec_state state;
    int exit_code;           /* -1: none */
    int signal;              /* 0: none */
    const char *reason;      /* NULL: none */
    int64_t started_ms;
    int64_t finished_ms;     /* 0: not yet */
    const char *log_path;
    const char *executor;
    const char *external_id; /* NULL: its process was not recorded */
    int64_t cached_from;     /* the execution it reused, or 0 */
    int64_t cached_from_run; /* ...and its run */
} kiln_attempt_info;

typedef struct kiln_step_info {
    const char *name;
    const char *kind;
    kiln_step_state state;
    bool by_gate;            /* skipped because of a gate upstream */
    int attempts;
    const char *reason;      /* NULL: none */
    const char *gate;        /* how its gate was decided (JSON text), or
                                NULL: no gate, or not yet */
    int64_t started_ms, finished_ms; /* 0: not yet */
    size_t n_attempts;
    const kiln_attempt_info *attempt; /* oldest first */
} kiln_step_info;

/* A run with its steps and their attempts (read-only; one allocation,
 * freed by kiln_run_info_free()). */
typedef struct kiln_run_info {
    int64_t id;
    const char *pipeline;
    const char *file;        /* the pipeline file it ran */
    const char *hash;        /* ...and its sha256 then */
    const char *trigger;
    const char *trigger_info; /* JSON text, or NULL */
    const char *started_by;  /* who started it, or NULL (not recorded) */
    kiln_run_state state;
    const char *reason;      /* NULL: none */
    size_t n_params;
    const kiln_kv *params;   /* the effective params, as text */
    const char *git_commit;  /* NULL: none */
    const char *git_branch;
    bool git_dirty;
    const char *workdir;
    int64_t created_ms, started_ms, finished_ms; /* 0: not yet */
    pid_t owner_pid;         /* the kiln process running it */
    uint64_t owner_start;    /* ...and its start time (kiln_proc_start) */
    size_t n_steps;
    const kiln_step_info *steps; /* in topological order */
} kiln_run_info;

/* Read run id. KILN_ENOTFOUND if there is no such run. */
/* Make this process the owner of run (crash recovery), as read: if
 * another process took it over since, KILN_EBUSY and nothing changes
 * (two kilns resuming one run at once: one of them runs it). */
int kiln_store_run_adopt(kiln_store *st, const kiln_run_info *run,
                         kiln_err *err);
int kiln_store_run_get(kiln_run_info **out, kiln_store *st, int64_t id,
                       kiln_err *err);
void kiln_run_info_free(kiln_run_info *run); /* NULL is fine */
/* The step called name, or NULL. */
const kiln_step_info *kiln_run_info_step(const kiln_run_info *run,
                                         const char *name);
/* The latest attempt of a step, or NULL when it has none. */
const kiln_attempt_info *kiln_step_info_last(const kiln_step_info *step);
/* Not final, and the process that owns it is gone. */
bool kiln_run_info_orphaned(const kiln_run_info *run);

/* The runs not finished (queued or running), oldest first, with their
 * owners: ids[i], pids[i], starts[i] for i < *n. Free the arrays. */
typedef struct kiln_run_owner {
    int64_t id;
    pid_t pid;
    uint64_t start;
} kiln_run_owner;
int kiln_store_unfinished_runs(kiln_run_owner **out, size_t *n,
                               kiln_store *st, kiln_err *err);
/* The log path of an attempt (attempt 0: the last one); the caller frees
 * it. */
int kiln_store_log_path(kiln_store *st, char **out, int64_t run_id,
                        const char *step, int attempt, kiln_err *err);

/* Artifacts and lineage. */

typedef struct kiln_artifact_rec {
    const char *path;        /* absolute */
    const char *sha256;
    int64_t size;
    bool is_dir;
    const char *type;        /* dataset, model, metrics, deployment, file */
    bool output;             /* produced by the execution, else used */
} kiln_artifact_rec;

/* Record an execution's artifacts and their input/output events in one
 * transaction. An artifact is a (path, content hash) pair, shared by every
 * execution that used or made it. */
int kiln_store_record_artifacts(kiln_store *st, int64_t exec_id,
                                const kiln_artifact_rec *recs, size_t n,
                                kiln_err *err);
/* Find an artifact by id, content hash (or a prefix of 6+ hex digits) or
 * path. A path is the bytes there now when kiln recorded them there, else
 * what was last made (then read) there; a hash, the artifact with those
 * bytes last made or read outside reproductions. run (0: any): among
 * those run run made or used. KILN_ENOTFOUND, or KILN_EINVAL (an
 * ambiguous or short prefix). */
int kiln_store_artifact_find(kiln_store *st, int64_t *out, const char *query,
                             int64_t run, kiln_err *err);

/* Where a model version of the registry came from, as a lineage query's
 * start. */
typedef struct kiln_model_entry {
    int version;             /* the alias's version, when found by alias */
    int64_t artifact_id;     /* what was registered */
    int64_t run_id;          /* the run that registered it (0: unknown) */
} kiln_model_entry;

/* Find version of model name, or (alias not NULL) the version its alias
 * points at now. KILN_ENOTFOUND, saying whether the model, the version or
 * the alias is unknown, otherwise. */
int kiln_store_model_ref_find(kiln_store *st, kiln_model_entry *out,
                              const char *name, const char *alias,
                              int version, kiln_err *err);

/* Metrics. */

/* Record an execution's metrics (dotted keys, numbers) in one
 * transaction. */
int kiln_store_record_metrics(kiln_store *st, int64_t exec_id,
                              int64_t run_id, const char *step,
                              size_t n, const char *const *keys,
                              const double *values, kiln_err *err);
/* The value of metric key of step in a run (its latest attempt's).
 * Returns 0 and *found. */
int kiln_store_metric_get(kiln_store *st, double *out, bool *found,
                          int64_t run_id, const char *step, const char *key,
                          kiln_err *err);

/* The latest value of metric step.key that any run of pipeline recorded
 * (the newest run's, its latest attempt's), with that run's id: *found
 * false when there is none. */
int kiln_store_metric_latest(kiln_store *st, double *out, bool *found,
                             int64_t *run_id, const char *pipeline,
                             const char *step, const char *key,
                             kiln_err *err);

/* A run's metrics, by step and key (every attempt's): *n of them (free
 * with kiln_metrics_free()). */
typedef struct kiln_metric {
    char *step;
    char *key;
    double value;
} kiln_metric;
int kiln_store_run_metrics(kiln_metric **out, size_t *n, kiln_store *st,
                           int64_t run_id, kiln_err *err);
/* The same, of one step of the run. */
int kiln_store_step_metrics(kiln_metric **out, size_t *n, kiln_store *st,
                            int64_t run_id, const char *step, kiln_err *err);
void kiln_metrics_free(kiln_metric *m, size_t n);

/* The step cache. */

/* Remember that execution exec_id, of cache key key, made the outputs
 * (rel[i] under its working directory, content sha[i]). */
int kiln_store_cache_save(kiln_store *st, int64_t exec_id, const char *key,
                          size_t n, char *const *rel, char *const *sha,
                          kiln_err *err);

/* A cache entry: the execution that made the outputs, and its files. */
typedef struct kiln_cache_entry {
    int64_t exec_id;
    int64_t run_id;
    size_t n;
    char **rel;              /* relative to the working directory */
    char **sha256;
} kiln_cache_entry;

/* The newest successful execution with key; KILN_ENOTFOUND when there is
 * none. Dispose the entry with kiln_cache_entry_dispose(). */
int kiln_store_cache_lookup(kiln_store *st, kiln_cache_entry *out,
                            const char *key, kiln_err *err);
void kiln_cache_entry_dispose(kiln_cache_entry *e);
/* Execution exec_id reused from_exec's outputs: record where they came
 * from and copy its outputs and metrics. */
int kiln_store_cache_hit(kiln_store *st, int64_t exec_id, int64_t from_exec,
                         const char *key, kiln_err *err);
/* A retry reused execution from_exec: as a cache hit, and with its
 * artifacts' events copied, so lineage sees them. */
int kiln_store_exec_reuse(kiln_store *st, int64_t exec_id, int64_t from_exec,
                          kiln_err *err);
/* The newest execution of step in a run of pipeline that succeeded or
 * was served from the cache, with the outputs it recorded (in *out: rel
 * holds their absolute paths here, sha256 their hashes); KILN_ENOTFOUND
 * when there is none. kiln run --from/--only/--until reuses it. Dispose
 * with kiln_cache_entry_dispose(). */
int kiln_store_last_made(kiln_store *st, kiln_cache_entry *out,
                         const char *pipeline, const char *step,
                         kiln_err *err);
/* The run execution exec_id belongs to (*out; 0 when there is none). */
int kiln_store_exec_run(kiln_store *st, int64_t *out, int64_t exec_id,
                        kiln_err *err);
/* The content hashes every cache entry needs: *n of them in *out (free
 * each and the array). */
int kiln_store_cache_objects(char ***out, size_t *n, kiln_store *st,
                             kiln_err *err);
/* Forget cache entries with an output no longer in objects/. */
int kiln_store_cache_forget_missing(kiln_store *st, const char *objects,
                                    kiln_err *err);

/* The model registry. */

/* Register the artifact (path, sha256) a run's execution made as the next
 * version of model name, with the commit and the run's metrics so far.
 * The same bytes as the newest version are no new version: *out_version
 * is then minus that version's number. */
int kiln_store_model_register(kiln_store *st, int *out_version,
                              const char *name, const char *path,
                              const char *sha256, int64_t run_id,
                              int64_t exec_id, kiln_err *err);
/* Who changes something, for the audit trail (audit.c). */
typedef struct kiln_audit_who {
    const char *actor;       /* a user, "scheduler", "run 12", "kiln"... */
    const char *via;         /* "cli", "api", "page", "daemon" */
} kiln_audit_who;

/* Point alias (production, staging...) of a model at version; the history
 * is kept. KILN_ENOTFOUND for an unknown version. With who, the move is
 * an audit row (alias.moved, from and to) in the same transaction. */
int kiln_store_model_promote(kiln_store *st, const char *name, int version,
                             const char *alias, const kiln_audit_who *who,
                             kiln_err *err);
/* Point alias nowhere (a challenger that lost): the history keeps it,
 * as version 0, and a rollback brings the version back. *out_version: the
 * version it pointed at (0: none, and nothing changed). With who: audited
 * as alias.retired. */
int kiln_store_model_retire(kiln_store *st, int *out_version,
                            const char *name, const char *alias,
                            const kiln_audit_who *who, kiln_err *err);
/* Point alias back at the version that held it before (with who:
 * audited as alias.rolled_back). */
int kiln_store_model_rollback(kiln_store *st, int *out_version,
                              const char *name, const char *alias,
                              const kiln_audit_who *who, kiln_err *err);

/* A model's deploy command (deploys.c), recorded before it starts and
 * settled once it ended, so that a kiln killed while it runs leaves what
 * recovery needs to finish the move without running it again. */
typedef struct kiln_deploy {
    int64_t id;
    char *model, *alias;
    int version;             /* where the alias goes */
    bool rollback;           /* a rollback (else a promote) */
    char *actor, *via;       /* who asked: the move's audit row */
    int64_t execution_id;    /* a run's promote: (its step's attempt); 0:
                                the CLI's or the API's */
    int pid;                 /* its kiln-shim; 0: not recorded yet */
    uint64_t pid_start;      /* ...and its start (kiln_proc_start()) */
    int64_t started_ms, ended_ms; /* 0: not yet */
    int64_t deadline_ms;     /* its command is killed then (0: never) */
    char *outcome;           /* NULL: not settled; "moved", "failed" (the
                                alias stayed), "lost" (its end is unknown:
                                the alias stayed) */
    char *detail;            /* how it ended: "exit status 3"... */
} kiln_deploy;

void kiln_deploy_dispose(kiln_deploy *d);
/* Record d (model, alias, version, rollback, actor, via, execution_id,
 * started_ms (0: now), deadline_ms), committed: *id is its id. */
int kiln_store_deploy_add(kiln_store *st, int64_t *id, const kiln_deploy *d,
                          kiln_err *err);
/* Its kiln-shim started, waiting to start the command: pid and its start
 * time. *open is false when someone settled it first (the shim must not
 * go on). */
int kiln_store_deploy_started(kiln_store *st, bool *open, int64_t id,
                              int pid, uint64_t pid_start, kiln_err *err);
/* Settle deploy id as outcome (detail: how it ended), unless someone
 * settled it first (*settled false). In the caller's transaction when one
 * is open: the alias's move goes in the same one. */
int kiln_store_deploy_settle(kiln_store *st, bool *settled, int64_t id,
                             const char *outcome, const char *detail,
                             kiln_err *err);
/* The deploys not settled, oldest first (model NULL: every model's): *n
 * of them in *out (free with kiln_deploys_free). */
int kiln_store_deploys_open(kiln_deploy **out, size_t *n, kiln_store *st,
                            const char *model, kiln_err *err);
void kiln_deploys_free(kiln_deploy *d, size_t n);
/* Every deploy command run with version of model (its bytes: a promote
 * to it, or a rollback to it; 0: with any version), oldest first. */
int kiln_store_deploys_of(kiln_deploy **out, size_t *n, kiln_store *st,
                          const char *model, int version, kiln_err *err);
/* Deploy id; out->id is 0 when there is none. */
int kiln_store_deploy_get(kiln_store *st, kiln_deploy *out, int64_t id,
                          kiln_err *err);
/* The newest deploy of a run's step attempt; out->id is 0 when it ran
 * none. */
int kiln_store_deploy_of_execution(kiln_store *st, kiln_deploy *out,
                                   int64_t execution_id, kiln_err *err);

/* Where an alias points now. */
typedef struct kiln_model_alias {
    char *name;
    char *alias;
    int version;
    char *path;              /* the version's artifact, where it was made */
    char *sha256;            /* ...its content (the bytes to serve) */
    bool is_dir;
} kiln_model_alias;

/* Every current alias: *n of them (free with kiln_model_aliases_free). */
int kiln_store_model_aliases(kiln_model_alias **out, size_t *n,
                             kiln_store *st, kiln_err *err);
void kiln_model_aliases_free(kiln_model_alias *a, size_t n);

/* One version of a model: what a step, the CLI or the API reads is the
 * object store's copy of sha256, never the path it was made at. */
typedef struct kiln_model_version {
    char *name;
    int version;
    char *path;              /* where the run made it */
    char *sha256;            /* its content: a file's, or a directory's
                                (its files in tree_files) */
    bool is_dir;
    int64_t size;
    int64_t artifact_id, run_id, exec_id;
    char *git_commit;        /* NULL: none */
} kiln_model_version;

/* The version alias points at (alias NULL: version). KILN_ENOTFOUND for
 * an unknown model, alias or version. */
int kiln_store_model_find(kiln_store *st, kiln_model_version *out,
                          const char *name, const char *alias, int version,
                          kiln_err *err);
void kiln_model_version_dispose(kiln_model_version *v);
/* The version a rollback of alias would point at (nothing changes). */
int kiln_store_model_rollback_target(kiln_store *st, int *out_version,
                                     const char *name, const char *alias,
                                     kiln_err *err);
/* The command run when an alias of model name moves (register:'s
 * deploy:), the directory it runs in and how long it may run
 * (deploy_timeout:, 0: the default); command NULL forgets it. */
int kiln_store_model_hook_set(kiln_store *st, const char *name,
                              const char *command, const char *workdir,
                              int64_t timeout_ms, kiln_err *err);
/* *command and *workdir NULL when the model has none; free both.
 * *timeout_ms (when not NULL): 0 for the default. */
int kiln_store_model_hook_get(kiln_store *st, char **command, char **workdir,
                              int64_t *timeout_ms, const char *name,
                              kiln_err *err);

/* The object store's record (objects.c). */

/* Files relative to a directory, with their content hashes; a symlink or
 * an empty directory has "symlink:TEXT" or "dir:" for a hash
 * (engine/cache.h). */
typedef struct kiln_file_list {
    size_t n;
    char **rel;
    char **sha256;
} kiln_file_list;
void kiln_file_list_dispose(kiln_file_list *l);

/* Directory tree (its hash) holds these files, each kept as an object,
 * and these symlinks and empty directories (kiln_file_list). */
int kiln_store_tree_record(kiln_store *st, const char *tree, size_t n,
                           char *const *rel, char *const *sha,
                           kiln_err *err);
/* The files of directory tree (n 0: not recorded). */
int kiln_store_tree_files(kiln_store *st, kiln_file_list *out,
                          const char *tree, kiln_err *err);

/* An environment capture's text, stored once under its hash. */
int kiln_store_capture_put(kiln_store *st, const char *sha, const char *text,
                           kiln_err *err);
int kiln_store_capture_get(kiln_store *st, char **out, const char *sha,
                           kiln_err *err);

/* What went into an execution's cache key (a JSON document; kiln why);
 * *out NULL when none was recorded. */
int kiln_store_key_doc_get(kiln_store *st, char **out, int64_t exec_id,
                           kiln_err *err);
typedef struct kiln_key_doc_row {
    int64_t exec_id, run_id;
    char *doc;
    char *reason;            /* the execution's, or NULL ("not cached:
                                ...": why it kept no cache entry) */
} kiln_key_doc_row;
/* The key documents of the latest executions of a pipeline's step before
 * execution before_exec (0: any), that succeeded or were served from the
 * cache, newest first, at most limit. */
int kiln_store_key_docs_before(kiln_key_doc_row **out, size_t *n,
                               kiln_store *st, const char *pipeline,
                               const char *step, int64_t before_exec,
                               int limit, kiln_err *err);
void kiln_key_doc_rows_free(kiln_key_doc_row *rows, size_t n);

/* An object the record needs: keep 2, a model version's (never
 * collected); keep 1, a cache entry's or a recorded input's (collected
 * least recently used first, beyond the size limit). */
typedef struct kiln_object_ref {
    char *sha256;
    int keep;
} kiln_object_ref;
int kiln_store_object_refs(kiln_object_ref **out, size_t *n, kiln_store *st,
                           kiln_err *err);
void kiln_object_refs_free(kiln_object_ref *refs, size_t n);

/* An artifact an ended execution of a run used or made. */
typedef struct kiln_run_artifact {
    char *step;
    char *path;              /* absolute, where the run had it */
    char *sha256;
    bool is_dir;
    char *type;
    int64_t exec_id;
    bool made_in_run;        /* an input some step of the run made */
} kiln_run_artifact;
/* The inputs (outputs false) or outputs of a run's executions that
 * succeeded or were served from the cache, in execution order. */
int kiln_store_run_artifacts(kiln_run_artifact **out, size_t *n,
                             kiln_store *st, int64_t run_id, bool outputs,
                             kiln_err *err);
void kiln_run_artifacts_free(kiln_run_artifact *a, size_t n);
/* The newest run reproducing run_id (kiln reproduce), or 0. */
int kiln_store_reproduction_last(kiln_store *st, int64_t *out,
                                 int64_t run_id, kiln_err *err);

/* Schedules, fires and trigger checks (kiln serve). */

/* What became of a schedule's fire. */
typedef enum kiln_fire_status {
    KILN_FIRE_STARTED = 0,
    KILN_FIRE_SKIPPED,       /* a policy said no; reason says which */
    KILN_FIRE_MISSED,        /* could not start in time */
    KILN_FIRE_QUEUED         /* waits for max_active_runs (not stored
                                for schedules) */
} kiln_fire_status;
const char *kiln_fire_status_name(kiln_fire_status s);

/* Record what became of a schedule's fire due at due_ms. run_id 0: none. */
int kiln_store_fire_record(kiln_store *st, const char *pipeline,
                           const char *schedule, int64_t due_ms,
                           kiln_fire_status status, const char *reason,
                           int64_t run_id, kiln_err *err);
/* The latest recorded fire of a pipeline's schedule (schedule NULL: of
 * any of its schedules), or 0 when there is none. */
int kiln_store_fire_last(kiln_store *st, int64_t *out_due_ms,
                         const char *pipeline, const char *schedule,
                         kiln_err *err);
/* Publish a schedule's next fire time (next_ms < 0: none) for kiln
 * status. */
int kiln_store_schedule_set(kiln_store *st, const char *pipeline,
                            const char *schedule, const char *timezone,
                            int64_t next_ms, kiln_err *err);
/* Forget the published schedules of a pipeline (NULL: of every
 * pipeline). */
int kiln_store_schedule_clear(kiln_store *st, const char *pipeline,
                              kiln_err *err);
/* Publish the pipeline files kiln serve's last (re)load could not load
 * (kiln status, GET /api/v1/pipelines): clear them all, then set each
 * one, in one transaction. errors holds one "FILE:LINE:COL: error: ..."
 * a line; pipeline is what the file defined before (NULL: never loaded);
 * since is when it first failed. */
int kiln_store_load_errors_clear(kiln_store *st, kiln_err *err);
int kiln_store_load_error_set(kiln_store *st, const char *file,
                              const char *pipeline, const char *errors,
                              int64_t since_ms, kiln_err *err);

/* What became of a trigger's check. */
typedef enum kiln_check_status {
    KILN_CHECK_FIRED = 0,    /* started a run: run_id */
    KILN_CHECK_QUEUED,       /* a run waits for max_active_runs */
    KILN_CHECK_QUIET,        /* nothing to fire on; reason says why */
    KILN_CHECK_HELD,         /* would fire, but the cooldown or a
                                concurrency policy held it back */
    KILN_CHECK_ERROR         /* could not check; tried again later */
} kiln_check_status;
const char *kiln_check_status_name(kiln_check_status s);
/* What a fire's status means for the check that caused it. */
kiln_check_status kiln_check_status_of_fire(kiln_fire_status s);

/* Record a check of pipeline's trigger ("drift", "data", "git",
 * "metric", "manual") on target (a path, a URL, a branch), with what it
 * saw as JSON text (detail, may be NULL). run_id 0: none. */
int kiln_store_check_record(kiln_store *st, int64_t *out_id,
                            const char *pipeline, const char *trigger,
                            const char *target, kiln_check_status status,
                            const char *reason, const char *detail,
                            int64_t run_id, kiln_err *err);
/* Complete a check: its status, its run; a NULL reason keeps the one
 * recorded. */
int kiln_store_check_update(kiln_store *st, int64_t id,
                            kiln_check_status status, const char *reason,
                            int64_t run_id, kiln_err *err);
/* A check's fire waits for max_active_runs: status queued, reason, and
 * the fire as JSON text, kept to queue it again after a restart. */
int kiln_store_check_queue(kiln_store *st, int64_t id, const char *reason,
                           const char *fire, kiln_err *err);
/* The checks left queued (by a kiln serve that stopped or died), oldest
 * first: id, pipeline and the fire kept (NULL: none was). */
typedef struct kiln_queued_check {
    int64_t id;
    char *pipeline;
    char *fire;
} kiln_queued_check;
int kiln_store_checks_queued(kiln_store *st, kiln_queued_check **out,
                             size_t *n, kiln_err *err);
void kiln_queued_checks_free(kiln_queued_check *c, size_t n);
/* When a trigger (not a manual request) last fired pipeline, and the run;
 * 0 and 0 when never. */
int kiln_store_check_last_fired(kiln_store *st, int64_t *out_ms,
                                int64_t *out_run, const char *pipeline,
                                kiln_err *err);
/* What a trigger remembers between checks (JSON text; *out NULL when
 * nothing yet). key identifies the trigger within the pipeline. */
int kiln_store_trigger_state_get(kiln_store *st, char **out,
                                 const char *pipeline, const char *key,
                                 kiln_err *err);
int kiln_store_trigger_state_set(kiln_store *st, const char *pipeline,
                                 const char *key, const char *state,
                                 kiln_err *err);

/*
 * Notifications (notifications.c). Each is a row before it is posted:
 * 'pending', with its body and its owner, the "PID:START" of the kiln
 * posting it (NULL: left by a kiln that stopped, for the next one). Its
 * end ('sent' or 'failed') drops the body. A pending row whose owner no
 * longer runs is taken over (claimed) by the next kiln serve.
 */
typedef struct kiln_notification {
    int64_t id, run_id, timeout_ms, created_ms;
    int64_t check_id;  /* the trigger check it tells of (drift), or 0 */
    int attempts;
    char *pipeline, *event, *url, *body, *owner;
} kiln_notification;

void kiln_notification_dispose(kiln_notification *n);
void kiln_notifications_free(kiln_notification *n, size_t count);

/* Add n (attempts 0) as pending: *out_id its id. */
int kiln_store_notification_add(kiln_store *st, int64_t *out_id,
                                const kiln_notification *n, kiln_err *err);
/* An attempt begins: the pending row's attempts become attempts. */
int kiln_store_notification_attempt(kiln_store *st, int64_t id,
                                    int attempts, kiln_err *err);
/* How the pending row id ended: sent, or failed with the last HTTP status
 * (0: none) or error. *ended (may be NULL) false when it was not pending
 * (another kiln ended it). */
int kiln_store_notification_end(kiln_store *st, bool *ended, int64_t id,
                                bool sent, int attempts, long http_status,
                                const char *error, kiln_err *err);
/* Leave the pending row id for the next kiln (owner NULL). */
int kiln_store_notification_release(kiln_store *st, int64_t id,
                                    kiln_err *err);
/* Every pending row, oldest first. */
int kiln_store_notifications_pending(kiln_notification **out, size_t *n,
                                     kiln_store *st, kiln_err *err);
/* Take the pending row id over from owner (NULL: nobody) for new_owner:
 * *taken false when it is no longer pending or someone else took it. */
int kiln_store_notification_claim(kiln_store *st, bool *taken, int64_t id,
                                  const char *owner, const char *new_owner,
                                  kiln_err *err);

/* The audit trail (audit.c): an append-only table of every change, each
 * row chained to the one before by a hash. */

/*
 * Record that actor, through via, did action ("run.started",
 * "alias.moved"...) to target ("run 12", "model churn production"), with
 * the state before and after (JSON text, or NULL). Part of the caller's
 * transaction when there is one, so the row and the change it records
 * commit together or not at all.
 */
int kiln_store_audit(kiln_store *st, const char *actor, const char *via,
                     const char *action, const char *target,
                     const char *before, const char *after, kiln_err *err);

typedef struct kiln_audit_row {
    int64_t id;
    int64_t at_ms;
    char *actor, *via, *action, *target;
    char *before, *after;    /* JSON text, or NULL */
    char *prev_hash, *hash;
} kiln_audit_row;

/* What kiln_store_audit_list() reads: each filter off when 0 or NULL. */
typedef struct kiln_audit_query {
    int64_t since_ms, until_ms; /* at >= since, at < until */
    const char *actor;
    const char *action_prefix;  /* "alias." */
    const char *target;         /* exactly, or a prefix ending in a space:
                                   "model churn " */
    int64_t newest;             /* > 0: only the newest rows, so many */
} kiln_audit_query;

/* The rows q asks for, oldest first. */
int kiln_store_audit_list(kiln_audit_row **out, size_t *n, kiln_store *st,
                          const kiln_audit_query *q, kiln_err *err);
void kiln_audit_rows_free(kiln_audit_row *rows, size_t n);
/* A row's hash: SHA-256 of prev_hash and its fields as canonical text. */
void kiln_audit_row_hash(char out[65], const kiln_audit_row *row,
                         const char *prev_hash);
/* Recompute the chain: *bad is 0 when every row is intact, else the
 * first row altered, or the first one missing, with why. *n_rows: the
 * rows read. */
int kiln_store_audit_verify(kiln_store *st, int64_t *bad, char *why,
                            size_t size, int64_t *n_rows, kiln_err *err);

/* Accounts (accounts.c): users with one role each, their API tokens and
 * their browser sessions. A token is "kiln_ID_SECRET" (SECRET: 256
 * random bits as hex), shown once when made; only SHA-256 of SECRET is
 * kept, compared in constant time. A session is "ID.SECRET" in a cookie,
 * kept the same way; it ends when it expires, on logout, or when its
 * token is revoked or its user removed. */

typedef enum kiln_role {
    KILN_ROLE_NONE = 0,      /* anonymous, or an unknown name */
    KILN_ROLE_VIEWER,        /* reads everything, logs included */
    KILN_ROLE_OPERATOR,      /* also starts, cancels, retries runs and
                                moves model aliases */
    KILN_ROLE_ADMIN          /* also manages users and tokens */
} kiln_role;

const char *kiln_role_name(kiln_role r);   /* "viewer"...; "none" */
kiln_role kiln_role_parse(const char *s);  /* KILN_ROLE_NONE: unknown */
/* Is name a user name (1 to 63 of letters, digits, "._@+-", not one of
 * the actors kiln itself writes: scheduler, kiln, unknown...)? */
bool kiln_user_name_ok(const char *name);

#define KILN_USER_MAX 64

/* Who presented a credential, and what they may do. */
typedef struct kiln_identity {
    char user[KILN_USER_MAX];
    kiln_role role;          /* a read-only token's: viewer at most */
    int64_t token_id;        /* 0: not a user's token */
    int64_t session_id;      /* 0: not a session */
    char csrf[65];           /* a session's CSRF token ("" otherwise) */
    int64_t expires_ms;      /* of the token or session; 0: never */
    bool read_only;          /* a read-only token's */
} kiln_identity;

typedef struct kiln_user {
    char *name;
    kiln_role role;
    int64_t created_ms;
    char *created_by;
    int n_tokens;            /* live ones: not revoked, not expired */
} kiln_user;

/* Add, remove a user, change one's role: each one audit row (user.added,
 * user.removed, user.role_changed) by who. KILN_EINVAL for a bad name or
 * one taken, KILN_ENOTFOUND for an unknown user. Removing a user revokes
 * its tokens and ends its sessions. */
int kiln_store_user_add(kiln_store *st, const char *name, kiln_role role,
                        const kiln_audit_who *who, kiln_err *err);
int kiln_store_user_remove(kiln_store *st, const char *name,
                           const kiln_audit_who *who, kiln_err *err);
int kiln_store_user_set_role(kiln_store *st, const char *name,
                             kiln_role role, const kiln_audit_who *who,
                             kiln_err *err);
/* A user's role (KILN_ENOTFOUND: no such user). */
int kiln_store_user_role(kiln_store *st, const char *name, kiln_role *out,
                         kiln_err *err);
int kiln_store_users(kiln_user **out, size_t *n, kiln_store *st,
                     kiln_err *err);
void kiln_users_free(kiln_user *u, size_t n);

typedef struct kiln_token_info {
    int64_t id;
    char *user;
    char *name;              /* NULL: none given */
    bool read_only;
    int64_t created_ms;
    int64_t expires_ms;      /* 0: never */
    int64_t revoked_ms;      /* 0: not revoked */
} kiln_token_info;

/* A new token for user (expires_ms 0: never): its text in *text (free
 * it; it is shown once and kept nowhere), its id in *id. One audit row,
 * token.created (the name, expiry and read-only flag, never the secret).
 * KILN_ENOTFOUND for an unknown user. */
int kiln_store_token_create(kiln_store *st, char **text, int64_t *id,
                            const char *user, const char *name,
                            int64_t expires_ms, bool read_only,
                            const kiln_audit_who *who, kiln_err *err);
/* Tokens (of user; NULL: everyone's), newest first. */
int kiln_store_tokens(kiln_token_info **out, size_t *n, kiln_store *st,
                      const char *user, kiln_err *err);
void kiln_tokens_free(kiln_token_info *t, size_t n);
/* Revoke token id and end its sessions (token.revoked). KILN_ENOTFOUND:
 * no such token; revoking a revoked token changes nothing (no row). */
int kiln_store_token_revoke(kiln_store *st, int64_t id,
                            const kiln_audit_who *who, kiln_err *err);
/* Who text (a "kiln_ID_SECRET" token) stands for. KILN_ENOTFOUND with
 * why (not a token, unknown, wrong, expired, revoked) in err. */
int kiln_store_token_check(kiln_store *st, kiln_identity *out,
                           const char *text, kiln_err *err);

/* A browser session for who presented a credential (id: from
 * kiln_store_token_check, or made up for the admin token: token_id 0)
 * for ttl_ms: its cookie value in cookie, out updated (session_id, csrf,
 * expires_ms). One audit row, session.started. */
#define KILN_SESSION_COOKIE_MAX 96
int kiln_store_session_start(kiln_store *st, kiln_identity *id,
                             char cookie[KILN_SESSION_COOKIE_MAX],
                             int64_t ttl_ms, const kiln_audit_who *who,
                             kiln_err *err);
/* Who the session cookie value stands for; KILN_ENOTFOUND when it is
 * malformed, unknown, ended or expired, or its token or user is gone. */
int kiln_store_session_check(kiln_store *st, kiln_identity *out,
                             const char *cookie, kiln_err *err);
/* End session id (logout): session.ended. */
int kiln_store_session_end(kiln_store *st, int64_t id,
                           const kiln_audit_who *who, kiln_err *err);

/* Retention (retention.c): the runs, logs, trigger checks, fires and
 * notifications a policy says go, in short transactions; then the file
 * shrinks. Never deleted: unfinished runs, runs that registered a model
 * version (so every run an alias points at), the runs whose outputs such
 * a run read or reused (the lineage of a registered version, through
 * every hop), the newest run (ids are never reused), audit rows. */

/* What became of a run's logs (runs.logs_state). */
typedef enum kiln_logs_state {
    KILN_LOGS_KEPT = 0,      /* as the steps wrote them */
    KILN_LOGS_COMPRESSED,    /* each STEP.ATTEMPT.log is its .log.gz */
    KILN_LOGS_REMOVED,       /* removed by retention */
} kiln_logs_state;

/* A pipeline's limits (its retention:, else the defaults); -1: none. A
 * finished run goes when it is not among the newest keep_runs of its
 * pipeline or finished more than runs_ms ago; its logs likewise by
 * keep_logs and logs_ms; logs of runs finished more than compress_ms
 * ago are gzip'd. */
typedef struct kiln_store_retention {
    int64_t keep_runs, runs_ms;
    int64_t keep_logs, logs_ms;
    int64_t compress_ms;
} kiln_store_retention;

#define KILN_STORE_RETENTION_INIT {-1, -1, -1, -1, -1}

/* What a pass did (or, dry, would do) to one run. */
typedef enum kiln_gc_action {
    KILN_GC_RUN_DELETED,
    KILN_GC_LOGS_REMOVED,
    KILN_GC_LOGS_COMPRESSED,
} kiln_gc_action;

typedef struct kiln_gc_options {
    bool dry;                /* decide and report; change nothing */
    const char *pipeline;    /* only its runs; NULL: every pipeline's */
    FILE *archive;           /* each run deleted as one JSON line, written
                                and flushed before its batch commits */
    const char *logs_dir;    /* STATE/logs: the runs' log directories */
    const char *reproduce_dir; /* STATE/reproduce, absolute: a deleted
                                  run's scratch tree there goes too once
                                  no run works in it (NULL: none go) */
    int64_t now_ms;          /* ages are counted from here */
    int64_t checks_ms;       /* trigger checks and schedule fires older
                                than this go, and page sessions that
                                ended or expired longer ago; -1: none */
    int64_t notifications_ms; /* notifications older than this; -1 */
    size_t batch;            /* runs per transaction; 0: 100 */
    bool vacuum;             /* a database not shrinking in place yet is
                                VACUUMed once (slow, locks it meanwhile) */
    /* The limits of pipeline (fill out; it comes as all -1). */
    void (*policy)(kiln_store_retention *out, const char *pipeline,
                   void *data);
    /* Told of each run acted on, in order (NULL: not told). */
    void (*on_run)(kiln_gc_action what, int64_t run, const char *pipeline,
                   void *data);
    const volatile int *stop; /* when set, the pass ends between batches */
    void *data;
} kiln_gc_options;

typedef struct kiln_gc_report {
    size_t runs_deleted;     /* (dry: would be) */
    size_t runs_protected;   /* over a limit, kept: see above */
    size_t logs_removed, logs_compressed;
    size_t checks, fires, notifications, sessions; /* rows deleted */
    int64_t db_before, db_after; /* kiln.db and its -wal, in bytes */
    bool vacuumed;           /* a full VACUUM ran */
    bool incremental;        /* the database shrinks in place */
} kiln_gc_report;

/* One pass (kiln gc --runs; kiln serve's, on a thread of its own with its
 * own connection): each pipeline's runs and logs, then checks, fires and
 * notifications, then PRAGMA incremental_vacuum and a WAL checkpoint.
 * Deletions commit a batch of runs at a time, with their rows in every
 * table that hangs off a run; log files go after their batch commits.
 * rep is filled as far as the pass got, also on failure. */
int kiln_store_gc_runs(kiln_store *st, const kiln_gc_options *o,
                       kiln_gc_report *rep, kiln_err *err);
/* The pipeline file last recorded for pipeline (kiln run's, kiln
 * serve's), in *file (free it); NULL when none is. */
int kiln_store_pipeline_file(kiln_store *st, char **file,
                             const char *pipeline, kiln_err *err);
/* What retention did to run's logs (KILN_LOGS_KEPT for no such run). */
int kiln_store_run_logs_state(kiln_store *st, int64_t run,
                              kiln_logs_state *out, kiln_err *err);

/* Step logs (logs.c), as written or gzip'd by retention. */

/* Compress path into path.gz (written aside, then renamed), then remove
 * path. */
int kiln_log_compress(const char *path, kiln_err *err);

/* A log being read: path as written, else path.gz. */
typedef struct kiln_log kiln_log;
/* KILN_ENOTFOUND when neither file exists. Close with kiln_log_close(). */
int kiln_log_open(kiln_log **out, const char *path, kiln_err *err);
/* Its size, uncompressed. */
int64_t kiln_log_size(kiln_log *log);
/* Up to n bytes from offset (uncompressed); 0 at the end, -1 on an error
 * (with errno). */
ssize_t kiln_log_pread(kiln_log *log, void *buf, size_t n, int64_t offset);
bool kiln_log_compressed(const kiln_log *log);
/* The first max bytes at most of a log, as written or gzip'd, in *out
 * (NUL-terminated; free it) and *len. */
int kiln_log_read(char **out, size_t *len, const char *path, size_t max,
                  kiln_err *err);
void kiln_log_close(kiln_log *log); /* NULL is fine */

#endif
