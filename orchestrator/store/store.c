/*
 * store.c: kiln.db, SQLite in WAL mode: opening, migrations,
 * transactions, the busy handler, and the statements every other file of
 * the store runs.
 *
 * SQLite's result codes are translated here and nowhere else: everything
 * outside the store sees kiln_err.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long a writer waits for another process before giving up. */
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
    /* 9 -> 10: whether a skipped step was skipped because of a gate is a
     * column (recovery read it from the reason's wording); unfinished
     * runs are found by an index (kiln serve looks every 10 s). */
    "ALTER TABLE run_steps ADD COLUMN by_gate INTEGER NOT NULL DEFAULT 0;"
    "UPDATE run_steps SET by_gate = 1 WHERE status = 'skipped' AND "
    "  reason LIKE '%was gated%';"
    "CREATE INDEX runs_unfinished ON runs(id) WHERE finished_at IS NULL;",
    /* 10 -> 11: a record to trust. The files of every directory kept in
     * the object store, by the directory's hash (a model version, an
     * input, an output is materialised from its hash alone); what went
     * into each execution's cache key (kiln why, kiln reproduce);
     * environment captures, stored once by hash; the command a model
     * runs when an alias of it moves; the run a reproduction repeats. */
    "CREATE TABLE tree_files ("
    "  tree TEXT NOT NULL,"
    "  rel TEXT NOT NULL,"
    "  sha256 TEXT NOT NULL,"
    "  PRIMARY KEY (tree, rel)) WITHOUT ROWID;"
    "ALTER TABLE executions ADD COLUMN key_doc TEXT;"
    "CREATE INDEX executions_by_step ON executions(step, id);"
    "CREATE TABLE captures ("
    "  sha256 TEXT PRIMARY KEY,"
    "  text TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE model_hooks ("
    "  name TEXT PRIMARY KEY,"
    "  command TEXT NOT NULL,"
    "  workdir TEXT NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "ALTER TABLE runs ADD COLUMN reproduces INTEGER;"
    "CREATE INDEX runs_by_reproduces ON runs(reproduces) WHERE "
    "  reproduces IS NOT NULL;",
    /* 11 -> 12: a container step's image, as the ID of its content (what
     * ran) and as written. */
    "ALTER TABLE executions ADD COLUMN image TEXT;"
    "ALTER TABLE executions ADD COLUMN image_ref TEXT;",
    /* 12 -> 13: the audit trail: every change, who made it and how, each
     * row chained to the one before by a hash (audit.c); who started a
     * run. */
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  via TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  target TEXT NOT NULL,"
    "  before TEXT,"
    "  after TEXT,"
    "  prev_hash TEXT NOT NULL,"
    "  hash TEXT NOT NULL);"
    "CREATE INDEX audit_by_at ON audit(at);"
    "ALTER TABLE runs ADD COLUMN started_by TEXT;",
    /* 13 -> 14: accounts (accounts.c): users with a role each, their API
     * tokens (only a hash of each secret), and browser sessions, kept
     * here so that logging out or revoking a token ends them at once. */
    "CREATE TABLE users ("
    "  name TEXT PRIMARY KEY,"
    "  role TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  created_by TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE tokens ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  user TEXT NOT NULL,"
    "  name TEXT,"
    "  secret_hash TEXT NOT NULL,"
    "  read_only INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER,"
    "  revoked_at INTEGER);"
    "CREATE INDEX tokens_by_user ON tokens(user);"
    "CREATE TABLE sessions ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  secret_hash TEXT NOT NULL,"
    "  user TEXT NOT NULL,"
    "  role TEXT,"
    "  token_id INTEGER,"
    "  csrf TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  ended_at INTEGER);"
    "CREATE INDEX sessions_by_token ON sessions(token_id);"
    "CREATE INDEX sessions_by_user ON sessions(user);",
    /* 14 -> 15: how a step's gate (when:) was decided, whichever way:
     * its expression, the answer and each value it read (JSON). */
    "ALTER TABLE run_steps ADD COLUMN gate TEXT;",
    /* 15 -> 16: the pipeline files kiln serve could not load at its last
     * (re)load, with their errors (one "FILE:LINE:COL: error: ..." a
     * line) and the pipeline each one defined before, if any. */
    "CREATE TABLE load_errors ("
    "  file TEXT PRIMARY KEY,"
    "  pipeline TEXT,"
    "  errors TEXT NOT NULL,"
    "  since INTEGER NOT NULL);",
    /* 16 -> 17: what retention did to a run's logs (retention.c): NULL
     * as written, 'compressed' (each .log is a .log.gz) or 'removed'. */
    "ALTER TABLE runs ADD COLUMN logs_state TEXT;",
    /* 17 -> 18: the model versions of an artifact (each node of kiln
     * lineage) and the audit rows of a target (a model's alias moves:
     * kiln models history, GET /api/v1/models) along an index, not a
     * scan: on a million runs 271-460 -> 10-20 ms and 351 -> 30 ms
     * (tests/bench/bigdb.sh). */
    "CREATE INDEX models_by_artifact ON models(artifact_id);"
    "CREATE INDEX audit_by_target ON audit(target);",
    /* 18 -> 19: the executions that reused one's outputs, which
     * retention looks for before a run goes (retention.c). */
    "CREATE INDEX executions_by_cached_from ON executions(cached_from) "
    "WHERE cached_from IS NOT NULL;",
    /* 19 -> 20: the executions whose key names each environment capture
     * (in key_doc's "environment"), so retention deletes a capture with
     * the last of them instead of keeping every capture for ever. */
    "CREATE TABLE capture_refs ("
    "  sha256 TEXT NOT NULL,"
    "  execution_id INTEGER NOT NULL,"
    "  PRIMARY KEY (sha256, execution_id)) WITHOUT ROWID;"
    "CREATE INDEX capture_refs_by_execution ON capture_refs(execution_id);"
    "INSERT OR IGNORE INTO capture_refs SELECT j.value, x.id FROM "
    "  executions x, json_each(CASE WHEN json_valid(x.key_doc) THEN "
    "  x.key_doc ELSE '{}' END, '$.environment') j WHERE "
    "  x.key_doc LIKE '%\"environment\":{\"%';",
    /* 20 -> 21: a step's metrics in a run along an index ($KILN_UPSTREAM
     * reads its needs', not the run's: no scan of the run per step). */
    "CREATE INDEX metrics_by_step ON metrics(run_id, step);",
    /* 21 -> 22: each model deploy command, recorded before it starts
     * and settled once it ended (deploys.c): a kiln killed meanwhile
     * leaves its kiln-shim's pid and a status file, from which recovery
     * moves the alias or not, without running the command again. */
    "CREATE TABLE deploys ("
    "  id INTEGER PRIMARY KEY,"
    "  model TEXT NOT NULL,"
    "  alias TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  rollback INTEGER NOT NULL,"
    "  actor TEXT,"
    "  via TEXT,"
    "  execution_id INTEGER,"
    "  pid INTEGER,"
    "  pid_start INTEGER,"
    "  started_at INTEGER NOT NULL,"
    "  ended_at INTEGER,"
    "  outcome TEXT,"
    "  detail TEXT);"
    "CREATE INDEX deploys_open ON deploys(model) WHERE outcome IS NULL;"
    "CREATE INDEX deploys_by_execution ON deploys(execution_id) "
    "WHERE execution_id IS NOT NULL;",
    /* 22 -> 23: how long a model's deploy command may run
     * (deploy_timeout:, NULL: the default), and when each one run is
     * killed: whoever settles one a killed kiln left kills it then. */
    "ALTER TABLE model_hooks ADD COLUMN timeout_ms INTEGER;"
    "ALTER TABLE deploys ADD COLUMN deadline INTEGER;",
    /* 23 -> 24: a notification is a row before it is posted ('pending',
     * with its body and the "PID:START" of the kiln posting it), so one
     * a killed or stopped kiln did not deliver is posted by the next. */
    "ALTER TABLE notifications ADD COLUMN body TEXT;"
    "ALTER TABLE notifications ADD COLUMN timeout_ms INTEGER;"
    "ALTER TABLE notifications ADD COLUMN owner TEXT;"
    "CREATE INDEX notifications_pending ON notifications(status) "
    "WHERE status = 'pending';",
    /* 24 -> 25: the trigger check a notification tells of (drift), so
     * kiln triggers and the API show whether its alert went out. */
    "ALTER TABLE notifications ADD COLUMN check_id INTEGER;"
    "CREATE INDEX notifications_by_check ON notifications(check_id) "
    "WHERE check_id IS NOT NULL;",
    /* 25 -> 26: a check whose fire waits for max_active_runs keeps that
     * fire (JSON), so a kiln serve killed or stopped meanwhile queues it
     * again when it starts instead of losing it. */
    "ALTER TABLE trigger_checks ADD COLUMN fire TEXT;"
    "CREATE INDEX trigger_checks_queued ON trigger_checks(id) "
    "WHERE status = 'queued';",
};

