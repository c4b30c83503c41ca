/*
 * openlineage.c: making OpenLineage run events and delivering them in
 * order.
 *
 * What a run's steps have been told is kept per run (`ol_run`: START sent,
 * end sent), from the first event of the run to its own end. Events wait
 * in one queue; one at a time is in flight (a POST, or a write), and the
 * next goes when it is done, so a step's START always goes before its end.
 * The spec version is the one of tests/fixtures/openlineage/OpenLineage.json,
 * which the tests validate every event against, with the facets' schemas.
 */
#include "openlineage.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/hash.h"
#include "notify/http.h"

#define OPENLINEAGE_QUEUE 1000  /* events waiting; more are dropped */
#define POST_TIMEOUT_MS 5000

#define PRODUCER "https://github.com/kiln/kiln/tree/v" KILN_VERSION
#define SCHEMA_URL \
    "https://openlineage.io/spec/2-0-7/OpenLineage.json#/$defs/RunEvent"
#define FACETS "https://openlineage.io/spec/facets/"
#define PARENT_URL FACETS "1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet"
#define DEPS_URL FACETS "1-0-0/JobDependenciesRunFacet.json" \
    "#/$defs/JobDependenciesRunFacet"
#define ERROR_URL FACETS "1-0-0/ErrorMessageRunFacet.json" \
    "#/$defs/ErrorMessageRunFacet"
#define JOBTYPE_URL FACETS "2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"

typedef struct ol_event {
    struct ol_event *next;
    char *body;             /* JSON; a file's line ends with '\n' */
    size_t len, off;        /* off: written so far (files) */
} ol_event;

/* What was said of a step: nothing, START, its end. */
enum { SAID_NOTHING = 0, SAID_START, SAID_END };

typedef struct ol_run {
    struct ol_run *next;
    int64_t id;
    char uuid[37];
    char *name;             /* what its and its steps' UUIDs derive from */
    char *root;             /* the run's directory, absolute */
    size_t n_steps;
    unsigned char *said;    /* per step */
    bool started;           /* the run's own START went */
} ol_run;

struct kiln_openlineage {
    uv_loop_t *loop;
    char *target;
    bool is_url;
    char *ns;               /* the jobs' namespace */
    char *files_ns;         /* file://HOST, the datasets' */
    char *state_dir;
    kiln_store *store;
    kiln_openlineage_warn_cb warn;
    void *data;
    kiln_http *http;        /* URL: the POSTs */
    uv_file fd;             /* file: open for appending */
    uv_fs_t write_req;
    ol_event *head, *tail;  /* waiting, oldest first */
    size_t queued;
    ol_event *sending;      /* in flight */
    size_t dropped;         /* for a full queue */
    bool failing;           /* the last delivery failed (and was said) */
    ol_run *runs;
    uv_timer_t grace;       /* closing: how long the rest may take */
    int pending;            /* the grace timer, a write: before freeing */
    bool closing, finished;
};

static void pump(kiln_openlineage *ol);
static void finish(kiln_openlineage *ol);

static void say(kiln_openlineage *ol, const char *fmt, ...) KILN_PRINTF(2, 3);
static void say(kiln_openlineage *ol, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ol->warn)
        ol->warn(msg, ol->data);
    else
        fprintf(stderr, "kiln: warning: %s\n", msg);
}

bool kiln_openlineage_is_url(const char *target)
{
    return strncmp(target, "http://", 7) == 0 ||
           strncmp(target, "https://", 8) == 0;
}

/* Delivery. */

static void event_free(ol_event *ev)
{
    if (ev) {
        free(ev->body);
        free(ev);
    }
}

static void release_maybe(kiln_openlineage *ol)
{
    if (!ol->finished || ol->pending > 0)
        return;
    if (ol->fd >= 0) {
        uv_fs_t req;
        uv_fs_close(ol->loop, &req, ol->fd, NULL);
        uv_fs_req_cleanup(&req);
    }
    while (ol->runs) {
        ol_run *r = ol->runs;
        ol->runs = r->next;
        free(r->name);
        free(r->root);
        free(r->said);
        free(r);
    }
    free(ol->target);
    free(ol->ns);
    free(ol->files_ns);
    free(ol->state_dir);
    free(ol);
}

