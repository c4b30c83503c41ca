/*
 * auth.c: who sends a request, and what they may do.
 *
 * A request names its sender one of three ways, tried in this order:
 * "Authorization: Bearer TOKEN" (a user's token from kiln tokens create,
 * or the admin token of --token-file), the session cookie a browser got
 * from /login (login.c), or, behind a single sign-on proxy, the header
 * --auth-header names, believed only on a connection from a
 * --trusted-proxy address. Tokens and sessions are checked against the
 * store (accounts.c: a lookup by id, hashes compared in constant time);
 * roles are read there on every request, so a role changed or a token
 * revoked counts at once.
 *
 * Every route declares the role it needs (routes.c): viewer to read,
 * operator to start, cancel, retry runs and move aliases, admin for the
 * accounts. A request with no credential may read when kiln serve
 * listens on loopback only, and gets 401 otherwise; a credential whose
 * role is too low gets 403 naming the role needed. A write from a
 * browser (session cookie or proxy header) must come from a page of this
 * server: its Origin (else Referer) must be this server, and it must
 * carry the session's CSRF token in X-Kiln-CSRF. Bearer clients are not
 * browsers and need neither.
 *
 * An address that sends wrong tokens must wait longer and longer before
 * it may try again, so guessing is pointless.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Wrong tokens: FREE_STRIKES are answered 401; after that an address
 * must wait FIRST_WAIT_MS before its next try, twice as long after each
 * further wrong token (at most MAX_WAIT_MS), and gets 429 with
 * Retry-After meanwhile, whatever token it sends. A right token clears
 * its record; a record quiet for FORGET_MS is forgotten. */
#define FREE_STRIKES 5
#define FIRST_WAIT_MS 1000
#define MAX_WAIT_MS ((uint64_t)5 * 60 * 1000)
#define FORGET_MS ((uint64_t)15 * 60 * 1000)

#define CSRF_HEADER "x-kiln-csrf"

/* Addresses. */

/* An address as 16 bytes: IPv6, or IPv4 mapped into IPv6 (as a
 * dual-stack listener sees it). */
static void map_v4(unsigned char key[16], const void *v4)
{
    memset(key, 0, 16);
    key[10] = key[11] = 0xff;
    memcpy(key + 12, v4, 4);
}

/* The client's address (all zeros when unknown); with whole, every byte
 * of an IPv6 address, else its /64, which one host may own whole (the
 * throttling key). */
static void client_addr(h2o_req_t *req, unsigned char key[16], bool whole)
{
    struct sockaddr_storage ss;
    memset(key, 0, 16);
    memset(&ss, 0, sizeof(ss));
    if (req->conn->callbacks->get_peername(req->conn,
                                           (struct sockaddr *)&ss) == 0)
        return;
    if (ss.ss_family == AF_INET) {
        map_v4(key, &((struct sockaddr_in *)&ss)->sin_addr);
    } else if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        memcpy(key, a, whole || IN6_IS_ADDR_V4MAPPED(a) ? 16 : 8);
    }
}

int kiln_web__proxies_parse(kiln_web *w, const char *const *list,
                            kiln_err *err)
{
    size_t n = 0;
    while (list && list[n])
        n++;
    w->proxies = kiln_calloc(n + 1, sizeof(kiln_web_net));
    for (size_t i = 0; i < n; i++) {
        kiln_web_net *net = &w->proxies[i];
        char host[64], *slash, *end;
        unsigned char v4[4];
        unsigned max = 128;
        long bits;

        snprintf(host, sizeof(host), "%s", list[i]);
        if ((slash = strchr(host, '/')) != NULL)
            *slash = '\0';
        if (inet_pton(AF_INET, host, v4) == 1) {
            map_v4(net->addr, v4);
            max = 32;
        } else if (inet_pton(AF_INET6, host, net->addr) != 1) {
            return kiln_err_set(err, KILN_EINVAL, "--trusted-proxy %s: not "
                                "an IP address, or ADDRESS/BITS", list[i]);
        }
        bits = max;
        if (slash) {
            bits = strtol(slash + 1, &end, 10);
            if (!slash[1] || *end || bits < 0 || bits > (long)max)
                return kiln_err_set(err, KILN_EINVAL, "--trusted-proxy %s: "
                                    "the prefix length must be 0 to %u",
                                    list[i], max);
        }
        net->bits = (unsigned)bits + (max == 32 ? 96 : 0);
    }
    w->n_proxies = n;
    return 0;
}

