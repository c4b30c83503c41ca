/*
 * web.c: the daemon's side of the web API, and the JSON edge of its
 * commands.
 *
 * web/ knows nothing of entries, schedules or runs in flight: these hooks
 * describe them as JSON and turn the API's requests (start, cancel, retry
 * a run; promote and roll back a model's alias) into the typed commands
 * of commands.c, the ones the inbox's requests become too. Run and step
 * changes are published to event stream subscribers as they happen.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/clock.h"

#define say kiln_daemon__say

static json_t *strlist(const kiln_strlist *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->n; i++)
        json_array_append_new(a, json_string(l->items[i]));
    return a;
}

static json_t *trigger_json(const kiln_trigger *t)
{
    json_t *o = json_pack("{s:s, s:I}", "kind",
                          kiln_trigger_kind_name(t->kind), "every_ms",
                          (json_int_t)t->every_ms);
    switch (t->kind) {
    case KILN_TRIGGER_DRIFT:
        json_object_set_new(o, "reference", json_string(t->drift.reference));
        json_object_set_new(o, "current", json_string(t->drift.current));
        json_object_set_new(o, "columns", strlist(&t->drift.columns));
        json_object_set_new(o, "method", json_string(t->drift.method));
        json_object_set_new(o, "threshold", json_real(t->drift.threshold));
        break;
    case KILN_TRIGGER_DATA:
        json_object_set_new(o, "path", json_string(t->path));
        break;
    case KILN_TRIGGER_GIT:
        json_object_set_new(o, "branch", json_string(t->branch));
        if (t->remote)
            json_object_set_new(o, "remote", json_string(t->remote));
        if (t->repo)
            json_object_set_new(o, "repo", json_string(t->repo));
        break;
    case KILN_TRIGGER_METRIC:
        if (t->pipeline) { /* another pipeline's recorded metric */
            json_object_set_new(o, "pipeline", json_string(t->pipeline));
            json_object_set_new(o, "key", json_string(t->key));
        } else
            json_object_set_new(o, t->url ? "url" : "file",
                                json_string(t->url ? t->url : t->file));
        if (t->json)
            json_object_set_new(o, "json", json_string(t->json));
        if (t->has_below)
            json_object_set_new(o, "below", json_real(t->below));
        if (t->has_above)
            json_object_set_new(o, "above", json_real(t->above));
        break;
    }
    return o;
}

/* Broken file b's errors as an array of strings (b may be NULL). */
static json_t *load_errors_json(const kiln_broken *b)
{
    json_t *list = json_array();
    const char *p = b ? b->errors : "";
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len)
            json_array_append_new(list, json_stringn(p, len));
        p += len + (nl != NULL);
    }
    return list;
}

/* The broken file that held e's pipeline, if its last load failed. */
static const kiln_broken *entry_broken(const kiln_entry *e)
{
    for (const kiln_broken *b = e->dm->broken; b; b = b->next)
        if (b->pipeline && strcmp(b->pipeline, e->name) == 0 &&
            strcmp(b->file, e->d->file) == 0)
            return b;
    return NULL;
}

/* Fires of e waiting for a slot (max_active_runs). */
static unsigned queued(const kiln_entry *e)
{
    unsigned n = 0;
    for (const kiln_queued_fire *q = e->queue; q; q = q->next)
        n++;
    return n;
}

/* What every view of a pipeline shows. */
static json_t *entry_json(kiln_entry *e)
{
    const kiln_pipeline *p = e->d->p;
    json_t *crons = json_array(), *triggers = json_array();
    int64_t next = -1;

    for (size_t i = 0; i < p->schedule.n_crons; i++)
        json_array_append_new(crons, json_string(p->schedule.crons[i].expr));
    for (size_t i = 0; i < e->n_scheds; i++)
        if (e->scheds[i]->due_ms >= 0 &&
            (next < 0 || e->scheds[i]->due_ms < next))
            next = e->scheds[i]->due_ms;
    for (size_t i = 0; i < p->n_triggers; i++)
        json_array_append_new(triggers, trigger_json(&p->triggers[i]));
    return json_pack("{s:s, s:s, s:s?, s:{s:o, s:s, s:s, s:i}, s:o, s:o, "
                     "s:I, s:i, s:i, s:i, s:o}",
                     "name", e->name, "file", e->d->file, "description",
                     p->description, "schedule", "crons", crons, "timezone",
                     p->schedule.timezone, "concurrency",
                     kiln_concurrency_name(p->schedule.concurrency),
                     "max_active_runs", p->schedule.max_active_runs,
                     "next_due", next >= 0 ? json_integer(next)
                                           : json_null(),
                     "triggers", triggers, "cooldown_ms",
                     (json_int_t)p->cooldown_ms, "steps", (int)p->n_steps,
                     "active", (int)e->n_active, "queued", (int)queued(e),
                     "load_errors", load_errors_json(entry_broken(e)));
}

