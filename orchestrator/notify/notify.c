/*
 * notify.c: posting notifications, retrying, recording.
 *
 * Each notification is a `note`: its body, the webhook, the attempts made
 * and a timer for the next one, and a row of the notifications table
 * (store/notifications.c), pending from before the first attempt to the
 * end. A kiln that stops first leaves the row pending, and so does one
 * that is killed: kiln serve, or the next kiln run of the pipeline, posts
 * what such a kiln left (kiln_notifier_adopt). Bodies: "json" is the
 * event itself, for any receiver; "slack" is {"text": ...}, what Slack's
 * (and Mattermost's, and Teams' Slack-compatible) incoming webhooks take.
 */
#include "notify.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ATTEMPTS 3
/* A notification left pending longer than this is not posted any more
 * (its news is stale): it is recorded as failed. */
#define MAX_AGE_MS (24 * 3600 * 1000LL)

typedef struct note note;

struct kiln_notifier {
    uv_loop_t *loop;
    kiln_http *http;
    kiln_store *store;
    char *page;
    char owner[48];       /* "PID:START": this process, in the rows */
    note *notes;          /* in flight */
};

struct note {
    note *next;
    kiln_notifier *n;
    kiln_notification row; /* what it is; row.id 0: none could be
                              written; row.owner is not kept */
    int max_attempts;
    long last_status;
    char last_error[600];
    uv_timer_t timer;
    bool in_request;
};

static const char *event_name(unsigned event)
{
    switch (event) {
    case KILN_NOTIFY_SUCCESS:
        return "success";
    case KILN_NOTIFY_FAILURE:
        return "failure";
    case KILN_NOTIFY_CANCELLED:
        return "cancelled";
    default:
        return "drift";
    }
}

kiln_notifier *kiln_notifier_new(uv_loop_t *loop, kiln_http *http,
                                 kiln_store *store)
{
    kiln_notifier *n = kiln_calloc(1, sizeof(*n));
    n->loop = loop;
    n->http = http;
    n->store = store;
    snprintf(n->owner, sizeof(n->owner), "%d:%" PRIu64, (int)getpid(),
             kiln_proc_start(getpid()));
    return n;
}

void kiln_notifier_set_page(kiln_notifier *n, const char *url)
{
    free(n->page);
    n->page = url ? kiln_strdup(url) : NULL;
}

static void on_note_close(uv_handle_t *h)
{
    note *nt = h->data;
    kiln_notification_dispose(&nt->row);
    free(nt);
}

static void note_remove(note *nt)
{
    for (note **pp = &nt->n->notes; *pp; pp = &(*pp)->next) {
        if (*pp == nt) {
            *pp = nt->next;
            break;
        }
    }
    uv_close((uv_handle_t *)&nt->timer, on_note_close);
}

/* Record what became of nt and let it go. */
static void finish(note *nt, bool sent)
{
    kiln_notifier *n = nt->n;
    kiln_err err = KILN_ERR_INIT;
    if (nt->row.id > 0 &&
        kiln_store_notification_end(n->store, NULL, nt->row.id, sent,
                                    nt->row.attempts, nt->last_status,
                                    sent ? NULL : nt->last_error,
                                    &err) != 0)
        fprintf(stderr, "kiln: warning: %s\n", err.msg);
    if (!sent)
        fprintf(stderr, "kiln: warning: notification to %s failed after %d "
                "attempt%s: %s\n", nt->row.url, nt->row.attempts,
                nt->row.attempts == 1 ? "" : "s", nt->last_error);
    note_remove(nt);
}

/* Leave nt pending for the next kiln (this one stops) and let it go. */
static void release(note *nt)
{
    kiln_err err = KILN_ERR_INIT;
    if (nt->row.id > 0 &&
        kiln_store_notification_release(nt->n->store, nt->row.id,
                                        &err) != 0)
        fprintf(stderr, "kiln: warning: %s\n", err.msg);
    note_remove(nt);
}

static void attempt(note *nt);

static void on_retry(uv_timer_t *t)
{
    attempt(t->data);
}

static void on_response(const kiln_http_result *r, void *data)
{
    note *nt = data;
    nt->in_request = false;
    nt->last_status = r->status;
    if (!r->error && r->status >= 200 && r->status < 300) {
        finish(nt, true);
        return;
    }
    if (r->error)
        snprintf(nt->last_error, sizeof(nt->last_error), "%s", r->error);
    else
        snprintf(nt->last_error, sizeof(nt->last_error), "HTTP %ld",
                 r->status);
    /* A cancelled request means kiln is stopping: the next kiln posts
     * it again (the receiver may have had it: at least once). */
    if (r->error && strncmp(r->error, "cancelled", 9) == 0) {
        release(nt);
        return;
    }
    if (nt->row.attempts >= nt->max_attempts || !nt->n->http) {
        finish(nt, false);
        return;
    }
    uv_timer_start(&nt->timer, on_retry, nt->row.attempts == 1 ? 1000 : 4000,
                   0);
}

