/*
 * routes.c: the route table of the JSON API under /api/v1, its dispatch,
 * the response cache, and what the routes share; /healthz and /metrics.
 *
 * request.c has decoded and checked the path and query (UTF-8 text, no
 * control character). A path is split into segments and matched against
 * the table below, whose rows come from one file per resource
 * (pipelines.c, runs.c, lineage.c, models.c, metrics.c, events.c), as
 * h2o's status handlers come from lib/handler/status/. A known path with
 * the wrong method gets 405 and an Allow header. Path parameters are
 * checked before any route sees them: names as the DSL allows them (a
 * step's may be a sweep item's, "train[lr=0.1]"), ids as positive
 * integers. Reads are store queries on the loop (each a
 * short indexed query); changes go through the daemon's hooks: web/
 * never writes the store.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"

typedef struct route {
    const char *method;
    const char *pattern;  /* segments; ":name" a name, ":id" a number */
    kiln_web_route_fn fn;
    kiln_role need;       /* the role it takes (auth.c) */
    bool cached;          /* reads only the store: answers are kept while
                             the database does not change */
} route;

#define VIEWER KILN_ROLE_VIEWER
#define OPERATOR KILN_ROLE_OPERATOR
#define ADMIN KILN_ROLE_ADMIN

static const route routes[] = {
    {"GET", "pipelines", kiln_web__get_pipelines, VIEWER, false},
    {"GET", "pipelines/:name", kiln_web__get_pipeline, VIEWER, false},
    {"POST", "pipelines/:name/runs", kiln_web__post_runs, OPERATOR, false},
    {"GET", "runs", kiln_web__get_runs, VIEWER, true},
    {"GET", "runs/:id", kiln_web__get_run, VIEWER, true},
    {"POST", "runs/:id/cancel", kiln_web__post_cancel, OPERATOR, false},
    {"POST", "runs/:id/retry", kiln_web__post_retry, OPERATOR, false},
    {"GET", "runs/:id/steps/:step/log", kiln_web__get_log, VIEWER, false},
    {"GET", "artifacts/:id/lineage", kiln_web__get_lineage, VIEWER, true},
    {"GET", "models", kiln_web__get_models, VIEWER, true},
    {"GET", "models/:name", kiln_web__get_models, VIEWER, true},
    {"GET", "models/:name/aliases/:name", kiln_web__get_alias, VIEWER,
     false},
    {"GET", "models/:name/versions/:id/file", kiln_web__get_version_file,
     VIEWER, false},
    {"POST", "models/:name/aliases/:name", kiln_web__post_alias, OPERATOR,
     false},
    {"POST", "models/:name/aliases/:name/rollback",
     kiln_web__post_rollback, OPERATOR, false},
    {"POST", "models/:name/aliases/:name/retire", kiln_web__post_retire,
     OPERATOR, false},
    {"GET", "metrics/:name", kiln_web__get_metric_series, VIEWER, true},
    {"GET", "events", kiln_web__get_events, VIEWER, false},
    {"GET", "compare", kiln_web__get_compare, VIEWER, true},
    {"GET", "session", kiln_web__get_session, KILN_ROLE_NONE, false},
    {"GET", "users", kiln_web__get_users, ADMIN, false},
};

/* What the routes share. */

void kiln_web__reply(kiln_web_route_ctx *c, int status, json_t *body)
{
    kiln_web__json(c->req, status, body, c->cache);
}

void kiln_web__fail(kiln_web_route_ctx *c, const kiln_err *err)
{
    kiln_web__fail_req(c->req, err);
}

void kiln_web__fail_req(h2o_req_t *req, const kiln_err *err)
{
    int status = err->code == KILN_ENOTFOUND ? 404
                 : err->code == KILN_EINVAL  ? 400
                 : err->code == KILN_EBUSY   ? 503
                                             : 500;
    kiln_web__error(req, status, "%s", err->msg);
}

static void on_later_gone(void *p)
{
    kiln_web_later *l = *(kiln_web_later **)p;
    if (l)
        l->req = NULL;
}

