/*
 * store.h: the SQLite record of pipelines, runs and step executions.
 *
 * One kiln.db per state directory, in WAL mode, shared safely by several
 * kiln processes (busy timeout, then KILN_EBUSY with a clear message).
 * Every state change is its own short transaction, committed when it
 * happens, so a crash never leaves a record claiming a success that did not
 * happen. Calls block briefly on the calling thread (one prepared statement
 * each); the engine makes them on the loop thread.
 *
 * Times are milliseconds since the epoch, UTC.
 */
#ifndef KILN_STORE_H
#define KILN_STORE_H

#include <jansson.h>

#include "base/base.h"

typedef struct kiln_store kiln_store;

/* Run and step statuses as stored (the text is the column's value). */
#define KILN_ST_PENDING "pending"     /* steps: waiting for needs */
#define KILN_ST_QUEUED "queued"       /* runs: created, not started */
#define KILN_ST_RUNNING "running"
#define KILN_ST_RETRYING "retrying"   /* steps: waiting before an attempt */
#define KILN_ST_SUCCEEDED "succeeded"
#define KILN_ST_FAILED "failed"
#define KILN_ST_SKIPPED "skipped"     /* steps: an upstream step failed */
#define KILN_ST_CANCELLED "cancelled"
#define KILN_ST_GATED "gated"         /* steps: their when: was false */
#define KILN_ST_LOST "lost"           /* executions: kiln lost track of it */
#define KILN_ST_CACHED "cached"       /* executions: outputs restored */

/* The current schema version; kiln_store_open() migrates older files. */
#define KILN_STORE_SCHEMA 9

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
const char *kiln_store_path(const kiln_store *st);

/* A new run, as kiln_store_run_create() records it. */
typedef struct kiln_run_rec {
    const char *pipeline;
    const char *file;        /* the pipeline file's absolute path */
    const char *hash;        /* sha256 of the file's bytes */
    const char *trigger;     /* "manual", "schedule", ... */
    const char *trigger_info; /* JSON text or NULL */
    const char *params;      /* JSON object text of the effective params */
    const char *git_commit;  /* NULL outside a repository */
    const char *git_branch;  /* NULL when detached */
    bool git_dirty;
    const char *workdir;     /* the tree steps run in */
    size_t n_steps;
    const char **step_names; /* n_steps names, in topological order */
    const char **step_kinds;
} kiln_run_rec;

/* Record a queued run with a pending row per step, in one transaction. */
int kiln_store_run_create(kiln_store *st, int64_t *out_id,
                          const kiln_run_rec *rec, kiln_err *err);
/* Move a run to status; "running" sets started_at, an end status sets
 * finished_at. reason may be NULL. */
int kiln_store_run_set_status(kiln_store *st, int64_t run_id,
                              const char *status, const char *reason,
                              kiln_err *err);
/* Move a step of a run to status with its attempt count, as of at_ms (0:
 * now); started_at is set on the first "running", finished_at by an end
 * status. */
int kiln_store_step_set_status(kiln_store *st, int64_t run_id,
                               const char *step, const char *status,
                               int attempts, const char *reason,
                               int64_t at_ms, kiln_err *err);

/* One attempt of a step, as kiln_store_exec_start() records it. */
typedef struct kiln_exec_rec {
    int64_t run_id;
    const char *step;
    const char *kind;
    int attempt;             /* 1-based */
    const char *log_path;
    const char *executor;
    const char *external_id;
    int64_t started_ms;
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
                           const char *status, int exit_code, int signal,
                           const char *reason, int64_t finished_ms,
                           kiln_err *err);

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
 * path (the newest artifact recorded at that path). KILN_ENOTFOUND or
 * KILN_EINVAL (ambiguous prefix) otherwise. */
int kiln_store_artifact_find(kiln_store *st, int64_t *out, const char *query,
                             kiln_err *err);
/*
 * An artifact's lineage as a tree of JSON objects, depth levels deep
 * (0: all). Up: "produced_by" (the execution that made it: step, run,
 * commit, params) with its "inputs", recursively. Down: "used_by" (every
 * execution that read it) with their "outputs", recursively.
 */