/* The event in flight is done with (error: why it did not arrive). */
static void delivered(kiln_openlineage *ol, const char *error)
{
    event_free(ol->sending);
    ol->sending = NULL;
    if (ol->finished)
        return;
    if (error && !ol->failing)
        say(ol, "OpenLineage events cannot reach %s: %s; kiln goes on, "
            "dropping those it cannot deliver", ol->target, error);
    else if (!error && ol->failing)
        say(ol, "OpenLineage events reach %s again", ol->target);
    ol->failing = error != NULL;
    if (ol->closing && !ol->head)
        finish(ol);
    else
        pump(ol);
}

static void on_posted(const kiln_http_result *r, void *data)
{
    kiln_openlineage *ol = data;
    char why[64];
    if (r->error) {
        delivered(ol, r->error);
    } else if (r->status < 200 || r->status > 299) {
        snprintf(why, sizeof(why), "HTTP status %ld", r->status);
        delivered(ol, why);
    } else {
        delivered(ol, NULL);
    }
}

static void write_next_part(kiln_openlineage *ol);

static void on_written(uv_fs_t *req)
{
    kiln_openlineage *ol = req->data;
    ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    ol->pending--;
    if (n < 0) {
        char why[300];
        snprintf(why, sizeof(why), "cannot write: %s", uv_strerror((int)n));
        delivered(ol, why);
    } else if ((ol->sending->off += (size_t)n) < ol->sending->len &&
               !ol->finished) {
        write_next_part(ol);
    } else {
        delivered(ol, NULL);
    }
    release_maybe(ol);
}

static void write_next_part(kiln_openlineage *ol)
{
    ol_event *ev = ol->sending;
    uv_buf_t buf = uv_buf_init(ev->body + ev->off,
                               (unsigned)(ev->len - ev->off));
    int rc;
    ol->write_req.data = ol;
    if ((rc = uv_fs_write(ol->loop, &ol->write_req, ol->fd, &buf, 1, -1,
                          on_written)) != 0) {
        char why[300];
        snprintf(why, sizeof(why), "cannot write: %s", uv_strerror(rc));
        delivered(ol, why);
        return;
    }
    ol->pending++;
}

/* Send the oldest waiting event, unless one is in flight. */
static void pump(kiln_openlineage *ol)
{
    while (!ol->sending && ol->head && !ol->finished) {
        ol_event *ev = ol->head;
        ol->head = ev->next;
        if (!ol->head)
            ol->tail = NULL;
        ol->queued--;
        ol->sending = ev;
        if (ol->is_url) {
            kiln_http_request req;
            kiln_err err = KILN_ERR_INIT;
            memset(&req, 0, sizeof(req));
            req.method = "POST";
            req.url = ol->target;
            req.content_type = "application/json";
            req.body = ev->body;
            req.len = ev->len;
            req.timeout_ms = POST_TIMEOUT_MS;
            req.max_body = 64 << 10;
            if (kiln_http_start(ol->http, &req, on_posted, ol, &err) != 0) {
                /* Said, dropped, and on to the next one. */
                event_free(ol->sending);
                ol->sending = NULL;
                if (!ol->failing)
                    say(ol, "OpenLineage events cannot reach %s: %s",
                        ol->target, err.msg);
                ol->failing = true;
            }
        } else {
            write_next_part(ol);
        }
    }
}

static void enqueue(kiln_openlineage *ol, json_t *event)
{
    ol_event *ev;
    char *text = json_dumps(event, JSON_COMPACT);
    json_decref(event);
    if (!text || ol->closing) {
        free(text);
        return;
    }
    if (ol->queued >= OPENLINEAGE_QUEUE) {
        if (ol->dropped++ == 0)
            say(ol, "more than %d OpenLineage events wait for %s: new ones "
                "are dropped", OPENLINEAGE_QUEUE, ol->target);
        free(text);
        return;
    }
    ev = kiln_calloc(1, sizeof(*ev));
    ev->len = strlen(text);
    if (ol->is_url) {
        ev->body = kiln_strdup(text);
    } else {
        ev->body = kiln_asprintf("%s\n", text);
        ev->len++;
    }
    free(text);
    if (ol->tail)
        ol->tail->next = ev;
    else
        ol->head = ev;
    ol->tail = ev;
    ol->queued++;
    pump(ol);
}

