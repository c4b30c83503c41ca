/*
 * events.c: /api/v1/events, Server-Sent Events.
 *
 * h2o sends a response in pieces, and a piece may only be handed to it
 * once the previous one went out (its generator's proceed callback). So
 * each subscriber has a buffer of events waiting and one in flight. A
 * subscriber that falls more than MAX_BACKLOG behind is dropped: it
 * reconnects (EventSource does) and reloads what it shows.
 *
 * Event ids only grow, across restarts too: a process numbers its events
 * from its start time in milliseconds times 1024, above every id an
 * earlier process sent unless it sent more than 1024 events per
 * millisecond it ran. The latest KILN_WEB_EVENTS_KEPT events are kept,
 * so a client reconnecting with Last-Event-ID (EventSource sends it by
 * itself) gets what it missed. When that is more than is kept, or the id
 * is another process's, it gets one "reset" event instead: reload
 * everything, events were lost.
 *
 * A stream lasts no longer than the credential that opened it: at every
 * heartbeat, and at once on a logout, each is checked again (expired,
 * session ended, token revoked, user removed) and a stream whose
 * credential is gone gets a "signed-out" event and ends.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BACKLOG ((size_t)4 << 20)
#define HEARTBEAT_MS 15000

struct kiln_web_sub {
    h2o_generator_t super;   /* first: h2o hands it back to us */
    kiln_web_sub *next;
    kiln_web *w;
    h2o_req_t *req;
    kiln_web_caller who;     /* who opened it, and with what: checked */
    const char *cred;        /* again at every heartbeat and logout */
    kiln_buf pending;        /* events not yet handed to h2o */
    kiln_buf sending;        /* handed to h2o, until proceed */
    bool inflight;
    bool ending;             /* send FINAL once nothing is in flight */
    bool done;               /* FINAL sent or the client went away */
};

static void unlink_sub(kiln_web_sub *s)
{
    for (kiln_web_sub **pp = &s->w->subs; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            return;
        }
    }
}

/* The subscriber's memory is the request pool's: only its buffers are
 * ours to free. */
static void sub_release(kiln_web_sub *s)
{
    unlink_sub(s);
    kiln_buf_dispose(&s->pending);
    kiln_buf_dispose(&s->sending);
    s->done = true;
}

static void flush(kiln_web_sub *s)
{
    h2o_iovec_t iov;
    if (s->inflight || s->done)
        return;
    if (s->pending.len == 0 && !s->ending)
        return;
    if (s->ending) {
        /* The last piece lives in the request's pool: our buffers go
         * now. */
        h2o_req_t *req = s->req;
        iov = h2o_strdup(&req->pool, s->pending.ptr ? s->pending.ptr : "",
                         s->pending.len);
        sub_release(s);
        h2o_send(req, &iov, 1, H2O_SEND_STATE_FINAL);
        return;
    }
    kiln_buf_dispose(&s->sending);
    s->sending = s->pending;
    memset(&s->pending, 0, sizeof(s->pending));
    iov = h2o_iovec_init(s->sending.ptr ? s->sending.ptr : "",
                         s->sending.len);
    s->inflight = true;
    h2o_send(s->req, &iov, 1, H2O_SEND_STATE_IN_PROGRESS);
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    kiln_web_sub *s = (kiln_web_sub *)g;
    (void)req;
    s->inflight = false;
    kiln_buf_dispose(&s->sending);
    flush(s);
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
    kiln_web_sub *s = (kiln_web_sub *)g;
    (void)req;
    if (!s->done)
        sub_release(s);
}

void kiln_web__recheck_streams(kiln_web *w)
{
    for (kiln_web_sub *s = w->subs, *next; s; s = next) {
        next = s->next;
        if (!s->ending && !kiln_web__still_good(w, &s->who, s->cred)) {
            /* Its client reconnects and is asked to sign in again. */
            kiln_buf_puts(&s->pending, "event: signed-out\ndata: "
                          "{\"reason\":\"the session or token ended\"}"
                          "\n\n");
            s->ending = true;
            flush(s);
        }
    }
}

static void on_heartbeat(uv_timer_t *t)
{
    kiln_web *w = t->data;
    kiln_web__recheck_streams(w);
    for (kiln_web_sub *s = w->subs; s; s = s->next) {
        kiln_buf_puts(&s->pending, ": ping\n\n");
        flush(s);
    }
}

void kiln_web__events_init(kiln_web *w)
{
    w->event_id = (uint64_t)kiln_now_ms() * 1024;
    w->events = kiln_calloc(KILN_WEB_EVENTS_KEPT, sizeof(kiln_web_event));
}

