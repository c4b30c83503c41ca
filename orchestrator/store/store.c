/*
 * store.c: kiln.db, SQLite in WAL mode.
 *
 * SQLite's result codes are translated here and nowhere else: everything
 * outside this file sees kiln_err.
 */
#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long a writer waits for another kiln process before giving up. */
#define BUSY_TIMEOUT_MS 10000

/*
 * Migrations: migrations[i] moves a database from version i to i + 1. Never
 * edit a released entry; append a new one.
 */
static const char *const migrations[] = {
    /* 0 -> 1: pipelines, runs, steps of runs, step executions. */
    "CREATE TABLE pipelines ("
    "  name TEXT PRIMARY KEY,"
    "  file TEXT NOT NULL,"
    "  hash TEXT NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY,"
    "  pipeline TEXT NOT NULL,"
    "  file TEXT NOT NULL,"
    "  pipeline_hash TEXT NOT NULL,"
    "  trigger TEXT NOT NULL,"
    "  trigger_info TEXT,"
    "  status TEXT NOT NULL,"
    "  reason TEXT,"
    "  params TEXT NOT NULL DEFAULT '{}',"
    "  git_commit TEXT,"
    "  git_branch TEXT,"
    "  git_dirty INTEGER,"
    "  workdir TEXT,"
    "  owner_pid INTEGER,"
    "  created_at INTEGER NOT NULL,"
    "  started_at INTEGER,"
    "  finished_at INTEGER);"
    "CREATE INDEX runs_by_pipeline ON runs(pipeline, id);"
    "CREATE INDEX runs_by_status ON runs(status);"
    "CREATE TABLE run_steps ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id),"
    "  step TEXT NOT NULL,"
    "  position INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  reason TEXT,"
    "  started_at INTEGER,"
    "  finished_at INTEGER,"
    "  PRIMARY KEY (run_id, step));"
    "CREATE TABLE executions ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),"
    "  step TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  attempt INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"
    "  exit_code INTEGER,"
    "  signal INTEGER,"
    "  reason TEXT,"
    "  started_at INTEGER NOT NULL,"
    "  finished_at INTEGER,"
    "  log_path TEXT NOT NULL,"
    "  executor TEXT NOT NULL,"
    "  external_id TEXT,"
    "  UNIQUE (run_id, step, attempt));",
    /* 1 -> 2: the daemon's schedules and fires; who runs a run. */
    "CREATE TABLE schedules ("
    "  pipeline TEXT NOT NULL,"
    "  schedule TEXT NOT NULL,"
    "  timezone TEXT NOT NULL,"
    "  next_due INTEGER,"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (pipeline, schedule));"
    "CREATE TABLE fires ("
    "  id INTEGER PRIMARY KEY,"
    "  pipeline TEXT NOT NULL,"
    "  schedule TEXT NOT NULL,"
    "  due_at INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"
    "  reason TEXT,"
    "  run_id INTEGER,"
    "  recorded_at INTEGER NOT NULL);"
    "CREATE INDEX fires_by_schedule ON fires(pipeline, schedule, due_at);"
    "ALTER TABLE runs ADD COLUMN owner_start INTEGER;",
    /* 2 -> 3: artifacts and the events linking them to executions (ML
     * Metadata's model; a run is the context of its executions). */
    "CREATE TABLE artifacts ("
    "  id INTEGER PRIMARY KEY,"
    "  path TEXT NOT NULL,"
    "  sha256 TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  type TEXT NOT NULL,"
    "  is_dir INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  UNIQUE (path, sha256));"
    "CREATE INDEX artifacts_by_sha ON artifacts(sha256);"
    "CREATE TABLE events ("
    "  execution_id INTEGER NOT NULL REFERENCES executions(id),"
    "  artifact_id INTEGER NOT NULL REFERENCES artifacts(id),"
    "  type TEXT NOT NULL,"
    "  PRIMARY KEY (execution_id, artifact_id, type));"
    "CREATE INDEX events_by_artifact ON events(artifact_id, type);",
    /* 3 -> 4: metrics, per execution. */
    "CREATE TABLE metrics ("
    "  execution_id INTEGER NOT NULL REFERENCES executions(id),"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),"
    "  step TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  value REAL NOT NULL,"
    "  PRIMARY KEY (execution_id, key));"
    "CREATE INDEX metrics_by_run ON metrics(run_id);"
    "CREATE INDEX metrics_by_key ON metrics(key, run_id);",
    /* 4 -> 5: the model registry. An alias's history is its rows; the
     * newest row not rolled back is where it points. */
    "CREATE TABLE models ("
    "  name TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  artifact_id INTEGER NOT NULL REFERENCES artifacts(id),"
    "  run_id INTEGER REFERENCES runs(id),"
    "  execution_id INTEGER REFERENCES executions(id),"
    "  git_commit TEXT,"
    "  metrics TEXT NOT NULL DEFAULT '{}',"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (name, version));"
    "CREATE TABLE model_aliases ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  alias TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  set_at INTEGER NOT NULL,"
    "  rolled_back INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX model_aliases_by_name ON model_aliases(name, alias, id);",
    /* 5 -> 6: step caching. */
    "ALTER TABLE executions ADD COLUMN cache_key TEXT;"
    "ALTER TABLE executions ADD COLUMN cached_from INTEGER;"
    "CREATE INDEX executions_by_cache_key ON executions(cache_key);"
    "CREATE TABLE cache_outputs ("
    "  execution_id INTEGER NOT NULL REFERENCES executions(id),"
    "  rel_path TEXT NOT NULL,"
    "  sha256 TEXT NOT NULL,"
    "  PRIMARY KEY (execution_id, rel_path));",
    /* 6 -> 7: triggers (kiln serve): every check with what it saw, and
     * what each trigger remembers between checks (files seen, the last
     * commit...), so a restart neither misses nor repeats a change. */
    "CREATE TABLE trigger_checks ("
    "  id INTEGER PRIMARY KEY,"
    "  pipeline TEXT NOT NULL,"
    "  trigger TEXT NOT NULL,"
    "  target TEXT,"
    "  checked_at INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"
    "  reason TEXT,"
    "  detail TEXT,"
    "  run_id INTEGER);"
    "CREATE INDEX trigger_checks_by_pipeline ON "
    "  trigger_checks(pipeline, checked_at);"
    "CREATE INDEX trigger_checks_by_status ON "
    "  trigger_checks(pipeline, status, checked_at);"
    "CREATE TABLE trigger_state ("
    "  pipeline TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (pipeline, key));",
    /* 7 -> 8: the web API pages runs by status, with or without a
     * pipeline, newest first. */
    "CREATE INDEX runs_by_status_id ON runs(status, id);"
    "CREATE INDEX runs_by_pipeline_status ON runs(pipeline, status, id);",
    /* 8 -> 9: notifications sent (or not) about runs and triggers. */
    "CREATE TABLE notifications ("
    "  id INTEGER PRIMARY KEY,"
    "  pipeline TEXT NOT NULL,"
    "  run_id INTEGER,"
    "  event TEXT NOT NULL,"
    "  url TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL,"
    "  http_status INTEGER,"
    "  error TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  finished_at INTEGER);"
    "CREATE INDEX notifications_by_run ON notifications(run_id);",
};

/* Prepared statements, compiled once per open store. */
enum {
    Q_PIPELINE_UPSERT,
    Q_RUN_INSERT,
    Q_RUN_STEP_INSERT,
    Q_RUN_STATUS,
    Q_STEP_STATUS,
    Q_EXEC_INSERT,
    Q_EXEC_FINISH,
    Q_EXEC_EXTERNAL,
    Q_FIRE_INSERT,
    Q_FIRE_LAST,
    Q_SCHEDULE_SET,
    Q_DATA_VERSION,
    Q_COUNT
};

static const char *const queries[Q_COUNT] = {
    [Q_PIPELINE_UPSERT] =
        "INSERT INTO pipelines (name, file, hash, updated_at) "
        "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET "
        "file = excluded.file, hash = excluded.hash, "
        "updated_at = excluded.updated_at",
    [Q_RUN_INSERT] =
        "INSERT INTO runs (pipeline, file, pipeline_hash, trigger, "
        "trigger_info, status, params, git_commit, git_branch, git_dirty, "
        "workdir, owner_pid, created_at, owner_start) VALUES (?1, ?2, ?3, "
        "?4, ?5, 'queued', ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [Q_RUN_STEP_INSERT] =
        "INSERT INTO run_steps (run_id, step, position, kind, status) "
        "VALUES (?1, ?2, ?3, ?4, 'pending')",
    [Q_RUN_STATUS] =
        "UPDATE runs SET status = ?2, reason = coalesce(?3, reason), "
        "started_at = CASE WHEN ?2 = 'running' THEN coalesce(started_at, ?4)"
        " ELSE started_at END, "
        "finished_at = CASE WHEN ?2 IN ('succeeded', 'failed', 'cancelled')"
        " THEN ?4 ELSE finished_at END WHERE id = ?1",
    [Q_STEP_STATUS] =
        "UPDATE run_steps SET status = ?3, attempts = ?4, "
        "reason = ?5, "
        "started_at = CASE WHEN ?3 = 'running' THEN coalesce(started_at, ?6)"
        " ELSE started_at END, "
        "finished_at = CASE WHEN ?3 IN ('succeeded', 'failed', 'skipped', "
        "'cancelled', 'gated') THEN ?6 ELSE finished_at END "
        "WHERE run_id = ?1 AND step = ?2",
    [Q_EXEC_INSERT] =
        "INSERT INTO executions (run_id, step, kind, attempt, status, "
        "started_at, log_path, executor, external_id) VALUES (?1, ?2, ?3, "
        "?4, 'running', ?5, ?6, ?7, ?8)",
    [Q_EXEC_FINISH] =
        "UPDATE executions SET status = ?2, exit_code = ?3, signal = ?4, "
        "reason = ?5, finished_at = ?6 WHERE id = ?1",
    [Q_EXEC_EXTERNAL] =
        "UPDATE executions SET external_id = ?2, started_at = ?3 "
        "WHERE id = ?1",
    [Q_FIRE_INSERT] =
        "INSERT INTO fires (pipeline, schedule, due_at, status, reason, "
        "run_id, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_FIRE_LAST] =
        "SELECT max(due_at) FROM fires WHERE pipeline = ?1 AND "
        "(?2 IS NULL OR schedule = ?2)",
    [Q_DATA_VERSION] = "PRAGMA data_version",
    [Q_SCHEDULE_SET] =
        "INSERT INTO schedules (pipeline, schedule, timezone, next_due, "
        "updated_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (pipeline, "
        "schedule) DO UPDATE SET timezone = excluded.timezone, "
        "next_due = excluded.next_due, updated_at = excluded.updated_at",
};