static void attempt(note *nt)
{
    kiln_http_request req;
    kiln_err err = KILN_ERR_INIT;
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = nt->row.url;
    req.content_type = "application/json";
    req.body = nt->row.body;
    req.len = strlen(nt->row.body);
    req.timeout_ms = nt->row.timeout_ms;
    req.max_body = 64 * 1024;
    nt->row.attempts++;
    if (nt->row.id > 0 &&
        kiln_store_notification_attempt(nt->n->store, nt->row.id,
                                        nt->row.attempts, &err) != 0)
        fprintf(stderr, "kiln: warning: %s\n", err.msg);
    nt->in_request = true;
    if (kiln_http_start(nt->n->http, &req, on_response, nt, &err) != 0) {
        nt->in_request = false;
        snprintf(nt->last_error, sizeof(nt->last_error), "%s", err.msg);
        finish(nt, false);
    }
}

/* The Slack text of an event. */
static char *slack_text(kiln_notifier *n, const char *pipeline,
                        unsigned event, int64_t run_id, json_t *what)
{
    kiln_buf b = KILN_BUF_INIT;
    const char *reason = json_string_value(json_object_get(what, "reason"));
    const char *icon = event == KILN_NOTIFY_SUCCESS ? ":white_check_mark:"
                       : event == KILN_NOTIFY_DRIFT
                           ? ":chart_with_upwards_trend:"
                       : event == KILN_NOTIFY_FAILURE ? ":x:"
                                                      : ":no_entry:";
    json_t *text;
    char *out;
    if (event == KILN_NOTIFY_DRIFT)
        kiln_buf_printf(&b, "%s kiln: drift in *%s*", icon, pipeline);
    else
        kiln_buf_printf(&b, "%s kiln: *%s* run %lld %s", icon, pipeline,
                        (long long)run_id,
                        json_string_value(json_object_get(what, "status")));
    if (reason && *reason)
        kiln_buf_printf(&b, ": %s", reason);
    if (run_id > 0 && n->page)
        kiln_buf_printf(&b, " <%s#/runs/%lld|open>", n->page,
                        (long long)run_id);
    text = json_pack("{s:s}", "text", kiln_buf_cstr(&b));
    out = json_dumps(text, JSON_COMPACT);
    json_decref(text);
    kiln_buf_dispose(&b);
    return out;
}

/* A note (on n's list, its timer ready) for row, which it takes (row is
 * zeroed; its owner is freed): MAX_ATTEMPTS more attempts. */
static note *note_new(kiln_notifier *n, kiln_notification *row)
{
    note *nt = kiln_calloc(1, sizeof(*nt));
    nt->n = n;
    nt->row = *row;
    memset(row, 0, sizeof(*row));
    free(nt->row.owner);
    nt->row.owner = NULL;
    nt->max_attempts = nt->row.attempts + MAX_ATTEMPTS;
    uv_timer_init(n->loop, &nt->timer);
    nt->timer.data = nt;
    nt->next = n->notes;
    n->notes = nt;
    return nt;
}

/* The first attempt at nt, or its end when there is no HTTP client. */
static void post(note *nt)
{
    if (!nt->n->http) {
        snprintf(nt->last_error, sizeof(nt->last_error), "no HTTP "
                 "client (libcurl could not start)");
        finish(nt, false);
        return;
    }
    attempt(nt);
}

void kiln_notifier_send(kiln_notifier *n, const kiln_pipeline *p,
                        unsigned event, int64_t run_id, int64_t check_id,
                        json_t *what)
{
    for (size_t i = 0; n && i < p->n_notify; i++) {
        const kiln_notify *cfg = &p->notify[i];
        kiln_notification row = {0};
        kiln_err err = KILN_ERR_INIT;
        const char *name = event_name(event);
        if (!(cfg->on & event))
            continue;
        if (strcmp(cfg->format, "slack") == 0) {
            row.body = slack_text(n, p->name, event, run_id, what);
        } else {
            json_t *o = json_deep_copy(what);
            json_object_set_new(o, "event", json_string(name));
            json_object_set_new(o, "pipeline", json_string(p->name));
            if (run_id > 0)
                json_object_set_new(o, "run_id", json_integer(run_id));
            if (run_id > 0 && n->page)
                json_object_set_new(o, "url", json_sprintf(
                    "%s#/runs/%lld", n->page, (long long)run_id));
            row.body = json_dumps(o, JSON_COMPACT);
            json_decref(o);
        }
        row.pipeline = kiln_strdup(p->name);
        row.run_id = run_id;
        row.check_id = check_id;
        row.event = kiln_strdup(name);
        row.url = kiln_strdup(cfg->webhook);
        row.timeout_ms = cfg->timeout_ms;
        row.created_ms = kiln_now_ms();
        /* Its row first: a kiln killed from now on leaves it pending. */
        row.owner = n->owner;
        if (kiln_store_notification_add(n->store, &row.id, &row, &err) != 0)
            fprintf(stderr, "kiln: warning: %s\n", err.msg);
        row.owner = NULL;
        post(note_new(n, &row));
    }
}