static bool trusted(const kiln_web *w, const unsigned char addr[16])
{
    for (size_t i = 0; i < w->n_proxies; i++) {
        const kiln_web_net *net = &w->proxies[i];
        unsigned full = net->bits / 8, rest = net->bits % 8;
        if (memcmp(addr, net->addr, full) != 0)
            continue;
        if (rest && ((addr[full] ^ net->addr[full]) &
                     (unsigned char)(0xff << (8 - rest))))
            continue;
        return true;
    }
    return false;
}

/* Throttling. */

/* The record of key, or NULL; with add, a new one when there is none
 * (in a free slot, else in the one quiet for longest). */
static kiln_web_strikes *strikes_of(kiln_web *w, const unsigned char *key,
                                    bool add)
{
    uint64_t now = uv_now(w->o.loop);
    kiln_web_strikes *s, *spare = NULL;

    for (size_t i = 0; i < KILN_WEB_STRIKE_SLOTS; i++) {
        s = &w->strikes[i];
        if (s->failures && now - s->last > FORGET_MS)
            memset(s, 0, sizeof(*s));
        if (s->failures && memcmp(s->addr, key, sizeof(s->addr)) == 0)
            return s;
        if (!spare || (spare->failures && (!s->failures ||
                                           s->last < spare->last)))
            spare = s;
    }
    if (!add)
        return NULL;
    memset(spare, 0, sizeof(*spare));
    memcpy(spare->addr, key, sizeof(spare->addr));
    return spare;
}

bool kiln_web__throttled(kiln_web *w, h2o_req_t *req)
{
    unsigned char key[16];
    kiln_web_strikes *s;
    uint64_t now = uv_now(w->o.loop);
    char secs[24];

    client_addr(req, key, false);
    if (!(s = strikes_of(w, key, false)) || now >= s->until)
        return false;
    snprintf(secs, sizeof(secs), "%llu",
             (unsigned long long)((s->until - now + 999) / 1000));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER,
                   NULL, h2o_strdup(&req->pool, secs, SIZE_MAX).base,
                   strlen(secs));
    kiln_web__error(req, 429, "too many wrong tokens from this address: "
                    "try again in %s s", secs);
    return true;
}

bool kiln_web__refused(kiln_web *w, h2o_req_t *req, const char *why)
{
    unsigned char key[16];
    kiln_web_strikes *s;
    uint64_t now = uv_now(w->o.loop), wait = FIRST_WAIT_MS;

    client_addr(req, key, false);
    s = strikes_of(w, key, true);
    s->failures++;
    s->last = now;
    if (s->failures >= FREE_STRIKES) {
        for (unsigned i = FREE_STRIKES; i < s->failures && wait < MAX_WAIT_MS;
             i++)
            wait *= 2;
        s->until = now + (wait < MAX_WAIT_MS ? wait : MAX_WAIT_MS);
    }
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE,
                   NULL, H2O_STRLIT("Bearer realm=\"kiln\""));
    kiln_web__error(req, 401, "%s", why);
    return false;
}

void kiln_web__forgive(kiln_web *w, h2o_req_t *req)
{
    unsigned char key[16];
    kiln_web_strikes *s;
    client_addr(req, key, false);
    if ((s = strikes_of(w, key, false)) != NULL)
        memset(s, 0, sizeof(*s));
}

/* Credentials. */

static const h2o_header_t *header(h2o_req_t *req, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name),
                                       -1);
    return i < 0 ? NULL : &req->headers.entries[i];
}

