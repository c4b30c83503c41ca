/*
 * internal.h: what the daemon's files share: the server, its entries,
 * definitions, sources of fires and active runs, and the typed
 * commands the inbox (requests.c) and the web API (web.c) give it.
 */
#ifndef KILN_DAEMON_INTERNAL_H
#define KILN_DAEMON_INTERNAL_H

#include "web/web.h"
#include "daemon/daemon.h"
#include "engine/checkpoint.h"
#include "engine/engine.h"
#include "base/hash.h"
#include "notify/http.h"
#include "daemon/inbox.h"
#include "notify/notify.h"
#include "notify/openlineage.h"
#include "daemon/triggers.h"
#include "git/git.h"

typedef struct kiln_daemon kiln_daemon;
typedef struct kiln_entry kiln_entry;

/* One loaded definition of a pipeline, shared by the runs started from
 * it. */
typedef struct kiln_def {
    kiln_pipeline *p;
    char *file;              /* absolute path */
    char hash[KILN_HASH_HEX];
    int refs;
} kiln_def;

typedef struct kiln_sched {
    uv_timer_t timer;
    kiln_entry *e;
    kiln_cron cron;
    char *expr;
    int64_t due_ms;          /* next fire on the kiln clock; -1: none */
    bool unsaved;            /* due_ms not recorded yet (a load writes
                                them all in one transaction) */
} kiln_sched;

/* Where a fire comes from: a schedule's due time, a trigger's check or a
 * manual request (kiln trigger). */
typedef struct kiln_source {
    const char *trigger;     /* "schedule", "drift"..., "manual" (static) */
    char *expr;              /* schedule: the cron expression */
    int64_t due_ms;          /* schedule: when it was due; else: when the
                                fire came */
    char *info;              /* else: the run's trigger_info (JSON) */
    int64_t check_id;        /* else: the trigger_checks row to complete */
    char *commit;            /* git: pin the run to this commit... */
    char *file;              /* ...running the pipeline file of its
                                checkout (NULL: the current one) */
    size_t n_params;         /* manual: parameter overrides */
    kiln_kv *params;
    int64_t reuse_run;       /* retry: the run retried (never queued) */
    size_t n_reuse;          /* ...its succeeded steps and executions */
    const kiln_kv *reuse;
    char actor[80];          /* who asked (the audit trail); "": the
                                trigger ("scheduler", "trigger:drift") */
    const char *via;         /* "cli", "api" (static); NULL: "daemon" */
    const kiln_git_info *git; /* the pipeline file's repository, read off
                                the loop just before (NULL: read when the
                                run starts; never kept in a queue) */
} kiln_source;

/* A pipeline file's repository read on the thread pool ahead of a fire
 * (sched.c): file is copied on the loop, read on a worker, and the result
 * is a fire's kiln_source.git while its entry still runs that file. */
typedef struct kiln_git_read {
    char *file;
    kiln_git_info git;
    bool ok;                 /* read without an error (else: read again as
                                the run starts, and warned) */
} kiln_git_read;
void kiln_daemon__git_read_work(kiln_git_read *r);
const kiln_git_info *kiln_daemon__git_read_for(const kiln_git_read *r,
                                               const kiln_entry *e);
void kiln_daemon__git_read_dispose(kiln_git_read *r);

/* What became of a fire. */
typedef struct kiln_outcome {
    kiln_fire_status status;
    int64_t run_id;
    char reason[300];
} kiln_outcome;

typedef struct kiln_queued_fire {
    struct kiln_queued_fire *next;
    kiln_source src;
    kiln_entry *e;           /* whose fire (in the daemon's to_read) */
    bool dequeued;           /* out of its entry's queue: it holds a slot
                                while its repository is read */
} kiln_queued_fire;

typedef struct kiln_active_run {
    struct kiln_active_run *next;
    kiln_run *run;
    kiln_daemon *dm;
    kiln_entry *e;           /* NULL: a recovered run of no loaded entry */
    kiln_def *d;
} kiln_active_run;

struct kiln_entry {
    kiln_entry *next;
    kiln_daemon *dm;
    char *name;
    kiln_def *d;             /* the current definition */
    size_t n_scheds;
    kiln_sched **scheds;
    kiln_queued_fire *queue; /* fires waiting for max_active_runs */
    unsigned n_reading;      /* its fires waiting for their repository
                                (sched.c): it stays until they settle */
    unsigned n_dequeued;     /* ...of them out of its queue, each holding
                                a slot of max_active_runs */
    kiln_watch *watch;       /* its triggers */
    unsigned n_active;
    bool removed;            /* no longer in the files; goes when idle */
    bool seen;               /* found again by the current (re)load */
};

/* A pipeline file the latest (re)load could not load. */
typedef struct kiln_broken {
    struct kiln_broken *next;
    char *file;              /* absolute path */
    char *pipeline;          /* what it defined before (its last good
                                definition still runs), or NULL */
    char *errors;            /* "FILE:LINE:COL: error: ..." lines */
    int64_t since_ms;        /* when it first failed (wall clock) */
} kiln_broken;

