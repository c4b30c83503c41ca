/*
 * json.h: the store's JSON views, for --json output (cli/) and the HTTP
 * API (web/) only. Inside kiln, records are typed (store/store.h).
 *
 * Rows are objects keyed by column name; columns holding JSON text
 * (params, trigger_info, detail) are embedded as JSON, flags as booleans.
 * The caller owns the returned reference (json_decref()).
 */
#ifndef KILN_STORE_JSON_H
#define KILN_STORE_JSON_H

#include <jansson.h>

#include "store/store.h"

/* Runs, newest first; pipeline may be NULL; limit <= 0 means 20. A run
 * not finished whose kiln process is gone has "orphaned": true. */
int kiln_store_runs_json(kiln_store *st, json_t **out, const char *pipeline,
                         int limit, kiln_err *err);
/* The status of pipeline's newest run in out ("" when it has none). */
int kiln_store_last_status(kiln_store *st, const char *pipeline, char *out,
                           size_t size, kiln_err *err);
/* A page of runs, newest first: of pipeline and status (each may be
 * NULL), with ids below before (0: from the newest); limit <= 0 means
 * 50. */
int kiln_store_runs_page_json(kiln_store *st, json_t **out,
                              const char *pipeline, const char *status,
                              int64_t before, int limit, kiln_err *err);
/* Which runs kiln_store_runs_query_json() gives, newest first. */
typedef struct kiln_runs_query {
    const char *pipeline;    /* NULL: any */
    const char *status;      /* NULL: any */
    const char *trigger;     /* "manual", "schedule", "retry"...; NULL:
                                any */
    int64_t since_ms;        /* created at or after (0: any time) */
    int64_t before;          /* ids below (0: from the newest) */
    int limit;               /* <= 0: 50 */
} kiln_runs_query;
int kiln_store_runs_query_json(kiln_store *st, json_t **out,
                               const kiln_runs_query *q, kiln_err *err);
/* A run with its steps and their attempts ("attempts_detail");
 * KILN_ENOTFOUND if no such run. */
int kiln_store_run_json(kiln_store *st, json_t **out, int64_t run_id,
                        kiln_err *err);
/* The artifacts a run's executions read and made: rows {execution_id,
 * id, path, sha256, size, type, output}, by execution. */
int kiln_store_run_artifacts_json(kiln_store *st, json_t **out,
                                  int64_t run_id, kiln_err *err);
/* What kiln status shows: {"schedules": [...], "active": [...],
 * "fires": [...], "load_errors": [...]} (fires: the latest skipped or
 * missed ones; load_errors: {file, pipeline, errors: ["FILE:LINE:COL:
 * error: ..."], since}, the files kiln serve's last load could not
 * load). */
int kiln_store_status_json(kiln_store *st, json_t **out, int fires,
                           kiln_err *err);
/* Metrics as rows {run_id, pipeline, step, key, value, created_at},
 * newest run first: of the last last_runs runs that have metrics
 * (pipeline and key may be NULL; key matches "KEY" or "STEP.KEY"), or of
 * runs run_a and run_b when run_a is not 0. */
int kiln_store_metrics_json(kiln_store *st, json_t **out,
                            const char *pipeline, const char *key,
                            int last_runs, int64_t run_a, int64_t run_b,
                            kiln_err *err);
/* Model versions (newest first) with their current aliases, the params
 * and pipeline of the run that made each, and its key metrics
 * (key_metrics {"STEP.KEY": value}: up to two, those the run's gates
 * read, else the registering step's first, else the run's first;
 * key_metrics_from says which: "gates", "registering step", "run", or
 * null); name may be NULL. */
int kiln_store_models_json(kiln_store *st, json_t **out, const char *name,
                           kiln_err *err);
/* The same, only the newest versions of each model (at most newest of
 * them; 0: all) and the versions an alias points at; without
 * key_metrics and live_metrics unless metrics (two queries a version,
 * half the time of a long list). */
