/*
 * internal.h: what the files of web/ share.
 *
 *   server.c  the h2o server on the loop: listen, accept, limits,
 *             dispatch, responses, shutdown;
 *   request.c a request's method, Host and target, checked before any
 *             route sees it;
 *   auth.c    tokens, and the throttling of wrong ones;
 *   routes.c  the /api/v1 routes;
 *   events.c  Server-Sent Events subscribers;
 *   assets.c  the status page (generated from web/ui/ at build time).
 */
#ifndef KILN_WEB_INTERNAL_H
#define KILN_WEB_INTERNAL_H

#define H2O_USE_LIBUV 1
#include <h2o.h>

#include "web/web.h"

/* Bodies of POST requests larger than this get 413. */
#define KILN_WEB_MAX_BODY ((size_t)1 << 20)

typedef struct kiln_web_sub kiln_web_sub;

/* A request's target, decoded and checked once in server.c before any
 * route sees it: every string is UTF-8 text with no control character,
 * in the request's pool. */
typedef struct kiln_web_param {
    const char *name;
    const char *value;       /* "" for a name with no '=' */
} kiln_web_param;

typedef struct kiln_web_target {
    const char *path;        /* %xx decoded: "/api/v1/runs/12" */
    kiln_web_param *params;  /* the query's, in the order sent */
    size_t n_params;
} kiln_web_target;

/* Wrong tokens sent from one client address (server.c throttles them). */
#define KILN_WEB_STRIKE_SLOTS 64
typedef struct kiln_web_strikes {
    unsigned char addr[16];  /* IPv4, or the /64 of an IPv6 address */
    unsigned failures;       /* wrong tokens since the last right one */
    uint64_t until;          /* loop time until which it gets 429 */
    uint64_t last;           /* loop time of the last wrong token */
} kiln_web_strikes;

/* Answers to GETs that only read the store, kept while the database does
 * not change (kiln_store_version()). */
#define KILN_WEB_CACHE_SLOTS 32
typedef struct kiln_web_cached {
    char *key;               /* the request's path and query */
    char *body;              /* a 200 JSON answer */
    size_t len;
    uint64_t version;
} kiln_web_cached;

struct kiln_web {
    kiln_web_options o;
    char *listen;            /* owned copies of o's strings */
    char *token;
    char *state_dir;
    char address[80];        /* as bound */
    bool loopback;           /* listening on loopback only */
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    uv_tcp_t *listener;
    uv_timer_t *heartbeat;   /* keeps event streams alive */
    kiln_web_sub *subs;      /* event stream subscribers */
    uint64_t event_id;
    kiln_web_cached cache[KILN_WEB_CACHE_SLOTS];
    unsigned cache_next;     /* the slot to replace next */
    uint64_t version_at;     /* loop time of the last look for other
                                processes' changes */
    kiln_web_strikes strikes[KILN_WEB_STRIKE_SLOTS];
    int open;                /* client sockets not yet closed */
    bool stopping;
    bool listener_closed;
    bool freed;
};

/* Responses. Every error is JSON {"error": MSG}; MSG may quote what the
 * client sent: bytes that are not UTF-8 become '?'. */
void kiln_web__json(h2o_req_t *req, int status, json_t *body); /* steals */
int kiln_web__error(h2o_req_t *req, int status, const char *fmt, ...)
    KILN_PRINTF(3, 4);
void kiln_web__text(h2o_req_t *req, int status, const char *type,
                    const char *body, size_t len);
/* Keep the next 200 answer of kiln_web__json() in slot as well. */
void kiln_web__cache_fill(kiln_web_cached *slot);

/* Requests (request.c). */
/* Is the method an HTTP token? */
bool kiln_web__method_ok(h2o_iovec_t m);
/* On loopback, is req for a loopback name? Otherwise it has been
 * answered: 400 with no name, 403 for another name. */
bool kiln_web__host_allowed(kiln_web *w, h2o_req_t *req);
/* Decode and check req's target into t (in req's pool), or answer 400
 * and return false. */
bool kiln_web__parse_target(h2o_req_t *req, kiln_web_target *t);
/* The value of the first query parameter called name, or NULL. */
const char *kiln_web__query(const kiln_web_target *t, const char *name);
bool kiln_web__is(h2o_req_t *req, const char *method);
/* Make s UTF-8 in place: each byte that does not begin a well-formed
 * sequence becomes '?'. */
void kiln_web__utf8_scrub(char *s);

/* Auth (auth.c). */
/* May req go on (its token, when one is needed)? Otherwise it has been
 * answered: 401 or 403, or 429 for a client that sent too many wrong
 * tokens. */
bool kiln_web__allowed(kiln_web *w, h2o_req_t *req);

/* Routes (routes.c): handle req or return false for an unknown path. */
bool kiln_web__route(kiln_web *w, h2o_req_t *req, const kiln_web_target *t);

/* Events (events.c). */
int kiln_web__subscribe(kiln_web *w, h2o_req_t *req);
void kiln_web__end_streams(kiln_web *w);

/* The status page (assets.c): the asset for path, or NULL. */
typedef struct kiln_web_asset {
    const char *path;       /* "/", "/app.js" */
    const char *type;
    const unsigned char *data;
    size_t len;
} kiln_web_asset;
const kiln_web_asset *kiln_web__asset(const char *path);

#endif