void kiln_web__later_init(kiln_web_later *l, h2o_req_t *req)
{
    l->req = req;
    l->slot = h2o_mem_alloc_shared(&req->pool, sizeof(*l->slot),
                                   on_later_gone);
    *l->slot = l;
}

h2o_req_t *kiln_web__later_take(kiln_web_later *l)
{
    if (l->req)
        *l->slot = NULL;
    return l->req;
}

int64_t kiln_web__id(const char *s)
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

bool kiln_web__query_int(kiln_web_route_ctx *c, const char *name,
                         int64_t lo, int64_t hi, int64_t *out)
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

json_t *kiln_web__body(kiln_web_route_ctx *c)
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
static void get_healthz(kiln_web_route_ctx *c)
{
    kiln_web__reply(c, 200, json_pack("{s:s}", "status", "ok"));
}

uint64_t kiln_web__store_version(kiln_web *w)
{
    /* Other processes' commits are looked for once per loop millisecond;
     * this process's own are counted as they happen. */
    uint64_t v = kiln_store_version(w->o.store,
                                   uv_now(w->o.loop) != w->version_at);
    w->version_at = uv_now(w->o.loop);
    return v;
}

/* Dispatch. */

/* Answer c's request from the cache, or run fn and keep its answer. */
static void cached_call(kiln_web_route_ctx *c, kiln_web_route_fn fn)
{
    kiln_web *w = c->w;
    h2o_req_t *req = c->req;
    uint64_t version;
    kiln_web_cached *slot;

    version = kiln_web__store_version(w);

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
    c->cache = slot;
    fn(c);
}

/* A step of a run: a name, or an item of a sweep ("train[lr=0.1,d=2]":
 * values of letters, digits and "._+-"). */
static bool step_ok(const char *s)
{
    const char *open = strchr(s, '[');
    size_t n = strlen(s);
    char name[128];
    if (!open)
        return kiln_dsl_valid_name(s);
    if ((size_t)(open - s) >= sizeof(name) || n < 2 || s[n - 1] != ']' ||
        strspn(open + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789._+-=,") != n - (size_t)(open - s) - 2)
        return false;
    memcpy(name, s, (size_t)(open - s));
    name[open - s] = '\0';
    return kiln_dsl_valid_name(name);
}

/* Does c's path match pattern? Sets *bad when a parameter is malformed
 * (then the route is known but the request is wrong). */
static bool match(const kiln_web_route_ctx *c, const char *pattern,
                  const char **bad)
{
    size_t i = 0;
    const char *p = pattern;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (i >= c->n)
            return false;
        if (n == 3 && memcmp(p, ":id", 3) == 0) {
            if (!kiln_web__id(c->seg[i]) && !*bad)
                *bad = "expected a positive integer id";
        } else if (n == 5 && memcmp(p, ":step", 5) == 0) {
            if (!step_ok(c->seg[i]) && !*bad)
                *bad = "expected a step's name, or an item's "
                       "(train[lr=0.1,depth=2])";
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
    kiln_web_route_ctx c;
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
        /* /healthz says nothing but "ok": load balancers need no
         * token. */
        if (strcmp(path, "/healthz") == 0)
            get_healthz(&c);
        else if (!kiln_web__allowed(w, req, KILN_ROLE_VIEWER, &c.who))
            return true;
        else
            kiln_web__get_prometheus(&c);
        return true;
    }
    if (strncmp(path, "/api/v1/", 8) != 0)
        return false;
    copy = h2o_mem_alloc_pool(&req->pool, strlen(path) + 1);
    strcpy(copy, path + 8);
    for (s = copy; *s && c.n < KILN_WEB_MAX_SEGMENTS;) {
        char *slash = strchr(s, '/');
        c.seg[c.n++] = s;
        if (!slash)
            break;
        *slash = '\0';
        s = slash + 1;
        if (!*s)
            break; /* a trailing slash */
    }
    if (c.n == 0 || (s && *s && c.n == KILN_WEB_MAX_SEGMENTS))
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
        if (!kiln_web__allowed(w, req, routes[i].need, &c.who))
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
