/*
 * cache.c: the step cache's record: which execution made which outputs
 * under which key, and executions that reused them (cache hits, a
 * retry's reuse). The objects themselves live in STATE/objects
 * (engine/cache.c).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char SQL_SET_KEY[] =
    "UPDATE executions SET cache_key = ?2 WHERE id = ?1";
static const char SQL_OUTPUT_PUT[] =
    "INSERT OR REPLACE INTO cache_outputs (execution_id, rel_path, sha256) "
    "VALUES (?1, ?2, ?3)";
static const char SQL_LOOKUP[] =
    "SELECT id, run_id FROM executions WHERE cache_key = ?1 AND status IN "
    "(?2, ?3) ORDER BY id DESC LIMIT 1";
static const char SQL_OUTPUTS[] =
    "SELECT rel_path, sha256 FROM cache_outputs WHERE execution_id = ?1 "
    "ORDER BY rel_path";
static const char SQL_HIT[] =
    "UPDATE executions SET cache_key = ?2, cached_from = ?3 WHERE id = ?1";
static const char SQL_HIT_OUTPUTS[] =
    "INSERT INTO cache_outputs SELECT ?1, rel_path, sha256 FROM "
    "cache_outputs WHERE execution_id = ?2";
static const char SQL_HIT_METRICS[] =
    "INSERT OR REPLACE INTO metrics SELECT ?1, (SELECT run_id FROM "
    "executions WHERE id = ?1), step, key, value FROM metrics "
    "WHERE execution_id = ?2";
static const char SQL_REUSE_EVENTS[] =
    "INSERT INTO events (execution_id, artifact_id, type) SELECT ?1, "
    "artifact_id, type FROM events WHERE execution_id = ?2";
static const char SQL_LAST_MADE[] =
    "SELECT x.id, x.run_id FROM executions x JOIN runs r ON r.id = "
    "x.run_id WHERE r.pipeline = ?1 AND x.step = ?2 AND x.status IN "
    "(?3, ?4) ORDER BY x.id DESC LIMIT 1";
static const char SQL_MADE_OUTPUTS[] =
    "SELECT a.path, a.sha256 FROM events e JOIN artifacts a ON a.id = "
    "e.artifact_id WHERE e.execution_id = ?1 AND e.type = 'output' "
    "ORDER BY a.path";
static const char SQL_EXEC_RUN[] =
    "SELECT run_id FROM executions WHERE id = ?1";
/* A row whose sha256 holds ':' is a symlink or an empty directory
 * (engine/cache.h), which names no object. */
static const char SQL_OBJECTS[] =
    "SELECT DISTINCT o.sha256 FROM cache_outputs o JOIN executions x ON "
    "x.id = o.execution_id WHERE x.cache_key IS NOT NULL AND "
    "instr(o.sha256, ':') = 0";
static const char SQL_ENTRIES[] =
    "SELECT DISTINCT o.execution_id, o.sha256 FROM cache_outputs o JOIN "
    "executions x ON x.id = o.execution_id WHERE x.cache_key IS NOT NULL "
    "AND instr(o.sha256, ':') = 0";
static const char SQL_FORGET[] =
    "UPDATE executions SET cache_key = NULL WHERE id = ?1";

int kiln_store_cache_save(kiln_store *st, int64_t exec_id, const char *key,
                          size_t n, char *const *rel, char *const *sha,
                          kiln_err *err)
{
    const char *what = "recording a cache entry";
    int rc;
    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    rc = kiln_store__run(st, err, what, SQL_SET_KEY, "Is", exec_id, key);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = kiln_store__run(st, err, what, SQL_OUTPUT_PUT, "Iss", exec_id,
                             rel[i], sha[i]);
    if (rc != 0) {
        kiln_store__rollback(st);
        return rc;
    }
    return kiln_store__commit(st, err, what);
}

/* The execution s finds (its id and run's; s is stepped and ended) and
 * its outputs as outputs_sql lists them, into out. KILN_ENOTFOUND when s
 * finds none. */
static int entry_of(kiln_store *st, kiln_cache_entry *out, sqlite3_stmt *s,
                    const char *outputs_sql, const char *what, kiln_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!s)
        return KILN_ERROR;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->exec_id = sqlite3_column_int64(s, 0);
        out->run_id = sqlite3_column_int64(s, 1);
    }
    if ((rc = kiln_store__end(st, s, rc, err, what)) != 0)
        return rc;
    if (!out->exec_id)
        return KILN_ENOTFOUND;
    if (!(s = kiln_store__query(st, err, what, outputs_sql, "I",
                                out->exec_id)))
        return KILN_ERROR;
    if ((rc = kiln_store__file_rows(st, s, &out->n, &out->rel, &out->sha256,
                                    err, what)) != 0)
        kiln_cache_entry_dispose(out);
    return rc;
}

