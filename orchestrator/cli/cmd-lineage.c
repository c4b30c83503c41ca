/* cmd-lineage.c: kiln lineage PATH|SHA|ID|MODEL:VERSION|MODEL@ALIAS
 * [--up|--down] [--run N] [--depth N] [--format text|json|dot] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

typedef struct lineage_opts {
    const char *what;   /* PATH|SHA|ARTIFACT-ID|MODEL:VERSION|MODEL@ALIAS */
    bool down;          /* --down; false: --up */
    int64_t run;        /* --run N; 0: none */
    long depth;         /* --depth N; 0: all */
    const char *format; /* --format text|json|dot */
    const char *state;  /* --state DIR */
} lineage_opts;

static const kiln_opt options[] = {
    KILN_OPT_ARG(lineage_opts, what, "PATH|SHA|ARTIFACT-ID|MODEL:VERSION|"
                 "MODEL@ALIAS", "an artifact, or a model version of the "
                 "registry (as the run that registered it made it)"),
    KILN_OPT_SWITCH(0, "up", lineage_opts, down, "the step, run, commit and "
                    "params that made it, and their inputs, recursively "
                    "(default)", .flags = KILN_OPT_CLEARS),
    KILN_OPT_SWITCH(0, "down", lineage_opts, down,
                    "every step that used it and what they made"),
    KILN_OPT_PARSED(0, "run", lineage_opts, run, int64_t,
                    kiln_cli_opt_run_id, "N", "as run N made or used it "
                    "(the same bytes may have been made by several runs; "
                    "default: up, the newest)"),
    KILN_OPT_INT(0, "depth", lineage_opts, depth, "N", 1, 1000,
                 "at most N levels"),
    KILN_OPT_CHOICE(0, "format", lineage_opts, format, "text|json|dot",
                    "output format", .def = "text"),
    KILN_CLI_OPT_STATE(lineage_opts),
    KILN_OPT_END,
};

/* Below the top, at most this many other producers are named. */
#define OTHERS_SHOWN 3

static void print_artifact(json_t *a, int indent)
{
    printf("%*s%s %s%s (sha256 %.12s, %lld bytes, artifact %lld)\n", indent,
           "", kiln_cli_str(a, "type"), kiln_cli_str(a, "path"),
           json_is_true(json_object_get(a, "is_dir")) ? "/" : "",
           kiln_cli_str(a, "sha256"),
           (long long)json_integer_value(json_object_get(a, "size")),
           (long long)json_integer_value(json_object_get(a, "id")));
    json_t *v;
    size_t i;
    json_array_foreach(json_object_get(a, "model_versions"), i, v)
        printf("%*s  = model %s version %lld, registered by run %lld\n",
               indent, "", kiln_cli_str(v, "name"),
               (long long)json_integer_value(json_object_get(v, "version")),
               (long long)json_integer_value(json_object_get(v, "run_id")));
}

static void print_exec(json_t *x, const char *verb, int indent)
{
    json_t *params = json_object_get(x, "params"), *v;
    const char *key;
    printf("%*s%s step %s of run %lld (%s), commit %.12s%s", indent, "",
           verb, kiln_cli_str(x, "step"),
           (long long)json_integer_value(json_object_get(x, "run_id")),
           kiln_cli_str(x, "pipeline"), kiln_cli_str(x, "git_commit"),
           json_is_true(json_object_get(x, "git_dirty")) ? " (dirty)" : "");
    if (json_object_size(params)) {
        printf(", params");
        json_object_foreach(params, key, v)
            printf(" %s=%s", key, json_string_value(v));
    }
    if (json_is_string(json_object_get(x, "image")))
        printf(", image %.19s", kiln_cli_str(x, "image"));
    if (json_is_integer(json_object_get(x, "cached_from")))
        printf(", restored from the cache");
    printf("\n");
}

/* The producers of node other than the one that counts, newest first: all
 * of them at the top, a few below. */
static void print_others(json_t *node, json_t *by, bool top, int indent)
{
    json_int_t mine = json_integer_value(json_object_get(by,
                                                         "execution_id"));
    json_t *producers = json_object_get(node, "producers"), *p;
    size_t i, shown = 0, others = json_array_size(producers) -
                                  (json_is_object(by) ? 1 : 0);
    json_array_foreach(producers, i, p) {
        if (json_integer_value(json_object_get(p, "execution_id")) == mine)
            continue;
        if (!top && shown == OTHERS_SHOWN) {
            printf("%*sand %zu more made these bytes too (kiln lineage "
                   "%lld lists them)\n", indent, "", others - shown,
                   (long long)json_integer_value(json_object_get(node,
                                                                 "id")));
            return;
        }
        print_exec(p, "also made by", indent);
        shown++;
    }
}

