/*
 * governance.c: the governance report of a model version (kiln audit
 * model), built from the record as one JSON object and printed as JSON or
 * as a Markdown model card.
 *
 * Gates: the engine records the values of a gate that said no (the
 * step's reason); a gate that let its step run leaves no row. The report
 * evaluates each gate again on what the run recorded, the same lookups
 * the engine made (the run's params, each step's latest attempt's
 * metrics), from the pipeline file the run ran when it still has the
 * recorded hash.
 */
#include "cli/governance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "dsl/dsl.h"
#include "dsl/expr.h"
#include "store/json.h"

/* The most of a validate step's log read for its report. */
#define LOG_MAX (4 << 20)

static json_int_t int_of(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static const char *str_of(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* o[key] copied, or null. */
static json_t *copy_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return v ? json_deep_copy(v) : json_null();
}

static json_t *text_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* Building the report. */

/* What the report is built from, while it is. */
typedef struct card {
    kiln_store *st;
    json_t *run;             /* kiln_store_run_json() of the producing run,
                                or NULL */
    json_t *exec_steps;      /* execution id (as text) -> step name */
    kiln_pipeline *p;        /* the pipeline as the run ran it, or NULL */
    const char *p_note;      /* why p is NULL */
} card;

/* The step of execution id, or NULL. */
static const char *step_of(const card *c, json_int_t id)
{
    char key[32];
    snprintf(key, sizeof(key), "%lld", (long long)id);
    return json_string_value(json_object_get(c->exec_steps, key));
}

static void map_executions(card *c)
{
    json_t *s, *a;
    size_t i, k;
    c->exec_steps = json_object();
    json_array_foreach(json_object_get(c->run, "steps"), i, s)
        json_array_foreach(json_object_get(s, "attempts_detail"), k, a) {
            char key[32];
            snprintf(key, sizeof(key), "%lld", (long long)int_of(a, "id"));
            json_object_set(c->exec_steps, key, json_object_get(s, "name"));
        }
}

/* The version asked for, and every version of the model. */
static int find_version(json_t **versions, kiln_model_version *mv,
                        kiln_store *st, const char *name, const char *alias,
                        int version, kiln_err *err)
{
    int rc;
    if ((rc = kiln_store_models_json(st, versions, name, err)) != 0)
        return rc;
    if (json_array_size(*versions) == 0)
        return kiln_err_set(err, KILN_ENOTFOUND, "no model %s", name);
    if (!alias && version == 0)
        version = (int)int_of(json_array_get(*versions, 0), "version");
    return kiln_store_model_find(st, mv, name, alias, version, err);
}

/* The model version itself, and every version of the model. */
static json_t *model_json(json_t *versions, const kiln_model_version *mv,
                          const card *c)
{
    json_t *me = NULL, *v, *all = json_array(), *doc;
    size_t i;
    json_array_foreach(versions, i, v) {
        if (int_of(v, "version") == mv->version)
            me = v;
        json_array_append_new(all, json_pack(
            "{s:I, s:s, s:o, s:I, s:o, s:o}", "version",
            int_of(v, "version"), "sha256", str_of(v, "sha256"),
            "registered_at", copy_of(v, "created_at"), "run_id",
            int_of(v, "run_id"), "git_commit", copy_of(v, "git_commit"),
            "aliases", copy_of(v, "aliases")));
    }
    doc = json_pack("{s:s, s:i, s:s, s:I, s:b, s:s, s:o, s:o, s:o, s:o, "
                    "s:o, s:o}", "name", mv->name, "version", mv->version,
                    "sha256", mv->sha256, "size", (json_int_t)mv->size,
                    "is_dir", mv->is_dir, "path", mv->path,
                    "registered_at", copy_of(me, "created_at"),
                    "aliases", me ? copy_of(me, "aliases") : json_array(),
                    "run_id", mv->run_id ? json_integer(mv->run_id) : json_null(),
                    "registered_by_step",
                    text_or_null(step_of(c, mv->exec_id)),
                    "metrics_at_registration", me ? copy_of(me, "metrics")
                                                  : json_object(),
                    "versions", all);
    return doc;
}

/* The producing run: who, when, how it ended, the file it ran. */
static json_t *run_json(const card *c)
{
    json_t *r = c->run;
    json_t *info = json_object_get(r, "trigger_info");
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
                     "s:o, s:o, s:o, s:o}", "id", int_of(r, "id"),
                     "pipeline", copy_of(r, "pipeline"), "status",
                     copy_of(r, "status"), "reason", copy_of(r, "reason"),
                     "trigger", copy_of(r, "trigger"), "started_by",
                     copy_of(r, "started_by"), "created_at",
                     copy_of(r, "created_at"), "started_at",
                     copy_of(r, "started_at"), "finished_at",
                     copy_of(r, "finished_at"), "file", copy_of(r, "file"),
                     "pipeline_hash", copy_of(r, "pipeline_hash"),
                     "workdir", copy_of(r, "workdir"), "reproduces",
                     json_is_integer(json_object_get(info, "reproduces"))
                         ? copy_of(info, "reproduces") : json_null(),
                     "trigger_info", info ? json_deep_copy(info)
                                          : json_null());
}

static json_t *git_json(const card *c)
{
    return json_pack("{s:o, s:o, s:o}", "commit",
                     copy_of(c->run, "git_commit"), "branch",
                     copy_of(c->run, "git_branch"), "dirty",
                     copy_of(c->run, "git_dirty"));
}

/* The environment captures of an attempt's cache key: [{label, sha256,
 * text}]. */
