/*
 * sched.c: fires and their policies, schedules, and the glue to triggers.
 *
 * fire() is the one place where a due time (a schedule's), a trigger's
 * firing or a request becomes a run, a queued fire, or a recorded
 * skip or miss, as the pipeline's policies say (concurrency, max_active_runs,
 * start_deadline, cooldown). Each cron expression of an entry has a
 * timer; after downtime, catch_up() decides what the missed fires become.
 *
 * Time comes from clock.c (the wall clock, or the test clock of KILN_NOW
 * and KILN_CLOCK_SPEED).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/clock.h"
#include "git/git.h"

#define say kiln_daemon__say

/* Missed fires recorded one by one after downtime, before a summary. */
#define MAX_MISSED_RECORDS 100
/* How many slots after downtime are looked at one by one, at most. */
#define CATCHUP_SCAN 100000

/* Sources. */

void kiln_daemon__source_copy(kiln_source *dst, const kiln_source *src)
{
    *dst = *src;
    dst->git = NULL; /* read again when it starts */
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

void kiln_daemon__source_dispose(kiln_source *src)
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

void kiln_daemon__queued_free(kiln_queued_fire *q)
{
    kiln_daemon__source_dispose(&q->src);
    free(q);
}

bool kiln_daemon__from_schedule(const kiln_source *src)
{
    return strcmp(src->trigger, "schedule") == 0;
}

/* A queued fire of a check, kept with the check (trigger_checks.fire)
 * until it starts: what the next kiln serve needs to queue it again. */
static char *source_to_json(const kiln_source *src)
{
    json_t *params = json_array(), *doc;
    char *text;
    for (size_t i = 0; i < src->n_params; i++)
        json_array_append_new(params, json_pack("[s, s]",
                                                src->params[i].key,
                                                src->params[i].value));
    doc = json_pack("{s:s, s:I, s:s?, s:s?, s:s?, s:o, s:s, s:s?}",
                    "trigger", src->trigger, "due_ms",
                    (json_int_t)src->due_ms, "info", src->info, "commit",
                    src->commit, "file", src->file, "params", params,
                    "actor", src->actor, "via", src->via);
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}

/* The static name a kept fire's text stands for (kiln_source's trigger
 * and via are static), or NULL. */
static const char *static_name(const char *s, const char *const *names)
{
    for (; s && *names; names++)
        if (strcmp(s, *names) == 0)
            return *names;
    return NULL;
}

/* src from a kept fire (source_to_json) of check id; false when the text
 * is not one. */
static bool source_from_json(kiln_source *src, const char *text, int64_t id)
{
    static const char *const triggers[] = {
        "drift", "data", "git", "metric", "manual", NULL};
    static const char *const vias[] = {
        "cli", "api", "page", "proxy", "daemon", NULL};
    json_t *doc = text ? json_loads(text, 0, NULL) : NULL, *p;
    const char *actor;
    size_t i;

    memset(src, 0, sizeof(*src));
    src->trigger = static_name(json_string_value(json_object_get(
                                   doc, "trigger")), triggers);
    p = json_object_get(doc, "params");
    if (!src->trigger || !json_is_array(p)) {
        json_decref(doc);
        return false;
    }
    src->check_id = id;
    src->due_ms = json_integer_value(json_object_get(doc, "due_ms"));
#define DUP(k) (json_is_string(json_object_get(doc, k))                    \
                    ? kiln_strdup(json_string_value(json_object_get(doc, k))) \
                    : NULL)
    src->info = DUP("info");
    src->commit = DUP("commit");
    src->file = DUP("file");
#undef DUP
    src->params = kiln_calloc(json_array_size(p) + 1, sizeof(kiln_kv));
    for (i = 0; i < json_array_size(p); i++) {
        const char *k = json_string_value(json_array_get(
                            json_array_get(p, i), 0));
        const char *v = json_string_value(json_array_get(
                            json_array_get(p, i), 1));
        src->params[src->n_params].key = kiln_strdup(k ? k : "");
        src->params[src->n_params++].value = kiln_strdup(v ? v : "");
    }
    actor = json_string_value(json_object_get(doc, "actor"));
    snprintf(src->actor, sizeof(src->actor), "%s", actor ? actor : "");
    src->via = static_name(json_string_value(json_object_get(doc, "via")),
                           vias);
    json_decref(doc);
    return true;
}

