/* pipeline.c: the model's own functions, for every phase and every user. */
#include "dsl/dsl.h"

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