static int captures_json(json_t **out, const card *c, json_int_t exec_id,
                         kiln_err *err)
{
    char *text = NULL;
    json_t *doc, *env, *v;
    const char *label;
    int rc;

    *out = json_array();
    if ((rc = kiln_store_key_doc_get(c->st, &text, exec_id, err)) != 0)
        return rc;
    doc = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    env = json_object_get(doc, "environment");
    json_object_foreach(env, label, v) {
        char *captured = NULL;
        if (!json_is_string(v))
            continue;
        if ((rc = kiln_store_capture_get(c->st, &captured,
                                         json_string_value(v), err)) != 0)
            break;
        json_array_append_new(*out, json_pack(
            "{s:s, s:s, s:o}", "label", label, "sha256",
            json_string_value(v), "text", text_or_null(captured)));
        free(captured);
    }
    json_decref(doc);
    return rc;
}

/* Every step of the run: how it ended, where it ran, its image and its
 * environment captures (its latest attempt's). */
static int steps_json(json_t **out, const card *c, kiln_err *err)
{
    json_t *s;
    size_t i;
    int rc = 0;
    *out = json_array();
    json_array_foreach(json_object_get(c->run, "steps"), i, s) {
        json_t *attempts = json_object_get(s, "attempts_detail");
        json_t *last = json_array_get(attempts, json_array_size(attempts)
                                      - 1);
        json_t *env = NULL;
        if (last && (rc = captures_json(&env, c, int_of(last, "id"),
                                        err)) != 0) {
            json_decref(env);
            break;
        }
        json_array_append_new(*out, json_pack(
            "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
            "name", copy_of(s, "name"), "kind", copy_of(s, "kind"),
            "status", copy_of(s, "status"), "reason", copy_of(s, "reason"),
            "attempts", copy_of(s, "attempts"), "execution_id",
            last ? copy_of(last, "id") : json_null(), "executor",
            last ? copy_of(last, "executor") : json_null(), "image_ref",
            last ? copy_of(last, "image_ref") : json_null(), "image",
            last ? copy_of(last, "image") : json_null(), "cached_from_run",
            last ? copy_of(last, "cached_from_run") : json_null(),
            "finished_at", copy_of(s, "finished_at"), "environment",
            env ? env : json_array()));
    }
    return rc;
}

/* The run's metrics, each step's latest attempt's: [{step, key, value}]. */
static int metrics_json(json_t **out, const card *c, kiln_err *err)
{
    kiln_metric *m = NULL;
    size_t n = 0;
    int rc = kiln_store_run_metrics(&m, &n, c->st, int_of(c->run, "id"),
                                    err);
    *out = json_array();
    /* Sorted by step and key, a key's attempts oldest first: the last of
     * each is the one that counts. */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i + 1 < n && strcmp(m[i].step, m[i + 1].step) == 0 &&
            strcmp(m[i].key, m[i + 1].key) == 0)
            continue;
        json_array_append_new(*out, json_pack("{s:s, s:s, s:f}", "step",
                                              m[i].step, "key", m[i].key,
                                              "value", m[i].value));
    }
    kiln_metrics_free(m, n);
    return rc;
}

/* The pipeline the run ran: its file, when it still has the recorded
 * hash. */
static void load_pipeline(card *c)
{
    const char *file = str_of(c->run, "file");
    const char *hash = str_of(c->run, "pipeline_hash");
    char now[KILN_HASH_HEX];
    kiln_err err = KILN_ERR_INIT;
    kiln_diag diag = KILN_DIAG_INIT;

    if (!file || !hash) {
        c->p_note = "The run recorded no pipeline file";
        return;
    }
    if (kiln_hash_file(now, file, &err) != 0) {
        c->p_note = "The pipeline file the run ran is gone";
        return;
    }
    if (strcmp(now, hash) != 0) {
        c->p_note = "The pipeline file changed since the run";
        return;
    }
    if (kiln_dsl_load_file(&c->p, file, &diag) != 0) {
        c->p = NULL;
        c->p_note = "The pipeline file the run ran no longer loads";
    }
    kiln_diag_dispose(&diag);
}

/* A gate's lookups, as the engine made them, each value kept. */
typedef struct gate_eval {
    const card *c;
    json_t *values;          /* "metrics.STEP.KEY" or "params.NAME" ->
                                number */
    int rc;
    kiln_err *err;
} gate_eval;

static bool gate_lookup(double *out, const kiln_expr *ref, void *data)
{
    gate_eval *g = data;
    bool found = false;
    char *name;
    if (ref->kind == KILN_EXPR_METRIC) {
        json_t *info = json_object_get(g->c->run, "trigger_info");
        json_int_t from = int_of(g->c->run, "id");
        if (g->rc == 0)
            g->rc = kiln_store_metric_get(g->c->st, out, &found, from,
                                          ref->step, ref->key, g->err);
        /* A step a reproduction did not run again: the metrics of the
         * run it repeats. */
        if (g->rc == 0 && !found &&
            json_is_integer(json_object_get(info, "reproduces")))
            g->rc = kiln_store_metric_get(g->c->st, out, &found,
                                          int_of(info, "reproduces"),
                                          ref->step, ref->key, g->err);
        name = kiln_asprintf("metrics.%s.%s", ref->step, ref->key);
    } else {
        const char *v = str_of(json_object_get(g->c->run, "params"),
                               ref->key);
        char *end;
        if (v) {
            *out = strtod(v, &end);
            found = end != v && *end == '\0';
        }
        name = kiln_asprintf("params.%s", ref->key);
    }
    json_object_set_new(g->values, name, found ? json_real(*out)
                                               : json_null());
    free(name);
    return found;
}

