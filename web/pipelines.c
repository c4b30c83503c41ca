/*
 * pipelines.c: /api/v1/pipelines: the loaded pipelines, as the daemon
 * describes them, with their latest runs and trigger checks from the
 * store; starting a run (through the daemon's start_run hook).
 */
#include "internal.h"

#include <string.h>

/* GET /api/v1/pipelines: every loaded pipeline with its latest runs and
 * the latest check of each trigger, and the files that never loaded
 * (name null, their load_errors). */
void kiln_web__get_pipelines(kiln_web_route_ctx *c)
{
    kiln_web *w = c->w;
    json_t *list, *p;
    kiln_err err = KILN_ERR_INIT;
    int64_t offset = 0, limit = -1;
    size_t i, total;

    /* ?offset=M&limit=N: a page of the list (by file load order; all of
     * it without limit), each with its recent runs and checks. */
    if (!kiln_web__query_int(c, "offset", 0, INT32_MAX, &offset) ||
        !kiln_web__query_int(c, "limit", 1, 100000, &limit))
        return;
    list = w->o.hooks.pipelines(w->o.hooks.data);
    total = json_array_size(list);
    if (limit > 0 || offset > 0) {
        json_t *page = json_array();
        for (i = (size_t)offset; i < total &&
             (limit < 0 || i < (size_t)(offset + limit)); i++)
            json_array_append(page, json_array_get(list, i));
        json_decref(list);
        list = page;
    }

    json_array_foreach(list, i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        json_t *runs = NULL, *checks = NULL;
        if (!name)
            continue; /* a file that never loaded: its errors only */
        if (kiln_store_runs_page_json(w->o.store, &runs, name, NULL, 0, 10,
                                      &err) != 0 ||
            kiln_store_checks_json(w->o.store, &checks, name, 10, &err) !=
                0) {
            json_decref(runs);
            json_decref(list);
            kiln_web__fail(c, &err);
            return;
        }
        json_object_set_new(p, "recent_runs", runs);
        json_object_set_new(p, "recent_checks", checks);
    }
    kiln_web__reply(c, 200, json_pack("{s:o, s:I}", "pipelines", list,
                                      "total", (json_int_t)total));
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