_Static_assert(KILN_ARRAY_SIZE(migrations) == KILN_STORE_SCHEMA,
               "one migration per schema version");

struct kiln_store {
    sqlite3 *db;
    uint64_t data_version;   /* PRAGMA data_version, last looked at */
    char *path;
    bool readonly;           /* opened for reading only */
    bool patient;            /* wait for a lock as long as it takes */
    int busy_limit_ms;       /* how long a write waits, when not patient */
    int64_t busy_since;      /* monotonic ms of the current wait (0: none) */
    int64_t busy_said;       /* ...when it was last said */
    int depth;               /* transactions open (nested: savepoints) */
    sqlite3_stmt *stmt[Q_COUNT];
};

/* Turn a SQLite failure into a kiln_err naming what was being done. */
static int db_error(kiln_store *st, int rc, kiln_err *err, const char *what)
{
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return kiln_err_set(err, KILN_EBUSY,
                            "%s: database %s stayed locked by another "
                            "process (a program holding a write "
                            "transaction, or another kiln) for %d s", what,
                            st->path, st->busy_limit_ms / 1000);
    if ((rc & 0xff) == SQLITE_FULL)
        return kiln_err_set(err, KILN_ERROR, "%s: %s: the disk is full",
                            what, st->path);
    return kiln_err_set(err, KILN_ERROR, "%s: %s: %s", what, st->path,
                        st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
}

static int exec_sql(kiln_store *st, const char *sql, kiln_err *err,
                    const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
    sqlite3_free(msg);
    return rc == SQLITE_OK ? 0 : db_error(st, rc, err, what);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * SQLite's busy handler: another connection holds the write lock. Wait
 * in short sleeps up to busy_limit_ms, or, once a run is being recorded
 * (patient), as long as it takes, saying so every 10 s: a state change
 * that happened is recorded late with its real time, never dropped.
 */
static int on_busy(void *data, int count)
{
    kiln_store *st = data;
    int64_t now = mono_ms(), waited;
    if (count == 0 || !st->busy_since)
        st->busy_since = st->busy_said = now;
    waited = now - st->busy_since;
    if (!st->patient && waited >= st->busy_limit_ms) {
        st->busy_since = 0;
        return 0;
    }
    if (st->patient && now - st->busy_said >= 10000) {
        st->busy_said = now;
        fprintf(stderr, "kiln: warning: database %s is locked by another "
                "process (%lld s so far); waiting to record (the real "
                "times are kept)\n", st->path, (long long)(waited / 1000));
    }
    sqlite3_sleep(count < 10 ? 2 : count < 50 ? 10 : 50);
    return 1;
}

/* Transactions. The outermost is BEGIN IMMEDIATE (the write lock at
 * once, so a busy wait happens here and not half-way); nested ones are
 * savepoints, so a function that records several rows can be part of a
 * larger change made by its caller. */
static int tx_begin(kiln_store *st, kiln_err *err, const char *what)
{
    char sql[32];
    int rc;
    if (st->depth == 0)
        rc = exec_sql(st, "BEGIN IMMEDIATE", err, what);
    else {
        snprintf(sql, sizeof(sql), "SAVEPOINT s%d", st->depth);
        rc = exec_sql(st, sql, err, what);
    }
    st->busy_since = 0;
    if (rc == 0)
        st->depth++;
    return rc;
}

static void tx_rollback(kiln_store *st)
{
    char sql[48];
    if (st->depth == 0)
        return;
    if (--st->depth == 0) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return;
    }
    snprintf(sql, sizeof(sql), "ROLLBACK TO s%d; RELEASE s%d", st->depth,
             st->depth);
    sqlite3_exec(st->db, sql, NULL, NULL, NULL);
}

static int tx_commit(kiln_store *st, kiln_err *err, const char *what)
{
    char sql[32];
    int rc;
    if (st->depth > 1)
        snprintf(sql, sizeof(sql), "RELEASE s%d", st->depth - 1);
    else
        snprintf(sql, sizeof(sql), "COMMIT");
    if ((rc = exec_sql(st, sql, err, what)) != 0) {
        tx_rollback(st);
        return rc;
    }
    st->depth--;
    return 0;
}

int kiln_store_begin(kiln_store *st, kiln_err *err)
{
    return tx_begin(st, err, "recording");
}

int kiln_store_commit(kiln_store *st, kiln_err *err)
{
    return tx_commit(st, err, "recording");
}

void kiln_store_rollback(kiln_store *st)
{
    tx_rollback(st);
}

void kiln_store_set_patient(kiln_store *st, bool patient)
{
    st->patient = patient;
}

/* The schema version: the highest migration recorded in schema_version,
 * 0 for a new database. */
static int schema_version(kiln_store *st, int *out, kiln_err *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT count(*) FROM sqlite_schema "
                                "WHERE name = 'schema_version'", -1, &s,
                                NULL);
    *out = 0;
    if (rc != SQLITE_OK)
        return db_error(st, rc, err, "reading the schema version");
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_int(s, 0) == 1) {
        sqlite3_finalize(s);
        rc = sqlite3_prepare_v2(st->db, "SELECT coalesce(max(version), 0) "
                                "FROM schema_version", -1, &s, NULL);
        if (rc != SQLITE_OK)
            return db_error(st, rc, err, "reading the schema version");
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            *out = sqlite3_column_int(s, 0);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : db_error(st, rc, err,
                                           "reading the schema version");
}

/* Bring the schema up to KILN_STORE_SCHEMA. An up-to-date database is
 * only read; otherwise the migrations run in one IMMEDIATE transaction, so
 * two processes never migrate at once, each recorded in schema_version. */
static int migrate(kiln_store *st, kiln_err *err)
{
    int version, rc;
    if ((rc = schema_version(st, &version, err)) != 0)
        return rc;
    if (version == KILN_STORE_SCHEMA)
        return 0;
    if ((rc = tx_begin(st, err, "migrating")) != 0)
        return rc;
    if ((rc = schema_version(st, &version, err)) != 0)
        goto fail;
    if (version > KILN_STORE_SCHEMA) {
        rc = kiln_err_set(err, KILN_ERROR, "database %s has schema version "
                          "%d, newer than this kiln (%d): upgrade kiln",
                          st->path, version, KILN_STORE_SCHEMA);
        goto fail;
    }
    rc = exec_sql(st, "CREATE TABLE IF NOT EXISTS schema_version ("
                  "  version INTEGER PRIMARY KEY,"
                  "  applied_at INTEGER NOT NULL)", err, "migrating");
    if (rc != 0)
        goto fail;
    for (; version < KILN_STORE_SCHEMA; version++) {
        char sql[128];
        if ((rc = exec_sql(st, migrations[version], err, "migrating")) != 0)
            goto fail;
        snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES "
                 "(%d, %lld)", version + 1, (long long)kiln_now_ms());
        if ((rc = exec_sql(st, sql, err, "migrating")) != 0)
            goto fail;
    }
    return tx_commit(st, err, "migrating");
fail:
    tx_rollback(st);
    return rc;
}

/* Switch to WAL. Several processes opening a new database at once may
 * find it locked by another one's switch, which SQLite reports at once
 * rather than through the busy handler: retry for the busy timeout. */
static int set_wal(kiln_store *st, kiln_err *err)
{
    for (int waited = 0;; waited += 10) {
        int rc = sqlite3_exec(st->db, "PRAGMA journal_mode = WAL", NULL,
                              NULL, NULL);
        if (rc == SQLITE_OK)
            return 0;
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) ||
            waited >= st->busy_limit_ms)
            return db_error(st, rc, err, "opening the database");
        sqlite3_sleep(10);
    }
}

/* How long a write waits for a lock: KILN_BUSY_TIMEOUT seconds, else
 * 10 s. */
static int busy_limit_ms(void)
{
    const char *env = getenv("KILN_BUSY_TIMEOUT");
    char *end;
    double s = env ? strtod(env, &end) : 0;
    if (!env || end == env || *end || s < 0 || s > 86400)
        return BUSY_TIMEOUT_MS;
    return (int)(s * 1000);
}

/*
 * Open for reading only: nothing is written, not even the WAL switch or a
 * migration, so reads work on a full disk or a read-only state directory.
 * A WAL database whose -shm file cannot be made (a read-only directory or
 * a full disk, and no kiln has it open) is read as immutable: with no
 * -wal file, or an empty one, there is nothing else to read.
 */
