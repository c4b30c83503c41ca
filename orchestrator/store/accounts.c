/*
 * accounts.c: users, their API tokens and their browser sessions.
 *
 * A secret (a token's, a session's) is 32 random bytes from the kernel,
 * handed out once as hex and kept only as its SHA-256. A credential names
 * its row ("kiln_12_SECRET", "7.SECRET"), so checking one is a lookup by
 * id and a constant-time comparison of two hashes: how long it takes says
 * nothing about how much of a guess was right. Roles are read from users
 * on every check, so a role changed or a user removed counts at once.
 * Every change is one audit row in the same transaction (audit.c).
 */
#include "internal.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

#define SECRET_BYTES 32

static const char *const role_names[] = {"none", "viewer", "operator",
                                         "admin"};

const char *kiln_role_name(kiln_role r)
{
    return (unsigned)r < KILN_ARRAY_SIZE(role_names) ? role_names[r]
                                                      : "none";
}

kiln_role kiln_role_parse(const char *s)
{
    for (size_t i = 1; s && i < KILN_ARRAY_SIZE(role_names); i++)
        if (strcmp(s, role_names[i]) == 0)
            return (kiln_role)i;
    return KILN_ROLE_NONE;
}

bool kiln_user_name_ok(const char *name)
{
    static const char *const reserved[] = {
        "scheduler", "kiln", "unknown", "anonymous", "admin-token",
        "daemon", "none"};
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= KILN_USER_MAX || name[0] == '-' || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr("._@+-", c)))
            return false;
    }
    for (size_t i = 0; i < KILN_ARRAY_SIZE(reserved); i++)
        if (strcmp(name, reserved[i]) == 0)
            return false;
    return true;
}

/* Equal strings, compared in time that depends on their length only. */
static bool same(const char *a, const char *b)
{
    size_t n = strlen(a);
    unsigned char d = n != strlen(b);
    for (size_t i = 0; i < n && b[i]; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

static bool is_hex(const char *s, size_t n)
{
    return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* The positive decimal id at *p, moving *p past it; 0 when none. */
static int64_t take_id(const char **p)
{
    int64_t v = 0;
    const char *s = *p;
    while (*s >= '0' && *s <= '9' && v < INT64_MAX / 10 - 10)
        v = v * 10 + (*s++ - '0');
    if (s == *p || **p == '0')
        return 0;
    *p = s;
    return v;
}

/* Users. */

static const char SQL_USER_ROLE[] = "SELECT role FROM users WHERE name = ?1";

int kiln_store_user_role(kiln_store *st, const char *name, kiln_role *out,
                         kiln_err *err)
{
    const char *what = "reading users";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_USER_ROLE, "s",
                                        name);
    int rc;
    *out = KILN_ROLE_NONE;
    if (!s)
        return KILN_ERROR;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        *out = kiln_role_parse((const char *)sqlite3_column_text(s, 0));
    if ((rc = kiln_store__end(st, s, rc, err, what)) != 0)
        return rc;
    if (*out == KILN_ROLE_NONE)
        return kiln_err_set(err, KILN_ENOTFOUND, "no user %s (kiln users "
                            "list shows them)", name);
    return 0;
}

static int audit(kiln_store *st, const kiln_audit_who *who,
                 const char *action, const char *target, json_t *before,
                 json_t *after, kiln_err *err)
{
    char *b = before ? json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS)
                     : NULL;
    char *a = after ? json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS)
                    : NULL;
    int rc = kiln_store_audit(st, who ? who->actor : NULL,
                              who ? who->via : NULL, action, target, b, a,
                              err);
    free(b);
    free(a);
    json_decref(before);
    json_decref(after);
    return rc;
}

int kiln_store_user_add(kiln_store *st, const char *name, kiln_role role,
                        const kiln_audit_who *who, kiln_err *err)
{
    const char *what = "adding a user";
    char target[KILN_USER_MAX + 8];
    kiln_role now;
    int rc;

    if (!kiln_user_name_ok(name))
        return kiln_err_set(err, KILN_EINVAL, "%s: not a user name (1 to "
                            "63 letters, digits, . _ @ + -, not a name "
                            "kiln uses itself such as scheduler)", name);
    if (role == KILN_ROLE_NONE)
        return kiln_err_set(err, KILN_EINVAL, "a user needs a role: "
                            "viewer, operator or admin");
    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    rc = kiln_store_user_role(st, name, &now, err);
    if (rc == 0) {
        rc = kiln_err_set(err, KILN_EINVAL, "user %s exists already (a "
                          "%s)", name, kiln_role_name(now));
        goto fail;
    }
    if (rc != KILN_ENOTFOUND)
        goto fail;
    *err = (kiln_err)KILN_ERR_INIT;
    rc = kiln_store__run(st, err, what, "INSERT INTO users (name, role, "
                         "created_at, created_by) VALUES (?1, ?2, ?3, ?4)",
                         "ssIs", name, kiln_role_name(role), kiln_now_ms(),
                         who && who->actor ? who->actor : "unknown");
    snprintf(target, sizeof(target), "user %s", name);
    if (rc != 0 ||
        (rc = audit(st, who, "user.added", target, NULL,
                    json_pack("{s:s}", "role", kiln_role_name(role)),
                    err)) != 0)
        goto fail;
    return kiln_store__commit(st, err, what);
fail:
    kiln_store__rollback(st);
    return rc;
}