_Static_assert(KILN_ARRAY_SIZE(migrations) == KILN_STORE_SCHEMA,
               "one migration per schema version");

int kiln_store__error(kiln_store *st, int rc, kiln_err *err,
                      const char *what)
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

#define db_error kiln_store__error

static int exec_sql(kiln_store *st, const char *sql, kiln_err *err,
                    const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
    sqlite3_free(msg);
    return rc == SQLITE_OK ? 0 : db_error(st, rc, err, what);
}

/* Statements. */

/* sql, which must be a string constant, as a statement kept prepared:
 * BEGIN and COMMIT, a few of them a step, parsed once. */
static int exec_kept(kiln_store *st, const char *sql, kiln_err *err,
                     const char *what)
{
    sqlite3_stmt *s = kiln_store__stmt(st, sql, err, what);
    int rc;
    if (!s)
        return KILN_ERROR;
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : db_error(st, rc, err, what);
}

sqlite3_stmt *kiln_store__stmt(kiln_store *st, const char *sql,
                               kiln_err *err, const char *what)
{
    sqlite3_stmt *s;
    int rc;
    for (size_t i = 0; i < st->n_stmts; i++)
        if (st->stmts[i].sql == sql)
            return st->stmts[i].stmt;
    rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s,
                            NULL);
    if (rc != SQLITE_OK) {
        db_error(st, rc, err, what);
        return NULL;
    }
    if (st->n_stmts == st->cap_stmts) {
        st->cap_stmts = st->cap_stmts ? st->cap_stmts * 2 : 32;
        st->stmts = kiln_realloc(st->stmts,
                                 st->cap_stmts * sizeof(*st->stmts));
    }
    st->stmts[st->n_stmts].sql = sql;
    st->stmts[st->n_stmts].stmt = s;
    st->n_stmts++;
    return s;
}

