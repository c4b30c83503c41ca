/*
 * runs.c: runs, the states of their steps, and executions (one per
 * attempt); the typed record of a run (kiln_run_info); what crash
 * recovery needs (unfinished runs, adopting, abandoning).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes. */

static const char SQL_PIPELINE_UPSERT[] =
    "INSERT INTO pipelines (name, file, hash, updated_at) "
    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET "
    "file = excluded.file, hash = excluded.hash, "
    "updated_at = excluded.updated_at";
static const char SQL_RUN_INSERT[] =
    "INSERT INTO runs (pipeline, file, pipeline_hash, trigger, "
    "trigger_info, status, params, git_commit, git_branch, git_dirty, "
    "workdir, owner_pid, created_at, owner_start, reproduces, started_by) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?14, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
    "?15, ?16)";
static const char SQL_RUN_STEP_INSERT[] =
    "INSERT INTO run_steps (run_id, step, position, kind, status) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_RUN_STATE[] =
    "UPDATE runs SET status = ?2, reason = coalesce(?3, reason), "
    "started_at = CASE WHEN ?5 THEN coalesce(started_at, ?4) "
    "ELSE started_at END, "
    "finished_at = CASE WHEN ?6 THEN ?4 ELSE finished_at END WHERE id = ?1";
static const char SQL_STEP_STATE[] =
    "UPDATE run_steps SET status = ?3, attempts = ?4, reason = ?5, "
    "by_gate = ?7, "
    "started_at = CASE WHEN ?8 THEN coalesce(started_at, ?6) "
    "ELSE started_at END, "
    "finished_at = CASE WHEN ?9 THEN ?6 ELSE finished_at END "
    "WHERE run_id = ?1 AND step = ?2";
static const char SQL_EXEC_INSERT[] =
    "INSERT INTO executions (run_id, step, kind, attempt, status, "
    "started_at, log_path, executor, external_id, image, image_ref, "
    "key_doc) VALUES (?1, ?2, ?3, ?4, ?9, ?5, ?6, ?7, ?8, ?10, ?11, ?12)";
static const char SQL_CAPTURE_REFS[] =
    "INSERT OR IGNORE INTO capture_refs SELECT j.value, ?1 FROM "
    "json_each(?2, '$.environment') j WHERE j.type = 'text'";
static const char SQL_EXEC_EXTERNAL[] =
    "UPDATE executions SET external_id = ?2, started_at = ?3 WHERE id = ?1";
static const char SQL_EXEC_FINISH[] =
    "UPDATE executions SET status = ?2, exit_code = ?3, signal = ?4, "
    "reason = ?5, finished_at = ?6 WHERE id = ?1";
static const char SQL_RUN_ADOPT[] =
    "UPDATE runs SET owner_pid = ?2, owner_start = ?3 WHERE id = ?1 "
    "AND IFNULL(owner_pid, 0) = ?4 AND IFNULL(owner_start, 0) = ?5";
static const char SQL_ABANDON_EXECS[] =
    "UPDATE executions SET status = ?4, reason = ?2, finished_at = ?3 "
    "WHERE run_id = ?1 AND status = ?5";
static const char SQL_ABANDON_STEPS[] =
    "UPDATE run_steps SET status = ?4, reason = ?2, finished_at = ?3 "
    "WHERE run_id = ?1 AND finished_at IS NULL";
static const char SQL_ABANDON_RUN[] =
    "UPDATE runs SET status = ?4, reason = ?2, finished_at = ?3 "
    "WHERE id = ?1";

/* The effective params as a JSON object text (runs.params). */
static char *params_text(size_t n, const kiln_kv *kv)
{
    kiln_buf b = KILN_BUF_INIT;
    kiln_buf_puts(&b, "{");
    for (size_t i = 0; i < n; i++) {
        if (i)
            kiln_buf_puts(&b, ",");
        kiln_buf_json_string(&b, kv[i].key);
        kiln_buf_puts(&b, ":");
        kiln_buf_json_string(&b, kv[i].value ? kv[i].value : "");
    }
    kiln_buf_puts(&b, "}");
    return kiln_buf_detach(&b);
}

