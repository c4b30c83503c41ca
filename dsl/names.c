/* names.c: what pipeline, step, parameter and env names may look like. */
#include "internal.h"

#include <string.h>

const char *const kiln_dsl__kind_names[] = {
    [KILN_KIND_TASK] = "task",
    [KILN_KIND_INGEST] = "ingest",
    [KILN_KIND_VALIDATE] = "validate",
    [KILN_KIND_TRAIN] = "train",
    [KILN_KIND_EVALUATE] = "evaluate",
    [KILN_KIND_DEPLOY] = "deploy",
};
const size_t kiln_dsl__n_kinds = KILN_ARRAY_SIZE(kiln_dsl__kind_names);

const char *kiln_step_kind_name(kiln_step_kind kind)
{
    if ((size_t)kind >= kiln_dsl__n_kinds)
        return "unknown";
    return kiln_dsl__kind_names[kind];
}

bool kiln_dsl_valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > KILN_DSL_MAX_NAME)
        return false;
    return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

bool kiln_dsl_valid_param_name(const char *name)
{
    static const char first[] = "abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ_";
    if (!name[0] || !strchr(first, name[0]))
        return false;
    return strspn(name + 1, "abcdefghijklmnopqrstuvwxyz"
                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
           strlen(name + 1);
}

const char *kiln_concurrency_name(kiln_concurrency c)
{
    switch (c) {
    case KILN_CONCURRENCY_FORBID:
        return "forbid";
    case KILN_CONCURRENCY_REPLACE:
        return "replace";
    default:
        return "allow";
    }
}

const char *const kiln_dsl__col_type_names[] = {
    [KILN_COL_ANY] = "any",
    [KILN_COL_INT] = "int",
    [KILN_COL_FLOAT] = "float",
    [KILN_COL_BOOL] = "bool",
    [KILN_COL_CATEGORY] = "category",
    [KILN_COL_STRING] = "string",
};
const size_t kiln_dsl__n_col_types =
    KILN_ARRAY_SIZE(kiln_dsl__col_type_names);

const char *kiln_col_type_name(kiln_col_type t)
{
    if ((size_t)t >= kiln_dsl__n_col_types)
        return "unknown";
    return kiln_dsl__col_type_names[t];
}

const char *const kiln_dsl__trigger_names[] = {
    [KILN_TRIGGER_DRIFT] = "drift",
    [KILN_TRIGGER_DATA] = "data",
    [KILN_TRIGGER_GIT] = "git",
    [KILN_TRIGGER_METRIC] = "metric",
};
const size_t kiln_dsl__n_triggers = KILN_ARRAY_SIZE(kiln_dsl__trigger_names);

const char *kiln_trigger_kind_name(kiln_trigger_kind kind)
{
    if ((size_t)kind >= kiln_dsl__n_triggers)
        return "unknown";
    return kiln_dsl__trigger_names[kind];
}