int kiln_store_lineage_json(kiln_store *st, json_t **out, int64_t id,
                            bool up, int depth, kiln_err *err);

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
/* Metrics as rows {run_id, pipeline, step, key, value, created_at},
 * newest run first: of the last last_runs runs that have metrics
 * (pipeline and key may be NULL; key matches "KEY" or "STEP.KEY"), or of
 * runs run_a and run_b when run_a is not 0. */
int kiln_store_metrics_json(kiln_store *st, json_t **out,
                            const char *pipeline, const char *key,
                            int last_runs, int64_t run_a, int64_t run_b,
                            kiln_err *err);

/* Step caching. */

/* Remember that execution exec_id, of cache key key, made the outputs
 * (rel[i] under its working directory, content sha[i]). */
int kiln_store_cache_save(kiln_store *st, int64_t exec_id, const char *key,
                          size_t n, char *const *rel, char *const *sha,
                          kiln_err *err);
/* The newest successful execution with key: {execution_id, run_id,
 * outputs: [{rel_path, sha256}]}; KILN_ENOTFOUND when there is none. */
int kiln_store_cache_lookup(kiln_store *st, json_t **out, const char *key,
                            kiln_err *err);
/* Execution exec_id reused from_exec's outputs: record where they came
 * from and copy its outputs and metrics. */
int kiln_store_cache_hit(kiln_store *st, int64_t exec_id, int64_t from_exec,
                         const char *key, kiln_err *err);

/* A retry reused execution from_exec: as a cache hit, and with its
 * artifacts' events copied, so lineage sees them. */
int kiln_store_exec_reuse(kiln_store *st, int64_t exec_id, int64_t from_exec,
                          kiln_err *err);
/* The content hashes every cache entry needs, as a JSON array. */
int kiln_store_cache_objects_json(kiln_store *st, json_t **out,
                                  kiln_err *err);
/* Forget cache entries with an output no longer in objects/. */
int kiln_store_cache_forget_missing(kiln_store *st, const char *objects,
                                    kiln_err *err);

/* The model registry. */

/* Register the artifact (path, sha256) a run's execution made as the next
 * version of model name, with the commit and the run's metrics so far. */
int kiln_store_model_register(kiln_store *st, int *out_version,
                              const char *name, const char *path,
                              const char *sha256, int64_t run_id,
                              int64_t exec_id, kiln_err *err);
/* Point alias (production, staging...) of a model at version; the history
 * is kept. KILN_ENOTFOUND for an unknown version. */
int kiln_store_model_promote(kiln_store *st, const char *name, int version,
                             const char *alias, kiln_err *err);
/* Point alias back at the version that held it before. */
int kiln_store_model_rollback(kiln_store *st, int *out_version,
                              const char *name, const char *alias,
                              kiln_err *err);
/* Versions (newest first) with their current aliases; name may be NULL. */
int kiln_store_models_json(kiln_store *st, json_t **out, const char *name,
                           kiln_err *err);
/* Every current alias: {name, alias, version, path}. */
int kiln_store_model_aliases_json(kiln_store *st, json_t **out,
                                  kiln_err *err);

/* Schedules and fires (kiln serve). */

/* Fire statuses. */
#define KILN_FIRE_STARTED "started"
#define KILN_FIRE_SKIPPED "skipped"   /* a policy said no; reason says which */
#define KILN_FIRE_MISSED "missed"     /* could not start in time */

