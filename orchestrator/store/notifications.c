/*
 * notifications.c: webhook notifications (notify/notify.c posts them),
 * one row each, written before the first attempt. A kiln killed or
 * stopped before the end leaves the row pending with its body: the next
 * kiln serve claims it (a conditional update, so two never both do) and
 * posts it again. Delivery is at least once: a receiver may see one
 * twice when a kiln died between its POST and the answer.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define NOTIFICATION_COLUMNS                                                \
    "id, run_id, timeout_ms, created_at, attempts, pipeline, event, url, "  \
    "body, owner"

static const char SQL_ADD[] =
    "INSERT INTO notifications (pipeline, run_id, event, url, status, "
    "attempts, body, timeout_ms, owner, created_at, check_id) VALUES (?1, "
    "?2, ?3, ?4, 'pending', 0, ?5, ?6, ?7, ?8, ?9)";
static const char SQL_ATTEMPT[] =
    "UPDATE notifications SET attempts = ?2 WHERE id = ?1 AND "
    "status = 'pending'";
static const char SQL_END[] =
    "UPDATE notifications SET status = ?2, attempts = ?3, http_status = ?4, "
    "error = ?5, finished_at = ?6, body = NULL, owner = NULL WHERE id = ?1 "
    "AND status = 'pending'";
static const char SQL_RELEASE[] =
    "UPDATE notifications SET owner = NULL WHERE id = ?1 AND "
    "status = 'pending'";
static const char SQL_PENDING[] =
    "SELECT " NOTIFICATION_COLUMNS " FROM notifications WHERE "
    "status = 'pending' ORDER BY id";
static const char SQL_CLAIM[] =
    "UPDATE notifications SET owner = ?3 WHERE id = ?1 AND "
    "status = 'pending' AND owner IS ?2";

void kiln_notification_dispose(kiln_notification *n)
{
    free(n->pipeline);
    free(n->event);
    free(n->url);
    free(n->body);
    free(n->owner);
    memset(n, 0, sizeof(*n));
}

void kiln_notifications_free(kiln_notification *n, size_t count)
{
    for (size_t i = 0; i < count; i++)
        kiln_notification_dispose(&n[i]);
    free(n);
}

static void fill(void *row, sqlite3_stmt *s)
{
    kiln_notification *n = row;
    n->id = sqlite3_column_int64(s, 0);
    n->run_id = sqlite3_column_int64(s, 1);
    n->timeout_ms = sqlite3_column_int64(s, 2);
    n->created_ms = sqlite3_column_int64(s, 3);
    n->attempts = sqlite3_column_int(s, 4);
    n->pipeline = kiln_store__dup(s, 5);
    n->event = kiln_store__dup(s, 6);
    n->url = kiln_store__dup(s, 7);
    n->body = kiln_store__dup(s, 8);
    n->owner = kiln_store__dup(s, 9);
}

static void dispose(void *row)
{
    kiln_notification_dispose(row);
}

int kiln_store_notification_add(kiln_store *st, int64_t *out_id,
                                const kiln_notification *n, kiln_err *err)
{
    int rc = kiln_store__run(st, err, "recording a notification", SQL_ADD,
                             "snsssIsIn", n->pipeline, n->run_id, n->event,
                             n->url, n->body, n->timeout_ms, n->owner,
                             n->created_ms, n->check_id);
    *out_id = rc == 0 ? sqlite3_last_insert_rowid(st->db) : 0;
    return rc;
}

int kiln_store_notification_attempt(kiln_store *st, int64_t id,
                                    int attempts, kiln_err *err)
{
    return kiln_store__run(st, err, "recording a notification's attempt",
                           SQL_ATTEMPT, "Ii", id, attempts);
}

int kiln_store_notification_end(kiln_store *st, bool *ended, int64_t id,
                                bool sent, int attempts, long http_status,
                                const char *error, kiln_err *err)
{
    int rc = kiln_store__run(st, err, "recording a notification's end",
                             SQL_END, "IsinsI", id, sent ? "sent" : "failed",
                             attempts, (int64_t)http_status, error,
                             kiln_now_ms());
    if (ended)
        *ended = rc == 0 && sqlite3_changes(st->db) > 0;
    return rc;
}

int kiln_store_notification_release(kiln_store *st, int64_t id,
                                    kiln_err *err)
{
    return kiln_store__run(st, err, "leaving a notification pending",
                           SQL_RELEASE, "I", id);
}

int kiln_store_notifications_pending(kiln_notification **out, size_t *n,
                                     kiln_store *st, kiln_err *err)
{
    *out = NULL;
    *n = 0;
    return kiln_store__rows(st, out, n, sizeof(kiln_notification), fill,
                            dispose, err, "reading pending notifications",
                            SQL_PENDING, "");
}

int kiln_store_notification_claim(kiln_store *st, bool *taken, int64_t id,
                                  const char *owner, const char *new_owner,
                                  kiln_err *err)
{
    int rc = kiln_store__run(st, err, "taking a notification over",
                             SQL_CLAIM, "Iss", id, owner, new_owner);
    *taken = rc == 0 && sqlite3_changes(st->db) > 0;
    return rc;
}
