/* pipeline.c: the model's own functions, for every phase and every user. */
#include "dsl/dsl.h"

#include <stdlib.h>
#include <string.h>

void kiln_pipeline_free(kiln_pipeline *p)
{
    if (p)
        kiln_arena_free(p->arena);
}

ssize_t kiln_pipeline_find_step(const kiln_pipeline *p, const char *name)
{
    size_t i;
    for (i = 0; i < p->n_steps; i++)
        if (strcmp(p->steps[i].name, name) == 0)
            return (ssize_t)i;
    return -1;
}

const char *kiln_step_item_param(const kiln_step *st, const char *name)
{
    for (size_t i = 0; i < st->n_item_params; i++)
        if (strcmp(st->item_params[i].key, name) == 0)
            return st->item_params[i].value;
    return NULL;
}

bool kiln_step_param_number(double *out, const kiln_step *st,
                            const kiln_kv *params, size_t n,
                            const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(params[i].key, name) == 0) {
            const char *v = kiln_step_item_param(st, name);
            char *end;
            v = v ? v : params[i].value;
            *out = strtod(v, &end);
            return end != v && *end == '\0';
        }
    }
    return false;
}