const char *kiln_web__cookie(h2o_req_t *req, const char *name)
{
    size_t n = strlen(name);
    ssize_t i = -1;
    while ((i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) >= 0) {
        const h2o_iovec_t *v = &req->headers.entries[i].value;
        const char *p = v->base, *end = v->base + v->len;
        while (p < end) {
            const char *semi = memchr(p, ';', (size_t)(end - p));
            const char *stop = semi ? semi : end;
            while (p < stop && *p == ' ')
                p++;
            if ((size_t)(stop - p) > n && memcmp(p, name, n) == 0 &&
                p[n] == '=')
                return h2o_strdup(&req->pool, p + n + 1,
                                  (size_t)(stop - p - n - 1)).base;
            p = stop + 1;
        }
    }
    return NULL;
}

/* The admin token of --token-file: compared as SHA-256 digests with
 * CRYPTO_memcmp, so the time taken says nothing about the guess. */
static bool admin_token(const kiln_web *w, const char *v, size_t len)
{
    unsigned char want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];
    if (!w->token)
        return false;
    SHA256((const unsigned char *)w->token, strlen(w->token), want);
    SHA256((const unsigned char *)v, len, got);
    return CRYPTO_memcmp(want, got, sizeof(want)) == 0;
}

/* Is text a token found good while the database is as it is now (and
 * not expired since)? Its identity into *id. */
static bool token_cached(kiln_web *w, const char *text, kiln_identity *id)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    uint64_t version = kiln_web__store_version(w);
    int64_t now = kiln_now_ms();

    SHA256((const unsigned char *)text, strlen(text), digest);
    for (size_t i = 0; i < KILN_WEB_TOKEN_SLOTS; i++) {
        kiln_web_token *t = &w->tokens[i];
        if (!t->version ||
            CRYPTO_memcmp(t->digest, digest, sizeof(digest)) != 0)
            continue;
        if (t->version != version ||
            (t->id.expires_ms && t->id.expires_ms <= now)) {
            t->version = 0;
            return false;
        }
        *id = t->id;
        return true;
    }
    return false;
}

static void token_keep(kiln_web *w, const char *text, const kiln_identity *id)
{
    kiln_web_token *t = &w->tokens[w->tokens_next++ % KILN_WEB_TOKEN_SLOTS];
    SHA256((const unsigned char *)text, strlen(text), t->digest);
    t->id = *id;
    t->version = kiln_web__store_version(w);
}

bool kiln_web__check_token(kiln_web *w, h2o_req_t *req, const char *v,
                           size_t len, kiln_web_caller *who)
{
    kiln_err err = KILN_ERR_INIT;
    char *text;
    int rc;

    memset(who, 0, sizeof(*who));
    if (kiln_web__throttled(w, req))
        return false;
    if (admin_token(w, v, len)) {
        snprintf(who->id.user, sizeof(who->id.user), "admin-token");
        who->id.role = KILN_ROLE_ADMIN;
        who->via = "api";
        kiln_web__forgive(w, req);
        return true;
    }
    text = h2o_strdup(&req->pool, v, len).base;
    if (strlen(text) != len)
        return kiln_web__refused(w, req, "unknown token");
    if (token_cached(w, text, &who->id)) {
        who->via = "api";
        kiln_web__forgive(w, req);
        return true;
    }
    rc = kiln_store_token_check(w->o.store, &who->id, text, &err);
    if (rc == KILN_ENOTFOUND)
        return kiln_web__refused(w, req, err.msg);
    if (rc != 0) {
        kiln_web__error(req, rc == KILN_EBUSY ? 503 : 500, "%s", err.msg);
        return false;
    }
    token_keep(w, text, &who->id);
    who->via = "api";
    kiln_web__forgive(w, req);
    return true;
}

/* Who the Authorization header says; false when it was refused (and
 * answered). */
static bool by_bearer(kiln_web *w, h2o_req_t *req, const h2o_header_t *h,
                      kiln_web_caller *who)
{
    const char *v = h->value.base;
    size_t len = h->value.len;

    if (len < 7 || strncasecmp(v, "Bearer ", 7) != 0) {
        if (kiln_web__throttled(w, req))
            return false;
        return kiln_web__refused(w, req, "send \"Authorization: Bearer "
                                 "TOKEN\"");
    }
    return kiln_web__check_token(w, req, v + 7, len - 7, who);
}