static int open_readonly(kiln_store *st, kiln_err *err)
{
    int version, rc;
    char *wal = kiln_asprintf("%s-wal", st->path), *uri;
    struct stat sb;
    rc = sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READONLY |
                         SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(st->db, "SELECT count(*) FROM sqlite_schema",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK && (stat(wal, &sb) != 0 || sb.st_size == 0)) {
        sqlite3_close(st->db);
        st->db = NULL;
        uri = sqlite3_mprintf("file:%s?immutable=1", st->path);
        rc = sqlite3_open_v2(uri, &st->db, SQLITE_OPEN_READONLY |
                             SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, NULL);
        sqlite3_free(uri);
    }
    free(wal);
    if (rc != SQLITE_OK)
        return db_error(st, rc, err, "opening the database to read");
    sqlite3_busy_handler(st->db, on_busy, st);
    if ((rc = schema_version(st, &version, err)) != 0)
        return rc;
    if (version != KILN_STORE_SCHEMA)
        return kiln_err_set(err, KILN_ERROR, "database %s has schema "
                            "version %d, this kiln reads %d: %s", st->path,
                            version, KILN_STORE_SCHEMA,
                            version < KILN_STORE_SCHEMA
                                ? "a kiln command that writes (kiln run, "
                                  "kiln serve) upgrades it"
                                : "upgrade kiln");
    return 0;
}

static int open_readwrite(kiln_store *st, kiln_err *err)
{
    int rc = sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE |
                             SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return db_error(st, rc, err, "opening the database");
    sqlite3_busy_handler(st->db, on_busy, st);
    /* WAL lets readers (kiln runs, the web page) proceed while a run
     * writes. synchronous=NORMAL keeps every commit safe from a crash of
     * kiln; only a power loss may lose the last commits, never corrupt. */
    if ((rc = set_wal(st, err)) != 0 ||
        (rc = exec_sql(st, "PRAGMA synchronous = NORMAL;"
                       "PRAGMA foreign_keys = ON", err,
                       "opening the database")) != 0)
        return rc;
    return migrate(st, err);
}

static int store_open(kiln_store **out, const char *path, bool readonly,
                      kiln_err *err)
{
    kiln_store *st = kiln_calloc(1, sizeof(*st));
    int rc;

    *out = NULL;
    st->path = kiln_strdup(path);
    st->readonly = readonly;
    st->busy_limit_ms = busy_limit_ms();
    rc = readonly ? open_readonly(st, err) : open_readwrite(st, err);
    if (rc != 0)
        goto fail;
    for (int i = 0; i < Q_COUNT; i++) {
        rc = sqlite3_prepare_v3(st->db, queries[i], -1,
                                SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
                                NULL);
        if (rc != SQLITE_OK) {
            rc = db_error(st, rc, err, "preparing a statement");
            goto fail;
        }
    }
    *out = st;
    return 0;
fail:
    kiln_store_close(st);
    return rc;
}

int kiln_store_open(kiln_store **out, const char *path, kiln_err *err)
{
    return store_open(out, path, false, err);
}

int kiln_store_open_readonly(kiln_store **out, const char *path,
                             kiln_err *err)
{
    return store_open(out, path, true, err);
}

void kiln_store_close(kiln_store *st)
{
    if (!st)
        return;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    sqlite3_close(st->db);
    free(st->path);
    free(st);
}

const char *kiln_store_path(const kiln_store *st)
{
    return st->path;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

/* Step a prepared write statement to completion and reset it. */
static int run_write(kiln_store *st, sqlite3_stmt *s, kiln_err *err,
                     const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : db_error(st, rc, err, what);
}

int kiln_store_run_create(kiln_store *st, int64_t *out_id,
                          const kiln_run_rec *rec, kiln_err *err)
{
    sqlite3_stmt *s;
    int64_t now = kiln_now_ms(), id;
    int rc;

    if ((rc = tx_begin(st, err, "recording a run")) != 0)
        return rc;
    s = st->stmt[Q_PIPELINE_UPSERT];
    bind_text(s, 1, rec->pipeline);
    bind_text(s, 2, rec->file);
    bind_text(s, 3, rec->hash);
    sqlite3_bind_int64(s, 4, now);
    if ((rc = run_write(st, s, err, "recording the pipeline")) != 0)
        goto fail;

    s = st->stmt[Q_RUN_INSERT];
    bind_text(s, 1, rec->pipeline);
    bind_text(s, 2, rec->file);
    bind_text(s, 3, rec->hash);
    bind_text(s, 4, rec->trigger);
    bind_text(s, 5, rec->trigger_info);
    bind_text(s, 6, rec->params ? rec->params : "{}");
    bind_text(s, 7, rec->git_commit);
    bind_text(s, 8, rec->git_branch);
    if (rec->git_commit)
        sqlite3_bind_int(s, 9, rec->git_dirty);
    else
        sqlite3_bind_null(s, 9);
    bind_text(s, 10, rec->workdir);
    sqlite3_bind_int64(s, 11, (int64_t)getpid());
    sqlite3_bind_int64(s, 12, now);
    sqlite3_bind_int64(s, 13, (int64_t)kiln_proc_start(getpid()));
    if ((rc = run_write(st, s, err, "recording a run")) != 0)
        goto fail;
    id = sqlite3_last_insert_rowid(st->db);

    s = st->stmt[Q_RUN_STEP_INSERT];
    for (size_t i = 0; i < rec->n_steps; i++) {
        sqlite3_bind_int64(s, 1, id);
        bind_text(s, 2, rec->step_names[i]);
        sqlite3_bind_int64(s, 3, (int64_t)i);
        bind_text(s, 4, rec->step_kinds[i]);
        if ((rc = run_write(st, s, err, "recording a run's steps")) != 0)
            goto fail;
    }
    if ((rc = tx_commit(st, err, "recording a run")) != 0)
        goto fail;
    *out_id = id;
    return 0;
fail:
    tx_rollback(st);
    return rc;
}

int kiln_store_run_set_status(kiln_store *st, int64_t run_id,
                              const char *status, const char *reason,
                              kiln_err *err)
{
    sqlite3_stmt *s = st->stmt[Q_RUN_STATUS];
    sqlite3_bind_int64(s, 1, run_id);
    bind_text(s, 2, status);
    bind_text(s, 3, reason);
    sqlite3_bind_int64(s, 4, kiln_now_ms());
    return run_write(st, s, err, "recording a run's status");
}

int kiln_store_step_set_status(kiln_store *st, int64_t run_id,
                               const char *step, const char *status,
                               int attempts, const char *reason,
                               int64_t at_ms, kiln_err *err)
{
    sqlite3_stmt *s = st->stmt[Q_STEP_STATUS];
    sqlite3_bind_int64(s, 1, run_id);
    bind_text(s, 2, step);
    bind_text(s, 3, status);
    sqlite3_bind_int(s, 4, attempts);
    bind_text(s, 5, reason);
    sqlite3_bind_int64(s, 6, at_ms > 0 ? at_ms : kiln_now_ms());
    return run_write(st, s, err, "recording a step's status");
}

int kiln_store_exec_start(kiln_store *st, int64_t *out_id,
                          const kiln_exec_rec *rec, kiln_err *err)
{
    sqlite3_stmt *s = st->stmt[Q_EXEC_INSERT];
    int rc;
    sqlite3_bind_int64(s, 1, rec->run_id);
    bind_text(s, 2, rec->step);
    bind_text(s, 3, rec->kind);
    sqlite3_bind_int(s, 4, rec->attempt);
    sqlite3_bind_int64(s, 5, rec->started_ms);
    bind_text(s, 6, rec->log_path);
    bind_text(s, 7, rec->executor);
    bind_text(s, 8, rec->external_id);
    if ((rc = run_write(st, s, err, "recording a step execution")) != 0)
        return rc;
    *out_id = sqlite3_last_insert_rowid(st->db);
    return 0;
}

int kiln_store_exec_set_external(kiln_store *st, int64_t exec_id,
                                 const char *external_id,
                                 int64_t started_ms, kiln_err *err)
{
    sqlite3_stmt *s = st->stmt[Q_EXEC_EXTERNAL];
    sqlite3_bind_int64(s, 1, exec_id);
    bind_text(s, 2, external_id);
    sqlite3_bind_int64(s, 3, started_ms);
    return run_write(st, s, err, "recording a step's process");
}

int kiln_store_exec_finish(kiln_store *st, int64_t exec_id,
                           const char *status, int exit_code, int signal,
                           const char *reason, int64_t finished_ms,
                           kiln_err *err)
{
    sqlite3_stmt *s = st->stmt[Q_EXEC_FINISH];
    sqlite3_bind_int64(s, 1, exec_id);
    bind_text(s, 2, status);
    if (exit_code >= 0)
        sqlite3_bind_int(s, 3, exit_code);
    else
        sqlite3_bind_null(s, 3);
    if (signal > 0)
        sqlite3_bind_int(s, 4, signal);
    else
        sqlite3_bind_null(s, 4);
    bind_text(s, 5, reason);
    sqlite3_bind_int64(s, 6, finished_ms);
    return run_write(st, s, err, "recording the end of a step execution");
}

/* Artifacts. */

/* The id of artifact (path, sha256), inserted with type if new. */
static int artifact_id(kiln_store *st, int64_t *out, const char *path,
                       const char *sha, int64_t size, bool is_dir,
                       const char *type, kiln_err *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "INSERT INTO artifacts (path, sha256, size, type, is_dir, "
        "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (path, "
        "sha256) DO UPDATE SET type = CASE WHEN artifacts.type = 'file' "
        "THEN excluded.type ELSE artifacts.type END RETURNING id",
        -1, &s, NULL);
    if (rc != SQLITE_OK)
        return db_error(st, rc, err, "recording an artifact");
    bind_text(s, 1, path);
    bind_text(s, 2, sha);
    sqlite3_bind_int64(s, 3, size);
    bind_text(s, 4, type);
    sqlite3_bind_int(s, 5, is_dir);
    sqlite3_bind_int64(s, 6, kiln_now_ms());
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : db_error(st, rc, err,
                                           "recording an artifact");
}

