/*
 * lineage.c: artifacts (a path and a content hash, shared by every
 * execution that used or made it) and the input/output events linking
 * them to executions (ML Metadata's model), and where a lineage query
 * starts: an artifact, or a model version of the registry (its artifact
 * and the run that registered it). The lineage walk itself is a JSON view
 * (json.c).
 */
#include "internal.h"

#include "base/hash.h"

#include <stdlib.h>
#include <string.h>

static const char SQL_ARTIFACT[] =
    "INSERT INTO artifacts (path, sha256, size, type, is_dir, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (path, sha256) DO UPDATE "
    "SET type = CASE WHEN artifacts.type = 'file' THEN excluded.type "
    "ELSE artifacts.type END RETURNING id";
static const char SQL_EVENT[] =
    "INSERT OR IGNORE INTO events (execution_id, artifact_id, type) "
    "VALUES (?1, ?2, ?3)";
static const char SQL_BY_ID[] =
    "SELECT id FROM artifacts WHERE id = ?1";
/* By hash: the artifact last written or read of those with the bytes,
 * outside reproductions' scratch trees when there is one (?2: the run,
 * 0: any). */
static const char SQL_BY_PREFIX[] =
    "SELECT (SELECT a.id FROM artifacts a JOIN events e ON e.artifact_id = "
    "a.id JOIN executions x ON x.id = e.execution_id JOIN runs r ON r.id = "
    "x.run_id WHERE a.sha256 LIKE ?1 AND (?2 = 0 OR x.run_id = ?2) ORDER BY "
    "r.trigger = 'reproduce', e.type = 'output' DESC, x.id DESC LIMIT 1), "
    "(SELECT count(DISTINCT sha256) FROM artifacts WHERE sha256 LIKE ?1), "
    "(SELECT max(id) FROM artifacts WHERE sha256 LIKE ?1)";
/* By path: the artifact with sha ?2 (the bytes there now) when recorded;
 * else the one last made (then read) there, in run ?3 when given. */
static const char SQL_BY_PATH[] =
    "SELECT coalesce((SELECT id FROM artifacts WHERE path = ?1 AND sha256 = "
    "?2 AND (?3 = 0 OR EXISTS (SELECT 1 FROM events e JOIN executions x ON "
    "x.id = e.execution_id WHERE e.artifact_id = artifacts.id AND x.run_id "
    "= ?3))), (SELECT a.id FROM artifacts a JOIN events e ON e.artifact_id "
    "= a.id JOIN executions x ON x.id = e.execution_id WHERE a.path = ?1 "
    "AND (?3 = 0 OR x.run_id = ?3) ORDER BY e.type = 'output' DESC, x.id "
    "DESC LIMIT 1), (SELECT max(id) FROM artifacts WHERE path = ?1 AND ?3 "
    "= 0))";
/* A version by number (?3) or by alias (?2), with the run that
 * registered it. */
static const char SQL_MODEL_REF[] =
    "SELECT m.version, m.artifact_id, coalesce(m.run_id, (SELECT x.run_id "
    "FROM executions x WHERE x.id = m.execution_id), 0) FROM models m "
    "WHERE m.name = ?1 AND m.version = CASE WHEN ?2 IS NULL THEN ?3 ELSE "
    "(SELECT a.version FROM model_aliases a WHERE a.name = ?1 AND "
    "a.alias = ?2 AND a.rolled_back = 0 ORDER BY a.id DESC LIMIT 1) END";
static const char SQL_MODEL_KNOWN[] =
    "SELECT count(*) FROM models WHERE name = ?1";

int kiln_store_record_artifacts(kiln_store *st, int64_t exec_id,
                                const kiln_artifact_rec *recs, size_t n,
                                kiln_err *err)
{
    const char *what = "recording artifacts";
    int rc;
    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_stmt *s = kiln_store__query(
            st, err, what, SQL_ARTIFACT, "ssIsbI", recs[i].path,
            recs[i].sha256, recs[i].size, recs[i].type, recs[i].is_dir,
            kiln_now_ms());
        int64_t id = 0;
        rc = s ? kiln_store__int(st, &id, s, 0, err, what) : KILN_ERROR;
        if (rc == 0)
            rc = kiln_store__run(st, err, what, SQL_EVENT, "IIs", exec_id,
                                 id, recs[i].output ? "output" : "input");
    }
    if (rc != 0) {
        kiln_store__rollback(st);
        return rc;
    }
    return kiln_store__commit(st, err, what);
}

