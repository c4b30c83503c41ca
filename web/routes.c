/*
 * routes.c: the JSON API under /api/v1, /healthz and /metrics.
 *
 * server.c has decoded and checked the path and query (UTF-8 text, no
 * control character). A path is split into segments and matched against
 * the table below; a known path with the wrong method gets 405 and an
 * Allow header. Path parameters are checked before use: names as the DSL
 * allows them, ids as positive integers. Reads are store queries on the
 * loop (each a short indexed query); changes go through the daemon's
 * hooks: web/ never writes the store.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsl/dsl.h"

#define MAX_SEGMENTS 8
/* A log request returns at most this much; clients ask again from the
 * offset they got. */
#define LOG_CHUNK ((size_t)1 << 20)

typedef struct route_ctx {
    kiln_web *w;
    h2o_req_t *req;
    const kiln_web_target *t;
    size_t n;
    const char *seg[MAX_SEGMENTS]; /* after /api/v1 */
} route_ctx;

typedef int (*route_fn)(route_ctx *c);

typedef struct route {
    const char *method;
    const char *pattern;  /* segments; ":name" a name, ":id" a number */
    route_fn fn;
    bool cached;          /* reads only the store: answers are kept while
                             the database does not change */
} route;

/* Helpers. */

static int64_t parse_id(const char *s)
{
    char *end;
    long long v;
    if (!s || !*s || strspn(s, "0123456789") != strlen(s) ||
        strlen(s) > 18)
        return 0;
    errno = 0;
    v = strtoll(s, &end, 10);
    return errno || *end || v <= 0 ? 0 : (int64_t)v;
}

/* An optional integer query parameter in [lo, hi]; answers 400 and
 * returns false when it is not. */
static bool query_int(route_ctx *c, const char *name, int64_t lo, int64_t hi,
                      int64_t *out)
{
    const char *v = kiln_web__query(c->t, name);
    char *end;
    long long x;
    if (!v)
        return true;
    errno = 0;
    x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi) {
        kiln_web__error(c->req, 400, "%s: expected an integer from %lld to "
                        "%lld", name, (long long)lo, (long long)hi);
        return false;
    }
    *out = x;
    return true;
}

static int store_error(route_ctx *c, const kiln_err *err)
{
    int status = err->code == KILN_ENOTFOUND ? 404
                 : err->code == KILN_EINVAL  ? 400
                 : err->code == KILN_EBUSY   ? 503
                                             : 500;
    return kiln_web__error(c->req, status, "%s", err->msg);
}

/* The request's body as a JSON object (empty body: {}); answers 400 with
 * the parse error and returns NULL otherwise. */