int kiln_store_run_create(kiln_store *st, int64_t *out_id,
                          const kiln_run_rec *rec, kiln_err *err)
{
    const char *what = "recording a run";
    int64_t now = kiln_now_ms(), id = 0;
    char *params = params_text(rec->n_params, rec->params);
    int rc;

    if ((rc = kiln_store__begin(st, err, what)) != 0)
        goto done;
    rc = kiln_store__run(st, err, what, SQL_PIPELINE_UPSERT, "sssI",
                         rec->pipeline, rec->file, rec->hash, now);
    if (rc == 0)
        rc = kiln_store__run(st, err, what, SQL_RUN_INSERT,
                             "ssssssssesIIIsns", rec->pipeline, rec->file,
                             rec->hash, rec->trigger, rec->trigger_info,
                             params, rec->git_commit, rec->git_branch,
                             rec->git_commit ? (int)rec->git_dirty : -1,
                             rec->workdir, (int64_t)getpid(), now,
                             (int64_t)kiln_proc_start(getpid()),
                             kiln_run_state_name(KILN_RUN_QUEUED),
                             rec->reproduces, rec->started_by);
    if (rc == 0)
        id = sqlite3_last_insert_rowid(st->db);
    for (size_t i = 0; rc == 0 && i < rec->n_steps; i++)
        rc = kiln_store__run(st, err, what, SQL_RUN_STEP_INSERT, "IsIss", id,
                             rec->step_names[i], (int64_t)i,
                             rec->step_kinds[i],
                             kiln_step_state_name(KILN_STEP_PENDING));
    if (rc == 0 && rec->started_by) {
        char target[48];
        kiln_buf after = KILN_BUF_INIT;
        snprintf(target, sizeof(target), "run %lld", (long long)id);
        kiln_buf_puts(&after, "{\"pipeline\":");
        kiln_buf_json_string(&after, rec->pipeline);
        kiln_buf_puts(&after, ",\"trigger\":");
        kiln_buf_json_string(&after, rec->trigger);
        if (rec->reproduces > 0)
            kiln_buf_printf(&after, ",\"reproduces\":%lld",
                            (long long)rec->reproduces);
        if (rec->retry_of > 0)
            kiln_buf_printf(&after, ",\"retry_of\":%lld",
                            (long long)rec->retry_of);
        kiln_buf_puts(&after, "}");
        rc = kiln_store_audit(st, rec->started_by, rec->started_via,
                              rec->retry_of > 0 ? "run.retried"
                                                : "run.started",
                              target, NULL, kiln_buf_cstr(&after), err);
        kiln_buf_dispose(&after);
    }
    if (rc != 0) {
        kiln_store__rollback(st);
        goto done;
    }
    if ((rc = kiln_store__commit(st, err, what)) == 0)
        *out_id = id;
done:
    free(params);
    return rc;
}

int kiln_store_run_set_state(kiln_store *st, int64_t run_id,
                             kiln_run_state state, const char *reason,
                             kiln_err *err)
{
    return kiln_store__run(st, err, "recording a run's state",
                           SQL_RUN_STATE, "IssIbb", run_id,
                           kiln_run_state_name(state), reason, kiln_now_ms(),
                           state == KILN_RUN_RUNNING,
                           kiln_run_state_final(state));
}

int kiln_store_step_set_state(kiln_store *st, int64_t run_id,
                              const char *step, kiln_step_state state,
                              int attempts, const char *reason,
                              bool by_gate, int64_t at_ms, kiln_err *err)
{
    return kiln_store__run(st, err, "recording a step's state",
                           SQL_STEP_STATE, "IssisIbbb", run_id, step,
                           kiln_step_state_name(state), attempts, reason,
                           at_ms > 0 ? at_ms : kiln_now_ms(), by_gate,
                           state == KILN_STEP_RUNNING,
                           kiln_step_state_final(state));
}