/* How the record says a step's gate was decided: passed (the step
 * ran), gated (it said no), error (a value was missing: the step failed)
 * or not evaluated (an upstream step did not succeed). */
static const char *decision_of(json_t *step)
{
    const char *status = str_of(step, "status");
    const char *reason = str_of(step, "reason");
    if (!status)
        return "not evaluated";
    if (strcmp(status, "gated") == 0)
        return "gated";
    if (strcmp(status, "failed") == 0 && reason &&
        strncmp(reason, "gate ", 5) == 0)
        return "error";
    if (int_of(step, "attempts") > 0 ||
        strcmp(status, "succeeded") == 0)
        return "passed";
    return "not evaluated";
}

/* Each gate (when:) of the run's pipeline: its expression, the values
 * that decided it and the decision. */
static int gates_json(json_t **out, const card *c, kiln_err *err)
{
    json_t *s;
    size_t i;
    *out = json_array();
    json_array_foreach(json_object_get(c->run, "steps"), i, s) {
        const char *name = str_of(s, "name");
        const kiln_step *st = NULL;
        json_t *gate;
        if (c->p) {
            ssize_t k = kiln_pipeline_find_step(c->p, name);
            st = k >= 0 ? &c->p->steps[k] : NULL;
            if (!st || !st->when_expr)
                continue;
        } else if (strcmp(str_of(s, "status") ? str_of(s, "status") : "",
                          "gated") != 0) {
            continue;
        }
        gate = json_pack("{s:s, s:o, s:s, s:o}", "step", name,
                         "expression", text_or_null(st ? st->when : NULL),
                         "decision", decision_of(s), "reason",
                         copy_of(s, "reason"));
        if (st) {
            gate_eval g = {c, json_object(), 0, err};
            kiln_buf trace = KILN_BUF_INIT;
            kiln_err eerr = KILN_ERR_INIT;
            bool pass = false;
            int rc = kiln_expr_eval(&pass, st->when_expr, gate_lookup, &g,
                                    &trace, &eerr);
            if (g.rc != 0) {
                kiln_buf_dispose(&trace);
                json_decref(g.values);
                json_decref(gate);
                return g.rc;
            }
            json_object_set_new(gate, "values", g.values);
            json_object_set_new(gate, "trace",
                                json_string(kiln_buf_cstr(&trace)));
            json_object_set_new(gate, "evaluates_to", rc == 0
                                ? json_boolean(pass) : json_null());
            kiln_buf_dispose(&trace);
        }
        json_array_append_new(*out, gate);
    }
    return 0;
}

/* The report lines a validate step printed: FAIL, WARN and its
 * summary. */
static json_t *validation_lines(const char *log_path)
{
    json_t *lines = json_array();
    kiln_err err = KILN_ERR_INIT;
    char *text = NULL, *line, *save = NULL;
    size_t len;
    if (!log_path || kiln_read_file(&text, &len, log_path, LOG_MAX,
                                    &err) != 0)
        return lines;
    for (line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        if (strncmp(line, "FAIL ", 5) == 0 ||
            strncmp(line, "WARN ", 5) == 0 ||
            strncmp(line, "validate ", 9) == 0)
            json_array_append_new(lines, json_string(line));
    free(text);
    return lines;
}

/* The data validation of the run: each validate step, how it ended, its
 * validate.* and drift.* metrics, and its report. */
static json_t *validation_json(const card *c, json_t *metrics)
{
    json_t *out = json_array(), *s, *m;
    size_t i, k;
    json_array_foreach(json_object_get(c->run, "steps"), i, s) {
        const char *name = str_of(s, "name");
        json_t *attempts = json_object_get(s, "attempts_detail");
        json_t *last = json_array_get(attempts, json_array_size(attempts)
                                      - 1);
        json_t *mine;
        const char *data = NULL;
        if (strcmp(str_of(s, "kind") ? str_of(s, "kind") : "",
                   "validate") != 0)
            continue;
        mine = json_object();
        if (c->p) {
            ssize_t x = kiln_pipeline_find_step(c->p, name);
            if (x >= 0 && c->p->steps[x].validation)
                data = c->p->steps[x].validation->data;
        }
        json_array_foreach(metrics, k, m) {
            const char *key = str_of(m, "key");
            if (strcmp(str_of(m, "step"), name) == 0 &&
                (strncmp(key, "validate.", 9) == 0 ||
                 strncmp(key, "drift.", 6) == 0))
                json_object_set(mine, key, json_object_get(m, "value"));
        }
        json_array_append_new(out, json_pack(
            "{s:s, s:o, s:o, s:o, s:o, s:o}", "step", name, "data",
            text_or_null(data), "status", copy_of(s, "status"), "reason",
            copy_of(s, "reason"), "metrics", mine, "report",
            validation_lines(last ? str_of(last, "log_path") : NULL)));
    }
    return out;
}

/* Who made an artifact's bytes (a lineage producer row), compactly. */
static json_t *made_by_json(json_t *x)
{
    if (!json_is_object(x))
        return json_null();
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "step",
                     copy_of(x, "step"), "run_id", copy_of(x, "run_id"),
                     "pipeline", copy_of(x, "pipeline"), "execution_id",
                     copy_of(x, "execution_id"), "git_commit",
                     copy_of(x, "git_commit"), "image", copy_of(x, "image"));
}

