/*
 * server.c: libh2o on the daemon's libuv loop.
 *
 * One h2o handler takes every request. Its method, Host and target are
 * checked first (request.c); then /api/v1/..., /healthz and /metrics go
 * to routes.c, which asks auth.c whether the request may go on, /login
 * and /logout to login.c, and anything else is the status page
 * (assets.c). h2o parses HTTP/1.1 and
 * HTTP/2. Answers are JSON, errors included ({"error": MSG}), except the
 * status page, logs and /metrics.
 *
 * With a certificate and key (kiln_web_options.tls_cert, tls_key), every
 * connection is TLS, through h2o's own OpenSSL support on the same loop:
 * ALPN offers h2 and http/1.1, so HTTP/2 clients get HTTP/2.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
                      : status < 400 ? "See Other"
                      : status < 500 ? "Client Error"
                                     : "Server Error";
    set_type(req, type);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL,
                   NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, body, len);
}

void kiln_web__json(h2o_req_t *req, int status, json_t *body,
                    kiln_web_cached *keep)
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
        return;
    }
    len = strlen(text);
    kiln_web__text(req, status, "application/json", text, len);
    if (keep && status == 200) {
        free(keep->body);
        keep->body = text;
        keep->len = len;
        return;
    }
    free(text);
}

void kiln_web__error(h2o_req_t *req, int status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kiln_web__utf8_scrub(msg);
    kiln_web__json(req, status, json_pack("{s:s}", "error", msg), NULL);
}

/* The one handler. */

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    kiln_web *w = ((handler *)self)->w;
    kiln_web_target t;
    const char *path;
    const kiln_web_asset *a;

    /* Every request is answered here: h2o's next handler is never
     * asked (0). */
    if (!kiln_web__method_ok(req->method)) {
        kiln_web__error(req, 400, "bad request: the method is not an "
                        "HTTP token");
        return 0;
    }
    if (!kiln_web__host_allowed(w, req) ||
        !kiln_web__parse_target(req, &t))
        return 0;
    path = t.path;
    if (strncmp(path, "/api/", 5) == 0 || strcmp(path, "/healthz") == 0 ||
        strcmp(path, "/metrics") == 0) {
        if (req->entity.base && req->entity.len > KILN_WEB_MAX_BODY)
            kiln_web__error(req, 413, "the body is larger than %zu bytes",
                            KILN_WEB_MAX_BODY);
        else if (!kiln_web__route(w, req, &t))
            kiln_web__error(req, 404, "no such route: %s", path);
        return 0;
    }
    if (kiln_web__login_route(w, req, &t))
        return 0;
    /* The page's files hold no data: anyone may load them, and the page
     * then asks who they are (GET /api/v1/session). */
    if (!(a = kiln_web__asset(path))) {
        kiln_web__error(req, 404, "not found: %s", path);
    } else if (!kiln_web__is(req, "GET") && !kiln_web__is(req, "HEAD")) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                       H2O_STRLIT("GET, HEAD"));
        kiln_web__error(req, 405, "the status page is read-only");
    } else {
        kiln_web__text(req, 200, a->type, (const char *)a->data, a->len);
    }
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

/* TLS. */

/* What OpenSSL said first ("no start line"), and its queue emptied. */
static const char *ssl_reason(char *buf, size_t size)
{
    unsigned long e = ERR_peek_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    if (r)
        snprintf(buf, size, "%s", r);
    else if (e)
        ERR_error_string_n(e, buf, size);
    else
        snprintf(buf, size, "unknown error");
    ERR_clear_error();
    return buf;
}

/* An encrypted key is refused rather than asked for on a terminal
 * nobody may be watching. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

/* The private key of cert in file into ctx. The key is read from the
 * file whose mode was checked (no second open). */
