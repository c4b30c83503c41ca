/*
 * daemon.c: schedules, fires and their policies, reload and drain.
 *
 * Each loaded pipeline is an entry: its current definition (a def, shared
 * by reference with the runs started from it, so a reload never pulls a
 * pipeline from under a running run), one sched per cron expression with
 * its own timer, the fires waiting for a free run slot, and its active
 * runs. fire() is the one place where a due time becomes a run, a queued
 * fire, or a recorded skip or miss.
 *
 * Time comes from clock.c (the wall clock, or the test clock of KILN_NOW
 * and KILN_CLOCK_SPEED). Store and libgit2 calls are short and made on the
 * loop thread.
 */
#include "internal.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "git/git.h"
#include "store/store.h"
#include "engine/takeover.h"

/* How often runs orphaned by a kiln process that died are looked for. */
#define ORPHAN_CHECK_MS 10000

/* Missed fires recorded one by one after downtime, before a summary. */
#define MAX_MISSED_RECORDS 100

#define say kiln_daemon__say

/* Log a line to stderr with a timestamp. */
void kiln_daemon__say(const char *fmt, ...)
{
    char when[32];
    va_list ap;
    kiln_fmt_time(when, sizeof(when), kiln_now_ms());
    fprintf(stderr, "%s kiln serve: ", when);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void store_warn(const kiln_err *err)
{
    say("warning: %s", err->msg);
}

/* Definitions. */

static void def_unref(def *d)
{
    if (d && --d->refs == 0) {
        kiln_pipeline_free(d->p);
        free(d->file);
        free(d);
    }
}

/* Load file; on error print the diagnostics and return NULL. */
static def *def_load(const char *file)
{
    kiln_diag diag = KILN_DIAG_INIT;
    kiln_err err = KILN_ERR_INIT;
    kiln_pipeline *p = NULL;
    def *d;

    if (kiln_dsl_load_file(&p, file, &diag) != 0) {
        kiln_diag_print(&diag);
        kiln_diag_dispose(&diag);
        return NULL;
    }
    kiln_diag_dispose(&diag);
    d = kiln_calloc(1, sizeof(*d));
    d->p = p;
    d->file = kiln_path_absolute(file);
    d->refs = 1;
    if (kiln_hash_file(d->hash, d->file, &err) != 0) {
        kiln_err_print(&err);
        def_unref(d);
        return NULL;
    }
    return d;
}

/* Scanning paths. */

static char **scan_out;
static size_t scan_n, scan_cap;

static void scan_add(const char *path)
{
    if (scan_n == scan_cap) {
        scan_cap = scan_cap ? scan_cap * 2 : 16;
        scan_out = kiln_realloc(scan_out, scan_cap * sizeof(char *));
    }
    scan_out[scan_n++] = kiln_path_absolute(path);
}

static int on_walk(const char *path, const struct stat *st, int type,
                   struct FTW *ftw)
{
    const char *base = path + ftw->base;
    size_t len = strlen(base);
    if (type == FTW_D && ftw->level > 0 && base[0] == '.')
        return FTW_SKIP_SUBTREE;
    if (type == FTW_F && base[0] != '.' &&
        ((len > 5 && strcmp(base + len - 5, ".yaml") == 0) ||
         (len > 4 && strcmp(base + len - 4, ".yml") == 0)))
        scan_add(path);
    (void)st;
    return FTW_CONTINUE;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int kiln_daemon_scan(char ***out, size_t *n, char *const *paths,
                     size_t n_paths, kiln_err *err)
{
    scan_out = NULL;
    scan_n = scan_cap = 0;
    for (size_t i = 0; i < n_paths; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            kiln_err_set_os(err, "cannot read %s", paths[i]);
            goto fail;
        }
        if (S_ISDIR(st.st_mode)) {
            if (nftw(paths[i], on_walk, 16, FTW_PHYS | FTW_ACTIONRETVAL) !=
                0) {
                kiln_err_set_os(err, "cannot scan %s", paths[i]);
                goto fail;
            }
        } else {
            scan_add(paths[i]);
        }
    }
    if (scan_n)
        qsort(scan_out, scan_n, sizeof(char *), cmp_str);
    *out = scan_out;
    *n = scan_n;
    return 0;
fail:
    for (size_t i = 0; i < scan_n; i++)
        free(scan_out[i]);
    free(scan_out);
    *out = NULL;
    *n = 0;
    return KILN_ERROR;
}

/* Sources. */

static void source_copy(source *dst, const source *src)
{
    *dst = *src;
    dst->expr = src->expr ? kiln_strdup(src->expr) : NULL;
    dst->info = src->info ? kiln_strdup(src->info) : NULL;
    dst->commit = src->commit ? kiln_strdup(src->commit) : NULL;
    dst->file = src->file ? kiln_strdup(src->file) : NULL;
    dst->params = NULL;
    if (src->n_params) {
        dst->params = kiln_calloc(src->n_params, sizeof(kiln_kv));
        for (size_t i = 0; i < src->n_params; i++) {
            dst->params[i].key = kiln_strdup(src->params[i].key);
            dst->params[i].value = kiln_strdup(src->params[i].value);
        }
    }
}

static void source_dispose(source *src)
{
    for (size_t i = 0; i < src->n_params; i++) {
        free((char *)src->params[i].key);
        free((char *)src->params[i].value);
    }
    free(src->params);
    free(src->expr);
    free(src->info);
    free(src->commit);
    free(src->file);
}

static void queued_free(queued *q)
{
    source_dispose(&q->src);
    free(q);
}

static bool from_schedule(const source *src)
{
    return strcmp(src->trigger, "schedule") == 0;
}

/* Runs. */

static void on_run_done(kiln_run *run, void *data);
static void entry_release_maybe(entry *e);
static void shutdown_maybe(server *dm);

/* The run's trigger: the schedule, its due time and how late it starts
 * (lag_ms, in real milliseconds: the scheduler's fire delay). */
static char *trigger_info(const char *expr, const char *zone, int64_t due)
{
    char iso[40];
    json_t *o;
    char *text;
    double lag = (double)(kiln_clock_now_ms() - due) / kiln_clock_speed();
    kiln_time_iso(iso, sizeof(iso), due / 1000, zone);
    o = json_pack("{s:s, s:s, s:s, s:I}", "schedule", expr, "due", iso,
                  "timezone", zone, "lag_ms", (json_int_t)(lag + 0.5));
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

/* Start a run of e for src: its current definition, or the one of a
 * checkout (a git trigger). Returns the run id, or 0 with why in
 * reason. */
static int64_t start_run(entry *e, const source *src, char *reason,
                         size_t size)
{
    server *dm = e->dm;
    def *d = e->d;
    kiln_run_options o = KILN_RUN_OPTIONS_INIT;
    kiln_git_info git;
    kiln_err err = KILN_ERR_INIT;
    active *a;
    char *info = from_schedule(src)
                     ? trigger_info(src->expr, d->p->schedule.timezone,
                                    src->due_ms)
                     : kiln_strdup(src->info ? src->info : "{}");
    int rc;

    memset(&git, 0, sizeof(git));
    if (src->file) {
        /* Pinned to a commit: the pipeline as it is there. */
        if (!(d = def_load(src->file))) {
            snprintf(reason, size, "%s at commit %.12s is not a valid "
                     "pipeline", src->file, src->commit);
            free(info);
            return 0;
        }
    } else {
        d->refs++;
        if (kiln_git_inspect(&git, d->file, &err) != 0)
            say("warning: %s", err.msg);
    }
    a = kiln_calloc(1, sizeof(*a));
    a->dm = dm;
    a->e = e;
    a->d = d;
    o.pipeline = d->p;
    o.file = d->file;
    o.hash = d->hash;
    o.trigger = src->trigger;
    o.trigger_info = info;
    o.n_params = src->n_params;
    o.params = src->params;
    o.reuse_run = src->reuse_run;
    o.n_reuse = src->n_reuse;
    o.reuse = src->reuse;
    if (src->commit) {
        o.git_commit = src->commit;
    } else {
        o.git_commit = git.in_repo && git.commit[0] ? git.commit : NULL;
        o.git_branch = git.branch;
        o.git_dirty = git.dirty;
    }
    o.on_event = kiln_daemon__run_event;
    o.on_done = on_run_done;
    o.data = a;
    rc = kiln_run_start(&a->run, dm->eng, &o, &err);
    kiln_git_info_dispose(&git);
    free(info);
    if (rc != 0) {
        say("error: cannot start a run of %s: %s", e->name, err.msg);
        snprintf(reason, size, "%.280s", err.msg);
        def_unref(d);
        free(a);
        return 0;
    }
    e->n_active++;
    a->next = dm->runs;
    dm->runs = a;
    return kiln_run_id(a->run);
}

static void record(entry *e, const char *expr, int64_t due,
                   const char *status, const char *reason, int64_t run_id)
{
    kiln_err err = KILN_ERR_INIT;
    char iso[40];
    kiln_time_iso(iso, sizeof(iso), due / 1000,
                  e->d->p->schedule.timezone);
    if (run_id)
        say("%s: fire due %s started run %lld", e->name, iso,
            (long long)run_id);
    else
        say("%s: fire due %s %s: %s", e->name, iso, status, reason);
    if (kiln_store_fire_record(e->dm->store, e->name, expr, due, status,
                               reason, run_id, &err) != 0)
        store_warn(&err);
}

static active *find_active(server *dm, int64_t id)
{
    for (active *a = dm->runs; a; a = a->next)
        if (kiln_run_id(a->run) == id)
            return a;
    return NULL;
}

/* What to do to runs in flight, with each_run(). */
typedef enum run_action {
    RUN_CANCEL,         /* SIGTERM, SIGKILL 10 s later */
    RUN_KILL,           /* SIGKILL now */
    RUN_DRAIN           /* start nothing more */
} run_action;

/* Apply action to every run in flight (of entry only, when not NULL).
 * Ending a run may free its record at once and start queued ones, so the
 * runs are listed first and looked up again one by one. */
static void each_run(server *dm, entry *only, run_action action)
{
    size_t n = 0, i;
    int64_t *ids;
    active *a;
    for (a = dm->runs; a; a = a->next)
        n++;
    ids = kiln_calloc(n ? n : 1, sizeof(*ids));
    n = 0;
    for (a = dm->runs; a; a = a->next)
        if (!only || a->e == only)
            ids[n++] = kiln_run_id(a->run);
    for (i = 0; i < n; i++) {
        if (!(a = find_active(dm, ids[i])))
            continue;
        if (action == RUN_DRAIN) {
            kiln_run_drain(a->run, "kiln serve is stopping");
        } else {
            if (only)
                say("%s: cancelling run %lld (concurrency: replace)",
                    only->name, (long long)ids[i]);
            kiln_run_cancel(a->run, action == RUN_KILL);
        }
    }
    free(ids);
}

/* A fire's status as a trigger check's. */
static const char *check_status(const char *fire_status)
{
    if (strcmp(fire_status, KILN_FIRE_STARTED) == 0)
        return KILN_CHECK_FIRED;
    if (strcmp(fire_status, "queued") == 0)
        return KILN_CHECK_QUEUED;
    if (strcmp(fire_status, KILN_FIRE_SKIPPED) == 0)
        return KILN_CHECK_HELD;
    return KILN_CHECK_ERROR;
}

/* Record what became of a fire: in fires for a schedule, in the check's
 * row for a trigger or a manual request. */
static void settle(entry *e, const source *src, outcome *out,
                   const char *status, const char *reason, int64_t run_id)
{
    kiln_err err = KILN_ERR_INIT;
    const char *check;
    out->status = status;
    out->run_id = run_id;
    snprintf(out->reason, sizeof(out->reason), "%s", reason ? reason : "");
    if (from_schedule(src)) {
        if (strcmp(status, "queued") != 0)
            record(e, src->expr, src->due_ms, status, reason, run_id);
        return;
    }
    check = check_status(status);
    if (strcmp(check, KILN_CHECK_FIRED) == 0)
        say("%s: %s trigger started run %lld", e->name, src->trigger,
            (long long)run_id);
    else if (strcmp(check, KILN_CHECK_HELD) == 0)
        say("%s: %s trigger held back: %s", e->name, src->trigger, reason);
    else if (strcmp(check, KILN_CHECK_ERROR) == 0)
        say("%s: %s trigger could not start a run: %s", e->name,
            src->trigger, reason);
    if (src->check_id &&
        kiln_store_check_update(e->dm->store, src->check_id, check,
                                reason, run_id, &err) != 0)
        store_warn(&err);
}

/* Too late to start? Records the miss and says so. */
static bool past_deadline(entry *e, const source *src, outcome *out)
{
    const kiln_schedule *s = &e->d->p->schedule;
    int64_t late = kiln_clock_now_ms() - src->due_ms;
    char why[160], a[32], b[32];
    if (!from_schedule(src) || s->start_deadline_ms <= 0 ||
        late <= s->start_deadline_ms)
        return false;
    snprintf(why, sizeof(why), "could not start within start_deadline %s "
             "(%s late)",
             kiln_fmt_duration(a, sizeof(a), s->start_deadline_ms),
             kiln_fmt_duration(b, sizeof(b), late));
    settle(e, src, out, KILN_FIRE_MISSED, why, 0);
    return true;
}

/* A fire from src on e: start a run, queue it, or record why not, as the
 * schedule's policies say (they apply to every source). */
static void fire(entry *e, const source *src, outcome *out)
{
    const kiln_schedule *s = &e->d->p->schedule;
    server *dm = e->dm;
    char why[300];
    int64_t id;

    if (past_deadline(e, src, out))
        return;
    if (e->n_active > 0) {
        active *a;
        int64_t running = 0;
        for (a = dm->runs; a; a = a->next)
            if (a->e == e)
                running = kiln_run_id(a->run);
        switch (s->concurrency) {
        case KILN_CONCURRENCY_FORBID:
            snprintf(why, sizeof(why), "run %lld is still running "
                     "(concurrency: forbid)", (long long)running);
            settle(e, src, out, KILN_FIRE_SKIPPED, why, 0);
            return;
        case KILN_CONCURRENCY_REPLACE:
            each_run(dm, e, RUN_CANCEL);
            break;
        case KILN_CONCURRENCY_ALLOW:
            if (e->n_active >= (unsigned)s->max_active_runs) {
                queued *q = kiln_calloc(1, sizeof(*q)), **pp;
                source_copy(&q->src, src);
                for (pp = &e->queue; *pp; pp = &(*pp)->next)
                    ;
                *pp = q;
                say("%s: fire queued behind %u active run(s) "
                    "(max_active_runs: %d)", e->name, e->n_active,
                    s->max_active_runs);
                snprintf(why, sizeof(why), "waiting behind %u active "
                         "run(s) (max_active_runs: %d)", e->n_active,
                         s->max_active_runs);
                settle(e, src, out, "queued", why, 0);
                return;
            }
            break;
        }
    }
    if ((id = start_run(e, src, why, sizeof(why))) != 0)
        settle(e, src, out, KILN_FIRE_STARTED, NULL, id);
    else
        settle(e, src, out, KILN_FIRE_MISSED, why, 0);
}

/* Start queued fires while there is room. */
static void dequeue(entry *e)
{
    while (e->queue && !e->dm->stopping && !e->removed &&
           e->n_active < (unsigned)e->d->p->schedule.max_active_runs) {
        queued *q = e->queue;
        outcome out;
        e->queue = q->next;
        fire(e, &q->src, &out);
        queued_free(q);
    }
}

static void on_run_done(kiln_run *run, void *data)
{
    active *a = data, **pp;
    entry *e = a->e;         /* NULL for a recovered run of no entry */
    server *dm = a->dm;

    say("%s: run %lld %s", kiln_run_pipeline(run)->name,
        (long long)kiln_run_id(run),
        kiln_run_state_name(kiln_run_state_get(run)));
    for (pp = &dm->runs; *pp; pp = &(*pp)->next) {
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    }
    kiln_notifier_run_ended(dm->notifier, a->d->p, kiln_run_id(run));
    kiln_run_free(run);
    def_unref(a->d);
    free(a);
    if (e) {
        e->n_active--;
        dequeue(e);
        entry_release_maybe(e);
    }
    shutdown_maybe(dm);
}

/* Schedules. */

static void on_sched_timer(uv_timer_t *t);

static void sched_fire(sched *s, int64_t due)
{
    source src;
    outcome out;
    memset(&src, 0, sizeof(src));
    src.trigger = "schedule";
    src.expr = s->expr;
    src.due_ms = due;
    s->e->dm->last_lag_ms = (int64_t)((double)(kiln_clock_now_ms() - due) /
                                      kiln_clock_speed());
    fire(s->e, &src, &out);
}

/* Arm s for its first fire after after_ms and publish it. */
static void arm(sched *s, int64_t after_ms)
{
    const kiln_schedule *sch = &s->e->d->p->schedule;
    kiln_err err = KILN_ERR_INIT;
    int64_t next = kiln_cron_next(&s->cron, sch->timezone, after_ms / 1000);
    s->due_ms = next >= 0 ? next * 1000 : -1;
    if (kiln_store_schedule_set(s->e->dm->store, s->e->name, s->expr,
                                sch->timezone, s->due_ms, &err) != 0)
        store_warn(&err);
    if (s->due_ms >= 0)
        uv_timer_start(&s->timer, on_sched_timer,
                       kiln_clock_real_ms(s->due_ms), 0);
}

static void on_sched_timer(uv_timer_t *t)
{
    sched *s = t->data;
    int64_t due = s->due_ms;
    /* The test clock can run faster than timers are exact: never fire
     * before the due time. */
    if (kiln_clock_now_ms() < due) {
        uv_timer_start(&s->timer, on_sched_timer, kiln_clock_real_ms(due),
                       0);
        return;
    }
    sched_fire(s, due);
    arm(s, due);
}

static void on_sched_close(uv_handle_t *h)
{
    sched *s = h->data;
    free(s->expr);
    free(s);
}

static void scheds_close(entry *e)
{
    kiln_watch_stop(e->watch);
    e->watch = NULL;
    for (size_t i = 0; i < e->n_scheds; i++)
        uv_close((uv_handle_t *)&e->scheds[i]->timer, on_sched_close);
    free(e->scheds);
    e->scheds = NULL;
    e->n_scheds = 0;
}

/*
 * After downtime: the fires of s between the last one recorded and now.
 * With catchup, the latest max_catchup run (oldest first); the rest are
 * recorded as missed.
 */
static void catch_up(sched *s, int64_t last, int64_t now)
{
    entry *e = s->e;
    const kiln_schedule *sch = &e->d->p->schedule;
    int64_t t, *slots = NULL;
    size_t n = 0, cap = 0, keep, i;

    if (last <= 0)
        return; /* never fired: start from now */
    for (t = kiln_cron_next(&s->cron, sch->timezone, last / 1000);
         t >= 0 && t * 1000 <= now && n < 100000;
         t = kiln_cron_next(&s->cron, sch->timezone, t)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            slots = kiln_realloc(slots, cap * sizeof(*slots));
        }
        slots[n++] = t * 1000;
    }
    keep = sch->catchup ? (n < (size_t)sch->max_catchup ? n
                                                        : (size_t)sch->max_catchup)
                        : 0;
    for (i = 0; i < n - keep; i++) {
        if (i < MAX_MISSED_RECORDS || i == n - keep - 1)
            record(e, s->expr, slots[i], KILN_FIRE_MISSED,
                   sch->catchup ? "more fires were missed than max_catchup"
                                : "kiln serve was not running (catchup: "
                                  "false)", 0);
    }
    for (; i < n; i++)
        sched_fire(s, slots[i]);
    free(slots);
}

/* Triggers. */

/* What a watch needs of its entry; the watch holds a reference on the
 * definition it checks. */
typedef struct watch_ctx {
    entry *e;
    def *d;
} watch_ctx;

static void on_watch_release(void *data)
{
    watch_ctx *x = data;
    def_unref(x->d);
    free(x);
}

/* Within the cooldown of the last triggered run? Then settle src as held
 * and say until when. Manual requests are never held by it. */
static bool cooling_down(entry *e, const source *src, outcome *out)
{
    int64_t cd = e->d->p->cooldown_ms, at = 0, run = 0, now = kiln_now_ms();
    kiln_err err = KILN_ERR_INIT;
    char why[300], a[32], b[32], until[40];
    if (cd <= 0 || strcmp(src->trigger, "manual") == 0)
        return false;
    if (kiln_store_check_last_fired(e->dm->store, &at, &run, e->name,
                                    &err) != 0) {
        store_warn(&err);
        return false;
    }
    if (!at || now - at >= cd)
        return false;
    kiln_fmt_time(until, sizeof(until), at + cd);
    snprintf(why, sizeof(why), "cooldown %s: run %lld was triggered %s ago; "
             "the next triggered run may start at %s",
             kiln_fmt_duration(a, sizeof(a), cd), (long long)run,
             kiln_fmt_duration(b, sizeof(b), now - at), until);
    settle(e, src, out, KILN_FIRE_SKIPPED, why, 0);
    return true;
}

static void on_watch_fire(const kiln_firing *f, kiln_fire_outcome *res,
                          void *data)
{
    watch_ctx *x = data;
    entry *e = x->e;
    source src;
    outcome out;

    memset(&src, 0, sizeof(src));
    src.trigger = f->trigger;
    src.due_ms = kiln_clock_now_ms();
    src.info = (char *)f->info;
    src.check_id = f->check_id;
    src.commit = (char *)f->commit;
    src.file = (char *)f->file;
    if (strcmp(f->trigger, "drift") == 0) {
        json_t *info = json_loads(f->info, 0, NULL);
        json_t *what = json_pack("{s:s, s:O?, s:O?}", "status", "drift",
                                 "reason", json_object_get(info, "reason"),
                                 "detail", json_object_get(info, "detail"));
        kiln_notifier_send(e->dm->notifier, e->d->p, KILN_NOTIFY_DRIFT, 0,
                           what);
        json_decref(what);
        json_decref(info);
    }
    if (!cooling_down(e, &src, &out))
        fire(e, &src, &out);
    res->status = check_status(out.status);
    res->run_id = out.run_id;
}

static void watch_open(entry *e)
{
    server *dm = e->dm;
    kiln_watch_options o;
    kiln_err err = KILN_ERR_INIT;
    watch_ctx *x;

    if (e->d->p->n_triggers == 0)
        return;
    x = kiln_calloc(1, sizeof(*x));
    x->e = e;
    x->d = e->d;
    e->d->refs++;
    memset(&o, 0, sizeof(o));
    o.loop = &dm->loop;
    o.store = dm->store;
    o.http = dm->http;
    o.pipeline = e->d->p;
    o.file = e->d->file;
    o.state_dir = dm->o->state_dir;
    o.fire = on_watch_fire;
    o.release = on_watch_release;
    o.data = x;
    if (kiln_watch_start(&e->watch, &o, &err) != 0) {
        say("error: %s: cannot check its triggers: %s", e->name, err.msg);
        on_watch_release(x);
    }
}

/* Create e's scheds from its definition and arm them after now. */
static void scheds_open(entry *e, bool catchup)
{
    const kiln_schedule *sch = &e->d->p->schedule;
    int64_t now = kiln_clock_now_ms(), last = 0;
    kiln_err err = KILN_ERR_INIT;

    /* Catch up since the pipeline last fired, whatever its schedule was
     * then. */
    if (catchup && sch->n_crons &&
        kiln_store_fire_last(e->dm->store, &last, e->name, NULL, &err) != 0)
        store_warn(&err);
    e->n_scheds = sch->n_crons;
    e->scheds = kiln_calloc(sch->n_crons ? sch->n_crons : 1,
                            sizeof(sched *));
    for (size_t i = 0; i < sch->n_crons; i++) {
        sched *s = kiln_calloc(1, sizeof(*s));
        s->e = e;
        s->cron = sch->crons[i].cron;
        s->expr = kiln_strdup(sch->crons[i].expr);
        uv_timer_init(&e->dm->loop, &s->timer);
        s->timer.data = s;
        e->scheds[i] = s;
        if (catchup)
            catch_up(s, last, now);
        arm(s, now);
    }
    watch_open(e);
}

/* Entries. */

entry *kiln_daemon__entry_find(server *dm, const char *name)
{
    for (entry *e = dm->entries; e; e = e->next)
        if (!e->removed && strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

/* Free a removed entry once its runs are done. */
static void entry_release_maybe(entry *e)
{
    server *dm = e->dm;
    entry **pp;
    if (!e->removed || e->n_active > 0)
        return;
    for (pp = &dm->entries; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    }
    while (e->queue) {
        queued *q = e->queue;
        e->queue = q->next;
        queued_free(q);
    }
    def_unref(e->d);
    free(e->name);
    free(e);
}

static void entry_remove(entry *e)
{
    kiln_err err = KILN_ERR_INIT;
    scheds_close(e);
    e->removed = true;
    if (!e->dm->stopping &&
        kiln_store_schedule_clear(e->dm->store, e->name, &err) != 0)
        store_warn(&err);
    entry_release_maybe(e);
}

/*
 * (Re)load the pipeline files. A file that no longer validates keeps its
 * last good definition; pipelines gone from the files stop being
 * scheduled (their runs finish); changed definitions re-arm their
 * schedules. Returns how many pipelines are loaded.
 */
static size_t load_all(server *dm, bool first)
{
    kiln_err err = KILN_ERR_INIT;
    char **files = NULL;
    size_t n_files = 0, loaded = 0;
    entry *e;

    if (kiln_daemon_scan(&files, &n_files, dm->o->paths, dm->o->n_paths,
                         &err) != 0) {
        kiln_err_print(&err);
        return 0;
    }
    for (e = dm->entries; e; e = e->next)
        e->seen = false;
    for (size_t i = 0; i < n_files; i++) {
        def *d = def_load(files[i]);
        entry *old = NULL;
        if (!d) {
            /* Keep whatever this file defined before. */
            for (e = dm->entries; e; e = e->next)
                if (!e->removed && strcmp(e->d->file, files[i]) == 0)
                    old = e;
            if (old) {
                say("error: %s no longer validates; keeping the last good "
                    "definition of %s", files[i], old->name);
                old->seen = true;
                loaded++;
            } else {
                say("error: %s is not a valid pipeline; skipped", files[i]);
            }
            continue;
        }
        old = kiln_daemon__entry_find(dm, d->p->name);
        if (old && old->seen) {
            say("error: %s defines pipeline %s again (already defined in "
                "%s); skipped", files[i], d->p->name, old->d->file);
            def_unref(d);
            continue;
        }
        loaded++;
        if (old) {
            old->seen = true;
            if (strcmp(old->d->hash, d->hash) == 0 &&
                strcmp(old->d->file, d->file) == 0) {
                def_unref(d);
                continue;
            }
            say("%s: reloaded from %s", old->name, d->file);
            scheds_close(old);
            def_unref(old->d);
            old->d = d;
            scheds_open(old, false);
            continue;
        }
        e = kiln_calloc(1, sizeof(*e));
        e->dm = dm;
        e->name = kiln_strdup(d->p->name);
        e->d = d;
        e->seen = true;
        e->next = dm->entries;
        dm->entries = e;
        scheds_open(e, first);
        if (!first)
            say("%s: added from %s", e->name, d->file);
    }
    for (size_t i = 0; i < n_files; i++)
        free(files[i]);
    free(files);
    for (e = dm->entries; e;) {
        entry *next = e->next;
        if (!e->removed && !e->seen) {
            say("%s: removed; its running runs finish", e->name);
            entry_remove(e);
        }
        e = next;
    }
    return loaded;
}

/* Crash recovery. */

static void abandon(server *dm, int64_t id, const char *why)
{
    kiln_err err = KILN_ERR_INIT;
    say("run %lld cannot be taken over: %s", (long long)id, why);
    if (kiln_store_run_abandon(dm->store, id, why, &err) != 0)
        store_warn(&err);
}

/* Take over one unfinished run whose kiln process is gone. */
static void recover_run(server *dm, int64_t id)
{
    kiln_takeover t;
    kiln_run_options o;
    kiln_err err = KILN_ERR_INIT;
    active *a;
    def *d;
    int rc = kiln_takeover_load(&t, dm->store, id, &err);

    if (rc == KILN_EINVAL)
        abandon(dm, id, err.msg);
    else if (rc != 0 && rc != KILN_EBUSY)
        store_warn(&err);
    if (rc != 0 || kiln_store_run_adopt(dm->store, id, &err) != 0) {
        if (rc == 0)
            store_warn(&err);
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
    o.on_done = on_run_done;
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
        abandon(dm, id, err.msg);
        def_unref(d);
        free(a);
    }
    kiln_takeover_dispose(&t);
}

/* Runs left unfinished by kiln processes that are gone (a daemon killed
 * mid-run, a kiln run killed with SIGKILL): at start, and every minute,
 * so a kiln run killed while the daemon runs is not left hanging. Runs
 * whose owner still lives (a kiln run in another terminal, this daemon)
 * are left alone. */
static void recover(server *dm)
{
    kiln_err err = KILN_ERR_INIT;
    json_t *runs, *r;
    size_t i;

    if (kiln_store_unfinished_runs_json(dm->store, &runs, &err) != 0) {
        store_warn(&err);
        return;
    }
    json_array_foreach(runs, i, r)
        if (!kiln_takeover_owner_alive(r))
            recover_run(dm, json_integer_value(json_object_get(r, "id")));
    json_decref(runs);
}

static void on_orphan_timer(uv_timer_t *t)
{
    server *dm = t->data;
    if (!dm->stopping)
        recover(dm);
}

/* Manual runs (kiln trigger, the web API). */

static void refuse(json_t *reply, const char *code, json_t *msg)
{
    json_object_set_new(reply, "error", msg);
    json_object_set_new(reply, "code", json_string(code));
}

/* Pin src to commit rev of e's repository: resolve it and check it out
 * under the state directory, as kiln run --commit does. */
static int pin_commit(entry *e, source *src, const char *rev, kiln_err *err)
{
    kiln_git_info git;
    char commit[41], *dir;
    int rc;

    memset(&git, 0, sizeof(git));
    if ((rc = kiln_git_inspect(&git, e->d->file, err)) != 0)
        return rc;
    if (!git.in_repo) {
        kiln_git_info_dispose(&git);
        return kiln_err_set(err, KILN_EINVAL, "commit: %s is not in a Git "
                            "repository", e->d->file);
    }
    if ((rc = kiln_git_resolve(commit, e->d->file, rev, err)) != 0) {
        kiln_git_info_dispose(&git);
        return rc == KILN_ENOTFOUND ? KILN_EINVAL : rc;
    }
    dir = kiln_asprintf("%s/checkouts/%s", e->dm->o->state_dir, commit);
    if ((rc = kiln_git_checkout(e->d->file, commit, dir, err)) == 0) {
        src->commit = kiln_strdup(commit);
        src->file = kiln_path_join(dir, e->d->file + strlen(git.workdir) + 1);
        if (access(src->file, F_OK) != 0)
            rc = kiln_err_set(err, KILN_EINVAL, "%s does not exist at "
                              "commit %.12s", e->d->file +
                              strlen(git.workdir) + 1, commit);
    }
    free(dir);
    kiln_git_info_dispose(&git);
    return rc;
}

void kiln_daemon__manual_run(server *dm, const char *name, json_t *params,
                             const char *commit, json_t *who, json_t *reply)
{
    kiln_err err = KILN_ERR_INIT;
    const char *key;
    char *detail, *info;
    json_t *v;
    source src;
    outcome out;
    int64_t id = 0;
    entry *e;

    if (dm->stopping) {
        refuse(reply, "unavailable", json_string("kiln serve is stopping"));
        return;
    }
    if (!(e = kiln_daemon__entry_find(dm, name))) {
        refuse(reply, "not_found", json_sprintf("no pipeline \"%s\" is "
                                                "loaded in this kiln serve",
                                                name));
        return;
    }
    memset(&src, 0, sizeof(src));
    src.trigger = "manual";
    src.due_ms = kiln_clock_now_ms();
    src.params = kiln_calloc(json_object_size(params) + 1, sizeof(kiln_kv));
    json_object_foreach(params, key, v) {
        char buf[64];
        const char *text = json_string_value(v);
        if (json_is_number(v)) {
            if (json_is_integer(v))
                snprintf(buf, sizeof(buf), "%lld",
                         (long long)json_integer_value(v));
            else /* the shortest text that reads back as the number */
                for (int prec = 15; prec <= 17; prec++) {
                    snprintf(buf, sizeof(buf), "%.*g", prec,
                             json_real_value(v));
                    if (strtod(buf, NULL) == json_real_value(v))
                        break;
                }
            text = buf;
        }
        src.params[src.n_params].key = kiln_strdup(key);
        src.params[src.n_params].value = kiln_strdup(text ? text : "");
        src.n_params++;
    }
    if (kiln_run_check_params(e->d->p, src.n_params, src.params, &err) !=
            0 ||
        (commit && pin_commit(e, &src, commit, &err) != 0)) {
        refuse(reply, err.code == KILN_ERROR ? "unavailable" : "invalid",
               json_string(err.msg));
        source_dispose(&src);
        return;
    }
    v = json_pack("{s:O?, s:s?, s:O?}", "params", params, "commit",
                  src.commit, "user", who);
    detail = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (kiln_store_check_record(dm->store, &id, e->name, "manual",
                                commit ? commit : "", KILN_CHECK_HELD,
                                "requested", detail, 0, &err) != 0)
        store_warn(&err);
    info = kiln_asprintf("{\"trigger\":\"manual\",\"check\":%lld,"
                         "\"detail\":%s}", (long long)id, detail);
    src.info = info;
    src.check_id = id;
    say("%s: run requested (%s)", e->name, json_is_string(json_object_get(
        who, "via")) ? json_string_value(json_object_get(who, "via"))
                     : "kiln trigger");
    fire(e, &src, &out);
    json_object_set_new(reply, "status", json_string(out.status));
    if (out.run_id)
        json_object_set_new(reply, "run_id", json_integer(out.run_id));
    if (out.reason[0])
        json_object_set_new(reply, "reason", json_string(out.reason));
    free(detail);
    source_dispose(&src); /* info is src's now */
}

static const char *jstr(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

void kiln_daemon__retry_run(server *dm, const char *name, json_t *run,
                            json_t *reply)
{
    int64_t id = json_integer_value(json_object_get(run, "id"));
    const char *file = json_string_value(json_object_get(run, "file"));
    const char *hash = json_string_value(json_object_get(run,
                                                         "pipeline_hash"));
    char why[300], hash_now[KILN_HASH_HEX];
    kiln_err err = KILN_ERR_INIT;
    json_t *step, *ex;
    kiln_kv *reuse;
    source src;
    entry *e;
    size_t i, k;

    if (dm->stopping || !(e = kiln_daemon__entry_find(dm, name))) {
        refuse(reply, dm->stopping ? "unavailable" : "not_found",
               dm->stopping ? json_string("kiln serve is stopping")
                            : json_sprintf("no pipeline \"%s\" is loaded "
                                           "in this kiln serve", name));
        return;
    }
    /* The same definition, or no retry: steps reused from a run of
     * another definition could be anything. */
    if (!file || !hash || kiln_hash_file(hash_now, file, &err) != 0 ||
        strcmp(hash_now, hash) != 0) {
        refuse(reply, "invalid", json_sprintf("the pipeline file of run %lld"
                                              " changed or is gone since it "
                                              "ran: start a new run instead",
                                              (long long)id));
        return;
    }
    memset(&src, 0, sizeof(src));
    src.trigger = "retry";
    src.due_ms = kiln_clock_now_ms();
    src.info = kiln_asprintf("{\"retry_of\":%lld}", (long long)id);
    src.file = kiln_strdup(file);
    if (json_is_string(json_object_get(run, "git_commit")))
        src.commit = kiln_strdup(json_string_value(json_object_get(
            run, "git_commit")));
    src.params = kiln_takeover_params(json_object_get(run, "params"),
                                 &src.n_params);
    reuse = kiln_calloc(json_array_size(json_object_get(run, "steps")) + 1,
                        sizeof(kiln_kv));
    json_array_foreach(json_object_get(run, "steps"), i, step) {
        int64_t from = 0;
        if (strcmp(jstr(step, "status"), "succeeded") != 0)
            continue;
        json_array_foreach(json_object_get(step, "attempts_detail"), k, ex) {
            const char *st = jstr(ex, "status");
            if (strcmp(st, "succeeded") == 0 || strcmp(st, "cached") == 0)
                from = json_integer_value(json_object_get(ex, "id"));
        }
        if (from > 0) {
            reuse[src.n_reuse].key = json_string_value(json_object_get(
                step, "name"));
            reuse[src.n_reuse].value = kiln_asprintf("%lld",
                                                     (long long)from);
            src.n_reuse++;
        }
    }
    src.reuse = reuse;
    src.reuse_run = id;
    if ((id = start_run(e, &src, why, sizeof(why))) != 0) {
        say("%s: run %lld retries run %lld", e->name, (long long)id,
            (long long)src.reuse_run);
        json_object_set_new(reply, "status", json_string("started"));
        json_object_set_new(reply, "run_id", json_integer(id));
    } else {
        refuse(reply, "unavailable", json_string(why));
    }
    for (i = 0; i < src.n_reuse; i++)
        free((char *)reuse[i].value);
    free(reuse);
    free(src.params); /* kiln_takeover_params(): borrowed strings */
    src.params = NULL;
    src.n_params = 0;
    source_dispose(&src);
}


/* A run that is not in flight: why nothing can be done to it. */
static int not_active(server *dm, int64_t id, kiln_err *err)
{
    json_t *run = NULL;
    int rc = kiln_store_run_json(dm->store, &run, id, err);
    if (rc == 0)
        rc = kiln_err_set(err, KILN_EBUSY, "run %lld is not running (%s)",
                          (long long)id, json_string_value(json_object_get(
                                             run, "status")));
    json_decref(run);
    return rc;
}

int kiln_daemon__cancel_run(server *dm, int64_t id, const char *via,
                            kiln_err *err)
{
    active *a = find_active(dm, id);
    if (!a)
        return not_active(dm, id, err);
    say("%s: cancelling run %lld (%s)", kiln_run_pipeline(a->run)->name,
        (long long)id, via);
    kiln_run_cancel(a->run, false);
    return 0;
}

bool kiln_daemon__is_active(server *dm, int64_t id)
{
    return find_active(dm, id) != NULL;
}

/* kiln trigger's requests: {"op": "trigger", "pipeline": NAME,
 * "params": {...}, "user": ...}. */
static void on_request(json_t *req, json_t *reply, void *data)
{
    server *dm = data;
    const char *op = json_string_value(json_object_get(req, "op"));
    const char *name = json_string_value(json_object_get(req, "pipeline"));
    json_t *params = json_object_get(req, "params"), *who;

    if (op && strcmp(op, "cancel") == 0 &&
        json_is_integer(json_object_get(req, "run_id"))) {
        kiln_err err = KILN_ERR_INIT;
        if (kiln_daemon__cancel_run(dm, json_integer_value(json_object_get(
                                            req, "run_id")),
                                    "kiln cancel", &err) != 0)
            refuse(reply, err.code == KILN_ENOTFOUND ? "not_found"
                                                     : "invalid",
                   json_string(err.msg));
        else
            json_object_set_new(reply, "status", json_string("cancelling"));
        return;
    }
    if (!op || strcmp(op, "trigger") != 0 || !name ||
        (params && !json_is_object(params))) {
        refuse(reply, "invalid", json_string(
            "unknown request: expected {\"op\": \"trigger\", \"pipeline\": "
            "NAME, \"params\": {...}}"));
        return;
    }
    who = json_pack("{s:s, s:O?, s:O?}", "via", "kiln trigger", "user",
                    json_object_get(req, "user"), "pid",
                    json_object_get(req, "pid"));
    kiln_daemon__manual_run(dm, name, params, NULL, who, reply);
    json_decref(who);
}

/* Stopping. */

static void close_all(server *dm)
{
    entry *e;
    if (dm->closed)
        return;
    dm->closed = true;
    for (e = dm->entries; e; e = e->next)
        scheds_close(e);
    while (dm->entries) {
        e = dm->entries;
        e->removed = true;
        entry_release_maybe(e);
    }
    kiln_inbox_close(dm->inbox);
    dm->inbox = NULL;
    kiln_daemon__web_stop(dm);
    /* Requests in flight end (as failed), then what waits for a retry. */
    kiln_http_close(dm->http);
    dm->http = NULL;
    kiln_notifier_free(dm->notifier);
    dm->notifier = NULL;
    uv_close((uv_handle_t *)&dm->sigterm, NULL);
    uv_close((uv_handle_t *)&dm->sigint, NULL);
    uv_close((uv_handle_t *)&dm->sighup, NULL);
    uv_close((uv_handle_t *)&dm->grace, NULL);
    uv_close((uv_handle_t *)&dm->orphans, NULL);
}

static void shutdown_maybe(server *dm)
{
    if (dm->stopping && dm->runs == NULL) {
        say("stopped");
        close_all(dm);
    }
}

static void on_grace(uv_timer_t *t)
{
    server *dm = t->data;
    if (dm->runs)
        say("grace period over: cancelling the steps still running");
    each_run(dm, NULL, RUN_CANCEL);
}

static void on_stop_signal(uv_signal_t *sig, int signum)
{
    server *dm = sig->data;
    char g[32];
    if (dm->stopping) {
        say("%s again: cancelling everything now", strsignal(signum));
        each_run(dm, NULL, RUN_KILL);
        return;
    }
    dm->stopping = true;
    say("%s: stopping; running steps get %s to finish", strsignal(signum),
        kiln_fmt_duration(g, sizeof(g), dm->o->grace_ms));
    for (entry *e = dm->entries; e; e = e->next) {
        scheds_close(e);
        while (e->queue) {
            queued *q = e->queue;
            outcome out;
            e->queue = q->next;
            settle(e, &q->src, &out, KILN_FIRE_MISSED,
                   "kiln serve stopped before it could start", 0);
            queued_free(q);
        }
    }
    each_run(dm, NULL, RUN_DRAIN);
    /* Draining may have ended the last run, and with it the daemon. */
    if (!dm->closed)
        uv_timer_start(&dm->grace, on_grace, (uint64_t)dm->o->grace_ms, 0);
    shutdown_maybe(dm);
}

static void on_hup(uv_signal_t *sig, int signum)
{
    server *dm = sig->data;
    size_t n;
    (void)signum;
    if (dm->stopping)
        return;
    say("SIGHUP: reloading");
    n = load_all(dm, false);
    say("%zu pipeline%s loaded", n, n == 1 ? "" : "s");
}

int kiln_daemon_run(const kiln_daemon_options *o)
{
    server dm;
    kiln_err err = KILN_ERR_INIT;
    char *db;
    size_t n;
    uint64_t t0;
    int status = KILN_EXIT_OK;

    memset(&dm, 0, sizeof(dm));
    dm.o = o;
    if (kiln_clock_init(&err) != 0)
        return kiln_err_print(&err), KILN_EXIT_USAGE;
    db = kiln_path_join(o->state_dir, "kiln.db");
    if (kiln_store_open(&dm.store, db, &err) != 0) {
        free(db);
        kiln_err_print(&err);
        return KILN_EXIT_SYSTEM;
    }
    free(db);
    uv_loop_init(&dm.loop);
    kiln_engine_new(&dm.eng, &dm.loop, dm.store, o->state_dir, o->jobs,
                    &err);
    for (size_t i = 0; i < o->n_pools; i++)
        kiln_engine_set_pool(dm.eng, o->pools[i].key,
                             (unsigned)atoi(o->pools[i].value));
    uv_signal_init(&dm.loop, &dm.sigterm);
    uv_signal_init(&dm.loop, &dm.sigint);
    uv_signal_init(&dm.loop, &dm.sighup);
    uv_timer_init(&dm.loop, &dm.grace);
    uv_timer_init(&dm.loop, &dm.orphans);
    dm.sigterm.data = dm.sigint.data = dm.sighup.data = &dm;
    dm.grace.data = dm.orphans.data = &dm;
    uv_signal_start(&dm.sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&dm.sigint, on_stop_signal, SIGINT);
    uv_signal_start(&dm.sighup, on_hup, SIGHUP);

    if (kiln_store_schedule_clear(dm.store, NULL, &err) != 0)
        store_warn(&err);
    if (kiln_http_new(&dm.http, &dm.loop, &err) != 0)
        say("warning: %s: metric triggers on URLs and notifications cannot "
            "work", err.msg);
    kiln_notifier_new(&dm.notifier, &dm.loop, dm.http, dm.store, &err);
    /* The address first: a daemon that cannot serve what it was asked
     * to starts nothing. */
    if (kiln_daemon__web_start(&dm, &err) != 0) {
        say("error: %s", err.msg);
        status = KILN_EXIT_SYSTEM;
        dm.stopping = true;
        close_all(&dm);
    } else {
        t0 = uv_hrtime();
        n = load_all(&dm, true);
        recover(&dm);
        uv_timer_start(&dm.orphans, on_orphan_timer, ORPHAN_CHECK_MS,
                       ORPHAN_CHECK_MS);
        if (kiln_inbox_open(&dm.inbox, &dm.loop, o->state_dir, on_request,
                            &dm, &err) != 0)
            say("warning: %s: kiln trigger cannot reach this daemon",
                err.msg);
        say("pid %d, state %s, %u job%s, %zu pipeline%s loaded in %.0f ms%s",
            (int)getpid(), o->state_dir, kiln_engine_jobs(dm.eng),
            kiln_engine_jobs(dm.eng) == 1 ? "" : "s", n, n == 1 ? "" : "s",
            (double)(uv_hrtime() - t0) / 1e6,
            kiln_clock_is_simulated() ? " (test clock)" : "");
    }
    uv_run(&dm.loop, UV_RUN_DEFAULT);
    kiln_engine_free(dm.eng);
    uv_run(&dm.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&dm.loop) != 0)
        say("warning: handles left open on exit");
    kiln_store_close(dm.store);
    return status;
}