int kiln_store_record_artifacts(kiln_store *st, int64_t exec_id,
                                const kiln_artifact_rec *recs, size_t n,
                                kiln_err *err)
{
    int rc;
    if ((rc = tx_begin(st, err,
                       "recording artifacts")) != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *s;
        int64_t id = 0;
        if ((rc = artifact_id(st, &id, recs[i].path, recs[i].sha256,
                              recs[i].size, recs[i].is_dir, recs[i].type,
                              err)) != 0)
            goto fail;
        rc = sqlite3_prepare_v2(st->db, "INSERT OR IGNORE INTO events "
                                "(execution_id, artifact_id, type) VALUES "
                                "(?1, ?2, ?3)", -1, &s, NULL);
        if (rc != SQLITE_OK) {
            rc = db_error(st, rc, err, "recording an event");
            goto fail;
        }
        sqlite3_bind_int64(s, 1, exec_id);
        sqlite3_bind_int64(s, 2, id);
        bind_text(s, 3, recs[i].output ? "output" : "input");
        rc = sqlite3_step(s);
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE) {
            rc = db_error(st, rc, err, "recording an event");
            goto fail;
        }
    }
    return tx_commit(st, err, "recording artifacts");
fail:
    tx_rollback(st);
    return rc;
}

/* Schedules and fires. */

int kiln_store_fire_record(kiln_store *st, const char *pipeline,
                           const char *schedule, int64_t due_ms,
                           const char *status, const char *reason,
                           int64_t run_id, kiln_err *err)
{
    sqlite3_stmt *s = st->stmt[Q_FIRE_INSERT];
    bind_text(s, 1, pipeline);
    bind_text(s, 2, schedule);
    sqlite3_bind_int64(s, 3, due_ms);
    bind_text(s, 4, status);
    bind_text(s, 5, reason);
    if (run_id > 0)
        sqlite3_bind_int64(s, 6, run_id);
    else
        sqlite3_bind_null(s, 6);
    sqlite3_bind_int64(s, 7, kiln_now_ms());
    return run_write(st, s, err, "recording a fire");
}

int kiln_store_fire_last(kiln_store *st, int64_t *out_due_ms,
                         const char *pipeline, const char *schedule,
                         kiln_err *err)
{
    sqlite3_stmt *s = st->stmt[Q_FIRE_LAST];
    int rc;
    bind_text(s, 1, pipeline);
    bind_text(s, 2, schedule);
    rc = sqlite3_step(s);
    *out_due_ms = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_ROW ? 0 : db_error(st, rc, err, "reading fires");
}

int kiln_store_schedule_set(kiln_store *st, const char *pipeline,
                            const char *schedule, const char *timezone,
                            int64_t next_ms, kiln_err *err)
{
    sqlite3_stmt *s = st->stmt[Q_SCHEDULE_SET];
    bind_text(s, 1, pipeline);
    bind_text(s, 2, schedule);
    bind_text(s, 3, timezone);
    if (next_ms >= 0)
        sqlite3_bind_int64(s, 4, next_ms);
    else
        sqlite3_bind_null(s, 4);
    sqlite3_bind_int64(s, 5, kiln_now_ms());
    return run_write(st, s, err, "recording a schedule");
}

int kiln_store_schedule_clear(kiln_store *st, const char *pipeline,
                              kiln_err *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "DELETE FROM schedules WHERE "
                                "?1 IS NULL OR pipeline = ?1", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return db_error(st, rc, err, "clearing schedules");
    bind_text(s, 1, pipeline);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : db_error(st, rc, err,
                                            "clearing schedules");
}

/* Queries. */

/* One result row as a JSON object keyed by column name. Columns holding
 * JSON text (params, trigger_info) are embedded as JSON; git_dirty as a
 * boolean. */
static json_t *row_json(sqlite3_stmt *s)
{
    json_t *o = json_object();
    int n = sqlite3_column_count(s);
    for (int i = 0; i < n; i++) {
        const char *name = sqlite3_column_name(s, i);
        json_t *v;
        switch (sqlite3_column_type(s, i)) {
        case SQLITE_INTEGER:
            if (strcmp(name, "git_dirty") == 0)
                v = json_boolean(sqlite3_column_int(s, i));
            else
                v = json_integer(sqlite3_column_int64(s, i));
            break;
        case SQLITE_FLOAT:
            v = json_real(sqlite3_column_double(s, i));
            break;
        case SQLITE_TEXT: {
            const char *t = (const char *)sqlite3_column_text(s, i);
            v = NULL;
            if (strcmp(name, "params") == 0 ||
                strcmp(name, "trigger_info") == 0 ||
                strcmp(name, "detail") == 0)
                v = json_loads(t, JSON_DECODE_ANY, NULL);
            if (!v)
                v = json_string(t);
            break;
        }
        default:
            v = json_null();
        }
        json_object_set_new(o, name, v);
    }
    return o;
}

/* Run sql with one optional text and int64 binding and collect the rows. */
static int query_rows(kiln_store *st, json_t **out, const char *sql,
                      const char *text, int64_t num, kiln_err *err)
{
    sqlite3_stmt *s;
    json_t *rows;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    *out = NULL;
    if (rc != SQLITE_OK)
        return db_error(st, rc, err, "querying");
    if (sqlite3_bind_parameter_count(s) >= 1)
        bind_text(s, 1, text);
    if (sqlite3_bind_parameter_count(s) >= 2)
        sqlite3_bind_int64(s, 2, num);
    rows = json_array();
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(rows, row_json(s));
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        json_decref(rows);
        return db_error(st, rc, err, "querying");
    }
    *out = rows;
    return 0;
}

#define RUN_COLUMNS                                                         \
    "id, pipeline, status, reason, trigger, trigger_info, params, "         \
    "git_commit, git_branch, git_dirty, file, pipeline_hash, workdir, "     \
    "created_at, started_at, finished_at, owner_pid, owner_start"

/* A run still recorded queued or running whose kiln process (owner_pid
 * and its start time) is gone is orphaned: say so ("orphaned": true), so
 * nobody takes it for running. */
static void mark_orphans(json_t *runs)
{
    json_t *r;
    size_t i;
    json_array_foreach(runs, i, r) {
        const char *status = json_string_value(json_object_get(r,
                                                               "status"));
        pid_t pid;
        uint64_t start;
        if (!status || (strcmp(status, KILN_ST_RUNNING) != 0 &&
                        strcmp(status, KILN_ST_QUEUED) != 0))
            continue;
        pid = (pid_t)json_integer_value(json_object_get(r, "owner_pid"));
        start = (uint64_t)json_integer_value(json_object_get(r,
                                                             "owner_start"));
        json_object_set_new(r, "orphaned", json_boolean(
                            pid <= 0 || !start ||
                            kiln_proc_start(pid) != start));
    }
}

int kiln_store_runs_json(kiln_store *st, json_t **out, const char *pipeline,
                         int limit, kiln_err *err)
{
    int rc = query_rows(st, out,
                        "SELECT " RUN_COLUMNS " FROM runs "
                        "WHERE ?1 IS NULL OR pipeline = ?1 "
                        "ORDER BY id DESC LIMIT ?2",
                        pipeline, limit > 0 ? limit : 20, err);
    if (rc == 0)
        mark_orphans(*out);
    return rc;
}

int kiln_store_run_json(kiln_store *st, json_t **out, int64_t run_id,
                        kiln_err *err)
{
    json_t *runs = NULL, *steps = NULL, *execs = NULL, *run;
    char idtext[32];
    size_t i, j;
    int rc;

    *out = NULL;
    snprintf(idtext, sizeof(idtext), "%lld", (long long)run_id);
    rc = query_rows(st, &runs, "SELECT " RUN_COLUMNS " FROM runs "
                    "WHERE id = CAST(?1 AS INTEGER) LIMIT ?2",
                    idtext, 1, err);
    if (rc != 0)
        return rc;
    if (json_array_size(runs) == 0) {
        json_decref(runs);
        return kiln_err_set(err, KILN_ENOTFOUND, "no run %lld in %s",
                            (long long)run_id, st->path);
    }
    mark_orphans(runs);
    run = json_incref(json_array_get(runs, 0));
    json_decref(runs);

    rc = query_rows(st, &steps,
                    "SELECT step AS name, kind, status, attempts, reason, "
                    "started_at, finished_at FROM run_steps "
                    "WHERE run_id = CAST(?1 AS INTEGER) AND ?2 "
                    "ORDER BY position", idtext, 1, err);
    if (rc == 0)
        rc = query_rows(st, &execs,
                        "SELECT id, step, attempt, status, exit_code, "
                        "signal, reason, started_at, finished_at, log_path, "
                        "executor, external_id, cached_from, (SELECT run_id "
                        "FROM executions c WHERE c.id = "
                        "executions.cached_from) AS cached_from_run "
                        "FROM executions "
                        "WHERE run_id = CAST(?1 AS INTEGER) AND ?2 "
                        "ORDER BY step, attempt", idtext, 1, err);
    if (rc != 0) {
        json_decref(run);
        json_decref(steps);
        return rc;
    }
    /* Nest each step's attempts under it. */
    {
        json_t *by_name = json_object();
        for (i = 0; i < json_array_size(steps); i++) {
            json_t *step = json_array_get(steps, i), *mine = json_array();
            json_object_set_new(step, "attempts_detail", mine);
            json_object_set(by_name, json_string_value(json_object_get(
                            step, "name")), mine);
        }
        for (j = 0; j < json_array_size(execs); j++) {
            json_t *e = json_array_get(execs, j);
            json_t *mine = json_object_get(by_name, json_string_value(
                                           json_object_get(e, "step")));
            json_object_del(e, "step");
            if (mine)
                json_array_append(mine, e);
        }
        json_decref(by_name);
    }
    json_decref(execs);
    json_object_set_new(run, "steps", steps);
    *out = run;
    return 0;
}

