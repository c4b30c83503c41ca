/*
 * tally.h: what GET /metrics counts from the record (tally.c): finished
 * runs by pipeline and state, each pipeline's latest success, finished
 * step attempts by state and their durations in histogram buckets, and
 * trigger checks by outcome.
 *
 * A tally is kept up to date a little at a time: an update reads only the
 * rows added, or not yet final, since the one before, so a daemon with
 * 100,000 runs answers /metrics in a few milliseconds (the first update
 * reads every row once). Each row is counted once, when it becomes
 * final, after which it does not change: every count only grows, as
 * Prometheus's counters must. Only retention deletes rows (retention.c),
 * final ones, already counted: a restart counts from the rows left,
 * which Prometheus takes as a counter reset.
 */
#ifndef KILN_STORE_TALLY_H
#define KILN_STORE_TALLY_H

#include "store/store.h"

/* Step durations' buckets: upper bounds in milliseconds, then +Inf. */
#define KILN_TALLY_BUCKETS 14
extern const int64_t kiln_tally_bounds_ms[KILN_TALLY_BUCKETS - 1];

/* A count by status, the status as stored ("succeeded"...): a state kiln
 * gains later is counted under its own name with no change here. */
typedef struct kiln_tally_count {
    char *status;
    int64_t n;
} kiln_tally_count;

typedef struct kiln_tally_counts {
    kiln_tally_count *items;                /* in the order first seen */
    size_t n;
} kiln_tally_counts;

typedef struct kiln_tally_pipeline {
    char *name;
    kiln_tally_counts runs;                 /* finished runs (succeeded,
                                               failed, cancelled: there
                                               from the start, at 0) */
    int64_t last_success_ms;                /* finished_at of the latest
                                               succeeded run; 0: none */
    kiln_tally_counts attempts;             /* finished attempts
                                               (succeeded, failed,
                                               cancelled, cached...) */
    /* Attempts that ran (all but cached and lost ones), by duration: each
     * in the first bucket whose bound holds it (not cumulative). */
    int64_t buckets[KILN_TALLY_BUCKETS];
    int64_t duration_ms;                    /* the sum of their durations */
} kiln_tally_pipeline;

typedef struct kiln_tally_check {
    char *pipeline;
    char *trigger;                          /* "drift"..., "manual" */
    kiln_tally_counts outcomes;             /* fired, quiet, held, error */
} kiln_tally_check;

/* Where an update starts reading a table: every row before from is
 * counted (or never will be); the rows from it on in done are too. */
typedef struct kiln_tally_cursor {
    int64_t from;
    int64_t *done;                          /* ascending */
    size_t n_done, cap_done;
} kiln_tally_cursor;

/* All zeros (calloc, {0}): nothing counted yet. */
typedef struct kiln_tally {
    kiln_tally_pipeline *pipelines;         /* by name */
    size_t n_pipelines, cap_pipelines;
    kiln_tally_check *checks;               /* by pipeline, then trigger */
    size_t n_checks, cap_checks;
    kiln_tally_cursor runs, execs, trigger_checks;
} kiln_tally;

/* Bring t up to date with the record. On an error t stays consistent:
 * what was read is counted once, and the next update goes on from
 * there. */
int kiln_store_tally_update(kiln_tally *t, kiln_store *st, kiln_err *err);
void kiln_tally_dispose(kiln_tally *t);
/* About how many rows the next update of t reads at most (by the tables'
 * highest ids): whether it is one to make on a loop. */
int kiln_store_tally_backlog(kiln_store *st, const kiln_tally *t,
                             int64_t *rows, kiln_err *err);

/* A trigger check still queued after this long is left out: a daemon that
 * was killed leaves its queued checks so for good. */
#define KILN_TALLY_QUEUED_MAX_MS (7 * 86400 * 1000LL)

#endif