int kiln_store_models_newest_json(kiln_store *st, json_t **out,
                                  const char *name, int newest,
                                  bool metrics, kiln_err *err);
/* The moves of a model's aliases (name NULL: of every model's), from
 * the audit trail, oldest first: {at, name, alias, from, to (versions,
 * or null), by, via, action, audit_id}; the newest newest of them (0:
 * every one). */
int kiln_store_alias_history_json(kiln_store *st, json_t **out,
                                  const char *name, int64_t newest,
                                  kiln_err *err);
/* Every deploy command run with version of model name (0: with any of
 * its versions), oldest first: {id, version, alias, action (promote,
 * rollback), started_at, ended_at, by, via, execution_id (a run's
 * promote:, or null), outcome (moved, failed, lost; null while it runs),
 * detail}. */
int kiln_store_deploys_json(kiln_store *st, json_t **out, const char *name,
                            int version, kiln_err *err);
/* Every current alias: {name, alias, version, path}. */
int kiln_store_model_aliases_json(kiln_store *st, json_t **out,
                                  kiln_err *err);
/*
 * An artifact's lineage as a tree of JSON objects, depth levels deep
 * (0: all). An artifact is its bytes at a path, which more than one run
 * may have made. Up: "producers" (every execution that made it, newest
 * first: step, run, commit, params) and "produced_by", the one with its
 * "inputs", recursively: the newest producer, or with run (not 0) run's
 * own (or, when run only used it, the one whose output run read);
 * further up, the producer each execution read from (one of its own run,
 * else the newest finished before it started). Down: "used_by" (every
 * execution that read it, of run only when run is not 0) with their
 * "outputs", recursively (only executions that read those very outputs).
 * KILN_ENOTFOUND when run neither made nor used the artifact.
 */
int kiln_store_lineage_json(kiln_store *st, json_t **out, int64_t id,
                            bool up, int depth, int64_t run, kiln_err *err);
/* The latest trigger checks, newest first (pipeline NULL: of every
 * pipeline; limit <= 0 means 20). */
int kiln_store_checks_json(kiln_store *st, json_t **out, const char *pipeline,
                           int limit, kiln_err *err);

/* Runs side by side (compare.c). */
/* Each run of ids as a row {run, pipeline, status, trigger, created_at,
 * started_at, finished_at, git_commit, params {NAME: TEXT}, metrics
 * {"STEP.KEY": NUMBER, each step's latest attempt's}} (a new array).
 * KILN_ENOTFOUND naming a run that does not exist. */
int kiln_store_compare_rows(json_t **out, kiln_store *st, const int64_t *ids,
                            size_t n, kiln_err *err);
/* Append to rows the items of matrix step `step` in run (a step named
 * "step[...]"; or the one item step names, "train[lr=0.1]"), each a row
 * as above with "item": its name, the run's params with the item's
 * values, its status, its metrics as "STEP.KEY" under the matrix step's
 * name. KILN_ENOTFOUND when the run has none. */
int kiln_store_compare_items(json_t *rows, kiln_store *st, int64_t run,
                             const char *step, kiln_err *err);
/* The ids of pipeline's latest last runs, newest first (*ids: free). */
int kiln_store_last_runs(int64_t **ids, size_t *n, kiln_store *st,
                         const char *pipeline, size_t last, kiln_err *err);
/* {params: [NAME...], metrics: [KEY...]}: those whose values differ
 * between the rows (all of them with all), sorted by name. */
json_t *kiln_compare_columns(json_t *rows, bool all);
/* Order rows by spec, "KEY[:asc|:desc]": KEY a metric "STEP.KEY", a
 * param "params.NAME" (as a number) or "run"; highest first unless
 * ":asc"; rows without a value last, ties in their order. */
void kiln_compare_sort(json_t *rows, const char *spec);
/* A run id given twice among ids[0..n) (0: none): compare lists each run
 * once. O(n log n). */
int64_t kiln_compare_repeated(const int64_t *ids, size_t n);

#endif
