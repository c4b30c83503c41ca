/* env.c: building process environments. */
#include "env.h"

#include <stdlib.h>
#include <string.h>

static void push(kiln_env *e, char *entry, bool owned)
{
    if (e->n + 2 > e->cap) {
        e->cap = e->cap ? e->cap * 2 : 64;
        e->v = kiln_realloc(e->v, e->cap * sizeof(char *));
        e->owned = kiln_realloc(e->owned, e->cap * sizeof(bool));
    }
    e->owned[e->n] = owned;
    e->v[e->n++] = entry;
    e->v[e->n] = NULL;
}

/* Index of the entry named key (klen bytes), or -1. */
static ssize_t find(const kiln_env *e, const char *key, size_t klen)
{
    for (size_t i = 0; i < e->n; i++)
        if (strncmp(e->v[i], key, klen) == 0 && e->v[i][klen] == '=')
            return (ssize_t)i;
    return -1;
}

void kiln_env_borrow(kiln_env *e, char *const *from)
{
    for (; from && *from; from++) {
        const char *eq = strchr(*from, '=');
        if (eq && find(e, *from, (size_t)(eq - *from)) < 0)
            push(e, *from, false);
    }
}

void kiln_env_set(kiln_env *e, const char *key, const char *value)
{
    char *entry = kiln_asprintf("%s=%s", key, value);
    ssize_t i = find(e, key, strlen(key));
    if (i < 0) {
        push(e, entry, true);
        return;
    }
    if (e->owned[i])
        free(e->v[i]);
    e->v[i] = entry;
    e->owned[i] = true;
}

void kiln_env_unset_prefix(kiln_env *e, const char *prefix,
                           bool (*keep)(const char *name, void *data),
                           void *data)
{
    size_t plen = strlen(prefix), k = 0;
    for (size_t i = 0; i < e->n; i++) {
        char *eq = strchr(e->v[i], '='), *name;
        bool drop = false;
        if (strncmp(e->v[i], prefix, plen) == 0 && eq) {
            name = kiln_strndup(e->v[i] + plen, (size_t)(eq - e->v[i]) -
                                                    plen);
            drop = !keep(name, data);
            free(name);
        }
        if (drop) {
            if (e->owned[i])
                free(e->v[i]);
            continue;
        }
        e->v[k] = e->v[i];
        e->owned[k++] = e->owned[i];
    }
    e->n = k;
    if (e->v)
        e->v[k] = NULL;
}

char **kiln_env_vector(kiln_env *e)
{
    if (!e->v)
        push(e, NULL, false), e->n = 0;
    return e->v;
}

void kiln_env_dispose(kiln_env *e)
{
    for (size_t i = 0; i < e->n; i++)
        if (e->owned[i])
            free(e->v[i]);
    free(e->v);
    free(e->owned);
    memset(e, 0, sizeof(*e));
}
