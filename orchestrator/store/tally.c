/*
 * tally.c: what GET /metrics counts, kept up to date from the rows added
 * or finished since the last update (tally.h).
 *
 * Each table is read from its cursor in id order: a final row not counted
 * yet is counted; the first row not final stops the cursor, and the final
 * rows after it are remembered as counted until the cursor passes them.
 * Ids only grow (retention never deletes a table's newest row, so no id
 * is given twice, and SQLite's writers take turns), so a row that
 * appears later has a larger id than every row read.
 */
#include "internal.h"
#include "tally.h"

#include <stdlib.h>
#include <string.h>

const int64_t kiln_tally_bounds_ms[KILN_TALLY_BUCKETS - 1] = {
    500, 1000, 5000, 15000, 30000, 60000, 300000, 600000, 1800000, 3600000,
    7200000, 21600000, 86400000,
};

/* Each query's columns: the row's id, then whether it is final (0: not
 * yet, the cursor stops there; 1: count it; 2: never counted), then what
 * is counted. */
enum { ROW_PENDING = 0, ROW_COUNT = 1, ROW_SKIP = 2 };

static const char SQL_RUNS[] =
    "SELECT id, finished_at IS NOT NULL, pipeline, status, finished_at "
    "FROM runs WHERE id >= ?1 ORDER BY id";
static const char SQL_EXECS[] =
    "SELECT e.id, e.finished_at IS NOT NULL, r.pipeline, e.status, "
    "e.finished_at - e.started_at FROM executions e JOIN runs r ON "
    "r.id = e.run_id WHERE e.id >= ?1 ORDER BY e.id";
static const char SQL_CHECKS[] =
    "SELECT id, CASE WHEN status <> ?2 THEN 1 WHEN checked_at < ?3 THEN 2 "
    "ELSE 0 END, pipeline, trigger, status FROM trigger_checks "
    "WHERE id >= ?1 ORDER BY id";

/* Counts there from the start, at 0, so that a first failure is an
 * increase; other statuses appear when first seen. */
static const kiln_run_state usual_runs[] = {
    KILN_RUN_SUCCEEDED, KILN_RUN_FAILED, KILN_RUN_CANCELLED,
};
static const kiln_exec_state usual_attempts[] = {
    KILN_EXEC_SUCCEEDED, KILN_EXEC_FAILED, KILN_EXEC_CANCELLED,
    KILN_EXEC_CACHED,
};
static const kiln_check_status usual_outcomes[] = {
    KILN_CHECK_FIRED, KILN_CHECK_QUIET, KILN_CHECK_HELD, KILN_CHECK_ERROR,
};

static const char *col_text(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return t ? (const char *)t : "";
}

/* Add n to the count of status, added when new. */
static void counts_add(kiln_tally_counts *c, const char *status, int64_t n)
{
    size_t i;
    for (i = 0; i < c->n; i++)
        if (strcmp(c->items[i].status, status) == 0)
            break;
    if (i == c->n) {
        c->items = kiln_realloc(c->items, (c->n + 1) * sizeof(*c->items));
        c->items[i].status = kiln_strdup(status);
        c->items[i].n = 0;
        c->n++;
    }
    c->items[i].n += n;
}

static void counts_dispose(kiln_tally_counts *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->items[i].status);
    free(c->items);
}