int kiln_store_run_artifacts_json(kiln_store *st, json_t **out,
                                  int64_t run_id, kiln_err *err)
{
    json_t *rows = NULL, *r;
    size_t i;
    int rc = query_rows(st, &rows, "SELECT e.execution_id, a.id, a.path, "
                        "a.sha256, a.size, a.type, e.type = 'output' AS "
                        "output FROM events e JOIN executions x ON x.id = "
                        "e.execution_id JOIN artifacts a ON a.id = "
                        "e.artifact_id WHERE ?1 IS NULL AND x.run_id = ?2 "
                        "ORDER BY e.execution_id, output, a.path", NULL,
                        run_id, err);
    *out = NULL;
    if (rc != 0)
        return rc;
    json_array_foreach(rows, i, r)
        json_object_set_new(r, "output", json_boolean(json_integer_value(
                            json_object_get(r, "output"))));
    *out = rows;
    return 0;
}

int kiln_store_run_adopt(kiln_store *st, int64_t run_id, kiln_err *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "UPDATE runs SET owner_pid = ?2, "
                                "owner_start = ?3 WHERE id = ?1", -1, &s,
                                NULL);
    if (rc != SQLITE_OK)
        return db_error(st, rc, err, "adopting a run");
    sqlite3_bind_int64(s, 1, run_id);
    sqlite3_bind_int64(s, 2, (int64_t)getpid());
    sqlite3_bind_int64(s, 3, (int64_t)kiln_proc_start(getpid()));
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : db_error(st, rc, err, "adopting a run");
}

int kiln_store_run_abandon(kiln_store *st, int64_t run_id,
                           const char *reason, kiln_err *err)
{
    static const char *const sql[] = {
        "UPDATE executions SET status = 'lost', reason = ?2, "
        "finished_at = ?3 WHERE run_id = ?1 AND status = 'running'",
        "UPDATE run_steps SET status = 'cancelled', reason = ?2, "
        "finished_at = ?3 WHERE run_id = ?1 AND status NOT IN "
        "('succeeded', 'failed', 'skipped', 'cancelled', 'gated')",
        "UPDATE runs SET status = 'failed', reason = ?2, finished_at = ?3 "
        "WHERE id = ?1",
    };
    int rc;
    if ((rc = tx_begin(st, err, "abandoning a run")) != 0)
        return rc;
    for (size_t i = 0; i < KILN_ARRAY_SIZE(sql); i++) {
        sqlite3_stmt *s;
        rc = sqlite3_prepare_v2(st->db, sql[i], -1, &s, NULL);
        if (rc != SQLITE_OK) {
            rc = db_error(st, rc, err, "abandoning a run");
            goto fail;
        }
        sqlite3_bind_int64(s, 1, run_id);
        bind_text(s, 2, reason);
        sqlite3_bind_int64(s, 3, kiln_now_ms());
        rc = sqlite3_step(s);
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE) {
            rc = db_error(st, rc, err, "abandoning a run");
            goto fail;
        }
    }
    return tx_commit(st, err, "abandoning a run");
fail:
    tx_rollback(st);
    return rc;
}

int kiln_store_unfinished_runs_json(kiln_store *st, json_t **out,
                                    kiln_err *err)
{
    int rc = query_rows(st, out, "SELECT " RUN_COLUMNS " FROM runs WHERE "
                        "status IN ('queued', 'running') AND ?1 IS NULL AND "
                        "?2 ORDER BY id", NULL, 1, err);
    if (rc == 0)
        mark_orphans(*out);
    return rc;
}

int kiln_store_status_json(kiln_store *st, json_t **out, int fires,
                           kiln_err *err)
{
    json_t *sched = NULL, *active = NULL, *recent = NULL;
    int rc;
    *out = NULL;
    rc = query_rows(st, &sched, "SELECT pipeline, schedule, timezone, "
                    "next_due, updated_at FROM schedules WHERE ?1 IS NULL "
                    "AND ?2 ORDER BY next_due IS NULL, next_due, pipeline",
                    NULL, 1, err);
    if (rc == 0)
        rc = query_rows(st, &active, "SELECT " RUN_COLUMNS " FROM runs "
                        "WHERE status IN ('queued', 'running') AND ?1 IS "
                        "NULL AND ?2 ORDER BY id", NULL, 1, err);
    if (rc == 0)
        rc = query_rows(st, &recent, "SELECT pipeline, schedule, due_at, "
                        "status, reason, run_id, recorded_at FROM fires "
                        "WHERE status != 'started' AND ?1 IS NULL "
                        "ORDER BY id DESC LIMIT ?2", NULL,
                        fires > 0 ? fires : 20, err);
    if (rc != 0) {
        json_decref(sched);
        json_decref(active);
        json_decref(recent);
        return rc;
    }
    mark_orphans(active);
    *out = json_pack("{s:o, s:o, s:o}", "schedules", sched, "active",
                     active, "fires", recent);
    return 0;
}

/* Metrics. */

int kiln_store_record_metrics(kiln_store *st, int64_t exec_id,
                              int64_t run_id, const char *step,
                              size_t n, const char *const *keys,
                              const double *values, kiln_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc;
    if (n == 0)
        return 0;
    if ((rc = tx_begin(st, err, "recording metrics")))
        return rc;
    rc = sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO metrics "
                            "(execution_id, run_id, step, key, value) "
                            "VALUES (?1, ?2, ?3, ?4, ?5)", -1, &s, NULL);
    if (rc != SQLITE_OK) {
        rc = db_error(st, rc, err, "recording metrics");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(s, 1, exec_id);
        sqlite3_bind_int64(s, 2, run_id);
        bind_text(s, 3, step);
        bind_text(s, 4, keys[i]);
        sqlite3_bind_double(s, 5, values[i]);
        if ((rc = run_write(st, s, err, "recording metrics")) != 0)
            goto fail;
    }
    sqlite3_finalize(s);
    return tx_commit(st, err, "recording metrics");
fail:
    sqlite3_finalize(s);
    tx_rollback(st);
    return rc;
}

int kiln_store_metric_get(kiln_store *st, double *out, bool *found,
                          int64_t run_id, const char *step, const char *key,
                          kiln_err *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT value FROM metrics WHERE "
                                "run_id = ?1 AND step = ?2 AND key = ?3 "
                                "ORDER BY execution_id DESC LIMIT 1", -1, &s,
                                NULL);
    *found = false;
    if (rc != SQLITE_OK)
        return db_error(st, rc, err, "reading a metric");
    sqlite3_bind_int64(s, 1, run_id);
    bind_text(s, 2, step);
    bind_text(s, 3, key);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_double(s, 0);
        *found = true;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? 0 : db_error(st, rc, err, "reading a metric");
}

int kiln_store_metrics_json(kiln_store *st, json_t **out,
                            const char *pipeline, const char *key,
                            int last_runs, int64_t run_a, int64_t run_b,
                            kiln_err *err)
{
    char *sql;
    sqlite3_stmt *s;
    json_t *rows;
    int rc;

    *out = NULL;
    sql = kiln_asprintf(
        "SELECT m.run_id, r.pipeline, m.step, m.key, m.value, "
        "r.created_at FROM metrics m JOIN runs r ON r.id = m.run_id "
        "WHERE (?1 IS NULL OR r.pipeline = ?1) AND (?2 IS NULL OR m.key = ?2 "
        "OR m.step || '.' || m.key = ?2) AND %s "
        "ORDER BY m.run_id DESC, m.step, m.key",
        run_a ? "m.run_id IN (?3, ?4)"
              : "m.run_id IN (SELECT DISTINCT m2.run_id FROM metrics m2 "
                "JOIN runs r2 ON r2.id = m2.run_id WHERE ?1 IS NULL OR "
                "r2.pipeline = ?1 ORDER BY m2.run_id DESC LIMIT ?3)");
    rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    free(sql);
    if (rc != SQLITE_OK)
        return db_error(st, rc, err, "querying metrics");
    bind_text(s, 1, pipeline);
    bind_text(s, 2, key);
    sqlite3_bind_int64(s, 3, run_a ? run_a : (last_runs > 0 ? last_runs : 10));
    if (run_a)
        sqlite3_bind_int64(s, 4, run_b);
    rows = json_array();
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(rows, row_json(s));
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        json_decref(rows);
        return db_error(st, rc, err, "querying metrics");
    }
    *out = rows;
    return 0;
}

/* Step caching. */

/* Run one statement with text ?1, ?2 and integer ?3 bindings; rows are
 * ignored. */
static int exec_bound(kiln_store *st, const char *sql, const char *a,
                      const char *b, int64_t n, int64_t *changes,
                      kiln_err *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return db_error(st, rc, err, "updating the model registry");
    if (sqlite3_bind_parameter_count(s) >= 1)
        bind_text(s, 1, a);
    if (sqlite3_bind_parameter_count(s) >= 2)
        bind_text(s, 2, b);
    if (sqlite3_bind_parameter_count(s) >= 3)
        sqlite3_bind_int64(s, 3, n);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        ;
    sqlite3_finalize(s);
    if (changes)
        *changes = sqlite3_changes(st->db);
    return rc == SQLITE_DONE ? 0 : db_error(st, rc, err,
                                            "updating the model registry");
}