/* Events: ids, names, facets. */

/* A UUID named by name: RFC 9562 version 8 (custom), here name-based with
 * SHA-256 as its appendix B.2 shows, the variant bits 10. The same name
 * gives the same UUID in any kiln process. */
static void uuid_of(char out[37], const char *name)
{
    char hex[KILN_HASH_HEX];
    kiln_hash_bytes(hex, name, strlen(name));
    hex[12] = '8';
    hex[16] = "89ab"[(hex[16] <= '9' ? hex[16] - '0'
                                       : hex[16] - 'a' + 10) & 3];
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
}

static void step_uuid(char out[37], const ol_run *r, const char *step)
{
    char *name = kiln_asprintf("%s/%s", r->name, step);
    uuid_of(out, name);
    free(name);
}

/* ISO 8601 in UTC with milliseconds. */
static void iso_time(char *buf, size_t size, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    size_t n;
    gmtime_r(&t, &tm);
    n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03dZ", (int)(ms % 1000));
}

/* path with "." and ".." and repeated slashes taken out, lexically (it
 * need not exist yet: an output before its step ran). */
static char *normalize(const char *path)
{
    char *out = kiln_malloc(strlen(path) + 2), *copy = kiln_strdup(path);
    char *save = NULL, *part;
    size_t len = 0;
    for (part = strtok_r(copy, "/", &save); part;
         part = strtok_r(NULL, "/", &save)) {
        if (strcmp(part, ".") == 0)
            continue;
        if (strcmp(part, "..") == 0) {
            while (len > 0 && out[len - 1] != '/')
                len--;
            if (len > 0)
                len--;
            continue;
        }
        out[len++] = '/';
        memcpy(out + len, part, strlen(part));
        len += strlen(part);
    }
    if (len == 0)
        out[len++] = '/';
    out[len] = '\0';
    free(copy);
    return out;
}

/* The run's record here, made at its first event. */
static ol_run *run_get(kiln_openlineage *ol, const kiln_pipeline *p,
                       int64_t id)
{
    kiln_run_info *info = NULL;
    kiln_err err = KILN_ERR_INIT;
    char host[256] = "localhost";
    ol_run *r;
    for (r = ol->runs; r; r = r->next)
        if (r->id == id)
            return r;
    r = kiln_calloc(1, sizeof(*r));
    r->id = id;
    r->n_steps = p->n_steps;
    r->said = kiln_calloc(p->n_steps ? p->n_steps : 1, 1);
    gethostname(host, sizeof(host) - 1);
    /* The creation time tells this run from one of the same id in a
     * state directory made again. */
    if (ol->store && kiln_store_run_get(&info, ol->store, id, &err) == 0) {
        r->root = kiln_path_absolute(info->workdir ? info->workdir
                                                   : p->dir);
        r->name = kiln_asprintf("kiln:%s:%s:%lld:%lld", host, ol->state_dir,
                                (long long)id, (long long)info->created_ms);
    } else {
        r->root = kiln_path_absolute(p->dir);
        r->name = kiln_asprintf("kiln:%s:%s:%lld", host, ol->state_dir,
                                (long long)id);
    }
    kiln_run_info_free(info);
    uuid_of(r->uuid, r->name);
    r->next = ol->runs;
    ol->runs = r;
    return r;
}

