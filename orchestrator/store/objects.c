/*
 * objects.c: what the record knows of the object store (STATE/objects,
 * engine/cache.c): the files of each directory kept there, by the
 * directory's hash, so any recorded artifact can be put back from its
 * hash alone; environment captures, stored once by hash; what went into
 * each execution's cache key; and which objects the record still needs
 * (kiln gc).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static const char SQL_TREE_PUT[] =
    "INSERT OR IGNORE INTO tree_files (tree, rel, sha256) VALUES (?1, ?2, "
    "?3)";
static const char SQL_TREE_GET[] =
    "SELECT rel, sha256 FROM tree_files WHERE tree = ?1 ORDER BY rel";
static const char SQL_CAPTURE_PUT[] =
    "INSERT OR IGNORE INTO captures (sha256, text) VALUES (?1, ?2)";
static const char SQL_CAPTURE_GET[] =
    "SELECT text FROM captures WHERE sha256 = ?1";
static const char SQL_KEY_DOC_GET[] =
    "SELECT key_doc FROM executions WHERE id = ?1";
/* Earlier executions of the same step of the same pipeline that ran (or
 * were served from the cache) and recorded their key, newest first. */
static const char SQL_KEY_DOCS_BEFORE[] =
    "SELECT x.id, x.run_id, x.key_doc, x.reason FROM executions x JOIN "
    "runs r ON r.id = x.run_id WHERE x.step = ?2 AND x.id < ?3 AND "
    "r.pipeline = ?1 "
    "AND x.key_doc IS NOT NULL AND x.status IN ('succeeded', 'cached') "
    "ORDER BY x.id DESC LIMIT ?4";
/* What the record needs kept: 2, a registered model version's bytes
 * (never collected); 1, a cache entry's outputs and recorded inputs
 * (collected least recently used first, past the size budget). */
static const char SQL_REFS[] =
    "WITH model_shas AS (SELECT a.sha256 FROM models m JOIN artifacts a ON "
    "a.id = m.artifact_id), input_shas AS (SELECT DISTINCT a.sha256 FROM "
    "events e JOIN artifacts a ON a.id = e.artifact_id WHERE e.type = "
    "'input') "
    "SELECT sha256, 2 FROM model_shas UNION SELECT t.sha256, 2 FROM "
    "tree_files t JOIN model_shas m ON m.sha256 = t.tree "
    "UNION SELECT DISTINCT o.sha256, 1 FROM cache_outputs o JOIN executions "
    "x ON x.id = o.execution_id WHERE x.cache_key IS NOT NULL "
    "UNION SELECT sha256, 1 FROM input_shas UNION SELECT t.sha256, 1 FROM "
    "tree_files t JOIN input_shas i ON i.sha256 = t.tree";

int kiln_store_tree_record(kiln_store *st, const char *tree, size_t n,
                           char *const *rel, char *const *sha,
                           kiln_err *err)
{
    const char *what = "recording a directory's files";
    int rc;
    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = kiln_store__run(st, err, what, SQL_TREE_PUT, "sss", tree,
                             rel[i], sha[i]);
    if (rc != 0) {
        kiln_store__rollback(st);
        return rc;
    }
    return kiln_store__commit(st, err, what);
}

int kiln_store__file_rows(kiln_store *st, sqlite3_stmt *s, size_t *n,
                          char ***rel, char ***sha, kiln_err *err,
                          const char *what)
{
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *rel = kiln_realloc(*rel, cap * sizeof(char *));
            *sha = kiln_realloc(*sha, cap * sizeof(char *));
        }
        (*rel)[*n] = kiln_store__dup(s, 0);
        (*sha)[*n] = kiln_store__dup(s, 1);
        (*n)++;
    }
    return kiln_store__end(st, s, rc, err, what);
}

int kiln_store_tree_files(kiln_store *st, kiln_file_list *out,
                          const char *tree, kiln_err *err)
{
    const char *what = "reading a directory's files";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_TREE_GET, "s",
                                        tree);
    int rc;
    memset(out, 0, sizeof(*out));
    if (!s)
        return KILN_ERROR;
    if ((rc = kiln_store__file_rows(st, s, &out->n, &out->rel, &out->sha256,
                                    err, what)) != 0)
        kiln_file_list_dispose(out);
    return rc;
}

void kiln_file_list_dispose(kiln_file_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->rel[i]);
        free(l->sha256[i]);
    }
    free(l->rel);
    free(l->sha256);
    memset(l, 0, sizeof(*l));
}

int kiln_store_capture_put(kiln_store *st, const char *sha, const char *text,
                           kiln_err *err)
{
    return kiln_store__run(st, err, "recording an environment capture",
                           SQL_CAPTURE_PUT, "ss", sha, text);
}

int kiln_store_capture_get(kiln_store *st, char **out, const char *sha,
                           kiln_err *err)
{
    const char *what = "reading an environment capture";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_CAPTURE_GET, "s",
                                        sha);
    int rc;
    *out = NULL;
    if (!s)
        return KILN_ERROR;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        *out = kiln_store__dup(s, 0);
    if ((rc = kiln_store__end(st, s, rc, err, what)) != 0)
        return rc;
    if (!*out)
        return kiln_err_set(err, KILN_ENOTFOUND, "no capture %.12s", sha);
    return 0;
}