/* The CSRF token of a user signed in through the proxy: derived from a
 * secret of this process, so the page can ask for it (GET
 * /api/v1/session) and no other site can know it. */
static void proxy_csrf(const kiln_web *w, const char *user,
                       char out[KILN_HASH_HEX])
{
    char *text = kiln_asprintf("%s\n%s", w->proxy_secret, user);
    kiln_hash_bytes(out, text, strlen(text));
    free(text);
}

/* Who a trusted proxy's header says. false when refused (answered). */
static bool by_proxy(kiln_web *w, h2o_req_t *req, const h2o_header_t *h,
                     kiln_web_caller *who)
{
    kiln_err err = KILN_ERR_INIT;
    char *user = h2o_strdup(&req->pool, h->value.base, h->value.len).base;
    kiln_role role;
    int rc;

    if (!kiln_user_name_ok(user)) {
        kiln_web__error(req, 403, "the proxy's %s header names no user kiln "
                        "can take", w->auth_header);
        return false;
    }
    rc = kiln_store_user_role(w->o.store, user, &role, &err);
    if (rc == KILN_ENOTFOUND && w->auth_header_role != KILN_ROLE_NONE) {
        role = w->auth_header_role;
    } else if (rc == KILN_ENOTFOUND) {
        kiln_web__error(req, 403, "%s is not a kiln user (kiln users add %s "
                        "--role ROLE, or start kiln serve with "
                        "--auth-header-role)", user, user);
        return false;
    } else if (rc != 0) {
        kiln_web__error(req, rc == KILN_EBUSY ? 503 : 500, "%s", err.msg);
        return false;
    }
    snprintf(who->id.user, sizeof(who->id.user), "%s", user);
    who->id.role = role;
    proxy_csrf(w, user, who->id.csrf);
    who->via = "proxy";
    return true;
}

const char *kiln_web__credential(h2o_req_t *req, const kiln_web_caller *who)
{
    const h2o_header_t *h;
    if (!who->via)
        return NULL;
    if (strcmp(who->via, "page") == 0)
        return kiln_web__cookie(req, KILN_WEB_SESSION_COOKIE);
    if (strcmp(who->via, "api") == 0 &&
        (h = header(req, "authorization")) != NULL && h->value.len >= 7)
        return h2o_strdup(&req->pool, h->value.base + 7,
                          h->value.len - 7).base;
    return NULL;
}

bool kiln_web__still_good(kiln_web *w, const kiln_web_caller *who,
                          const char *cred)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_identity id;
    kiln_role role;

    if (!who->via)
        return true; /* anonymous reads: nothing to run out */
    if (who->id.expires_ms && who->id.expires_ms <= kiln_now_ms())
        return false;
    if (strcmp(who->via, "proxy") == 0) /* the user must still be one */
        return kiln_store_user_role(w->o.store, who->id.user, &role, &err) !=
                   KILN_ENOTFOUND;
    if (!cred)
        return false;
    if (strcmp(who->via, "page") == 0)
        return kiln_store_session_check(w->o.store, &id, cred, &err) !=
               KILN_ENOTFOUND;
    return admin_token(w, cred, strlen(cred)) ||
           token_cached(w, cred, &id) ||
           kiln_store_token_check(w->o.store, &id, cred, &err) !=
               KILN_ENOTFOUND;
}

/* Who sent req, whatever they may do; false when a credential was
 * refused (answered). Anonymous: true with via NULL. */
static bool identify(kiln_web *w, h2o_req_t *req, kiln_web_caller *who)
{
    const h2o_header_t *h;
    const char *cookie;
    unsigned char addr[16];
    kiln_err err = KILN_ERR_INIT;

    memset(who, 0, sizeof(*who));
    if ((h = header(req, "authorization")) != NULL)
        return by_bearer(w, req, h, who);
    if ((cookie = kiln_web__cookie(req, KILN_WEB_SESSION_COOKIE)) != NULL &&
        kiln_store_session_check(w->o.store, &who->id, cookie, &err) == 0) {
        who->via = "page";
        return true;
    }
    /* A stale cookie (logged out, expired) is no credential: the page
     * offers to log in again. */
    memset(&who->id, 0, sizeof(who->id));
    if (w->auth_header && (h = header(req, w->auth_header)) != NULL) {
        client_addr(req, addr, true);
        if (trusted(w, addr))
            return by_proxy(w, req, h, who);
        /* From anyone else the header is anyone's to forge: ignored. */
    }
    return true;
}

