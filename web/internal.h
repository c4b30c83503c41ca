/*
 * internal.h: what the files of web/ share.
 *
 *   server.c     the h2o server on the loop: listen, TLS, accept, limits,
 *                dispatch, responses, shutdown;
 *   request.c    a request's method, Host and target, checked before any
 *                route sees it;
 *   auth.c       who sends a request (a token, a session cookie, a
 *                trusted proxy's header) and what their role lets them
 *                do; CSRF checks; the throttling of wrong tokens;
 *   login.c      /login and /logout: page sessions;
 *   routes.c     the route table, its dispatch, the response cache and
 *                what the routes share;
 *   pipelines.c, runs.c, lineage.c, models.c, metrics.c
 *                the routes of each resource, as h2o's status handlers
 *                are split (metrics.c has /metrics, for Prometheus);
 *   events.c     /api/v1/events: Server-Sent Events subscribers;
 *   assets.c     the status page (generated from web/ui/ at build time).
 *
 * Routes read the store and change nothing but through the daemon's
 * hooks (kiln_web_hooks).
 */
#ifndef KILN_WEB_INTERNAL_H
#define KILN_WEB_INTERNAL_H

#define H2O_USE_LIBUV 1
#include <h2o.h>

#include "base/hash.h"
#include "store/tally.h"
#include "web/web.h"

/* Bodies of POST requests larger than this get 413. */
#define KILN_WEB_MAX_BODY ((size_t)1 << 20)

typedef struct kiln_web_sub kiln_web_sub;

/* An event as sent ("id: ...\nevent: ...\ndata: ...\n\n"). */
#define KILN_WEB_EVENTS_KEPT 1024
typedef struct kiln_web_event {
    uint64_t id;
    char *text;
} kiln_web_event;

/* A request's target, decoded and checked once in request.c before any
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

/* Wrong tokens sent from one client address (auth.c throttles them). */
#define KILN_WEB_STRIKE_SLOTS 64
typedef struct kiln_web_strikes {
    unsigned char addr[16];  /* IPv4, or the /64 of an IPv6 address */
    unsigned failures;       /* wrong tokens since the last right one */
    uint64_t until;          /* loop time until which it gets 429 */
    uint64_t last;           /* loop time of the last wrong token */
} kiln_web_strikes;

/* Users' tokens found good, kept while the database does not change
 * (kiln_store_version()): a request with a token checked a moment ago
 * costs no query. A revocation, a role changed, a user removed is a
 * change, so it counts as at once as without the cache. */
#define KILN_WEB_TOKEN_SLOTS 32
typedef struct kiln_web_token {
    unsigned char digest[32];  /* SHA-256 of the token's text */
    kiln_identity id;
    uint64_t version;          /* the database's when checked; 0: free */
} kiln_web_token;

/* Answers to GETs that only read the store, kept while the database does
 * not change (kiln_store_version()). */
#define KILN_WEB_CACHE_SLOTS 32
typedef struct kiln_web_cached {
    char *key;               /* the request's path and query */
    char *body;              /* a 200 JSON answer */
    size_t len;
    uint64_t version;
} kiln_web_cached;

/* A trusted proxy's address (--trusted-proxy ADDR[/BITS]). */
typedef struct kiln_web_net {
    unsigned char addr[16];  /* IPv4 mapped into IPv6, as client_key() */
    unsigned bits;           /* of the 128 */
} kiln_web_net;

/* Who sent a request, as auth.c found out. */
typedef struct kiln_web_caller {
    kiln_identity id;        /* user "" and role none: anonymous */
    const char *via;         /* "api" (a token), "page" (a session
                                cookie), "proxy" (a proxy's header); NULL:
                                anonymous */
} kiln_web_caller;

struct kiln_web {
    kiln_web_options o;
    char *listen;            /* owned copies of o's strings */
    char *token;
    char *state_dir;
    char *auth_header;       /* lowercase */
    kiln_role auth_header_role;
    kiln_web_net *proxies;   /* --trusted-proxy */
    size_t n_proxies;
    char proxy_secret[KILN_HASH_HEX]; /* proxy users' CSRF tokens are
                                         derived from it */
    char address[80];        /* as bound */
    bool loopback;           /* listening on loopback only */
    SSL_CTX *ssl_ctx;        /* TLS (every connection), or NULL */
    char *tls_cert, *tls_key; /* its files, read again on a reload */
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    uv_tcp_t *listener;
    uv_timer_t *heartbeat;   /* keeps event streams alive */
    kiln_web_sub *subs;      /* event stream subscribers */
    uint64_t event_id;       /* the last event's (events.c) */
    kiln_web_event *events;  /* the latest KILN_WEB_EVENTS_KEPT, oldest
                                at events_start: replayed to a client
                                reconnecting with Last-Event-ID */
    size_t events_start, n_events;
    kiln_web_cached cache[KILN_WEB_CACHE_SLOTS];
    unsigned cache_next;     /* the slot to replace next */
    uint64_t version_at;     /* loop time of the last look for other
                                processes' changes */
    kiln_web_strikes strikes[KILN_WEB_STRIKE_SLOTS];
    kiln_web_token tokens[KILN_WEB_TOKEN_SLOTS];
    unsigned tokens_next;    /* the slot to replace next */
    kiln_tally tally;        /* what /metrics counts from the store */
    struct kiln_web_tally_job *tally_job; /* the first count, on the
                                             thread pool; NULL once done */
    bool tally_started;      /* from the first GET /metrics */
    int open;                /* client sockets not yet closed */
    bool stopping;
    bool listener_closed;
};

