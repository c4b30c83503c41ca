/*
 * server.c: libh2o on the daemon's libuv loop.
 *
 * One h2o handler takes every request: /api/v1/..., /healthz and /metrics
 * go to routes.c after the token check, anything else is the status page
 * (assets.c). h2o parses HTTP/1.1 and HTTP/2; the request's target is
 * decoded and checked here, once, before any route sees it: %xx escapes
 * must be well formed and decode to UTF-8 text (no overlong form, no
 * surrogate, no control character), the path must have no "." or ".."
 * segment, and anything else is a JSON 400.
 *
 * Security: POSTs need "Authorization: Bearer TOKEN"; with no token
 * configured they get 403 saying so. GETs are open when listening on
 * loopback only and need the token otherwise. Tokens are compared as
 * SHA-256 digests with CRYPTO_memcmp, so the time taken says nothing
 * about how much of a guess was right, and an address that sends wrong
 * tokens must wait longer and longer before it may try again. On
 * loopback, only requests for a loopback name (Host: localhost,
 * 127.x.x.x or [::1]) are answered, so that a web page whose name an
 * attacker points at 127.0.0.1 (DNS rebinding) cannot read the API
 * through a browser.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct handler {
    h2o_handler_t super;
    kiln_web *w;
} handler;

/* Responses. */

static void set_type(h2o_req_t *req, const char *type)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
                   NULL, type, strlen(type));
}

void kiln_web__text(h2o_req_t *req, int status, const char *type,
                    const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = status < 300   ? "OK"
                      : status < 500 ? "Client Error"
                                     : "Server Error";
    set_type(req, type);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL,
                   NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, body, len);
}

/* Where the answer being made is also kept (kiln_web__cache_fill()). */
static kiln_web_cached *filling;

void kiln_web__cache_fill(kiln_web_cached *slot)
{
    filling = slot;
}

void kiln_web__json(h2o_req_t *req, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    size_t len;
    json_decref(body);
    /* json_pack() gives NULL for a string that is not UTF-8: a bug of
     * ours, but one answer must not take the daemon down. */
    if (!text) {
        static const char oops[] = "{\"error\":\"the answer could not be "
                                   "encoded as JSON\"}";
        kiln_web__text(req, 500, "application/json", oops,
                       sizeof(oops) - 1);
        filling = NULL;
        return;
    }
    len = strlen(text);
    kiln_web__text(req, status, "application/json", text, len);
    if (filling && status == 200) {
        free(filling->body);
        filling->body = text;
        filling->len = len;
        filling = NULL;
        return;
    }
    free(text);
}

/* The length of the UTF-8 sequence at s (n bytes left) when it is well
 * formed (RFC 3629: shortest form, no surrogate, nothing past U+10FFFF),
 * else 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        if (s[0] == 0xE0)
            lo = 0xA0; /* overlong below */
        else if (s[0] == 0xED)
            hi = 0x9F; /* surrogates above */
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        if (s[0] == 0xF0)
            lo = 0x90;
        else if (s[0] == 0xF4)
            hi = 0x8F; /* past U+10FFFF above */
    } else {
        return 0; /* a continuation byte, C0, C1 or F5 and up */
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

/* Make s UTF-8 in place: each byte that does not begin a well-formed
 * sequence becomes '?' (a message cut short by its buffer included). */
static void utf8_scrub(char *s)
{
    unsigned char *p = (unsigned char *)s;
    size_t n = strlen(s), k;
    while (n > 0) {
        if ((k = utf8_len(p, n)) == 0) {
            *p = '?';
            k = 1;
        }
        p += k;
        n -= k;
    }
}

int kiln_web__error(h2o_req_t *req, int status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    utf8_scrub(msg);
    kiln_web__json(req, status, json_pack("{s:s}", "error", msg));
    return 0;
}

/* Requests. */

bool kiln_web__is(h2o_req_t *req, const char *method)
{
    return h2o_memis(req->method.base, req->method.len, method,
                     strlen(method));
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Is the text at s (n bytes) UTF-8 with no control character (C0, DEL
 * or C1)? Otherwise *why says what is wrong. */
static bool is_text(const unsigned char *s, size_t n, const char **why)
{
    size_t k;
    for (size_t i = 0; i < n; i += k) {
        if ((k = utf8_len(s + i, n - i)) == 0) {
            *why = "decodes to bytes that are not UTF-8";
            return false;
        }
        if (s[i] < 0x20 || s[i] == 0x7F ||
            (s[i] == 0xC2 && s[i + 1] < 0xA0)) {
            *why = "decodes to a control character";
            return false;
        }
    }
    return true;
}

/* Decode len bytes of a URL component at s into the request's pool: %xx
 * escapes, and + as a space in a query. NULL when the result is not text
 * or the component is malformed (a raw byte outside printable ASCII, a %
 * not followed by two hex digits); *why then says which. */
static char *decode(h2o_req_t *req, const char *s, size_t len, bool plus,
                    const char **why)
{
    char *out = h2o_mem_alloc_pool(&req->pool, len + 1);
    size_t n = 0;
    int hi, lo;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7F) {
            *why = "has a byte that is not printable ASCII (it must be "
                   "%-encoded)";
            return NULL;
        }
        if (c == '%') {
            if (i + 2 >= len || (hi = hexval(s[i + 1])) < 0 ||
                (lo = hexval(s[i + 2])) < 0) {
                *why = "has a % not followed by two hex digits";
                return NULL;
            }
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[n++] = plus && c == '+' ? ' ' : (char)c;
        }
    }
    out[n] = '\0';
    return is_text((const unsigned char *)out, n, why) ? out : NULL;
}