int kiln_store_user_remove(kiln_store *st, const char *name,
                           const kiln_audit_who *who, kiln_err *err)
{
    const char *what = "removing a user";
    char target[KILN_USER_MAX + 8];
    int64_t now = kiln_now_ms(), tokens = 0;
    kiln_role role;
    sqlite3_stmt *s;
    int rc;

    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    if ((rc = kiln_store_user_role(st, name, &role, err)) != 0)
        goto fail;
    if (!(s = kiln_store__query(st, err, what, "SELECT count(*) FROM "
                                "tokens WHERE user = ?1 AND revoked_at IS "
                                "NULL", "s", name)) ||
        (rc = kiln_store__int(st, &tokens, s, 0, err, what)) != 0) {
        rc = rc ? rc : KILN_ERROR;
        goto fail;
    }
    if ((rc = kiln_store__run(st, err, what, "UPDATE tokens SET revoked_at "
                              "= ?2 WHERE user = ?1 AND revoked_at IS NULL",
                              "sI", name, now)) != 0 ||
        (rc = kiln_store__run(st, err, what, "UPDATE sessions SET ended_at "
                              "= ?2 WHERE user = ?1 AND ended_at IS NULL",
                              "sI", name, now)) != 0 ||
        (rc = kiln_store__run(st, err, what, "DELETE FROM users WHERE name "
                              "= ?1", "s", name)) != 0)
        goto fail;
    snprintf(target, sizeof(target), "user %s", name);
    rc = audit(st, who, "user.removed", target,
               json_pack("{s:s}", "role", kiln_role_name(role)),
               json_pack("{s:I}", "tokens_revoked", (json_int_t)tokens),
               err);
    if (rc != 0)
        goto fail;
    return kiln_store__commit(st, err, what);
fail:
    kiln_store__rollback(st);
    return rc;
}

int kiln_store_user_set_role(kiln_store *st, const char *name,
                             kiln_role role, const kiln_audit_who *who,
                             kiln_err *err)
{
    const char *what = "changing a user's role";
    char target[KILN_USER_MAX + 8];
    kiln_role was;
    int rc;

    if (role == KILN_ROLE_NONE)
        return kiln_err_set(err, KILN_EINVAL, "the role must be viewer, "
                            "operator or admin");
    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    if ((rc = kiln_store_user_role(st, name, &was, err)) != 0)
        goto fail;
    if (was == role) {
        kiln_store__rollback(st);
        return 0; /* nothing changes: no row */
    }
    if ((rc = kiln_store__run(st, err, what, "UPDATE users SET role = ?2 "
                              "WHERE name = ?1", "ss", name,
                              kiln_role_name(role))) != 0)
        goto fail;
    snprintf(target, sizeof(target), "user %s", name);
    rc = audit(st, who, "user.role_changed", target,
               json_pack("{s:s}", "role", kiln_role_name(was)),
               json_pack("{s:s}", "role", kiln_role_name(role)), err);
    if (rc != 0)
        goto fail;
    return kiln_store__commit(st, err, what);
fail:
    kiln_store__rollback(st);
    return rc;
}

static void fill_user(void *p, sqlite3_stmt *s)
{
    kiln_user *u = p;
    u->name = kiln_store__dup(s, 0);
    u->role = kiln_role_parse((const char *)sqlite3_column_text(s, 1));
    u->created_ms = sqlite3_column_int64(s, 2);
    u->created_by = kiln_store__dup(s, 3);
    u->n_tokens = sqlite3_column_int(s, 4);
}

static void dispose_user(void *p)
{
    kiln_user *u = p;
    free(u->name);
    free(u->created_by);
}