/* Responses (server.c). Every error is JSON {"error": MSG}; MSG may
 * quote what the client sent: bytes that are not UTF-8 become '?'. */
/* Answer with body (stolen) as JSON. With keep, a 200 answer's text is
 * kept there as well (the response cache, routes.c). */
void kiln_web__json(h2o_req_t *req, int status, json_t *body,
                    kiln_web_cached *keep);
void kiln_web__error(h2o_req_t *req, int status, const char *fmt, ...)
    KILN_PRINTF(3, 4);
void kiln_web__text(h2o_req_t *req, int status, const char *type,
                    const char *body, size_t len);

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
/* Answer a HEAD with the headers set so far, status and the length the
 * GET would send (-1: none, a stream), and no body: for the handlers
 * that do not answer with h2o_send_inline() (which knows HEAD), whose
 * body would otherwise follow the headers and break the connection. */
void kiln_web__send_head(h2o_req_t *req, int status, const char *reason,
                         int64_t length);
/* Make s UTF-8 in place: each byte that does not begin a well-formed
 * sequence becomes '?'. */
void kiln_web__utf8_scrub(char *s);

/* Auth (auth.c). */
/* Who sent req, into *who; may they do what needs role need (NONE:
 * anyone)? Otherwise req has been answered: 401 (no or a wrong
 * credential), 403 (a role too low, a cross-site write), or 429 for a
 * client that sent too many wrong tokens. */
bool kiln_web__allowed(kiln_web *w, h2o_req_t *req, kiln_role need,
                       kiln_web_caller *who);
/* Parse --trusted-proxy values into w->proxies; KILN_EINVAL naming a bad
 * one. */
int kiln_web__proxies_parse(kiln_web *w, const char *const *list,
                            kiln_err *err);
/* A wrong credential from req's client: counted, and answered 401 with
 * why. Returns false. */
bool kiln_web__refused(kiln_web *w, h2o_req_t *req, const char *why);
/* Is req's client waiting out its wrong credentials? Then it has been
 * answered 429. */
bool kiln_web__throttled(kiln_web *w, h2o_req_t *req);
/* Who the token text (len bytes) stands for, into *who; otherwise req
 * has been answered (401, 429). */
bool kiln_web__check_token(kiln_web *w, h2o_req_t *req, const char *v,
                           size_t len, kiln_web_caller *who);
/* A right credential from req's client: its count is cleared. */
void kiln_web__forgive(kiln_web *w, h2o_req_t *req);
/* Does the request come from a page of this server (Origin, else
 * Referer)? Otherwise it has been answered 403. */
bool kiln_web__same_origin(kiln_web *w, h2o_req_t *req);
/* The audit trail's who for a caller. */
kiln_audit_who kiln_web__who(const kiln_web_caller *c);
/* The value of cookie name in req, in req's pool, or NULL. */
const char *kiln_web__cookie(h2o_req_t *req, const char *name);

/* Login (login.c): POST /login, POST /logout, GET /login. */
bool kiln_web__login_route(kiln_web *w, h2o_req_t *req,
                           const kiln_web_target *t);
#define KILN_WEB_SESSION_COOKIE "kiln_session"

/* Routes. */

#define KILN_WEB_MAX_SEGMENTS 8

/* A request on its way through a route, made by routes.c: the path's
 * segments have been matched against the route's pattern (":id" a
 * positive integer, ":name" a name as the DSL allows them). */
typedef struct kiln_web_route_ctx {
    kiln_web *w;
    h2o_req_t *req;
    const kiln_web_target *t;
    kiln_web_cached *cache;  /* where a 200 answer is kept, or NULL */
    kiln_web_caller who;     /* who sent it */
    size_t n;
    const char *seg[KILN_WEB_MAX_SEGMENTS]; /* the path after /api/v1 */
} kiln_web_route_ctx;

/* A route answers c->req, whatever happens (an error is an answer). */
typedef void (*kiln_web_route_fn)(kiln_web_route_ctx *c);

/* The credential who was found by on req (a session cookie's value, a
 * token's text; in req's pool), or NULL (auth.c). */
