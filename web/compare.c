/*
 * compare.c: GET /api/v1/compare, runs side by side.
 *
 *   ?runs=12,13,14             those runs, or
 *   ?pipeline=P&last=N         P's latest N (default 20), or
 *   ?items=12:train            the items of a sweep's matrix step
 *   &sort=STEP.KEY[:asc]       order (best first; :asc lowest first)
 *   &all=1                     every param and metric, not only those
 *                              that differ
 *   &offset=&limit=            a page of the rows (limit 100 by default)
 *
 * {params: [...], metrics: [...], total, offset, rows: [...]}: the
 * columns are those of all the rows, the rows those of the page.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_RUNS 10000

/* "12,13,14" into ids; false (answered 400) when malformed. */
static bool parse_runs(kiln_web_route_ctx *c, const char *text,
                       int64_t **ids, size_t *n)
{
    const char *p = text;
    *n = 0;
    *ids = kiln_calloc(MAX_RUNS + 1, sizeof(int64_t));
    while (*p) {
        size_t len = strcspn(p, ",");
        char one[24];
        if (len == 0 || len >= sizeof(one) || *n >= MAX_RUNS)
            goto bad;
        memcpy(one, p, len);
        one[len] = '\0';
        if (!((*ids)[(*n)++] = kiln_web__id(one)))
            goto bad;
        p += len;
        if (*p == ',' && !*++p)
            goto bad;
    }
    if (*n >= 1) {
        int64_t dup = kiln_compare_repeated(*ids, *n);
        if (!dup)
            return true;
        free(*ids);
        *ids = NULL;
        kiln_web__error(c->req, 400, "runs: run %lld is named twice",
                        (long long)dup);
        return false;
    }
bad:
    free(*ids);
    *ids = NULL;
    kiln_web__error(c->req, 400, "runs: expected run ids separated by "
                    "commas (at most %d)", MAX_RUNS);
    return false;
}

void kiln_web__get_compare(kiln_web_route_ctx *c)
{
    const char *runs = kiln_web__query(c->t, "runs");
    const char *items = kiln_web__query(c->t, "items");
    const char *pipeline = kiln_web__query(c->t, "pipeline");
    const char *sort = kiln_web__query(c->t, "sort");
    const char *all = kiln_web__query(c->t, "all");
    int64_t last = 20, offset = 0, limit = 100;
    kiln_err err = KILN_ERR_INIT;
    int64_t *ids = NULL;
    size_t n = 0, total;
    json_t *rows = NULL, *cols, *page;

    if ((runs != NULL) + (pipeline != NULL) + (items != NULL) != 1) {
        kiln_web__error(c->req, 400, "give runs=ID,ID..., pipeline=NAME or "
                        "items=RUN:STEP");
        return;
    }
    if (!kiln_web__query_int(c, "last", 1, MAX_RUNS, &last) ||
        !kiln_web__query_int(c, "offset", 0, MAX_RUNS, &offset) ||
        !kiln_web__query_int(c, "limit", 1, 1000, &limit))
        return;
    if (runs && !parse_runs(c, runs, &ids, &n))
        return;
    if (items) {
        const char *colon = strchr(items, ':');
        char run[24];
        int64_t id = 0;
        if (colon && (size_t)(colon - items) < sizeof(run)) {
            memcpy(run, items, (size_t)(colon - items));
            run[colon - items] = '\0';
            id = kiln_web__id(run);
        }
        if (!id || !colon[1]) {
            kiln_web__error(c->req, 400, "items: expected RUN:STEP");
            return;
        }
        rows = json_array();
        if (kiln_store_compare_items(rows, c->w->o.store, id, colon + 1,
                                     &err) != 0) {
            json_decref(rows);
            kiln_web__fail(c, &err);
            return;
        }
    }
    if (pipeline && kiln_store_last_runs(&ids, &n, c->w->o.store, pipeline,
                                         (size_t)last, &err) != 0) {
        free(ids);
        kiln_web__fail(c, &err);
        return;
    }
    if (!items &&
        kiln_store_compare_rows(&rows, c->w->o.store, ids, n, &err) != 0) {
        free(ids);
        kiln_web__fail(c, &err);
        return;
    }
    free(ids);
    if (sort && *sort)
        kiln_compare_sort(rows, sort);
    cols = kiln_compare_columns(rows, all && strcmp(all, "0") != 0 &&
                                          strcmp(all, "false") != 0);
    total = json_array_size(rows);
    page = json_array();
    for (size_t i = (size_t)offset; i < total && i < (size_t)(offset + limit);
         i++)
        json_array_append(page, json_array_get(rows, i));
    json_decref(rows);
    json_object_set_new(cols, "total", json_integer((json_int_t)total));
    json_object_set_new(cols, "offset", json_integer(offset));
    json_object_set_new(cols, "rows", page);
    kiln_web__reply(c, 200, cols);
}
