/*
 * env.h: environments for step processes, "K=V" vectors where a later
 * assignment replaces an earlier one of the same name.
 *
 * An environment can start from another's vector without copying its
 * strings (they are borrowed and must outlive it); only assignments made
 * on it allocate. A run builds its base environment once and each attempt
 * borrows it, adding a few KILN_* variables.
 */
#ifndef KILN_ENV_H
#define KILN_ENV_H

#include "base/base.h"

typedef struct kiln_env {
    size_t n, cap;
    char **v;       /* NULL-terminated once anything is in it */
    bool *owned;    /* owned[i]: v[i] is ours to free */
} kiln_env;

#define KILN_ENV_INIT {0, 0, NULL, NULL}

/* Start from a NULL-terminated vector, borrowing its strings. Entries with
 * no '=' are dropped; for a name given twice the first one wins, as
 * getenv() would see it. */
void kiln_env_borrow(kiln_env *e, char *const *from);
void kiln_env_set(kiln_env *e, const char *key, const char *value);
/* Remove the variables named PREFIX + NAME for which keep(NAME, data)
 * is false (a step's params: list drops the KILN_PARAM_* it does not
 * use). */
void kiln_env_unset_prefix(kiln_env *e, const char *prefix,
                           bool (*keep)(const char *name, void *data),
                           void *data);
/* The vector to hand to an executor, valid until the next change. */
char **kiln_env_vector(kiln_env *e);
void kiln_env_dispose(kiln_env *e);

#endif
