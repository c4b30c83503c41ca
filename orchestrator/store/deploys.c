/*
 * deploys.c: a model's deploy commands (engine/registry.c runs them), one
 * row each, written before the command starts and settled once it ended.
 * A kiln killed in between leaves the row open with its kiln-shim's pid,
 * and the shim leaves a status file: the kiln that settles it reads how
 * the command ended there and moves the alias or not, in the transaction
 * that settles the row, without running the command a second time.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define DEPLOY_COLUMNS                                                      \
    "id, model, alias, version, rollback, actor, via, execution_id, pid, "  \
    "pid_start, started_at, ended_at, outcome, detail, deadline"

static const char SQL_ADD[] =
    "INSERT INTO deploys (model, alias, version, rollback, actor, via, "
    "execution_id, started_at, deadline) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
    "?7, ?8, ?9)";
static const char SQL_STARTED[] =
    "UPDATE deploys SET pid = ?2, pid_start = ?3 WHERE id = ?1 AND "
    "outcome IS NULL";
static const char SQL_SETTLE[] =
    "UPDATE deploys SET outcome = ?2, detail = ?3, ended_at = ?4 "
    "WHERE id = ?1 AND outcome IS NULL";
static const char SQL_OPEN[] =
    "SELECT " DEPLOY_COLUMNS " FROM deploys WHERE outcome IS NULL AND "
    "(?1 IS NULL OR model = ?1) ORDER BY id";
static const char SQL_OF_VERSION[] =
    "SELECT " DEPLOY_COLUMNS " FROM deploys WHERE model = ?1 AND "
    "(?2 = 0 OR version = ?2) ORDER BY id";
static const char SQL_GET[] =
    "SELECT " DEPLOY_COLUMNS " FROM deploys WHERE id = ?1";
static const char SQL_OF_EXECUTION[] =
    "SELECT " DEPLOY_COLUMNS " FROM deploys WHERE execution_id = ?1 "
    "ORDER BY id DESC LIMIT 1";

void kiln_deploy_dispose(kiln_deploy *d)
{
    free(d->model);
    free(d->alias);
    free(d->actor);
    free(d->via);
    free(d->outcome);
    free(d->detail);
    memset(d, 0, sizeof(*d));
}

void kiln_deploys_free(kiln_deploy *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kiln_deploy_dispose(&d[i]);
    free(d);
}

static void fill(void *row, sqlite3_stmt *s)
{
    kiln_deploy *d = row;
    d->id = sqlite3_column_int64(s, 0);
    d->model = kiln_store__dup(s, 1);
    d->alias = kiln_store__dup(s, 2);
    d->version = sqlite3_column_int(s, 3);
    d->rollback = sqlite3_column_int(s, 4) != 0;
    d->actor = kiln_store__dup(s, 5);
    d->via = kiln_store__dup(s, 6);
    d->execution_id = sqlite3_column_int64(s, 7);
    d->pid = sqlite3_column_int(s, 8);
    d->pid_start = (uint64_t)sqlite3_column_int64(s, 9);
    d->started_ms = sqlite3_column_int64(s, 10);
    d->ended_ms = sqlite3_column_int64(s, 11);
    d->outcome = kiln_store__dup(s, 12);
    d->detail = kiln_store__dup(s, 13);
    d->deadline_ms = sqlite3_column_int64(s, 14);
}

static void dispose(void *row)
{
    kiln_deploy_dispose(row);
}

int kiln_store_deploy_add(kiln_store *st, int64_t *id, const kiln_deploy *d,
                          kiln_err *err)
{
    const char *what = "recording a deploy command";
    int rc = kiln_store__run(st, err, what, SQL_ADD, "ssibssnIn", d->model,
                             d->alias, d->version, d->rollback, d->actor,
                             d->via, d->execution_id,
                             d->started_ms ? d->started_ms : kiln_now_ms(),
                             d->deadline_ms);
    *id = rc == 0 ? sqlite3_last_insert_rowid(st->db) : 0;
    return rc;
}

int kiln_store_deploy_started(kiln_store *st, bool *open, int64_t id,
                              int pid, uint64_t pid_start, kiln_err *err)
{
    int rc = kiln_store__run(st, err, "recording a deploy command",
                             SQL_STARTED, "IiI", id, pid, (int64_t)pid_start);
    *open = rc == 0 && sqlite3_changes(st->db) > 0;
    return rc;
}

int kiln_store_deploy_settle(kiln_store *st, bool *settled, int64_t id,
                             const char *outcome, const char *detail,
                             kiln_err *err)
{
    int rc = kiln_store__run(st, err, "settling a deploy command", SQL_SETTLE,
                             "IssI", id, outcome, detail, kiln_now_ms());
    *settled = rc == 0 && sqlite3_changes(st->db) > 0;
    return rc;
}

int kiln_store_deploys_open(kiln_deploy **out, size_t *n, kiln_store *st,
                            const char *model, kiln_err *err)
{
    *out = NULL;
    *n = 0;
    return kiln_store__rows(st, out, n, sizeof(kiln_deploy), fill, dispose,
                            err, "reading the deploy commands", SQL_OPEN, "s",
                            model);
}

int kiln_store_deploys_of(kiln_deploy **out, size_t *n, kiln_store *st,
                          const char *model, int version, kiln_err *err)
{
    *out = NULL;
    *n = 0;
    return kiln_store__rows(st, out, n, sizeof(kiln_deploy), fill, dispose,
                            err, "reading the deploy commands",
                            SQL_OF_VERSION, "si", model, version);
}

/* The row of sql (bound to id) in out; out->id 0 when there is none. */
static int one(kiln_store *st, kiln_deploy *out, const char *sql, int64_t id,
               kiln_err *err)
{
    const char *what = "reading the deploy commands";
    sqlite3_stmt *s;
    int rc;
    memset(out, 0, sizeof(*out));
    if (!(s = kiln_store__query(st, err, what, sql, "I", id)))
        return KILN_ERROR;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        fill(out, s);
    return kiln_store__end(st, s, rc, err, what);
}

int kiln_store_deploy_get(kiln_store *st, kiln_deploy *out, int64_t id,
                          kiln_err *err)
{
    return one(st, out, SQL_GET, id, err);
}

int kiln_store_deploy_of_execution(kiln_store *st, kiln_deploy *out,
                                   int64_t execution_id, kiln_err *err)
{
    return one(st, out, SQL_OF_EXECUTION, execution_id, err);
}