static void run_forget(kiln_openlineage *ol, ol_run *r)
{
    for (ol_run **pp = &ol->runs; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    free(r->name);
    free(r->root);
    free(r->said);
    free(r);
}

static json_t *facet(const char *schema_url)
{
    return json_pack("{s:s, s:s}", "_producer", PRODUCER, "_schemaURL",
                     schema_url);
}

/* A RunEvent of type for job name, run uuid, with its job type facet. */
static json_t *event_new(kiln_openlineage *ol, const char *type,
                         const char *job, const char *uuid, bool step)
{
    char when[48];
    json_t *jobtype = facet(JOBTYPE_URL);
    iso_time(when, sizeof(when), kiln_now_ms());
    json_object_set_new(jobtype, "processingType", json_string("BATCH"));
    json_object_set_new(jobtype, "integration", json_string("KILN"));
    json_object_set_new(jobtype, "jobType",
                        json_string(step ? "TASK" : "DAG"));
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:{}},"
                     " s:{s:s, s:s, s:{s:o}}, s:[], s:[]}",
                     "eventType", type, "eventTime", when,
                     "producer", PRODUCER, "schemaURL", SCHEMA_URL,
                     "run", "runId", uuid, "facets",
                     "job", "namespace", ol->ns, "name", job, "facets",
                     "jobType", jobtype, "inputs", "outputs");
}

static void add_error(json_t *ev, const char *reason)
{
    json_t *f;
    if (!reason || !*reason)
        return;
    f = facet(ERROR_URL);
    json_object_set_new(f, "message", json_string(reason));
    /* What reports it: kiln, in C (a step's own language is its
     * business). */
    json_object_set_new(f, "programmingLanguage", json_string("C"));
    json_object_set_new(json_object_get(json_object_get(ev, "run"),
                                        "facets"), "errorMessage", f);
}

/* A dataset at path rel (relative to the step's workdir) unless the list
 * has it already. */
static void add_dataset(kiln_openlineage *ol, json_t *list, const char *dir,
                        const char *rel)
{
    char *joined = rel[0] == '/' ? kiln_strdup(rel)
                                 : kiln_path_join(dir, rel);
    char *name = normalize(joined);
    size_t i;
    json_t *d;
    free(joined);
    json_array_foreach(list, i, d) {
        if (strcmp(json_string_value(json_object_get(d, "name")), name) ==
            0) {
            free(name);
            return;
        }
    }
    json_array_append_new(list, json_pack("{s:s, s:s}", "namespace",
                                          ol->files_ns, "name", name));
    free(name);
}

/* Is one of st's outputs (under root) the file at path in? */
static bool makes(const kiln_step *st, const char *root, const char *in)
{
    char *dir = kiln_path_join(root, st->workdir);
    bool found = false;
    for (size_t i = 0; i < st->outputs.n && !found; i++) {
        char *joined = kiln_path_join(dir, st->outputs.items[i]);
        char *out = normalize(joined);
        found = strcmp(out, in) == 0;
        free(joined);
        free(out);
    }
    free(dir);
    return found;
}

/* The step's event: its parent run, the steps it waits for (its needs,
 * and the steps of the pipeline that make its inputs), its datasets. */