/* Decode and check req's target into t, or answer 400 and return false.
 * "." and ".." segments are refused, not resolved: no client needs them,
 * and what the routes name is all that can be reached. */
static bool parse_target(h2o_req_t *req, kiln_web_target *t)
{
    const char *s = req->path.base, *end = s + req->path.len;
    const char *mark = memchr(s, '?', req->path.len), *q, *seg;
    const char *why = "must begin with /";
    size_t plen = mark ? (size_t)(mark - s) : req->path.len, n = 1;
    char what[48] = "the path";

    memset(t, 0, sizeof(*t));
    if (plen == 0 || s[0] != '/' ||
        !(t->path = decode(req, s, plen, false, &why)))
        goto bad;
    for (seg = t->path + 1;; seg += n + 1) {
        n = strcspn(seg, "/");
        if ((n == 1 && seg[0] == '.') ||
            (n == 2 && seg[0] == '.' && seg[1] == '.')) {
            why = "has a \".\" or \"..\" segment";
            goto bad;
        }
        if (!seg[n])
            break;
    }
    if (!mark)
        return true;
    n = 1;
    for (q = mark + 1; q < end; q++)
        n += *q == '&';
    t->params = h2o_mem_alloc_pool(&req->pool, n * sizeof(*t->params));
    for (q = mark + 1; q < end;) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(stop - q));
        kiln_web_param *p = &t->params[t->n_params];
        if (stop > q) {
            snprintf(what, sizeof(what), "query parameter %zu",
                     t->n_params + 1);
            if (!(p->name = decode(req, q, (size_t)((eq ? eq : stop) - q),
                                   true, &why)))
                goto bad;
            p->value = "";
            if (eq && !(p->value = decode(req, eq + 1,
                                          (size_t)(stop - eq - 1), true,
                                          &why)))
                goto bad;
            t->n_params++;
        }
        q = stop + 1;
    }
    return true;
bad:
    kiln_web__error(req, 400, "bad request target: %s %s", what, why);
    return false;
}

const char *kiln_web__query(const kiln_web_target *t, const char *name)
{
    for (size_t i = 0; i < t->n_params; i++)
        if (strcmp(t->params[i].name, name) == 0)
            return t->params[i].value;
    return NULL;
}

/* Auth. */

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

/* Is host (NAME or NAME:PORT, as in Host) localhost, 127.x.x.x or
 * [::1]? */
static bool loopback_host(const char *host, size_t len)
{
    const char *end = host + len, *name = host, *name_end, *rest;
    struct in6_addr a6;
    struct in_addr a4;
    char buf[64];
    size_t n;

    if (len && host[0] == '[') {
        if (!(name_end = memchr(host, ']', len)))
            return false;
        name++;
        rest = name_end + 1;
    } else {
        name_end = memchr(host, ':', len);
        rest = name_end = name_end ? name_end : end;
    }
    /* After the name, nothing or a port. */
    if (rest < end) {
        if (*rest != ':' || end - rest - 1 > 5)
            return false;
        for (const char *p = rest + 1; p < end; p++)
            if (*p < '0' || *p > '9')
                return false;
    }
    n = (size_t)(name_end - name);
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, name, n);
    buf[n] = '\0';
    if (name > host)
        return inet_pton(AF_INET6, buf, &a6) == 1 &&
               IN6_IS_ADDR_LOOPBACK(&a6);
    if (strcasecmp(buf, "localhost") == 0)
        return true;
    return inet_pton(AF_INET, buf, &a4) == 1 &&
           (ntohl(a4.s_addr) >> 24) == 127;
}

/* On loopback, is req for a loopback name (its Host, or HTTP/2's
 * :authority)? Otherwise it has been answered: 400 with no name, 403 for
 * another name. */