/* A lineage node (kiln_store_lineage_json, up) reduced to what the
 * report says: the artifact, who made it, what that read; sources have
 * made_by null. */
static json_t *prune_lineage(json_t *node)
{
    json_t *by = json_object_get(node, "produced_by"), *kids, *k;
    json_t *out = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "artifact_id",
                            copy_of(node, "id"), "path",
                            copy_of(node, "path"), "sha256",
                            copy_of(node, "sha256"), "size",
                            copy_of(node, "size"), "type",
                            copy_of(node, "type"), "made_by",
                            made_by_json(by));
    size_t i;
    if (json_object_get(node, "model_versions"))
        json_object_set_new(out, "model_versions",
                            copy_of(node, "model_versions"));
    kids = json_array();
    json_array_foreach(json_object_get(by, "inputs"), i, k)
        json_array_append_new(kids, prune_lineage(k));
    json_object_set_new(out, "inputs", kids);
    return out;
}

/* Every input the run's steps read, once each: its hash, the steps that
 * read it, and who made those bytes (a step of this run or an earlier
 * one; null: a source kiln did not make). */
static int inputs_json(json_t **out, const card *c, kiln_err *err)
{
    json_t *rows = NULL, *r, *seen = json_object();
    json_int_t run = int_of(c->run, "id");
    size_t i;
    int rc;

    *out = json_array();
    if ((rc = kiln_store_run_artifacts_json(c->st, &rows, run, err)) != 0)
        goto done;
    json_array_foreach(rows, i, r) {
        const char *step = step_of(c, int_of(r, "execution_id"));
        char key[32];
        json_t *entry, *node = NULL;
        if (json_is_true(json_object_get(r, "output")))
            continue;
        snprintf(key, sizeof(key), "%lld", (long long)int_of(r, "id"));
        if ((entry = json_object_get(seen, key))) {
            json_t *readers = json_object_get(entry, "read_by");
            bool dup = false;
            json_t *x;
            size_t k;
            json_array_foreach(readers, k, x)
                dup = dup || (step && strcmp(json_string_value(x),
                                             step) == 0);
            if (step && !dup)
                json_array_append_new(readers, json_string(step));
            continue;
        }
        if ((rc = kiln_store_lineage_json(c->st, &node, int_of(r, "id"),
                                          true, 1, run, err)) != 0)
            goto done;
        entry = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                          "artifact_id", copy_of(r, "id"), "path",
                          copy_of(r, "path"), "sha256", copy_of(r, "sha256"),
                          "size", copy_of(r, "size"), "type",
                          copy_of(r, "type"), "read_by", json_array(),
                          "made_by", made_by_json(json_object_get(
                              node, "produced_by")));
        if (step)
            json_array_append_new(json_object_get(entry, "read_by"),
                                  json_string(step));
        if (json_object_get(node, "model_versions"))
            json_object_set_new(entry, "model_versions",
                                copy_of(node, "model_versions"));
        json_object_set(seen, key, entry);
        json_array_append_new(*out, entry);
        json_decref(node);
    }
done:
    json_decref(rows);
    json_decref(seen);
    return rc;
}

/* A version in an alias row's before or after ({"version": N}). */
static json_t *version_of(const char *text)
{
    json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
    json_t *v = json_object_get(doc, "version");
    v = json_is_integer(v) ? json_incref(v) : json_null();
    json_decref(doc);
    return v;
}