static json_t *step_event(kiln_openlineage *ol, const kiln_pipeline *p,
                          ol_run *r, size_t idx, const char *type)
{
    const kiln_step *st = &p->steps[idx];
    char uuid[37], *job = kiln_asprintf("%s.%s", p->name, st->name);
    char *dir = kiln_path_join(r->root, st->workdir);
    json_t *ev, *facets, *parent, *deps, *up, *inputs, *outputs, *d;
    bool *upstream = kiln_calloc(p->n_steps ? p->n_steps : 1, sizeof(bool));
    size_t i;

    step_uuid(uuid, r, st->name);
    ev = event_new(ol, type, job, uuid, true);
    facets = json_object_get(json_object_get(ev, "run"), "facets");
    parent = facet(PARENT_URL);
    json_object_set_new(parent, "run", json_pack("{s:s}", "runId", r->uuid));
    json_object_set_new(parent, "job", json_pack("{s:s, s:s}", "namespace",
                                                 ol->ns, "name", p->name));
    json_object_set_new(facets, "parent", parent);

    inputs = json_object_get(ev, "inputs");
    outputs = json_object_get(ev, "outputs");
    for (i = 0; i < st->inputs.n; i++)
        add_dataset(ol, inputs, dir, st->inputs.items[i]);
    if (st->validation && st->validation->data)
        add_dataset(ol, inputs, dir, st->validation->data);
    if (st->validation && st->validation->drift &&
        st->validation->drift->reference)
        add_dataset(ol, inputs, dir, st->validation->drift->reference);
    for (i = 0; i < st->outputs.n; i++)
        add_dataset(ol, outputs, dir, st->outputs.items[i]);

    for (i = 0; i < st->needs.n; i++)
        upstream[st->need_idx[i]] = true;
    json_array_foreach(inputs, i, d) {
        const char *name = json_string_value(json_object_get(d, "name"));
        for (size_t k = 0; k < p->n_steps; k++)
            if (k != idx && makes(&p->steps[k], r->root, name))
                upstream[k] = true;
    }
    up = json_array();
    for (i = 0; i < p->n_steps; i++) {
        char up_uuid[37], *up_job;
        if (!upstream[i])
            continue;
        step_uuid(up_uuid, r, p->steps[i].name);
        up_job = kiln_asprintf("%s.%s", p->name, p->steps[i].name);
        json_array_append_new(up, json_pack(
            "{s:{s:s, s:s}, s:{s:s}, s:s, s:s, s:s}",
            "job", "namespace", ol->ns, "name", up_job,
            "run", "runId", up_uuid,
            "dependency_type", "DIRECT_INVOCATION",
            "sequence_trigger_rule", "FINISH_TO_START",
            "status_trigger_rule", "EXECUTE_ON_SUCCESS"));
        free(up_job);
    }
    if (json_array_size(up) > 0) {
        deps = facet(DEPS_URL);
        json_object_set_new(deps, "upstream", up);
        json_object_set_new(deps, "trigger_rule", json_string("ALL_SUCCESS"));
        json_object_set_new(facets, "jobDependencies", deps);
    } else {
        json_decref(up);
    }
    free(upstream);
    free(dir);
    free(job);
    return ev;
}

static void emit_step(kiln_openlineage *ol, const kiln_pipeline *p,
                      ol_run *r, size_t idx, const char *type,
                      const char *reason)
{
    json_t *ev = step_event(ol, p, r, idx, type);
    if (strcmp(type, "START") != 0 && strcmp(type, "COMPLETE") != 0)
        add_error(ev, reason);
    enqueue(ol, ev);
}

void kiln_openlineage_step(kiln_openlineage *ol, const kiln_pipeline *p,
                           int64_t run_id, size_t step,
                           kiln_step_state state, const char *reason)
{
    ol_run *r;
    const char *end = NULL;
    if (!ol || ol->closing || step >= p->n_steps)
        return;
    r = run_get(ol, p, run_id);
    if (step >= r->n_steps || r->said[step] == SAID_END)
        return;
    switch (state) {
    case KILN_STEP_RUNNING:
        if (r->said[step] == SAID_NOTHING) {
            emit_step(ol, p, r, step, "START", NULL);
            r->said[step] = SAID_START;
        }
        return;
    case KILN_STEP_SUCCEEDED:
        end = "COMPLETE";
        break;
    case KILN_STEP_FAILED:
    case KILN_STEP_TIMED_OUT:
        end = "FAIL";
        break;
    case KILN_STEP_CANCELLED:
    case KILN_STEP_SKIPPED:
    case KILN_STEP_GATED:
        /* Never started: nothing to say. */
        if (r->said[step] == SAID_NOTHING) {
            r->said[step] = SAID_END;
            return;
        }
        end = "ABORT";
        break;
    default:
        return;
    }
    /* Served from the cache, reused, or failed before it could run. */
    if (r->said[step] == SAID_NOTHING)
        emit_step(ol, p, r, step, "START", NULL);
    emit_step(ol, p, r, step, end, reason);
    r->said[step] = SAID_END;
}

