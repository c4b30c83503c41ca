/*
 * takeover.h: what taking over a run another kiln process left
 * unfinished needs (kiln serve at start and every 10 s, kiln resume).
 *
 * A run records its owner (pid and start time). When that process is gone
 * the run is orphaned: its record says running, its steps may still run
 * under kiln-shim, and their status files say how the others ended. A
 * takeover loads the pipeline from the run's file, which must not have
 * changed since the run started, and resumes it (kiln_run_resume()),
 * which re-attaches to what still runs and never runs a finished step
 * again.
 */
#ifndef KILN_TAKEOVER_H
#define KILN_TAKEOVER_H

#include "base/hash.h"
#include "engine/engine.h"

typedef struct kiln_takeover {
    kiln_run_info *rec;      /* the run as recorded */
    kiln_pipeline *p;        /* loaded from its file; the caller may take
                                it (set to NULL) */
    char *file;              /* the pipeline file's absolute path */
    char hash[KILN_HASH_HEX];
    kiln_run_options opts;   /* pipeline, file, hash, root, params and
                                commit set (borrowed from rec), and the
                                selection of kiln run --from/--only/--until
                                (skip, reuse_only); the caller adds
                                callbacks */
    const char **skip;       /* opts.skip's and opts.reuse_only's */
    const char **reuse_only;
    char *why;
} kiln_takeover;

/*
 * Prepare to take over run id. Returns 0; KILN_ENOTFOUND for no such run;
 * KILN_EBUSY when it has ended or its owner still runs (err says which);
 * KILN_EINVAL when it cannot be resumed as it was (its pipeline file is
 * gone, no longer loads or changed): abandon it. Dispose t in every case.
 */
int kiln_takeover_load(kiln_takeover *t, kiln_store *st, int64_t id,
                       kiln_err *err);
void kiln_takeover_dispose(kiln_takeover *t);

/*
 * End the attempts of orphaned run that its record says run, before the
 * run is abandoned (kiln abandon; kiln serve, when it cannot take the
 * run over): each is found again through its executor. One that ended
 * while no kiln watched is recorded as it ended (its status file says
 * how, and when); one that still runs is stopped (SIGTERM, SIGKILL after
 * the grace period; scancel) and recorded cancelled with why. Returns
 * once all have ended. One that cannot be found again stays running, for
 * kiln_store_run_abandon() to record lost.
 */
int kiln_takeover_stop(kiln_store *st, const kiln_run_info *run,
                       const char *why, kiln_err *err);

/* The same on the caller's loop (kiln serve's, which must not block):
 * returns at once, and cb runs on the loop once all have ended and are
 * recorded, with 0 or the store's error. run is read before it returns;
 * st must stay open until cb. */
typedef void (*kiln_takeover_stopped_cb)(int rc, kiln_err *err, void *data);
void kiln_takeover_stop_start(uv_loop_t *loop, kiln_store *st,
                              const kiln_run_info *run, const char *why,
                              kiln_takeover_stopped_cb cb, void *data);

#endif