int kiln_store_cache_save(kiln_store *st, int64_t exec_id, const char *key,
                          size_t n, char *const *rel, char *const *sha,
                          kiln_err *err)
{
    int rc;
    if ((rc = tx_begin(st, err, "recording a cache "
                       "entry")) != 0)
        return rc;
    rc = exec_bound(st, "UPDATE executions SET cache_key = ?1 WHERE "
                    "?2 IS NULL AND id = ?3", key, NULL, exec_id, NULL, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *sql = kiln_asprintf("INSERT OR REPLACE INTO cache_outputs "
                                  "(execution_id, rel_path, sha256) VALUES "
                                  "(?3, ?1, ?2)");
        rc = exec_bound(st, sql, rel[i], sha[i], exec_id, NULL, err);
        free(sql);
    }
    if (rc != 0) {
        tx_rollback(st);
        return rc;
    }
    return tx_commit(st, err, "recording a cache entry");
}

int kiln_store_cache_lookup(kiln_store *st, json_t **out, const char *key,
                            kiln_err *err)
{
    json_t *rows = NULL, *hit, *files = NULL;
    int rc;
    *out = NULL;
    rc = query_rows(st, &rows, "SELECT id AS execution_id, run_id FROM "
                    "executions WHERE cache_key = ?1 AND status IN "
                    "('succeeded', 'cached') ORDER BY id DESC LIMIT ?2",
                    key, 1, err);
    if (rc != 0)
        return rc;
    if (json_array_size(rows) == 0) {
        json_decref(rows);
        return KILN_ENOTFOUND;
    }
    hit = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    rc = query_rows(st, &files, "SELECT rel_path, sha256 FROM cache_outputs "
                    "WHERE ?1 IS NULL AND execution_id = ?2 ORDER BY "
                    "rel_path", NULL, json_integer_value(json_object_get(hit,
                    "execution_id")), err);
    if (rc != 0) {
        json_decref(hit);
        return rc;
    }
    json_object_set_new(hit, "outputs", files);
    *out = hit;
    return 0;
}

int kiln_store_cache_hit(kiln_store *st, int64_t exec_id, int64_t from_exec,
                         const char *key, kiln_err *err)
{
    int rc;
    char *sql;
    if ((rc = tx_begin(st, err, "recording a cache "
                       "hit")) != 0)
        return rc;
    sql = kiln_asprintf(
        "UPDATE executions SET cache_key = ?1, cached_from = %lld WHERE "
        "?2 IS NULL AND id = ?3;", (long long)from_exec);
    rc = exec_bound(st, sql, key, NULL, exec_id, NULL, err);
    free(sql);
    if (rc == 0) {
        sql = kiln_asprintf("INSERT INTO cache_outputs SELECT ?3, rel_path, "
                            "sha256 FROM cache_outputs WHERE ?1 IS NULL AND "
                            "?2 IS NULL AND execution_id = %lld",
                            (long long)from_exec);
        rc = exec_bound(st, sql, NULL, NULL, exec_id, NULL, err);
        free(sql);
    }
    if (rc == 0) {
        sql = kiln_asprintf("INSERT OR REPLACE INTO metrics SELECT ?3, "
                            "(SELECT run_id FROM executions WHERE id = ?3), "
                            "step, key, value FROM metrics WHERE ?1 IS NULL "
                            "AND ?2 IS NULL AND execution_id = %lld",
                            (long long)from_exec);
        rc = exec_bound(st, sql, NULL, NULL, exec_id, NULL, err);
        free(sql);
    }
    if (rc != 0) {
        tx_rollback(st);
        return rc;
    }
    return tx_commit(st, err, "recording a cache hit");
}

int kiln_store_cache_objects_json(kiln_store *st, json_t **out,
                                  kiln_err *err)
{
    json_t *rows = NULL, *r;
    size_t i;
    int rc = query_rows(st, &rows, "SELECT DISTINCT o.sha256 FROM "
                        "cache_outputs o JOIN executions x ON x.id = "
                        "o.execution_id WHERE x.cache_key IS NOT NULL AND "
                        "?1 IS NULL AND ?2", NULL, 1, err);
    if (rc != 0)
        return rc;
    *out = json_array();
    json_array_foreach(rows, i, r)
        json_array_append(*out, json_object_get(r, "sha256"));
    json_decref(rows);
    return 0;
}

int kiln_store_cache_forget_missing(kiln_store *st, const char *objects,
                                    kiln_err *err)
{
    json_t *rows = NULL, *r;
    size_t i;
    int rc = query_rows(st, &rows, "SELECT DISTINCT o.execution_id, "
                        "o.sha256 FROM cache_outputs o JOIN executions x ON "
                        "x.id = o.execution_id WHERE x.cache_key IS NOT NULL "
                        "AND ?1 IS NULL AND ?2", NULL, 1, err);
    if (rc != 0)
        return rc;
    json_array_foreach(rows, i, r) {
        const char *sha = json_string_value(json_object_get(r, "sha256"));
        char *path = kiln_asprintf("%s/%.2s/%s", objects, sha, sha + 2);
        if (access(path, F_OK) != 0)
            rc = exec_bound(st, "UPDATE executions SET cache_key = NULL "
                            "WHERE ?1 IS NULL AND ?2 IS NULL AND id = ?3",
                            NULL, NULL, json_integer_value(json_object_get(
                                r, "execution_id")), NULL, err);
        free(path);
        if (rc != 0)
            break;
    }
    json_decref(rows);
    return rc;
}

/* The model registry. */

int kiln_store_model_register(kiln_store *st, int *out_version,
                              const char *name, const char *path,
                              const char *sha256, int64_t run_id,
                              int64_t exec_id, kiln_err *err)
{
    json_t *rows = NULL;
    int rc;
    char *sql;

    if ((rc = tx_begin(st, err, "registering a model")))
        return rc;
    rc = query_rows(st, &rows, "SELECT coalesce(max(version), 0) + 1 AS v "
                    "FROM models WHERE name = ?1 AND ?2", name, 1, err);
    if (rc != 0)
        goto fail;
    *out_version = (int)json_integer_value(json_object_get(
        json_array_get(rows, 0), "v"));
    json_decref(rows);
    sql = kiln_asprintf(
        "INSERT INTO models (name, version, artifact_id, run_id, "
        "execution_id, git_commit, metrics, created_at) SELECT ?1, %d, "
        "(SELECT id FROM artifacts WHERE path = ?2 AND sha256 = '%s'), "
        "%lld, %lld, (SELECT git_commit FROM runs WHERE id = %lld), "
        "(SELECT coalesce(json_group_object(step || '.' || key, value), "
        "'{}') FROM metrics WHERE run_id = %lld), ?3",
        *out_version, sha256, (long long)run_id, (long long)exec_id,
        (long long)run_id, (long long)run_id);
    rc = exec_bound(st, sql, name, path, kiln_now_ms(), NULL, err);
    free(sql);
    if (rc != 0)
        goto fail;
    return tx_commit(st, err, "registering a model");
fail:
    tx_rollback(st);
    return rc;
}

#define CURRENT_ALIASES                                                     \
    "SELECT a.name, a.alias, a.version, a.set_at FROM model_aliases a "     \
    "WHERE a.rolled_back = 0 AND a.id = (SELECT max(b.id) FROM "            \
    "model_aliases b WHERE b.name = a.name AND b.alias = a.alias AND "      \
    "b.rolled_back = 0)"

int kiln_store_model_promote(kiln_store *st, const char *name, int version,
                             const char *alias, kiln_err *err)
{
    json_t *rows = NULL;
    int rc = query_rows(st, &rows, "SELECT version FROM models WHERE "
                        "name = ?1 AND version = ?2", name, version, err);
    if (rc != 0)
        return rc;
    if (json_array_size(rows) == 0) {
        json_decref(rows);
        return kiln_err_set(err, KILN_ENOTFOUND, "model %s has no version "
                            "%d", name, version);
    }
    json_decref(rows);
    return exec_bound(st, "INSERT INTO model_aliases (name, alias, version, "
                      "set_at) VALUES (?1, ?2, ?3, "
                      "CAST(strftime('%s', 'now') AS INTEGER) * 1000)",
                      name, alias, version, NULL, err);
}

int kiln_store_model_rollback(kiln_store *st, int *out_version,
                              const char *name, const char *alias,
                              kiln_err *err)
{
    json_t *rows = NULL;
    int rc;
    if ((rc = tx_begin(st, err, "rolling back")) != 0)
        return rc;
    /* The alias's two newest rows still in force. */
    {
        sqlite3_stmt *s;
        rows = json_array();
        rc = sqlite3_prepare_v2(st->db, "SELECT id, version FROM "
                                "model_aliases WHERE name = ?1 AND alias = "
                                "?2 AND rolled_back = 0 ORDER BY id DESC "
                                "LIMIT 2", -1, &s, NULL);
        if (rc != SQLITE_OK) {
            rc = db_error(st, rc, err, "rolling back");
            goto fail;
        }
        bind_text(s, 1, name);
        bind_text(s, 2, alias);
        while (sqlite3_step(s) == SQLITE_ROW)
            json_array_append_new(rows, row_json(s));
        sqlite3_finalize(s);
        rc = 0;
    }
    if (json_array_size(rows) < 2) {
        rc = kiln_err_set(err, KILN_ENOTFOUND, "%s of model %s has no "
                          "earlier version to roll back to", alias, name);
        json_decref(rows);
        goto fail;
    }
    *out_version = (int)json_integer_value(json_object_get(
        json_array_get(rows, 1), "version"));
    rc = exec_bound(st, "UPDATE model_aliases SET rolled_back = 1 WHERE "
                    "?1 IS NOT NULL AND ?2 IS NOT NULL AND id = ?3", name,
                    alias, json_integer_value(json_object_get(
                        json_array_get(rows, 0), "id")), NULL, err);
    json_decref(rows);
    if (rc != 0)
        goto fail;
    return tx_commit(st, err, "rolling back");
fail:
    tx_rollback(st);
    return rc;
}