/* Whether owner ("PID:START") names a process that still runs. */
static bool owner_runs(const char *owner)
{
    int pid;
    uint64_t start;
    if (!owner || sscanf(owner, "%d:%" SCNu64, &pid, &start) != 2 ||
        pid <= 0)
        return false;
    return start != 0 && kiln_proc_start(pid) == start;
}

size_t kiln_notifier_adopt(kiln_notifier *n, const char *pipeline)
{
    kiln_notification *rows;
    size_t n_rows, taken = 0;
    kiln_err err = KILN_ERR_INIT;
    int64_t now = kiln_now_ms();

    if (!n)
        return 0;
    if (kiln_store_notifications_pending(&rows, &n_rows, n->store,
                                         &err) != 0) {
        fprintf(stderr, "kiln: warning: %s\n", err.msg);
        return 0;
    }
    for (size_t i = 0; i < n_rows; i++) {
        kiln_notification *r = &rows[i];
        char why[128];
        bool ok, stale;
        note *nt;
        if ((pipeline && strcmp(r->pipeline, pipeline) != 0) ||
            (r->owner && (strcmp(r->owner, n->owner) == 0 ||
                          owner_runs(r->owner))))
            continue;
        if (kiln_store_notification_claim(n->store, &ok, r->id, r->owner,
                                          n->owner, &err) != 0) {
            fprintf(stderr, "kiln: warning: %s\n", err.msg);
            continue;
        }
        if (!ok)
            continue;
        stale = !r->body || now - r->created_ms > MAX_AGE_MS;
        snprintf(why, sizeof(why), "not delivered by the kiln that made it "
                 "(%s), and now more than 24 h old",
                 r->owner ? r->owner : "stopped");
        nt = note_new(n, r);
        if (stale) {
            snprintf(nt->last_error, sizeof(nt->last_error), "%s", why);
            finish(nt, false);
            continue;
        }
        post(nt);
        taken++;
    }
    kiln_notifications_free(rows, n_rows);
    return taken;
}

void kiln_notifier_free(kiln_notifier *n)
{
    size_t left = 0;
    if (!n)
        return;
    while (n->notes) {
        uv_timer_stop(&n->notes->timer);
        release(n->notes);
        left++;
    }
    if (left)
        fprintf(stderr, "kiln: %zu notification%s not delivered yet: left "
                "pending for the next kiln serve\n", left,
                left == 1 ? "" : "s");
    free(n->page);
    free(n);
}

/* A string, or nothing (json_pack's "o?" leaves the key out). */
static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : NULL;
}

static json_t *time_or_null(int64_t ms)
{
    return ms ? json_integer(ms) : NULL;
}

void kiln_notifier_run_ended(kiln_notifier *n, const kiln_pipeline *p,
                             int64_t run_id)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_run_info *run = NULL;
    json_t *steps, *what;
    unsigned event;

    if (!n || p->n_notify == 0)
        return;
    if (kiln_store_run_get(&run, n->store, run_id, &err) != 0) {
        fprintf(stderr, "kiln: warning: %s\n", err.msg);
        return;
    }
    event = run->state == KILN_RUN_SUCCEEDED   ? KILN_NOTIFY_SUCCESS
            : run->state == KILN_RUN_CANCELLED ? KILN_NOTIFY_CANCELLED
                                               : KILN_NOTIFY_FAILURE;
    steps = json_array();
    for (size_t i = 0; i < run->n_steps; i++)
        json_array_append_new(steps, json_pack(
            "{s:s, s:s, s:o?}", "name", run->steps[i].name, "status",
            kiln_step_state_name(run->steps[i].state), "reason",
            str_or_null(run->steps[i].reason)));
    what = json_pack("{s:s, s:o?, s:o?, s:o?, s:o?, s:o?, s:o}", "status",
                     kiln_run_state_name(run->state), "reason",
                     str_or_null(run->reason), "trigger",
                     str_or_null(run->trigger), "git_commit",
                     str_or_null(run->git_commit), "started_at",
                     time_or_null(run->started_ms), "finished_at",
                     time_or_null(run->finished_ms), "steps", steps);
    kiln_notifier_send(n, p, event, run_id, 0, what);
    json_decref(what);
    kiln_run_info_free(run);
}

void kiln_notifier_drift(kiln_notifier *n, const kiln_pipeline *p,
                         int64_t check_id, const char *info)
{
    json_t *o = json_loads(info ? info : "{}", 0, NULL);
    json_t *what = json_pack("{s:s, s:O?, s:O?}", "status", "drift",
                             "reason", json_object_get(o, "reason"),
                             "detail", json_object_get(o, "detail"));
    kiln_notifier_send(n, p, KILN_NOTIFY_DRIFT, 0, check_id, what);
    json_decref(what);
    json_decref(o);
}