/* Every move of the model's aliases, from the audit trail. */
static int history_json(json_t **out, kiln_store *st, const char *name,
                        kiln_err *err)
{
    kiln_audit_row *rows = NULL;
    kiln_audit_query q;
    size_t n = 0, prefix;
    int rc;

    *out = json_array();
    memset(&q, 0, sizeof(q));
    q.action_prefix = "alias.";
    q.target = kiln_asprintf("model %s ", name);
    prefix = strlen(q.target);
    rc = kiln_store_audit_list(&rows, &n, st, &q, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        json_array_append_new(*out, json_pack(
            "{s:I, s:s, s:o, s:o, s:s, s:s, s:s, s:I}", "at",
            (json_int_t)rows[i].at_ms, "alias", rows[i].target + prefix,
            "from", version_of(rows[i].before), "to",
            version_of(rows[i].after), "by", rows[i].actor, "via",
            rows[i].via, "action", rows[i].action, "audit_id",
            (json_int_t)rows[i].id));
    kiln_audit_rows_free(rows, n);
    free((char *)q.target);
    return rc;
}

int kiln_governance_report(json_t **out, kiln_store *st, const char *name,
                           const char *alias, int version, kiln_err *err)
{
    json_t *versions = NULL, *doc = NULL, *part = NULL, *metrics = NULL;
    json_t *tree = NULL;
    kiln_model_version mv;
    card c;
    int rc;

    *out = NULL;
    memset(&c, 0, sizeof(c));
    memset(&mv, 0, sizeof(mv));
    c.st = st;
    if ((rc = find_version(&versions, &mv, st, name, alias, version,
                           err)) != 0)
        goto done;
    if (mv.run_id &&
        (rc = kiln_store_run_json(st, &c.run, mv.run_id, err)) != 0)
        goto done;
    if (c.run) {
        map_executions(&c);
        load_pipeline(&c);
    }
    doc = json_pack("{s:s, s:I}", "report", "kiln model governance",
                    "generated_at", (json_int_t)kiln_now_ms());
    json_object_set_new(doc, "model", model_json(versions, &mv, &c));
    if (!c.run) {
        json_object_set_new(doc, "run", json_null());
        goto history;
    }
    json_object_set_new(doc, "run", run_json(&c));
    json_object_set_new(doc, "git", git_json(&c));
    json_object_set_new(doc, "params", copy_of(c.run, "params"));
    if ((rc = steps_json(&part, &c, err)) != 0)
        goto done;
    json_object_set_new(doc, "steps", part);
    part = NULL;
    if ((rc = metrics_json(&metrics, &c, err)) != 0)
        goto done;
    json_object_set(doc, "metrics", metrics);
    if ((rc = gates_json(&part, &c, err)) != 0)
        goto done;
    json_object_set_new(doc, "gates", part);
    part = NULL;
    json_object_set_new(doc, "gates_from_pipeline_file", c.p
                        ? json_true() : json_false());
    if (!c.p) {
        char *note = kiln_asprintf("%s: only gates that said no are "
                                   "known, from the record", c.p_note);
        json_object_set_new(doc, "gates_note", json_string(note));
        free(note);
    }
    json_object_set_new(doc, "validation", validation_json(&c, metrics));
    if ((rc = inputs_json(&part, &c, err)) != 0)
        goto done;
    json_object_set_new(doc, "inputs", part);
    part = NULL;
    if ((rc = kiln_store_lineage_json(st, &tree, mv.artifact_id, true, 0,
                                      mv.run_id, err)) != 0)
        goto done;
    json_object_set_new(doc, "lineage", prune_lineage(tree));
history:
    if ((rc = history_json(&part, st, name, err)) != 0)
        goto done;
    json_object_set_new(doc, "alias_history", part);
    part = NULL;
    *out = doc;
    doc = NULL;
done:
    json_decref(part);
    json_decref(doc);
    json_decref(tree);
    json_decref(metrics);
    json_decref(versions);
    json_decref(c.run);
    json_decref(c.exec_steps);
    kiln_pipeline_free(c.p);
    kiln_model_version_dispose(&mv);
    return rc;
}

/* Printing it as Markdown. */

/* A time, or "-". */
static const char *when(char *buf, size_t size, json_t *v)
{
    if (!json_is_integer(v) || json_integer_value(v) == 0)
        return "-";
    return kiln_fmt_time(buf, size, json_integer_value(v));
}

/* A table cell: s with | escaped and newlines as spaces. */
static void cell(const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", stdout);
        else if (*s == '\n')
            fputc(' ', stdout);
        else
            fputc(*s, stdout);
    }
}

/* A "| label | value |" row of a two-column table. */
static void row(const char *label, const char *value)
{
    printf("| %s | ", label);
    cell(value ? value : "-");
    printf(" |\n");
}

/* A path as the run saw it: relative to its working directory when it
 * is under it. */
static const char *rel(const char *path, const char *workdir)
{
    size_t n = workdir ? strlen(workdir) : 0;
    if (path && n && strncmp(path, workdir, n) == 0 && path[n] == '/')
        return path + n + 1;
    return path ? path : "-";
}

/* A number as JSON has it: 0.93, 100. */
static void number(char *buf, size_t size, json_t *v)
{
    if (json_is_integer(v))
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, size, "%.10g", json_real_value(v));
    else
        snprintf(buf, size, "-");
}

/* "step train of run 3 (pipeline churn, commit 1a2b3c4d5e)" */
static void made_by(json_t *by, json_int_t run)
{
    const char *commit = str_of(by, "git_commit");
    if (!json_is_object(by)) {
        printf("source (not made by kiln)");
        return;
    }
    printf("step %s of ", str_of(by, "step") ? str_of(by, "step") : "?");
    if (int_of(by, "run_id") == run)
        printf("this run");
    else
        printf("run %lld (%s%s%.10s)", (long long)int_of(by, "run_id"),
               str_of(by, "pipeline") ? str_of(by, "pipeline") : "?",
               commit ? ", commit " : "", commit ? commit : "");
}

/* ", version 1 of model churn" for each version these bytes are. */
static void model_versions(json_t *versions)
{
    json_t *v;
    size_t i;
    json_array_foreach(versions, i, v)
        printf(", version %lld of model %s", (long long)int_of(v, "version"),
               str_of(v, "name"));
}

static void print_model(json_t *m)
{
    json_t *v, *al;
    size_t i, k;
    char buf[64];
    kiln_buf aliases = KILN_BUF_INIT;

    json_array_foreach(json_object_get(m, "aliases"), i, al)
        kiln_buf_printf(&aliases, "%s%s", i ? ", " : "",
                        json_string_value(al));
    printf("## Model version\n\n| | |\n| --- | --- |\n");
    row("Model", str_of(m, "name"));
    snprintf(buf, sizeof(buf), "%lld", (long long)int_of(m, "version"));
    row("Version", buf);
    row("Aliases now", aliases.len ? kiln_buf_cstr(&aliases)
                                   : "none");
    printf("| SHA-256 | `%s` |\n", str_of(m, "sha256"));
    snprintf(buf, sizeof(buf), "%lld bytes%s", (long long)int_of(m, "size"),
             json_is_true(json_object_get(m, "is_dir")) ? " (a directory)"
                                                        : "");
    row("Size", buf);
    row("Registered", when(buf, sizeof(buf), json_object_get(
        m, "registered_at")));
    row("Made at", str_of(m, "path"));
    if (json_is_integer(json_object_get(m, "run_id"))) {
        char *by = kiln_asprintf("step %s of run %lld",
                                 str_of(m, "registered_by_step")
                                     ? str_of(m, "registered_by_step") : "?",
                                 (long long)int_of(m, "run_id"));
        row("Registered by", by);
        free(by);
    }
    kiln_buf_dispose(&aliases);

    printf("\n### Every version of %s\n\n", str_of(m, "name"));
    printf("| Version | SHA-256 | Registered | Run | Commit | Aliases |\n"
           "| --- | --- | --- | --- | --- | --- |\n");
    json_array_foreach(json_object_get(m, "versions"), i, v) {
        const char *commit = str_of(v, "git_commit");
        printf("| %lld%s | `%.12s` | %s | %lld | %.10s | ",
               (long long)int_of(v, "version"),
               int_of(v, "version") == int_of(m, "version") ? " (this)" : "",
               str_of(v, "sha256"), when(buf, sizeof(buf),
                                         json_object_get(v,
                                                         "registered_at")),
               (long long)int_of(v, "run_id"), commit ? commit : "-");
        json_array_foreach(json_object_get(v, "aliases"), k, al)
            printf("%s%s", k ? ", " : "", json_string_value(al));
        if (!json_array_size(json_object_get(v, "aliases")))
            printf("-");
        printf(" |\n");
    }
}

