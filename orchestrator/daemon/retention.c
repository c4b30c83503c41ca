/*
 * retention.c: the policy a pipeline is kept by (retention.h), and kiln
 * serve's periodic retention pass.
 *
 * Every --retention-every the loop takes a snapshot of each loaded
 * pipeline's limits and hands the pass (kiln_store_gc_runs()) to the
 * thread pool, with a connection of its own: the loop never waits for
 * it, and its writes are batches short enough that the loop's own
 * writes wait a few milliseconds at most. One pass at a time; a stop
 * asks it to end between batches.
 */
#include "daemon/internal.h"
#include "daemon/clock.h"
#include "daemon/retention.h"

#include <stdlib.h>
#include <string.h>

#define say kiln_daemon__say

/* Runs per transaction: each holds the write lock a few milliseconds, so
 * the loop's own writes hardly wait. */
#define DAEMON_BATCH 20

/* The first pass comes this soon after the start, at most. */
#define FIRST_PASS_MS 300000

void kiln_retention_policy(kiln_store_retention *out,
                           const kiln_retention *file,
                           const kiln_store_retention *defaults)
{
    *out = *defaults;
    if (!file)
        return;
    if (file->keep_runs >= 0)
        out->keep_runs = file->keep_runs;
    if (file->runs_ms >= 0)
        out->runs_ms = file->runs_ms;
    if (file->keep_logs >= 0)
        out->keep_logs = file->keep_logs;
    if (file->logs_ms >= 0)
        out->logs_ms = file->logs_ms;
    if (file->compress_ms >= 0)
        out->compress_ms = file->compress_ms;
}

int kiln_retention_audit(kiln_store *st, const kiln_gc_report *rep,
                         const char *actor, const char *via, kiln_err *err)
{
    kiln_buf after = KILN_BUF_INIT;
    char before[64];
    int rc;
    snprintf(before, sizeof(before), "{\"bytes\":%lld}",
             (long long)rep->db_before);
    kiln_buf_printf(&after, "{\"runs_deleted\":%zu,\"runs_protected\":%zu,"
                    "\"logs_removed\":%zu,\"logs_compressed\":%zu,"
                    "\"checks\":%zu,\"fires\":%zu,\"notifications\":%zu,"
                    "\"sessions\":%zu,\"bytes\":%lld}", rep->runs_deleted,
                    rep->runs_protected, rep->logs_removed,
                    rep->logs_compressed, rep->checks, rep->fires,
                    rep->notifications, rep->sessions,
                    (long long)rep->db_after);
    rc = kiln_store_audit(st, actor, via, "gc", "runs", before,
                          kiln_buf_cstr(&after), err);
    kiln_buf_dispose(&after);
    return rc;
}

/* The daemon's pass. */

typedef struct rule {
    char *pipeline;
    kiln_store_retention r;
} rule;

struct kiln_gc_pass {
    kiln_daemon *dm;
    uv_timer_t timer;
    uv_work_t work;
    bool busy;               /* a pass is on the thread pool */
    bool timer_open;
    bool closing;            /* stopped: freed when both are done */
    volatile int stop;       /* the pass ends between batches */
    rule *rules;             /* the loaded pipelines' limits (snapshot) */
    size_t n_rules;
    char *db, *logs_dir, *reproduce_dir;
    int64_t now_ms;
    kiln_gc_report rep;
    kiln_err err;
    int rc;
};

static bool changed(const kiln_gc_report *rep)
{
    return rep->runs_deleted || rep->logs_removed || rep->logs_compressed ||
           rep->checks || rep->fires || rep->notifications ||
           rep->sessions;
}

/* A pipeline's limits: its rule, else the defaults (for the runs of
 * pipelines no longer loaded, too). On the pass's thread. */
static void policy(kiln_store_retention *out, const char *pipeline,
                   void *data)
{
    struct kiln_gc_pass *g = data;
    for (size_t i = 0; i < g->n_rules; i++)
        if (strcmp(g->rules[i].pipeline, pipeline) == 0) {
            *out = g->rules[i].r;
            return;
        }
    *out = g->dm->o->retention;
}

