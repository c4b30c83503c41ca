/*
 * login.c: page sessions, and who is asking.
 *
 *   GET  /login            the status page's login form (/#/login)
 *   POST /login            a token (form field or JSON "token") for a
 *                          session cookie: HttpOnly, SameSite=Strict,
 *                          Secure over TLS, for --session-ttl (12 h)
 *   POST /logout           ends the session at once (server-side)
 *   GET  /api/v1/session   who the request is from, their role, and the
 *                          CSRF token the page sends with its writes
 *   GET  /api/v1/users     the users and their roles (admin)
 *
 * Browsers cannot send a bearer header on page loads or EventSource; the
 * cookie can. It holds a session id and secret, checked against the
 * store on every request (accounts.c), so logging out, revoking the token
 * it was opened with or removing its user ends it. A wrong token at
 * /login counts against the address as a wrong bearer token does.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_form(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    const h2o_iovec_t *v = i < 0 ? NULL : &req->headers.entries[i].value;
    static const char form[] = "application/x-www-form-urlencoded";
    return v && v->len >= sizeof(form) - 1 &&
           strncasecmp(v->base, form, sizeof(form) - 1) == 0;
}

/* The token a login form or JSON body sent, in req's pool; NULL when
 * there is none (answered 400). */
static const char *login_token(h2o_req_t *req, bool form)
{
    const char *body = req->entity.base, *p, *end;
    size_t len = req->entity.len;
    json_error_t je;
    json_t *o;
    const char *t = NULL;

    if (form) {
        end = body ? body + len : NULL;
        for (p = body; p && p < end;) {
            const char *amp = memchr(p, '&', (size_t)(end - p));
            const char *stop = amp ? amp : end;
            if (stop - p > 6 && memcmp(p, "token=", 6) == 0) {
                t = h2o_strdup(&req->pool, p + 6, (size_t)(stop - p - 6))
                        .base;
                break;
            }
            p = stop + 1;
        }
    } else if (body && len &&
               (o = json_loadb(body, len, 0, &je)) != NULL) {
        const char *v = json_string_value(json_object_get(o, "token"));
        if (v)
            t = h2o_strdup(&req->pool, v, SIZE_MAX).base;
        json_decref(o);
    }
    if (!t || !*t) {
        kiln_web__error(req, 400, "send the token: a form field token=..., "
                        "or JSON {\"token\": ...}");
        return NULL;
    }
    return t;
}

/* Does req say where it comes from? Browsers do; curl does not. */
static bool says_origin(h2o_req_t *req)
{
    return h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"),
                                  -1) >= 0 ||
           h2o_find_header(&req->headers, H2O_TOKEN_REFERER, -1) >= 0;
}

static void set_cookie(kiln_web *w, h2o_req_t *req, const char *value,
                       int64_t max_age_s)
{
    char *c = kiln_asprintf("%s=%s; Path=/; HttpOnly; SameSite=Strict; "
                            "Max-Age=%lld%s", KILN_WEB_SESSION_COOKIE, value,
                            (long long)max_age_s,
                            w->ssl_ctx ? "; Secure" : "");
    h2o_iovec_t v = h2o_strdup(&req->pool, c, SIZE_MAX);
    free(c);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE,
                   NULL, v.base, v.len);
}

static void see_other(h2o_req_t *req, const char *where)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL,
                   where, strlen(where));
    kiln_web__text(req, 303, "text/plain; charset=utf-8", "", 0);
}

static json_t *session_json(const kiln_web *w, const kiln_web_caller *c)
{
    if (!c->via)
        return json_pack("{s:n, s:n, s:b}", "user", "role",
                         "anonymous_reads", w->loopback);
    return json_pack("{s:s, s:s, s:s, s:s?, s:o, s:b}", "user", c->id.user,
                     "role", kiln_role_name(c->id.role), "via", c->via,
                     "csrf", c->id.csrf[0] ? c->id.csrf : NULL,
                     "expires_at", c->id.expires_ms
                                       ? json_integer(c->id.expires_ms)
                                       : json_null(),
                     "anonymous_reads", w->loopback);
}

