/*
 * audit.c: the audit trail. Rows are only ever inserted. Each carries
 * prev_hash, the hash of the row before (64 zeros for the first), and
 * hash, SHA-256 over prev_hash and the row's own fields as canonical text
 * (a JSON array: prev_hash, id, at, actor, via, action, target, before,
 * after), so a row edited in place no longer matches its hash, and a row
 * removed leaves a gap in the ids and a chain that no longer links.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

static const char GENESIS[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

static const char SQL_LAST[] =
    "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1";
static const char SQL_INSERT[] =
    "INSERT INTO audit (id, at, actor, via, action, target, before, after, "
    "prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
#define SQL_LIST_WHERE                                                      \
    "(?1 = 0 OR at >= ?1) AND (?2 = 0 OR at < ?2) AND (?3 IS NULL OR "      \
    "actor = ?3) AND (?4 IS NULL OR substr(action, 1, length(?4)) = ?4) "   \
    "AND (?5 IS NULL OR target = ?5 OR (substr(?5, -1) = ' ' AND "          \
    "substr(target, 1, length(?5)) = ?5))"
/* The newest ?6 rows (all when 0), oldest first. */
#define SQL_LIST_ORDER                                                      \
    " ORDER BY id DESC LIMIT CASE WHEN ?6 > 0 THEN ?6 ELSE -1 END) "        \
    "ORDER BY id"
static const char SQL_LIST[] =
    "SELECT * FROM (SELECT id, at, actor, via, action, target, before, "
    "after, prev_hash, hash FROM audit WHERE " SQL_LIST_WHERE SQL_LIST_ORDER;
/* With a target (or a prefix of targets, ending in a space): the same,
 * with the range of targets that begin so, which an index on target can
 * read instead of the whole trail (a model's moves among a million runs
 * started). */
static const char SQL_LIST_TARGET[] =
    "SELECT * FROM (SELECT id, at, actor, via, action, target, before, "
    "after, prev_hash, hash FROM audit WHERE target >= ?5 AND target < ?5 "
    "|| char(1114111) AND " SQL_LIST_WHERE SQL_LIST_ORDER;
/* The newest rows of a target (or a prefix of targets): their ids from
 * the index alone, newest first, then each row, until there are enough.
 * One query that sorts the range by id looks up every row of it first
 * (2,750 moves of a model: 3,000 page reads). */
static const char SQL_IDS_TARGET[] =
    "SELECT id FROM audit WHERE target >= ?1 AND target < ?1 || "
    "char(1114111) AND (target = ?1 OR substr(?1, -1) = ' ') "
    "ORDER BY id DESC";
static const char SQL_ONE[] =
    "SELECT id, at, actor, via, action, target, before, after, prev_hash, "
    "hash FROM audit WHERE id = ?6 AND " SQL_LIST_WHERE;
static const char SQL_ALL[] =
    "SELECT id, at, actor, via, action, target, before, after, prev_hash, "
    "hash FROM audit ORDER BY id";

static void put_text(kiln_buf *b, const char *s)
{
    kiln_buf_puts(b, ",");
    if (s)
        kiln_buf_json_string(b, s);
    else
        kiln_buf_puts(b, "null");
}

void kiln_audit_row_hash(char out[KILN_HASH_HEX], const kiln_audit_row *row,
                         const char *prev_hash)
{
    kiln_buf b = KILN_BUF_INIT;
    kiln_buf_puts(&b, "[");
    kiln_buf_json_string(&b, prev_hash ? prev_hash : "");
    kiln_buf_printf(&b, ",%lld,%lld", (long long)row->id,
                    (long long)row->at_ms);
    put_text(&b, row->actor);
    put_text(&b, row->via);
    put_text(&b, row->action);
    put_text(&b, row->target);
    put_text(&b, row->before);
    put_text(&b, row->after);
    kiln_buf_puts(&b, "]");
    kiln_hash_bytes(out, kiln_buf_cstr(&b), b.len);
    kiln_buf_dispose(&b);
}

int kiln_store_audit(kiln_store *st, const char *actor, const char *via,
                     const char *action, const char *target,
                     const char *before, const char *after, kiln_err *err)
{
    const char *what = "recording the audit trail";
    char prev[KILN_HASH_HEX], hash[KILN_HASH_HEX];
    kiln_audit_row row;
    sqlite3_stmt *s;
    int rc;

    /* The outermost transaction is BEGIN IMMEDIATE: the write lock is
     * held from reading the last row to inserting the next. */
    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    memset(&row, 0, sizeof(row));
    snprintf(prev, sizeof(prev), "%s", GENESIS);
    row.id = 1;
    if (!(s = kiln_store__stmt(st, SQL_LAST, err, what))) {
        rc = KILN_ERROR;
        goto fail;
    }
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const unsigned char *h = sqlite3_column_text(s, 1);
        row.id = sqlite3_column_int64(s, 0) + 1;
        snprintf(prev, sizeof(prev), "%s", h ? (const char *)h : "");
    }
    if ((rc = kiln_store__end(st, s, rc, err, what)) != 0)
        goto fail;
    row.at_ms = kiln_now_ms();
    row.actor = (char *)(actor && *actor ? actor : "unknown");
    row.via = (char *)(via ? via : "cli");
    row.action = (char *)action;
    row.target = (char *)(target ? target : "");
    row.before = (char *)before;
    row.after = (char *)after;
    kiln_audit_row_hash(hash, &row, prev);
    rc = kiln_store__run(st, err, what, SQL_INSERT, "IIssssssss", row.id,
                         row.at_ms, row.actor, row.via, row.action,
                         row.target, row.before, row.after, prev, hash);
    if (rc != 0)
        goto fail;
    return kiln_store__commit(st, err, what);
