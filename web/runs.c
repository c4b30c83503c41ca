/*
 * runs.c: /api/v1/runs: runs, paged, and one run with its steps, metrics
 * and artifacts, read from the store; a step's log, read from the state
 * directory in pieces (the page follows it while the step runs);
 * cancelling and retrying a run (through the daemon's hooks).
 */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsl/dsl.h"

/* A log request returns at most this much; clients ask again from the
 * offset they got. */
#define LOG_CHUNK ((size_t)1 << 20)

/* GET /api/v1/runs?pipeline=&status=&trigger=&since=&limit=&before=
 * (since: created at or after, in ms since the epoch) */
void kiln_web__get_runs(kiln_web_route_ctx *c)
{
    static const char *const states[] = {"queued", "running", "succeeded",
                                         "failed", "cancelled"};
    const char *pipeline = kiln_web__query(c->t, "pipeline");
    const char *status = kiln_web__query(c->t, "status");
    const char *trigger = kiln_web__query(c->t, "trigger");
    int64_t limit = 50, before = 0, since = 0;
    kiln_runs_query q;
    kiln_err err = KILN_ERR_INIT;
    json_t *rows, *doc;
    size_t n;
    bool known = !status;

    if (!kiln_web__query_int(c, "limit", 1, 1000, &limit) ||
        !kiln_web__query_int(c, "before", 1, INT64_MAX, &before) ||
        !kiln_web__query_int(c, "since", 0, INT64_MAX, &since))
        return;
    if (pipeline && !kiln_dsl_valid_name(pipeline)) {
        kiln_web__error(c->req, 400, "pipeline: not a pipeline name");
        return;
    }
    for (size_t i = 0; status && i < KILN_ARRAY_SIZE(states); i++)
        known |= strcmp(status, states[i]) == 0;
    if (!known) {
        kiln_web__error(c->req, 400, "status: expected queued, running, "
                        "succeeded, failed or cancelled");
        return;
    }
    memset(&q, 0, sizeof(q));
    q.pipeline = pipeline;
    q.status = status;
    q.trigger = trigger;
    q.since_ms = since;
    q.before = before;
    q.limit = (int)limit;
    if (kiln_store_runs_query_json(c->w->o.store, &rows, &q, &err) != 0) {
        kiln_web__fail(c, &err);
        return;
    }
    n = json_array_size(rows);
    doc = json_pack("{s:o}", "runs", rows);
    /* The next page, when this one is full. */
    if (n == (size_t)limit)
        json_object_set(doc, "next_before", json_object_get(
            json_array_get(rows, n - 1), "id")); /* borrowed: a new ref */
    kiln_web__reply(c, 200, doc);
}

/* Put each of a run's artifacts under the attempt that read or made it
 * (steps[].attempts_detail[].artifacts). */
static void nest_artifacts(json_t *run, json_t *arts)
{
    json_t *step, *a, *art;
    size_t i, k, n;
    json_array_foreach(json_object_get(run, "steps"), i, step) {
        json_array_foreach(json_object_get(step, "attempts_detail"), k, a) {
            json_int_t x = json_integer_value(json_object_get(a, "id"));
            json_t *mine = json_array();
            json_array_foreach(arts, n, art) {
                if (json_integer_value(json_object_get(art,
                                                       "execution_id")) != x)
                    continue;
                json_array_append(mine, art);
            }
            json_object_set_new(a, "artifacts", mine);
        }
    }
    json_array_foreach(arts, n, art)
        json_object_del(art, "execution_id");
}

/* GET /api/v1/runs/{id} */
void kiln_web__get_run(kiln_web_route_ctx *c)
{
    kiln_err err = KILN_ERR_INIT;
    json_t *run = NULL, *metrics, *arts;
    int64_t id = kiln_web__id(c->seg[1]);

    if (kiln_store_run_json(c->w->o.store, &run, id, &err) != 0)
        goto fail;
    if (kiln_store_metrics_json(c->w->o.store, &metrics, NULL, NULL, 0, id,
                                id, &err) != 0)
        goto fail;
    json_object_set_new(run, "metrics", metrics);
    if (kiln_store_run_artifacts_json(c->w->o.store, &arts, id, &err) != 0)
        goto fail;
    nest_artifacts(run, arts);
    json_decref(arts);
    kiln_web__reply(c, 200, run);
    return;
fail:
    json_decref(run);
    kiln_web__fail(c, &err);
}

/* A hook's refusal: 409 when the run is busy (still running, or already
 * ended), else as kiln_web__fail(). */
static void refused(kiln_web_route_ctx *c, const kiln_err *err)
{
    if (err->code == KILN_EBUSY)
        kiln_web__error(c->req, 409, "%s", err->msg);
    else
        kiln_web__fail(c, err);
}

