/*
 * triggers.c: what kiln serve records besides runs: the fires of
 * schedules and their next due times, every trigger check with what it
 * saw, what each trigger remembers between checks, and the pipeline
 * files that did not load.
 */
#include "internal.h"

#include <stdlib.h>

static const char SQL_FIRE_INSERT[] =
    "INSERT INTO fires (pipeline, schedule, due_at, status, reason, run_id, "
    "recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_FIRE_LAST[] =
    "SELECT max(due_at) FROM fires WHERE pipeline = ?1 AND "
    "(?2 IS NULL OR schedule = ?2)";
static const char SQL_SCHEDULE_SET[] =
    "INSERT INTO schedules (pipeline, schedule, timezone, next_due, "
    "updated_at) VALUES (?1, ?2, ?3, CASE WHEN ?4 < 0 THEN NULL ELSE ?4 "
    "END, ?5) ON CONFLICT (pipeline, "
    "schedule) DO UPDATE SET timezone = excluded.timezone, "
    "next_due = excluded.next_due, updated_at = excluded.updated_at";
static const char SQL_SCHEDULE_CLEAR[] =
    "DELETE FROM schedules WHERE ?1 IS NULL OR pipeline = ?1";
static const char SQL_LOAD_ERRORS_CLEAR[] = "DELETE FROM load_errors";
static const char SQL_LOAD_ERROR_SET[] =
    "INSERT OR REPLACE INTO load_errors (file, pipeline, errors, since) "
    "VALUES (?1, ?2, ?3, ?4)";
static const char SQL_CHECK_INSERT[] =
    "INSERT INTO trigger_checks (pipeline, trigger, target, checked_at, "
    "status, reason, detail, run_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_CHECK_UPDATE[] =
    "UPDATE trigger_checks SET status = ?2, reason = coalesce(?3, reason), "
    "run_id = ?4 WHERE id = ?1";
static const char SQL_CHECK_QUEUE[] =
    "UPDATE trigger_checks SET status = 'queued', reason = coalesce(?2, "
    "reason), fire = ?3 WHERE id = ?1";
static const char SQL_CHECKS_QUEUED[] =
    "SELECT id, pipeline, fire FROM trigger_checks WHERE status = 'queued' "
    "ORDER BY id";
static const char SQL_CHECK_LAST_FIRED[] =
    "SELECT checked_at, run_id FROM trigger_checks WHERE pipeline = ?1 AND "
    "status IN (?2, ?3) AND trigger <> 'manual' ORDER BY checked_at DESC, "
    "id DESC LIMIT 1";
static const char SQL_STATE_GET[] =
    "SELECT state FROM trigger_state WHERE pipeline = ?1 AND key = ?2";
static const char SQL_STATE_SET[] =
    "INSERT INTO trigger_state (pipeline, key, state, updated_at) VALUES "
    "(?1, ?2, ?3, ?4) ON CONFLICT (pipeline, key) DO UPDATE SET state = "
    "excluded.state, updated_at = excluded.updated_at";

int kiln_store_fire_record(kiln_store *st, const char *pipeline,
                           const char *schedule, int64_t due_ms,
                           kiln_fire_status status, const char *reason,
                           int64_t run_id, kiln_err *err)
{
    return kiln_store__run(st, err, "recording a fire", SQL_FIRE_INSERT,
                           "ssIssnI", pipeline, schedule, due_ms,
                           kiln_fire_status_name(status), reason, run_id,
                           kiln_now_ms());
}

int kiln_store_fire_last(kiln_store *st, int64_t *out_due_ms,
                         const char *pipeline, const char *schedule,
                         kiln_err *err)
{
    const char *what = "reading fires";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_FIRE_LAST, "ss",
                                        pipeline, schedule);
    *out_due_ms = 0;
    return s ? kiln_store__int(st, out_due_ms, s, 0, err, what)
             : KILN_ERROR;
}

int kiln_store_schedule_set(kiln_store *st, const char *pipeline,
                            const char *schedule, const char *timezone,
                            int64_t next_ms, kiln_err *err)
{
    return kiln_store__run(st, err, "recording a schedule",
                           SQL_SCHEDULE_SET, "sssII", pipeline, schedule,
                           timezone, next_ms, kiln_now_ms());
}

