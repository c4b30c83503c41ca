/*
 * http.h: HTTP requests on the daemon's libuv loop, with libcurl's multi
 * interface.
 *
 * libcurl tells us which sockets to watch and when it wants a timer; a
 * uv_poll_t per socket and one uv_timer_t drive it (curl's multi-uv.c
 * pattern), so a slow or dead server never blocks the loop: every request
 * has a timeout covering connection and transfer, and its callback runs
 * exactly once, on the loop thread.
 */
#ifndef KILN_HTTP_H
#define KILN_HTTP_H

#include <uv.h>

#include "base/base.h"

typedef struct kiln_http kiln_http;

typedef struct kiln_http_result {
    long status;        /* the HTTP status; 0 when no response came */
    const char *body;   /* NUL-terminated; valid during the callback */
    size_t len;
    const char *error;  /* NULL when a response came (whatever its
                           status); otherwise why not */
} kiln_http_result;

typedef void (*kiln_http_cb)(const kiln_http_result *r, void *data);

typedef struct kiln_http_request {
    const char *method;       /* "GET" when NULL */
    const char *url;
    const char *content_type; /* of body; NULL: no body */
    const char *body;
    size_t len;
    const char *auth_bearer;  /* Authorization: Bearer ..., or NULL */
    int64_t timeout_ms;       /* the whole request; 0 means 10 s */
    size_t max_body;          /* larger responses fail; 0 means 1 MiB */
} kiln_http_request;

int kiln_http_new(kiln_http **out, uv_loop_t *loop, kiln_err *err);
/* Start a request; cb runs later, once, on the loop (never from inside
 * this call). */
int kiln_http_start(kiln_http *h, const kiln_http_request *req,
                    kiln_http_cb cb, void *data, kiln_err *err);
/* Cancel every request in flight (their callbacks run now, with an error)
 * and close the handles; memory goes once the loop has closed them. NULL
 * is fine. */
void kiln_http_close(kiln_http *h);

#endif