/* POST /api/v1/runs/{id}/cancel */
void kiln_web__post_cancel(kiln_web_route_ctx *c)
{
    kiln_web *w = c->w;
    kiln_err err = KILN_ERR_INIT;
    int64_t id = kiln_web__id(c->seg[1]);
    kiln_audit_who who = kiln_web__who(&c->who);
    if (w->o.hooks.cancel_run(w->o.hooks.data, id, &who, &err) != 0) {
        refused(c, &err);
        return;
    }
    kiln_web__reply(c, 202, json_pack("{s:I, s:s}", "run_id",
                                      (json_int_t)id, "status",
                                      "cancelling"));
}

/* POST /api/v1/runs/{id}/retry {from}: from (optional) names the step
 * to run again with everything downstream of it. */
void kiln_web__post_retry(kiln_web_route_ctx *c)
{
    kiln_web *w = c->w;
    kiln_err err = KILN_ERR_INIT;
    int64_t id = kiln_web__id(c->seg[1]), new_id = 0;
    kiln_audit_who who = kiln_web__who(&c->who);
    json_t *body = kiln_web__body(c);
    const char *from;
    int rc;

    if (!body)
        return;
    from = json_string_value(json_object_get(body, "from"));
    if (json_object_get(body, "from") && !from) {
        json_decref(body);
        kiln_web__error(c->req, 400, "from: expected a step name");
        return;
    }
    rc = w->o.hooks.retry_run(w->o.hooks.data, id, from, &who, &new_id,
                              &err);
    json_decref(body);
    if (rc != 0) {
        refused(c, &err);
        return;
    }
    kiln_web__reply(c, 201, json_pack("{s:I, s:I, s:s}", "run_id",
                                      (json_int_t)new_id, "retry_of",
                                      (json_int_t)id, "status",
                                      "started"));
}

/* Is path inside dir (both resolved)? */
/* Is path (or, gzip'd by retention, path.gz) inside dir? */
static bool inside(const char *path, const char *dir)
{
    char rp[PATH_MAX], rd[PATH_MAX], gz[PATH_MAX];
    size_t n;
    snprintf(gz, sizeof(gz), "%s.gz", path);
    if ((!realpath(path, rp) && !realpath(gz, rp)) || !realpath(dir, rd))
        return false;
    n = strlen(rd);
    return strncmp(rp, rd, n) == 0 && rp[n] == '/';
}

static void add_number_header(h2o_req_t *req, const char *name,
                              long long v)
{
    char num[32];
    snprintf(num, sizeof(num), "%lld", v);
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name),
                          0, NULL, h2o_strdup(&req->pool, num, SIZE_MAX).base,
                          strlen(num));
}

/* GET /api/v1/runs/{id}/steps/{step}/log?attempt=&offset= : the log from
 * offset (at most LOG_CHUNK bytes), with X-Kiln-Offset (where the next
 * request starts) and X-Kiln-Size. */
void kiln_web__get_log(kiln_web_route_ctx *c)
{
    kiln_err err = KILN_ERR_INIT;
    int64_t id = kiln_web__id(c->seg[1]), attempt = 0, offset = 0;
    char *path = NULL, *buf;
    kiln_log *log = NULL;
    int64_t size;
    ssize_t got;
    int rc;

    /* c->seg[3] is a step's or a sweep item's name (routes.c checked). */
    if (!kiln_web__query_int(c, "attempt", 0, 1000, &attempt) ||
        !kiln_web__query_int(c, "offset", 0, INT64_MAX, &offset))
        return;
    if (kiln_store_log_path(c->w->o.store, &path, id, c->seg[3],
                            (int)attempt, &err) != 0) {
        kiln_web__fail(c, &err);
        return;
    }
    /* Logs live in the state directory; nothing else is served. */
    if (!path || !inside(path, c->w->state_dir)) {
        kiln_logs_state logs = KILN_LOGS_KEPT;
        if (kiln_store_run_logs_state(c->w->o.store, id, &logs, &err) == 0
            && logs == KILN_LOGS_REMOVED)
            kiln_web__error(c->req, 410, "the logs of run %lld were "
                            "removed by retention", (long long)id);
        else if (path && access(path, F_OK) == 0)
            kiln_web__error(c->req, 403, "the log is outside the state "
                            "directory");
        else
            kiln_web__error(c->req, 404, "no log yet for step %s of run %s",
                            c->seg[3], c->seg[1]);
        free(path);
        return;
    }
    /* As written, or gzip'd by retention. */
    rc = kiln_log_open(&log, path, &err);
    free(path);
    if (rc != 0) {
        kiln_web__error(c->req, 404, "no log yet");
        return;
    }
    size = kiln_log_size(log);
    if (offset > size)
        offset = size;
    buf = h2o_mem_alloc_pool(&c->req->pool, LOG_CHUNK);
    got = kiln_log_pread(log, buf, LOG_CHUNK, offset);
    kiln_log_close(log);
    if (got < 0) {
        kiln_web__error(c->req, 500, "cannot read the log");
        return;
    }
    add_number_header(c->req, "x-kiln-offset", (long long)(offset + got));
    add_number_header(c->req, "x-kiln-size", (long long)size);
    kiln_web__text(c->req, 200, "text/plain; charset=utf-8", buf,
                   (size_t)got);
}
