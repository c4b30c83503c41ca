/*
 * request.c: what a request is checked for before any route sees it.
 *
 * Its target is decoded here, once: %xx escapes must be well formed and
 * decode to UTF-8 text (no overlong form, no surrogate, no control
 * character), the path must have no "." or ".." segment, and anything
 * else is a JSON 400. Its method must be an HTTP token and, on loopback,
 * its Host a loopback name (Host: localhost, 127.x.x.x or [::1]), so
 * that a web page whose name an attacker points at 127.0.0.1 (DNS
 * rebinding) cannot read the API through a browser.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Text. */

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
void kiln_web__utf8_scrub(char *s)
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

/* The target. */

bool kiln_web__is(h2o_req_t *req, const char *method)
{
    return h2o_memis(req->method.base, req->method.len, method,
                     strlen(method));
}

void kiln_web__send_head(h2o_req_t *req, int status, const char *reason,
                         int64_t length)
{
    static h2o_generator_t none = {NULL, NULL};
    req->res.status = status;
    req->res.reason = reason;
    if (length >= 0)
        req->res.content_length = (size_t)length;
    h2o_start_response(req, &none);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
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
bool kiln_web__parse_target(h2o_req_t *req, kiln_web_target *t)
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

/* Host and method. */

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
bool kiln_web__host_allowed(kiln_web *w, h2o_req_t *req)
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

/* Is the method a token (RFC 9110: letters, digits, !#$%&'*+-.^_`|~)? */
bool kiln_web__method_ok(h2o_iovec_t m)
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
