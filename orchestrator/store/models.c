/*
 * models.c: the model registry. A version is an artifact a run made; an
 * alias (production, staging...) has a history of rows, the newest one
 * not rolled back being where it points.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_NEXT_VERSION[] =
    "SELECT coalesce(max(version), 0) + 1 FROM models WHERE name = ?1";
static const char SQL_REGISTER[] =
    "INSERT INTO models (name, version, artifact_id, run_id, execution_id, "
    "git_commit, metrics, created_at) SELECT ?1, ?2, (SELECT id FROM "
    "artifacts WHERE path = ?3 AND sha256 = ?4), ?5, ?6, (SELECT git_commit "
    "FROM runs WHERE id = ?5), (SELECT coalesce(json_group_object(step || "
    "'.' || key, value), '{}') FROM metrics WHERE run_id = ?5), ?7";
/* The newest version, when it has these bytes: made again, they are not
 * a new version. */
static const char SQL_SAME_AS_NEWEST[] =
    "SELECT m.version FROM models m JOIN artifacts a ON a.id = "
    "m.artifact_id WHERE m.name = ?1 AND a.sha256 = ?2 AND m.version = "
    "(SELECT max(version) FROM models WHERE name = ?1)";
static const char SQL_HAS_VERSION[] =
    "SELECT count(*) FROM models WHERE name = ?1 AND version = ?2";
static const char SQL_ALIAS_SET[] =
    "INSERT INTO model_aliases (name, alias, version, set_at) "
    "VALUES (?1, ?2, ?3, ?4)";
static const char SQL_ALIAS_LAST2[] =
    "SELECT id, version FROM model_aliases WHERE name = ?1 AND alias = ?2 "
    "AND rolled_back = 0 ORDER BY id DESC LIMIT 2";
static const char SQL_VERSION_BY_ALIAS[] =
    "SELECT version FROM model_aliases WHERE name = ?1 AND alias = ?2 AND "
    "rolled_back = 0 ORDER BY id DESC LIMIT 1";
static const char SQL_VERSION[] =
    "SELECT m.version, a.path, a.sha256, a.is_dir, a.size, m.artifact_id, "
    "m.run_id, m.execution_id, m.git_commit FROM models m JOIN artifacts a "
    "ON a.id = m.artifact_id WHERE m.name = ?1 AND m.version = ?2";
static const char SQL_HOOK_SET[] =
    "INSERT INTO model_hooks (name, command, workdir, updated_at, "
    "timeout_ms) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE "
    "SET command = excluded.command, workdir = excluded.workdir, "
    "updated_at = excluded.updated_at, timeout_ms = excluded.timeout_ms";
static const char SQL_HOOK_CLEAR[] =
    "DELETE FROM model_hooks WHERE name = ?1";
static const char SQL_HOOK_GET[] =
    "SELECT command, workdir, timeout_ms FROM model_hooks WHERE name = ?1";
static const char SQL_ALIAS_UNDO[] =
    "UPDATE model_aliases SET rolled_back = 1 WHERE id = ?1";
static const char SQL_ALIASES[] =
    "SELECT c.name, c.alias, c.version, p.path, p.sha256, p.is_dir FROM "
    "(SELECT a.name, a.alias, a.version FROM model_aliases a WHERE a.id IN "
    "(" KILN_STORE__ALIASES_IN_FORCE ")) c JOIN models m ON "
    "m.name = c.name AND m.version = c.version JOIN artifacts p ON "
    "p.id = m.artifact_id ORDER BY c.name, c.alias";

int kiln_store_model_register(kiln_store *st, int *out_version,
                              const char *name, const char *path,
                              const char *sha256, int64_t run_id,
                              int64_t exec_id, kiln_err *err)
{
    const char *what = "registering a model";
    sqlite3_stmt *s;
    int64_t version = 1;
    int rc;

    *out_version = 0;
    s = kiln_store__query(st, err, what, SQL_SAME_AS_NEWEST, "ss", name,
                          sha256);
    if (!s || (rc = kiln_store__int(st, &version, s, 0, err, what)) != 0)
        return KILN_ERROR;
    if (version > 0) {
        *out_version = -(int)version;
        return 0;
    }
    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    s = kiln_store__query(st, err, what, SQL_NEXT_VERSION, "s", name);
    rc = s ? kiln_store__int(st, &version, s, 1, err, what) : KILN_ERROR;
    if (rc == 0)
        rc = kiln_store__run(st, err, what, SQL_REGISTER, "sIssIII", name,
                             version, path, sha256, run_id, exec_id,
                             kiln_now_ms());
    if (rc != 0) {
        kiln_store__rollback(st);
        return rc;
    }
    *out_version = (int)version;
    return kiln_store__commit(st, err, what);
}