static void print_run(json_t *doc)
{
    json_t *r = json_object_get(doc, "run"), *g = json_object_get(doc, "git");
    char buf[64], *text;
    printf("\n## The run that produced it\n\n| | |\n| --- | --- |\n");
    snprintf(buf, sizeof(buf), "%lld", (long long)int_of(r, "id"));
    row("Run", buf);
    row("Pipeline", str_of(r, "pipeline"));
    row("Started by", str_of(r, "started_by") ? str_of(r, "started_by")
                                              : "not recorded");
    row("Trigger", str_of(r, "trigger"));
    if (json_is_integer(json_object_get(r, "reproduces"))) {
        snprintf(buf, sizeof(buf), "run %lld (kiln reproduce)",
                 (long long)int_of(r, "reproduces"));
        row("Reproduces", buf);
    }
    text = str_of(r, "reason")
        ? kiln_asprintf("%s: %s", str_of(r, "status"), str_of(r, "reason"))
        : kiln_strdup(str_of(r, "status") ? str_of(r, "status") : "-");
    row("Status", text);
    free(text);
    row("Created", when(buf, sizeof(buf), json_object_get(r,
                                                          "created_at")));
    row("Started", when(buf, sizeof(buf), json_object_get(r,
                                                          "started_at")));
    row("Finished", when(buf, sizeof(buf), json_object_get(r,
                                                           "finished_at")));
    text = kiln_asprintf("%s%s%s%s", str_of(g, "commit") ? str_of(g,
                         "commit") : "none (not in a Git repository)",
                         str_of(g, "branch") ? " on " : "",
                         str_of(g, "branch") ? str_of(g, "branch") : "",
                         json_is_true(json_object_get(g, "dirty"))
                             ? " (dirty: uncommitted changes)" : "");
    row("Git commit", text);
    free(text);
    row("Pipeline file", str_of(r, "file"));
    printf("| Its SHA-256 | `%s` |\n", str_of(r, "pipeline_hash")
                                           ? str_of(r, "pipeline_hash")
                                           : "-");
    row("Working directory", str_of(r, "workdir"));
}

static void print_steps(json_t *doc)
{
    json_t *s, *e;
    size_t i, k;
    bool images = false, env = false;
    printf("\n## Steps\n\n| Step | Kind | Status | Attempts | Executor | "
           "Reason |\n| --- | --- | --- | --- | --- | --- |\n");
    json_array_foreach(json_object_get(doc, "steps"), i, s) {
        printf("| %s | %s | %s | %lld | %s | ", str_of(s, "name"),
               str_of(s, "kind") ? str_of(s, "kind") : "-",
               str_of(s, "status"), (long long)int_of(s, "attempts"),
               str_of(s, "executor") ? str_of(s, "executor") : "-");
        cell(str_of(s, "reason") ? str_of(s, "reason") : "");
        printf(" |\n");
        images = images || json_is_string(json_object_get(s, "image"));
        env = env || json_array_size(json_object_get(s, "environment"));
    }
    printf("\n### Container images\n\n");
    if (!images)
        printf("No step ran in a container.\n");
    else
        printf("| Step | Image | Image ID (digest) |\n| --- | --- | --- |\n");
    json_array_foreach(json_object_get(doc, "steps"), i, s)
        if (json_is_string(json_object_get(s, "image")))
            printf("| %s | %s | `%s` |\n", str_of(s, "name"),
                   str_of(s, "image_ref") ? str_of(s, "image_ref") : "-",
                   str_of(s, "image"));
    printf("\n### Environment captures\n\n");
    if (!env)
        printf("No step captured its environment (`environment:`).\n");
    json_array_foreach(json_object_get(doc, "steps"), i, s)
        json_array_foreach(json_object_get(s, "environment"), k, e) {
            const char *text = str_of(e, "text");
            printf("%sStep %s, `%s` (sha256 `%.12s`):\n\n```\n%s%s```\n",
                   env ? "" : "\n", str_of(s, "name"), str_of(e, "label"),
                   str_of(e, "sha256"), text ? text : "",
                   text && *text && text[strlen(text) - 1] != '\n' ? "\n"
                                                                   : "");
            env = false;
        }
}

/* Whether step is one of the run's validation steps. */
static bool is_validation(json_t *doc, const char *step)
{
    json_t *v;
    size_t i;
    json_array_foreach(json_object_get(doc, "validation"), i, v)
        if (step && strcmp(str_of(v, "step"), step) == 0)
            return true;
    return false;
}

