/*
 * triggers.h: checking a pipeline's triggers in kiln serve.
 *
 * A watch holds the triggers of one pipeline definition. Each trigger is
 * checked every `every:` (and, for data triggers, soon after inotify says
 * the path changed), once at start. What blocks runs elsewhere: CSV
 * statistics, directory scans, hashing and Git fetches on the libuv thread
 * pool, HTTP through kiln_http on the loop. Every check is recorded in
 * trigger_checks with what it saw; a check that cannot be made is recorded
 * as an error and tried again at the next interval.
 *
 * When a check finds a reason to run, the watch records the check and
 * asks its owner (the daemon) through fire(), which applies the cooldown
 * and the concurrency policies and completes the check's record. A
 * trigger remembers what it has fired on (in trigger_state), so a change
 * fires once, and a change held back by the cooldown fires when the
 * cooldown is over:
 *   drift   fires when a column drifts, once per content of the two files;
 *   data    fires on new or changed files (by content, not mtime); the
 *           first check only takes stock;
 *   git     fires on a new commit at the branch's tip (after fetching the
 *           remote, when given); the first check only takes stock;
 *   metric  fires when the value crosses its bound, again only after it
 *           has come back.
 */
#ifndef KILN_TRIGGERS_H
#define KILN_TRIGGERS_H

#include <uv.h>

#include "dsl/dsl.h"
#include "notify/http.h"
#include "store/store.h"

typedef struct kiln_watch kiln_watch;

/* A check that wants a run. */
typedef struct kiln_firing {
    int64_t check_id;       /* its trigger_checks row, to complete */
    const char *trigger;    /* "drift", "data", "git", "metric" */
    const char *target;
    const char *info;       /* JSON text for the run's trigger_info */
    const char *commit;     /* git: the commit to pin the run to */
    const char *file;       /* git: the pipeline file in a checkout of
                               that commit; NULL: run the current one */
    const struct kiln_git_info *git; /* the current one's repository as
                               the look read it (NULL: not read) */
} kiln_firing;

/* The owner's answer: KILN_CHECK_FIRED, _QUEUED or _HELD (by the
 * cooldown or a policy), the run when one started. The owner records it
 * in the check's row. */
typedef struct kiln_fire_outcome {
    kiln_check_status status;
    int64_t run_id;
} kiln_fire_outcome;

typedef void (*kiln_watch_fire_fn)(const kiln_firing *f,
              kiln_fire_outcome *out, void *data);

/* The first looks of triggers opened together (a daemon's start over
 * thousands of pipelines, a reload) go out KILN_LOOKS_PER_SLOT at a
 * time, KILN_LOOK_SLOT_MS apart, so the loop serves requests between
 * them instead of recording them all at once. Zeroed by its owner. */
typedef struct kiln_look_spread {
    uint64_t slot_at;     /* loop time of the slot being filled */
    unsigned in_slot;     /* looks in it */
} kiln_look_spread;
#define KILN_LOOKS_PER_SLOT 100
#define KILN_LOOK_SLOT_MS 20

/* The looks that come back quiet or failed in one turn of the loop,
 * recorded together: in one transaction, in the loop's check phase (a
 * commit each held the loop about 0.3 ms, and a daemon's first looks over
 * thousands of pipelines came back faster than it recorded them, holding
 * /healthz up to half a second). A look that fires, or that starts and
 * reads what its trigger remembers, records what waits first. Made once
 * the loop is, freed (what waits recorded) before the store closes. */
typedef struct kiln_check_batch kiln_check_batch;
kiln_check_batch *kiln_check_batch_new(uv_loop_t *loop, kiln_store *store);
void kiln_check_batch_free(kiln_check_batch *b);

typedef struct kiln_watch_options {
    uv_loop_t *loop;
    kiln_store *store;
    kiln_http *http;
    const kiln_pipeline *pipeline; /* must live until release() */
    const char *file;       /* the pipeline file, absolute */
    const char *state_dir;  /* for checkouts of new commits */
    kiln_watch_fire_fn fire;
    void *data;             /* for fire() and release() */
    void (*release)(void *data); /* once the watch is gone; may be NULL */
    kiln_look_spread *spread; /* shared by the watches it spreads; NULL:
                                 each first look at once */
    bool hold_first;        /* first looks wait for
                               kiln_watch_first_looks() */
    kiln_check_batch *batch; /* shared; NULL: each look recorded at once */
} kiln_watch_options;

/* Start checking p's triggers (none: *out is still a watch, idle). */
int kiln_watch_start(kiln_watch **out, const kiln_watch_options *o,
                     kiln_err *err);
/* Start the first looks a watch opened with hold_first held back
 * (their turns counted from the loop's time now). NULL is fine. */
void kiln_watch_first_looks(kiln_watch *w);
/* Stop checking. Checks in flight finish on the thread pool and are
 * dropped; then release() runs and the memory goes. NULL is fine. */
void kiln_watch_stop(kiln_watch *w);

#endif
