/* metrics.c: the numbers each execution reported, by dotted key. */
#include "internal.h"

#include <stdlib.h>

static const char SQL_METRIC_PUT[] =
    "INSERT OR REPLACE INTO metrics (execution_id, run_id, step, key, "
    "value) VALUES (?1, ?2, ?3, ?4, ?5)";
/* A key's attempts oldest first: the last one is the one that counts. */
static const char SQL_RUN_METRICS[] =
    "SELECT step, key, value FROM metrics WHERE run_id = ?1 "
    "ORDER BY step, key, execution_id";
static const char SQL_STEP_METRICS[] =
    "SELECT step, key, value FROM metrics WHERE run_id = ?1 AND step = ?2 "
    "ORDER BY key, execution_id";
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
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = kiln_store__run(st, err, what, SQL_METRIC_PUT, "IIssd", exec_id,
                             run_id, step, keys[i], values[i]);
    if (rc != 0) {
        kiln_store__rollback(st);
        return rc;
    }
    return kiln_store__commit(st, err, what);
}

int kiln_store_metric_get(kiln_store *st, double *out, bool *found,
                          int64_t run_id, const char *step, const char *key,
                          kiln_err *err)
{
    const char *what = "reading a metric";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_METRIC_GET, "Iss",
                                        run_id, step, key);
    int rc;
    *found = false;
    if (!s)
        return KILN_ERROR;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_double(s, 0);
        *found = true;
    }
    return kiln_store__end(st, s, rc, err, what);
}

static void fill_metric(void *row, sqlite3_stmt *s)
{
    kiln_metric *m = row;
    m->step = kiln_store__dup(s, 0);
    m->key = kiln_store__dup(s, 1);
    m->value = sqlite3_column_double(s, 2);
}

static void dispose_metric(void *row)
{
    kiln_metric *m = row;
    free(m->step);
    free(m->key);
}

int kiln_store_metric_latest(kiln_store *st, double *out, bool *found,
                             int64_t *run_id, const char *pipeline,
                             const char *step, const char *key,
                             kiln_err *err)
{
    const char *what = "reading a metric";
    /* metrics_by_key (key, run_id), newest run first. */
    sqlite3_stmt *s = kiln_store__query(
        st, err, what,
        "SELECT m.value, m.run_id FROM metrics m JOIN runs r ON r.id = "
        "m.run_id WHERE m.key = ?3 AND m.step = ?2 AND r.pipeline = ?1 "
        "ORDER BY m.run_id DESC, m.execution_id DESC LIMIT 1", "sss",
        pipeline, step, key);
    int rc;
    *found = false;
    *out = 0;
    *run_id = 0;
    if (!s)
        return KILN_ERROR;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        *out = sqlite3_column_double(s, 0);
        *run_id = sqlite3_column_int64(s, 1);
        *found = true;
    }
    return kiln_store__end(st, s, rc, err, what);
}

int kiln_store_run_metrics(kiln_metric **out, size_t *n, kiln_store *st,
                           int64_t run_id, kiln_err *err)
{
    return kiln_store__rows(st, out, n, sizeof(**out), fill_metric,
                            dispose_metric, err, "reading metrics",
                            SQL_RUN_METRICS, "I", run_id);
}

int kiln_store_step_metrics(kiln_metric **out, size_t *n, kiln_store *st,
                            int64_t run_id, const char *step, kiln_err *err)
{
    return kiln_store__rows(st, out, n, sizeof(**out), fill_metric,
                            dispose_metric, err, "reading metrics",
                            SQL_STEP_METRICS, "Is", run_id, step);
}

void kiln_metrics_free(kiln_metric *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dispose_metric(&m[i]);
    free(m);
}