static void print_text(json_t *node, bool up, bool top, int indent)
{
    json_t *x, *kid;
    size_t i, k;
    print_artifact(node, indent);
    if (up) {
        x = json_object_get(node, "produced_by");
        if (!json_is_object(x))
            printf("%*s%s\n", indent + 2, "",
                   json_array_size(json_object_get(node, "producers"))
                       ? "made by no kiln step before it was used here"
                       : "not made by a kiln step");
        else
            print_exec(x, "made by", indent + 2);
        print_others(node, x, top, indent + 2);
        json_array_foreach(json_object_get(x, "inputs"), k, kid)
            print_text(kid, up, false, indent + 4);
        return;
    }
    json_array_foreach(json_object_get(node, "used_by"), i, x) {
        print_exec(x, "used by", indent + 2);
        json_array_foreach(json_object_get(x, "outputs"), k, kid)
            print_text(kid, up, false, indent + 4);
    }
}

static void print_dot_exec(json_t *x)
{
    printf("  x%lld [shape=box, label=\"%s\\nrun %lld\"];\n",
           (long long)json_integer_value(json_object_get(x, "execution_id")),
           kiln_cli_str(x, "step"),
           (long long)json_integer_value(json_object_get(x, "run_id")));
}

static void print_dot_node(json_t *node, bool up)
{
    json_t *x, *kid, *by = json_object_get(node, "produced_by");
    size_t i, k;
    json_int_t id = json_integer_value(json_object_get(node, "id"));
    printf("  a%lld [shape=ellipse, label=\"%s\\n%.12s\"];\n",
           (long long)id, kiln_cli_str(node, "path"), kiln_cli_str(node, "sha256"));
    json_t *execs = up ? json_pack("[O]", by)
                       : json_incref(json_object_get(node, "used_by"));
    /* The other producers of the same bytes: dashed. */
    json_array_foreach(up ? json_object_get(node, "producers") : NULL, i,
                       x) {
        json_int_t xid = json_integer_value(json_object_get(x,
                                                            "execution_id"));
        if (json_is_object(by) && xid == json_integer_value(
                json_object_get(by, "execution_id")))
            continue;
        print_dot_exec(x);
        printf("  x%lld -> a%lld [style=dashed];\n", (long long)xid,
               (long long)id);
    }
    json_array_foreach(execs, i, x) {
        json_int_t xid;
        if (!json_is_object(x))
            continue;
        xid = json_integer_value(json_object_get(x, "execution_id"));
        print_dot_exec(x);
        if (up)
            printf("  x%lld -> a%lld;\n", (long long)xid, (long long)id);
        else
            printf("  a%lld -> x%lld;\n", (long long)id, (long long)xid);
        json_array_foreach(json_object_get(x, up ? "inputs" : "outputs"), k,
                           kid) {
            json_int_t kidid = json_integer_value(json_object_get(kid, "id"));
            if (up)
                printf("  a%lld -> x%lld;\n", (long long)kidid,
                       (long long)xid);
            else
                printf("  x%lld -> a%lld;\n", (long long)xid,
                       (long long)kidid);
            print_dot_node(kid, up);
        }
    }
    json_decref(execs);
}

/* A model version named as NAME:VERSION or NAME@ALIAS: what gives a model
 * name (into name, of size cap) and either a version or an alias. */
typedef struct model_ref {
    char name[128];
    const char *alias;  /* points into the argument, or NULL */
    int version;
} model_ref;

static bool model_ref_parse(model_ref *m, const char *what)
{
    size_t n = strcspn(what, "@:");
    const char *rest = what + n + 1;
    char *end;
    long v;

    memset(m, 0, sizeof(*m));
    if (!what[n] || n == 0 || n >= sizeof(m->name))
        return false;
    memcpy(m->name, what, n);
    if (!kiln_dsl_valid_name(m->name))
        return false;
    if (what[n] == '@') {
        m->alias = rest;
        return kiln_dsl_valid_name(rest);
    }
    if (strspn(rest, "0123456789") != strlen(rest) || strlen(rest) > 9)
        return false;
    v = strtol(rest, &end, 10);
    m->version = (int)v;
    return *rest && v > 0;
}