void kiln_web__events_free(kiln_web *w)
{
    for (size_t i = 0; w->events && i < KILN_WEB_EVENTS_KEPT; i++)
        free(w->events[i].text);
    free(w->events);
    w->events = NULL;
}

static const kiln_web_event *kept(const kiln_web *w, size_t i)
{
    return &w->events[(w->events_start + i) % KILN_WEB_EVENTS_KEPT];
}

/* What a client reconnecting with Last-Event-ID last missed, into b:
 * the kept events after it, or "reset" when they are not all kept. */
static void replay(kiln_web *w, kiln_buf *b, const char *last)
{
    unsigned long long id;
    char *end;
    size_t i;

    errno = 0;
    id = strtoull(last, &end, 10);
    if (errno || end == last || *end || id > w->event_id ||
        (w->n_events ? id + 1 < kept(w, 0)->id
                     : id != w->event_id)) {
        kiln_buf_printf(b, "id: %llu\nevent: reset\ndata: {\"reason\":"
                        "\"missed events are not kept: reload\"}\n\n",
                        (unsigned long long)w->event_id);
        return;
    }
    for (i = 0; i < w->n_events; i++)
        if (kept(w, i)->id > id)
            kiln_buf_puts(b, kept(w, i)->text);
}

/* GET /api/v1/events: the response goes on until the client leaves or
 * kiln_web__end_streams(). */
void kiln_web__get_events(kiln_web_route_ctx *c)
{
    kiln_web *w = c->w;
    h2o_req_t *req = c->req;
    kiln_web_sub *s = h2o_mem_alloc_pool(&req->pool, sizeof(*s));
    memset(s, 0, sizeof(*s));
    s->super.proceed = on_proceed;
    s->super.stop = on_stop;
    s->w = w;
    s->req = req;
    s->who = c->who;
    s->cred = kiln_web__credential(req, &c->who);
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
                   NULL, H2O_STRLIT("text/event-stream"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL,
                   NULL, H2O_STRLIT("no-store"));
    if (kiln_web__is(req, "HEAD")) {
        /* The stream's headers, and no stream. */
        kiln_web__send_head(req, 200, "OK", -1);
        return;
    }
    h2o_start_response(req, &s->super);
    s->next = w->subs;
    w->subs = s;
    /* Clients learn at once that the stream is open, and get what they
     * missed since the event they name. */
    kiln_buf_puts(&s->pending, "retry: 2000\n: connected\n\n");
    {
        ssize_t i = h2o_find_header_by_str(&req->headers,
                                           H2O_STRLIT("last-event-id"), -1);
        const char *q = kiln_web__query(c->t, "lastEventId");
        if (i >= 0)
            replay(w, &s->pending, h2o_strdup(&req->pool,
                   req->headers.entries[i].value.base,
                   req->headers.entries[i].value.len).base);
        else if (q)
            replay(w, &s->pending, q);
    }
    flush(s);
    if (!w->heartbeat) {
        w->heartbeat = kiln_calloc(1, sizeof(*w->heartbeat));
        uv_timer_init(w->o.loop, w->heartbeat);
        w->heartbeat->data = w;
        uv_timer_start(w->heartbeat, on_heartbeat, HEARTBEAT_MS,
                       HEARTBEAT_MS);
    }
}

void kiln_web_publish(kiln_web *w, const char *type, json_t *data)
{
    kiln_web_event *e;
    char *text;
    if (!w || !w->events)
        return;
    text = json_dumps(data, JSON_COMPACT);
    w->event_id++;
    /* Kept, whether anyone listens or not. */
    if (w->n_events < KILN_WEB_EVENTS_KEPT) {
        e = &w->events[(w->events_start + w->n_events++) %
                       KILN_WEB_EVENTS_KEPT];
    } else {
        e = &w->events[w->events_start];
        w->events_start = (w->events_start + 1) % KILN_WEB_EVENTS_KEPT;
        free(e->text);
    }
    e->id = w->event_id;
    e->text = kiln_asprintf("id: %llu\nevent: %s\ndata: %s\n\n",
                            (unsigned long long)w->event_id, type, text);
    for (kiln_web_sub *s = w->subs, *next; s; s = next) {
        next = s->next;
        if (s->pending.len > MAX_BACKLOG) {
            s->ending = true; /* too slow: let it reconnect */
            kiln_buf_clear(&s->pending);
        } else {
            kiln_buf_puts(&s->pending, e->text);
        }
        flush(s);
    }
    free(text);
}

void kiln_web__end_streams(kiln_web *w)
{
    for (kiln_web_sub *s = w->subs, *next; s; s = next) {
        next = s->next;
        s->ending = true;
        flush(s);
    }
    if (w->heartbeat) {
        uv_close((uv_handle_t *)w->heartbeat, (uv_close_cb)free);
        w->heartbeat = NULL;
    }
}