/* On the thread pool: the pass, on a connection of its own. */
static void on_work(uv_work_t *w)
{
    struct kiln_gc_pass *g = w->data;
    const kiln_daemon_options *o = g->dm->o;
    kiln_gc_options go;
    kiln_store *st = NULL;

    memset(&go, 0, sizeof(go));
    go.logs_dir = g->logs_dir;
    go.reproduce_dir = g->reproduce_dir;
    go.now_ms = g->now_ms;
    go.checks_ms = o->keep_checks_ms;
    go.notifications_ms = o->keep_notifications_ms;
    go.batch = DAEMON_BATCH;
    go.policy = policy;
    go.stop = &g->stop;
    go.data = g;
    g->err = (kiln_err)KILN_ERR_INIT;
    g->rc = kiln_store_open(&st, g->db, &g->err);
    if (g->rc == 0)
        g->rc = kiln_store_gc_runs(st, &go, &g->rep, &g->err);
    if (g->rc == 0 && changed(&g->rep))
        g->rc = kiln_retention_audit(st, &g->rep, "kiln", "daemon",
                                     &g->err);
    kiln_store_close(st);
}

static void rules_free(struct kiln_gc_pass *g)
{
    for (size_t i = 0; i < g->n_rules; i++)
        free(g->rules[i].pipeline);
    free(g->rules);
    g->rules = NULL;
    g->n_rules = 0;
}

static void pass_free_maybe(struct kiln_gc_pass *g)
{
    if (!g->closing || g->busy || g->timer_open)
        return;
    rules_free(g);
    free(g->db);
    free(g->logs_dir);
    free(g->reproduce_dir);
    free(g);
}

static void on_work_done(uv_work_t *w, int status)
{
    struct kiln_gc_pass *g = w->data;
    const kiln_gc_report *r = &g->rep;
    g->busy = false;
    rules_free(g);
    if (status == 0 && g->rc != 0)
        say("warning: retention: %s", g->err.msg);
    else if (status == 0 && changed(r))
        say("retention: %zu run%s deleted (%zu kept as protected), logs of "
            "%zu removed and %zu compressed, %zu trigger checks, %zu fires "
            "and %zu notifications deleted, %zu ended page sessions; "
            "kiln.db %lld -> %lld bytes",
            r->runs_deleted, r->runs_deleted == 1 ? "" : "s",
            r->runs_protected, r->logs_removed, r->logs_compressed,
            r->checks, r->fires, r->notifications, r->sessions,
            (long long)r->db_before, (long long)r->db_after);
    pass_free_maybe(g);
}

static void on_timer(uv_timer_t *t)
{
    struct kiln_gc_pass *g = t->data;
    kiln_daemon *dm = g->dm;
    size_t n = 0;
    if (g->busy || dm->stopping)
        return;
    for (kiln_entry *e = dm->entries; e; e = e->next)
        n++;
    g->rules = kiln_calloc(n ? n : 1, sizeof(*g->rules));
    for (kiln_entry *e = dm->entries; e; e = e->next) {
        rule *r = &g->rules[g->n_rules++];
        r->pipeline = kiln_strdup(e->name);
        kiln_retention_policy(&r->r, e->d ? &e->d->p->retention : NULL,
                              &dm->o->retention);
    }
    g->now_ms = kiln_clock_now_ms();
    memset(&g->rep, 0, sizeof(g->rep));
    g->work.data = g;
    if (uv_queue_work(&dm->loop, &g->work, on_work, on_work_done) != 0) {
        rules_free(g);
        return;
    }
    g->busy = true;
}

static void on_timer_close(uv_handle_t *h)
{
    struct kiln_gc_pass *g = h->data;
    g->timer_open = false;
    pass_free_maybe(g);
}

void kiln_daemon__retention_start(kiln_daemon *dm)
{
    const kiln_daemon_options *o = dm->o;
    struct kiln_gc_pass *g;
    uint64_t every = (uint64_t)o->retention_every_ms;
    if (o->retention_every_ms <= 0)
        return;
    g = kiln_calloc(1, sizeof(*g));
    g->dm = dm;
    g->db = kiln_path_join(o->state_dir, "kiln.db");
    g->logs_dir = kiln_path_join(o->state_dir, "logs");
    {
        char *rel = kiln_path_join(o->state_dir, "reproduce");
        g->reproduce_dir = kiln_path_absolute(rel);
        free(rel);
    }
    uv_timer_init(&dm->loop, &g->timer);
    g->timer.data = g;
    g->timer_open = true;
    uv_timer_start(&g->timer, on_timer,
                   every < FIRST_PASS_MS ? every : FIRST_PASS_MS, every);
    dm->gc = g;
}

void kiln_daemon__retention_stop(kiln_daemon *dm)
{
    struct kiln_gc_pass *g = dm->gc;
    if (!g)
        return;
    dm->gc = NULL;
    g->closing = true;
    g->stop = 1;
    uv_close((uv_handle_t *)&g->timer, on_timer_close);
}