int kiln_store_key_doc_get(kiln_store *st, char **out, int64_t exec_id,
                           kiln_err *err)
{
    const char *what = "reading a cache key";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_KEY_DOC_GET, "I",
                                        exec_id);
    int rc;
    *out = NULL;
    if (!s)
        return KILN_ERROR;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        *out = kiln_store__dup(s, 0);
    return kiln_store__end(st, s, rc, err, what);
}

static void fill_doc(void *row, sqlite3_stmt *s)
{
    kiln_key_doc_row *d = row;
    d->exec_id = sqlite3_column_int64(s, 0);
    d->run_id = sqlite3_column_int64(s, 1);
    d->doc = kiln_store__dup(s, 2);
    d->reason = kiln_store__dup(s, 3);
}

static void dispose_doc(void *row)
{
    free(((kiln_key_doc_row *)row)->doc);
    free(((kiln_key_doc_row *)row)->reason);
}

int kiln_store_key_docs_before(kiln_key_doc_row **out, size_t *n,
                               kiln_store *st, const char *pipeline,
                               const char *step, int64_t before_exec,
                               int limit, kiln_err *err)
{
    return kiln_store__rows(st, out, n, sizeof(**out), fill_doc, dispose_doc,
                            err, "reading earlier cache keys",
                            SQL_KEY_DOCS_BEFORE, "ssIi", pipeline, step,
                            before_exec > 0 ? before_exec : INT64_MAX,
                            limit);
}

void kiln_key_doc_rows_free(kiln_key_doc_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dispose_doc(&rows[i]);
    free(rows);
}

static void fill_ref(void *row, sqlite3_stmt *s)
{
    kiln_object_ref *r = row;
    r->sha256 = kiln_store__dup(s, 0);
    r->keep = sqlite3_column_int(s, 1);
}

static void dispose_ref(void *row)
{
    free(((kiln_object_ref *)row)->sha256);
}

int kiln_store_object_refs(kiln_object_ref **out, size_t *n, kiln_store *st,
                           kiln_err *err)
{
    return kiln_store__rows(st, out, n, sizeof(**out), fill_ref, dispose_ref,
                            err, "listing the objects the record needs",
                            SQL_REFS, "");
}

void kiln_object_refs_free(kiln_object_ref *refs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dispose_ref(&refs[i]);
    free(refs);
}

/* The artifacts the ended executions of a run used (inputs) or made
 * (outputs), with the step, and for inputs whether the run made them. */
static const char SQL_RUN_ARTIFACTS[] =
    "SELECT x.step, a.path, a.sha256, a.is_dir, a.type, x.id, EXISTS "
    "(SELECT 1 FROM events e2 JOIN executions x2 ON x2.id = e2.execution_id "
    "WHERE e2.artifact_id = a.id AND e2.type = 'output' AND x2.run_id = "
    "x.run_id) FROM events e JOIN executions x ON x.id = e.execution_id "
    "JOIN artifacts a ON a.id = e.artifact_id WHERE x.run_id = ?1 AND "
    "e.type = ?2 AND x.status IN ('succeeded', 'cached') ORDER BY x.id, "
    "a.path";
static const char SQL_REPRODUCTION[] =
    "SELECT max(id) FROM runs WHERE reproduces = ?1";

static void fill_run_artifact(void *row, sqlite3_stmt *s)
{
    kiln_run_artifact *a = row;
    a->step = kiln_store__dup(s, 0);
    a->path = kiln_store__dup(s, 1);
    a->sha256 = kiln_store__dup(s, 2);
    a->is_dir = sqlite3_column_int(s, 3) != 0;
    a->type = kiln_store__dup(s, 4);
    a->exec_id = sqlite3_column_int64(s, 5);
    a->made_in_run = sqlite3_column_int(s, 6) != 0;
}

static void dispose_run_artifact(void *row)
{
    kiln_run_artifact *a = row;
    free(a->step);
    free(a->path);
    free(a->sha256);
    free(a->type);
}

int kiln_store_run_artifacts(kiln_run_artifact **out, size_t *n,
                             kiln_store *st, int64_t run_id, bool outputs,
                             kiln_err *err)
{
    return kiln_store__rows(st, out, n, sizeof(**out), fill_run_artifact,
                            dispose_run_artifact, err,
                            "reading a run's artifacts", SQL_RUN_ARTIFACTS,
                            "Is", run_id, outputs ? "output" : "input");
}

void kiln_run_artifacts_free(kiln_run_artifact *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dispose_run_artifact(&a[i]);
    free(a);
}

int kiln_store_reproduction_last(kiln_store *st, int64_t *out,
                                 int64_t run_id, kiln_err *err)
{
    const char *what = "finding a reproduction";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_REPRODUCTION, "I",
                                        run_id);
    return s ? kiln_store__int(st, out, s, 0, err, what) : KILN_ERROR;
}
