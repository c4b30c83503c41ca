/*
 * models.c: /api/v1/models: the model registry (versions, their metrics
 * and the aliases that point at them) read from the store; pointing an
 * alias at a version, or back at the one before, through the daemon's
 * hooks.
 */
#include "internal.h"

#include <limits.h>
#include <string.h>

/* GET /api/v1/models and /api/v1/models/{name} */
void kiln_web__get_models(kiln_web_route_ctx *c)
{
    const char *name = c->n > 1 ? c->seg[1] : NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *versions, *aliases;
    if (kiln_store_models_json(c->w->o.store, &versions, name, &err) != 0) {
        kiln_web__fail(c, &err);
        return;
    }
    if (name && json_array_size(versions) == 0) {
        json_decref(versions);
        kiln_web__error(c->req, 404, "no model \"%s\"", name);
        return;
    }
    if (kiln_store_model_aliases_json(c->w->o.store, &aliases, &err) != 0) {
        json_decref(versions);
        kiln_web__fail(c, &err);
        return;
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
    kiln_web__reply(c, 200, json_pack("{s:o, s:o}", "versions", versions,
                                      "aliases", aliases));
}

/* POST /api/v1/models/{name}/aliases/{alias} {version} */
void kiln_web__post_alias(kiln_web_route_ctx *c)
{
    kiln_web *w = c->w;
    json_t *body = kiln_web__body(c);
    kiln_err err = KILN_ERR_INIT;
    json_int_t version;
    if (!body)
        return;
    if (!json_is_integer(json_object_get(body, "version")) ||
        (version = json_integer_value(json_object_get(body, "version"))) <
            1 ||
        version > INT_MAX) {
        json_decref(body);
        kiln_web__error(c->req, 400, "version: expected a positive integer");
        return;
    }
    json_decref(body);
    if (w->o.hooks.promote_model(w->o.hooks.data, c->seg[1], (int)version,
                                 c->seg[3], &err) != 0) {
        kiln_web__fail(c, &err);
        return;
    }
    kiln_web__reply(c, 200, json_pack("{s:s, s:s, s:I}", "name", c->seg[1],
                                      "alias", c->seg[3], "version",
                                      version));
}

/* POST /api/v1/models/{name}/aliases/{alias}/rollback */
void kiln_web__post_rollback(kiln_web_route_ctx *c)
{
    kiln_web *w = c->w;
    kiln_err err = KILN_ERR_INIT;
    int version = 0;
    if (w->o.hooks.rollback_model(w->o.hooks.data, &version, c->seg[1],
                                  c->seg[3], &err) != 0) {
        kiln_web__fail(c, &err);
        return;
    }
    kiln_web__reply(c, 200, json_pack("{s:s, s:s, s:i}", "name", c->seg[1],
                                      "alias", c->seg[3], "version",
                                      version));
}