int kiln_store_users(kiln_user **out, size_t *n, kiln_store *st,
                     kiln_err *err)
{
    return kiln_store__rows(
        st, out, n, sizeof(kiln_user), fill_user, dispose_user, err,
        "reading users",
        "SELECT u.name, u.role, u.created_at, u.created_by, (SELECT "
        "count(*) FROM tokens t WHERE t.user = u.name AND t.revoked_at IS "
        "NULL AND (t.expires_at IS NULL OR t.expires_at > ?1)) FROM users u "
        "ORDER BY u.name", "I", kiln_now_ms());
}

void kiln_users_free(kiln_user *u, size_t n)
{
    for (size_t i = 0; u && i < n; i++)
        dispose_user(&u[i]);
    free(u);
}

/* Tokens. */

int kiln_store_token_create(kiln_store *st, char **text, int64_t *id,
                            const char *user, const char *name,
                            int64_t expires_ms, bool read_only,
                            const kiln_audit_who *who, kiln_err *err)
{
    const char *what = "creating a token";
    char secret[2 * SECRET_BYTES + 1], hash[KILN_HASH_HEX], target[48];
    kiln_role role;
    int rc;

    *text = NULL;
    *id = 0;
    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    if ((rc = kiln_store_user_role(st, user, &role, err)) != 0)
        goto fail;
    kiln_random_hex(secret, SECRET_BYTES);
    kiln_hash_bytes(hash, secret, strlen(secret));
    rc = kiln_store__run(st, err, what, "INSERT INTO tokens (user, name, "
                         "secret_hash, read_only, created_at, expires_at) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6)", "sssbIn", user,
                         name, hash, read_only, kiln_now_ms(), expires_ms);
    if (rc != 0)
        goto fail;
    *id = sqlite3_last_insert_rowid(st->db);
    snprintf(target, sizeof(target), "token %" PRId64, *id);
    rc = audit(st, who, "token.created", target, NULL,
               json_pack("{s:s, s:s?, s:b, s:o?}", "user", user, "name",
                         name, "read_only", read_only, "expires_at",
                         expires_ms > 0 ? json_integer(expires_ms) : NULL),
               err);
    if (rc != 0)
        goto fail;
    if ((rc = kiln_store__commit(st, err, what)) != 0)
        return rc;
    *text = kiln_asprintf("kiln_%" PRId64 "_%s", *id, secret);
    return 0;
fail:
    kiln_store__rollback(st);
    *id = 0;
    return rc;
}

static void fill_token(void *p, sqlite3_stmt *s)
{
    kiln_token_info *t = p;
    t->id = sqlite3_column_int64(s, 0);
    t->user = kiln_store__dup(s, 1);
    t->name = kiln_store__dup(s, 2);
    t->read_only = sqlite3_column_int(s, 3) != 0;
    t->created_ms = sqlite3_column_int64(s, 4);
    t->expires_ms = sqlite3_column_int64(s, 5);
    t->revoked_ms = sqlite3_column_int64(s, 6);
}

static void dispose_token(void *p)
{
    kiln_token_info *t = p;
    free(t->user);
    free(t->name);
}

int kiln_store_tokens(kiln_token_info **out, size_t *n, kiln_store *st,
                      const char *user, kiln_err *err)
{
    return kiln_store__rows(
        st, out, n, sizeof(kiln_token_info), fill_token, dispose_token, err,
        "reading tokens",
        "SELECT id, user, name, read_only, created_at, expires_at, "
        "revoked_at FROM tokens WHERE ?1 IS NULL OR user = ?1 ORDER BY id "
        "DESC", "s", user);
}

void kiln_tokens_free(kiln_token_info *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++)
        dispose_token(&t[i]);
    free(t);
}

int kiln_store_token_revoke(kiln_store *st, int64_t id,
                            const kiln_audit_who *who, kiln_err *err)
{
    const char *what = "revoking a token";
    int64_t now = kiln_now_ms(), revoked = -1;
    char target[48];
    sqlite3_stmt *s;
    int rc;

    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    if (!(s = kiln_store__query(st, err, what, "SELECT coalesce(revoked_at, "
                                "0) FROM tokens WHERE id = ?1", "I", id)) ||
        (rc = kiln_store__int(st, &revoked, s, -1, err, what)) != 0) {
        rc = rc ? rc : KILN_ERROR;
        goto fail;
    }
    if (revoked < 0) {
        rc = kiln_err_set(err, KILN_ENOTFOUND, "no token %" PRId64 " (kiln "
                          "tokens list shows them)", id);
        goto fail;
    }
    if (revoked > 0) {
        kiln_store__rollback(st);
        return 0;
    }
    if ((rc = kiln_store__run(st, err, what, "UPDATE tokens SET revoked_at "
                              "= ?2 WHERE id = ?1", "II", id, now)) != 0 ||
        (rc = kiln_store__run(st, err, what, "UPDATE sessions SET ended_at "
                              "= ?2 WHERE token_id = ?1 AND ended_at IS "
                              "NULL", "II", id, now)) != 0)
        goto fail;
    snprintf(target, sizeof(target), "token %" PRId64, id);
    if ((rc = audit(st, who, "token.revoked", target, NULL, NULL, err)) != 0)
        goto fail;
    return kiln_store__commit(st, err, what);
fail:
    kiln_store__rollback(st);
    return rc;
}