static int load_key(SSL_CTX *ctx, const char *file, const char *cert,
                    kiln_err *err)
{
    FILE *f = fopen(file, "r");
    struct stat st;
    EVP_PKEY *key;
    char why[256];
    int rc;

    if (!f)
        return kiln_err_set(err, KILN_ERROR, "--tls-key %s: %s", file,
                            strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return kiln_err_set(err, KILN_ERROR, "--tls-key %s: not a regular "
                            "file", file);
    }
    if (st.st_mode & (S_IRGRP | S_IROTH)) {
        fclose(f);
        return kiln_err_set(err, KILN_ERROR, "--tls-key %s is readable by "
                            "its group or others (mode %04o): whoever can "
                            "read it can pose as this server; chmod 600 it "
                            "(and make a new key if others may have read "
                            "it)", file, (unsigned)(st.st_mode & 07777));
    }
    key = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
    fclose(f);
    if (!key)
        return kiln_err_set(err, KILN_ERROR, "--tls-key %s: no PEM "
                            "private key without a passphrase in it (%s)", file,
                            ssl_reason(why, sizeof(why)));
    /* A key of another type than the certificate's is taken here, and
     * refused by SSL_CTX_check_private_key(); one of the same type is
     * refused here. */
    rc = SSL_CTX_use_PrivateKey(ctx, key);
    EVP_PKEY_free(key);
    if (rc != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        return kiln_err_set(err, KILN_ERROR, "--tls-key %s is not the key "
                            "of the certificate in %s", file, cert);
    }
    return 0;
}

/* A server context for cert (PEM, the server's certificate first, then
 * any intermediates) and key, with h2o's ALPN. */
static int tls_context(SSL_CTX **out, const char *cert, const char *key,
                       kiln_err *err)
{
    SSL_CTX *ctx;
    FILE *f;
    char why[256];

    *out = NULL;
    if (!(f = fopen(cert, "r")))
        return kiln_err_set(err, KILN_ERROR, "--tls-cert %s: %s", cert,
                            strerror(errno));
    fclose(f);
    if (!(ctx = SSL_CTX_new(TLS_server_method())))
        return kiln_err_set(err, KILN_ERROR, "TLS: %s",
                            ssl_reason(why, sizeof(why)));
    /* HTTP/2 needs TLS 1.2 or later, without compression or
     * renegotiation; TLS 1.2 gets forward-secret AEAD ciphers only. */
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
                        SSL_OP_NO_RENEGOTIATION |
                        SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:"
                            "DHE+AESGCM:DHE+CHACHA20");
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        kiln_err_set(err, KILN_ERROR, "--tls-cert %s: no PEM "
                     "certificate in it (%s)", cert,
                     ssl_reason(why, sizeof(why)));
        goto fail;
    }
    if (load_key(ctx, key, cert, err) != 0)
        goto fail;
    /* h2, then http/1.1 (a client that offers neither gets HTTP/1.1). */
    h2o_ssl_register_alpn_protocols(ctx, h2o_alpn_protocols);
    *out = ctx;
    return 0;