static json_t *hook_pipelines(void *data)
{
    kiln_daemon *dm = data;
    json_t *list = json_array();
    for (kiln_entry *e = dm->entries; e; e = e->next) {
        if (e->removed)
            continue;
        json_array_append_new(list, json_pack(
            "{s:s, s:s, s:i, s:i, s:o}", "name", e->name, "file", e->d->file,
            "active", (int)e->n_active, "queued", (int)queued(e),
            "load_errors", load_errors_json(entry_broken(e))));
    }
    /* Files that never loaded: no pipeline, only their errors. */
    for (kiln_broken *b = dm->broken; b; b = b->next)
        if (!b->pipeline)
            json_array_append_new(list, json_pack("{s:n, s:s, s:o}", "name",
                                  "file", b->file, "load_errors",
                                  load_errors_json(b)));
    return list;
}

/* One pass over the entries, each name looked up in an object of
 * name -> its index in names. */
static json_t *hook_describe(void *data, const json_t *names)
{
    kiln_daemon *dm = data;
    size_t n = json_array_size(names), i;
    json_t *out = json_array(), *at = json_object(), *v;

    json_array_foreach(names, i, v) {
        json_array_append_new(out, json_null());
        if (json_is_string(v))
            json_object_set_new(at, json_string_value(v), json_integer(
                                    (json_int_t)i));
    }
    for (kiln_entry *e = dm->entries; e && n > 0; e = e->next)
        if (!e->removed && (v = json_object_get(at, e->name)) != NULL) {
            json_array_set_new(out, (size_t)json_integer_value(v),
                               entry_json(e));
            n--;
        }
    json_decref(at);
    return out;
}

/* One pipeline with its definition: params, and the DAG as nodes and
 * edges (edges go from a need to the step that needs it). */
static json_t *hook_pipeline(void *data, const char *name)
{
    kiln_daemon *dm = data;
    kiln_entry *e = kiln_daemon__entry_find(dm, name);
    const kiln_pipeline *p;
    json_t *o, *params, *nodes, *edges;
    if (!e)
        return NULL;
    p = e->d->p;
    o = entry_json(e);
    params = json_object();
    for (size_t i = 0; i < p->n_params; i++)
        json_object_set_new(params, p->params[i].key,
                            json_string(p->params[i].value));
    nodes = json_array();
    edges = json_array();
    for (size_t i = 0; i < p->n_steps; i++) {
        const kiln_step *st = &p->steps[i];
        json_t *n = json_pack("{s:s, s:s, s:o, s:s, s:b}", "name", st->name,
                              "kind", kiln_step_kind_name(st->kind), "needs",
                              strlist(&st->needs), "executor", st->executor,
                              "cache", st->cache);
        if (st->when)
            json_object_set_new(n, "when", json_string(st->when));
        if (st->pool)
            json_object_set_new(n, "pool", json_string(st->pool));
        if (st->run)
            json_object_set_new(n, "run", json_string(st->run));
        if (st->validation)
            json_object_set_new(n, "validates",
                                json_string(st->validation->data));
        if (st->matrix) {
            /* An item of a sweep: its matrix step and its values. */
            json_t *ip = json_object();
            for (size_t k = 0; k < st->n_item_params; k++)
                json_object_set_new(ip, st->item_params[k].key,
                                    json_string(st->item_params[k].value));
            json_object_set_new(n, "matrix", json_string(st->matrix->step));
            json_object_set_new(n, "item_params", ip);
        }
        if (st->select)
            json_object_set_new(n, "select", json_pack(
                "{s:s, s:s, s:s}", "from", st->select->from, "metric",
                st->select->metric, "mode", st->select->max ? "max" : "min"));
        json_array_append_new(nodes, n);
        for (size_t k = 0; k < st->needs.n; k++)
            json_array_append_new(edges, json_pack("[s, s]",
                                                   st->needs.items[k],
                                                   st->name));
    }
    json_object_set_new(o, "params", params);
    json_object_set_new(o, "dag", json_pack("{s:o, s:o}", "nodes", nodes,
                                            "edges", edges));
    return o;
}

