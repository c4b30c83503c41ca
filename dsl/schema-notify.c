/*
 * schema-notify.c: notify:, a list of webhooks and the events they are
 * told about (schema.h).
 */
#include "schema.h"

#include <string.h>

static void set_notify_on(vctx *v, const kiln_ynode *key,
                          const kiln_ynode *val, void *obj,
                          const keyspec *k)
{
    static const char *const names[] = {"success", "failure", "cancelled",
                                        "drift"};
    kiln_ynode *const *items = val->type == KILN_YNODE_SEQ
                                   ? val->u.items
                                   : (kiln_ynode *const *)&val;
    size_t n = val->type == KILN_YNODE_SEQ ? val->n : 1;
    char got[KILN_DSL_QUOTE_SIZE];
    unsigned bits = 0;

    if (val->type == KILN_YNODE_MAP || n == 0 || kiln_dsl__is_null(val)) {
        error_at(v, val, "on: expected a list of events (success, failure, "
                 "cancelled, drift), got %s", kiln_dsl__describe(got, val));
        return;
    }
    for (size_t i = 0; i < n && charge(v, items[i]); i++) {
        size_t j;
        for (j = 0; j < 4 && kiln_dsl__is_text(items[i]); j++)
            if (strlen(names[j]) == items[i]->n &&
                memcmp(names[j], items[i]->u.str, items[i]->n) == 0)
                break;
        if (j == 4 || !kiln_dsl__is_text(items[i]))
            error_at(v, items[i], "on: unknown event %s: use success, "
                     "failure, cancelled or drift",
                     kiln_dsl__describe(got, items[i]));
        else
            bits |= 1u << j;
    }
    *FIELD(obj, k->off, unsigned) = bits;
}

static void set_notify_format(vctx *v, const kiln_ynode *key,
                              const kiln_ynode *val, void *obj,
                              const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    if (kiln_dsl__is_text(val) && val->n == 4 &&
        memcmp(val->u.str, "json", 4) == 0)
        *FIELD(obj, k->off, const char *) = "json";
    else if (kiln_dsl__is_text(val) && val->n == 5 &&
             memcmp(val->u.str, "slack", 5) == 0)
        *FIELD(obj, k->off, const char *) = "slack";
    else
        error_at(v, val, "format: expected json or slack, got %s",
                 kiln_dsl__describe(got, val));
}

/* An item of notify:; target: kiln_notify. */
static const keyspec notify_keys[] = {
    ROW(kiln_notify, "on", set_notify_on, on),
    {"webhook", kiln_dsl__set_url, offsetof(kiln_notify, webhook), 0,
     "notify: needs \"webhook:\", the URL to post to"},
    ROW(kiln_notify, "format", set_notify_format, format),
    ROW(kiln_notify, "timeout", kiln_dsl__set_duration, timeout_ms),
};

/* Each table fits walk()'s 64-bit mask of the keys seen. */
_Static_assert(KILN_ARRAY_SIZE(notify_keys) <= 64, "too many keys");

static const mapspec notify_spec = SPEC(notify_keys, false);

void kiln_dsl__set_notify(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                          void *obj, const keyspec *k)
{
    kiln_pipeline *p = obj;
    char got[KILN_DSL_QUOTE_SIZE];
    if (kiln_dsl__is_null(val))
        return;
    if (val->type != KILN_YNODE_SEQ) {
        error_at(v, val, "notify: expected a list such as \"- {on: "
                 "[failure], webhook: URL}\", got %s",
                 kiln_dsl__describe(got, val));
        return;
    }
    p->notify = kiln_arena_alloc(v->p->arena,
                                 (val->n ? val->n : 1) * sizeof(*p->notify));
    for (size_t i = 0; i < val->n && charge(v, val->u.items[i]); i++) {
        const kiln_ynode *it = val->u.items[i];
        kiln_notify *n;
        if (it->flags & KILN_YNODE_BAD)
            continue;
        if (it->type != KILN_YNODE_MAP) {
            error_at(v, it, "notify: expected a mapping with \"webhook:\","
                     " got %s", kiln_dsl__describe(got, it));
            continue;
        }
        n = &p->notify[p->n_notify++];
        memset(n, 0, sizeof(*n));
        n->on = KILN_NOTIFY_FAILURE;
        n->format = "json";
        n->timeout_ms = 10000;
        n->pos = model_pos(v, it);
        kiln_dsl__walk(v, &notify_spec, it, n, "notify", NULL, it);
        if (n->timeout_ms <= 0)
            n->timeout_ms = 10000;
    }
}