static json_t *body_object(route_ctx *c)
{
    json_error_t je;
    json_t *o;
    if (!c->req->entity.base || c->req->entity.len == 0)
        return json_object();
    o = json_loadb(c->req->entity.base, c->req->entity.len, 0, &je);
    if (!o) {
        kiln_web__error(c->req, 400, "malformed JSON at line %d, column "
                        "%d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        kiln_web__error(c->req, 400, "expected a JSON object");
        return NULL;
    }
    return o;
}

/* GET /healthz */
static int get_healthz(route_ctx *c)
{
    kiln_web__json(c->req, 200, json_pack("{s:s}", "status", "ok"));
    return 0;
}

/* GET /api/v1/pipelines: every loaded pipeline with its latest runs and
 * the latest check of each trigger. */
static int get_pipelines(route_ctx *c)
{
    kiln_web *w = c->w;
    json_t *list = w->o.hooks.pipelines(w->o.hooks.data), *p;
    kiln_err err = KILN_ERR_INIT;
    size_t i;

    json_array_foreach(list, i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        json_t *runs = NULL, *checks = NULL;
        if (kiln_store_runs_page_json(w->o.store, &runs, name, NULL, 0, 10,
                                      &err) != 0 ||
            kiln_store_checks_json(w->o.store, &checks, name, 10, &err) !=
                0) {
            json_decref(runs);
            json_decref(list);
            return store_error(c, &err);
        }
        json_object_set_new(p, "recent_runs", runs);
        json_object_set_new(p, "recent_checks", checks);
    }
    kiln_web__json(c->req, 200, json_pack("{s:o}", "pipelines", list));
    return 0;
}

/* GET /api/v1/pipelines/{name} */
static int get_pipeline(route_ctx *c)
{
    kiln_web *w = c->w;
    json_t *p = w->o.hooks.pipeline(w->o.hooks.data, c->seg[1]), *checks;
    kiln_err err = KILN_ERR_INIT;
    if (!p)
        return kiln_web__error(c->req, 404, "no pipeline \"%s\" is loaded",
                               c->seg[1]);
    if (kiln_store_checks_json(w->o.store, &checks, c->seg[1], 50, &err) !=
        0) {
        json_decref(p);
        return store_error(c, &err);
    }
    json_object_set_new(p, "recent_checks", checks);
    kiln_web__json(c->req, 200, p);
    return 0;
}

/* POST /api/v1/pipelines/{name}/runs {params, commit} */
static int post_runs(route_ctx *c)
{
    kiln_web *w = c->w;
    json_t *body = body_object(c), *params, *reply = NULL;
    const char *commit;
    kiln_err err = KILN_ERR_INIT;
    const char *key;
    json_t *v;
    int status;

    if (!body)
        return 0;
    params = json_object_get(body, "params");
    commit = json_string_value(json_object_get(body, "commit"));
    if (params && !json_is_object(params)) {
        json_decref(body);
        return kiln_web__error(c->req, 400, "params: expected an object of "
                               "names to strings");
    }
    json_object_foreach(params, key, v) {
        if (!json_is_string(v) && !json_is_number(v)) {
            json_decref(body);
            return kiln_web__error(c->req, 400, "params.%s: expected a "
                                   "string or a number", key);
        }
    }
    if (json_object_get(body, "commit") && !commit) {
        json_decref(body);
        return kiln_web__error(c->req, 400, "commit: expected a string");
    }
    if (w->o.hooks.start_run(w->o.hooks.data, c->seg[1], params, commit,
                             &reply, &err) != 0) {
        json_decref(body);
        return store_error(c, &err);
    }
    json_decref(body);
    status = strcmp(json_string_value(json_object_get(reply, "status")),
                    "started") == 0   ? 201
             : strcmp(json_string_value(json_object_get(reply, "status")),
                      "queued") == 0 ? 202
                                     : 409;
    kiln_web__json(c->req, status, reply);
    return 0;
}

/* GET /api/v1/runs?pipeline=&status=&limit=&before= */
static int get_runs(route_ctx *c)
{
    static const char *const states[] = {"queued", "running", "succeeded",
                                         "failed", "cancelled"};
    const char *pipeline = kiln_web__query(c->t, "pipeline");
    const char *status = kiln_web__query(c->t, "status");
    int64_t limit = 50, before = 0;
    kiln_err err = KILN_ERR_INIT;
    json_t *rows, *doc;
    size_t n;
    bool known = !status;

    if (!query_int(c, "limit", 1, 1000, &limit) ||
        !query_int(c, "before", 1, INT64_MAX, &before))
        return 0;
    if (pipeline && !kiln_dsl_valid_name(pipeline))
        return kiln_web__error(c->req, 400, "pipeline: not a pipeline name");
    for (size_t i = 0; status && i < KILN_ARRAY_SIZE(states); i++)
        known |= strcmp(status, states[i]) == 0;
    if (!known)
        return kiln_web__error(c->req, 400, "status: expected queued, "
                               "running, succeeded, failed or cancelled");
    if (kiln_store_runs_page_json(c->w->o.store, &rows, pipeline, status,
                                  before, (int)limit, &err) != 0)
        return store_error(c, &err);
    n = json_array_size(rows);
    doc = json_pack("{s:o}", "runs", rows);
    /* The next page, when this one is full. */
    if (n == (size_t)limit)
        json_object_set_new(doc, "next_before", json_object_get(
            json_array_get(rows, n - 1), "id"));
    kiln_web__json(c->req, 200, doc);
    return 0;
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
static int get_run(route_ctx *c)
{
    kiln_err err = KILN_ERR_INIT;
    json_t *run, *metrics, *arts;
    int64_t id = parse_id(c->seg[1]);
    if (kiln_store_run_json(c->w->o.store, &run, id, &err) != 0)
        return store_error(c, &err);
    if (kiln_store_metrics_json(c->w->o.store, &metrics, NULL, NULL, 0, id,
                                id, &err) != 0) {
        json_decref(run);
        return store_error(c, &err);
    }
    json_object_set_new(run, "metrics", metrics);
    if (kiln_store_run_artifacts_json(c->w->o.store, &arts, id, &err) != 0) {
        json_decref(run);
        return store_error(c, &err);
    }
    nest_artifacts(run, arts);
    json_decref(arts);
    kiln_web__json(c->req, 200, run);
    return 0;
}

/* POST /api/v1/runs/{id}/cancel */
static int post_cancel(route_ctx *c)
{
    kiln_web *w = c->w;
    kiln_err err = KILN_ERR_INIT;
    int64_t id = parse_id(c->seg[1]);
    if (w->o.hooks.cancel_run(w->o.hooks.data, id, &err) != 0)
        return err.code == KILN_EBUSY
                   ? kiln_web__error(c->req, 409, "%s", err.msg)
                   : store_error(c, &err);
    kiln_web__json(c->req, 202, json_pack("{s:I, s:s}", "run_id",
                                          (json_int_t)id, "status",
                                          "cancelling"));
    return 0;
}

/* POST /api/v1/runs/{id}/retry */
static int post_retry(route_ctx *c)
{
    kiln_web *w = c->w;
    kiln_err err = KILN_ERR_INIT;
    int64_t id = parse_id(c->seg[1]), new_id = 0;
    if (w->o.hooks.retry_run(w->o.hooks.data, id, &new_id, &err) != 0)
        return err.code == KILN_EBUSY
                   ? kiln_web__error(c->req, 409, "%s", err.msg)
                   : store_error(c, &err);
    kiln_web__json(c->req, 201, json_pack("{s:I, s:I, s:s}", "run_id",
                                          (json_int_t)new_id, "retry_of",
                                          (json_int_t)id, "status",
                                          "started"));
    return 0;
}

/* Is path inside dir (both resolved)? */
static bool inside(const char *path, const char *dir)
{
    char rp[PATH_MAX], rd[PATH_MAX];
    size_t n;
    if (!realpath(path, rp) || !realpath(dir, rd))
        return false;
    n = strlen(rd);
    return strncmp(rp, rd, n) == 0 && rp[n] == '/';
}

/* GET /api/v1/runs/{id}/steps/{step}/log?attempt=&offset= : the log from
 * offset (at most LOG_CHUNK bytes), with X-Kiln-Offset (where the next
 * request starts) and X-Kiln-Size. */
static int get_log(route_ctx *c)
{
    kiln_err err = KILN_ERR_INIT;
    int64_t id = parse_id(c->seg[1]), attempt = 0, offset = 0;
    char *path = NULL, *buf, num[32];
    struct stat st;
    ssize_t got;
    int fd;

    if (!kiln_dsl_valid_name(c->seg[3]))
        return kiln_web__error(c->req, 400, "not a step name");
    if (!query_int(c, "attempt", 0, 1000, &attempt) ||
        !query_int(c, "offset", 0, INT64_MAX, &offset))
        return 0;
    if (kiln_store_log_path(c->w->o.store, &path, id, c->seg[3],
                            (int)attempt, &err) != 0)
        return store_error(c, &err);
    /* Logs live in the state directory; nothing else is served. */
    if (!path || !inside(path, c->w->state_dir)) {
        bool exists = path && access(path, F_OK) == 0;
        free(path);
        return exists ? kiln_web__error(c->req, 403, "the log is outside "
                                        "the state directory")
                      : kiln_web__error(c->req, 404, "no log yet for step "
                                        "%s of run %s", c->seg[3],
                                        c->seg[1]);
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return kiln_web__error(c->req, 404, "no log yet");
    }
    if (offset > st.st_size)
        offset = st.st_size;
    buf = h2o_mem_alloc_pool(&c->req->pool, LOG_CHUNK);
    got = pread(fd, buf, LOG_CHUNK, offset);
    close(fd);
    if (got < 0)
        return kiln_web__error(c->req, 500, "cannot read the log");
    snprintf(num, sizeof(num), "%lld", (long long)(offset + got));
    h2o_add_header_by_str(&c->req->pool, &c->req->res.headers,
                          H2O_STRLIT("x-kiln-offset"), 0, NULL,
                          h2o_strdup(&c->req->pool, num, SIZE_MAX).base,
                          strlen(num));
    snprintf(num, sizeof(num), "%lld", (long long)st.st_size);
    h2o_add_header_by_str(&c->req->pool, &c->req->res.headers,
                          H2O_STRLIT("x-kiln-size"), 0, NULL,
                          h2o_strdup(&c->req->pool, num, SIZE_MAX).base,
                          strlen(num));
    kiln_web__text(c->req, 200, "text/plain; charset=utf-8", buf,
                   (size_t)got);
    return 0;
}

/* GET /api/v1/artifacts/{id}/lineage?direction=up|down&depth= */
static int get_lineage(route_ctx *c)
{
    const char *dir = kiln_web__query(c->t, "direction");
    int64_t id = parse_id(c->seg[1]), depth = 0;
    kiln_err err = KILN_ERR_INIT;
    json_t *tree;
    if (dir && strcmp(dir, "up") && strcmp(dir, "down"))
        return kiln_web__error(c->req, 400, "direction: expected up or "
                               "down");
    if (!query_int(c, "depth", 0, 1000, &depth))
        return 0;
    if (kiln_store_lineage_json(c->w->o.store, &tree, id,
                                !dir || strcmp(dir, "up") == 0, (int)depth,
                                &err) != 0)
        return store_error(c, &err);
    kiln_web__json(c->req, 200, tree);
    return 0;
}

/* GET /api/v1/models and /api/v1/models/{name} */
static int get_models(route_ctx *c)
{
    const char *name = c->n > 1 ? c->seg[1] : NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *versions, *aliases;
    if (kiln_store_models_json(c->w->o.store, &versions, name, &err) != 0)
        return store_error(c, &err);
    if (name && json_array_size(versions) == 0) {
        json_decref(versions);
        return kiln_web__error(c->req, 404, "no model \"%s\"", name);
    }
    if (kiln_store_model_aliases_json(c->w->o.store, &aliases, &err) != 0) {
        json_decref(versions);
        return store_error(c, &err);
    }
    if (name) {
        json_t *mine = json_array(), *a;
        size_t i;
        json_array_foreach(aliases, i, a)
            if (strcmp(json_string_value(json_object_get(a, "name")),
                       name) == 0)
                json_array_append(mine, a);
        json_decref(aliases);
        aliases = mine;
    }
    kiln_web__json(c->req, 200, json_pack("{s:o, s:o}", "versions",
                                          versions, "aliases", aliases));
    return 0;
}

/* POST /api/v1/models/{name}/aliases/{alias} {version} */
static int post_alias(route_ctx *c)
{
    kiln_web *w = c->w;
    json_t *body = body_object(c);
    kiln_err err = KILN_ERR_INIT;
    json_int_t version;
    if (!body)
        return 0;
    if (!json_is_integer(json_object_get(body, "version")) ||
        (version = json_integer_value(json_object_get(body, "version"))) <
            1 ||
        version > INT_MAX) {
        json_decref(body);
        return kiln_web__error(c->req, 400, "version: expected a positive "
                               "integer");
    }
    json_decref(body);
    if (w->o.hooks.promote_model(w->o.hooks.data, c->seg[1], (int)version,
                                 c->seg[3], &err) != 0)
        return store_error(c, &err);
    kiln_web__json(c->req, 200, json_pack("{s:s, s:s, s:I}", "name",
                                          c->seg[1], "alias", c->seg[3],
                                          "version", version));
    return 0;
}

/* POST /api/v1/models/{name}/aliases/{alias}/rollback */
static int post_rollback(route_ctx *c)
{
    kiln_web *w = c->w;
    kiln_err err = KILN_ERR_INIT;
    int version = 0;
    if (w->o.hooks.rollback_model(w->o.hooks.data, &version, c->seg[1],
                                  c->seg[3], &err) != 0)
        return store_error(c, &err);
    kiln_web__json(c->req, 200, json_pack("{s:s, s:s, s:i}", "name",
                                          c->seg[1], "alias", c->seg[3],
                                          "version", version));
    return 0;
}

/* GET /api/v1/metrics/{pipeline}?key=&runs= : a series across runs. */
static int get_metric_series(route_ctx *c)
{
    const char *key = kiln_web__query(c->t, "key");
    int64_t runs = 100;
    kiln_err err = KILN_ERR_INIT;
    json_t *rows;
    if (!query_int(c, "runs", 1, 10000, &runs))
        return 0;
    if (kiln_store_metrics_json(c->w->o.store, &rows, c->seg[1], key,
                                (int)runs, 0, 0, &err) != 0)
        return store_error(c, &err);
    kiln_web__json(c->req, 200, json_pack("{s:s, s:s?, s:o}", "pipeline",
                                          c->seg[1], "key", key, "series",
                                          rows));
    return 0;
}

/* GET /api/v1/events */
static int get_events(route_ctx *c)
{
    return kiln_web__subscribe(c->w, c->req);
}

/* GET /metrics: Prometheus text format. */
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

static int get_prometheus(route_ctx *c)
{
    kiln_web *w = c->w;
    kiln_err err = KILN_ERR_INIT;
    json_t *st, *row, *g;
    kiln_buf b = KILN_BUF_INIT;
    const char *key;
    size_t i;

    if (kiln_store_stats_json(w->o.store, &st, &err) != 0)
        return store_error(c, &err);
    kiln_buf_puts(&b, "# HELP kiln_runs Runs recorded, by pipeline and "
                      "status.\n# TYPE kiln_runs gauge\n");
    json_array_foreach(json_object_get(st, "runs"), i, row) {
        kiln_buf_puts(&b, "kiln_runs{pipeline=\"");
        prom_escape(&b, json_string_value(json_object_get(row, "pipeline")));
        kiln_buf_puts(&b, "\",status=\"");
        prom_escape(&b, json_string_value(json_object_get(row, "status")));
        kiln_buf_printf(&b, "\"} %lld\n", (long long)json_integer_value(
                                              json_object_get(row, "n")));
    }
    kiln_buf_puts(&b, "# HELP kiln_step_seconds Durations of finished step "
                      "attempts (the last 10,000).\n# TYPE kiln_step_seconds summary\n");
    json_array_foreach(json_object_get(st, "steps"), i, row) {
        const char *lbl[2] = {"_sum", "_count"};
        for (int k = 0; k < 2; k++) {
            kiln_buf_printf(&b, "kiln_step_seconds%s{pipeline=\"", lbl[k]);
            prom_escape(&b, json_string_value(json_object_get(row,
                                                              "pipeline")));
            kiln_buf_puts(&b, "\",step=\"");
            prom_escape(&b, json_string_value(json_object_get(row, "step")));
            if (k == 0)
                kiln_buf_printf(&b, "\"} %.3f\n", json_number_value(
                                    json_object_get(row, "seconds")));
            else
                kiln_buf_printf(&b, "\"} %lld\n",
                                (long long)json_integer_value(
                                    json_object_get(row, "n")));
        }
    }
    kiln_buf_puts(&b, "# HELP kiln_trigger_checks Trigger checks, by "
                      "pipeline, trigger and outcome.\n# TYPE "
                      "kiln_trigger_checks counter\n");
    json_array_foreach(json_object_get(st, "checks"), i, row) {
        kiln_buf_puts(&b, "kiln_trigger_checks_total{pipeline=\"");
        prom_escape(&b, json_string_value(json_object_get(row, "pipeline")));
        kiln_buf_puts(&b, "\",trigger=\"");
        prom_escape(&b, json_string_value(json_object_get(row, "trigger")));
        kiln_buf_puts(&b, "\",status=\"");
        prom_escape(&b, json_string_value(json_object_get(row, "status")));
        kiln_buf_printf(&b, "\"} %lld\n", (long long)json_integer_value(
                                              json_object_get(row, "n")));
    }
    json_decref(st);
    g = w->o.hooks.gauges(w->o.hooks.data);
    json_object_foreach(g, key, row) {
        kiln_buf_printf(&b, "# TYPE kiln_%s gauge\nkiln_%s %g\n", key, key,
                        json_number_value(row));
    }
    json_decref(g);
    kiln_web__text(c->req, 200, "text/plain; version=0.0.4",
                   kiln_buf_cstr(&b), b.len);
    kiln_buf_dispose(&b);
    return 0;
}

static const route routes[] = {
    {"GET", "pipelines", get_pipelines, false},
    {"GET", "pipelines/:name", get_pipeline, false},
    {"POST", "pipelines/:name/runs", post_runs, false},
    {"GET", "runs", get_runs, true},
    {"GET", "runs/:id", get_run, true},
    {"POST", "runs/:id/cancel", post_cancel, false},
    {"POST", "runs/:id/retry", post_retry, false},
    {"GET", "runs/:id/steps/:name/log", get_log, false},
    {"GET", "artifacts/:id/lineage", get_lineage, true},
    {"GET", "models", get_models, true},
    {"GET", "models/:name", get_models, true},
    {"POST", "models/:name/aliases/:name", post_alias, false},
    {"POST", "models/:name/aliases/:name/rollback", post_rollback, false},
    {"GET", "metrics/:name", get_metric_series, true},
    {"GET", "events", get_events, false},
};

/* Answer req from the cache, or run fn and keep its answer. */
static void cached_call(route_ctx *c, route_fn fn)
{
    kiln_web *w = c->w;
    h2o_req_t *req = c->req;
    uint64_t version;
    kiln_web_cached *slot;

    /* Other processes' commits are looked for once per loop millisecond;
     * this process's own are counted as they happen. */
    version = kiln_store_version(w->o.store,
                                 uv_now(w->o.loop) != w->version_at);
    w->version_at = uv_now(w->o.loop);

    for (size_t i = 0; i < KILN_WEB_CACHE_SLOTS; i++) {
        slot = &w->cache[i];
        if (slot->key && slot->body && slot->version == version &&
            strlen(slot->key) == req->path.len &&
            memcmp(slot->key, req->path.base, req->path.len) == 0) {
            kiln_web__text(req, 200, "application/json", slot->body,
                           slot->len);
            return;
        }
    }
    slot = &w->cache[w->cache_next++ % KILN_WEB_CACHE_SLOTS];
    free(slot->key);
    free(slot->body);
    slot->key = kiln_strndup(req->path.base, req->path.len);
    slot->body = NULL;
    slot->version = version;
    kiln_web__cache_fill(slot);
    fn(c);
    kiln_web__cache_fill(NULL);
}

/* Does c's path match pattern? Sets *bad when a parameter is malformed
 * (then the route is known but the request is wrong). */
static bool match(const route_ctx *c, const char *pattern, const char **bad)
{
    size_t i = 0;
    const char *p = pattern;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (i >= c->n)
            return false;
        if (n == 3 && memcmp(p, ":id", 3) == 0) {
            if (!parse_id(c->seg[i]) && !*bad)
                *bad = "expected a positive integer id";
        } else if (n == 5 && memcmp(p, ":name", 5) == 0) {
            if (!kiln_dsl_valid_name(c->seg[i]) && !*bad)
                *bad = "expected a name of lowercase letters, digits, - "
                       "and _";
        } else if (strlen(c->seg[i]) != n || memcmp(p, c->seg[i], n) != 0) {
            return false;
        }
        i++;
        p += n;
        if (*p == '/')
            p++;
    }
    return i == c->n;
}

bool kiln_web__route(kiln_web *w, h2o_req_t *req, const kiln_web_target *t)
{
    const char *path = t->path;
    route_ctx c;
    char *copy, *s, allow[64] = "";
    bool known = false;

    memset(&c, 0, sizeof(c));
    c.w = w;
    c.req = req;
    c.t = t;
    if (strcmp(path, "/healthz") == 0 || strcmp(path, "/metrics") == 0) {
        if (!kiln_web__is(req, "GET") && !kiln_web__is(req, "HEAD")) {
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW,
                           NULL, H2O_STRLIT("GET, HEAD"));
            kiln_web__error(req, 405, "use GET");
            return true;
        }
        if (!kiln_web__allowed(w, req))
            return true;
        if (strcmp(path, "/healthz") == 0)
            get_healthz(&c);
        else
            get_prometheus(&c);
        return true;
    }
    if (strncmp(path, "/api/v1/", 8) != 0)
        return false;
    copy = h2o_mem_alloc_pool(&req->pool, strlen(path) + 1);
    strcpy(copy, path + 8);
    for (s = copy; *s && c.n < MAX_SEGMENTS;) {
        char *slash = strchr(s, '/');
        c.seg[c.n++] = s;
        if (!slash)
            break;
        *slash = '\0';
        s = slash + 1;
        if (!*s)
            break; /* a trailing slash */
    }
    if (c.n == 0 || (s && *s && c.n == MAX_SEGMENTS))
        return false;
    for (size_t i = 0; i < KILN_ARRAY_SIZE(routes); i++) {
        const char *b = NULL;
        if (!match(&c, routes[i].pattern, &b))
            continue;
        known = true;
        if (!kiln_web__is(req, routes[i].method) &&
            !(kiln_web__is(req, "HEAD") &&
              strcmp(routes[i].method, "GET") == 0)) {
            snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow),
                     "%s%s", allow[0] ? ", " : "", routes[i].method);
            continue;
        }
        if (!kiln_web__allowed(w, req))
            return true;
        if (b) {
            kiln_web__error(req, 400, "%s: %s", path, b);
            return true;
        }
        if (routes[i].cached)
            cached_call(&c, routes[i].fn);
        else
            routes[i].fn(&c);
        return true;
    }
    if (!known)
        return false;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                   h2o_strdup(&req->pool, allow, SIZE_MAX).base,
                   strlen(allow));
    kiln_web__error(req, 405, "%s does not take %.*s (allowed: %s)", path,
                    (int)req->method.len, req->method.base, allow);
    return true;
}
