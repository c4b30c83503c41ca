/*
 * recover.c: runs whose kiln process died (a daemon killed mid-run, a
 * kiln run killed with SIGKILL) are taken over at start and every 10 s:
 * resumed when their pipeline file is as it was, abandoned with the
 * reason otherwise.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/takeover.h"

#define say kiln_daemon__say

/* Crash recovery. */

/* The audit row of the daemon taking over run id or giving up on it
 * (kiln via daemon), with what (JSON text). */
static int audit_takeover(kiln_daemon *dm, int64_t id, const char *action,
                          json_t *after, kiln_err *err)
{
    char target[48], *a = json_dumps(after, JSON_COMPACT |
                                     JSON_PRESERVE_ORDER);
    int rc;
    snprintf(target, sizeof(target), "run %lld", (long long)id);
    rc = kiln_store_audit(dm->store, "kiln", "daemon", action, target, NULL,
                          a, err);
    free(a);
    json_decref(after);
    return rc;
}

/* A run being ended for good, while its steps stop. */
typedef struct kiln_ending {
    struct kiln_ending *next;
    kiln_daemon *dm;
    int64_t id;
    char *why;
} kiln_ending;

static void on_ended(int rc, kiln_err *err, void *data)
{
    kiln_ending *e = data, **pp;
    kiln_daemon *dm = e->dm;

    if (rc == 0 && (rc = kiln_store_begin(dm->store, err)) == 0) {
        if ((rc = kiln_store_run_abandon(dm->store, e->id, e->why,
                                         err)) == 0)
            rc = audit_takeover(dm, e->id, "run.abandoned", json_pack(
                "{s:s, s:s}", "status",
                kiln_run_state_name(KILN_RUN_FAILED), "reason", e->why),
                err);
        if (rc == 0)
            rc = kiln_store_commit(dm->store, err);
        else
            kiln_store_rollback(dm->store);
    }
    /* Not recorded: the run stays this daemon's, unfinished, and the
     * next look for orphans (or kiln serve) ends it again. */
    if (rc != 0)
        kiln_daemon__store_warn(err);
    for (pp = &dm->endings; *pp != e; pp = &(*pp)->next)
        ;
    *pp = e->next;
    free(e->why);
    free(e);
    kiln_daemon__shutdown_maybe(dm);
}

void kiln_daemon__abandon(kiln_daemon *dm, const kiln_run_info *run,
                          const char *why, bool adopted)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_ending *e;

    /* Its owner, first: a kiln resume or kiln abandon of the same run
     * meanwhile, or the next look for orphans, leaves it alone. */
    if (!adopted && kiln_store_run_adopt(dm->store, run, &err) != 0) {
        if (err.code != KILN_EBUSY)
            kiln_daemon__store_warn(&err);
        return;
    }
    say("run %lld cannot be taken over: %s", (long long)run->id, why);
    e = kiln_calloc(1, sizeof(*e));
    e->dm = dm;
    e->id = run->id;
    e->why = kiln_strdup(why);
    e->next = dm->endings;
    dm->endings = e;
    /* As kiln abandon does: what still runs is stopped, not left to run
     * unwatched, and what ended while no kiln watched is recorded as it
     * ended. */
    kiln_takeover_stop_start(&dm->loop, dm->store, run, why, on_ended, e);
}

/* Make the daemon the run's owner, with the audit row run.resumed. */
static int adopt(kiln_daemon *dm, const kiln_run_info *run, kiln_err *err)
{
    int rc = kiln_store_begin(dm->store, err);
    if (rc != 0)
        return rc;
    if ((rc = kiln_store_run_adopt(dm->store, run, err)) == 0)
        rc = audit_takeover(dm, run->id, "run.resumed", json_pack(
            "{s:s}", "pipeline", run->pipeline), err);
    if (rc == 0)
        return kiln_store_commit(dm->store, err);
    kiln_store_rollback(dm->store);
    return rc;
}