int kiln_store_models_json(kiln_store *st, json_t **out, const char *name,
                           kiln_err *err)
{
    json_t *versions = NULL, *aliases = NULL, *v;
    size_t i;
    int rc = query_rows(st, &versions, "SELECT m.name, m.version, a.path, "
                        "a.sha256, m.artifact_id, m.run_id, m.git_commit, m.metrics, "
                        "m.created_at FROM models m JOIN artifacts a ON "
                        "a.id = m.artifact_id WHERE (?1 IS NULL OR m.name = "
                        "?1) AND ?2 ORDER BY m.name, m.version DESC", name, 1,
                        err);
    if (rc == 0)
        rc = query_rows(st, &aliases, CURRENT_ALIASES " AND (?1 IS NULL OR "
                        "a.name = ?1) AND ?2 ORDER BY a.name, a.alias", name,
                        1, err);
    if (rc != 0) {
        json_decref(versions);
        return rc;
    }
    json_array_foreach(versions, i, v) {
        json_t *mine = json_array(), *al;
        size_t k;
        json_array_foreach(aliases, k, al)
            if (strcmp(json_string_value(json_object_get(al, "name")),
                       json_string_value(json_object_get(v, "name"))) == 0 &&
                json_integer_value(json_object_get(al, "version")) ==
                    json_integer_value(json_object_get(v, "version")))
                json_array_append(mine, json_object_get(al, "alias"));
        json_object_set_new(v, "aliases", mine);
        json_t *m = json_loads(json_string_value(json_object_get(v,
                               "metrics")), 0, NULL);
        if (m)
            json_object_set_new(v, "metrics", m);
    }
    json_decref(aliases);
    *out = versions;
    return 0;
}

int kiln_store_model_aliases_json(kiln_store *st, json_t **out,
                                  kiln_err *err)
{
    return query_rows(st, out, "SELECT c.name, c.alias, c.version, p.path "
                      "FROM (" CURRENT_ALIASES ") c JOIN models m ON m.name "
                      "= c.name AND m.version = c.version JOIN artifacts p ON "
                      "p.id = m.artifact_id WHERE ?1 IS NULL AND ?2", NULL, 1,
                      err);
}

/* Lineage. */

#define ARTIFACT_COLUMNS "id, path, sha256, size, type, is_dir, created_at"

int kiln_store_artifact_find(kiln_store *st, int64_t *out,
                             const char *query, kiln_err *err)
{
    json_t *rows = NULL;
    size_t len = strlen(query), hex = strspn(query, "0123456789abcdef");
    int rc;
    char *end, *abs;
    long long id = strtoll(query, &end, 10);

    *out = 0;
    if (len && *end == '\0' && id > 0 && len < 12) {
        rc = query_rows(st, &rows, "SELECT id FROM artifacts WHERE ?1 IS "
                        "NULL AND id = ?2", NULL, id, err);
    } else if (hex == len && len >= 6 && len <= 64) {
        char *like = kiln_asprintf("%s%%", query);
        rc = query_rows(st, &rows, "SELECT max(id) AS id, count(DISTINCT "
                        "sha256) AS n FROM artifacts WHERE sha256 LIKE ?1 "
                        "AND ?2 HAVING count(*) > 0", like, 1, err);
        free(like);
        if (rc == 0 && json_array_size(rows) &&
            json_integer_value(json_object_get(json_array_get(rows, 0),
                                               "n")) > 1) {
            json_decref(rows);
            return kiln_err_set(err, KILN_EINVAL, "hash prefix %s is "
                                "ambiguous: give more digits", query);
        }
    } else {
        abs = kiln_path_absolute(query);
        rc = query_rows(st, &rows, "SELECT max(id) AS id FROM artifacts "
                        "WHERE path = ?1 AND ?2 HAVING count(*) > 0", abs, 1,
                        err);
        free(abs);
    }
    if (rc != 0)
        return rc;
    if (json_array_size(rows) == 0) {
        json_decref(rows);
        return kiln_err_set(err, KILN_ENOTFOUND, "no artifact %s recorded "
                            "in %s", query, st->path);
    }
    *out = json_integer_value(json_object_get(json_array_get(rows, 0), "id"));
    json_decref(rows);
    return 0;
}

#define EXEC_COLUMNS                                                        \
    "x.id AS execution_id, x.run_id, x.step, x.kind, x.attempt, "           \
    "x.finished_at, r.pipeline, r.git_commit, r.git_dirty, r.params"

/* One artifact as a lineage node, its neighbours to depth. */
static int lineage_node(kiln_store *st, json_t **out, int64_t id, bool up,
                        int depth, kiln_err *err)
{
    json_t *rows = NULL, *node, *execs = NULL, *x;
    size_t i;
    int rc;

    *out = NULL;
    rc = query_rows(st, &rows, "SELECT " ARTIFACT_COLUMNS " FROM artifacts "
                    "WHERE ?1 IS NULL AND id = ?2", NULL, id, err);
    if (rc != 0)
        return rc;
    node = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    if (!node)
        return kiln_err_set(err, KILN_ENOTFOUND, "no artifact %lld",
                            (long long)id);
    json_object_set_new(node, "is_dir", json_boolean(json_integer_value(
                        json_object_get(node, "is_dir"))));
    /* Up: the first execution that made it. Down: all that used it. */
    rc = query_rows(st, &execs, up
                    ? "SELECT " EXEC_COLUMNS " FROM events e JOIN "
                      "executions x ON x.id = e.execution_id JOIN runs r ON "
                      "r.id = x.run_id WHERE ?1 IS NULL AND e.artifact_id = "
                      "?2 AND e.type = 'output' ORDER BY x.id LIMIT 1"
                    : "SELECT " EXEC_COLUMNS " FROM events e JOIN "
                      "executions x ON x.id = e.execution_id JOIN runs r ON "
                      "r.id = x.run_id WHERE ?1 IS NULL AND e.artifact_id = "
                      "?2 AND e.type = 'input' ORDER BY x.id",
                    NULL, id, err);
    if (rc != 0) {
        json_decref(node);
        return rc;
    }
    json_array_foreach(execs, i, x) {
        json_t *links = NULL, *l, *kids = json_array();
        size_t k;
        if (depth > 1) {
            rc = query_rows(st, &links, up
                            ? "SELECT artifact_id FROM events WHERE ?1 IS "
                              "NULL AND execution_id = ?2 AND type = "
                              "'input' ORDER BY artifact_id"
                            : "SELECT artifact_id FROM events WHERE ?1 IS "
                              "NULL AND execution_id = ?2 AND type = "
                              "'output' ORDER BY artifact_id",
                            NULL, json_integer_value(json_object_get(x,
                            "execution_id")), err);
            json_array_foreach(links, k, l) {
                json_t *kid;
                if (rc != 0)
                    break;
                rc = lineage_node(st, &kid, json_integer_value(
                                  json_object_get(l, "artifact_id")), up,
                                  depth - 1, err);
                if (rc == 0)
                    json_array_append_new(kids, kid);
            }
            json_decref(links);
        }
        json_object_set_new(x, up ? "inputs" : "outputs", kids);
        json_object_set_new(x, "git_dirty", json_boolean(json_integer_value(
                            json_object_get(x, "git_dirty"))));
        if (rc != 0)
            break;
    }
    if (rc != 0) {
        json_decref(execs);
        json_decref(node);
        return rc;
    }
    if (up) {
        json_object_set(node, "produced_by", json_array_size(execs)
                        ? json_array_get(execs, 0) : json_null());
        json_decref(execs);
    } else {
        json_object_set_new(node, "used_by", execs);
    }
    *out = node;
    return 0;
}

int kiln_store_lineage_json(kiln_store *st, json_t **out, int64_t id,
                            bool up, int depth, kiln_err *err)
{
    return lineage_node(st, out, id, up, depth > 0 ? depth : 64, err);
}

int kiln_store_log_path(kiln_store *st, char **out, int64_t run_id,
                        const char *step, int attempt, kiln_err *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
                                "SELECT log_path, attempt FROM executions "
                                "WHERE run_id = ?1 AND step = ?2 AND "
                                "(?3 = 0 OR attempt = ?3) "
                                "ORDER BY attempt DESC LIMIT 1",
                                -1, &s, NULL);
    *out = NULL;
    if (rc != SQLITE_OK)
        return db_error(st, rc, err, "querying");
    sqlite3_bind_int64(s, 1, run_id);
    bind_text(s, 2, step);
    sqlite3_bind_int(s, 3, attempt);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = kiln_strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return db_error(st, rc, err, "querying");
    if (attempt > 0)
        return kiln_err_set(err, KILN_ENOTFOUND, "run %lld has no attempt "
                            "%d of step \"%s\"", (long long)run_id, attempt,
                            step);
    return kiln_err_set(err, KILN_ENOTFOUND, "run %lld has no log for step "
                        "\"%s\"", (long long)run_id, step);
}


/* One-off statements (the prepared ones are in queries[]). */

static int prepare(kiln_store *st, sqlite3_stmt **s, const char *sql,
                   kiln_err *err, const char *what)
{
    int rc = sqlite3_prepare_v2(st->db, sql, -1, s, NULL);
    return rc == SQLITE_OK ? 0 : db_error(st, rc, err, what);
}

