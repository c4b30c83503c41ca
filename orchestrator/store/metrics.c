/* metrics.c: the numbers each execution reported, by dotted key. */
#include "internal.h"

#include <stdlib.h>

static const char SQL_METRIC_PUT[] =
    "INSERT OR REPLACE INTO metrics (execution_id, run_id, step, key, "
    "value) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_RUN_METRICS[] =
    "SELECT step, key, value FROM metrics WHERE run_id = ?1 "
    "ORDER BY step, key";
static const char SQL_METRIC_GET[] =
    "SELECT value FROM metrics WHERE run_id = ?1 AND step = ?2 AND "
    "key = ?3 ORDER BY execution_id DESC LIMIT 1";

int kiln_store_record_metrics(kiln_store *st, int64_t exec_id,
                              int64_t run_id, const char *step,
                              size_t n, const char *const *keys,
                              const double *values, kiln_err *err)
{
    const char *what = "recording metrics";
    int rc;
    if (n == 0)
        return 0;
    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *s = kiln_store__stmt(st, SQL_METRIC_PUT, err, what);
        rc = KILN_ERROR;
        if (!s)
            goto fail;
        sqlite3_bind_int64(s, 1, exec_id);
        sqlite3_bind_int64(s, 2, run_id);
        kiln_store__text(s, 3, step);
        kiln_store__text(s, 4, keys[i]);
        sqlite3_bind_double(s, 5, values[i]);
        if ((rc = kiln_store__write(st, s, err, what)) != 0)
            goto fail;
    }
    return kiln_store__commit(st, err, what);
fail:
    kiln_store__rollback(st);
    return rc;
}

int kiln_store_metric_get(kiln_store *st, double *out, bool *found,
                          int64_t run_id, const char *step, const char *key,
                          kiln_err *err)
{
    const char *what = "reading a metric";
    sqlite3_stmt *s = kiln_store__stmt(st, SQL_METRIC_GET, err, what);
    int rc;
    *found = false;
    if (!s)
        return KILN_ERROR;
    sqlite3_bind_int64(s, 1, run_id);
    kiln_store__text(s, 2, step);
    kiln_store__text(s, 3, key);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_double(s, 0);
        *found = true;
    }
    return kiln_store__end(st, s, rc, err, what);
}

int kiln_store_run_metrics(kiln_metric **out, size_t *n, kiln_store *st,
                           int64_t run_id, kiln_err *err)
{
    const char *what = "reading metrics";
    sqlite3_stmt *s = kiln_store__stmt(st, SQL_RUN_METRICS, err, what);
    size_t cap = 0;
    int rc;
    *out = NULL;
    *n = 0;
    if (!s)
        return KILN_ERROR;
    sqlite3_bind_int64(s, 1, run_id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = kiln_realloc(*out, cap * sizeof(**out));
        }
        (*out)[*n].step = kiln_store__dup(s, 0);
        (*out)[*n].key = kiln_store__dup(s, 1);
        (*out)[*n].value = sqlite3_column_double(s, 2);
        (*n)++;
    }
    if ((rc = kiln_store__end(st, s, rc, err, what)) != 0) {
        kiln_metrics_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

void kiln_metrics_free(kiln_metric *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].step);
        free(m[i].key);
    }
    free(m);
}
