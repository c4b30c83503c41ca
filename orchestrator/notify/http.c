/*
 * http.c: libcurl's multi interface on a libuv loop.
 *
 * curl calls on_socket() to say which events a socket needs (we keep a
 * uv_poll_t for each, in the socket's curl "socketp") and on_curl_timer()
 * to ask for a timeout; both feed curl_multi_socket_action(), and
 * finished transfers are collected by collect().
 */
#include "http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

typedef struct request request;

struct kiln_http {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    request *requests;  /* in flight */
    int open_polls;     /* poll handles not yet closed */
    bool closing;
};

struct request {
    request *next;
    kiln_http *h;
    CURL *easy;
    struct curl_slist *headers;
    kiln_buf body;
    size_t max_body;
    bool too_big;
    char error[CURL_ERROR_SIZE];
    kiln_http_cb cb;
    void *data;
};

typedef struct poll_ctx {
    uv_poll_t poll;
    kiln_http *h;
    curl_socket_t fd;
} poll_ctx;

static void on_timer_close(uv_handle_t *t)
{
    free(t->data);
}

/* Once closing and every poll handle is closed, the rest can go. */
static void maybe_free(kiln_http *h)
{
    if (h->closing && h->multi && h->open_polls == 0) {
        curl_multi_cleanup(h->multi);
        h->multi = NULL;
        uv_timer_stop(&h->timer);
        uv_close((uv_handle_t *)&h->timer, on_timer_close);
    }
}

static void request_free(request *r)
{
    curl_multi_remove_handle(r->h->multi, r->easy);
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    kiln_buf_dispose(&r->body);
    free(r);
}

static void unlink_request(request *r)
{
    for (request **pp = &r->h->requests; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            return;
        }
    }
}

/* Hand every finished transfer to its callback. */
static void collect(kiln_http *h)
{
    CURLMsg *m;
    int left;
    while (!h->closing && (m = curl_multi_info_read(h->multi, &left))) {
        request *r;
        kiln_http_result res;
        char why[CURL_ERROR_SIZE + 64];
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        memset(&res, 0, sizeof(res));
        res.body = kiln_buf_cstr(&r->body);
        res.len = r->body.len;
        if (r->too_big) {
            snprintf(why, sizeof(why), "the response is larger than %zu "
                     "bytes", r->max_body);
            res.error = why;
        } else if (m->data.result != CURLE_OK) {
            snprintf(why, sizeof(why), "%s", r->error[0]
                         ? r->error
                         : curl_easy_strerror(m->data.result));
            res.error = why;
        } else {
            curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
        }
        unlink_request(r);
        r->cb(&res, r->data);
        request_free(r);
    }
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    poll_ctx *c = p->data;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(c->h->multi, c->fd, flags, &running);
    collect(c->h);
}

static void on_poll_close(uv_handle_t *handle)
{
    poll_ctx *c = handle->data;
    kiln_http *h = c->h;
    free(c);
    h->open_polls--;
    maybe_free(h);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
                     void *socketp)
{
    kiln_http *h = userp;
    poll_ctx *c = socketp;
    int events = 0;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (c) {
            uv_poll_stop(&c->poll);
            curl_multi_assign(h->multi, fd, NULL);
            uv_close((uv_handle_t *)&c->poll, on_poll_close);
        }
        return 0;
    }
    if (!c) {
        c = kiln_calloc(1, sizeof(*c));
        c->h = h;
        c->fd = fd;
        if (uv_poll_init_socket(h->loop, &c->poll, fd) != 0) {
            free(c);
            return -1;
        }
        c->poll.data = c;
        h->open_polls++;
        curl_multi_assign(h->multi, fd, c);
    }
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&c->poll, events, on_poll);
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    kiln_http *h = t->data;
    int running;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect(h);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    kiln_http *h = userp;
    (void)multi;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else
        uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static size_t on_data(char *ptr, size_t size, size_t n, void *userp)
{
    request *r = userp;
    size_t len = size * n;
    if (r->body.len + len > r->max_body) {
        r->too_big = true;
        return 0; /* aborts the transfer */
    }
    kiln_buf_add(&r->body, ptr, len);
    return len;
}

int kiln_http_new(kiln_http **out, uv_loop_t *loop, kiln_err *err)
{
    static bool global;
    kiln_http *h;
    if (!global) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
            return kiln_err_set(err, KILN_ERROR, "cannot initialise "
                                "libcurl");
        global = true;
    }
    h = kiln_calloc(1, sizeof(*h));
    h->loop = loop;
    if (!(h->multi = curl_multi_init())) {
        free(h);
        return kiln_err_set(err, KILN_ERROR, "cannot initialise libcurl");
    }
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    *out = h;
    return 0;
}

int kiln_http_start(kiln_http *h, const kiln_http_request *req,
                    kiln_http_cb cb, void *data, kiln_err *err)
{
    request *r = kiln_calloc(1, sizeof(*r));
    const char *method = req->method ? req->method : "GET";
    CURLMcode mc;

    r->h = h;
    r->cb = cb;
    r->data = data;
    r->max_body = req->max_body ? req->max_body : (size_t)1 << 20;
    if (!(r->easy = curl_easy_init())) {
        free(r);
        return kiln_err_set(err, KILN_ERROR, "cannot initialise libcurl");
    }
    curl_easy_setopt(r->easy, CURLOPT_URL, req->url);
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->error);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS,
                     (long)(req->timeout_ms > 0 ? req->timeout_ms : 10000));
    curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "kiln/" KILN_VERSION);
    curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method);
    if (req->content_type) {
        char *ct = kiln_asprintf("Content-Type: %s", req->content_type);
        r->headers = curl_slist_append(r->headers, ct);
        free(ct);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)req->len);
        curl_easy_setopt(r->easy, CURLOPT_COPYPOSTFIELDS,
                         req->body ? req->body : "");
    }
    if (req->auth_bearer) {
        char *a = kiln_asprintf("Authorization: Bearer %s",
                                req->auth_bearer);
        r->headers = curl_slist_append(r->headers, a);
        free(a);
    }
    if (r->headers)
        curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
    if ((mc = curl_multi_add_handle(h->multi, r->easy)) != CURLM_OK) {
        curl_easy_cleanup(r->easy);
        curl_slist_free_all(r->headers);
        free(r);
        return kiln_err_set(err, KILN_ERROR, "cannot start a request to "
                            "%s: %s", req->url, curl_multi_strerror(mc));
    }
    r->next = h->requests;
    h->requests = r;
    return 0;
}

void kiln_http_close(kiln_http *h)
{
    if (!h || h->closing)
        return;
    h->closing = true;
    while (h->requests) {
        request *r = h->requests;
        kiln_http_result res;
        memset(&res, 0, sizeof(res));
        res.body = "";
        res.error = "cancelled: kiln is stopping";
        h->requests = r->next;
        r->cb(&res, r->data);
        request_free(r);
    }
    uv_timer_stop(&h->timer);
    maybe_free(h);
}