void kiln_openlineage_run(kiln_openlineage *ol, const kiln_pipeline *p,
                          int64_t run_id, kiln_run_state state,
                          const char *reason)
{
    ol_run *r;
    const char *end;
    json_t *ev;
    if (!ol || ol->closing)
        return;
    r = run_get(ol, p, run_id);
    if (!r->started) {
        enqueue(ol, event_new(ol, "START", p->name, r->uuid, false));
        r->started = true;
    }
    if (!kiln_run_state_final(state))
        return;
    end = state == KILN_RUN_SUCCEEDED ? "COMPLETE"
          : state == KILN_RUN_CANCELLED ? "ABORT" : "FAIL";
    ev = event_new(ol, end, p->name, r->uuid, false);
    if (state != KILN_RUN_SUCCEEDED)
        add_error(ev, reason);
    enqueue(ol, ev);
    run_forget(ol, r);
}

/* Life. */

int kiln_openlineage_new(kiln_openlineage **out,
                         const kiln_openlineage_options *o, kiln_err *err)
{
    kiln_openlineage *ol = kiln_calloc(1, sizeof(*ol));
    char host[256] = "localhost";

    ol->loop = o->loop;
    ol->target = kiln_strdup(o->target);
    ol->is_url = kiln_openlineage_is_url(o->target);
    ol->ns = kiln_strdup(o->job_namespace && *o->job_namespace
                             ? o->job_namespace : "kiln");
    gethostname(host, sizeof(host) - 1);
    ol->files_ns = kiln_asprintf("file://%s", host);
    ol->state_dir = o->state_dir ? kiln_path_absolute(o->state_dir)
                                : kiln_strdup("");
    ol->store = o->store;
    ol->warn = o->warn;
    ol->data = o->data;
    ol->fd = -1;
    if (ol->is_url) {
        if (kiln_http_new(&ol->http, o->loop, err) != 0)
            goto fail;
    } else {
        int fd = open(o->target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                      0644);
        if (fd < 0) {
            kiln_err_set_os(err, "--openlineage: cannot open %s", o->target);
            goto fail;
        }
        ol->fd = fd;
    }
    uv_timer_init(o->loop, &ol->grace);
    ol->grace.data = ol;
    ol->pending = 1; /* the timer, until closed */
    *out = ol;
    return 0;
fail:
    free(ol->target);
    free(ol->ns);
    free(ol->files_ns);
    free(ol->state_dir);
    free(ol);
    *out = NULL;
    return err->code;
}

static void on_grace_close(uv_handle_t *h)
{
    kiln_openlineage *ol = h->data;
    ol->pending--;
    release_maybe(ol);
}

/* Closing, and either all delivered or out of time: drop what is left,
 * end the request in flight, close. */
static void finish(kiln_openlineage *ol)
{
    /* A POST in flight is cancelled below; a write finishes. */
    size_t left = ol->queued + (ol->sending && ol->is_url ? 1 : 0);
    if (ol->finished)
        return;
    ol->finished = true;
    while (ol->head) {
        ol_event *ev = ol->head;
        ol->head = ev->next;
        event_free(ev);
    }
    ol->tail = NULL;
    ol->queued = 0;
    if (left > 0)
        say(ol, "%zu OpenLineage event%s not delivered to %s", left,
            left == 1 ? "" : "s", ol->target);
    if (ol->dropped > 0)
        say(ol, "%zu OpenLineage event%s dropped: too many waited",
            ol->dropped, ol->dropped == 1 ? " was" : "s were");
    /* Its callback runs now, and only frees the event. */
    kiln_http_close(ol->http);
    ol->http = NULL;
    uv_timer_stop(&ol->grace);
    uv_close((uv_handle_t *)&ol->grace, on_grace_close);
}

static void on_grace(uv_timer_t *t)
{
    finish(t->data);
}

void kiln_openlineage_close(kiln_openlineage *ol, int64_t grace_ms)
{
    if (!ol || ol->closing)
        return;
    ol->closing = true;
    if (!ol->head && !ol->sending)
        finish(ol);
    else
        uv_timer_start(&ol->grace, on_grace,
                       (uint64_t)(grace_ms > 0 ? grace_ms : 0), 0);
}