fail:
    kiln_store__rollback(st);
    return rc;
}

static void fill_row(void *p, sqlite3_stmt *s)
{
    kiln_audit_row *r = p;
    r->id = sqlite3_column_int64(s, 0);
    r->at_ms = sqlite3_column_int64(s, 1);
    r->actor = kiln_store__dup(s, 2);
    r->via = kiln_store__dup(s, 3);
    r->action = kiln_store__dup(s, 4);
    r->target = kiln_store__dup(s, 5);
    r->before = kiln_store__dup(s, 6);
    r->after = kiln_store__dup(s, 7);
    r->prev_hash = kiln_store__dup(s, 8);
    r->hash = kiln_store__dup(s, 9);
}

static void dispose_row(void *p)
{
    kiln_audit_row *r = p;
    free(r->actor);
    free(r->via);
    free(r->action);
    free(r->target);
    free(r->before);
    free(r->after);
    free(r->prev_hash);
    free(r->hash);
}

/* kiln_store_audit_list() for the newest rows of q->target (SQL_IDS_TARGET:
 * the ids first). */
static int newest_of_target(kiln_audit_row **out, size_t *n, kiln_store *st,
                            const kiln_audit_query *q, kiln_err *err)
{
    const char *what = "reading the audit trail";
    sqlite3_stmt *s;
    int64_t *ids = NULL;
    size_t n_ids = 0, cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (!(s = kiln_store__query(st, err, what, SQL_IDS_TARGET, "s",
                                q->target)))
        return KILN_ERROR;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n_ids == cap) {
            cap = cap ? 2 * cap : 64;
            ids = kiln_realloc(ids, cap * sizeof(*ids));
        }
        ids[n_ids++] = sqlite3_column_int64(s, 0);
    }
    rc = kiln_store__end(st, s, rc, err, what);
    cap = 0;
    for (size_t i = 0; rc == 0 && i < n_ids && *n < (size_t)q->newest; i++) {
        if (!(s = kiln_store__query(st, err, what, SQL_ONE, "IIsssI",
                                    q->since_ms, q->until_ms, q->actor,
                                    q->action_prefix, q->target, ids[i]))) {
            rc = KILN_ERROR;
            break;
        }
        if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            if (*n == cap) {
                cap = cap ? 2 * cap : 16;
                *out = kiln_realloc(*out, cap * sizeof(**out));
            }
            memset(&(*out)[*n], 0, sizeof(**out));
            fill_row(&(*out)[(*n)++], s);
        }
        rc = kiln_store__end(st, s, rc, err, what);
    }
    free(ids);
    if (rc != 0) {
        kiln_audit_rows_free(*out, *n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    /* Oldest first. */
    for (size_t i = 0; i < *n / 2; i++) {
        kiln_audit_row t = (*out)[i];
        (*out)[i] = (*out)[*n - 1 - i];
        (*out)[*n - 1 - i] = t;
    }
    return 0;
}

int kiln_store_audit_list(kiln_audit_row **out, size_t *n, kiln_store *st,
                          const kiln_audit_query *q, kiln_err *err)
{
    kiln_audit_query none;
    if (!q) {
        memset(&none, 0, sizeof(none));
        q = &none;
    }
    if (q->newest > 0 && q->target)
        return newest_of_target(out, n, st, q, err);
    return kiln_store__rows(st, out, n, sizeof(kiln_audit_row), fill_row,
                            dispose_row, err, "reading the audit trail",
                            q->target ? SQL_LIST_TARGET : SQL_LIST, "IIsssI",
                            q->since_ms, q->until_ms,
                            q->actor, q->action_prefix, q->target,
                            q->newest);
}

void kiln_audit_rows_free(kiln_audit_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++)
        dispose_row(&rows[i]);
    free(rows);
}

int kiln_store_audit_verify(kiln_store *st, int64_t *bad, char *why,
                            size_t size, int64_t *n_rows, kiln_err *err)
{
    kiln_audit_row *rows = NULL;
    const char *prev = GENESIS;
    int64_t expect = 1;
    size_t n = 0;
    int rc;

    *bad = 0;
    *n_rows = 0;
    if (size)
        why[0] = '\0';
    rc = kiln_store__rows(st, &rows, &n, sizeof(kiln_audit_row), fill_row,
                          dispose_row, err, "reading the audit trail",
                          SQL_ALL, "");
    if (rc != 0)
        return rc;
    *n_rows = (int64_t)n;
    for (size_t i = 0; i < n; i++) {
        const kiln_audit_row *r = &rows[i];
        char hash[KILN_HASH_HEX];
        if (r->id != expect) {
            *bad = expect;
            if (r->id == expect + 1)
                snprintf(why, size, "row %lld was removed (the row after "
                         "it is %lld)", (long long)expect, (long long)r->id);
            else
                snprintf(why, size, "rows %lld to %lld were removed (the "
                         "row after them is %lld)", (long long)expect,
                         (long long)(r->id - 1), (long long)r->id);
            break;
        }
        if (!r->prev_hash || strcmp(r->prev_hash, prev) != 0) {
            *bad = r->id;
            snprintf(why, size, "row %lld does not follow the row before "
                     "it (its prev_hash is not that row's hash): it or the "
                     "row before was altered", (long long)r->id);
            break;
        }
        kiln_audit_row_hash(hash, r, prev);
        if (!r->hash || strcmp(hash, r->hash) != 0) {
            *bad = r->id;
            snprintf(why, size, "row %lld was altered (its fields no longer "
                     "match its hash)", (long long)r->id);
            break;
        }
        prev = r->hash;
        expect = r->id + 1;
    }
    kiln_audit_rows_free(rows, n);
    return 0;
}