int kiln_store__end(kiln_store *st, sqlite3_stmt *s, int rc, kiln_err *err,
                    const char *what)
{
    int code = rc == SQLITE_DONE || rc == SQLITE_ROW
                   ? 0 : db_error(st, rc, err, what);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return code;
}

int kiln_store__write(kiln_store *st, sqlite3_stmt *s, kiln_err *err,
                      const char *what)
{
    int rc = sqlite3_step(s);
    while (rc == SQLITE_ROW)
        rc = sqlite3_step(s);
    return kiln_store__end(st, s, rc, err, what);
}

int kiln_store__int(kiln_store *st, int64_t *out, sqlite3_stmt *s,
                    int64_t def, kiln_err *err, const char *what)
{
    int rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL
               ? sqlite3_column_int64(s, 0) : def;
    return kiln_store__end(st, s, rc, err, what);
}

void kiln_store__text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

void kiln_store__id(sqlite3_stmt *s, int i, int64_t v)
{
    if (v > 0)
        sqlite3_bind_int64(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

char *kiln_store__dup(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return t ? kiln_strdup((const char *)t) : NULL;
}

void kiln_store__bindv(sqlite3_stmt *s, const char *fmt, va_list ap)
{
    for (int i = 1; *fmt; fmt++, i++) {
        switch (*fmt) {
        case 's':
            kiln_store__text(s, i, va_arg(ap, const char *));
            break;
        case 'i':
        case 'b':
            sqlite3_bind_int(s, i, va_arg(ap, int));
            break;
        case 'I':
            sqlite3_bind_int64(s, i, va_arg(ap, int64_t));
            break;
        case 'n':
            kiln_store__id(s, i, va_arg(ap, int64_t));
            break;
        case 'e': {
            int v = va_arg(ap, int);
            if (v >= 0)
                sqlite3_bind_int(s, i, v);
            else
                sqlite3_bind_null(s, i);
            break;
        }
        case 'd':
            sqlite3_bind_double(s, i, va_arg(ap, double));
            break;
        default:
            kiln_fatal("kiln_store__bindv: bad format '%c'", *fmt);
        }
    }
}

/* The prepared statement of sql, bound from fmt and ap. */
static sqlite3_stmt *bound(kiln_store *st, kiln_err *err, const char *what,
                           const char *sql, const char *fmt, va_list ap)
{
    sqlite3_stmt *s = kiln_store__stmt(st, sql, err, what);
    if (s)
        kiln_store__bindv(s, fmt, ap);
    return s;
}

int kiln_store__run(kiln_store *st, kiln_err *err, const char *what,
                    const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *s;
    va_list ap;
    va_start(ap, fmt);
    s = bound(st, err, what, sql, fmt, ap);
    va_end(ap);
    return s ? kiln_store__write(st, s, err, what) : KILN_ERROR;
}

sqlite3_stmt *kiln_store__query(kiln_store *st, kiln_err *err,
                                const char *what, const char *sql,
                                const char *fmt, ...)
{
    sqlite3_stmt *s;
    va_list ap;
    va_start(ap, fmt);
    s = bound(st, err, what, sql, fmt, ap);
    va_end(ap);
    return s;
}

int kiln_store__rows(kiln_store *st, void *out, size_t *n, size_t elem,
                     void (*fill)(void *row, sqlite3_stmt *s),
                     void (*dispose)(void *row), kiln_err *err,
                     const char *what, const char *sql, const char *fmt,
                     ...)
{
    char **arr = out;
    sqlite3_stmt *s;
    size_t cap = 0;
    va_list ap;
    int rc;

    *arr = NULL;
    *n = 0;
    va_start(ap, fmt);
    s = bound(st, err, what, sql, fmt, ap);
    va_end(ap);
    if (!s)
        return KILN_ERROR;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *arr = kiln_realloc(*arr, cap * elem);
        }
        memset(*arr + *n * elem, 0, elem);
        fill(*arr + *n * elem, s);
        (*n)++;
    }
    if ((rc = kiln_store__end(st, s, rc, err, what)) != 0) {
        for (size_t i = 0; dispose && i < *n; i++)
            dispose(*arr + i * elem);
        free(*arr);
        *arr = NULL;
        *n = 0;
    }
    return rc;
}

