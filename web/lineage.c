/*
 * lineage.c: /api/v1/artifacts/{id}/lineage: where an artifact came from
 * (up: every execution that made its bytes, the one that counts and its
 * inputs, and so on) or what used it (down), as a tree read from the
 * store; ?run=N asks as run N made or used it.
 */
#include "internal.h"

#include <string.h>

/* GET /api/v1/artifacts/{id}/lineage?direction=up|down&depth=&run= */
void kiln_web__get_lineage(kiln_web_route_ctx *c)
{
    const char *dir = kiln_web__query(c->t, "direction");
    int64_t id = kiln_web__id(c->seg[1]), depth = 0, run = 0;
    kiln_err err = KILN_ERR_INIT;
    json_t *tree;
    if (dir && strcmp(dir, "up") && strcmp(dir, "down")) {
        kiln_web__error(c->req, 400, "direction: expected up or down");
        return;
    }
    if (!kiln_web__query_int(c, "depth", 0, 1000, &depth) ||
        !kiln_web__query_int(c, "run", 1, INT64_MAX, &run))
        return;
    if (kiln_store_lineage_json(c->w->o.store, &tree, id,
                                !dir || strcmp(dir, "up") == 0, (int)depth,
                                run, &err) != 0) {
        kiln_web__fail(c, &err);
        return;
    }
    kiln_web__reply(c, 200, tree);
}