int kiln_store_step_gate(kiln_store *st, int64_t run_id, const char *step,
                         const char *doc, kiln_err *err)
{
    return kiln_store__run(st, err, "recording a step's gate",
                           "UPDATE run_steps SET gate = ?3 WHERE run_id = ?1 "
                           "AND step = ?2", "Iss", run_id, step, doc);
}

int kiln_store_exec_start(kiln_store *st, int64_t *out_id,
                          const kiln_exec_rec *rec, kiln_err *err)
{
    int rc = kiln_store__run(st, err, "recording a step execution",
                             SQL_EXEC_INSERT, "IssiIssssss" "s", rec->run_id,
                             rec->step, rec->kind, rec->attempt,
                             rec->started_ms, rec->log_path, rec->executor,
                             rec->external_id,
                             kiln_exec_state_name(KILN_EXEC_RUNNING),
                             rec->image, rec->image_ref, rec->key_doc);
    if (rc == 0)
        *out_id = sqlite3_last_insert_rowid(st->db);
    /* The environment captures its key names (stored by hash). */
    if (rc == 0 && rec->key_doc &&
        strstr(rec->key_doc, "\"environment\":{\""))
        rc = kiln_store__run(st, err, "recording a step execution",
                             SQL_CAPTURE_REFS, "Is", *out_id, rec->key_doc);
    return rc;
}

int kiln_store_exec_set_external(kiln_store *st, int64_t exec_id,
                                 const char *external_id,
                                 int64_t started_ms, kiln_err *err)
{
    return kiln_store__run(st, err, "recording a step's process",
                           SQL_EXEC_EXTERNAL, "IsI", exec_id, external_id,
                           started_ms);
}

int kiln_store_exec_finish(kiln_store *st, int64_t exec_id,
                           kiln_exec_state state, int exit_code, int signal,
                           const char *reason, int64_t finished_ms,
                           kiln_err *err)
{
    return kiln_store__run(st, err, "recording the end of a step execution",
                           SQL_EXEC_FINISH, "IsensI", exec_id,
                           kiln_exec_state_name(state), exit_code,
                           (int64_t)signal, reason, finished_ms);
}

int kiln_store_run_adopt(kiln_store *st, const kiln_run_info *run,
                         kiln_err *err)
{
    int rc = kiln_store__run(st, err, "adopting a run", SQL_RUN_ADOPT,
                             "IIIII", run->id, (int64_t)getpid(),
                             (int64_t)kiln_proc_start(getpid()),
                             (int64_t)run->owner_pid,
                             (int64_t)run->owner_start);
    if (rc == 0 && sqlite3_changes(st->db) == 0)
        return kiln_err_set(err, KILN_EBUSY, "run %lld was taken over by "
                            "another kiln process meanwhile",
                            (long long)run->id);
    return rc;
}

int kiln_store_run_abandon(kiln_store *st, int64_t run_id,
                           const char *reason, kiln_err *err)
{
    const char *what = "abandoning a run";
    int64_t now = kiln_now_ms();
    int rc;

    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    if ((rc = kiln_store__run(st, err, what, SQL_ABANDON_EXECS, "IsIss",
                              run_id, reason, now,
                              kiln_exec_state_name(KILN_EXEC_LOST),
                              kiln_exec_state_name(KILN_EXEC_RUNNING))) != 0 ||
        (rc = kiln_store__run(st, err, what, SQL_ABANDON_STEPS, "IsIs",
                              run_id, reason, now,
                              kiln_step_state_name(KILN_STEP_CANCELLED))) !=
            0 ||
        (rc = kiln_store__run(st, err, what, SQL_ABANDON_RUN, "IsIs", run_id,
                              reason, now,
                              kiln_run_state_name(KILN_RUN_FAILED))) != 0) {
        kiln_store__rollback(st);
        return rc;
    }
    return kiln_store__commit(st, err, what);
}

