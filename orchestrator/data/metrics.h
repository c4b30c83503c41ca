/*
 * metrics.h: a step's metrics file (a JSON object of numbers) read and
 * flattened, as DVC does: {"eval": {"auc": 0.9}} is eval.auc = 0.9.
 * Values that are not numbers are dropped with a warning; so is a file
 * that is not a JSON object. Reading blocks: the engine calls it from the
 * thread pool.
 */
#ifndef KILN_METRICS_H
#define KILN_METRICS_H

#include "base/base.h"

typedef struct kiln_metrics {
    size_t n;
    char **keys;     /* dotted */
    double *values;
} kiln_metrics;

/* Add the metrics in the file at path to m (a key already in m takes the
 * new value). Problems are appended to warnings as lines starting with
 * "kiln: warning: ". Returns false when the file does not exist. */
bool kiln_metrics_read(kiln_metrics *m, const char *path,
                       kiln_buf *warnings);
/* Set key (dotted) to v, replacing an earlier value. */
void kiln_metrics_set(kiln_metrics *m, const char *key, double v);
/* Write m to path as a flat JSON object ({"a.b": 1}), which reads back
 * as the same keys. Returns 0 or KILN_ERROR naming the path. */
int kiln_metrics_write(const kiln_metrics *m, const char *path,
                       kiln_err *err);
void kiln_metrics_dispose(kiln_metrics *m);

#endif
