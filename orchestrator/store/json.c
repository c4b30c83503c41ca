/*
 * json.c: the store's JSON views, for --json output and the HTTP API
 * only (nothing inside kiln reads them): each row an object keyed by
 * column name.
 */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* One result row as a JSON object keyed by column name. Columns holding
 * JSON text (params, trigger_info) are embedded as JSON; git_dirty as a
 * boolean. */
static json_t *row_json(sqlite3_stmt *s)
{
    json_t *o = json_object();
    int n = sqlite3_column_count(s);
    for (int i = 0; i < n; i++) {
        const char *name = sqlite3_column_name(s, i);
        json_t *v;
        switch (sqlite3_column_type(s, i)) {
        case SQLITE_INTEGER:
            if (strcmp(name, "git_dirty") == 0)
                v = json_boolean(sqlite3_column_int(s, i));
            else
                v = json_integer(sqlite3_column_int64(s, i));
            break;
        case SQLITE_FLOAT:
            v = json_real(sqlite3_column_double(s, i));
            break;
        case SQLITE_TEXT: {
            const char *t = (const char *)sqlite3_column_text(s, i);
            v = NULL;
            if (strcmp(name, "params") == 0 ||
                strcmp(name, "trigger_info") == 0 ||
                strcmp(name, "detail") == 0)
                v = json_loads(t, JSON_DECODE_ANY, NULL);
            if (!v)
                v = json_string(t);
            break;
        }
        default:
            v = json_null();
        }
        json_object_set_new(o, name, v);
    }
    return o;
}

/* Step s to its end, every row as a JSON object, into a new array. */
static int collect(kiln_store *st, json_t **out, sqlite3_stmt *s,
                   const char *what, kiln_err *err)
{
    json_t *rows = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(rows, row_json(s));
    if ((rc = kiln_store__end(st, s, rc, err, what)) != 0) {
        json_decref(rows);
        return rc;
    }
    *out = rows;
    return 0;
}

/* Run sql (a static string) with one optional text and int64 binding
 * (?1, ?2) and collect the rows. */
static int query_rows(kiln_store *st, json_t **out, const char *sql,
                      const char *text, int64_t num, kiln_err *err)
{
    sqlite3_stmt *s = kiln_store__stmt(st, sql, err, "querying");
    *out = NULL;
    if (!s)
        return KILN_ERROR;
    if (sqlite3_bind_parameter_count(s) >= 1)
        kiln_store__text(s, 1, text);
    if (sqlite3_bind_parameter_count(s) >= 2)
        sqlite3_bind_int64(s, 2, num);
    return collect(st, out, s, "querying", err);
}

/* Each notification's "webhook" by its host only: the rest of a Slack
 * webhook's URL is its secret. */
static void webhook_hosts(json_t *notes)
{
    json_t *nt;
    size_t i;
    json_array_foreach(notes, i, nt) {
        const char *url = json_string_value(json_object_get(nt, "webhook"));
        const char *host = url ? strstr(url, "://") : NULL;
        host = host ? host + 3 : url;
        if (host)
            json_object_set_new(nt, "webhook",
                                json_stringn(host, strcspn(host, "/?#")));
    }
}

#define RUN_COLUMNS                                                         \
    "id, pipeline, status, reason, trigger, trigger_info, params, "         \
    "git_commit, git_branch, git_dirty, file, pipeline_hash, workdir, "     \
    "created_at, started_at, finished_at, owner_pid, owner_start, "       \
    "started_by"

/* A run still recorded queued or running whose kiln process (owner_pid
 * and its start time) is gone is orphaned: say so ("orphaned": true), so
 * nobody takes it for running. */
static void mark_orphans(json_t *runs)
{
    json_t *r;
    size_t i;
    json_array_foreach(runs, i, r) {
        const char *status = json_string_value(json_object_get(r,
                                                               "status"));
        pid_t pid;
        uint64_t start;
        kiln_run_state state;
        if (kiln_run_state_parse(&state, status) != 0 ||
            kiln_run_state_final(state))
            continue;
        pid = (pid_t)json_integer_value(json_object_get(r, "owner_pid"));
        start = (uint64_t)json_integer_value(json_object_get(r,
                                                             "owner_start"));
        json_object_set_new(r, "orphaned", json_boolean(
                            pid <= 0 || !start ||
                            kiln_proc_start(pid) != start));
    }
}

int kiln_store_runs_json(kiln_store *st, json_t **out, const char *pipeline,
                         int limit, kiln_err *err)
{
    /* One statement each way: "?1 IS NULL OR pipeline = ?1" would keep
     * SQLite from the index and walk every run to find a pipeline's. */
    int rc = query_rows(st, out,
                        pipeline ? "SELECT " RUN_COLUMNS " FROM runs "
                                   "WHERE pipeline = ?1 "
                                   "ORDER BY id DESC LIMIT ?2"
                                 : "SELECT " RUN_COLUMNS " FROM runs "
                                   "WHERE ?1 IS NULL "
                                   "ORDER BY id DESC LIMIT ?2",
                        pipeline, limit > 0 ? limit : 20, err);
    if (rc == 0)
        mark_orphans(*out);
    return rc;
}