static int refuse(kiln_err *err, const char *why)
{
    return kiln_err_set(err, KILN_ENOTFOUND, "%s", why);
}

int kiln_store_token_check(kiln_store *st, kiln_identity *out,
                           const char *text, kiln_err *err)
{
    const char *what = "checking a token", *p = text;
    char hash[KILN_HASH_HEX];
    int64_t id, now = kiln_now_ms(), expires, revoked;
    const unsigned char *want;
    kiln_role role;
    sqlite3_stmt *s;
    bool read_only, match;
    int rc;

    memset(out, 0, sizeof(*out));
    if (strncmp(p, "kiln_", 5) != 0)
        return refuse(err, "not a kiln token");
    p += 5;
    if (!(id = take_id(&p)) || *p++ != '_' || !is_hex(p, 2 * SECRET_BYTES))
        return refuse(err, "not a kiln token");
    kiln_hash_bytes(hash, p, strlen(p));
    s = kiln_store__query(st, err, what, "SELECT t.secret_hash, t.user, "
                          "t.read_only, coalesce(t.expires_at, 0), "
                          "coalesce(t.revoked_at, 0), u.role FROM tokens t "
                          "JOIN users u ON u.name = t.user WHERE t.id = ?1",
                          "I", id);
    if (!s)
        return KILN_ERROR;
    if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
        if ((rc = kiln_store__end(st, s, rc, err, what)) != 0)
            return rc;
        return refuse(err, "unknown token");
    }
    want = sqlite3_column_text(s, 0);
    match = want && same((const char *)want, hash);
    snprintf(out->user, sizeof(out->user), "%s",
             (const char *)sqlite3_column_text(s, 1));
    read_only = sqlite3_column_int(s, 2) != 0;
    expires = sqlite3_column_int64(s, 3);
    revoked = sqlite3_column_int64(s, 4);
    role = kiln_role_parse((const char *)sqlite3_column_text(s, 5));
    if ((rc = kiln_store__end(st, s, SQLITE_DONE, err, what)) != 0)
        return rc;
    if (!match) {
        memset(out, 0, sizeof(*out));
        return refuse(err, "unknown token");
    }
    if (revoked) {
        memset(out, 0, sizeof(*out));
        return refuse(err, "the token was revoked");
    }
    if (expires && expires <= now) {
        memset(out, 0, sizeof(*out));
        return refuse(err, "the token has expired");
    }
    out->role = read_only && role > KILN_ROLE_VIEWER ? KILN_ROLE_VIEWER
                                                      : role;
    out->token_id = id;
    out->expires_ms = expires;
    out->read_only = read_only;
    return 0;
}

/* Sessions. */

int kiln_store_session_start(kiln_store *st, kiln_identity *id,
                             char cookie[KILN_SESSION_COOKIE_MAX],
                             int64_t ttl_ms, const kiln_audit_who *who,
                             kiln_err *err)
{
    const char *what = "starting a session";
    char secret[2 * SECRET_BYTES + 1], hash[KILN_HASH_HEX];
    char target[KILN_USER_MAX + 8];
    int64_t now = kiln_now_ms(), expires = now + ttl_ms;
    int rc;

    cookie[0] = '\0';
    /* A session lives no longer than the token it was opened with. */
    if (id->expires_ms && id->expires_ms < expires)
        expires = id->expires_ms;
    kiln_random_hex(secret, SECRET_BYTES);
    kiln_random_hex(id->csrf, SECRET_BYTES);
    kiln_hash_bytes(hash, secret, strlen(secret));
    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    rc = kiln_store__run(st, err, what, "INSERT INTO sessions (secret_hash, "
                         "user, role, token_id, csrf, created_at, "
                         "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                         "sssnsII", hash, id->user,
                         id->token_id ? NULL : kiln_role_name(id->role),
                         id->token_id, id->csrf, now, expires);
    if (rc != 0)
        goto fail;
    id->session_id = sqlite3_last_insert_rowid(st->db);
    id->expires_ms = expires;
    snprintf(target, sizeof(target), "user %s", id->user);
    rc = audit(st, who, "session.started", target, NULL,
               json_pack("{s:I, s:o?, s:I}", "session",
                         (json_int_t)id->session_id, "token",
                         id->token_id ? json_integer(id->token_id) : NULL,
                         "expires_at", (json_int_t)expires),
               err);
    if (rc != 0)
        goto fail;
    if ((rc = kiln_store__commit(st, err, what)) != 0)
        return rc;
    snprintf(cookie, KILN_SESSION_COOKIE_MAX, "%" PRId64 ".%s",
             id->session_id, secret);
    return 0;
fail:
    kiln_store__rollback(st);
    return rc;
}

