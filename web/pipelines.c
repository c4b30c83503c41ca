/*
 * pipelines.c: /api/v1/pipelines: the loaded pipelines, as the daemon
 * describes them, with their latest runs and trigger checks from the
 * store; starting a run (through the daemon's start_run hook).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* A pipeline in the order of ?sort=concern. */
typedef struct ranked {
    json_t *p;
    const char *name;   /* NULL: a file that never loaded */
    int concern;
} ranked;

/* The files that never loaded first (the page's banner), then pipelines
 * whose last run failed or timed out, then those running or queued,
 * then the rest; each by name. */
static int by_concern(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (!x->name || !y->name)
        return !y->name - !x->name;
    return x->concern != y->concern ? x->concern - y->concern
                                    : strcmp(x->name, y->name);
}

/* Sort list (a new array in *list) as ?sort=concern says, reading each
 * pipeline's last run along the runs index. */
static int sort_by_concern(kiln_web *w, json_t **list, kiln_err *err)
{
    size_t n = json_array_size(*list), i;
    ranked *r = kiln_calloc(n ? n : 1, sizeof(*r));
    json_t *p, *out;
    int rc = 0;
    bool began = kiln_store_snapshot_begin(w->o.store);
    json_array_foreach(*list, i, p) {
        char last[32];
        r[i].p = p;
        r[i].name = json_string_value(json_object_get(p, "name"));
        if (!r[i].name || rc != 0)
            continue;
        rc = kiln_store_last_status(w->o.store, r[i].name, last,
                                    sizeof(last), err);
        r[i].concern =
            strcmp(last, "failed") == 0 || strcmp(last, "timed_out") == 0
                ? 0
            : json_integer_value(json_object_get(p, "active")) > 0 ||
                    strcmp(last, "running") == 0 ||
                    strcmp(last, "queued") == 0
                ? 1 : 2;
    }
    kiln_store_snapshot_end(w->o.store, began);
    if (rc == 0) {
        qsort(r, n, sizeof(*r), by_concern);
        out = json_array();
        for (i = 0; i < n; i++)
            json_array_append(out, r[i].p);
        json_decref(*list);
        *list = out;
    }
    free(r);
    return rc;
}

/* At most this many pipelines a page, with their recent runs and checks
 * (each a JSON description and two queries on the loop: about 60 ms a
 * thousand); brief entries (no store reads) up to PAGE_BRIEF_MAX. */
#define PAGE_DEFAULT 100
#define PAGE_MAX 1000
#define PAGE_BRIEF_MAX 100000

/* Replace each loaded pipeline of page (brief entries) by its whole
 * description with its latest runs and trigger checks. */
static int describe_page(kiln_web *w, json_t *page, kiln_err *err)
{
    json_t *names = json_array(), *full, *p;
    size_t i;
    int rc = 0;
    bool began;

    json_array_foreach(page, i, p)
        json_array_append(names, json_object_get(p, "name"));
    full = w->o.hooks.describe(w->o.hooks.data, names);
    json_decref(names);
    /* Two small queries a pipeline: one snapshot for all of them (not
     * two lock round trips each). */
    began = kiln_store_snapshot_begin(w->o.store);
    json_array_foreach(page, i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        json_t *d = json_array_get(full, i), *runs = NULL, *checks = NULL;
        if (!name || !json_is_object(d))
            continue; /* a file that never loaded: its errors only */
        if ((rc = kiln_store_runs_page_json(w->o.store, &runs, name, NULL, 0,
                                            10, err)) != 0 ||
            (rc = kiln_store_checks_json(w->o.store, &checks, name, 10,
                                         err)) != 0) {
            json_decref(runs);
            break;
        }
        json_object_set_new(d, "recent_runs", runs);
        json_object_set_new(d, "recent_checks", checks);
        json_array_set(page, i, d);
    }
    kiln_store_snapshot_end(w->o.store, began);
    json_decref(full);
    return rc;
}

/* GET /api/v1/pipelines?offset=&limit=&sort=concern&brief=1: a page of
 * the loaded pipelines (by file load order, or as ?sort=concern ranks
 * them), each with its latest runs and the latest check of each
 * trigger, and the files that never loaded (name null, their
 * load_errors); the totals of the whole list beside, and next_offset
 * when there is more. ?brief=1: each only {name, file, active, queued,
 * load_errors}, no store reads. */