/* Runs. */

/* The run's trigger: the schedule, its due time and how late it starts
 * (lag_ms, in real milliseconds: the scheduler's fire delay). */
static char *trigger_info(const char *expr, const char *zone, int64_t due)
{
    kiln_buf b = KILN_BUF_INIT;
    char iso[40];
    double lag = (double)(kiln_clock_now_ms() - due) / kiln_clock_speed();
    kiln_time_iso(iso, sizeof(iso), due / 1000, zone);
    kiln_buf_puts(&b, "{\"schedule\":");
    kiln_buf_json_string(&b, expr);
    kiln_buf_puts(&b, ",\"due\":");
    kiln_buf_json_string(&b, iso);
    kiln_buf_puts(&b, ",\"timezone\":");
    kiln_buf_json_string(&b, zone);
    kiln_buf_printf(&b, ",\"lag_ms\":%lld}", (long long)(lag + 0.5));
    return kiln_buf_detach(&b);
}

/* Start a run of e for src: its current definition, or the one of a
 * checkout (a git trigger). Returns the run id, or 0 with why in
 * reason. */
int64_t kiln_daemon__start_run(kiln_entry *e, const kiln_source *src,
                               char *reason, size_t size)
{
    kiln_daemon *dm = e->dm;
    kiln_def *d = e->d;
    kiln_run_options o = KILN_RUN_OPTIONS_INIT;
    kiln_git_info git;
    kiln_err err = KILN_ERR_INIT;
    kiln_active_run *a;
    char *info = kiln_daemon__from_schedule(src)
                     ? trigger_info(src->expr, d->p->schedule.timezone,
                                    src->due_ms)
                     : kiln_strdup(src->info ? src->info : "{}");
    char *actor = NULL;
    int rc;

    memset(&git, 0, sizeof(git));
    if (src->file) {
        /* Pinned to a commit (the pipeline as it is there), or a retry's
         * file as it is now. */
        if (!(d = kiln_daemon__def_load(src->file, NULL))) {
            snprintf(reason, size, "%s%s%.12s is not a valid pipeline",
                     src->file, src->commit ? " at commit " : "",
                     src->commit ? src->commit : "");
            free(info);
            return 0;
        }
        if (!src->commit && !src->git &&
            kiln_git_inspect(&git, d->file, &err) != 0)
            say("warning: %s", err.msg);
    } else {
        d->refs++;
        if (!src->git && kiln_git_inspect(&git, d->file, &err) != 0)
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
    if (src->actor[0])
        o.started_by = src->actor;
    else if (kiln_daemon__from_schedule(src))
        o.started_by = "scheduler";
    else
        o.started_by = actor = kiln_asprintf("trigger:%s", src->trigger);
    o.started_via = src->via ? src->via : "daemon";
    o.n_params = src->n_params;
    o.params = src->params;
    o.reuse_run = src->reuse_run;
    o.n_reuse = src->n_reuse;
    o.reuse = src->reuse;
    if (src->commit) {
        o.git_commit = src->commit;
    } else {
        const kiln_git_info *g = src->git ? src->git : &git;
        o.git_commit = g->in_repo && g->commit[0] ? g->commit : NULL;
        o.git_branch = g->branch;
        o.git_dirty = g->dirty;
    }
    o.on_event = kiln_daemon__run_event;
    o.on_ending = kiln_daemon__on_run_ending;
    o.on_done = kiln_daemon__on_run_done;
    o.data = a;
    rc = kiln_run_start(&a->run, dm->eng, &o, &err);
    kiln_git_info_dispose(&git);
    free(info);
    free(actor);
    if (rc != 0) {
        say("error: cannot start a run of %s: %s", e->name, err.msg);
        snprintf(reason, size, "%.280s", err.msg);
        kiln_daemon__def_unref(d);
        free(a);
        return 0;
    }
    e->n_active++;
    a->next = dm->runs;
    dm->runs = a;
    return kiln_run_id(a->run);
}

static void record(kiln_entry *e, const char *expr, int64_t due,
                   kiln_fire_status status, const char *reason,
                   int64_t run_id)
{
    kiln_err err = KILN_ERR_INIT;
    char iso[40];
    kiln_time_iso(iso, sizeof(iso), due / 1000,
                  e->d->p->schedule.timezone);
    if (run_id)
        say("%s: fire due %s started run %lld", e->name, iso,
            (long long)run_id);
    else
        say("%s: fire due %s %s: %s", e->name, iso,
            kiln_fire_status_name(status), reason);
    if (kiln_store_fire_record(e->dm->store, e->name, expr, due, status,
                               reason, run_id, &err) != 0)
        kiln_daemon__store_warn(&err);
}

kiln_active_run *kiln_daemon__find_active(kiln_daemon *dm, int64_t id)
{
    for (kiln_active_run *a = dm->runs; a; a = a->next)
        if (kiln_run_id(a->run) == id)
            return a;
    return NULL;
}

/* Apply action to every run in flight (of entry only, when not NULL).
 * Ending a run may free its record at once and start queued ones, so
 * the runs are listed first and looked up again one by one. */
void kiln_daemon__each_run(kiln_daemon *dm, kiln_entry *only, run_action action)
{
    size_t n = 0, i;
    int64_t *ids;
    kiln_active_run *a;
    for (a = dm->runs; a; a = a->next)
        n++;
    ids = kiln_calloc(n ? n : 1, sizeof(*ids));
    n = 0;
    for (a = dm->runs; a; a = a->next)
        if (!only || a->e == only)
            ids[n++] = kiln_run_id(a->run);
    for (i = 0; i < n; i++) {
        if (!(a = kiln_daemon__find_active(dm, ids[i])))
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

/* Record what became of a fire: in fires for a schedule, in the check's
 * row for a trigger or a manual request. */
void kiln_daemon__settle(kiln_entry *e, const kiln_source *src,
                         kiln_outcome *out, kiln_fire_status status,
                         const char *reason, int64_t run_id)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_check_status check;
    out->status = status;
    out->run_id = run_id;
    snprintf(out->reason, sizeof(out->reason), "%s", reason ? reason : "");
    if (kiln_daemon__from_schedule(src)) {
        if (status != KILN_FIRE_QUEUED)
            record(e, src->expr, src->due_ms, status, reason, run_id);
        return;
    }
    check = kiln_check_status_of_fire(status);
    if (check == KILN_CHECK_FIRED)
        say("%s: %s trigger started run %lld", e->name, src->trigger,
            (long long)run_id);
    else if (check == KILN_CHECK_HELD)
        say("%s: %s trigger held back: %s", e->name, src->trigger, reason);
    else if (check == KILN_CHECK_ERROR)
        say("%s: %s trigger could not start a run: %s", e->name,
            src->trigger, reason);
    if (src->check_id && check == KILN_CHECK_QUEUED) {
        /* Kept with the check until it starts: a kiln serve killed or
         * stopped meanwhile leaves it queued for the next to start. */
        char *fire = source_to_json(src);
        if (kiln_store_check_queue(e->dm->store, src->check_id, reason,
                                   fire, &err) != 0)
            kiln_daemon__store_warn(&err);
        free(fire);
    } else if (src->check_id &&
               kiln_store_check_update(e->dm->store, src->check_id, check,
                                       reason, run_id, &err) != 0) {
        kiln_daemon__store_warn(&err);
    }
}

/* Too late to start? Records the miss and says so. */
static bool past_deadline(kiln_entry *e, const kiln_source *src,
                          kiln_outcome *out)
{
    const kiln_schedule *s = &e->d->p->schedule;
    int64_t late = kiln_clock_now_ms() - src->due_ms;
    char why[160], a[32], b[32];
    if (!kiln_daemon__from_schedule(src) || s->start_deadline_ms <= 0 ||
        late <= s->start_deadline_ms)
        return false;
    snprintf(why, sizeof(why), "could not start within start_deadline %s "
             "(%s late)",
             kiln_fmt_duration(a, sizeof(a), s->start_deadline_ms),
             kiln_fmt_duration(b, sizeof(b), late));
    kiln_daemon__settle(e, src, out, KILN_FIRE_MISSED, why, 0);
    return true;
}

/* A fire from src on e: start a run, queue it, or record why not, as the
 * schedule's policies say (they apply to every source). */
void kiln_daemon__fire(kiln_entry *e, const kiln_source *src, kiln_outcome *out)
{
    const kiln_schedule *s = &e->d->p->schedule;
    kiln_daemon *dm = e->dm;
    char why[300];
    int64_t id;

    if (past_deadline(e, src, out))
        return;
    if (e->n_active + e->n_dequeued > 0) {
        kiln_active_run *a;
        int64_t running = 0;
        for (a = dm->runs; a; a = a->next)
            if (a->e == e)
                running = kiln_run_id(a->run);
        switch (s->concurrency) {
        case KILN_CONCURRENCY_FORBID:
            snprintf(why, sizeof(why), "run %lld is still running "
                     "(concurrency: forbid)", (long long)running);
            kiln_daemon__settle(e, src, out, KILN_FIRE_SKIPPED, why, 0);
            return;
        case KILN_CONCURRENCY_REPLACE:
            kiln_daemon__each_run(dm, e, RUN_CANCEL);
            break;
        case KILN_CONCURRENCY_ALLOW:
            if (e->n_active + e->n_dequeued >=
                (unsigned)s->max_active_runs) {
                kiln_queued_fire *q = kiln_calloc(1, sizeof(*q)), **pp;
                kiln_daemon__source_copy(&q->src, src);
                for (pp = &e->queue; *pp; pp = &(*pp)->next)
                    ;
                *pp = q;
                say("%s: fire queued behind %u active run(s) "
                    "(max_active_runs: %d)", e->name, e->n_active,
                    s->max_active_runs);
                snprintf(why, sizeof(why), "waiting behind %u active "
                         "run(s) (max_active_runs: %d)", e->n_active,
                         s->max_active_runs);
                kiln_daemon__settle(e, src, out, KILN_FIRE_QUEUED, why, 0);
                return;
            }
            break;
        }
    }
    if ((id = kiln_daemon__start_run(e, src, why, sizeof(why))) != 0)
        kiln_daemon__settle(e, src, out, KILN_FIRE_STARTED, NULL, id);
    else
        kiln_daemon__settle(e, src, out, KILN_FIRE_MISSED, why, 0);
}

static void read_then_fire(kiln_entry *e, kiln_queued_fire *q);

/* Start queued fires while there is room: each reads its repository on
 * the thread pool first (holding its slot meanwhile), as a schedule's
 * fire does; one pinned to a commit has its checkout already. */
void kiln_daemon__dequeue(kiln_entry *e)
{
    while (e->queue && !e->dm->stopping && !e->removed &&
           e->n_active + e->n_dequeued <
               (unsigned)e->d->p->schedule.max_active_runs) {
        kiln_queued_fire *q = e->queue;
        kiln_outcome out;
        e->queue = q->next;
        q->next = NULL;
        if (!q->src.file) {
            q->dequeued = true;
            e->n_dequeued++;
            read_then_fire(e, q);
            continue;
        }
        kiln_daemon__fire(e, &q->src, &out);
        kiln_daemon__queued_free(q);
    }
}

void kiln_daemon__on_run_ending(kiln_run *run, void *data)
{
    kiln_active_run *a = data;
    kiln_notifier_run_ended(a->dm->notifier, a->d->p, kiln_run_id(run));
}

void kiln_daemon__on_run_done(kiln_run *run, void *data)
{
    kiln_active_run *a = data, **pp;
    kiln_entry *e = a->e;         /* NULL for a recovered run of no entry */
    kiln_daemon *dm = a->dm;

    say("%s: run %lld %s", kiln_run_pipeline(run)->name,
        (long long)kiln_run_id(run),
        kiln_run_state_name(kiln_run_state_get(run)));
    for (pp = &dm->runs; *pp; pp = &(*pp)->next) {
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    }
    kiln_run_free(run);
    kiln_daemon__def_unref(a->d);
    free(a);
    if (e) {
        e->n_active--;
        kiln_daemon__dequeue(e);
        kiln_daemon__entry_release_maybe(e);
    }
    kiln_daemon__shutdown_maybe(dm);
}

/* Schedules. */

static void on_sched_timer(uv_timer_t *t);

/*
 * A schedule's fire reads the pipeline file's repository on the thread
 * pool first (its commit, and whether the work tree differs: a tenth of
 * a second for 20,000 files), then fires on the loop. The fires of a
 * loop turn are read together and fired together, in the order they
 * came (so runs due at the same instant still share the free slots);
 * those that come meanwhile wait for the next read.
 */
typedef struct fire_read {
    uv_work_t work;
    kiln_daemon *dm;
    kiln_queued_fire *fires; /* read now, in order */
    size_t n;
    kiln_git_read *reads;    /* each fire's */
} fire_read;

void kiln_daemon__git_read_work(kiln_git_read *r)
{
    kiln_err ignored = KILN_ERR_INIT; /* read again, and warned */
    r->ok = kiln_git_inspect(&r->git, r->file, &ignored) == 0;
}

const kiln_git_info *kiln_daemon__git_read_for(const kiln_git_read *r,
                                               const kiln_entry *e)
{
    return r->ok && strcmp(r->file, e->d->file) == 0 ? &r->git : NULL;
}

void kiln_daemon__git_read_dispose(kiln_git_read *r)
{
    if (r->ok)
        kiln_git_info_dispose(&r->git);
    free(r->file);
}

static void read_start(kiln_daemon *dm);

static void read_work(uv_work_t *w)
{
    fire_read *r = w->data;
    for (size_t i = 0; i < r->n; i++)
        kiln_daemon__git_read_work(&r->reads[i]);
}

static void read_done(uv_work_t *w, int status)
{
    fire_read *r = w->data;
    kiln_daemon *dm = r->dm;
    kiln_queued_fire *q, *next;
    size_t i = 0;

    (void)status; /* never cancelled */
    for (q = r->fires; q; q = next, i++) {
        kiln_entry *e = q->e;
        kiln_outcome out;
        next = q->next;
        e->n_reading--;
        if (q->dequeued)
            e->n_dequeued--; /* its slot: taken now, or given back */
        if (dm->stopping && q->src.check_id) {
            /* Still queued in its check: the next kiln serve starts it. */
            say("%s: %s trigger's fire kept for the next kiln serve",
                e->name, q->src.trigger);
        } else if (dm->stopping || e->removed) {
            kiln_daemon__settle(e, &q->src, &out, KILN_FIRE_MISSED,
                                dm->stopping ? "kiln serve stopped before "
                                               "it could start"
                                             : "the pipeline was unloaded "
                                               "before it could start", 0);
        } else {
            q->src.git = kiln_daemon__git_read_for(&r->reads[i], e);
            kiln_daemon__fire(e, &q->src, &out);
            q->src.git = NULL;
        }
        kiln_daemon__queued_free(q);
        kiln_daemon__entry_release_maybe(e);
        kiln_daemon__git_read_dispose(&r->reads[i]);
    }
    free(r->reads);
    free(r);
    dm->read = NULL;
    if (dm->to_read)
        read_start(dm);
    else
        kiln_daemon__shutdown_maybe(dm);
}

static void on_read_soon(uv_check_t *h)
{
    kiln_daemon *dm = h->data;
    uv_check_stop(h);
    if (!dm->read && dm->to_read)
        read_start(dm);
}

/* Read the repositories of the fires waiting. */
static void read_start(kiln_daemon *dm)
{
    fire_read *r = kiln_calloc(1, sizeof(*r));
    size_t i = 0;
    r->work.data = r;
    r->dm = dm;
    r->fires = dm->to_read;
    dm->to_read = NULL;
    for (kiln_queued_fire *q = r->fires; q; q = q->next)
        r->n++;
    r->reads = kiln_calloc(r->n, sizeof(*r->reads));
    for (kiln_queued_fire *q = r->fires; q; q = q->next)
        r->reads[i++].file = kiln_strdup(q->e->d->file);
    dm->read = r;
    if (uv_queue_work(&dm->loop, &r->work, read_work, read_done) != 0) {
        read_work(&r->work);
        read_done(&r->work, 0);
    }
}

/* Fire q of e once its repository is read, with the others of this
 * turn. */
static void read_then_fire(kiln_entry *e, kiln_queued_fire *q)
{
    kiln_daemon *dm = e->dm;
    kiln_queued_fire **pp;
    q->e = e;
    e->n_reading++;
    for (pp = &dm->to_read; *pp; pp = &(*pp)->next)
        ;
    *pp = q;
    /* Read with the others of this turn, once the loop has run them. */
    if (!dm->read && !uv_is_active((uv_handle_t *)&dm->read_soon))
        uv_check_start(&dm->read_soon, on_read_soon);
}

static void sched_fire(kiln_sched *s, int64_t due)
{
    kiln_entry *e = s->e;
    kiln_daemon *dm = e->dm;
    kiln_queued_fire *q = kiln_calloc(1, sizeof(*q));
    kiln_source src;
    memset(&src, 0, sizeof(src));
    src.trigger = "schedule";
    src.expr = s->expr;
    src.due_ms = due;
    dm->last_lag_ms = (int64_t)((double)(kiln_clock_now_ms() - due) /
                                kiln_clock_speed());
    kiln_daemon__source_copy(&q->src, &src);
    read_then_fire(e, q);
}

/* Arm s for its first fire after after_ms and publish it. */
static void arm(kiln_sched *s, int64_t after_ms)
{
    const kiln_schedule *sch = &s->e->d->p->schedule;
    kiln_err err = KILN_ERR_INIT;
    int64_t next = kiln_cron_next(&s->cron, sch->timezone, after_ms / 1000);
    s->due_ms = next >= 0 ? next * 1000 : -1;
    s->unsaved = s->e->dm->loading;
    if (!s->unsaved &&
        kiln_store_schedule_set(s->e->dm->store, s->e->name, s->expr,
                                sch->timezone, s->due_ms, &err) != 0)
        kiln_daemon__store_warn(&err);
    if (s->due_ms >= 0)
        uv_timer_start(&s->timer, on_sched_timer,
                       kiln_clock_real_ms(s->due_ms), 0);
}

static void on_sched_timer(uv_timer_t *t)
{
    kiln_sched *s = t->data;
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
    kiln_sched *s = h->data;
    free(s->expr);
    free(s);
}

void kiln_daemon__scheds_save(kiln_daemon *dm)
{
    kiln_err err = KILN_ERR_INIT;
    int rc = kiln_store_begin(dm->store, &err);
    for (kiln_entry *e = dm->entries; e && rc == 0; e = e->next)
        for (size_t i = 0; i < e->n_scheds && rc == 0; i++) {
            kiln_sched *s = e->scheds[i];
            if (!s->unsaved)
                continue;
            s->unsaved = false;
            rc = kiln_store_schedule_set(dm->store, e->name, s->expr,
                                         e->d->p->schedule.timezone,
                                         s->due_ms, &err);
        }
    if (rc == 0)
        rc = kiln_store_commit(dm->store, &err);
    if (rc != 0) {
        kiln_store_rollback(dm->store);
        kiln_daemon__store_warn(&err);
    }
}

void kiln_daemon__scheds_close(kiln_entry *e)
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
/* Append s's slots in (after, now] to *slots (ms), at most max in all. */
static void slots_add(int64_t **slots, size_t *n, size_t *cap, size_t max,
                      kiln_sched *s, int64_t after, int64_t now)
{
    const char *zone = s->e->d->p->schedule.timezone;
    for (int64_t t = kiln_cron_next(&s->cron, zone, after);
         t >= 0 && t * 1000 <= now && *n < max;
         t = kiln_cron_next(&s->cron, zone, t)) {
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *slots = kiln_realloc(*slots, *cap * sizeof(**slots));
        }
        (*slots)[(*n)++] = t * 1000;
    }
}

static void catch_up(kiln_sched *s, int64_t last, int64_t now)
{
    kiln_entry *e = s->e;
    const kiln_schedule *sch = &e->d->p->schedule;
    int64_t *slots = NULL, t;
    size_t n = 0, cap = 0, keep, i;

    if (last <= 0)
        return; /* never fired: start from now */
    slots_add(&slots, &n, &cap, CATCHUP_SCAN, s, last / 1000, now);
    t = n ? kiln_cron_next(&s->cron, sch->timezone, slots[n - 1] / 1000)
          : -1;
    if (n == CATCHUP_SCAN && t >= 0 && t * 1000 <= now) {
        /* Down longer than the scan goes (a minute's schedule for more
         * than two months): the first missed slots are recorded, then
         * the latest ones are found back from now, a span doubled until
         * it holds more than max_catchup, so that what runs is the
         * latest, not the slots where the scan stopped. */
        int64_t from = slots[n - 1] / 1000, span = 86400, start;
        size_t head = MAX_MISSED_RECORDS;
        for (;;) {
            start = now / 1000 - span > from ? now / 1000 - span : from;
            n = head;
            slots_add(&slots, &n, &cap, head + CATCHUP_SCAN, s, start, now);
            if (n - head > (size_t)sch->max_catchup || start == from)
                break;
            span *= 2;
        }
    }
    keep = sch->catchup
               ? (n < (size_t)sch->max_catchup ? n : (size_t)sch->max_catchup)
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
    kiln_entry *e;
    kiln_def *d;
} watch_ctx;

static void on_watch_release(void *data)
{
    watch_ctx *x = data;
    kiln_daemon__def_unref(x->d);
    free(x);
}

/* Within the cooldown of the last triggered run? Then settle src as held
 * and say until when. Manual requests are never held by it. */
static bool cooling_down(kiln_entry *e, const kiln_source *src,
                         kiln_outcome *out)
{
    int64_t cd = e->d->p->cooldown_ms, at = 0, run = 0, now = kiln_now_ms();
    kiln_err err = KILN_ERR_INIT;
    char why[300], a[32], b[32], until[40];
    if (cd <= 0 || strcmp(src->trigger, "manual") == 0)
        return false;
    if (kiln_store_check_last_fired(e->dm->store, &at, &run, e->name,
                                    &err) != 0) {
        kiln_daemon__store_warn(&err);
        return false;
    }
    if (!at || now - at >= cd)
        return false;
    kiln_fmt_time(until, sizeof(until), at + cd);
    snprintf(why, sizeof(why), "cooldown %s: run %lld was triggered %s ago; "
             "the next triggered run may start at %s",
             kiln_fmt_duration(a, sizeof(a), cd), (long long)run,
             kiln_fmt_duration(b, sizeof(b), now - at), until);
    kiln_daemon__settle(e, src, out, KILN_FIRE_SKIPPED, why, 0);
    return true;
}

static void on_watch_fire(const kiln_firing *f, kiln_fire_outcome *res,
                          void *data)
{
    watch_ctx *x = data;
    kiln_entry *e = x->e;
    kiln_source src;
    kiln_outcome out;

    memset(&src, 0, sizeof(src));
    src.trigger = f->trigger;
    src.due_ms = kiln_clock_now_ms();
    src.info = (char *)f->info;
    src.check_id = f->check_id;
    src.commit = (char *)f->commit;
    src.file = (char *)f->file;
    src.git = f->git;
    if (strcmp(f->trigger, "drift") == 0)
        kiln_notifier_drift(e->dm->notifier, e->d->p, f->check_id,
                            f->info);
    if (!cooling_down(e, &src, &out))
        kiln_daemon__fire(e, &src, &out);
    res->status = kiln_check_status_of_fire(out.status);
    res->run_id = out.run_id;
}

static void watch_open(kiln_entry *e)
{
    kiln_daemon *dm = e->dm;
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
    o.spread = &dm->looks;
    o.batch = dm->checks;
    o.hold_first = dm->loading;
    if (kiln_watch_start(&e->watch, &o, &err) != 0) {
        say("error: %s: cannot check its triggers: %s", e->name, err.msg);
        on_watch_release(x);
    }
}

/* Create e's scheds from its definition and arm them after now. */
void kiln_daemon__scheds_open(kiln_entry *e, bool catchup)
{
    const kiln_schedule *sch = &e->d->p->schedule;
    int64_t now = kiln_clock_now_ms(), last = 0;
    kiln_err err = KILN_ERR_INIT;

    /* Catch up since the pipeline last fired, whatever its schedule was
     * then. */
    if (catchup && sch->n_crons &&
        kiln_store_fire_last(e->dm->store, &last, e->name, NULL, &err) != 0)
        kiln_daemon__store_warn(&err);
    e->n_scheds = sch->n_crons;
    e->scheds = kiln_calloc(sch->n_crons ? sch->n_crons : 1,
                            sizeof(kiln_sched *));
    for (size_t i = 0; i < sch->n_crons; i++) {
        kiln_sched *s = kiln_calloc(1, sizeof(*s));
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


/* As it starts: the fires of checks a kiln serve left queued (killed, or
 * stopped before they could start) queue again, oldest first, behind
 * the runs it recovered; those of a pipeline not loaded now, or kept by
 * no fire, become errors saying why. */
void kiln_daemon__requeue(kiln_daemon *dm)
{
    kiln_queued_check *c = NULL;
    kiln_err err = KILN_ERR_INIT;
    size_t n = 0, again = 0;

    if (kiln_store_checks_queued(dm->store, &c, &n, &err) != 0) {
        kiln_daemon__store_warn(&err);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        kiln_entry *e = kiln_daemon__entry_find(dm, c[i].pipeline);
        kiln_queued_fire *q, **pp;
        const char *why = NULL;
        if (!e || e->removed)
            why = "kiln serve restarted without this pipeline: its "
                  "queued fire cannot start";
        else if (!c[i].fire)
            why = "kiln serve stopped before it could start (queued by a "
                  "kiln that did not keep queued fires)";
        q = kiln_calloc(1, sizeof(*q));
        if (!why && !source_from_json(&q->src, c[i].fire, c[i].id))
            why = "kiln serve stopped before it could start (its queued "
                  "fire could not be read back)";
        if (why) {
            say("%s: check %lld: %s", c[i].pipeline, (long long)c[i].id,
                why);
            if (kiln_store_check_update(dm->store, c[i].id,
                                        KILN_CHECK_ERROR, why, 0,
                                        &err) != 0)
                kiln_daemon__store_warn(&err);
            kiln_daemon__queued_free(q);
            continue;
        }
        for (pp = &e->queue; *pp; pp = &(*pp)->next)
            ;
        *pp = q;
        again++;
    }
    if (again)
        say("%zu queued fire%s of the last kiln serve queued again", again,
            again == 1 ? "" : "s");
    for (kiln_entry *e = dm->entries; again && e; e = e->next)
        kiln_daemon__dequeue(e);
    kiln_queued_checks_free(c, n);
}