/* The typed record. */

static const char SQL_RUN_GET[] =
    "SELECT id, pipeline, file, pipeline_hash, trigger, trigger_info, "
    "status, reason, git_commit, git_branch, git_dirty, workdir, "
    "created_at, started_at, finished_at, owner_pid, owner_start, "
    "started_by FROM runs WHERE id = ?1";
static const char SQL_RUN_PARAMS[] =
    "SELECT key, value FROM json_each((SELECT params FROM runs "
    "WHERE id = ?1))";
static const char SQL_RUN_STEPS[] =
    "SELECT step, kind, status, attempts, reason, started_at, "
    "finished_at, by_gate, gate FROM run_steps WHERE run_id = ?1 "
    "ORDER BY position";
static const char SQL_RUN_EXECS[] =
    "SELECT id, step, attempt, status, exit_code, signal, reason, "
    "started_at, finished_at, log_path, executor, external_id, "
    "cached_from, (SELECT run_id FROM executions c WHERE c.id = "
    "executions.cached_from) FROM executions WHERE run_id = ?1 "
    "ORDER BY step, attempt";

/* The record and the arena holding all of it. */
typedef struct run_alloc {
    kiln_run_info info;
    kiln_arena *arena;
} run_alloc;

static const char *col(kiln_arena *a, sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? kiln_arena_strdup(a, (const char *)t) : NULL;
}

static int64_t col_int(sqlite3_stmt *s, int i, int64_t def)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL
               ? def : sqlite3_column_int64(s, i);
}

/* The rows of one statement bound to the run's id, counted first (so the
 * arrays are allocated once) then read by fill. */
