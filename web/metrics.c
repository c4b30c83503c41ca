/*
 * metrics.c: metrics of two kinds. /api/v1/metrics/{pipeline}: what the
 * steps of a pipeline's runs recorded (a key's series across runs, for
 * the page's trend charts). /metrics: kiln's own, in Prometheus's text
 * format: finished runs by pipeline and status, each pipeline's latest
 * success, step attempts and their durations (a histogram) and trigger
 * checks, counted from the store (store/tally.h), and the daemon's gauges
 * (queue depth, active runs, running steps, scheduler lag).
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

/* GET /api/v1/metrics/{pipeline}?key=&runs= : a series across runs. */
void kiln_web__get_metric_series(kiln_web_route_ctx *c)
{
    const char *key = kiln_web__query(c->t, "key");
    int64_t runs = 100;
    kiln_err err = KILN_ERR_INIT;
    json_t *rows;
    if (!kiln_web__query_int(c, "runs", 1, 10000, &runs))
        return;
    if (kiln_store_metrics_json(c->w->o.store, &rows, c->seg[1], key,
                                (int)runs, 0, 0, &err) != 0) {
        kiln_web__fail(c, &err);
        return;
    }
    kiln_web__reply(c, 200, json_pack("{s:s, s:s?, s:o}", "pipeline",
                                      c->seg[1], "key", key, "series",
                                      rows));
}

/* A label's value, with backslash, double quote and newline escaped (the
 * text format's rule). */
static void prom_escape(kiln_buf *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '"')
            kiln_buf_printf(b, "\\%c", *s);
        else if (*s == '\n')
            kiln_buf_puts(b, "\\n");
        else
            kiln_buf_add(b, s, 1);
    }
}

static void prom_family(kiln_buf *b, const char *name, const char *type,
                        const char *help)
{
    kiln_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                    type);
}

/* name{pipeline="P"[,label="V"]...} with n pairs of (label, value) after
 * the pipeline, then a space. */
static void prom_sample(kiln_buf *b, const char *name, const char *pipeline,
                        int n, ...)
{
    va_list ap;
    kiln_buf_printf(b, "%s{pipeline=\"", name);
    prom_escape(b, pipeline);
    kiln_buf_puts(b, "\"");
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *label = va_arg(ap, const char *);
        kiln_buf_printf(b, ",%s=\"", label);
        prom_escape(b, va_arg(ap, const char *));
        kiln_buf_puts(b, "\"");
    }
    va_end(ap);
    kiln_buf_puts(b, "} ");
}

static bool any(const int64_t *n, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (n[i])
            return true;
    return false;
}

/* A counter's samples of one pipeline, one per status (label); with
 * trigger, of that trigger too. */
static void prom_counts(kiln_buf *b, const char *name, const char *pipeline,
                        const char *trigger, const kiln_tally_counts *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (trigger)
            prom_sample(b, name, pipeline, 2, "trigger", trigger, "status",
                        c->items[i].status);
        else
            prom_sample(b, name, pipeline, 1, "status", c->items[i].status);
        kiln_buf_printf(b, "%lld\n", (long long)c->items[i].n);
    }
}

/* The daemon's gauges (kiln_web_hooks.gauges), in the order shown. */
static const struct {
    const char *key, *help;
} gauges[] = {
    {"queue_depth", "Fires waiting for a pipeline's max_active_runs."},
    {"active_runs", "Runs in flight in this daemon."},
    {"running_steps", "Step attempts running now in this daemon's runs."},
    {"scheduler_lag_seconds", "How late the latest scheduled fire started "
                              "a run, in seconds."},
};

/* The first count reads every row of the record once: 9 s on a database
 * of a million runs, which on the loop would hold every request that
 * long. Past TALLY_ON_LOOP rows (about 50 ms) it is made on the thread
 * pool, over a connection of its own, from the first GET /metrics (a
 * daemon nobody scrapes never pays it); until it is done /metrics
 * answers 503 with Retry-After (Prometheus records a failed scrape, not
 * counts that are not yet whole). Later updates read only the rows
 * added since, on the loop. A server stopping meanwhile is freed once
 * it is done. */
#define TALLY_ON_LOOP 50000
typedef struct kiln_web_tally_job {
    uv_work_t req;
    kiln_web *w;
    char *db;
    kiln_tally t;
    kiln_err err;
    int rc;
} tally_job;

static void tally_work(uv_work_t *req)
{
    tally_job *j = req->data;
    kiln_store *ro;
    if ((j->rc = kiln_store_open_readonly(&ro, j->db, &j->err)) == 0) {
        j->rc = kiln_store_tally_update(&j->t, ro, &j->err);
        kiln_store_close(ro);
    }
}

static void tally_done(uv_work_t *req, int status)
{
    tally_job *j = req->data;
    kiln_web *w = j->w;
    (void)status;
    /* On an error what was read is counted once (tally.h): the loop's
     * next update goes on from there. */
    if (j->rc != 0)
        fprintf(stderr, "kiln serve: warning: /metrics: %s\n", j->err.msg);
    w->tally = j->t;
    w->tally_job = NULL;
    free(j->db);
    free(j);
}