struct kiln_daemon {
    uv_loop_t loop;
    const kiln_daemon_options *o;
    kiln_store *store;
    kiln_engine *eng;
    kiln_entry *entries;
    kiln_active_run *runs;
    struct kiln_ending *endings; /* runs it cannot take over, whose steps
                                    still running it stops (recover.c) */
    kiln_broken *broken;     /* files of the last load that failed, in
                                path order */
    kiln_http *http;         /* metric triggers' requests */
    kiln_look_spread looks;  /* the first looks of triggers, spread */
    kiln_check_batch *checks; /* trigger looks recorded a turn at a time */
    kiln_checkpointer *ckpt; /* the WAL's checkpoints, off the loop */
    kiln_inbox *inbox;       /* kiln trigger's requests */
    kiln_web *web;           /* the status page and API, or NULL */
    kiln_notifier *notifier; /* notify: webhooks */
    kiln_openlineage *lineage; /* --openlineage, or NULL */
    int64_t last_lag_ms;     /* of the latest scheduled fire */
    kiln_queued_fire *to_read; /* schedule fires whose repository is to
                                  be read (sched.c), in order... */
    struct fire_read *read;  /* ...and those being read: the daemon
                                closes once they have settled */
    uv_check_t read_soon;    /* reads the turn's fires after its timers */
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t grace;
    uv_timer_t orphans;      /* looks for runs whose kiln died */
    struct kiln_gc_pass *gc; /* the periodic retention pass, or NULL */
    bool stopping;
    bool closed;
    bool loading;            /* kiln_daemon__load_all() is arming: the
                                schedules' due times are saved, and the
                                triggers' first looks started, after */
    int signals;
};

/* A run asked for now (kiln trigger, POST /pipelines/{name}/runs). */
typedef struct kiln_run_request {
    const char *pipeline;
    size_t n_params;         /* overrides, as text */
    const kiln_kv *params;
    const char *commit;      /* run the pipeline as it is at this commit;
                                NULL: as loaded */
    const char *via;         /* who asks: "kiln trigger", "HTTP API" */
    const char *params_json; /* the params as sent and who sent them (JSON
                                text, or NULL), recorded with the */
    const char *who_json;    /* request's trigger check */
    kiln_audit_who by;       /* the audit trail's actor and via; NULL
                                actor: as via says (kiln_daemon__who) */
} kiln_run_request;

/* What became of a request. */
typedef struct kiln_fire_result {
    kiln_fire_status status;
    int64_t run_id;          /* 0: none started */
    char reason[300];        /* why not started ("" when it was) */
} kiln_fire_result;

/* daemon.c: the server, definitions, entries, stopping. */
void kiln_daemon__say(const char *fmt, ...) KILN_PRINTF(1, 2);
void kiln_daemon__store_warn(const kiln_err *err);
/* NULL: printed why, and put it in why ("FILE:LINE:COL: error: ..."
 * lines) unless why is NULL. */
kiln_def *kiln_daemon__def_load(const char *file, kiln_buf *why);
void kiln_daemon__def_unref(kiln_def *d);
kiln_entry *kiln_daemon__entry_find(kiln_daemon *dm, const char *name);
void kiln_daemon__entry_release_maybe(kiln_entry *e);
void kiln_daemon__shutdown_maybe(kiln_daemon *dm);

/* sched.c: fires, policies, schedules, triggers. */
void kiln_daemon__source_copy(kiln_source *dst, const kiln_source *src);
void kiln_daemon__source_dispose(kiln_source *src);
void kiln_daemon__queued_free(kiln_queued_fire *q);
bool kiln_daemon__from_schedule(const kiln_source *src);
/* Start a run of e for src; its id, or 0 with why in reason. */
int64_t kiln_daemon__start_run(kiln_entry *e, const kiln_source *src,
                               char *reason, size_t size);
kiln_active_run *kiln_daemon__find_active(kiln_daemon *dm, int64_t id);
/* What to do to runs in flight, with kiln_daemon__each_run(). */
typedef enum run_action {
    RUN_CANCEL,         /* SIGTERM, SIGKILL 10 s later */
    RUN_KILL,           /* SIGKILL now */
    RUN_DRAIN           /* start nothing more */
} run_action;
void kiln_daemon__each_run(kiln_daemon *dm, kiln_entry *only,
                           run_action action);
/* Record what became of a fire (fires, or the check's row). */
void kiln_daemon__settle(kiln_entry *e, const kiln_source *src,
                         kiln_outcome *out, kiln_fire_status status,
                         const char *reason, int64_t run_id);
/* A fire from src on e: a run, a queued fire, or a recorded skip. */
void kiln_daemon__fire(kiln_entry *e, const kiln_source *src,
                       kiln_outcome *out);