/* Step a one-off write to completion and finalize it. */
static int write_once(kiln_store *st, sqlite3_stmt *s, kiln_err *err,
                      const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : db_error(st, rc, err, what);
}

/* Triggers. */

int kiln_store_check_record(kiln_store *st, int64_t *out_id,
                            const char *pipeline, const char *trigger,
                            const char *target, const char *status,
                            const char *reason, const char *detail,
                            int64_t run_id, kiln_err *err)
{
    const char *what = "recording a trigger check";
    sqlite3_stmt *s;
    int rc = prepare(st, &s, "INSERT INTO trigger_checks (pipeline, trigger,"
                     " target, checked_at, status, reason, detail, run_id) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", err, what);
    if (rc != 0)
        return rc;
    bind_text(s, 1, pipeline);
    bind_text(s, 2, trigger);
    bind_text(s, 3, target);
    sqlite3_bind_int64(s, 4, kiln_now_ms());
    bind_text(s, 5, status);
    bind_text(s, 6, reason);
    bind_text(s, 7, detail);
    if (run_id > 0)
        sqlite3_bind_int64(s, 8, run_id);
    if ((rc = write_once(st, s, err, what)) != 0)
        return rc;
    if (out_id)
        *out_id = sqlite3_last_insert_rowid(st->db);
    return 0;
}

int kiln_store_check_update(kiln_store *st, int64_t id, const char *status,
                            const char *reason, int64_t run_id,
                            kiln_err *err)
{
    const char *what = "updating a trigger check";
    sqlite3_stmt *s;
    int rc = prepare(st, &s, "UPDATE trigger_checks SET status = ?2, reason "
                     "= coalesce(?3, reason), run_id = ?4 WHERE id = ?1",
                     err, what);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    bind_text(s, 2, status);
    bind_text(s, 3, reason);
    if (run_id > 0)
        sqlite3_bind_int64(s, 4, run_id);
    return write_once(st, s, err, what);
}

int kiln_store_check_last_fired(kiln_store *st, int64_t *out_ms,
                                int64_t *out_run, const char *pipeline,
                                kiln_err *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
                                "SELECT checked_at, run_id FROM "
                                "trigger_checks WHERE pipeline = ?1 AND "
                                "status IN ('fired', 'queued') AND trigger "
                                "<> 'manual' ORDER BY checked_at DESC, id "
                                "DESC LIMIT 1", -1, &s, NULL);
    *out_ms = 0;
    *out_run = 0;
    if (rc != SQLITE_OK)
        return db_error(st, rc, err, "reading trigger checks");
    bind_text(s, 1, pipeline);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out_ms = sqlite3_column_int64(s, 0);
        *out_run = sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? 0
               : db_error(st, rc, err, "reading trigger checks");
}

int kiln_store_trigger_state_get(kiln_store *st, char **out,
                                 const char *pipeline, const char *key,
                                 kiln_err *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
                                "SELECT state FROM trigger_state WHERE "
                                "pipeline = ?1 AND key = ?2", -1, &s, NULL);
    *out = NULL;
    if (rc != SQLITE_OK)
        return db_error(st, rc, err, "reading a trigger's state");
    bind_text(s, 1, pipeline);
    bind_text(s, 2, key);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = kiln_strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? 0
               : db_error(st, rc, err, "reading a trigger's state");
}

int kiln_store_trigger_state_set(kiln_store *st, const char *pipeline,
                                 const char *key, const char *state,
                                 kiln_err *err)
{
    const char *what = "saving a trigger's state";
    sqlite3_stmt *s;
    int rc = prepare(st, &s, "INSERT INTO trigger_state (pipeline, key, "
                     "state, updated_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT "
                     "(pipeline, key) DO UPDATE SET state = excluded.state, "
                     "updated_at = excluded.updated_at", err, what);
    if (rc != 0)
        return rc;
    bind_text(s, 1, pipeline);
    bind_text(s, 2, key);
    bind_text(s, 3, state);
    sqlite3_bind_int64(s, 4, kiln_now_ms());
    return write_once(st, s, err, what);
}

int kiln_store_checks_json(kiln_store *st, json_t **out, const char *pipeline,
                           int limit, kiln_err *err)
{
    return query_rows(st, out,
                      "SELECT id, pipeline, trigger, target, checked_at, "
                      "status, reason, detail, run_id FROM trigger_checks "
                      "WHERE ?1 IS NULL OR pipeline = ?1 ORDER BY "
                      "checked_at DESC, id DESC LIMIT ?2",
                      pipeline, limit > 0 ? limit : 20, err);
}

int kiln_store_runs_page_json(kiln_store *st, json_t **out,
                              const char *pipeline, const char *status,
                              int64_t before, int limit, kiln_err *err)
{
    char sql[512];
    sqlite3_stmt *s;
    json_t *rows;
    int rc, i = 1;

    /* Only the conditions given, so SQLite picks the index that fits. */
    snprintf(sql, sizeof(sql), "SELECT " RUN_COLUMNS " FROM runs WHERE 1%s%s%s "
             "ORDER BY id DESC LIMIT ?",
             pipeline ? " AND pipeline = ?" : "",
             status ? " AND status = ?" : "", before > 0 ? " AND id < ?" : "");
    *out = NULL;
    if ((rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL)) != SQLITE_OK)
        return db_error(st, rc, err, "querying runs");
    if (pipeline)
        bind_text(s, i++, pipeline);
    if (status)
        bind_text(s, i++, status);
    if (before > 0)
        sqlite3_bind_int64(s, i++, before);
    sqlite3_bind_int(s, i, limit > 0 ? limit : 50);
    rows = json_array();
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(rows, row_json(s));
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        json_decref(rows);
        return db_error(st, rc, err, "querying runs");
    }
    mark_orphans(rows);
    *out = rows;
    return 0;
}

int kiln_store_stats_json(kiln_store *st, json_t **out, kiln_err *err)
{
    json_t *runs = NULL, *steps = NULL, *checks = NULL;
    int rc;
    *out = NULL;
    if ((rc = query_rows(st, &runs,
                         "SELECT pipeline, status, count(*) AS n FROM runs "
                         "GROUP BY pipeline, status", NULL, 0, err)) != 0 ||
        (rc = query_rows(st, &steps,
                         "SELECT r.pipeline, e.step, count(*) AS n, "
                         "sum(e.finished_at - e.started_at) / 1000.0 AS "
                         "seconds FROM executions e JOIN runs r ON r.id = "
                         "e.run_id WHERE e.id > (SELECT coalesce(max(id), "
                         "0) - ?2 FROM executions) AND e.finished_at IS NOT "
                         "NULL AND e.cached_from IS NULL GROUP BY "
                         "r.pipeline, e.step", NULL, 10000, err)) != 0 ||
        (rc = query_rows(st, &checks,
                         "SELECT pipeline, trigger, status, count(*) AS n "
                         "FROM trigger_checks GROUP BY pipeline, trigger, "
                         "status", NULL, 0, err)) != 0) {
        json_decref(runs);
        json_decref(steps);
        return rc;
    }
    *out = json_pack("{s:o, s:o, s:o}", "runs", runs, "steps", steps,
                     "checks", checks);
    return 0;
}

int kiln_store_exec_reuse(kiln_store *st, int64_t exec_id, int64_t from_exec,
                          kiln_err *err)
{
    char *sql;
    int rc = kiln_store_cache_hit(st, exec_id, from_exec, NULL, err);
    if (rc != 0)
        return rc;
    /* Lineage: the same artifacts, used and made by this execution. */
    sql = kiln_asprintf("INSERT INTO events (execution_id, artifact_id, "
                        "type) SELECT ?3, artifact_id, type FROM events "
                        "WHERE ?1 IS NULL AND ?2 IS NULL AND execution_id "
                        "= %lld", (long long)from_exec);
    rc = exec_bound(st, sql, NULL, NULL, exec_id, NULL, err);
    free(sql);
    return rc;
}

uint64_t kiln_store_version(kiln_store *st, bool others)
{
    sqlite3_stmt *s = st->stmt[Q_DATA_VERSION];
    if (others) {
        if (sqlite3_step(s) == SQLITE_ROW)
            st->data_version = (uint64_t)sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
    }
    /* data_version moves with other connections' commits, the change
     * count with this one's. */
    return (st->data_version << 40) ^
           (uint64_t)sqlite3_total_changes64(st->db);
}

int kiln_store_notification_record(kiln_store *st, const char *pipeline,
                                   int64_t run_id, const char *event,
                                   const char *url, bool sent, int attempts,
                                   long http_status, const char *error,
                                   int64_t created_ms, kiln_err *err)
{
    const char *what = "recording a notification";
    sqlite3_stmt *s;
    int rc = prepare(st, &s, "INSERT INTO notifications (pipeline, run_id, "
                     "event, url, status, attempts, http_status, error, "
                     "created_at, finished_at) VALUES (?1, ?2, ?3, ?4, ?5, "
                     "?6, ?7, ?8, ?9, ?10)", err, what);
    if (rc != 0)
        return rc;
    bind_text(s, 1, pipeline);
    if (run_id > 0)
        sqlite3_bind_int64(s, 2, run_id);
    bind_text(s, 3, event);
    bind_text(s, 4, url);
    bind_text(s, 5, sent ? "sent" : "failed");
    sqlite3_bind_int(s, 6, attempts);
    if (http_status > 0)
        sqlite3_bind_int64(s, 7, http_status);
    bind_text(s, 8, error);
    sqlite3_bind_int64(s, 9, created_ms);
    sqlite3_bind_int64(s, 10, kiln_now_ms());
    return write_once(st, s, err, what);
}