int kiln_store_run_json(kiln_store *st, json_t **out, int64_t run_id,
                        kiln_err *err)
{
    json_t *runs = NULL, *steps = NULL, *execs = NULL, *run;
    char idtext[32];
    size_t i, j;
    int rc;

    *out = NULL;
    snprintf(idtext, sizeof(idtext), "%lld", (long long)run_id);
    rc = query_rows(st, &runs, "SELECT " RUN_COLUMNS " FROM runs "
                    "WHERE id = CAST(?1 AS INTEGER) LIMIT ?2",
                    idtext, 1, err);
    if (rc != 0)
        return rc;
    if (json_array_size(runs) == 0) {
        json_decref(runs);
        return kiln_err_set(err, KILN_ENOTFOUND, "no run %lld in %s",
                            (long long)run_id, st->path);
    }
    mark_orphans(runs);
    run = json_incref(json_array_get(runs, 0));
    json_decref(runs);

    rc = query_rows(st, &steps,
                    "SELECT step AS name, kind, status, attempts, reason, "
                    "started_at, finished_at, json(gate) AS gate FROM "
                    "run_steps WHERE run_id = CAST(?1 AS INTEGER) AND ?2 "
                    "ORDER BY position", idtext, 1, err);
    if (rc == 0)
        rc = query_rows(st, &execs,
                        "SELECT id, step, attempt, status, exit_code, "
                        "signal, reason, started_at, finished_at, log_path, "
                        "executor, external_id, image, image_ref, "
                        "cached_from, (SELECT run_id "
                        "FROM executions c WHERE c.id = "
                        "executions.cached_from) AS cached_from_run "
                        "FROM executions "
                        "WHERE run_id = CAST(?1 AS INTEGER) AND ?2 "
                        "ORDER BY step, attempt", idtext, 1, err);
    if (rc != 0) {
        json_decref(run);
        json_decref(steps);
        return rc;
    }
    /* Nest each step's attempts under it. */
    {
        json_t *by_name = json_object();
        for (i = 0; i < json_array_size(steps); i++) {
            json_t *step = json_array_get(steps, i), *mine = json_array();
            json_t *gate = json_object_get(step, "gate");
            /* The gate's decision as an object, not as its text. */
            if (json_is_string(gate))
                json_object_set_new(step, "gate", json_loads(
                    json_string_value(gate), 0, NULL));
            else
                json_object_del(step, "gate");
            json_object_set_new(step, "attempts_detail", mine);
            json_object_set(by_name, json_string_value(json_object_get(
                            step, "name")), mine);
        }
        for (j = 0; j < json_array_size(execs); j++) {
            json_t *e = json_array_get(execs, j);
            json_t *mine = json_object_get(by_name, json_string_value(
                                           json_object_get(e, "step")));
            json_object_del(e, "step");
            if (mine)
                json_array_append(mine, e);
        }
        json_decref(by_name);
    }
    json_decref(execs);
    json_object_set_new(run, "steps", steps);
    /* The runs that reproduce it (kiln reproduce), oldest first. */
    {
        json_t *rep = NULL, *r, *ids = json_array();
        if (query_rows(st, &rep, "SELECT id FROM runs WHERE reproduces = "
                       "CAST(?1 AS INTEGER) AND ?2 ORDER BY id", idtext, 1,
                       err) != 0) {
            json_decref(ids);
            json_decref(run);
            return KILN_ERROR;
        }
        json_array_foreach(rep, i, r)
            json_array_append(ids, json_object_get(r, "id"));
        json_decref(rep);
        json_object_set_new(run, "reproduced_by", ids);
    }
    /* Its notifications, oldest first. */
    {
        json_t *notes = NULL;
        if (query_rows(st, &notes, "SELECT event, url AS webhook, status, "
                       "attempts, http_status, error, created_at, "
                       "finished_at FROM notifications WHERE run_id = "
                       "CAST(?1 AS INTEGER) AND ?2 ORDER BY id", idtext, 1,
                       err) != 0) {
            json_decref(run);
            return KILN_ERROR;
        }
        webhook_hosts(notes);
        json_object_set_new(run, "notifications", notes);
    }
    *out = run;
    return 0;
}

int kiln_store_run_artifacts_json(kiln_store *st, json_t **out,
                                  int64_t run_id, kiln_err *err)
{
    json_t *rows = NULL, *r;
    size_t i;
    int rc = query_rows(st, &rows, "SELECT e.execution_id, a.id, a.path, "
                        "a.sha256, a.size, a.type, e.type = 'output' AS "
                        "output FROM events e JOIN executions x ON x.id = "
                        "e.execution_id JOIN artifacts a ON a.id = "
                        "e.artifact_id WHERE ?1 IS NULL AND x.run_id = ?2 "
                        "ORDER BY e.execution_id, output, a.path", NULL,
                        run_id, err);
    *out = NULL;
    if (rc != 0)
        return rc;
    json_array_foreach(rows, i, r)
        json_object_set_new(r, "output", json_boolean(json_integer_value(
                            json_object_get(r, "output"))));
    *out = rows;
    return 0;
}

/* Each row's errors, one a line, as an array of strings. */
static void split_errors(json_t *rows)
{
    json_t *r;
    size_t i;
    json_array_foreach(rows, i, r) {
        const char *p = json_string_value(json_object_get(r, "errors"));
        json_t *list = json_array();
        while (p && *p) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            if (len)
                json_array_append_new(list, json_stringn(p, len));
            p += len + (nl != NULL);
        }
        json_object_set_new(r, "errors", list);
    }
}