const char *kiln_web__credential(h2o_req_t *req, const kiln_web_caller *who);
/* Is it still good: not expired, the session not ended, the token not
 * revoked, the user still one? An error reading the store counts as
 * good. */
bool kiln_web__still_good(kiln_web *w, const kiln_web_caller *who,
                          const char *cred);
/* End at once the event streams whose credential is no longer good
 * (events.c; also every heartbeat). */
void kiln_web__recheck_streams(kiln_web *w);

/* Handle req, or return false for a path no route has (routes.c). */
bool kiln_web__route(kiln_web *w, h2o_req_t *req, const kiln_web_target *t);

/* What the routes share (routes.c). */
/* Answer with body (stolen) as JSON, kept in c->cache when it is a 200
 * and the route is cached. */
void kiln_web__reply(kiln_web_route_ctx *c, int status, json_t *body);
/* Answer err: KILN_ENOTFOUND 404, KILN_EINVAL 400, KILN_EBUSY 503 (the
 * database is locked), anything else 500. */
void kiln_web__fail(kiln_web_route_ctx *c, const kiln_err *err);
/* ...for a request answered later, outside its route. */
void kiln_web__fail_req(h2o_req_t *req, const kiln_err *err);

/* A request a hook answers later (routes.c): req is NULL once its client
 * has gone, and what the hook does goes on all the same. */
typedef struct kiln_web_later {
    h2o_req_t *req;
    struct kiln_web_later **slot; /* in req's pool, pointing back here */
} kiln_web_later;
void kiln_web__later_init(kiln_web_later *l, h2o_req_t *req);
/* The request to answer now, or NULL when its client has gone. */
h2o_req_t *kiln_web__later_take(kiln_web_later *l);
/* The positive integer s (as a :id segment), or 0. */
int64_t kiln_web__id(const char *s);
/* An optional integer query parameter in [lo, hi], left in *out; answers
 * 400 and returns false when it is not one. */
bool kiln_web__query_int(kiln_web_route_ctx *c, const char *name,
                         int64_t lo, int64_t hi, int64_t *out);
/* The database's version now (kiln_store_version(): another process's
 * commits, such as kiln tokens revoke, seen within a loop millisecond):
 * what the response and token caches are kept against. */
uint64_t kiln_web__store_version(kiln_web *w);
/* The request's body as a JSON object (an empty body: {}); answers 400
 * with the parse error and returns NULL otherwise. */
json_t *kiln_web__body(kiln_web_route_ctx *c);

/* The routes of each resource: rows of the table in routes.c. */
/* pipelines.c */
void kiln_web__get_pipelines(kiln_web_route_ctx *c);
void kiln_web__get_pipeline(kiln_web_route_ctx *c);
void kiln_web__post_runs(kiln_web_route_ctx *c);
/* runs.c */
void kiln_web__get_runs(kiln_web_route_ctx *c);
void kiln_web__get_run(kiln_web_route_ctx *c);
void kiln_web__post_cancel(kiln_web_route_ctx *c);
void kiln_web__post_retry(kiln_web_route_ctx *c);
void kiln_web__get_log(kiln_web_route_ctx *c);
/* lineage.c */
void kiln_web__get_lineage(kiln_web_route_ctx *c);
/* models.c */
void kiln_web__get_models(kiln_web_route_ctx *c);
void kiln_web__get_alias(kiln_web_route_ctx *c);
void kiln_web__get_version_file(kiln_web_route_ctx *c);
void kiln_web__post_alias(kiln_web_route_ctx *c);
void kiln_web__post_rollback(kiln_web_route_ctx *c);
void kiln_web__post_retire(kiln_web_route_ctx *c);
/* metrics.c: a metric's series, and /metrics */
void kiln_web__get_metric_series(kiln_web_route_ctx *c);
void kiln_web__get_prometheus(kiln_web_route_ctx *c);
/* events.c: the event stream */
void kiln_web__get_events(kiln_web_route_ctx *c);
/* compare.c: runs side by side */
void kiln_web__get_compare(kiln_web_route_ctx *c);
/* login.c: who is asking, and (admin) the users */
void kiln_web__get_session(kiln_web_route_ctx *c);
void kiln_web__get_users(kiln_web_route_ctx *c);

/* Events (events.c). */
/* The first event id of this process: above every id an earlier kiln
 * serve can have sent (start time in ms, times 1024). */
void kiln_web__events_init(kiln_web *w);
void kiln_web__end_streams(kiln_web *w);
void kiln_web__events_free(kiln_web *w);

/* The status page (assets.c): the asset for path, or NULL. */
typedef struct kiln_web_asset {
    const char *path;       /* "/", "/app.js" */
    const char *type;
    const unsigned char *data;
    size_t len;
} kiln_web_asset;
const kiln_web_asset *kiln_web__asset(const char *path);

#endif
