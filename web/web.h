/*
 * web.h: the HTTP API and status page of kiln serve.
 *
 * libh2o (HTTP/1.1 and HTTP/2, built against libuv) serves them on the
 * daemon's own loop: no second thread or process. Reads come straight
 * from the store (short indexed queries); whatever changes something
 * (start, cancel, retry a run, point a model's alias elsewhere) goes
 * through hooks the daemon provides, so the HTTP API and the CLI share
 * one code path and web/ never writes the store. Changes are pushed to
 * /api/v1/events subscribers as Server-Sent Events.
 */
#ifndef KILN_WEB_H
#define KILN_WEB_H

#include <jansson.h>
#include <uv.h>

#include "base/base.h"
#include "store/json.h"

typedef struct kiln_web kiln_web;

/* How a hook that answers later says it is done: rc 0 or a kiln error
 * code (as below) with err; version: what the hook says it is. */
typedef void (*kiln_web_done_cb)(void *ctx, int rc, int version,
                                 const kiln_err *err);
/* The same for a hook whose answer is a JSON document. */
typedef void (*kiln_web_reply_cb)(void *ctx, int rc, json_t *reply,
                                  const kiln_err *err);

/* What the daemon does for the API. Each returns 0 or a kiln error code
 * (KILN_ENOTFOUND -> 404, KILN_EINVAL -> 400, KILN_EBUSY -> 409, others
 * -> 500) with a message in err. */
typedef struct kiln_web_hooks {
    /* POST /pipelines/{name}/runs: {status, run_id, reason} as kiln
     * trigger's reply (the run may be queued or refused by a policy).
     * The repository is read first (a commit checked out), for as long
     * as it takes: the hook returns at once and calls done on the loop,
     * with a reply that done takes over (NULL when rc is not 0). */
    void (*start_run)(void *data, const char *pipeline, json_t *params,
                      const char *commit, const kiln_audit_who *who,
                      kiln_web_reply_cb done, void *ctx);
    int (*cancel_run)(void *data, int64_t run_id, const kiln_audit_who *who,
                      kiln_err *err);
    /* A new run of the same pipeline, params and commit that reuses the
     * successful steps of run_id; with from (a step, or NULL), that step
     * and what is downstream of it run again (KILN_EINVAL: no such
     * step). */
    int (*retry_run)(void *data, int64_t run_id, const char *from,
                     const kiln_audit_who *who, int64_t *new_id,
                     kiln_err *err);
    /* POST /models/{name}/aliases/{alias} {version}: point alias at
     * version of the model; with version 0 (POST .../rollback), back at
     * the version that held it before. The model's deploy command runs
     * first, for as long as it takes: the hook returns at once and calls
     * done on the loop once the move has ended, with the version the
     * alias points at (KILN_ENOTFOUND: no such version, or nothing to
     * roll back to; KILN_EBUSY: the database is locked, -> 503). */
    void (*move_model)(void *data, const char *model, const char *alias,
                       int version, const kiln_audit_who *who,
                       kiln_web_done_cb done, void *ctx);
    /* POST /models/{name}/aliases/{alias}/retire: point alias nowhere;
     * the version it pointed at in *was (KILN_ENOTFOUND: the alias
     * points at none). */
    int (*retire_model)(void *data, int *was, const char *model,
                        const char *alias, const kiln_audit_who *who,
                        kiln_err *err);
    /* POST /login: a session for id (its cookie value in cookie; id's
     * session_id, csrf and expires_ms filled); POST /logout ends one. */
    int (*session_start)(void *data, kiln_identity *id,
                         char cookie[KILN_SESSION_COOKIE_MAX],
                         const kiln_audit_who *who, kiln_err *err);
    int (*session_end)(void *data, int64_t session_id,
                       const kiln_audit_who *who, kiln_err *err);
    /* Every loaded pipeline in load order, briefly: {name, file, active,
     * queued, load_errors}; then each file that never loaded, {name:
     * null, file, load_errors} (a new reference). Cheap enough for
     * every request: the list's totals, sorting and paging use it. */
    json_t *(*pipelines)(void *data);
    /* The loaded pipelines named in names (an array of strings), each as
     * the list shows it: {name, file, description, schedule, next_due,
     * triggers, cooldown_ms, steps, active, queued, load_errors}, in
     * names' order (null for a name not loaded). */
    json_t *(*describe)(void *data, const json_t *names);
    /* One loaded pipeline with its definition and DAG, or NULL. */
    json_t *(*pipeline)(void *data, const char *name);
    /* Gauges for /metrics: {queue_depth, active_runs, running_steps,
     * scheduler_lag_seconds}. */
    json_t *(*gauges)(void *data);
    void *data;
} kiln_web_hooks;

typedef struct kiln_web_options {
    uv_loop_t *loop;
    kiln_store *store;
    const char *state_dir;
    const char *listen;   /* "127.0.0.1:8080", "[::1]:8080", ":8080" */
    const char *token;    /* the admin token (--token-file), or NULL;
                             users' tokens and sessions are the store's */
    /* Behind a single sign-on proxy: the request header naming the user
     * (X-Forwarded-User), believed only from the trusted_proxies
     * ("10.0.0.5", "10.1.0.0/16", "::1"); a user it names that does not
     * exist gets auth_header_role when set (else 403). */
    const char *auth_header;
    const char *const *trusted_proxies; /* NULL-terminated, or NULL */
    const char *auth_header_role;
    /* HTTPS (and HTTP/2 by ALPN): a PEM certificate chain and its PEM
     * private key, both or neither. A key readable by its group or
     * others is refused. Read once, in kiln_web_start. */
    const char *tls_cert;
    const char *tls_key;
    kiln_web_hooks hooks;
} kiln_web_options;

/* Listen and serve. KILN_EINVAL for a bad address or a certificate
 * without a key, KILN_ERROR when it cannot bind (the message names the
 * address) or the certificate or key cannot be used (it says why). */
int kiln_web_start(kiln_web **out, const kiln_web_options *o, kiln_err *err);
/* The address actually bound ("127.0.0.1:8080"; with port 0, the port
 * the kernel chose). */
const char *kiln_web_address(const kiln_web *w);
/* Is every connection TLS? */
bool kiln_web_tls(const kiln_web *w);
/* Read the certificate and key again (a renewed certificate: SIGHUP):
 * new connections get them, open ones keep what they have. On an error
 * (a file missing, a key that is not the certificate's, one others can
 * read) nothing changes. 0 without TLS. */
int kiln_web_reload_tls(kiln_web *w, kiln_err *err);
/* Does it listen on a loopback address only? */
bool kiln_web_loopback(const kiln_web *w);
/* Does it take users from a trusted proxy's header? */
bool kiln_web_proxied(const kiln_web *w);
/* Send an event to every /api/v1/events subscriber: "event: TYPE" and
 * data as one line of JSON. */
void kiln_web_publish(kiln_web *w, const char *type, json_t *data);
/* Stop listening, end event streams, ask connections to close; memory
 * goes once the loop has closed everything. NULL is fine. */
void kiln_web_stop(kiln_web *w);

#endif