int kiln_store_status_json(kiln_store *st, json_t **out, int fires,
                           kiln_err *err)
{
    json_t *sched = NULL, *active = NULL, *recent = NULL, *broken = NULL;
    int rc;
    *out = NULL;
    rc = query_rows(st, &sched, "SELECT pipeline, schedule, timezone, "
                    "next_due, updated_at FROM schedules WHERE ?1 IS NULL "
                    "AND ?2 ORDER BY next_due IS NULL, next_due, pipeline",
                    NULL, 1, err);
    if (rc == 0)
        rc = query_rows(st, &active, "SELECT " RUN_COLUMNS " FROM runs "
                        "WHERE status IN ('queued', 'running') AND ?1 IS "
                        "NULL AND ?2 ORDER BY id", NULL, 1, err);
    if (rc == 0)
        rc = query_rows(st, &recent, "SELECT pipeline, schedule, due_at, "
                        "status, reason, run_id, recorded_at FROM fires "
                        "WHERE status != 'started' AND ?1 IS NULL "
                        "ORDER BY id DESC LIMIT ?2", NULL,
                        fires > 0 ? fires : 20, err);
    if (rc == 0)
        rc = query_rows(st, &broken, "SELECT file, pipeline, errors, since "
                        "FROM load_errors WHERE ?1 IS NULL AND ?2 ORDER BY "
                        "file", NULL, 1, err);
    if (rc != 0) {
        json_decref(sched);
        json_decref(active);
        json_decref(recent);
        json_decref(broken);
        return rc;
    }
    mark_orphans(active);
    split_errors(broken);
    *out = json_pack("{s:o, s:o, s:o, s:o}", "schedules", sched, "active",
                     active, "fires", recent, "load_errors", broken);
    return 0;
}

#define SQL_METRICS_LAST_HEAD                                               \
    "SELECT m.run_id, r.pipeline, m.step, m.key, m.value, r.created_at "    \
    "FROM metrics m JOIN runs r ON r.id = m.run_id WHERE (?1 IS NULL OR "   \
    "r.pipeline = ?1) AND (?2 IS NULL OR m.key = ?2 OR m.step || '.' || "   \
    "m.key = ?2) AND m.run_id IN "
/* The metrics of the last ?3 runs that recorded some: of any pipeline
 * (?1 NULL), newest first along metrics_by_run; of pipeline ?1, along
 * runs_by_pipeline. One query for both read every run and sorted them. */
static const char *const SQL_METRICS_LAST[2] = {
    SQL_METRICS_LAST_HEAD "(SELECT DISTINCT run_id FROM metrics WHERE ?1 "
    "IS NULL ORDER BY run_id DESC LIMIT ?3) ORDER BY m.run_id DESC, m.step, "
    "m.key",
    SQL_METRICS_LAST_HEAD "(SELECT r2.id FROM runs r2 WHERE r2.pipeline = "
    "?1 AND EXISTS (SELECT 1 FROM metrics m2 WHERE m2.run_id = r2.id) "
    "ORDER BY r2.id DESC LIMIT ?3) ORDER BY m.run_id DESC, m.step, m.key",
};
static const char SQL_METRICS_TWO[] =
    "SELECT m.run_id, r.pipeline, m.step, m.key, m.value, r.created_at "
    "FROM metrics m JOIN runs r ON r.id = m.run_id WHERE (?1 IS NULL OR "
    "r.pipeline = ?1) AND (?2 IS NULL OR m.key = ?2 OR m.step || '.' || "
    "m.key = ?2) AND m.run_id IN (?3, ?4) ORDER BY m.run_id DESC, m.step, "
    "m.key";

int kiln_store_metrics_json(kiln_store *st, json_t **out,
                            const char *pipeline, const char *key,
                            int last_runs, int64_t run_a, int64_t run_b,
                            kiln_err *err)
{
    const char *what = "querying metrics";
    sqlite3_stmt *s = kiln_store__stmt(st, run_a ? SQL_METRICS_TWO
                                       : SQL_METRICS_LAST[pipeline != NULL],
                                       err, what);
    *out = NULL;
    if (!s)
        return KILN_ERROR;
    kiln_store__text(s, 1, pipeline);
    kiln_store__text(s, 2, key);
    sqlite3_bind_int64(s, 3, run_a ? run_a
                                   : (last_runs > 0 ? last_runs : 10));
    if (run_a)
        sqlite3_bind_int64(s, 4, run_b);
    return collect(st, out, s, what, err);
}

#define CURRENT_ALIASES                                                     \
    "SELECT a.name, a.alias, a.version, a.set_at FROM model_aliases a "     \
    "WHERE a.id IN (" KILN_STORE__ALIASES_IN_FORCE ")"

#define MODEL_COLUMNS                                                       \
    "m.name, m.version, a.path, a.sha256, m.artifact_id, m.run_id, "        \
    "m.git_commit, m.metrics, m.created_at, r.pipeline, r.params"
/* Every version of model ?1 (NULL: of every model), newest first. */
static const char SQL_MODELS_ALL[] =
    "SELECT " MODEL_COLUMNS " FROM models m JOIN artifacts a ON a.id = "
    "m.artifact_id LEFT JOIN runs r ON r.id = m.run_id WHERE (?1 IS NULL "
    "OR m.name = ?1) AND ?2 ORDER BY m.name, m.version DESC";
/* The newest ?2 versions of model ?1 (NULL: of each model), and those an
 * alias points at: the models found one after the other along their
 * primary key, each one's versions from its newest, so that a registry
 * of long histories reads only what it lists (CROSS JOIN: pick first,
 * not every version). */