/*
 * What the argument names: a file that exists is a path, whatever its
 * name; else NAME:VERSION or NAME@ALIAS is a model version of the registry
 * (*model set, and *run the run that registered it); else, and when the
 * registry has no model of that name but an artifact was recorded under
 * that name, an artifact by path, hash or id.
 */
static int resolve(kiln_store *store, int64_t *id, int64_t *run,
                   model_ref *m, bool *model, const char *what,
                   int64_t in_run, kiln_err *err)
{
    kiln_model_entry ref;
    kiln_err aerr = KILN_ERR_INIT;
    int rc;

    *model = false;
    if (access(what, F_OK) == 0 || !model_ref_parse(m, what))
        return kiln_store_artifact_find(store, id, what, in_run, err);
    rc = kiln_store_model_ref_find(store, &ref, m->name, m->alias,
                                   m->version, err);
    if (rc == KILN_ENOTFOUND &&
        kiln_store_artifact_find(store, id, what, in_run, &aerr) == 0) {
        *err = (kiln_err)KILN_ERR_INIT;
        return 0;
    }
    if (rc != 0)
        return rc;
    *model = true;
    *id = ref.artifact_id;
    *run = ref.run_id;
    m->version = ref.version;
    return 0;
}

static int exec_lineage(void *opts)
{
    const lineage_opts *o = opts;
    const char *state = o->state, *format = o->format;
    bool up = !o->down, model = false;
    long depth = o->depth;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *tree = NULL;
    char *header = NULL;
    int64_t id, run = 0, registered = 0;
    model_ref m;
    int status = KILN_EXIT_OK;

    if (kiln_cli_open_store(&store, state, true, &err) != 0 ||
        resolve(store, &id, &run, &m, &model, o->what, o->run, &err) != 0) {
        status = kiln_cli_fail(&err);
        goto out;
    }
    if (model && o->run && o->run != run) {
        status = kiln_cli_usage_error(&kiln_cmd_lineage, "--run %lld: "
                                      "model %s version %d was registered "
                                      "by run %lld", (long long)o->run,
                                      m.name, m.version, (long long)run);
        goto out;
    }
    registered = run;
    if (!model)
        run = o->run;
    else if (!up)
        run = 0; /* what used a version: in any run */
    if (kiln_store_lineage_json(store, &tree, id, up, (int)depth, run,
                                &err) != 0 && model &&
        err.code == KILN_ENOTFOUND && run) {
        /* A version registered without its run's events (an older
         * record): as any artifact. */
        fprintf(stderr, "kiln lineage: run %lld, which registered model %s "
                "version %d, recorded no event of its artifact: showing its "
                "newest producer\n", (long long)run, m.name, m.version);
        err = (kiln_err)KILN_ERR_INIT;
        run = 0;
        kiln_store_lineage_json(store, &tree, id, up, (int)depth, 0, &err);
    }
    if (err.code) {
        status = kiln_cli_fail(&err);
        goto out;
    }
    if (model) {
        char by[48] = "";
        if (registered)
            snprintf(by, sizeof(by), ", registered by run %lld",
                     (long long)registered);
        json_object_set_new(tree, "model", json_pack(
                            "{s:s, s:i, s:s?, s:o}", "name", m.name,
                            "version", m.version, "alias", m.alias,
                            "run_id", registered ? json_integer(registered)
                                                 : json_null()));
        header = kiln_asprintf("model %s version %d%s%s%s%s", m.name,
                               m.version, m.alias ? " (" : "",
                               m.alias ? m.alias : "", m.alias ? ")" : "",
                               by);
    }
    if (strcmp(format, "json") == 0) {
        kiln_cli_print_json(tree);
    } else if (strcmp(format, "dot") == 0) {
        printf("digraph lineage {\n  rankdir=LR;\n");
        if (header)
            printf("  label=\"%s\";\n  labelloc=t;\n", header);
        print_dot_node(tree, up);
        printf("}\n");
    } else {
        if (header)
            printf("%s\n", header);
        print_text(tree, up, true, 0);
    }
out:
    free(header);
    json_decref(tree);
    kiln_store_close(store);
    return status;
}

const kiln_cmd kiln_cmd_lineage = {
    .name = "lineage",
    .summary = "Show what made an artifact (--up) or what was made from it "
               "(--down).",
    .opts = options,
    .opts_size = sizeof(lineage_opts),
    .exec = exec_lineage,
};
