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

/* GET /api/v1/pipelines: every loaded pipeline with its latest runs and
 * the latest check of each trigger, and the files that never loaded
 * (name null, their load_errors). */
void kiln_web__get_pipelines(kiln_web_route_ctx *c)
{
    kiln_web *w = c->w;
    json_t *list, *p;
    kiln_err err = KILN_ERR_INIT;
    const char *sort = kiln_web__query(c->t, "sort");
    int64_t offset = 0, limit = -1, active = 0, queued = 0, loaded = 0;
    size_t i, total;
    bool began;

    /* ?offset=M&limit=N: a page of the list (by file load order, or
     * ?sort=concern; all of it without limit), each with its recent runs
     * and checks; the totals of the whole list beside. */
    if (!kiln_web__query_int(c, "offset", 0, INT32_MAX, &offset) ||
        !kiln_web__query_int(c, "limit", 1, 100000, &limit))
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
        loaded += json_object_get(p, "name") != NULL &&
                  !json_is_null(json_object_get(p, "name"));
        active += json_integer_value(json_object_get(p, "active"));
        queued += json_integer_value(json_object_get(p, "queued"));
    }
    if (limit > 0 || offset > 0) {
        json_t *page = json_array();
        for (i = (size_t)offset; i < total &&
             (limit < 0 || i < (size_t)(offset + limit)); i++)
            json_array_append(page, json_array_get(list, i));
        json_decref(list);
        list = page;
    }

    /* Two small queries a pipeline: one snapshot for all of them (not
     * two lock round trips each). */
    began = kiln_store_snapshot_begin(w->o.store);
    json_array_foreach(list, i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        json_t *runs = NULL, *checks = NULL;
        if (!name)
            continue; /* a file that never loaded: its errors only */
        if (kiln_store_runs_page_json(w->o.store, &runs, name, NULL, 0, 10,
                                      &err) != 0 ||
            kiln_store_checks_json(w->o.store, &checks, name, 10, &err) !=
                0) {
            kiln_store_snapshot_end(w->o.store, began);
            json_decref(runs);
            json_decref(list);
            kiln_web__fail(c, &err);
            return;
        }
        json_object_set_new(p, "recent_runs", runs);
        json_object_set_new(p, "recent_checks", checks);
    }
    kiln_store_snapshot_end(w->o.store, began);
    kiln_web__reply(c, 200, json_pack("{s:o, s:I, s:I, s:I, s:I}",
                                      "pipelines", list, "total",
                                      (json_int_t)total, "loaded",
                                      (json_int_t)loaded, "active",
                                      (json_int_t)active, "queued",
                                      (json_int_t)queued));
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

/* POST /api/v1/pipelines/{name}/runs {params, commit}: 201 started, 202
 * queued, 409 refused by a policy. */
void kiln_web__post_runs(kiln_web_route_ctx *c)
{
    kiln_web *w = c->w;
    json_t *body = kiln_web__body(c), *params, *reply = NULL;
    const char *commit;
    kiln_err err = KILN_ERR_INIT;
    const char *key, *status;
    kiln_audit_who who = kiln_web__who(&c->who);
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
    if (w->o.hooks.start_run(w->o.hooks.data, c->seg[1], params, commit,
                             &who, &reply, &err) != 0) {
        json_decref(body);
        kiln_web__fail(c, &err);
        return;
    }
    json_decref(body);
    status = json_string_value(json_object_get(reply, "status"));
    kiln_web__reply(c, strcmp(status, "started") == 0  ? 201
                       : strcmp(status, "queued") == 0 ? 202
                                                       : 409,
                    reply);
}