int kiln_store_schedule_clear(kiln_store *st, const char *pipeline,
                              kiln_err *err)
{
    return kiln_store__run(st, err, "clearing schedules", SQL_SCHEDULE_CLEAR,
                           "s", pipeline);
}

int kiln_store_load_errors_clear(kiln_store *st, kiln_err *err)
{
    return kiln_store__run(st, err, "clearing load errors",
                           SQL_LOAD_ERRORS_CLEAR, "");
}

int kiln_store_load_error_set(kiln_store *st, const char *file,
                              const char *pipeline, const char *errors,
                              int64_t since_ms, kiln_err *err)
{
    return kiln_store__run(st, err, "recording a load error",
                           SQL_LOAD_ERROR_SET, "sssI", file, pipeline,
                           errors, since_ms);
}

int kiln_store_check_record(kiln_store *st, int64_t *out_id,
                            const char *pipeline, const char *trigger,
                            const char *target, kiln_check_status status,
                            const char *reason, const char *detail,
                            int64_t run_id, kiln_err *err)
{
    int rc = kiln_store__run(st, err, "recording a trigger check",
                             SQL_CHECK_INSERT, "sssIsssn", pipeline, trigger,
                             target, kiln_now_ms(),
                             kiln_check_status_name(status), reason, detail,
                             run_id);
    if (rc == 0 && out_id)
        *out_id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

int kiln_store_check_update(kiln_store *st, int64_t id,
                            kiln_check_status status, const char *reason,
                            int64_t run_id, kiln_err *err)
{
    return kiln_store__run(st, err, "updating a trigger check",
                           SQL_CHECK_UPDATE, "Issn", id,
                           kiln_check_status_name(status), reason, run_id);
}

int kiln_store_check_queue(kiln_store *st, int64_t id, const char *reason,
                           const char *fire, kiln_err *err)
{
    return kiln_store__run(st, err, "queuing a trigger check",
                           SQL_CHECK_QUEUE, "Iss", id, reason, fire);
}

static void fill_queued(void *row, sqlite3_stmt *s)
{
    kiln_queued_check *c = row;
    c->id = sqlite3_column_int64(s, 0);
    c->pipeline = kiln_store__dup(s, 1);
    c->fire = kiln_store__dup(s, 2);
}

static void dispose_queued(void *row)
{
    kiln_queued_check *c = row;
    free(c->pipeline);
    free(c->fire);
}

int kiln_store_checks_queued(kiln_store *st, kiln_queued_check **out,
                             size_t *n, kiln_err *err)
{
    *out = NULL;
    *n = 0;
    return kiln_store__rows(st, out, n, sizeof(**out), fill_queued,
                            dispose_queued, err, "reading queued checks",
                            SQL_CHECKS_QUEUED, "");
}

void kiln_queued_checks_free(kiln_queued_check *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dispose_queued(&c[i]);
    free(c);
}

int kiln_store_check_last_fired(kiln_store *st, int64_t *out_ms,
                                int64_t *out_run, const char *pipeline,
                                kiln_err *err)
{
    const char *what = "reading trigger checks";
    sqlite3_stmt *s = kiln_store__query(
        st, err, what, SQL_CHECK_LAST_FIRED, "sss", pipeline,
        kiln_check_status_name(KILN_CHECK_FIRED),
        kiln_check_status_name(KILN_CHECK_QUEUED));
    int rc;
    *out_ms = 0;
    *out_run = 0;
    if (!s)
        return KILN_ERROR;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out_ms = sqlite3_column_int64(s, 0);
        *out_run = sqlite3_column_int64(s, 1);
    }
    return kiln_store__end(st, s, rc, err, what);
}

int kiln_store_trigger_state_get(kiln_store *st, char **out,
                                 const char *pipeline, const char *key,
                                 kiln_err *err)
{
    const char *what = "reading a trigger's state";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_STATE_GET, "ss",
                                        pipeline, key);
    int rc;
    *out = NULL;
    if (!s)
        return KILN_ERROR;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = kiln_store__dup(s, 0);
    return kiln_store__end(st, s, rc, err, what);
}

int kiln_store_trigger_state_set(kiln_store *st, const char *pipeline,
                                 const char *key, const char *state,
                                 kiln_err *err)
{
    return kiln_store__run(st, err, "saving a trigger's state",
                           SQL_STATE_SET, "sssI", pipeline, key, state,
                           kiln_now_ms());
}
