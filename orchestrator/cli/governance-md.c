/*
 * governance-md.c: the governance report of a model version
 * (governance.c builds it) printed as a Markdown model card, a document
 * that reads well on its own: a summary, then the version, the run, its
 * steps, params, metrics, gates, validation, inputs, lineage and alias
 * history, each under its heading, mostly as tables.
 */
#include "cli/governance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_int_t int_of(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static const char *str_of(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

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

static void print_deploys(json_t *doc)
{
    json_t *d;
    size_t i;
    char a[64], b[64];
    printf("\n## Deploy commands\n\n");
    if (!json_array_size(json_object_get(doc, "deploys"))) {
        printf("No deploy command ran with this version.\n");
        return;
    }
    printf("Every run of the model's deploy command with this version's "
           "bytes, oldest first, and how it ended: moved (the alias "
           "followed), failed (it did not) or lost (its end is "
           "unknown).\n\n| Started | Ended | Alias | Action | By | Via | "
           "Outcome |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    json_array_foreach(json_object_get(doc, "deploys"), i, d) {
        json_t *end = json_object_get(d, "ended_at");
        printf("| %s | %s | %s | %s | ", when(a, sizeof(a),
               json_object_get(d, "started_at")),
               json_is_integer(end) ? when(b, sizeof(b), end) : "-",
               str_of(d, "alias"), str_of(d, "action"));
        cell(str_of(d, "by"));
        printf(" | %s | ", str_of(d, "via") ? str_of(d, "via") : "-");
        cell(str_of(d, "outcome") ? str_of(d, "outcome") : "running");
        if (str_of(d, "detail")) {
            printf(": ");
            cell(str_of(d, "detail"));
        }
        printf(" |\n");
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
    print_deploys(doc);
}