static const char SQL_MODELS_NEWEST[] =
    "WITH RECURSIVE n(name) AS (SELECT min(name) FROM models WHERE name >= "
    "coalesce(?1, '') UNION ALL SELECT (SELECT min(name) FROM models m2 "
    "WHERE m2.name > n.name) FROM n WHERE n.name IS NOT NULL AND ?1 IS "
    "NULL), pick(name, version) AS (SELECT m.name, m.version FROM n JOIN "
    "models m ON m.name = n.name WHERE (?1 IS NULL OR n.name = ?1) AND "
    "m.version > coalesce((SELECT v.version FROM models v WHERE v.name = "
    "n.name ORDER BY v.version DESC LIMIT 1 OFFSET ?2), 0) UNION SELECT "
    "c.name, c.version FROM (" CURRENT_ALIASES ") c WHERE ?1 IS NULL OR "
    "c.name = ?1) SELECT " MODEL_COLUMNS " FROM pick p CROSS JOIN models "
    "m ON m.name = p.name AND m.version = p.version JOIN artifacts a ON "
    "a.id = m.artifact_id LEFT JOIN runs r ON r.id = m.run_id ORDER BY "
    "m.name, m.version DESC";

/* At most this many key metrics a version. */
#define KEY_METRICS 2

/*
 * A model version's key metrics (v's "key_metrics", {"STEP.KEY": value},
 * and "key_metrics_from" saying why these): the run's metrics its gates
 * read (when: ...metrics.STEP.KEY..., as the run recorded each
 * decision), else the first of the registering step's (v's metrics),
 * else the first the run recorded.
 */
static int key_metrics(kiln_store *st, json_t *v, kiln_err *err)
{
    json_int_t run = json_integer_value(json_object_get(v, "run_id"));
    json_t *gates = NULL, *metrics = NULL, *out = json_object(), *g, *r;
    const char *from = "gates", *key;
    size_t i;
    int rc = query_rows(st, &gates, "SELECT gate FROM run_steps WHERE ?1 "
                        "IS NULL AND run_id = ?2 AND gate IS NOT NULL "
                        "ORDER BY position", NULL, run, err);
    if (rc == 0)
        rc = query_rows(st, &metrics, "SELECT step || '.' || key AS name, "
                        "value FROM metrics WHERE ?1 IS NULL AND run_id = ?2 "
                        "ORDER BY rowid", NULL, run, err);
    if (rc != 0) {
        json_decref(gates);
        json_decref(out);
        return rc;
    }
    json_array_foreach(gates, i, g) {
        json_t *doc = json_loads(json_string_value(json_object_get(g, "gate")),
                                 0, NULL), *val;
        json_object_foreach(json_object_get(doc, "values"), key, val) {
            size_t k;
            if (strncmp(key, "metrics.", 8) != 0 ||
                json_object_size(out) >= KEY_METRICS)
                continue;
            /* Only this run's own metrics, not another model's. */
            json_array_foreach(metrics, k, r)
                if (strcmp(json_string_value(json_object_get(r, "name")),
                           key + 8) == 0)
                    json_object_set(out, key + 8, json_object_get(r,
                                                                  "value"));
        }
        json_decref(doc);
    }
    if (json_object_size(out) == 0) {
        json_t *mine = json_object_get(v, "metrics"), *val;
        from = "registering step";
        json_object_foreach(mine, key, val)
            if (json_object_size(out) < KEY_METRICS)
                json_object_set(out, key, val);
    }
    if (json_object_size(out) == 0) {
        from = "run";
        json_array_foreach(metrics, i, r)
            if (json_object_size(out) < KEY_METRICS)
                json_object_set(out, json_string_value(json_object_get(r,
                                "name")), json_object_get(r, "value"));
    }
    json_object_set_new(v, "key_metrics", out);
    json_object_set_new(v, "key_metrics_from",
                        json_object_size(out) ? json_string(from)
                                              : json_null());
    json_decref(gates);
    json_decref(metrics);
    return 0;
}

/*
 * A model version's live metrics (v's "live_metrics", {KEY: value}, and
 * "live_metrics_run"): what the newest step that read these bytes as
 * NAME@ALIAS recorded under ALIAS.KEY (a monitor step that reads
 * churn@production and churn@challenger and writes production.live_auc
 * and challenger.live_auc reports on each version apart).
 */
static int live_metrics(kiln_store *st, json_t *v, kiln_err *err)
{
    const char *name = json_string_value(json_object_get(v, "name"));
    json_int_t art = json_integer_value(json_object_get(v, "artifact_id"));
    json_t *rows = NULL, *out = json_object(), *r;
    json_int_t newest = 0;
    size_t i;
    int rc = query_rows(st, &rows,
        "SELECT x.id, x.run_id, mt.key, mt.value FROM events e JOIN "
        "executions x ON x.id = e.execution_id JOIN json_each(x.key_doc, "
        "'$.models') j JOIN metrics mt ON mt.execution_id = x.id WHERE "
        "e.artifact_id = ?2 AND e.type = 'input' AND json_valid(x.key_doc) "
        "AND j.key LIKE ?1 || '@%' AND json_extract(j.value, '$.sha256') = "
        "(SELECT sha256 FROM artifacts WHERE id = ?2) AND substr(mt.key, 1, "
        "length(j.key) - length(?1)) = substr(j.key, length(?1) + 2) || '.' "
        "ORDER BY x.id DESC LIMIT 500", name, art, err);
    if (rc != 0) {
        json_decref(out);
        return rc;
    }
    json_array_foreach(rows, i, r) {
        json_int_t x = json_integer_value(json_object_get(r, "id"));
        if (newest && x != newest)
            break;
        if (!newest)
            json_object_set(v, "live_metrics_run", json_object_get(r,
                                                                  "run_id"));
        newest = x;
        json_object_set(out, json_string_value(json_object_get(r, "key")),
                        json_object_get(r, "value"));
    }
    json_object_set_new(v, "live_metrics", out);
    json_decref(rows);
    return 0;
}

