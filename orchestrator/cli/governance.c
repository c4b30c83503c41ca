/*
 * governance.c: the governance report of a model version (kiln audit
 * model), built from the record as one JSON object (governance-md.c
 * prints it as a Markdown model card).
 *
 * Gates: the engine records how each gate was decided, with the values
 * it read (run_steps.gate, since schema 15). For runs made before, where
 * only a gate that said no left its values (the step's reason), the
 * report evaluates each gate again on what the run recorded, the same
 * lookups the engine made (the run's params, each step's latest
 * attempt's metrics), from the pipeline file the run ran when it still
 * has the recorded hash.
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
                    "run_id",
                    mv->run_id ? json_integer(mv->run_id) : json_null(),
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
        json_t *gate, *rec = json_object_get(s, "gate");
        /* The engine's record of the decision, whichever way it went
         * (runs since schema 15): the values as it read them. */
        if (json_is_object(rec)) {
            json_array_append_new(*out, json_pack(
                "{s:s, s:O, s:s, s:o, s:O, s:O, s:O, s:b}", "step", name,
                "expression", json_object_get(rec, "when"), "decision",
                decision_of(s), "reason", copy_of(s, "reason"), "values",
                json_object_get(rec, "values"), "trace",
                json_object_get(rec, "trace"), "evaluates_to",
                json_object_get(rec, "passed"), "recorded", 1));
            continue;
        }
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
    if (!log_path || kiln_log_read(&text, &len, log_path, LOG_MAX,
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
        char *note = kiln_asprintf("%s: gates are shown as the record "
                                   "has them (of a run made before kiln "
                                   "recorded every decision, only those "
                                   "that said no)", c.p_note);
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
    if ((rc = kiln_store_deploys_json(st, &part, name, mv.version,
                                      err)) != 0)
        goto done;
    json_object_set_new(doc, "deploys", part);
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