static json_t *hook_gauges(void *data)
{
    kiln_daemon *dm = data;
    unsigned n_queued = 0, n_active = 0, n_running = 0;
    for (kiln_entry *e = dm->entries; e; e = e->next)
        n_queued += queued(e);
    for (kiln_active_run *a = dm->runs; a; a = a->next) {
        const kiln_pipeline *p = kiln_run_pipeline(a->run);
        n_active++;
        for (size_t i = 0; i < p->n_steps; i++)
            n_running += kiln_run_step_state(a->run, i) == KILN_STEP_RUNNING;
    }
    return json_pack("{s:i, s:i, s:i, s:f}", "queue_depth", (int)n_queued,
                     "active_runs", (int)n_active, "running_steps",
                     (int)n_running, "scheduler_lag_seconds",
                     (double)dm->last_lag_ms / 1000.0);
}

/* The web API's edge: its JSON becomes a typed request here. */

/* Where the API's run request answers once the daemon has fired it. */
typedef struct start_reply {
    kiln_web_reply_cb done;
    void *ctx;
} start_reply;

static void on_started(void *ctx, int rc, const kiln_fire_result *res,
                       const kiln_err *err)
{
    start_reply *r = ctx;
    json_t *reply = NULL;
    kiln_err e = *err;
    if (rc == 0) {
        reply = json_object();
        kiln_daemon__fire_reply(reply, res);
    } else if (rc != KILN_ENOTFOUND && rc != KILN_EINVAL) {
        rc = e.code = KILN_EBUSY; /* 503: cannot now */
    }
    r->done(r->ctx, rc, reply, &e);
    free(r);
}

static void hook_start_run(void *data, const char *pipeline, json_t *params,
                           const char *commit, const kiln_audit_who *by,
                           kiln_web_reply_cb done, void *ctx)
{
    kiln_daemon *dm = data;
    json_t *who = json_pack("{s:s, s:s, s:s}", "via", "HTTP API", "user",
                            by->actor, "how", by->via);
    start_reply *r = kiln_calloc(1, sizeof(*r));
    kiln_run_request rr;
    kiln_kv *kv = NULL;

    memset(&rr, 0, sizeof(rr));
    rr.pipeline = pipeline;
    kiln_daemon__params_from_json(&kv, &rr.n_params, params);
    rr.params = kv;
    rr.commit = commit;
    rr.via = "HTTP API";
    rr.params_json = params ? json_dumps(params, JSON_COMPACT) : NULL;
    rr.who_json = json_dumps(who, JSON_COMPACT);
    rr.by = *by;
    r->done = done;
    r->ctx = ctx;
    kiln_daemon__manual_run_async(dm, &rr, on_started, r);
    free((char *)rr.params_json);
    free((char *)rr.who_json);
    json_decref(who);
    kiln_daemon__params_free(kv, rr.n_params);
}

static int hook_cancel_run(void *data, int64_t id, const kiln_audit_who *who,
                           kiln_err *err)
{
    return kiln_daemon__cancel_run_as(data, id, "HTTP API", who, err);
}

static int hook_retry_run(void *data, int64_t id, const char *from,
                          const kiln_audit_who *who, int64_t *new_id,
                          kiln_err *err)
{
    kiln_fire_result res;
    int rc = kiln_daemon__retry_run(data, id, from, who, &res, err);
    if (rc == 0)
        *new_id = res.run_id;
    else if (rc != KILN_ENOTFOUND && rc != KILN_EINVAL)
        rc = err->code = KILN_EBUSY; /* 409: not in a state to retry */
    return rc;
}

/* Model aliases, moved as kiln models promote and rollback move them:
 * through kiln_registry_move(), so the model's deploy command (register:'s
 * deploy:) runs first with the version's bytes, and the alias moves only
 * when it exits 0 (its output goes to the daemon's stderr); on the thread
 * pool, one move at a time with the runs' (moves.c). */
static void hook_move_model(void *data, const char *model, const char *alias,
                            int version, const kiln_audit_who *who,
                            kiln_web_done_cb done, void *ctx)
{
    kiln_daemon__move_model(data, model, alias, version, who, done, ctx);
}

static int hook_retire_model(void *data, int *was, const char *model,
                             const char *alias, const kiln_audit_who *who,
                             kiln_err *err)
{
    kiln_daemon *dm = data;
    kiln_model_version v;
    int rc = kiln_store_model_find(dm->store, &v, model, alias, 0, err);
    if (rc == 0) {
        kiln_model_version_dispose(&v);
        rc = kiln_store_model_retire(dm->store, was, model, alias, who,
                                     err);
    }
    if (rc == 0)
        say("model %s: %s retired, was version %d (%s, %s)", model, alias,
            *was, who->actor, who->via);
    return rc;
}

