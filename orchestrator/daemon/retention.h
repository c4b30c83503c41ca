/*
 * retention.h: the policy a pipeline's runs and logs are kept by (its
 * retention:, else the defaults kiln serve or kiln gc were given), the
 * audit row of a pass, and kiln serve's periodic pass (retention.c).
 */
#ifndef KILN_DAEMON_RETENTION_H
#define KILN_DAEMON_RETENTION_H

#include "dsl/dsl.h"
#include "store/store.h"

/* Each limit of file (a pipeline's retention:; NULL: none) where it set
 * one, else defaults'. */
void kiln_retention_policy(kiln_store_retention *out,
                           const kiln_retention *file,
                           const kiln_store_retention *defaults);

/* The audit row of a pass that changed something: action gc, target
 * "runs", after: what went and the database's bytes before and after. */
int kiln_retention_audit(kiln_store *st, const kiln_gc_report *rep,
                         const char *actor, const char *via, kiln_err *err);

#endif