static void print_params_metrics(json_t *doc)
{
    json_t *params = json_object_get(doc, "params"), *v, *m;
    const char *key;
    size_t i, n;
    char buf[64];
    printf("\n## Parameters\n\n");
    if (!json_object_size(params))
        printf("The run had no parameters.\n");
    else
        printf("| Name | Value |\n| --- | --- |\n");
    json_object_foreach(params, key, v)
        row(key, json_string_value(v) ? json_string_value(v) : "-");
    printf("\n## Metrics\n\n");
    n = 0;
    json_array_foreach(json_object_get(doc, "metrics"), i, m)
        n += !is_validation(doc, str_of(m, "step"));
    if (!n)
        printf("The run recorded no metrics%s.\n",
               json_array_size(json_object_get(doc, "validation"))
                   ? " beyond its data validation's" : "");
    else
        printf("What each step's latest attempt reported (a validation "
               "step's are under\nData validation).\n\n| Step | Metric | "
               "Value |\n"
               "| --- | --- | --- |\n");
    json_array_foreach(json_object_get(doc, "metrics"), i, m) {
        if (is_validation(doc, str_of(m, "step")))
            continue;
        number(buf, sizeof(buf), json_object_get(m, "value"));
        printf("| %s | %s | %s |\n", str_of(m, "step"), str_of(m, "key"),
               buf);
    }
}

static void print_gates(json_t *doc)
{
    json_t *g, *v;
    const char *key;
    size_t i;
    char buf[64];
    printf("\n## Gates\n\n");
    if (str_of(doc, "gates_note"))
        printf("%s.\n\n", str_of(doc, "gates_note"));
    if (!json_array_size(json_object_get(doc, "gates")))
        printf("%s\n", str_of(doc, "gates_note")
                           ? "No gate of the run said no."
                           : "No step of the run had a gate (`when:`).");
    json_array_foreach(json_object_get(doc, "gates"), i, g) {
        const char *d = str_of(g, "decision");
        printf("%s### Step %s: %s\n", i ? "\n" : "", str_of(g, "step"),
               strcmp(d, "passed") == 0 ? "passed, the step ran"
               : strcmp(d, "gated") == 0 ? "gated, the step did not run"
               : strcmp(d, "error") == 0 ? "no value, the step failed"
               : "not evaluated (an upstream step did not succeed)");
        if (str_of(g, "expression"))
            printf("\n```\n%s\n```\n", str_of(g, "expression"));
        if (json_object_size(json_object_get(g, "values"))) {
            printf("\n| Value | As recorded for the run |\n| --- | --- |\n");
            json_object_foreach(json_object_get(g, "values"), key, v) {
                number(buf, sizeof(buf), v);
                printf("| `%s` | %s |\n", key,
                       json_is_null(v) ? "none (no value)" : buf);
            }
        }
        if (json_is_boolean(json_object_get(g, "evaluates_to")))
            printf("\nOn these values the expression is %s.\n",
                   json_is_true(json_object_get(g, "evaluates_to"))
                       ? "true" : "false");
        if (str_of(g, "reason") && strcmp(d, "passed") != 0)
            printf("\nRecorded when it was decided: %s\n",
                   str_of(g, "reason"));
    }
}

static void print_validation(json_t *doc)
{
    json_t *v, *x;
    const char *key;
    size_t i, k;
    char buf[64];
    printf("\n## Data validation\n\n");
    if (!json_array_size(json_object_get(doc, "validation")))
        printf("The run had no validation step (`kind: validate`).\n");
    json_array_foreach(json_object_get(doc, "validation"), i, v) {
        printf("%s### Step %s: %s\n", i ? "\n" : "", str_of(v, "step"),
               str_of(v, "status"));
        if (str_of(v, "data"))
            printf("\nData: `%s`\n", str_of(v, "data"));
        if (json_object_size(json_object_get(v, "metrics"))) {
            printf("\n| Check | Value |\n| --- | --- |\n");
            json_object_foreach(json_object_get(v, "metrics"), key, x) {
                number(buf, sizeof(buf), x);
                printf("| %s | %s |\n", key, buf);
            }
        }
        if (json_array_size(json_object_get(v, "report"))) {
            printf("\n```\n");
            json_array_foreach(json_object_get(v, "report"), k, x)
                printf("%s\n", json_string_value(x));
            printf("```\n");
        }
    }
}

static void print_inputs(json_t *doc)
{
    json_t *in, *x;
    json_int_t run = int_of(json_object_get(doc, "run"), "id");
    const char *workdir = str_of(json_object_get(doc, "run"), "workdir");
    size_t i, k;
    printf("\n## Inputs\n\nEvery file the run's steps read, with the "
           "bytes they read and who made them.\n\n| Path | SHA-256 | "
           "Size | Made by | Read by |\n| --- | --- | --- | --- | --- |\n");
    json_array_foreach(json_object_get(doc, "inputs"), i, in) {
        printf("| ");
        cell(rel(str_of(in, "path"), workdir));
        printf(" | `%.12s` | %lld | ", str_of(in, "sha256"),
               (long long)int_of(in, "size"));
        made_by(json_object_get(in, "made_by"), run);
        model_versions(json_object_get(in, "model_versions"));
        printf(" | ");
        json_array_foreach(json_object_get(in, "read_by"), k, x)
            printf("%s%s", k ? ", " : "", json_string_value(x));
        printf(" |\n");
    }
}

/* A lineage node and what it was made from, as a nested list; a node
 * already shown is named, not repeated. */