static void tally_start(kiln_web *w)
{
    tally_job *j = kiln_calloc(1, sizeof(*j));
    j->w = w;
    j->db = kiln_strdup(kiln_store_path(w->o.store));
    j->req.data = j;
    w->tally_job = j;
    if (uv_queue_work(w->o.loop, &j->req, tally_work, tally_done) != 0) {
        w->tally_job = NULL; /* counted on the loop, as it comes */
        free(j->db);
        free(j);
    }
}

/* GET /metrics: Prometheus's text format (version 0.0.4). Counters come
 * from the record (store/tally.h): they survive restarts and never go
 * down. */
void kiln_web__get_prometheus(kiln_web_route_ctx *c)
{
    kiln_web *w = c->w;
    const kiln_tally *t = &w->tally;
    kiln_err err = KILN_ERR_INIT;
    kiln_buf b = KILN_BUF_INIT;
    json_t *g;
    char name[96];

    if (!w->tally_started) {
        int64_t rows = 0;
        w->tally_started = true;
        if (kiln_store_tally_backlog(w->o.store, &w->tally, &rows, &err) !=
                0 || rows > TALLY_ON_LOOP)
            tally_start(w);
    }
    if (w->tally_job) {
        h2o_add_header(&c->req->pool, &c->req->res.headers,
                       H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("2"));
        kiln_web__error(c->req, 503, "counting the record for the first "
                        "time since the start; ask again shortly");
        return;
    }
    if (kiln_store_tally_update(&w->tally, w->o.store, &err) != 0) {
        kiln_web__fail(c, &err);
        return;
    }
    prom_family(&b, "kiln_runs_total", "counter",
                "Finished runs, by pipeline and final status.");
    for (size_t i = 0; i < t->n_pipelines; i++)
        prom_counts(&b, "kiln_runs_total", t->pipelines[i].name, NULL,
                    &t->pipelines[i].runs);
    prom_family(&b, "kiln_pipeline_last_success_timestamp_seconds", "gauge",
                "When the latest successful run of a pipeline finished, "
                "in seconds since the epoch.");
    for (size_t i = 0; i < t->n_pipelines; i++) {
        const kiln_tally_pipeline *p = &t->pipelines[i];
        if (!p->last_success_ms)
            continue;
        prom_sample(&b, "kiln_pipeline_last_success_timestamp_seconds",
                    p->name, 0);
        kiln_buf_printf(&b, "%.3f\n", (double)p->last_success_ms / 1000.0);
    }
    prom_family(&b, "kiln_step_attempts_total", "counter",
                "Finished step attempts, by pipeline and status (cached: "
                "served from the cache; lost: kiln lost track of it).");
    for (size_t i = 0; i < t->n_pipelines; i++)
        prom_counts(&b, "kiln_step_attempts_total", t->pipelines[i].name,
                    NULL, &t->pipelines[i].attempts);
    prom_family(&b, "kiln_step_duration_seconds", "histogram",
                "Durations of the step attempts that ran (not cached or "
                "lost ones), by pipeline.");
    for (size_t i = 0; i < t->n_pipelines; i++) {
        const kiln_tally_pipeline *p = &t->pipelines[i];
        int64_t n = 0;
        if (!any(p->buckets, KILN_TALLY_BUCKETS))
            continue;
        for (int k = 0; k < KILN_TALLY_BUCKETS; k++) {
            char le[32] = "+Inf";
            n += p->buckets[k];
            if (k < KILN_TALLY_BUCKETS - 1)
                snprintf(le, sizeof(le), "%g",
                         (double)kiln_tally_bounds_ms[k] / 1000.0);
            prom_sample(&b, "kiln_step_duration_seconds_bucket", p->name, 1,
                        "le", le);
            kiln_buf_printf(&b, "%lld\n", (long long)n);
        }
        prom_sample(&b, "kiln_step_duration_seconds_sum", p->name, 0);
        kiln_buf_printf(&b, "%.3f\n", (double)p->duration_ms / 1000.0);
        prom_sample(&b, "kiln_step_duration_seconds_count", p->name, 0);
        kiln_buf_printf(&b, "%lld\n", (long long)n);
    }
    prom_family(&b, "kiln_trigger_checks_total", "counter",
                "Trigger checks, by pipeline, trigger and outcome (a "
                "queued check counts once its run starts or fails to).");
    for (size_t i = 0; i < t->n_checks; i++)
        prom_counts(&b, "kiln_trigger_checks_total", t->checks[i].pipeline,
                    t->checks[i].trigger, &t->checks[i].outcomes);
    g = w->o.hooks.gauges(w->o.hooks.data);
    for (size_t i = 0; i < KILN_ARRAY_SIZE(gauges); i++) {
        json_t *v = json_object_get(g, gauges[i].key);
        if (!json_is_number(v))
            continue;
        snprintf(name, sizeof(name), "kiln_%s", gauges[i].key);
        prom_family(&b, name, "gauge", gauges[i].help);
        kiln_buf_printf(&b, "%s %.17g\n", name, json_number_value(v));
    }
    json_decref(g);
    kiln_web__text(c->req, 200, "text/plain; version=0.0.4; charset=utf-8",
                   kiln_buf_cstr(&b), b.len);
    kiln_buf_dispose(&b);
}