/* Waiting for locks, and transactions. */

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
int kiln_store__begin(kiln_store *st, kiln_err *err, const char *what)
{
    char sql[32];
    int rc;
    if (st->depth == 0)
        rc = exec_kept(st, "BEGIN IMMEDIATE", err, what);
    else {
        snprintf(sql, sizeof(sql), "SAVEPOINT s%d", st->depth);
        rc = exec_sql(st, sql, err, what);
    }
    st->busy_since = 0;
    if (rc == 0)
        st->depth++;
    return rc;
}

void kiln_store__rollback(kiln_store *st)
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

int kiln_store__commit(kiln_store *st, kiln_err *err, const char *what)
{
    char sql[32];
    int rc;
    if (st->depth > 1) {
        snprintf(sql, sizeof(sql), "RELEASE s%d", st->depth - 1);
        rc = exec_sql(st, sql, err, what);
    } else
        rc = exec_kept(st, "COMMIT", err, what);
    if (rc != 0) {
        kiln_store__rollback(st);
        return rc;
    }
    st->depth--;
    return 0;
}

static int on_wal(void *data, sqlite3 *db, const char *name, int frames)
{
    kiln_store *st = data;
    (void)db;
    (void)name;
    st->wal_wanted(st->wal_data, frames);
    return SQLITE_OK;
}