int kiln_store_models_json(kiln_store *st, json_t **out, const char *name,
                           kiln_err *err)
{
    return kiln_store_models_newest_json(st, out, name, 0, true, err);
}

/* kiln_store_models_newest_json(), inside one snapshot. */
static int models_newest(kiln_store *st, json_t **out, const char *name,
                         int newest, bool metrics, kiln_err *err)
{
    json_t *versions = NULL, *aliases = NULL, *v;
    size_t i;
    int rc = newest > 0
        ? query_rows(st, &versions, SQL_MODELS_NEWEST, name, newest, err)
        : query_rows(st, &versions, SQL_MODELS_ALL, name, 1, err);
    if (rc == 0)
        rc = query_rows(st, &aliases, CURRENT_ALIASES " AND (?1 IS NULL OR "
                        "a.name = ?1) AND ?2 ORDER BY a.name, a.alias", name,
                        1, err);
    if (rc != 0) {
        json_decref(versions);
        return rc;
    }
    json_array_foreach(versions, i, v) {
        json_t *mine = json_array(), *al;
        size_t k;
        json_array_foreach(aliases, k, al)
            if (strcmp(json_string_value(json_object_get(al, "name")),
                       json_string_value(json_object_get(v, "name"))) == 0 &&
                json_integer_value(json_object_get(al, "version")) ==
                    json_integer_value(json_object_get(v, "version")))
                json_array_append(mine, json_object_get(al, "alias"));
        json_object_set_new(v, "aliases", mine);
        json_t *m = json_loads(json_string_value(json_object_get(v,
                               "metrics")), 0, NULL);
        if (m)
            json_object_set_new(v, "metrics", m);
        if (!json_is_object(json_object_get(v, "params")))
            json_object_set_new(v, "params", json_object());
        if (metrics && ((rc = key_metrics(st, v, err)) != 0 ||
                        (rc = live_metrics(st, v, err)) != 0)) {
            json_decref(versions);
            json_decref(aliases);
            return rc;
        }
    }
    json_decref(aliases);
    *out = versions;
    return 0;
}

int kiln_store_models_newest_json(kiln_store *st, json_t **out,
                                  const char *name, int newest,
                                  bool metrics, kiln_err *err)
{
    /* Three small queries a version: one snapshot for all of them. */
    bool began = kiln_store_snapshot_begin(st);
    int rc = models_newest(st, out, name, newest, metrics, err);
    kiln_store_snapshot_end(st, began);
    return rc;
}

/* The version in an audit row's before or after ({"version": N}), or
 * null. */
static json_t *audit_version(const char *text)
{
    json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
    json_t *v = json_object_get(doc, "version");
    v = json_is_integer(v) ? json_incref(v) : json_null();
    json_decref(doc);
    return v;
}

int kiln_store_alias_history_json(kiln_store *st, json_t **out,
                                  const char *name, int64_t newest,
                                  kiln_err *err)
{
    kiln_audit_row *rows = NULL;
    kiln_audit_query q;
    size_t n = 0;
    int rc;

    *out = NULL;
    memset(&q, 0, sizeof(q));
    q.action_prefix = "alias.";
    q.newest = newest;
    q.target = name ? kiln_asprintf("model %s ", name)
                    : kiln_strdup("model ");
    rc = kiln_store_audit_list(&rows, &n, st, &q, err);
    free((char *)q.target);
    if (rc != 0)
        return rc;
    *out = json_array();
    for (size_t i = 0; i < n; i++) {
        /* "model NAME ALIAS" */
        const char *m = rows[i].target + 6, *sp = strchr(m, ' ');
        if (!sp)
            continue;
        json_array_append_new(*out, json_pack(
            "{s:I, s:s%, s:s, s:o, s:o, s:s, s:s, s:s, s:I}", "at",
            (json_int_t)rows[i].at_ms, "name", m, (size_t)(sp - m), "alias",
            sp + 1, "from", audit_version(rows[i].before), "to",
            audit_version(rows[i].after), "by", rows[i].actor, "via",
            rows[i].via, "action", rows[i].action, "audit_id",
            (json_int_t)rows[i].id));
    }
    kiln_audit_rows_free(rows, n);
    return 0;
}

