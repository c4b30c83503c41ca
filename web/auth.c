/*
 * auth.c: who may do what.
 *
 * POSTs need "Authorization: Bearer TOKEN"; with no token configured they
 * get 403 saying so. GETs are open when listening on loopback only and
 * need the token otherwise. Tokens are compared as SHA-256 digests with
 * CRYPTO_memcmp, so the time taken says nothing about how much of a
 * guess was right, and an address that sends wrong tokens must wait
 * longer and longer before it may try again.
 */
#include "internal.h"

#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
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

/* The client's address as a throttling key: IPv4 (mapped into IPv6, as a
 * dual-stack listener sees it), or an IPv6 address's /64, which one host
 * may own whole. All zeros when the address is unknown. */
static void client_key(h2o_req_t *req, unsigned char key[16])
{
    struct sockaddr_storage ss;
    memset(key, 0, 16);
    memset(&ss, 0, sizeof(ss));
    if (req->conn->callbacks->get_peername(req->conn,
                                           (struct sockaddr *)&ss) == 0)
        return;
    if (ss.ss_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        memcpy(key, a, IN6_IS_ADDR_V4MAPPED(a) ? 16 : 8);
    }
}

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

static void strike(kiln_web *w, const unsigned char *key)
{
    kiln_web_strikes *s = strikes_of(w, key, true);
    uint64_t now = uv_now(w->o.loop), wait = FIRST_WAIT_MS;

    s->failures++;
    s->last = now;
    if (s->failures < FREE_STRIKES)
        return;
    for (unsigned i = FREE_STRIKES; i < s->failures && wait < MAX_WAIT_MS;
         i++)
        wait *= 2;
    s->until = now + (wait < MAX_WAIT_MS ? wait : MAX_WAIT_MS);
}

static bool token_ok(kiln_web *w, const char *v, size_t len)
{
    unsigned char want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];

    if (len < 7 || strncasecmp(v, "Bearer ", 7) != 0)
        return false;
    SHA256((const unsigned char *)w->token, strlen(w->token), want);
    SHA256((const unsigned char *)v + 7, len - 7, got);
    return CRYPTO_memcmp(want, got, sizeof(want)) == 0;
}

static bool unauthorized(h2o_req_t *req)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE,
                   NULL, H2O_STRLIT("Bearer realm=\"kiln\""));
    kiln_web__error(req, 401, "missing or wrong token: send "
                    "\"Authorization: Bearer TOKEN\"");
    return false;
}

bool kiln_web__allowed(kiln_web *w, h2o_req_t *req)
{
    bool write = !kiln_web__is(req, "GET") && !kiln_web__is(req, "HEAD");
    unsigned char key[16];
    kiln_web_strikes *s;
    const h2o_header_t *h;
    uint64_t now;
    ssize_t i;
    char secs[24];

    if (!write && w->loopback)
        return true;
    if (!w->token) {
        kiln_web__error(req, 403, "%s", write
            ? "no API token is configured: start kiln serve with "
              "--token-file FILE or KILN_TOKEN to allow changes"
            : "no API token is configured, and kiln serve listens beyond "
              "loopback");
        return false;
    }
    if ((i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION,
                             -1)) < 0)
        return unauthorized(req);
    h = &req->headers.entries[i];
    client_key(req, key);
    now = uv_now(w->o.loop);
    if ((s = strikes_of(w, key, false)) != NULL && now < s->until) {
        snprintf(secs, sizeof(secs), "%llu",
                 (unsigned long long)((s->until - now + 999) / 1000));
        h2o_add_header(&req->pool, &req->res.headers,
                       H2O_TOKEN_RETRY_AFTER, NULL,
                       h2o_strdup(&req->pool, secs, SIZE_MAX).base,
                       strlen(secs));
        kiln_web__error(req, 429, "too many wrong tokens from this "
                        "address: try again in %s s", secs);
        return false;
    }
    if (!token_ok(w, h->value.base, h->value.len)) {
        strike(w, key);
        return unauthorized(req);
    }
    if (s)
        memset(s, 0, sizeof(*s));
    return true;
}