void kiln_store_on_wal(kiln_store *st, void (*wanted)(void *data,
                                                      int frames),
                       void *data)
{
    st->wal_wanted = wanted;
    st->wal_data = data;
    /* The hook replaces SQLite's automatic checkpoint. */
    sqlite3_wal_hook(st->db, wanted ? on_wal : NULL, st);
    if (!wanted)
        sqlite3_wal_autocheckpoint(st->db, 1000); /* SQLite's default */
}

int kiln_store_checkpoint(const char *path, int *frames, int *copied,
                          kiln_err *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
                             SQLITE_OPEN_NOMUTEX, NULL);
    /* A connection opens the WAL at its first read: before, there is
     * nothing for it to checkpoint. */
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", NULL,
                          NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                       frames, copied);
    if (rc == SQLITE_BUSY)
        rc = SQLITE_OK; /* another checkpoint runs: it does the work */
    if (rc != SQLITE_OK)
        kiln_err_set(err, KILN_ERROR, "checkpointing %s: %s", path,
                     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : KILN_ERROR;
}

bool kiln_store_snapshot_begin(kiln_store *st)
{
    if (st->depth > 0 || !sqlite3_get_autocommit(st->db))
        return false;
    return sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
}

void kiln_store_snapshot_end(kiln_store *st, bool began)
{
    if (began && sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) !=
                     SQLITE_OK)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int kiln_store_begin(kiln_store *st, kiln_err *err)
{
    return kiln_store__begin(st, err, "recording");
}

int kiln_store_commit(kiln_store *st, kiln_err *err)
{
    return kiln_store__commit(st, err, "recording");
}

void kiln_store_rollback(kiln_store *st)
{
    kiln_store__rollback(st);
}

void kiln_store_set_patient(kiln_store *st, bool patient)
{
    st->patient = patient;
}

/* Opening. */

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
    if ((rc = kiln_store__begin(st, err, "migrating")) != 0)
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
    return kiln_store__commit(st, err, "migrating");
fail:
    kiln_store__rollback(st);
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
    /* A new database gives freed pages back to the file after retention
     * deletes rows (PRAGMA incremental_vacuum, retention.c); an older
     * one is switched by kiln gc --runs's one VACUUM. Set before WAL and
     * the first table, as SQLite requires; a no-op on other files. */
    if ((rc = exec_sql(st, "PRAGMA auto_vacuum = INCREMENTAL", err,
                       "opening the database")) != 0)
        return rc;
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
    struct stat sb;
    int rc;

    *out = NULL;
    st->path = kiln_strdup(path);
    st->readonly = readonly;
    st->busy_limit_ms = busy_limit_ms();
    /* SQLite calls a directory "unable to open" or "disk I/O error". */
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        rc = kiln_err_set(err, KILN_ERROR, "opening the database: %s is "
                          "not a file (it is %s)", path,
                          kiln_file_kind(sb.st_mode));
        goto fail;
    }
    rc = readonly ? open_readonly(st, err) : open_readwrite(st, err);
    if (rc != 0)
        goto fail;
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
    for (size_t i = 0; i < st->n_stmts; i++)
        sqlite3_finalize(st->stmts[i].stmt);
    free(st->stmts);
    sqlite3_close(st->db);
    free(st->path);
    free(st);
}

const char *kiln_store_path(const kiln_store *st)
{
    return st->path;
}

uint64_t kiln_store_version(kiln_store *st, bool others)
{
    static const char sql[] = "PRAGMA data_version";
    sqlite3_stmt *s;
    if (others && (s = kiln_store__stmt(st, sql, NULL, "")) != NULL) {
        if (sqlite3_step(s) == SQLITE_ROW)
            st->data_version = (uint64_t)sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
    }
    /* data_version moves with other connections' commits, the change
     * count with this one's. */
    return (st->data_version << 40) ^
           (uint64_t)sqlite3_total_changes64(st->db);
}
