/*
 * daemon-internal.h: what daemon.c (schedules, triggers, fires, runs)
 * shares with daemon-web.c (the daemon's side of the web API).
 */
#ifndef KILN_DAEMON_INTERNAL_H
#define KILN_DAEMON_INTERNAL_H

#include "web/web.h"
#include "daemon/daemon.h"
#include "engine/engine.h"
#include "base/hash.h"
#include "notify/http.h"
#include "daemon/inbox.h"
#include "notify/notify.h"
#include "daemon/triggers.h"

typedef struct server server;
typedef struct entry entry;

/* One loaded definition of a pipeline, shared by the runs started from
 * it. */
typedef struct def {
    kiln_pipeline *p;
    char *file;              /* absolute path */
    char hash[KILN_HASH_HEX];
    int refs;
} def;

typedef struct sched {
    uv_timer_t timer;
    entry *e;
    kiln_cron cron;
    char *expr;
    int64_t due_ms;          /* next fire on the kiln clock; -1: none */
} sched;

/* Where a fire comes from: a schedule's due time, a trigger's check or a
 * manual request (kiln trigger). */
typedef struct source {
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
} source;

/* What became of a fire. */
typedef struct outcome {
    const char *status;      /* KILN_FIRE_STARTED, _SKIPPED, _MISSED, or
                                "queued" */
    int64_t run_id;
    char reason[300];
} outcome;

typedef struct queued {
    struct queued *next;
    source src;
} queued;

typedef struct active {
    struct active *next;
    kiln_run *run;
    server *dm;
    entry *e;                /* NULL: a recovered run of no loaded entry */
    def *d;
} active;

struct entry {
    entry *next;
    server *dm;
    char *name;
    def *d;                  /* the current definition */
    size_t n_scheds;
    sched **scheds;
    queued *queue;           /* fires waiting for max_active_runs */
    kiln_watch *watch;       /* its triggers */
    unsigned n_active;
    bool removed;            /* no longer in the files; goes when idle */
    bool seen;               /* found again by the current (re)load */
};

struct server {
    uv_loop_t loop;
    const kiln_daemon_options *o;
    kiln_store *store;
    kiln_engine *eng;
    entry *entries;
    active *runs;
    kiln_http *http;         /* metric triggers' requests */
    kiln_inbox *inbox;       /* kiln trigger's requests */
    kiln_web *web;           /* the status page and API, or NULL */
    kiln_notifier *notifier; /* notify: webhooks */
    int64_t last_lag_ms;     /* of the latest scheduled fire */
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t grace;
    uv_timer_t orphans;      /* looks for runs whose kiln died */
    bool stopping;
    bool closed;
    int signals;
};

/* daemon.c */
void kiln_daemon__say(const char *fmt, ...) KILN_PRINTF(1, 2);
entry *kiln_daemon__entry_find(server *dm, const char *name);
/* A run asked for now (kiln trigger, POST .../runs): reply gets
 * {status, run_id, reason}, or {error, code} with code not_found,
 * invalid or unavailable. */
void kiln_daemon__manual_run(server *dm, const char *name, json_t *params,
                             const char *commit, json_t *who, json_t *reply);

/* A retry of run (kiln_store_run_json()'s object): a new run of the
 * same definition, params and commit that reuses its succeeded steps.
 * reply as for kiln_daemon__manual_run(). */
void kiln_daemon__retry_run(server *dm, const char *name, json_t *run,
                            json_t *reply);

/* Cancel run id if it is in flight here: KILN_ENOTFOUND for no such run,
 * KILN_EBUSY (saying its status) for one that is not running. */
int kiln_daemon__cancel_run(server *dm, int64_t id, const char *via,
                            kiln_err *err);
bool kiln_daemon__is_active(server *dm, int64_t id);

/* daemon-web.c */
/* Start the web server when o->listen says so. */
int kiln_daemon__web_start(server *dm, kiln_err *err);
void kiln_daemon__web_stop(server *dm);
/* Tell event stream subscribers about a run's change (step -1: the run's
 * own state). */
void kiln_daemon__run_event(kiln_run *run, ssize_t step, void *data);

#endif
