/*
 * server.c: libh2o on the daemon's libuv loop.
 *
 * One h2o handler takes every request. Its method, Host and target are
 * checked first (request.c); then /api/v1/..., /healthz and /metrics go
 * to routes.c, which asks auth.c whether the request may go on, and
 * anything else is the status page (assets.c). h2o parses HTTP/1.1 and
 * HTTP/2. Answers are JSON, errors included ({"error": MSG}), except the
 * status page, logs and /metrics.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
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
    if (!(a = kiln_web__asset(path))) {
        kiln_web__error(req, 404, "not found: %s", path);
    } else if (!kiln_web__is(req, "GET") && !kiln_web__is(req, "HEAD")) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                       H2O_STRLIT("GET, HEAD"));
        kiln_web__error(req, 405, "the status page is read-only");
    } else if (w->loopback || kiln_web__allowed(w, req)) {
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