int kiln_store_deploys_json(kiln_store *st, json_t **out, const char *name,
                            int version, kiln_err *err)
{
    kiln_deploy *d = NULL;
    size_t n = 0;
    int rc = kiln_store_deploys_of(&d, &n, st, name, version, err);

    *out = rc == 0 ? json_array() : NULL;
    for (size_t i = 0; rc == 0 && i < n; i++)
        json_array_append_new(*out, json_pack(
            "{s:I, s:i, s:s, s:s, s:I, s:o, s:s?, s:s?, s:o, s:s?, s:s?}",
            "id", (json_int_t)d[i].id, "version", d[i].version, "alias",
            d[i].alias, "action", d[i].rollback ? "rollback" : "promote",
            "started_at", (json_int_t)d[i].started_ms, "ended_at",
            d[i].ended_ms ? json_integer(d[i].ended_ms) : json_null(),
            "by", d[i].actor, "via", d[i].via, "execution_id",
            d[i].execution_id ? json_integer(d[i].execution_id)
                              : json_null(),
            "outcome", d[i].outcome, "detail", d[i].detail));
    kiln_deploys_free(d, n);
    return rc;
}

int kiln_store_model_aliases_json(kiln_store *st, json_t **out,
                                  kiln_err *err)
{
    return query_rows(st, out, "SELECT c.name, c.alias, c.version, p.path "
                      "FROM (" CURRENT_ALIASES ") c JOIN models m ON m.name "
                      "= c.name AND m.version = c.version JOIN artifacts p ON "
                      "p.id = m.artifact_id WHERE ?1 IS NULL AND ?2", NULL, 1,
                      err);
}

#define ARTIFACT_COLUMNS "id, path, sha256, size, type, is_dir, created_at"

#define EXEC_COLUMNS                                                        \
    "x.id AS execution_id, x.run_id, x.step, x.kind, x.attempt, x.image, "  \
    "x.started_at, x.finished_at, x.cached_from, r.pipeline, "              \
    "r.git_commit, r.git_dirty, r.params"

/* Every execution that made artifact ?1, newest first. */
static const char SQL_PRODUCERS[] =
    "SELECT " EXEC_COLUMNS " FROM events e JOIN executions x ON x.id = "
    "e.execution_id JOIN runs r ON r.id = x.run_id WHERE e.artifact_id = "
    "?1 AND e.type = 'output' ORDER BY x.id DESC";
/* The executions that used artifact ?1, oldest first: of run ?2 only
 * (NULL: of every run), started after execution ?3 (NULL: any). */
static const char SQL_CONSUMERS[] =
    "SELECT " EXEC_COLUMNS " FROM events e JOIN executions x ON x.id = "
    "e.execution_id JOIN runs r ON r.id = x.run_id WHERE e.artifact_id = "
    "?1 AND e.type = 'input' AND (?2 IS NULL OR x.run_id = ?2) AND "
    "(?3 IS NULL OR x.id > ?3) ORDER BY x.id";
/* What execution ?1 used (?2 'input') or made ('output'). */
static const char SQL_LINKS[] =
    "SELECT artifact_id FROM events WHERE execution_id = ?1 AND type = ?2 "
    "ORDER BY artifact_id";