int kiln_store_session_check(kiln_store *st, kiln_identity *out,
                             const char *cookie, kiln_err *err)
{
    const char *what = "checking a session", *p = cookie;
    char hash[KILN_HASH_HEX];
    int64_t id, now = kiln_now_ms();
    const unsigned char *want;
    kiln_role role;
    sqlite3_stmt *s;
    bool ok;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!(id = take_id(&p)) || *p++ != '.' || !is_hex(p, 2 * SECRET_BYTES))
        return refuse(err, "not a session");
    kiln_hash_bytes(hash, p, strlen(p));
    /* The user's role now; a session of the admin token keeps its own. A
     * session whose token was revoked or has expired, or whose user was
     * removed, is over. */
    s = kiln_store__query(
        st, err, what,
        "SELECT s.secret_hash, s.user, s.csrf, s.expires_at, "
        "coalesce(s.token_id, 0), CASE WHEN s.token_id IS NULL THEN s.role "
        "WHEN t.revoked_at IS NULL AND (t.expires_at IS NULL OR "
        "t.expires_at > ?2) THEN CASE WHEN t.read_only AND u.role <> "
        "'viewer' THEN 'viewer' ELSE u.role END END FROM sessions s LEFT "
        "JOIN tokens t ON t.id = s.token_id LEFT JOIN users u ON u.name = "
        "s.user WHERE s.id = ?1 AND s.ended_at IS NULL AND s.expires_at > "
        "?2", "II", id, now);
    if (!s)
        return KILN_ERROR;
    if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
        if ((rc = kiln_store__end(st, s, rc, err, what)) != 0)
            return rc;
        return refuse(err, "no such session");
    }
    want = sqlite3_column_text(s, 0);
    ok = want && same((const char *)want, hash);
    snprintf(out->user, sizeof(out->user), "%s",
             (const char *)sqlite3_column_text(s, 1));
    snprintf(out->csrf, sizeof(out->csrf), "%s",
             (const char *)sqlite3_column_text(s, 2));
    out->expires_ms = sqlite3_column_int64(s, 3);
    out->token_id = sqlite3_column_int64(s, 4);
    role = kiln_role_parse((const char *)sqlite3_column_text(s, 5));
    if ((rc = kiln_store__end(st, s, SQLITE_DONE, err, what)) != 0)
        return rc;
    if (!ok || role == KILN_ROLE_NONE) {
        memset(out, 0, sizeof(*out));
        return refuse(err, "no such session");
    }
    out->role = role;
    out->session_id = id;
    return 0;
}

int kiln_store_session_end(kiln_store *st, int64_t id,
                           const kiln_audit_who *who, kiln_err *err)
{
    const char *what = "ending a session";
    char target[KILN_USER_MAX + 8];
    char *user = NULL;
    sqlite3_stmt *s;
    int rc;

    if ((rc = kiln_store__begin(st, err, what)) != 0)
        return rc;
    if (!(s = kiln_store__query(st, err, what, "SELECT user FROM sessions "
                                "WHERE id = ?1 AND ended_at IS NULL", "I",
                                id))) {
        rc = KILN_ERROR;
        goto fail;
    }
    if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        user = kiln_store__dup(s, 0);
    if ((rc = kiln_store__end(st, s, rc, err, what)) != 0)
        goto fail;
    if (!user) {
        kiln_store__rollback(st);
        return 0; /* over already */
    }
    snprintf(target, sizeof(target), "user %s", user);
    free(user);
    if ((rc = kiln_store__run(st, err, what, "UPDATE sessions SET ended_at "
                              "= ?2 WHERE id = ?1", "II", id,
                              kiln_now_ms())) != 0 ||
        (rc = audit(st, who, "session.ended", target, NULL,
                    json_pack("{s:I}", "session", (json_int_t)id), err)) != 0)
        goto fail;
    return kiln_store__commit(st, err, what);
fail:
    kiln_store__rollback(st);
    return rc;
}
