/* cmd-lineage.c: kiln lineage PATH|SHA|ID [--up|--down] [--depth N]
 * [--format text|json|dot] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef struct lineage_opts {
    const char *what;   /* PATH|SHA|ARTIFACT-ID */
    bool down;          /* --down; false: --up */
    long depth;         /* --depth N; 0: all */
    const char *format; /* --format text|json|dot */
    const char *state;  /* --state DIR */
} lineage_opts;

static const kiln_opt options[] = {
    KILN_OPT_ARG(lineage_opts, what, "PATH|SHA|ARTIFACT-ID", NULL),
    KILN_OPT_SWITCH(0, "up", lineage_opts, down, "the step, run, commit and "
                    "params that made it, and their inputs, recursively "
                    "(default)", .flags = KILN_OPT_CLEARS),
    KILN_OPT_SWITCH(0, "down", lineage_opts, down,
                    "every step that used it and what they made"),
    KILN_OPT_INT(0, "depth", lineage_opts, depth, "N", 1, 1000,
                 "at most N levels"),
    KILN_OPT_CHOICE(0, "format", lineage_opts, format, "text|json|dot",
                    "output format", .def = "text"),
    KILN_CLI_OPT_STATE(lineage_opts),
    KILN_OPT_END,
};

static void print_artifact(json_t *a, int indent)
{
    printf("%*s%s %s%s (sha256 %.12s, %lld bytes, artifact %lld)\n", indent,
           "", kiln_cli_str(a, "type"), kiln_cli_str(a, "path"),
           json_is_true(json_object_get(a, "is_dir")) ? "/" : "",
           kiln_cli_str(a, "sha256"),
           (long long)json_integer_value(json_object_get(a, "size")),
           (long long)json_integer_value(json_object_get(a, "id")));
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
    printf("\n");
}

static void print_text(json_t *node, bool up, int indent)
{
    json_t *x, *kid;
    size_t i, k;
    print_artifact(node, indent);
    if (up) {
        x = json_object_get(node, "produced_by");
        if (!json_is_object(x)) {
            printf("%*snot made by a kiln step\n", indent + 2, "");
            return;
        }
        print_exec(x, "made by", indent + 2);
        json_array_foreach(json_object_get(x, "inputs"), k, kid)
            print_text(kid, up, indent + 4);
        return;
    }
    json_array_foreach(json_object_get(node, "used_by"), i, x) {
        print_exec(x, "used by", indent + 2);
        json_array_foreach(json_object_get(x, "outputs"), k, kid)
            print_text(kid, up, indent + 4);
    }
}

static void print_dot_node(json_t *node, bool up)
{
    json_t *x, *kid;
    size_t i, k;
    json_int_t id = json_integer_value(json_object_get(node, "id"));
    printf("  a%lld [shape=ellipse, label=\"%s\\n%.12s\"];\n",
           (long long)id, kiln_cli_str(node, "path"), kiln_cli_str(node, "sha256"));
    json_t *execs = up ? json_pack("[O]", json_object_get(node,
                                                         "produced_by"))
                       : json_incref(json_object_get(node, "used_by"));
    json_array_foreach(execs, i, x) {
        json_int_t xid;
        if (!json_is_object(x))
            continue;
        xid = json_integer_value(json_object_get(x, "execution_id"));
        printf("  x%lld [shape=box, label=\"%s\\nrun %lld\"];\n",
               (long long)xid, kiln_cli_str(x, "step"),
               (long long)json_integer_value(json_object_get(x, "run_id")));
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

static int exec_lineage(void *opts)
{
    const lineage_opts *o = opts;
    const char *state = o->state, *format = o->format;
    bool up = !o->down;
    long depth = o->depth;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *tree = NULL;
    int64_t id;
    int status = KILN_EXIT_OK;

    if (kiln_cli_open_store(&store, state, true, &err) != 0 ||
        kiln_store_artifact_find(store, &id, o->what, &err) != 0 ||
        kiln_store_lineage_json(store, &tree, id, up, (int)depth, &err) != 0) {
        status = kiln_cli_fail(&err);
    } else if (strcmp(format, "json") == 0) {
        kiln_cli_print_json(tree);
    } else if (strcmp(format, "dot") == 0) {
        printf("digraph lineage {\n  rankdir=LR;\n");
        print_dot_node(tree, up);
        printf("}\n");
    } else {
        print_text(tree, up, 0);
    }
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