int kiln_store_cache_lookup(kiln_store *st, kiln_cache_entry *out,
                            const char *key, kiln_err *err)
{
    const char *what = "looking up the cache";
    sqlite3_stmt *s = kiln_store__query(
        st, err, what, SQL_LOOKUP, "sss", key,
        kiln_exec_state_name(KILN_EXEC_SUCCEEDED),
        kiln_exec_state_name(KILN_EXEC_CACHED));

    return entry_of(st, out, s, SQL_OUTPUTS, what, err);
}

void kiln_cache_entry_dispose(kiln_cache_entry *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->rel[i]);
        free(e->sha256[i]);
    }
    free(e->rel);
    free(e->sha256);
    memset(e, 0, sizeof(*e));
}

int kiln_store_cache_hit(kiln_store *st, int64_t exec_id, int64_t from_exec,
                         const char *key, kiln_err *err)
{
    const char *what = "recording a cache hit";
    int rc;
    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    if ((rc = kiln_store__run(st, err, what, SQL_HIT, "IsI", exec_id, key,
                              from_exec)) != 0 ||
        (rc = kiln_store__run(st, err, what, SQL_HIT_OUTPUTS, "II", exec_id,
                              from_exec)) != 0 ||
        (rc = kiln_store__run(st, err, what, SQL_HIT_METRICS, "II", exec_id,
                              from_exec)) != 0) {
        kiln_store__rollback(st);
        return rc;
    }
    return kiln_store__commit(st, err, what);
}

int kiln_store_exec_reuse(kiln_store *st, int64_t exec_id, int64_t from_exec,
                          kiln_err *err)
{
    const char *what = "recording a reused execution";
    int rc;
    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    /* Lineage: the same artifacts, used and made by this execution. */
    if ((rc = kiln_store_cache_hit(st, exec_id, from_exec, NULL,
                                   err)) != 0 ||
        (rc = kiln_store__run(st, err, what, SQL_REUSE_EVENTS, "II", exec_id,
                              from_exec)) != 0) {
        kiln_store__rollback(st);
        return rc;
    }
    return kiln_store__commit(st, err, what);
}

int kiln_store_last_made(kiln_store *st, kiln_cache_entry *out,
                         const char *pipeline, const char *step,
                         kiln_err *err)
{
    const char *what = "looking up the last run of a step";
    sqlite3_stmt *s = kiln_store__query(
        st, err, what, SQL_LAST_MADE, "ssss", pipeline, step,
        kiln_exec_state_name(KILN_EXEC_SUCCEEDED),
        kiln_exec_state_name(KILN_EXEC_CACHED));

    return entry_of(st, out, s, SQL_MADE_OUTPUTS, what, err);
}

int kiln_store_exec_run(kiln_store *st, int64_t *out, int64_t exec_id,
                        kiln_err *err)
{
    const char *what = "looking up an execution's run";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_EXEC_RUN, "I",
                                        exec_id);
    int rc;
    *out = 0;
    if (!s)
        return KILN_ERROR;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    return kiln_store__end(st, s, rc, err, what);
}

static void fill_sha(void *row, sqlite3_stmt *s)
{
    *(char **)row = kiln_store__dup(s, 0);
}

static void dispose_sha(void *row)
{
    free(*(char **)row);
}

int kiln_store_cache_objects(char ***out, size_t *n, kiln_store *st,
                             kiln_err *err)
{
    return kiln_store__rows(st, out, n, sizeof(char *), fill_sha,
                            dispose_sha, err, "listing cache objects",
                            SQL_OBJECTS, "");
}

/* A cache entry's execution and one of its objects. */
typedef struct entry_object {
    int64_t exec_id;
    char *sha256;
} entry_object;

static void fill_entry(void *row, sqlite3_stmt *s)
{
    entry_object *o = row;
    o->exec_id = sqlite3_column_int64(s, 0);
    o->sha256 = kiln_store__dup(s, 1);
}

static void dispose_entry(void *row)
{
    free(((entry_object *)row)->sha256);
}

int kiln_store_cache_forget_missing(kiln_store *st, const char *objects,
                                    kiln_err *err)
{
    const char *what = "forgetting cache entries";
    entry_object *rows = NULL;
    size_t n = 0;
    int rc = kiln_store__rows(st, &rows, &n, sizeof(*rows), fill_entry,
                              dispose_entry, err, what, SQL_ENTRIES, "");
    for (size_t i = 0; i < n; i++) {
        const char *sha = rows[i].sha256 ? rows[i].sha256 : "";
        char *path = kiln_asprintf("%s/%.2s/%s", objects, sha,
                                   sha[0] && sha[1] ? sha + 2 : "");
        if (rc == 0 && access(path, F_OK) != 0)
            rc = kiln_store__run(st, err, what, SQL_FORGET, "I",
                                 rows[i].exec_id);
        free(path);
        dispose_entry(&rows[i]);
    }
    free(rows);
    return rc;
}