static int read_rows(kiln_store *st, const char *sql, int64_t id,
                     void (*fill)(run_alloc *, sqlite3_stmt *, size_t),
                     run_alloc *r, size_t *n, kiln_err *err)
{
    const char *what = "reading a run";
    sqlite3_stmt *s = kiln_store__stmt(st, sql, err, what);
    int rc;
    *n = 0;
    if (!s)
        return KILN_ERROR;
    sqlite3_bind_int64(s, 1, id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        fill(r, s, (*n)++);
    return kiln_store__end(st, s, rc, err, what);
}

static void fill_param(run_alloc *r, sqlite3_stmt *s, size_t i)
{
    kiln_kv *kv = (kiln_kv *)r->info.params;
    if (!kv)
        return; /* counting */
    kv[i].key = col(r->arena, s, 0);
    kv[i].value = col(r->arena, s, 1);
    if (!kv[i].value)
        kv[i].value = "";
}

static void fill_step(run_alloc *r, sqlite3_stmt *s, size_t i)
{
    kiln_step_info *step = (kiln_step_info *)r->info.steps;
    if (!step)
        return;
    step += i;
    step->name = col(r->arena, s, 0);
    step->kind = col(r->arena, s, 1);
    kiln_step_state_parse(&step->state,
                          (const char *)sqlite3_column_text(s, 2));
    step->attempts = (int)col_int(s, 3, 0);
    step->reason = col(r->arena, s, 4);
    step->started_ms = col_int(s, 5, 0);
    step->finished_ms = col_int(s, 6, 0);
    step->by_gate = col_int(s, 7, 0) != 0;
    step->gate = col(r->arena, s, 8);
}

static void fill_attempt(run_alloc *r, sqlite3_stmt *s, size_t i)
{
    const char *name = (const char *)sqlite3_column_text(s, 1);
    kiln_step_info *step = (kiln_step_info *)kiln_run_info_step(&r->info,
                                                                name);
    kiln_attempt_info *a;
    if (!step || !step->attempt)
        return; /* counting, or a step no longer in the run */
    (void)i;
    a = (kiln_attempt_info *)&step->attempt[step->n_attempts++];
    a->id = sqlite3_column_int64(s, 0);
    a->attempt = (int)col_int(s, 2, 0);
    kiln_exec_state_parse(&a->state, (const char *)sqlite3_column_text(s,
                                                                       3));
    a->exit_code = (int)col_int(s, 4, -1);
    a->signal = (int)col_int(s, 5, 0);
    a->reason = col(r->arena, s, 6);
    a->started_ms = col_int(s, 7, 0);
    a->finished_ms = col_int(s, 8, 0);
    a->log_path = col(r->arena, s, 9);
    a->executor = col(r->arena, s, 10);
    a->external_id = col(r->arena, s, 11);
    a->cached_from = col_int(s, 12, 0);
    a->cached_from_run = col_int(s, 13, 0);
}

/* Count each step's attempts, to size their arrays. */
static void count_attempt(run_alloc *r, sqlite3_stmt *s, size_t i)
{
    const char *name = (const char *)sqlite3_column_text(s, 1);
    kiln_step_info *step = (kiln_step_info *)kiln_run_info_step(&r->info,
                                                                name);
    (void)i;
    if (step)
        step->n_attempts++;
}

int kiln_store_run_get(kiln_run_info **out, kiln_store *st, int64_t id,
                       kiln_err *err)
{
    const char *what = "reading a run";
    sqlite3_stmt *s = kiln_store__stmt(st, SQL_RUN_GET, err, what);
    kiln_run_info *run;
    run_alloc *r;
    size_t n;
    int rc;

    *out = NULL;
    if (!s)
        return KILN_ERROR;
    sqlite3_bind_int64(s, 1, id);
    if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
        kiln_store__end(st, s, rc, err, what);
        if (rc != SQLITE_DONE)
            return err ? err->code : KILN_ERROR;
        return kiln_err_set(err, KILN_ENOTFOUND, "no run %lld in %s",
                            (long long)id, st->path);
    }
    r = kiln_calloc(1, sizeof(*r));
    r->arena = kiln_arena_new();
    run = &r->info;
    run->id = sqlite3_column_int64(s, 0);
    run->pipeline = col(r->arena, s, 1);
    run->file = col(r->arena, s, 2);
    run->hash = col(r->arena, s, 3);
    run->trigger = col(r->arena, s, 4);
    run->trigger_info = col(r->arena, s, 5);
    kiln_run_state_parse(&run->state,
                         (const char *)sqlite3_column_text(s, 6));
    run->reason = col(r->arena, s, 7);
    run->git_commit = col(r->arena, s, 8);
    run->git_branch = col(r->arena, s, 9);
    run->git_dirty = col_int(s, 10, 0) != 0;
    run->workdir = col(r->arena, s, 11);
    run->created_ms = col_int(s, 12, 0);
    run->started_ms = col_int(s, 13, 0);
    run->finished_ms = col_int(s, 14, 0);
    run->owner_pid = (pid_t)col_int(s, 15, 0);
    run->owner_start = (uint64_t)col_int(s, 16, 0);
    run->started_by = col(r->arena, s, 17);
    kiln_store__end(st, s, SQLITE_DONE, err, what);

    /* Each list twice: counted, then read into arrays of that size. */
    if ((rc = read_rows(st, SQL_RUN_PARAMS, id, fill_param, r, &n,
                        err)) != 0)
        goto fail;
    run->params = kiln_arena_alloc(r->arena, (n ? n : 1) * sizeof(kiln_kv));
    if ((rc = read_rows(st, SQL_RUN_PARAMS, id, fill_param, r,
                        &run->n_params, err)) != 0 ||
        (rc = read_rows(st, SQL_RUN_STEPS, id, fill_step, r, &n,
                        err)) != 0)
        goto fail;
    run->steps = kiln_arena_alloc(r->arena,
                                  (n ? n : 1) * sizeof(kiln_step_info));
    if ((rc = read_rows(st, SQL_RUN_STEPS, id, fill_step, r, &run->n_steps,
                        err)) != 0 ||
        (rc = read_rows(st, SQL_RUN_EXECS, id, count_attempt, r, &n,
                        err)) != 0)
        goto fail;
    for (size_t i = 0; i < run->n_steps; i++) {
        kiln_step_info *step = (kiln_step_info *)&run->steps[i];
        step->attempt = kiln_arena_alloc(r->arena,
                                         (step->n_attempts ? step->n_attempts
                                                           : 1) *
                                             sizeof(kiln_attempt_info));
        step->n_attempts = 0;
    }
    if ((rc = read_rows(st, SQL_RUN_EXECS, id, fill_attempt, r, &n,
                        err)) != 0)
        goto fail;
    *out = run;
    return 0;
fail:
    kiln_run_info_free(run);
    return rc;
}