static bool host_allowed(kiln_web *w, h2o_req_t *req)
{
    h2o_iovec_t host = req->input.authority;

    if (!w->loopback)
        return true;
    /* A request that names no host gets the default host's name. */
    if (!host.base || host.len == 0 ||
        host.base == req->hostconf->authority.hostport.base) {
        kiln_web__error(req, 400, "the request has no Host header");
        return false;
    }
    if (!loopback_host(host.base, host.len)) {
        kiln_web__error(req, 403, "Host \"%.*s\" refused: kiln serve "
                        "listens on loopback and answers only localhost, "
                        "127.x.x.x and [::1]", (int)(host.len < 200
                                                     ? host.len : 200),
                        host.base);
        return false;
    }
    return true;
}

/* The one handler. */

/* Is the method a token (RFC 9110: letters, digits, !#$%&'*+-.^_`|~)? */
static bool method_ok(h2o_iovec_t m)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    if (m.len == 0)
        return false;
    for (size_t i = 0; i < m.len; i++)
        if (!(m.base[i] >= 'a' && m.base[i] <= 'z') &&
            !(m.base[i] >= 'A' && m.base[i] <= 'Z') &&
            !(m.base[i] >= '0' && m.base[i] <= '9') &&
            !(m.base[i] && strchr(tchar, m.base[i])))
            return false;
    return true;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    kiln_web *w = ((handler *)self)->w;
    kiln_web_target t;
    const char *path;
    const kiln_web_asset *a;

    if (!method_ok(req->method))
        return kiln_web__error(req, 400, "bad request: the method is not "
                               "an HTTP token");
    if (!host_allowed(w, req) || !parse_target(req, &t))
        return 0;
    path = t.path;
    if (strncmp(path, "/api/", 5) == 0 || strcmp(path, "/healthz") == 0 ||
        strcmp(path, "/metrics") == 0) {
        if (req->entity.base && req->entity.len > KILN_WEB_MAX_BODY)
            return kiln_web__error(req, 413, "the body is larger than %zu "
                                   "bytes", KILN_WEB_MAX_BODY);
        if (!kiln_web__route(w, req, &t))
            kiln_web__error(req, 404, "no such route: %s", path);
        return 0;
    }
    if (!(a = kiln_web__asset(path)))
        return kiln_web__error(req, 404, "not found: %s", path);
    if (!kiln_web__is(req, "GET") && !kiln_web__is(req, "HEAD")) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                       H2O_STRLIT("GET, HEAD"));
        return kiln_web__error(req, 405, "the status page is read-only");
    }
    if (!w->loopback && !kiln_web__allowed(w, req))
        return 0;
    kiln_web__text(req, 200, a->type, (const char *)a->data, a->len);
    return 0;
}

/* Connections. h2o takes the handle's data pointer for itself, so a
 * client's handle sits first in a struct that remembers the server. */

typedef struct client {
    uv_tcp_t tcp;
    kiln_web *w;
} client;

static void on_client_close(uv_handle_t *h)
{
    client *c = (client *)h;
    c->w->open--;
    free(c);
}

static void on_accept(uv_stream_t *listener, int status)
{
    kiln_web *w = listener->data;
    client *c;
    h2o_socket_t *sock;

    if (status != 0 || w->stopping)
        return;
    c = kiln_calloc(1, sizeof(*c));
    c->w = w;
    uv_tcp_init(listener->loop, &c->tcp);
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    w->open++;
    sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_client_close);
    h2o_accept(&w->accept_ctx, sock);
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT" (every interface). */
static int parse_listen(struct sockaddr_storage *ss, bool *loopback,
                        const char *text, kiln_err *err)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    char *end;
    long port;
    size_t n;

    if (!colon)
        goto bad;
    port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535)
        goto bad;
    n = (size_t)(colon - text);
    if (n && text[0] == '[') {
        if (n < 2 || text[n - 1] != ']' || n - 2 >= sizeof(host))
            goto bad;
        memcpy(host, text + 1, n - 2);
        host[n - 2] = '\0';
        if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) != 0)
            goto bad;
        *loopback = strcmp(host, "::1") == 0;
        return 0;
    }
    if (n >= sizeof(host))
        goto bad;
    memcpy(host, text, n);
    host[n] = '\0';
    if (n == 0)
        strcpy(host, "0.0.0.0");
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) != 0)
        goto bad;
    *loopback = strncmp(host, "127.", 4) == 0;
    return 0;
bad:
    return kiln_err_set(err, KILN_EINVAL, "--listen: expected ADDRESS:PORT "
                        "such as 127.0.0.1:8080 or [::1]:8080, got \"%s\"",
                        text);
}