fail:
    SSL_CTX_free(ctx);
    return KILN_ERROR;
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
    if (!o->tls_cert != !o->tls_key) {
        free(w);
        return kiln_err_set(err, KILN_EINVAL, "TLS needs both a "
                            "certificate and a key");
    }
    /* Before the address is bound: a daemon with a key it must not use
     * serves nothing. */
    if (o->tls_cert &&
        (rc = tls_context(&w->ssl_ctx, o->tls_cert, o->tls_key, err)) != 0) {
        free(w);
        return rc;
    }
    if (o->auth_header_role &&
        (w->auth_header_role = kiln_role_parse(o->auth_header_role)) ==
            KILN_ROLE_NONE) {
        SSL_CTX_free(w->ssl_ctx);
        free(w);
        return kiln_err_set(err, KILN_EINVAL, "--auth-header-role %s: "
                            "viewer, operator or admin", o->auth_header_role);
    }
    if ((rc = kiln_web__proxies_parse(w, o->trusted_proxies, err)) != 0 ||
        (!o->auth_header != !w->n_proxies &&
         (rc = kiln_err_set(err, KILN_EINVAL, "--auth-header and "
                            "--trusted-proxy go together: the header is "
                            "believed from those addresses only")) != 0)) {
        SSL_CTX_free(w->ssl_ctx);
        free(w->proxies);
        free(w);
        return rc;
    }
    if (o->auth_header) {
        w->auth_header = kiln_strdup(o->auth_header);
        for (char *p = w->auth_header; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    }
    w->o.auth_header = w->auth_header;
    w->o.trusted_proxies = NULL; /* parsed into w->proxies */
    w->o.auth_header_role = NULL;
    kiln_random_hex(w->proxy_secret, 32);
    w->listen = kiln_strdup(o->listen);
    w->token = o->token ? kiln_strdup(o->token) : NULL;
    w->state_dir = kiln_strdup(o->state_dir);
    w->o.listen = w->listen;
    w->o.token = w->token;
    w->o.state_dir = w->state_dir;
    w->tls_cert = o->tls_cert ? kiln_strdup(o->tls_cert) : NULL;
    w->tls_key = o->tls_key ? kiln_strdup(o->tls_key) : NULL;
    w->o.tls_cert = w->tls_cert;
    w->o.tls_key = w->tls_key;

    w->listener = kiln_calloc(1, sizeof(*w->listener));
    uv_tcp_init(o->loop, w->listener);
    w->listener->data = w;
    if ((rc = uv_tcp_bind(w->listener, (struct sockaddr *)&ss, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)w->listener, 128, on_accept)) !=
            0) {
        kiln_err_set(err, KILN_ERROR, "cannot listen on %s: %s", o->listen,
                     uv_strerror(rc));
        uv_close((uv_handle_t *)w->listener, (uv_close_cb)free);
        SSL_CTX_free(w->ssl_ctx);
        free(w->listen);
        free(w->token);
        free(w->state_dir);
        free(w->tls_cert);
        free(w->tls_key);
        free(w->auth_header);
        free(w->proxies);
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
    w->accept_ctx.ssl_ctx = w->ssl_ctx;
    kiln_web__events_init(w);
    *out = w;
    return 0;
}

const char *kiln_web_address(const kiln_web *w)
{
    return w->address;
}

bool kiln_web_tls(const kiln_web *w)
{
    return w->ssl_ctx != NULL;
}

int kiln_web_reload_tls(kiln_web *w, kiln_err *err)
{
    SSL_CTX *ctx;
    int rc;
    if (!w || !w->ssl_ctx)
        return 0;
    if ((rc = tls_context(&ctx, w->tls_cert, w->tls_key, err)) != 0)
        return rc;
    /* Each connection's SSL holds a reference to the context it was
     * made with: the old one goes with the last of them. */
    SSL_CTX_free(w->ssl_ctx);
    w->ssl_ctx = ctx;
    w->accept_ctx.ssl_ctx = ctx;
    return 0;
}

bool kiln_web_loopback(const kiln_web *w)
{
    return w->loopback;
}

bool kiln_web_proxied(const kiln_web *w)
{
    return w->n_proxies > 0;
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
    if (w->open > 0 || !w->listener_closed || w->tally_job)
        return;
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
/* h2o_context_request_shutdown() left the HTTP/2 GOAWAY resend timer
     * armed; with no connection left it has nothing to do. */
    if (h2o_timeout_is_linked(&w->ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&w->ctx.http2._graceful_shutdown_timeout);
    h2o_context_dispose(&w->ctx);
    h2o_config_dispose(&w->config);
    SSL_CTX_free(w->ssl_ctx);
    for (size_t i = 0; i < KILN_WEB_CACHE_SLOTS; i++) {
        free(w->cache[i].key);
        free(w->cache[i].body);
    }
    free(w->listen);
    free(w->token);
    free(w->state_dir);
    free(w->tls_cert);
    free(w->tls_key);
    free(w->auth_header);
    free(w->proxies);
    kiln_tally_dispose(&w->tally);
    kiln_web__events_free(w);
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