void kiln_run_info_free(kiln_run_info *run)
{
    run_alloc *r = (run_alloc *)run;
    if (!r)
        return;
    kiln_arena_free(r->arena);
    free(r);
}

const kiln_step_info *kiln_run_info_step(const kiln_run_info *run,
                                         const char *name)
{
    for (size_t i = 0; name && run->steps && i < run->n_steps; i++)
        if (run->steps[i].name && strcmp(run->steps[i].name, name) == 0)
            return &run->steps[i];
    return NULL;
}

const kiln_attempt_info *kiln_step_info_last(const kiln_step_info *step)
{
    return step->n_attempts ? &step->attempt[step->n_attempts - 1] : NULL;
}

bool kiln_run_info_orphaned(const kiln_run_info *run)
{
    return !kiln_run_state_final(run->state) &&
           (run->owner_pid <= 0 || !run->owner_start ||
            kiln_proc_start(run->owner_pid) != run->owner_start);
}

/* What recovery reads. */

static const char SQL_UNFINISHED[] =
    "SELECT id, owner_pid, owner_start FROM runs "
    "WHERE finished_at IS NULL ORDER BY id";
static const char SQL_LOG_PATH[] =
    "SELECT log_path, attempt FROM executions WHERE run_id = ?1 AND "
    "step = ?2 AND (?3 = 0 OR attempt = ?3) ORDER BY attempt DESC LIMIT 1";

static void fill_owner(void *row, sqlite3_stmt *s)
{
    kiln_run_owner *o = row;
    o->id = sqlite3_column_int64(s, 0);
    o->pid = (pid_t)col_int(s, 1, 0);
    o->start = (uint64_t)col_int(s, 2, 0);
}

int kiln_store_unfinished_runs(kiln_run_owner **out, size_t *n,
                               kiln_store *st, kiln_err *err)
{
    return kiln_store__rows(st, out, n, sizeof(**out), fill_owner, NULL,
                            err, "reading unfinished runs", SQL_UNFINISHED,
                            "");
}

int kiln_store_log_path(kiln_store *st, char **out, int64_t run_id,
                        const char *step, int attempt, kiln_err *err)
{
    const char *what = "querying";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_LOG_PATH, "Isi",
                                        run_id, step, attempt);
    int rc;
    *out = NULL;
    if (!s)
        return KILN_ERROR;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = kiln_store__dup(s, 0);
    if ((rc = kiln_store__end(st, s, rc, err, what)) != 0)
        return rc;
    if (*out)
        return 0;
    if (attempt > 0)
        return kiln_err_set(err, KILN_ENOTFOUND, "run %lld has no attempt "
                            "%d of step \"%s\"", (long long)run_id, attempt,
                            step);
    return kiln_err_set(err, KILN_ENOTFOUND, "run %lld has no log for step "
                        "\"%s\"", (long long)run_id, step);
}