int kiln_web_start(kiln_web **out, const kiln_web_options *o, kiln_err *err)
{
    struct sockaddr_storage ss, bound;
    int len = sizeof(bound), rc;
    kiln_web *w = kiln_calloc(1, sizeof(*w));
    h2o_hostconf_t *host;
    h2o_pathconf_t *pathconf;
    handler *h;
    char ip[INET6_ADDRSTRLEN];

    /* h2o writes to sockets whose peer may be gone (a closed tab's event
     * stream): that write must fail with EPIPE, not kill the daemon.
     * Steps are spawned with every signal back at its default. */
    signal(SIGPIPE, SIG_IGN);
    memset(&ss, 0, sizeof(ss));
    w->o = *o;
    if ((rc = parse_listen(&ss, &w->loopback, o->listen, err)) != 0) {
        free(w);
        return rc;
    }
    w->listen = kiln_strdup(o->listen);
    w->token = o->token ? kiln_strdup(o->token) : NULL;
    w->state_dir = kiln_strdup(o->state_dir);
    w->o.listen = w->listen;
    w->o.token = w->token;
    w->o.state_dir = w->state_dir;

    w->listener = kiln_calloc(1, sizeof(*w->listener));
    uv_tcp_init(o->loop, w->listener);
    w->listener->data = w;
    if ((rc = uv_tcp_bind(w->listener, (struct sockaddr *)&ss, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)w->listener, 128, on_accept)) !=
            0) {
        kiln_err_set(err, KILN_ERROR, "cannot listen on %s: %s", o->listen,
                     uv_strerror(rc));
        uv_close((uv_handle_t *)w->listener, (uv_close_cb)free);
        free(w->listen);
        free(w->token);
        free(w->state_dir);
        free(w);
        *out = NULL;
        return KILN_ERROR;
    }
    uv_tcp_getsockname(w->listener, (struct sockaddr *)&bound, &len);
    if (bound.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&bound, ip, sizeof(ip));
        snprintf(w->address, sizeof(w->address), "[%s]:%d", ip,
                 ntohs(((struct sockaddr_in6 *)&bound)->sin6_port));
    } else {
        uv_ip4_name((struct sockaddr_in *)&bound, ip, sizeof(ip));
        snprintf(w->address, sizeof(w->address), "%s:%d", ip,
                 ntohs(((struct sockaddr_in *)&bound)->sin_port));
    }

    h2o_config_init(&w->config);
    w->config.server_name = h2o_iovec_init(H2O_STRLIT("kiln"));
    /* Larger bodies get our JSON 413 in on_req; beyond this h2o refuses
     * them before reading them. */
    w->config.max_request_entity_size = 16 * KILN_WEB_MAX_BODY;
    /* On stop, HTTP/2 clients get GOAWAY at once, with no lingering
     * timer left for the context's disposal. */
    w->config.http2.graceful_shutdown_timeout = 0;
    host = h2o_config_register_host(&w->config,
                                    h2o_iovec_init(H2O_STRLIT("default")),
                                    65535);
    pathconf = h2o_config_register_path(host, "/", 0);
    h = (handler *)h2o_create_handler(pathconf, sizeof(*h));
    h->super.on_req = on_req;
    h->w = w;
    h2o_context_init(&w->ctx, o->loop, &w->config);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = w->config.hosts;
    *out = w;
    return 0;
}

const char *kiln_web_address(const kiln_web *w)
{
    return w->address;
}

static void on_listener_close(uv_handle_t *h)
{
    kiln_web *w = h->data;
    w->listener_closed = true;
    free(h);
}

/* Once every client is gone, the context can go. */
static void on_reap(uv_timer_t *t)
{
    kiln_web *w = t->data;
    if (w->open > 0 || !w->listener_closed)
        return;
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
/* h2o_context_request_shutdown() left the HTTP/2 GOAWAY resend timer
     * armed; with no connection left it has nothing to do. */
    if (h2o_timeout_is_linked(&w->ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&w->ctx.http2._graceful_shutdown_timeout);
    h2o_context_dispose(&w->ctx);
    h2o_config_dispose(&w->config);
    for (size_t i = 0; i < KILN_WEB_CACHE_SLOTS; i++) {
        free(w->cache[i].key);
        free(w->cache[i].body);
    }
    free(w->listen);
    free(w->token);
    free(w->state_dir);
    free(w);
}

void kiln_web_stop(kiln_web *w)
{
    uv_timer_t *reap;
    if (!w || w->stopping)
        return;
    w->stopping = true;
    uv_close((uv_handle_t *)w->listener, on_listener_close);
    kiln_web__end_streams(w);
    if (w->open > 0)
        h2o_context_request_shutdown(&w->ctx);
    reap = kiln_calloc(1, sizeof(*reap));
    uv_timer_init(w->o.loop, reap);
    reap->data = w;
    uv_timer_start(reap, on_reap, 10, 50);
}