static void print_node(json_t *node, int depth, json_int_t run,
                       const char *workdir, json_t *shown)
{
    char key[32];
    json_t *k;
    size_t i;
    snprintf(key, sizeof(key), "%lld", (long long)int_of(node,
                                                         "artifact_id"));
    printf("%*s- `%s` `%.12s`: ", depth * 2, "",
           rel(str_of(node, "path"), workdir), str_of(node, "sha256"));
    made_by(json_object_get(node, "made_by"), run);
    model_versions(json_object_get(node, "model_versions"));
    if (json_object_get(shown, key) &&
        json_array_size(json_object_get(node, "inputs"))) {
        printf(" (its inputs are listed above)\n");
        return;
    }
    printf("\n");
    json_object_set_new(shown, key, json_true());
    json_array_foreach(json_object_get(node, "inputs"), i, k)
        print_node(k, depth + 1, run, workdir, shown);
}

static void print_history(json_t *doc)
{
    json_t *h;
    size_t i;
    char buf[64], from[16], to[16];
    printf("\n## Alias history\n\n");
    if (!json_array_size(json_object_get(doc, "alias_history"))) {
        printf("No alias of the model has moved.\n");
        return;
    }
    printf("Every move of the model's aliases, oldest first, from the "
           "audit trail.\n\n| Time | Alias | From | To | By | Via | "
           "Action |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    json_array_foreach(json_object_get(doc, "alias_history"), i, h) {
        json_t *f = json_object_get(h, "from"), *t = json_object_get(h,
                                                                     "to");
        snprintf(from, sizeof(from), "%lld", (long long)json_integer_value(
                 f));
        snprintf(to, sizeof(to), "%lld", (long long)json_integer_value(t));
        printf("| %s | %s | %s | %s | ", when(buf, sizeof(buf),
               json_object_get(h, "at")), str_of(h, "alias"),
               json_is_integer(f) ? from : "-",
               json_is_integer(t) ? to : "-");
        cell(str_of(h, "by"));
        printf(" | %s | %s |\n", str_of(h, "via"), str_of(h, "action"));
    }
}

/* One paragraph: what it is, who made it from what, where it is used. */
static void print_summary(json_t *doc)
{
    json_t *m = json_object_get(doc, "model");
    json_t *r = json_object_get(doc, "run"), *g = json_object_get(doc, "git");
    json_t *al, *h;
    const char *commit = str_of(g, "commit");
    char buf[64];
    size_t i, n = json_array_size(json_object_get(m, "aliases"));

    printf("Version %lld (sha256 `%.12s`, %lld bytes) was registered on %s",
           (long long)int_of(m, "version"), str_of(m, "sha256"),
           (long long)int_of(m, "size"), when(buf, sizeof(buf),
           json_object_get(m, "registered_at")));
    if (json_is_object(r)) {
        printf(" by step %s of run %lld of pipeline %s, started by %s",
               str_of(m, "registered_by_step")
                   ? str_of(m, "registered_by_step") : "?",
               (long long)int_of(r, "id"), str_of(r, "pipeline"),
               str_of(r, "started_by") ? str_of(r, "started_by")
                                       : "(not recorded)");
        if (commit)
            printf(" at commit %.10s%s", commit,
                   json_is_true(json_object_get(g, "dirty"))
                       ? " (with uncommitted changes)" : "");
    }
    printf(". ");
    if (n) {
        printf("Alias%s pointing at it now:", n == 1 ? "" : "es");
        json_array_foreach(json_object_get(m, "aliases"), i, al)
            printf("%s %s", i ? "," : "", json_string_value(al));
        printf(" (");
        /* Who put each there: the newest move of that alias to it. */
        json_array_foreach(json_object_get(m, "aliases"), i, al) {
            json_t *by = NULL;
            size_t k;
            json_array_foreach(json_object_get(doc, "alias_history"), k, h)
                if (strcmp(str_of(h, "alias"), json_string_value(al)) == 0 &&
                    int_of(h, "to") == int_of(m, "version"))
                    by = h;
            printf("%s%s by %s via %s", i ? "; " : "",
                   json_string_value(al), by ? str_of(by, "by") : "?",
                   by ? str_of(by, "via") : "?");
        }
        printf(").\n\n");
    } else {
        printf("No alias points at it now.\n\n");
    }
}

void kiln_governance_print_md(json_t *doc)
{
    json_t *m = json_object_get(doc, "model");
    json_t *run = json_object_get(doc, "run");
    char buf[64];

    printf("# Model card: %s version %lld\n\n", str_of(m, "name"),
           (long long)int_of(m, "version"));
    printf("The governance report of version %lld of model %s, made by "
           "kiln from its record on %s.\n\n", (long long)int_of(m,
           "version"), str_of(m, "name"), when(buf, sizeof(buf),
           json_object_get(doc, "generated_at")));
    print_summary(doc);
    print_model(m);
    if (!json_is_object(run)) {
        printf("\nThe run that produced this version is not recorded.\n");
    } else {
        print_run(doc);
        print_steps(doc);
        print_params_metrics(doc);
        print_gates(doc);
        print_validation(doc);
        print_inputs(doc);
        printf("\n## Lineage\n\nWhat the registered bytes were made "
               "from, back to their sources.\n\n");
        {
            json_t *shown = json_object();
            print_node(json_object_get(doc, "lineage"), 0,
                       int_of(run, "id"), str_of(run, "workdir"), shown);
            json_decref(shown);
        }
    }
    print_history(doc);
}