/* Record what became of a schedule's fire due at due_ms. run_id 0: none. */
int kiln_store_fire_record(kiln_store *st, const char *pipeline,
                           const char *schedule, int64_t due_ms,
                           const char *status, const char *reason,
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
/* Trigger checks (kiln serve). Statuses: */
#define KILN_CHECK_FIRED "fired"   /* started a run: run_id */
#define KILN_CHECK_QUEUED "queued" /* a run waits for max_active_runs */
#define KILN_CHECK_QUIET "quiet"   /* nothing to fire on; reason says why */
#define KILN_CHECK_HELD "held"     /* would fire, but the cooldown or a
                                      concurrency policy held it back */
#define KILN_CHECK_ERROR "error"   /* could not check; tried again later */

/* Record a check of pipeline's trigger ("drift", "data", "git",
 * "metric", "manual") on target (a path, a URL, a branch), with what it
 * saw as JSON text (detail, may be NULL). run_id 0: none. */
int kiln_store_check_record(kiln_store *st, int64_t *out_id,
                            const char *pipeline, const char *trigger,
                            const char *target, const char *status,
                            const char *reason, const char *detail,
                            int64_t run_id, kiln_err *err);
/* Complete a check: its status, its run; a NULL reason keeps the one
 * recorded. */
int kiln_store_check_update(kiln_store *st, int64_t id, const char *status,
                            const char *reason, int64_t run_id,
                            kiln_err *err);
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
/* The latest checks, newest first (pipeline NULL: of every pipeline;
 * limit <= 0 means 20). */
int kiln_store_checks_json(kiln_store *st, json_t **out, const char *pipeline,
                           int limit, kiln_err *err);

/* What became of a notification: sent, or failed after attempts with
 * the last HTTP status or error. */
int kiln_store_notification_record(kiln_store *st, const char *pipeline,
                                   int64_t run_id, const char *event,
                                   const char *url, bool sent, int attempts,
                                   long http_status, const char *error,
                                   int64_t created_ms, kiln_err *err);

/* Make this process the owner of a run (crash recovery). */
int kiln_store_run_adopt(kiln_store *st, int64_t run_id, kiln_err *err);
/* Give up on a run kiln cannot take over: running attempts become lost,
 * unfinished steps cancelled, the run failed with reason; one
 * transaction. */
int kiln_store_run_abandon(kiln_store *st, int64_t run_id,
                           const char *reason, kiln_err *err);
/* Runs still marked queued or running, oldest first, with their owner
 * (owner_pid, owner_start), for crash recovery. */
int kiln_store_unfinished_runs_json(kiln_store *st, json_t **out,
                                    kiln_err *err);
/* What kiln status shows: {"schedules": [...], "active": [...],
 * "fires": [...]} (fires: the latest skipped or missed ones). */
int kiln_store_status_json(kiln_store *st, json_t **out, int fires,
                           kiln_err *err);

/* Queries, as JSON for the CLI and the HTTP API. The caller owns the
 * returned reference (json_decref()). */

/* Newest first; pipeline may be NULL; limit <= 0 means 20. */
int kiln_store_runs_json(kiln_store *st, json_t **out, const char *pipeline,
                         int limit, kiln_err *err);
/* Changes whenever the database changes, by this process or (when others
 * is true; a prepared PRAGMA) another: what a cache of query results
 * checks. Without others, other processes' commits since the last look
 * are not seen. */
uint64_t kiln_store_version(kiln_store *st, bool others);
/* A page of runs, newest first: of pipeline and status (each may be
 * NULL), with ids below before (0: from the newest); limit <= 0 means
 * 50. */
int kiln_store_runs_page_json(kiln_store *st, json_t **out,
                              const char *pipeline, const char *status,
                              int64_t before, int limit, kiln_err *err);
/* Counts for /metrics: {"runs": [{pipeline, status, n}], "steps":
 * [{pipeline, step, n, seconds}] (the last 10,000 finished attempts that
 * ran), "checks": [{pipeline, trigger, status, n}]}. */
int kiln_store_stats_json(kiln_store *st, json_t **out, kiln_err *err);
/* A run with its steps and their attempts; KILN_ENOTFOUND if no such run. */
int kiln_store_run_json(kiln_store *st, json_t **out, int64_t run_id,
                        kiln_err *err);
/* The artifacts a run's executions read and made: rows {execution_id,
 * id, path, sha256, size, type, output}, by execution. */
int kiln_store_run_artifacts_json(kiln_store *st, json_t **out,
                                  int64_t run_id, kiln_err *err);
/* The log path of an attempt (attempt 0: the last one); the caller frees
 * it. */
int kiln_store_log_path(kiln_store *st, char **out, int64_t run_id,
                        const char *step, int attempt, kiln_err *err);

#endif