/* The pipeline called name, added when new (the array stays sorted). */
static kiln_tally_pipeline *pipeline_get(kiln_tally *t, const char *name)
{
    size_t lo = 0, hi = t->n_pipelines;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(t->pipelines[mid].name, name);
        if (c == 0)
            return &t->pipelines[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (t->n_pipelines == t->cap_pipelines) {
        t->cap_pipelines = t->cap_pipelines ? t->cap_pipelines * 2 : 16;
        t->pipelines = kiln_realloc(t->pipelines, t->cap_pipelines *
                                                      sizeof(*t->pipelines));
    }
    memmove(&t->pipelines[lo + 1], &t->pipelines[lo],
            (t->n_pipelines - lo) * sizeof(*t->pipelines));
    memset(&t->pipelines[lo], 0, sizeof(*t->pipelines));
    t->pipelines[lo].name = kiln_strdup(name);
    t->n_pipelines++;
    for (size_t k = 0; k < KILN_ARRAY_SIZE(usual_runs); k++)
        counts_add(&t->pipelines[lo].runs,
                   kiln_run_state_name(usual_runs[k]), 0);
    for (size_t k = 0; k < KILN_ARRAY_SIZE(usual_attempts); k++)
        counts_add(&t->pipelines[lo].attempts,
                   kiln_exec_state_name(usual_attempts[k]), 0);
    return &t->pipelines[lo];
}

static kiln_tally_check *check_get(kiln_tally *t, const char *pipeline,
                                   const char *trigger)
{
    size_t lo = 0, hi = t->n_checks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(t->checks[mid].pipeline, pipeline);
        if (c == 0)
            c = strcmp(t->checks[mid].trigger, trigger);
        if (c == 0)
            return &t->checks[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (t->n_checks == t->cap_checks) {
        t->cap_checks = t->cap_checks ? t->cap_checks * 2 : 16;
        t->checks = kiln_realloc(t->checks, t->cap_checks *
                                                sizeof(*t->checks));
    }
    memmove(&t->checks[lo + 1], &t->checks[lo],
            (t->n_checks - lo) * sizeof(*t->checks));
    memset(&t->checks[lo], 0, sizeof(*t->checks));
    t->checks[lo].pipeline = kiln_strdup(pipeline);
    t->checks[lo].trigger = kiln_strdup(trigger);
    t->n_checks++;
    for (size_t k = 0; k < KILN_ARRAY_SIZE(usual_outcomes); k++)
        counts_add(&t->checks[lo].outcomes,
                   kiln_check_status_name(usual_outcomes[k]), 0);
    return &t->checks[lo];
}

static void count_run(kiln_tally *t, sqlite3_stmt *s)
{
    kiln_tally_pipeline *p = pipeline_get(t, col_text(s, 2));
    const char *status = col_text(s, 3);
    int64_t at = sqlite3_column_int64(s, 4);
    counts_add(&p->runs, status, 1);
    if (strcmp(status, kiln_run_state_name(KILN_RUN_SUCCEEDED)) == 0 &&
        at > p->last_success_ms)
        p->last_success_ms = at;
}

static void count_exec(kiln_tally *t, sqlite3_stmt *s)
{
    kiln_tally_pipeline *p = pipeline_get(t, col_text(s, 2));
    const char *status = col_text(s, 3);
    int64_t ms = sqlite3_column_int64(s, 4);
    size_t b = 0;
    counts_add(&p->attempts, status, 1);
    if (strcmp(status, kiln_exec_state_name(KILN_EXEC_CACHED)) == 0 ||
        strcmp(status, kiln_exec_state_name(KILN_EXEC_LOST)) == 0)
        return; /* ran nothing, or kiln does not know how long */
    if (ms < 0)
        ms = 0; /* the wall clock went back */
    while (b < KILN_TALLY_BUCKETS - 1 && ms > kiln_tally_bounds_ms[b])
        b++;
    p->buckets[b]++;
    p->duration_ms += ms;
}

static void count_check(kiln_tally *t, sqlite3_stmt *s)
{
    counts_add(&check_get(t, col_text(s, 2), col_text(s, 3))->outcomes,
               col_text(s, 4), 1);
}

static bool done_has(const kiln_tally_cursor *c, int64_t id)
{
    size_t lo = 0, hi = c->n_done;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->done[mid] == id)
            return true;
        if (c->done[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static void done_push(int64_t **a, size_t *n, size_t *cap, int64_t id)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *a = kiln_realloc(*a, *cap * sizeof(**a));
    }
    (*a)[(*n)++] = id;
}

/* Read a table from its cursor (s, bound, its first parameter the
 * cursor), counting each final row once with count. */
static int scan(kiln_tally *t, kiln_tally_cursor *c, sqlite3_stmt *s,
                void (*count)(kiln_tally *, sqlite3_stmt *), kiln_err *err,
                const char *what, kiln_store *st)
{
    int64_t *done = NULL, last = c->from - 1;
    size_t n = 0, cap = 0, k;
    bool pending = false;
    int rc;

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        int state = sqlite3_column_int(s, 1);
        bool counted = done_has(c, id);
        last = id;
        if (state == ROW_PENDING && !counted) {
            pending = true;
            continue;
        }
        if (state == ROW_COUNT && !counted)
            count(t, s);
        if (pending)
            done_push(&done, &n, &cap, id);
        else
            c->from = id + 1;
    }
    /* What was not read (a failure part way) stays counted. */
    for (k = 0; k < c->n_done; k++)
        if (c->done[k] > last)
            done_push(&done, &n, &cap, c->done[k]);
    free(c->done);
    c->done = done;
    c->n_done = n;
    c->cap_done = cap;
    return kiln_store__end(st, s, rc, err, what);
}

int kiln_store_tally_update(kiln_tally *t, kiln_store *st, kiln_err *err)
{
    const char *what = "counting runs for /metrics";
    sqlite3_stmt *s;
    int rc;

    if (!t->runs.from)
        t->runs.from = t->execs.from = t->trigger_checks.from = 1;
    if (!(s = kiln_store__query(st, err, what, SQL_RUNS, "I", t->runs.from)))
        return KILN_ERROR;
    if ((rc = scan(t, &t->runs, s, count_run, err, what, st)) != 0)
        return rc;
    if (!(s = kiln_store__query(st, err, what, SQL_EXECS, "I",
                                t->execs.from)))
        return KILN_ERROR;
    if ((rc = scan(t, &t->execs, s, count_exec, err, what, st)) != 0)
        return rc;
    if (!(s = kiln_store__query(st, err, what, SQL_CHECKS, "IsI",
                                t->trigger_checks.from,
                                kiln_check_status_name(KILN_CHECK_QUEUED),
                                kiln_now_ms() - KILN_TALLY_QUEUED_MAX_MS)))
        return KILN_ERROR;
    return scan(t, &t->trigger_checks, s, count_check, err, what, st);
}

int kiln_store_tally_backlog(kiln_store *st, const kiln_tally *t,
                             int64_t *rows, kiln_err *err)
{
    static const char sql[] =
        "SELECT coalesce((SELECT max(id) FROM runs), 0) - ?1 + "
        "coalesce((SELECT max(id) FROM executions), 0) - ?2 + "
        "coalesce((SELECT max(id) FROM trigger_checks), 0) - ?3";
    sqlite3_stmt *s = kiln_store__query(st, err, "counting runs for /metrics",
                                        sql, "III", t->runs.from,
                                        t->execs.from, t->trigger_checks.from);
    int rc;
    *rows = 0;
    if (!s)
        return KILN_ERROR;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        *rows = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : kiln_store__error(st, rc, err,
                                                    "counting runs for "
                                                    "/metrics");
}

void kiln_tally_dispose(kiln_tally *t)
{
    for (size_t i = 0; i < t->n_pipelines; i++) {
        free(t->pipelines[i].name);
        counts_dispose(&t->pipelines[i].runs);
        counts_dispose(&t->pipelines[i].attempts);
    }
    for (size_t i = 0; i < t->n_checks; i++) {
        free(t->checks[i].pipeline);
        free(t->checks[i].trigger);
        counts_dispose(&t->checks[i].outcomes);
    }
    free(t->pipelines);
    free(t->checks);
    free(t->runs.done);
    free(t->execs.done);
    free(t->trigger_checks.done);
    memset(t, 0, sizeof(*t));
}