/* Take over one unfinished run whose kiln process is gone. */
static void recover_run(kiln_daemon *dm, int64_t id)
{
    kiln_takeover t;
    kiln_run_options o;
    kiln_err err = KILN_ERR_INIT;
    kiln_active_run *a;
    kiln_def *d;
    int rc = kiln_takeover_load(&t, dm->store, id, &err);

    if (rc == KILN_EINVAL && t.rec)
        kiln_daemon__abandon(dm, t.rec, err.msg, false);
    else if (rc != 0 && rc != KILN_EBUSY)
        kiln_daemon__store_warn(&err);
    if (rc != 0 || adopt(dm, t.rec, &err) != 0) {
        if (rc == 0 && err.code != KILN_EBUSY) /* EBUSY: a kiln resume
                                                  took it first */
            kiln_daemon__store_warn(&err);
        kiln_takeover_dispose(&t);
        return;
    }
    d = kiln_calloc(1, sizeof(*d));
    d->p = t.p;
    t.p = NULL;
    d->file = kiln_strdup(t.file);
    memcpy(d->hash, t.hash, sizeof(d->hash));
    d->refs = 1;
    a = kiln_calloc(1, sizeof(*a));
    a->dm = dm;
    a->d = d;
    a->e = kiln_daemon__entry_find(dm, d->p->name);
    o = t.opts;
    o.pipeline = d->p;
    o.file = d->file;
    o.hash = d->hash;
    o.on_event = kiln_daemon__run_event;
    o.on_ending = kiln_daemon__on_run_ending;
    o.on_done = kiln_daemon__on_run_done;
    o.data = a;
    if (a->e)
        a->e->n_active++;
    a->next = dm->runs;
    dm->runs = a;
    say("%s: taking over run %lld", d->p->name, (long long)id);
    if (kiln_run_resume(&a->run, dm->eng, &o, t.rec, &err) != 0) {
        dm->runs = a->next;
        if (a->e)
            a->e->n_active--;
        kiln_daemon__abandon(dm, t.rec, err.msg, true);
        kiln_daemon__def_unref(d);
        free(a);
    }
    kiln_takeover_dispose(&t);
}

/* Is run id one of this daemon's running runs, or ending? */
static bool active(const kiln_daemon *dm, int64_t id)
{
    for (const kiln_active_run *a = dm->runs; a; a = a->next)
        if (a->run && kiln_run_id(a->run) == id)
            return true;
    for (const kiln_ending *e = dm->endings; e; e = e->next)
        if (e->id == id)
            return true;
    return false;
}

/* Runs left unfinished by kiln processes that are gone (a daemon killed
 * mid-run, a kiln run killed with SIGKILL): at start, and every 10 s, so
 * a kiln run killed while the daemon runs is not left hanging. Runs whose
 * owner still lives (a kiln run in another terminal, this daemon) are
 * left alone, but for one of this daemon's that it no longer runs: its
 * end could not be recorded (a full disk), and is, once it can be. Then
 * the notifications such kilns did not deliver. */
void kiln_daemon__recover(kiln_daemon *dm)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_run_owner *runs = NULL;
    size_t n = 0, notes;

    if (kiln_store_unfinished_runs(&runs, &n, dm->store, &err) != 0) {
        kiln_daemon__store_warn(&err);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (runs[i].pid <= 0 || !runs[i].start ||
            kiln_proc_start(runs[i].pid) != runs[i].start ||
            (runs[i].pid == getpid() && !active(dm, runs[i].id)))
            recover_run(dm, runs[i].id);
    free(runs);
    notes = kiln_notifier_adopt(dm->notifier, NULL);
    if (notes)
        say("posting %zu notification%s that a kiln no longer running did "
            "not deliver", notes, notes == 1 ? "" : "s");
}

void kiln_daemon__on_orphan_timer(uv_timer_t *t)
{
    kiln_daemon *dm = t->data;
    if (!dm->stopping)
        kiln_daemon__recover(dm);
}