int kiln_store_artifact_find(kiln_store *st, int64_t *out,
                             const char *query, int64_t run, kiln_err *err)
{
    const char *what = "finding an artifact";
    size_t len = strlen(query), hex = strspn(query, "0123456789abcdef");
    sqlite3_stmt *s;
    int64_t found = 0;
    char *end, *arg;
    long long id = strtoll(query, &end, 10);
    int rc;

    *out = 0;
    if (len && *end == '\0' && id > 0 && len < 12) {
        if (!(s = kiln_store__stmt(st, SQL_BY_ID, err, what)))
            return KILN_ERROR;
        sqlite3_bind_int64(s, 1, id);
    } else if (hex == len && len >= 6 && len <= 64) {
        arg = kiln_asprintf("%s%%", query);
        s = kiln_store__query(st, err, what, SQL_BY_PREFIX, "sI", arg, run);
        free(arg);
        if (!s)
            return KILN_ERROR;
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW && sqlite3_column_int64(s, 1) > 1) {
            kiln_store__end(st, s, rc, err, what);
            return kiln_err_set(err, KILN_EINVAL, "hash prefix %s is "
                                "ambiguous: give more digits", query);
        }
        if (rc == SQLITE_ROW)
            found = sqlite3_column_int64(s, 0) ? sqlite3_column_int64(s, 0)
                    : run ? 0 : sqlite3_column_int64(s, 2);
        if ((rc = kiln_store__end(st, s, rc, err, what)) != 0)
            return rc;
        s = NULL;
    } else if (hex == len && len > 0 && len < 6) {
        return kiln_err_set(err, KILN_EINVAL, "hash prefix %s is too short: "
                            "give 6 or more hex digits", query);
    } else {
        /* The bytes at the path now, when kiln recorded them there. */
        char sha[KILN_HASH_HEX] = "";
        kiln_err herr = KILN_ERR_INIT;
        arg = kiln_path_absolute(query);
        if (kiln_hash_file(sha, arg, &herr) != 0)
            sha[0] = '\0';
        s = kiln_store__query(st, err, what, SQL_BY_PATH, "ssI", arg, sha,
                              run);
        free(arg);
        if (!s)
            return KILN_ERROR;
    }
    if (s && (rc = kiln_store__int(st, &found, s, 0, err, what)) != 0)
        return rc;
    if (!found && run)
        return kiln_err_set(err, KILN_ENOTFOUND, "run %lld neither made nor "
                            "used %s", (long long)run, query);
    if (!found)
        return kiln_err_set(err, KILN_ENOTFOUND, "no artifact %s recorded "
                            "in %s", query, st->path);
    *out = found;
    return 0;
}

int kiln_store_model_ref_find(kiln_store *st, kiln_model_entry *out,
                              const char *name, const char *alias,
                              int version, kiln_err *err)
{
    const char *what = "finding a model version";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_MODEL_REF, "ssi",
                                        name, alias, version);
    int64_t known = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!s)
        return KILN_ERROR;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        out->version = sqlite3_column_int(s, 0);
        out->artifact_id = sqlite3_column_int64(s, 1);
        out->run_id = sqlite3_column_int64(s, 2);
    }
    if ((rc = kiln_store__end(st, s, rc, err, what)) != 0)
        return rc;
    if (out->artifact_id)
        return 0;
    s = kiln_store__query(st, err, what, SQL_MODEL_KNOWN, "s", name);
    if (!s || (rc = kiln_store__int(st, &known, s, 0, err, what)) != 0)
        return s ? rc : KILN_ERROR;
    if (!known)
        return kiln_err_set(err, KILN_ENOTFOUND, "no model %s in the "
                            "registry of %s", name, st->path);
    if (alias)
        return kiln_err_set(err, KILN_ENOTFOUND, "model %s has no alias %s",
                            name, alias);
    return kiln_err_set(err, KILN_ENOTFOUND, "model %s has no version %d",
                        name, version);
}