void kiln_web__get_pipelines(kiln_web_route_ctx *c)
{
    kiln_web *w = c->w;
    json_t *list, *page, *p, *doc;
    kiln_err err = KILN_ERR_INIT;
    const char *sort = kiln_web__query(c->t, "sort");
    int64_t offset = 0, limit = PAGE_DEFAULT, brief = 0;
    int64_t active = 0, queued = 0, loaded = 0;
    size_t i, total;

    if (!kiln_web__query_int(c, "brief", 0, 1, &brief) ||
        !kiln_web__query_int(c, "offset", 0, INT32_MAX, &offset) ||
        !kiln_web__query_int(c, "limit", 1,
                             brief ? PAGE_BRIEF_MAX : PAGE_MAX, &limit))
        return;
    if (sort && strcmp(sort, "concern") != 0) {
        kiln_web__error(c->req, 400, "sort: expected concern");
        return;
    }
    list = w->o.hooks.pipelines(w->o.hooks.data);
    if (sort && sort_by_concern(w, &list, &err) != 0) {
        json_decref(list);
        kiln_web__fail(c, &err);
        return;
    }
    total = json_array_size(list);
    json_array_foreach(list, i, p) {
        loaded += json_is_string(json_object_get(p, "name"));
        active += json_integer_value(json_object_get(p, "active"));
        queued += json_integer_value(json_object_get(p, "queued"));
    }
    page = json_array();
    for (i = (size_t)offset; i < total && i < (size_t)(offset + limit); i++)
        json_array_append(page, json_array_get(list, i));
    json_decref(list);
    if (!brief && describe_page(w, page, &err) != 0) {
        json_decref(page);
        kiln_web__fail(c, &err);
        return;
    }
    doc = json_pack("{s:o, s:I, s:I, s:I, s:I}", "pipelines", page, "total",
                    (json_int_t)total, "loaded", (json_int_t)loaded,
                    "active", (json_int_t)active, "queued",
                    (json_int_t)queued);
    if ((size_t)(offset + limit) < total)
        json_object_set_new(doc, "next_offset",
                            json_integer(offset + limit));
    kiln_web__reply(c, 200, doc);
}

/* GET /api/v1/pipelines/{name} */
void kiln_web__get_pipeline(kiln_web_route_ctx *c)
{
    kiln_web *w = c->w;
    json_t *p = w->o.hooks.pipeline(w->o.hooks.data, c->seg[1]), *checks;
    kiln_err err = KILN_ERR_INIT;
    if (!p) {
        kiln_web__error(c->req, 404, "no pipeline \"%s\" is loaded",
                        c->seg[1]);
        return;
    }
    if (kiln_store_checks_json(w->o.store, &checks, c->seg[1], 50, &err) !=
        0) {
        json_decref(p);
        kiln_web__fail(c, &err);
        return;
    }
    json_object_set_new(p, "recent_checks", checks);
    kiln_web__reply(c, 200, p);
}

/* A run request is answered once the daemon has read the repository
 * (off the loop) and fired; a client that hangs up meanwhile gets
 * nothing, and the run starts all the same. */
static void on_run_started(void *ctx, int rc, json_t *reply,
                           const kiln_err *err)
{
    kiln_web_later *l = ctx;
    h2o_req_t *req = kiln_web__later_take(l);
    if (req && rc != 0) {
        kiln_web__fail_req(req, err);
    } else if (req) {
        const char *status =
            json_string_value(json_object_get(reply, "status"));
        kiln_web__json(req, strcmp(status, "started") == 0  ? 201
                            : strcmp(status, "queued") == 0 ? 202
                                                            : 409,
                       json_incref(reply), NULL);
    }
    json_decref(reply);
    free(l);
}

/* POST /api/v1/pipelines/{name}/runs {params, commit}: 201 started, 202
 * queued, 409 refused by a policy. */
void kiln_web__post_runs(kiln_web_route_ctx *c)
{
    kiln_web *w = c->w;
    json_t *body = kiln_web__body(c), *params;
    const char *commit, *key;
    kiln_audit_who who = kiln_web__who(&c->who);
    kiln_web_later *l;
    json_t *v;

    if (!body)
        return;
    params = json_object_get(body, "params");
    commit = json_string_value(json_object_get(body, "commit"));
    if (params && !json_is_object(params)) {
        json_decref(body);
        kiln_web__error(c->req, 400, "params: expected an object of names "
                        "to strings");
        return;
    }
    json_object_foreach(params, key, v) {
        if (!json_is_string(v) && !json_is_number(v)) {
            kiln_web__error(c->req, 400, "params.%s: expected a string or "
                            "a number", key);
            json_decref(body);
            return;
        }
    }
    if (json_object_get(body, "commit") && !commit) {
        json_decref(body);
        kiln_web__error(c->req, 400, "commit: expected a string");
        return;
    }
    l = kiln_calloc(1, sizeof(*l));
    kiln_web__later_init(l, c->req);
    w->o.hooks.start_run(w->o.hooks.data, c->seg[1], params, commit, &who,
                         on_run_started, l);
    json_decref(body);
}