/* Page sessions: opened at /login, ended at /logout (web/login.c). */
static int hook_session_start(void *data, kiln_identity *id,
                              char cookie[KILN_SESSION_COOKIE_MAX],
                              const kiln_audit_who *who, kiln_err *err)
{
    kiln_daemon *dm = data;
    return kiln_store_session_start(dm->store, id, cookie,
                                    dm->o->session_ttl_ms > 0
                                        ? dm->o->session_ttl_ms
                                        : (int64_t)12 * 3600 * 1000,
                                    who, err);
}

static int hook_session_end(void *data, int64_t session_id,
                            const kiln_audit_who *who, kiln_err *err)
{
    kiln_daemon *dm = data;
    return kiln_store_session_end(dm->store, session_id, who, err);
}

void kiln_daemon__run_event(kiln_run *run, ssize_t step, void *data)
{
    kiln_active_run *a = data;
    kiln_daemon *dm = a->dm;
    const kiln_pipeline *p = kiln_run_pipeline(run);
    json_t *ev;
    if (step < 0)
        kiln_openlineage_run(dm->lineage, p, kiln_run_id(run),
                             kiln_run_state_get(run), NULL);
    else
        kiln_openlineage_step(dm->lineage, p, kiln_run_id(run),
                              (size_t)step,
                              kiln_run_step_state(run, (size_t)step),
                              kiln_run_step_reason(run, (size_t)step));
    if (!dm->web)
        return;
    if (step < 0) {
        ev = json_pack("{s:I, s:s, s:s}", "run_id",
                       (json_int_t)kiln_run_id(run), "pipeline", p->name,
                       "status", kiln_run_state_name(kiln_run_state_get(run)));
        kiln_web_publish(dm->web, "run", ev);
    } else {
        ev = json_pack("{s:I, s:s, s:s, s:s, s:i, s:s}", "run_id",
                       (json_int_t)kiln_run_id(run), "pipeline", p->name,
                       "step", p->steps[step].name, "status",
                       kiln_step_state_name(kiln_run_step_state(run,
                                                                (size_t)step)),
                       "attempt", kiln_run_step_attempt(run, (size_t)step),
                       "reason", kiln_run_step_reason(run, (size_t)step));
        kiln_web_publish(dm->web, "step", ev);
    }
    json_decref(ev);
}

int kiln_daemon__web_start(kiln_daemon *dm, kiln_err *err)
{
    kiln_web_options o;
    char *path, *url;
    FILE *f;

    if (!dm->o->listen)
        return 0;
    memset(&o, 0, sizeof(o));
    o.loop = &dm->loop;
    o.store = dm->store;
    o.state_dir = dm->o->state_dir;
    o.listen = dm->o->listen;
    o.token = dm->o->token;
    o.tls_cert = dm->o->tls_cert;
    o.tls_key = dm->o->tls_key;
    o.auth_header = dm->o->auth_header;
    o.trusted_proxies = dm->o->trusted_proxies;
    o.auth_header_role = dm->o->auth_header_role;
    o.hooks.session_start = hook_session_start;
    o.hooks.session_end = hook_session_end;
    o.hooks.start_run = hook_start_run;
    o.hooks.cancel_run = hook_cancel_run;
    o.hooks.retry_run = hook_retry_run;
    o.hooks.move_model = hook_move_model;
    o.hooks.retire_model = hook_retire_model;
    o.hooks.pipelines = hook_pipelines;
    o.hooks.describe = hook_describe;
    o.hooks.pipeline = hook_pipeline;
    o.hooks.gauges = hook_gauges;
    o.hooks.data = dm;
    if (kiln_web_start(&dm->web, &o, err) != 0)
        return err->code;
    /* Where clients (kiln trigger --wait, tests) find it. */
    url = kiln_asprintf("%s://%s/", kiln_web_tls(dm->web) ? "https" : "http",
                        kiln_web_address(dm->web));
    path = kiln_path_join(dm->o->state_dir, "web.url");
    if ((f = fopen(path, "w")) != NULL) {
        fprintf(f, "%s\n", url);
        fclose(f);
    }
    kiln_notifier_set_page(dm->notifier, url);
    say("status page and API on %s", url);
    if (!kiln_web_loopback(dm->web) && !kiln_web_tls(dm->web) &&
        !kiln_web_proxied(dm->web))
        say("warning: listening on %s beyond loopback without TLS: API "
            "tokens and session cookies travel in clear text to anyone on "
            "the path; serve HTTPS with --tls-cert and --tls-key",
            kiln_web_address(dm->web));
    free(path);
    free(url);
    return 0;
}

void kiln_daemon__web_stop(kiln_daemon *dm)
{
    char *path;
    if (!dm->web)
        return;
    path = kiln_path_join(dm->o->state_dir, "web.url");
    unlink(path);
    free(path);
    kiln_web_stop(dm->web);
    dm->web = NULL;
}
