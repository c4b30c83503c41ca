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
static const char SQL_OBJECTS[] =
    "SELECT DISTINCT o.sha256 FROM cache_outputs o JOIN executions x ON "
    "x.id = o.execution_id WHERE x.cache_key IS NOT NULL";
static const char SQL_ENTRIES[] =
    "SELECT DISTINCT o.execution_id, o.sha256 FROM cache_outputs o JOIN "
    "executions x ON x.id = o.execution_id WHERE x.cache_key IS NOT NULL";
static const char SQL_FORGET[] =
    "UPDATE executions SET cache_key = NULL WHERE id = ?1";

/* Run a write bound to two ids (and an optional text as ?2). */
static int write_ids(kiln_store *st, const char *sql, int64_t a,
                     const char *text, int64_t b, kiln_err *err,
                     const char *what)
{
    sqlite3_stmt *s = kiln_store__stmt(st, sql, err, what);
    if (!s)
        return KILN_ERROR;
    sqlite3_bind_int64(s, 1, a);
    if (text)
        kiln_store__text(s, 2, text);
    else
        sqlite3_bind_int64(s, 2, b);
    if (text && b)
        sqlite3_bind_int64(s, 3, b);
    return kiln_store__write(st, s, err, what);
}

int kiln_store_cache_save(kiln_store *st, int64_t exec_id, const char *key,
                          size_t n, char *const *rel, char *const *sha,
                          kiln_err *err)
{
    const char *what = "recording a cache entry";
    int rc;
    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    rc = write_ids(st, SQL_SET_KEY, exec_id, key, 0, err, what);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_stmt *s = kiln_store__stmt(st, SQL_OUTPUT_PUT, err, what);
        if (!s) {
            rc = KILN_ERROR;
            break;
        }
        sqlite3_bind_int64(s, 1, exec_id);
        kiln_store__text(s, 2, rel[i]);
        kiln_store__text(s, 3, sha[i]);
        rc = kiln_store__write(st, s, err, what);
    }
    if (rc != 0) {
        kiln_store__rollback(st);
        return rc;
    }
    return kiln_store__commit(st, err, what);
}

int kiln_store_cache_lookup(kiln_store *st, kiln_cache_entry *out,
                            const char *key, kiln_err *err)
{
    const char *what = "looking up the cache";
    sqlite3_stmt *s = kiln_store__stmt(st, SQL_LOOKUP, err, what);
    size_t cap = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!s)
        return KILN_ERROR;
    kiln_store__text(s, 1, key);
    kiln_store__text(s, 2, kiln_exec_state_name(KILN_EXEC_SUCCEEDED));
    kiln_store__text(s, 3, kiln_exec_state_name(KILN_EXEC_CACHED));
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->exec_id = sqlite3_column_int64(s, 0);
        out->run_id = sqlite3_column_int64(s, 1);
    }
    if ((rc = kiln_store__end(st, s, rc, err, what)) != 0)
        return rc;
    if (!out->exec_id)
        return KILN_ENOTFOUND;
    if (!(s = kiln_store__stmt(st, SQL_OUTPUTS, err, what)))
        return KILN_ERROR;
    sqlite3_bind_int64(s, 1, out->exec_id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 8;
            out->rel = kiln_realloc(out->rel, cap * sizeof(char *));
            out->sha256 = kiln_realloc(out->sha256, cap * sizeof(char *));
        }
        out->rel[out->n] = kiln_store__dup(s, 0);
        out->sha256[out->n] = kiln_store__dup(s, 1);
        out->n++;
    }
    if ((rc = kiln_store__end(st, s, rc, err, what)) != 0)
        kiln_cache_entry_dispose(out);
    return rc;
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
    sqlite3_stmt *s;
    int rc;
    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    rc = KILN_ERROR;
    if ((s = kiln_store__stmt(st, SQL_HIT, err, what)) != NULL) {
        sqlite3_bind_int64(s, 1, exec_id);
        kiln_store__text(s, 2, key);
        sqlite3_bind_int64(s, 3, from_exec);
        rc = kiln_store__write(st, s, err, what);
    }
    if (rc == 0)
        rc = write_ids(st, SQL_HIT_OUTPUTS, exec_id, NULL, from_exec, err,
                       what);
    if (rc == 0)
        rc = write_ids(st, SQL_HIT_METRICS, exec_id, NULL, from_exec, err,
                       what);
    if (rc != 0) {
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
        (rc = write_ids(st, SQL_REUSE_EVENTS, exec_id, NULL, from_exec, err,
                        what)) != 0) {
        kiln_store__rollback(st);
        return rc;
    }
    return kiln_store__commit(st, err, what);
}

int kiln_store_cache_objects(char ***out, size_t *n, kiln_store *st,
                             kiln_err *err)
{
    const char *what = "listing cache objects";
    sqlite3_stmt *s = kiln_store__stmt(st, SQL_OBJECTS, err, what);
    size_t cap = 0;
    int rc;
    *out = NULL;
    *n = 0;
    if (!s)
        return KILN_ERROR;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            *out = kiln_realloc(*out, cap * sizeof(char *));
        }
        (*out)[(*n)++] = kiln_store__dup(s, 0);
    }
    return kiln_store__end(st, s, rc, err, what);
}

int kiln_store_cache_forget_missing(kiln_store *st, const char *objects,
                                    kiln_err *err)
{
    const char *what = "forgetting cache entries";
    sqlite3_stmt *s = kiln_store__stmt(st, SQL_ENTRIES, err, what);
    int64_t *gone = NULL;
    size_t n = 0, cap = 0;
    int rc;
    if (!s)
        return KILN_ERROR;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *sha = (const char *)sqlite3_column_text(s, 1);
        char *path = kiln_asprintf("%s/%.2s/%s", objects, sha, sha + 2);
        if (access(path, F_OK) != 0) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                gone = kiln_realloc(gone, cap * sizeof(*gone));
            }
            gone[n++] = sqlite3_column_int64(s, 0);
        }
        free(path);
    }
    rc = kiln_store__end(st, s, rc, err, what);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!(s = kiln_store__stmt(st, SQL_FORGET, err, what))) {
            rc = KILN_ERROR;
            break;
        }
        sqlite3_bind_int64(s, 1, gone[i]);
        rc = kiln_store__write(st, s, err, what);
    }
    free(gone);
    return rc;
}