static bool same_text(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && strncasecmp(a, b, alen) == 0;
}

bool kiln_web__same_origin(kiln_web *w, h2o_req_t *req)
{
    const h2o_header_t *h = header(req, "origin");
    const char *v, *host;
    size_t len, n;
    const char *scheme = req->input.scheme ? req->input.scheme->name.base
                                           : "http";

    if (!h)
        h = header(req, "referer");
    if (!h || h->value.len == 0 ||
        (h->value.len == 4 && memcmp(h->value.base, "null", 4) == 0)) {
        kiln_web__error(req, 403, "a write from a browser must say where it "
                        "comes from (Origin): refused");
        return false;
    }
    v = h->value.base;
    len = h->value.len;
    /* scheme://authority[/...] */
    n = strcspn(v, ":");
    if (n >= len || len - n < 3 || memcmp(v + n, "://", 3) != 0)
        goto cross;
    /* Behind a proxy the scheme may differ (it ends TLS): the authority
     * must still be this server's. */
    if (!w->n_proxies && !same_text(v, n, scheme, strlen(scheme)))
        goto cross;
    host = v + n + 3;
    len -= n + 3;
    n = 0;
    while (n < len && host[n] != '/' && host[n] != '?' && host[n] != '#')
        n++;
    if (same_text(host, n, req->input.authority.base,
                  req->input.authority.len))
        return true;
cross:
    kiln_web__error(req, 403, "a cross-site write was refused: its Origin "
                    "is not this server (%.*s)",
                    (int)req->input.authority.len,
                    req->input.authority.base);
    return false;
}

/* A browser's write: from a page of this server, with its CSRF token. */
static bool csrf_ok(kiln_web *w, h2o_req_t *req, const kiln_web_caller *who)
{
    const h2o_header_t *h;
    if (!kiln_web__same_origin(w, req))
        return false;
    h = header(req, CSRF_HEADER);
    if (!h || h->value.len != strlen(who->id.csrf) || !who->id.csrf[0] ||
        CRYPTO_memcmp(h->value.base, who->id.csrf, h->value.len) != 0) {
        kiln_web__error(req, 403, "the page's CSRF token (X-Kiln-CSRF) is "
                        "missing or wrong: reload the page");
        return false;
    }
    return true;
}

bool kiln_web__allowed(kiln_web *w, h2o_req_t *req, kiln_role need,
                       kiln_web_caller *who)
{
    bool write = !kiln_web__is(req, "GET") && !kiln_web__is(req, "HEAD");

    if (!identify(w, req, who))
        return false;
    if (need == KILN_ROLE_NONE)
        return true;
    if (!who->via) {
        /* On loopback, whoever can connect can read kiln.db as well. */
        if (need == KILN_ROLE_VIEWER && !write && w->loopback)
            return true;
        h2o_add_header(&req->pool, &req->res.headers,
                       H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Bearer realm=\"kiln\""));
        kiln_web__error(req, 401, "sign in: send \"Authorization: Bearer "
                        "TOKEN\" (kiln tokens create USER), or log in at "
                        "/login");
        return false;
    }
    if (who->id.role < need) {
        kiln_web__error(req, 403, "this needs the %s role; %s is %s %s%s",
                        kiln_role_name(need), who->id.user,
                        who->id.role == KILN_ROLE_VIEWER ? "a" : "an",
                        kiln_role_name(who->id.role),
                        who->id.read_only ? " (its token is read-only)"
                                          : "");
        return false;
    }
    if (write && strcmp(who->via, "api") != 0 && !csrf_ok(w, req, who))
        return false;
    return true;
}

kiln_audit_who kiln_web__who(const kiln_web_caller *c)
{
    kiln_audit_who who;
    who.actor = c->via ? c->id.user : "anonymous";
    who.via = c->via ? c->via : "api";
    return who;
}