static void post_login(kiln_web *w, h2o_req_t *req)
{
    bool form = is_form(req);
    kiln_err err = KILN_ERR_INIT;
    kiln_web_caller c;
    kiln_audit_who who;
    char cookie[KILN_SESSION_COOKIE_MAX];
    const char *token;
    int rc;

    /* A login form on another site must not log this browser in. */
    if (says_origin(req) && !kiln_web__same_origin(w, req))
        return;
    if (kiln_web__throttled(w, req) || !(token = login_token(req, form)) ||
        !kiln_web__check_token(w, req, token, strlen(token), &c))
        return;
    c.via = "page";
    who = kiln_web__who(&c);
    rc = w->o.hooks.session_start(w->o.hooks.data, &c.id, cookie, &who,
                                  &err);
    if (rc != 0) {
        kiln_web__error(req, rc == KILN_EBUSY ? 503 : 500, "%s", err.msg);
        return;
    }
    set_cookie(w, req, cookie,
               (c.id.expires_ms - kiln_now_ms() + 999) / 1000);
    if (form)
        see_other(req, "/");
    else
        kiln_web__json(req, 200, session_json(w, &c), NULL);
}

static void post_logout(kiln_web *w, h2o_req_t *req)
{
    kiln_err err = KILN_ERR_INIT;
    const char *cookie = kiln_web__cookie(req, KILN_WEB_SESSION_COOKIE);
    kiln_web_caller c;
    kiln_audit_who who;

    memset(&c, 0, sizeof(c));
    if (cookie &&
        kiln_store_session_check(w->o.store, &c.id, cookie, &err) == 0) {
        /* Another site must not log this browser out either. */
        if (!kiln_web__same_origin(w, req))
            return;
        c.via = "page";
        who = kiln_web__who(&c);
        if (w->o.hooks.session_end(w->o.hooks.data, c.id.session_id, &who,
                                   &err) != 0) {
            kiln_web__error(req, 500, "%s", err.msg);
            return;
        }
    }
    set_cookie(w, req, "", 0);
    kiln_web__recheck_streams(w); /* its event streams end now */
    if (is_form(req))
        see_other(req, "/");
    else
        kiln_web__json(req, 200, json_pack("{s:b}", "logged_out", true),
                       NULL);
}

bool kiln_web__login_route(kiln_web *w, h2o_req_t *req,
                           const kiln_web_target *t)
{
    bool login = strcmp(t->path, "/login") == 0;
    if (!login && strcmp(t->path, "/logout") != 0)
        return false;
    if (kiln_web__is(req, "POST")) {
        if (req->entity.base && req->entity.len > KILN_WEB_MAX_BODY)
            kiln_web__error(req, 413, "the body is too large");
        else if (login)
            post_login(w, req);
        else
            post_logout(w, req);
    } else if (login && (kiln_web__is(req, "GET") ||
                         kiln_web__is(req, "HEAD"))) {
        see_other(req, "/#/login");
    } else {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                       login ? "GET, POST" : "POST", login ? 9 : 4);
        kiln_web__error(req, 405, "%s takes %s", t->path,
                        login ? "GET or POST" : "POST");
    }
    return true;
}

/* GET /api/v1/session */
void kiln_web__get_session(kiln_web_route_ctx *c)
{
    kiln_web__reply(c, 200, session_json(c->w, &c->who));
}

/* GET /api/v1/users */
void kiln_web__get_users(kiln_web_route_ctx *c)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_user *u = NULL;
    size_t n = 0;
    json_t *list;
    if (kiln_store_users(&u, &n, c->w->o.store, &err) != 0) {
        kiln_web__fail(c, &err);
        return;
    }
    list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack(
            "{s:s, s:s, s:i, s:I}", "name", u[i].name, "role",
            kiln_role_name(u[i].role), "tokens", u[i].n_tokens, "created_at",
            (json_int_t)u[i].created_ms));
    kiln_users_free(u, n);
    kiln_web__reply(c, 200, json_pack("{s:o}", "users", list));
}