void kiln_daemon__on_run_done(kiln_run *run, void *data);
/* Start e's queued fires while max_active_runs leaves room. */
void kiln_daemon__dequeue(kiln_entry *e);
/* As the daemon starts: queue again the fires of checks the last one
 * left queued (after recovering its runs). */
void kiln_daemon__requeue(kiln_daemon *dm);
/* A run of the daemon's ends: its notifications, recorded with the end. */
void kiln_daemon__on_run_ending(kiln_run *run, void *data);
void kiln_daemon__scheds_open(kiln_entry *e, bool catchup);
/* Record the due times arm() left unsaved during a load, in one
 * transaction. */
void kiln_daemon__scheds_save(kiln_daemon *dm);
void kiln_daemon__scheds_close(kiln_entry *e);

/* retention.c: the periodic retention pass (--retention-every). */
void kiln_daemon__retention_start(kiln_daemon *dm);
void kiln_daemon__retention_stop(kiln_daemon *dm);

/* moves.c: the API's alias moves, through the model's deploy command,
 * on the engine's mover (done is called on the loop). */
void kiln_daemon__move_model(kiln_daemon *dm, const char *model,
                             const char *alias, int version,
                             const kiln_audit_who *who,
                             kiln_web_done_cb done, void *ctx);
/* ...and, first of all as it starts, the deploy commands a killed kiln
 * left open (engine/deploy.h), on the mover too: they may still run. */
void kiln_daemon__settle_deploys(kiln_daemon *dm);

/* recover.c: runs whose kiln died. */
void kiln_daemon__recover(kiln_daemon *dm);
void kiln_daemon__on_orphan_timer(uv_timer_t *t);
/* End run for good, failed with why: its steps that still run are
 * stopped first, on the loop, without blocking it. adopted: this daemon
 * is already the run's owner; else it becomes it first, unless another
 * kiln took the run over meanwhile. */
void kiln_daemon__abandon(kiln_daemon *dm, const kiln_run_info *run,
                          const char *why, bool adopted);

/* commands.c: the typed commands. Errors: KILN_ENOTFOUND (no such
 * pipeline or run), KILN_EINVAL (bad params, commit), KILN_EBUSY (the
 * daemon is stopping; a run in a state that refuses it), KILN_ERROR. */
/* Start a run as req asks (a manual request: the API's, kiln trigger's),
 * its commit checked out (or its repository read) on the thread pool
 * first: done is called on the loop, at once when the request is refused
 * before that. */
typedef void (*kiln_daemon_fire_cb)(void *ctx, int rc,
                                    const kiln_fire_result *out,
                                    const kiln_err *err);
void kiln_daemon__manual_run_async(kiln_daemon *dm,
                                   const kiln_run_request *req,
                                   kiln_daemon_fire_cb done, void *ctx);
/* A new run of the same definition, params and commit as run_id (failed
 * or cancelled) that reuses its succeeded steps; with from (a step name,
 * or NULL), that step and what is downstream of it run again, and run_id
 * may have succeeded. */
int kiln_daemon__retry_run(kiln_daemon *dm, int64_t run_id,
                           const char *from, const kiln_audit_who *who,
                           kiln_fire_result *out, kiln_err *err);
/* Cancel run id if it is in flight here: KILN_ENOTFOUND for no such run,
 * KILN_EBUSY (saying its state) for one that is not running. */
int kiln_daemon__cancel_run(kiln_daemon *dm, int64_t id, const char *via,
                            kiln_err *err);
/* ...recorded in the audit trail as who's (run.cancelled). */
int kiln_daemon__cancel_run_as(kiln_daemon *dm, int64_t id, const char *via,
                               const kiln_audit_who *who, kiln_err *err);
/* Who a request's via ("kiln trigger"...) stands for in the audit trail
 * when it does not say (the daemon itself: kiln). */
kiln_audit_who kiln_daemon__who(const char *via);
bool kiln_daemon__is_active(kiln_daemon *dm, int64_t id);

/* requests.c: the inbox's JSON edge (a trigger answered once its run
 * started, its repository read on the thread pool). */
void kiln_daemon__on_request(json_t *req, kiln_inbox_reply *reply,
                             void *data);
/* A request's JSON params as text (numbers as their shortest text);
 * free with kiln_daemon__params_free(). */
int kiln_daemon__params_from_json(kiln_kv **out, size_t *n, json_t *params);
void kiln_daemon__params_free(kiln_kv *kv, size_t n);
/* {status, run_id, reason} */
void kiln_daemon__fire_reply(json_t *reply, const kiln_fire_result *res);

/* web.c: the web API's edge. */
/* Start the web server when o->listen says so. */
int kiln_daemon__web_start(kiln_daemon *dm, kiln_err *err);
void kiln_daemon__web_stop(kiln_daemon *dm);
/* Tell event stream subscribers and the OpenLineage receiver about a
 * run's change (step -1: the run's own state). */
void kiln_daemon__run_event(kiln_run *run, ssize_t step, void *data);

#endif