static json_int_t int_of(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* The executions that made artifact (made) or used it (of run, after
 * execution after; 0: any), as JSON rows. */
static int lineage_execs(kiln_store *st, json_t **out, int64_t artifact,
                         bool made, int64_t run, int64_t after,
                         kiln_err *err)
{
    const char *what = "reading lineage";
    sqlite3_stmt *s = made
        ? kiln_store__query(st, err, what, SQL_PRODUCERS, "I", artifact)
        : kiln_store__query(st, err, what, SQL_CONSUMERS, "Inn", artifact,
                            run, after);
    json_t *x;
    size_t i;
    int rc;
    *out = NULL;
    if (!s)
        return KILN_ERROR;
    if ((rc = collect(st, out, s, what, err)) != 0)
        return rc;
    json_array_foreach(*out, i, x)
        json_object_set_new(x, "git_dirty", json_boolean(int_of(
                            x, "git_dirty")));
    return 0;
}

/*
 * Which of producers (newest first) made the bytes execution c read: the
 * newest of c's own run that started before it, else the one that
 * finished last before c started; never one of a later run. NULL when
 * none did (the file came from outside kiln, or only later runs made
 * those bytes again).
 */
static json_t *producer_for(json_t *producers, const json_t *c)
{
    json_int_t id = int_of(c, "execution_id"), run = int_of(c, "run_id");
    json_int_t start = int_of(c, "started_at");
    json_t *p, *best = NULL;
    size_t i;
    json_array_foreach(producers, i, p) {
        json_t *fin = json_object_get(p, "finished_at");
        if (int_of(p, "execution_id") >= id)
            continue;
        if (int_of(p, "run_id") == run)
            return p;
        if (json_is_integer(fin) && json_integer_value(fin) <= start &&
            (!best || json_integer_value(fin) > int_of(best, "finished_at")))
            best = p;
    }
    return best;
}

/* The first of execs in run (NULL: none). */
static json_t *exec_in_run(json_t *execs, int64_t run)
{
    json_t *x;
    size_t i;
    json_array_foreach(execs, i, x)
        if (int_of(x, "run_id") == run)
            return x;
    return NULL;
}

static int lineage_node(kiln_store *st, json_t **out, int64_t id, bool up,
                        int depth, const json_t *from, int64_t run,
                        kiln_err *err);

/* x's inputs (up) or outputs (down) as lineage nodes, under x. */
static int lineage_links(kiln_store *st, json_t *x, bool up, int depth,
                         kiln_err *err)
{
    const char *what = "reading lineage";
    json_t *links = NULL, *l, *kids = json_array();
    sqlite3_stmt *s;
    size_t k;
    int rc = 0;

    json_object_set_new(x, up ? "inputs" : "outputs", kids);
    if (depth <= 1)
        return 0;
    s = kiln_store__query(st, err, what, SQL_LINKS, "Is",
                          (int64_t)int_of(x, "execution_id"),
                          up ? "input" : "output");
    if (!s || (rc = collect(st, &links, s, what, err)) != 0)
        return s ? rc : KILN_ERROR;
    json_array_foreach(links, k, l) {
        json_t *kid;
        if ((rc = lineage_node(st, &kid, int_of(l, "artifact_id"), up,
                               depth - 1, x, 0, err)) != 0)
            break;
        json_array_append_new(kids, kid);
    }
    json_decref(links);
    return rc;
}

/*
 * Up: "producers", every execution that made the artifact's bytes, newest
 * first, and "produced_by", the one that counts with its inputs: the
 * producer whose output from (the execution that used it) read; at the
 * top, run's producer, or the producer of what run used; else the
 * newest.
 */
static int lineage_up(kiln_store *st, json_t *node, int64_t id, int depth,
                      const json_t *from, int64_t run, kiln_err *err)
{
    json_t *producers = NULL, *users = NULL, *chosen = NULL, *by;
    int rc = lineage_execs(st, &producers, id, true, 0, 0, err);
    if (rc != 0)
        return rc;
    if (from) {
        chosen = producer_for(producers, from);
    } else if (run > 0 && !(chosen = exec_in_run(producers, run))) {
        rc = lineage_execs(st, &users, id, false, run, 0, err);
        if (rc == 0 && json_array_size(users) == 0)
            rc = kiln_err_set(err, KILN_ENOTFOUND, "run %lld neither made "
                              "nor used artifact %lld (%s)", (long long)run,
                              (long long)id, json_string_value(
                              json_object_get(node, "path")));
        if (rc == 0)
            chosen = producer_for(producers, json_array_get(users, 0));
        json_decref(users);
    } else if (!run) {
        chosen = json_array_get(producers, 0);
    }
    by = chosen ? json_deep_copy(chosen) : json_null();
    json_object_set_new(node, "produced_by", by);
    json_object_set_new(node, "producers", producers);
    if (rc == 0 && chosen)
        rc = lineage_links(st, by, true, depth, err);
    return rc;
}

/*
 * Down: "used_by", the executions that read the artifact: at the top
 * every one (of run, when given), below an execution from only those that
 * read from's output (not the same bytes made again by another run).
 */
static int lineage_down(kiln_store *st, json_t *node, int64_t id, int depth,
                        const json_t *from, int64_t run, kiln_err *err)
{
    json_t *users = NULL, *producers = NULL, *mine, *x;
    size_t i;
    int rc = lineage_execs(st, &users, id, false, run,
                           from ? (int64_t)int_of(from, "execution_id") : 0,
                           err);
    if (rc == 0 && (from || (run > 0 && json_array_size(users) == 0)))
        rc = lineage_execs(st, &producers, id, true, 0, 0, err);
    if (rc == 0 && !from && run > 0 && json_array_size(users) == 0 &&
        !exec_in_run(producers, run))
        rc = kiln_err_set(err, KILN_ENOTFOUND, "run %lld neither made nor "
                          "used artifact %lld (%s)", (long long)run,
                          (long long)id, json_string_value(json_object_get(
                          node, "path")));
    if (rc != 0) {
        json_decref(users);
        json_decref(producers);
        return rc;
    }
    mine = json_array();
    json_array_foreach(users, i, x) {
        json_t *p = from ? producer_for(producers, x) : NULL;
        if (!from || (p && int_of(p, "execution_id") ==
                               int_of(from, "execution_id")))
            json_array_append(mine, x);
    }
    json_decref(users);
    json_decref(producers);
    json_object_set_new(node, "used_by", mine);
    json_array_foreach(mine, i, x)
        if ((rc = lineage_links(st, x, false, depth, err)) != 0)
            break;
    return rc;
}

/* One artifact as a lineage node, its neighbours to depth. from: the
 * execution whose input (up) or output (down) it is, NULL at the top;
 * run: the run the question is about (0: none), at the top only. */
static int lineage_node(kiln_store *st, json_t **out, int64_t id, bool up,
                        int depth, const json_t *from, int64_t run,
                        kiln_err *err)
{
    json_t *rows = NULL, *node;
    int rc;

    *out = NULL;
    rc = query_rows(st, &rows, "SELECT " ARTIFACT_COLUMNS " FROM artifacts "
                    "WHERE ?1 IS NULL AND id = ?2", NULL, id, err);
    if (rc != 0)
        return rc;
    node = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    if (!node)
        return kiln_err_set(err, KILN_ENOTFOUND, "no artifact %lld",
                            (long long)id);
    json_object_set_new(node, "is_dir", json_boolean(int_of(node,
                                                            "is_dir")));
    /* The model versions these bytes are, with the runs that registered
     * them: lineage goes through the version to its training run. */
    {
        json_t *versions = NULL;
        if ((rc = query_rows(st, &versions, "SELECT m.name, m.version, "
                             "m.run_id FROM models m JOIN artifacts a ON "
                             "a.id = m.artifact_id WHERE ?1 IS NULL AND "
                             "a.sha256 = (SELECT sha256 FROM artifacts WHERE "
                             "id = ?2) ORDER BY m.name, m.version", NULL, id,
                             err)) != 0) {
            json_decref(node);
            return rc;
        }
        if (json_array_size(versions))
            json_object_set_new(node, "model_versions", versions);
        else
            json_decref(versions);
    }
    rc = up ? lineage_up(st, node, id, depth, from, run, err)
            : lineage_down(st, node, id, depth, from, run, err);
    if (rc != 0) {
        json_decref(node);
        return rc;
    }
    *out = node;
    return 0;
}

int kiln_store_lineage_json(kiln_store *st, json_t **out, int64_t id,
                            bool up, int depth, int64_t run, kiln_err *err)
{
    return lineage_node(st, out, id, up, depth > 0 ? depth : 64, NULL, run,
                        err);
}

int kiln_store_checks_json(kiln_store *st, json_t **out, const char *pipeline,
                           int limit, kiln_err *err)
{
#define CHECK_COLUMNS                                                       \
    "SELECT id, pipeline, trigger, target, checked_at, status, reason, "    \
    "detail, run_id, (SELECT json_group_array(json_object('event', event, " \
    "'webhook', url, 'status', status, 'attempts', attempts, "              \
    "'http_status', http_status, 'error', error)) FROM notifications n "    \
    "WHERE n.check_id = c.id) AS notifications FROM trigger_checks c "
    json_t *row;
    size_t i;
    /* A pipeline's along its index (GET /api/v1/pipelines asks this of
     * each: "?1 IS NULL OR" made each a scan and sort of every check). */
    int rc = query_rows(st, out,
                        pipeline ? CHECK_COLUMNS "WHERE pipeline = ?1 ORDER "
                                   "BY checked_at DESC, id DESC LIMIT ?2"
                                 : CHECK_COLUMNS "WHERE ?1 IS NULL ORDER BY "
                                   "checked_at DESC, id DESC LIMIT ?2",
                        pipeline, limit > 0 ? limit : 20, err);
#undef CHECK_COLUMNS
    if (rc != 0)
        return rc;
    /* The alerts a check sent (drift), each webhook by its host; none:
     * no key. */
    json_array_foreach(*out, i, row) {
        const char *text = json_string_value(json_object_get(
            row, "notifications"));
        json_t *notes = text ? json_loads(text, 0, NULL) : NULL;
        if (json_array_size(notes) > 0) {
            webhook_hosts(notes);
            json_object_set_new(row, "notifications", notes);
        } else {
            json_decref(notes);
            json_object_del(row, "notifications");
        }
    }
    return 0;
}

/* The trigger and the time (?5, ?6) narrow what the index found. */
#define SQL_PAGE_REST                                                       \
    " AND (?5 IS NULL OR trigger = ?5) AND created_at >= ?6 "               \
    "ORDER BY id DESC LIMIT ?4"
static const char *const SQL_PAGE[4] = {
    /* Only the conditions given, so SQLite picks the index that fits. */
    "SELECT " RUN_COLUMNS " FROM runs WHERE id < ?3" SQL_PAGE_REST,
    "SELECT " RUN_COLUMNS " FROM runs WHERE pipeline = ?1 AND id < ?3"
    SQL_PAGE_REST,
    "SELECT " RUN_COLUMNS " FROM runs WHERE status = ?2 AND id < ?3"
    SQL_PAGE_REST,
    "SELECT " RUN_COLUMNS " FROM runs WHERE pipeline = ?1 AND status = ?2 "
    "AND id < ?3" SQL_PAGE_REST,
};

int kiln_store_runs_query_json(kiln_store *st, json_t **out,
                               const kiln_runs_query *q, kiln_err *err)
{
    const char *what = "querying runs";
    sqlite3_stmt *s = kiln_store__stmt(st, SQL_PAGE[(q->pipeline ? 1 : 0) +
                                                     (q->status ? 2 : 0)],
                                       err, what);
    int rc;
    *out = NULL;
    if (!s)
        return KILN_ERROR;
    if (q->pipeline)
        kiln_store__text(s, 1, q->pipeline);
    if (q->status)
        kiln_store__text(s, 2, q->status);
    sqlite3_bind_int64(s, 3, q->before > 0 ? q->before : INT64_MAX);
    sqlite3_bind_int(s, 4, q->limit > 0 ? q->limit : 50);
    if (q->trigger)
        kiln_store__text(s, 5, q->trigger);
    else
        sqlite3_bind_null(s, 5);
    sqlite3_bind_int64(s, 6, q->since_ms);
    if ((rc = collect(st, out, s, what, err)) == 0)
        mark_orphans(*out);
    return rc;
}

int kiln_store_last_status(kiln_store *st, const char *pipeline, char *out,
                           size_t size, kiln_err *err)
{
    const char *what = "reading runs";
    sqlite3_stmt *s = kiln_store__query(st, err, what,
                                        "SELECT status FROM runs WHERE "
                                        "pipeline = ?1 ORDER BY id DESC "
                                        "LIMIT 1", "s", pipeline);
    int rc;
    *out = '\0';
    if (!s)
        return KILN_ERROR;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(s, 0));
    return kiln_store__end(st, s, rc, err, what);
}

int kiln_store_runs_page_json(kiln_store *st, json_t **out,
                              const char *pipeline, const char *status,
                              int64_t before, int limit, kiln_err *err)
{
    kiln_runs_query q;
    memset(&q, 0, sizeof(q));
    q.pipeline = pipeline;
    q.status = status;
    q.before = before;
    q.limit = limit;
    return kiln_store_runs_query_json(st, out, &q, err);
}