/* The audit row of an alias moving from version from (0: it pointed
 * nowhere) to version to. */
static int audit_move(kiln_store *st, const kiln_audit_who *who,
                      const char *action, const char *name,
                      const char *alias, int64_t from, int64_t to,
                      kiln_err *err)
{
    char *target = kiln_asprintf("model %s %s", name, alias);
    char before[48], after[48];
    int rc;
    snprintf(before, sizeof(before), "{\"version\":%lld}", (long long)from);
    snprintf(after, sizeof(after), "{\"version\":%lld}", (long long)to);
    rc = kiln_store_audit(st, who->actor, who->via, action, target,
                          from > 0 ? before : NULL, after, err);
    free(target);
    return rc;
}

int kiln_store_model_promote(kiln_store *st, const char *name, int version,
                             const char *alias, const kiln_audit_who *who,
                             kiln_err *err)
{
    const char *what = "updating the model registry";
    sqlite3_stmt *s;
    int64_t n = 0, from = 0;
    int rc;

    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    s = kiln_store__query(st, err, what, SQL_HAS_VERSION, "si", name,
                          version);
    rc = s ? kiln_store__int(st, &n, s, 0, err, what) : KILN_ERROR;
    if (rc == 0 && n == 0)
        rc = kiln_err_set(err, KILN_ENOTFOUND, "model %s has no version "
                          "%d", name, version);
    if (rc == 0 && who) {
        s = kiln_store__query(st, err, what, SQL_VERSION_BY_ALIAS, "ss", name,
                              alias);
        rc = s ? kiln_store__int(st, &from, s, 0, err, what) : KILN_ERROR;
    }
    if (rc == 0)
        rc = kiln_store__run(st, err, what, SQL_ALIAS_SET, "ssiI", name,
                             alias, version, kiln_now_ms());
    if (rc == 0 && who)
        rc = audit_move(st, who, "alias.moved", name, alias, from, version,
                        err);
    if (rc != 0) {
        kiln_store__rollback(st);
        return rc;
    }
    return kiln_store__commit(st, err, what);
}

int kiln_store_model_retire(kiln_store *st, int *out_version,
                            const char *name, const char *alias,
                            const kiln_audit_who *who, kiln_err *err)
{
    const char *what = "retiring an alias";
    sqlite3_stmt *s;
    int64_t from = 0;
    int rc;

    *out_version = 0;
    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    s = kiln_store__query(st, err, what, SQL_VERSION_BY_ALIAS, "ss", name,
                          alias);
    rc = s ? kiln_store__int(st, &from, s, 0, err, what) : KILN_ERROR;
    /* Version 0: the alias points nowhere (it was, so rollback brings
     * it back); nothing to do when it points nowhere already. */
    if (rc == 0 && from > 0)
        rc = kiln_store__run(st, err, what, SQL_ALIAS_SET, "ssiI", name,
                             alias, 0, kiln_now_ms());
    if (rc == 0 && from > 0 && who)
        rc = audit_move(st, who, "alias.retired", name, alias, from, 0, err);
    if (rc != 0) {
        kiln_store__rollback(st);
        return rc;
    }
    *out_version = (int)from;
    return kiln_store__commit(st, err, what);
}

/* The rows of an alias still in force, newest first: ids and versions,
 * at most 2. */
static int alias_last2(kiln_store *st, size_t *n, int64_t ids[2],
                       int64_t versions[2], const char *name,
                       const char *alias, kiln_err *err, const char *what)
{
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_ALIAS_LAST2,
                                        "ss", name, alias);
    int rc;
    *n = 0;
    if (!s)
        return KILN_ERROR;
    while (*n < 2 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        ids[*n] = sqlite3_column_int64(s, 0);
        versions[*n] = sqlite3_column_int64(s, 1);
        (*n)++;
    }
    if ((rc = kiln_store__end(st, s, rc, err, what)) == 0 && *n < 2)
        rc = kiln_err_set(err, KILN_ENOTFOUND, "%s of model %s has no "
                          "earlier version to roll back to", alias, name);
    return rc;
}

int kiln_store_model_rollback_target(kiln_store *st, int *out_version,
                                     const char *name, const char *alias,
                                     kiln_err *err)
{
    int64_t ids[2], versions[2];
    size_t n;
    int rc = alias_last2(st, &n, ids, versions, name, alias, err,
                         "looking up a rollback");
    if (rc == 0)
        *out_version = (int)versions[1];
    return rc;
}

