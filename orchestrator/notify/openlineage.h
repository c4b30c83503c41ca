/*
 * openlineage.h: OpenLineage run events about steps and runs (kiln run
 * and kiln serve --openlineage URL|FILE).
 *
 * Each step that starts gets a RunEvent START, then COMPLETE, FAIL or
 * ABORT when it ends; the pipeline run gets its own pair, and is every
 * step's parent. A step is the job PIPELINE.STEP in the namespace given
 * ("kiln" by default), its inputs and outputs the datasets at their
 * absolute paths in the namespace file://HOST. Run ids are UUIDs derived
 * from the host, the state directory, the run's id and creation time and
 * the step's name, so the events of one step share one, even across a
 * takeover by another kiln process.
 *
 * Events go out in the order they were made, one at a time: to an http://
 * or https:// URL by POST (kiln_http, on the loop), otherwise appended to
 * a file as JSON lines (uv_fs_write on the thread pool). Neither blocks the
 * loop. An event that cannot be delivered is dropped: kiln warns once, and
 * again when delivery works again; at most OPENLINEAGE_QUEUE events wait,
 * the rest are dropped and counted. Nothing here fails a run.
 */
#ifndef KILN_OPENLINEAGE_H
#define KILN_OPENLINEAGE_H

#include <uv.h>

#include "dsl/dsl.h"
#include "store/store.h"

typedef struct kiln_openlineage kiln_openlineage;

/* Told once per trouble: what went wrong, as a sentence. */
typedef void (*kiln_openlineage_warn_cb)(const char *msg, void *data);

typedef struct kiln_openlineage_options {
    uv_loop_t *loop;
    const char *target;     /* an http(s):// URL, or a file's path */
    const char *job_namespace; /* NULL: "kiln" */
    kiln_store *store;      /* runs' records: their workdir and creation
                               time (read on the loop, once a run) */
    const char *state_dir;  /* absolute: part of every run id */
    kiln_openlineage_warn_cb warn; /* NULL: "kiln: warning: ..." on
                                      stderr */
    void *data;
} kiln_openlineage_options;

/*
 * An emitter sending to o->target. A file is opened (created, appended to)
 * now: KILN_ERROR when it cannot be. Release it with
 * kiln_openlineage_close().
 */
int kiln_openlineage_new(kiln_openlineage **out,
                         const kiln_openlineage_options *o, kiln_err *err);

/* Step step of run run_id (of p) is now in state, after attempt attempts;
 * reason says why it failed or was cancelled. Emits what the change
 * means: START on the first RUNNING; COMPLETE, FAIL or ABORT at its end
 * (a step that ends succeeded or failed without having run, from the
 * cache or unable to start, gets both START and its end; one skipped or
 * cancelled before it ran gets nothing). NULL ol is fine. */
void kiln_openlineage_step(kiln_openlineage *ol, const kiln_pipeline *p,
                           int64_t run_id, size_t step,
                           kiln_step_state state, const char *reason);
/* The run itself is now in state: START when it runs, COMPLETE, FAIL or
 * ABORT (cancelled) when it ends. NULL ol is fine. */
void kiln_openlineage_run(kiln_openlineage *ol, const kiln_pipeline *p,
                          int64_t run_id, kiln_run_state state,
                          const char *reason);

/* Deliver what waits for at most grace_ms more, then drop the rest
 * (saying how many) and release everything; the memory goes once the
 * loop has closed the handles. NULL is fine. */
void kiln_openlineage_close(kiln_openlineage *ol, int64_t grace_ms);

/* Is target a URL (http:// or https://), else a file? */
bool kiln_openlineage_is_url(const char *target);

#endif