int kiln_store_model_rollback(kiln_store *st, int *out_version,
                              const char *name, const char *alias,
                              const kiln_audit_who *who, kiln_err *err)
{
    const char *what = "rolling back";
    int64_t ids[2], versions[2];
    size_t n = 0;
    int rc;

    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    /* The alias's two newest rows still in force. */
    rc = alias_last2(st, &n, ids, versions, name, alias, err, what);
    if (rc == 0)
        rc = kiln_store__run(st, err, what, SQL_ALIAS_UNDO, "I", ids[0]);
    if (rc == 0 && who)
        rc = audit_move(st, who, "alias.rolled_back", name, alias,
                        versions[0], versions[1], err);
    if (rc != 0) {
        kiln_store__rollback(st);
        return rc;
    }
    *out_version = (int)versions[1];
    return kiln_store__commit(st, err, what);
}

static void fill_alias(void *row, sqlite3_stmt *s)
{
    kiln_model_alias *a = row;
    a->name = kiln_store__dup(s, 0);
    a->alias = kiln_store__dup(s, 1);
    a->version = sqlite3_column_int(s, 2);
    a->path = kiln_store__dup(s, 3);
    a->sha256 = kiln_store__dup(s, 4);
    a->is_dir = sqlite3_column_int(s, 5) != 0;
}

static void dispose_alias(void *row)
{
    kiln_model_alias *a = row;
    free(a->name);
    free(a->alias);
    free(a->path);
    free(a->sha256);
}

int kiln_store_model_aliases(kiln_model_alias **out, size_t *n,
                             kiln_store *st, kiln_err *err)
{
    return kiln_store__rows(st, out, n, sizeof(**out), fill_alias,
                            dispose_alias, err, "reading model aliases",
                            SQL_ALIASES, "");
}

void kiln_model_aliases_free(kiln_model_alias *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dispose_alias(&a[i]);
    free(a);
}

int kiln_store_model_find(kiln_store *st, kiln_model_version *out,
                          const char *name, const char *alias, int version,
                          kiln_err *err)
{
    const char *what = "reading the model registry";
    sqlite3_stmt *s;
    int64_t v = version;
    int rc;

    memset(out, 0, sizeof(*out));
    if (alias) {
        s = kiln_store__query(st, err, what, SQL_VERSION_BY_ALIAS, "ss", name,
                              alias);
        if (!s || (rc = kiln_store__int(st, &v, s, 0, err, what)) != 0)
            return KILN_ERROR;
        if (v == 0)
            return kiln_err_set(err, KILN_ENOTFOUND, "model %s has no alias "
                                "%s", name, alias);
    }
    if (!(s = kiln_store__query(st, err, what, SQL_VERSION, "sI", name, v)))
        return KILN_ERROR;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        out->name = kiln_strdup(name);
        out->version = sqlite3_column_int(s, 0);
        out->path = kiln_store__dup(s, 1);
        out->sha256 = kiln_store__dup(s, 2);
        out->is_dir = sqlite3_column_int(s, 3) != 0;
        out->size = sqlite3_column_int64(s, 4);
        out->artifact_id = sqlite3_column_int64(s, 5);
        out->run_id = sqlite3_column_int64(s, 6);
        out->exec_id = sqlite3_column_int64(s, 7);
        out->git_commit = kiln_store__dup(s, 8);
    }
    if ((rc = kiln_store__end(st, s, rc, err, what)) != 0)
        return rc;
    if (!out->name)
        return kiln_err_set(err, KILN_ENOTFOUND, "model %s has no version "
                            "%lld", name, (long long)v);
    return 0;
}

void kiln_model_version_dispose(kiln_model_version *v)
{
    free(v->name);
    free(v->path);
    free(v->sha256);
    free(v->git_commit);
    memset(v, 0, sizeof(*v));
}

int kiln_store_model_hook_set(kiln_store *st, const char *name,
                              const char *command, const char *workdir,
                              int64_t timeout_ms, kiln_err *err)
{
    if (!command)
        return kiln_store__run(st, err, "forgetting a deploy command",
                               SQL_HOOK_CLEAR, "s", name);
    return kiln_store__run(st, err, "recording a deploy command",
                           SQL_HOOK_SET, "sssIn", name, command, workdir,
                           kiln_now_ms(), timeout_ms);
}

int kiln_store_model_hook_get(kiln_store *st, char **command, char **workdir,
                              int64_t *timeout_ms, const char *name,
                              kiln_err *err)
{
    const char *what = "reading a deploy command";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_HOOK_GET, "s",
                                        name);
    int rc;
    *command = *workdir = NULL;
    if (timeout_ms)
        *timeout_ms = 0;
    if (!s)
        return KILN_ERROR;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        *command = kiln_store__dup(s, 0);
        *workdir = kiln_store__dup(s, 1);
        if (timeout_ms)
            *timeout_ms = sqlite3_column_int64(s, 2);
    }
    return kiln_store__end(st, s, rc, err, what);
}
