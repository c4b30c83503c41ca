/* cmd-metrics.c: kiln metrics [--pipeline P] [--key K] [--last N] [--json]
 *                kiln metrics diff RUN_A RUN_B [--json] */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef struct metrics_opts {
    kiln_opt_list args;   /* diff RUN_A RUN_B */
    const char *pipeline; /* --pipeline P */
    const char *key;      /* --key K */
    long last;            /* --last N */
    const char *state;    /* --state DIR */
    bool json;            /* --json */
} metrics_opts;

static const kiln_opt options[] = {
    KILN_OPT_ARGS(metrics_opts, args, "diff RUN_A RUN_B", 0, NULL),
    KILN_CLI_OPT_PIPELINE(metrics_opts),
    KILN_OPT_VALUE('k', "key", metrics_opts, key, "K",
                   "only metric K (KEY or STEP.KEY)"),
    KILN_OPT_INT('n', "last", metrics_opts, last, "N", 1, INT_MAX,
                 "the last N runs with metrics", .def = "10"),
    KILN_CLI_OPT_STATE(metrics_opts),
    KILN_CLI_OPT_JSON(metrics_opts),
    KILN_OPT_END,
};

static const char *key_of(json_t *row, char *buf, size_t size)
{
    snprintf(buf, size, "%s.%s",
             json_string_value(json_object_get(row, "step")),
             json_string_value(json_object_get(row, "key")));
    return buf;
}

/* Rows of two runs side by side: {"step.key": [a, b]} (a run against
 * itself fills both). */
static json_t *diff(json_t *rows, int64_t a, int64_t b)
{
    json_t *out = json_object(), *row;
    size_t i;
    char k[512];
    json_array_foreach(rows, i, row) {
        json_t *pair = json_object_get(out, key_of(row, k, sizeof(k)));
        int64_t run = json_integer_value(json_object_get(row, "run_id"));
        json_t *v = json_object_get(row, "value");
        if (!pair) {
            pair = json_pack("[nn]");
            json_object_set_new(out, k, pair);
        }
        if (run == a)
            json_array_set(pair, 0, v);
        if (run == b)
            json_array_set(pair, 1, v);
    }
    return out;
}

/* 0, or KILN_ENOTFOUND when run id is not recorded. */
static int run_exists(kiln_store *store, int64_t id, kiln_err *err)
{
    kiln_run_info *r = NULL;
    int rc = kiln_store_run_get(&r, store, id, err);
    kiln_run_info_free(r);
    return rc;
}

static void print_value(json_t *v)
{
    if (json_is_number(v))
        printf(" %14.6g", json_number_value(v));
    else
        printf(" %14s", "-");
}

/* Two runs side by side: {"step.key": [a, b]}. */
static void print_diff(json_t *d)
{
    json_t *pair;
    const char *k;
    printf("%-32s %14s %14s %14s\n", "METRIC", "run A", "run B", "change");
    json_object_foreach(d, k, pair) {
        json_t *va = json_array_get(pair, 0), *vb = json_array_get(pair, 1);
        printf("%-32s", k);
        print_value(va);
        print_value(vb);
        if (json_is_number(va) && json_is_number(vb))
            printf(" %+14.6g", json_number_value(vb) - json_number_value(va));
        printf("\n");
    }
}

static void print_rows(json_t *rows)
{
    json_t *row;
    size_t i;
    char k[512];
    printf("%-6s %-20s %-32s %14s\n", "RUN", "PIPELINE", "METRIC", "VALUE");
    json_array_foreach(rows, i, row) {
        printf("%-6lld %-20s %-32s",
               (long long)json_integer_value(json_object_get(row, "run_id")),
               json_string_value(json_object_get(row, "pipeline")),
               key_of(row, k, sizeof(k)));
        print_value(json_object_get(row, "value"));
        printf("\n");
    }
}

static int exec_metrics(void *opts)
{
    const metrics_opts *o = opts;
    char **args = KILN_OPT_STRINGS(o->args);
    const char *pipeline = o->pipeline, *key = o->key, *state = o->state;
    bool json = o->json;
    int last = (int)o->last, status = KILN_EXIT_OK;
    int64_t a = 0, b = 0;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *rows = NULL;

    if (o->args.n && strcmp(args[0], "diff") == 0) {
        if (o->args.n != 3)
            return kiln_cli_usage_error(&kiln_cmd_metrics, "diff expects "
                                        "RUN_A RUN_B");
        if (kiln_cli_parse_id(&a, args[1], &err) != 0 ||
            kiln_cli_parse_id(&b, args[2], &err) != 0)
            return kiln_cli_fail(&err);
    } else if (o->args.n) {
        return kiln_cli_usage_error(&kiln_cmd_metrics, "unexpected argument "
                                    "\"%s\"", args[0]);
    }
    if (kiln_cli_open_store(&store, state, true, &err) != 0 ||
        (a && (run_exists(store, a, &err) != 0 ||
               run_exists(store, b, &err) != 0)) ||
        kiln_store_metrics_json(store, &rows, pipeline, key, last, a, b,
                                &err) != 0) {
        status = kiln_cli_fail(&err);
    } else if (a) {
        json_t *d = diff(rows, a, b);
        kiln_cli_output(d, json, print_diff);
        json_decref(d);
    } else {
        kiln_cli_output(rows, json, print_rows);
    }
    json_decref(rows);
    kiln_store_close(store);
    return status;
}

const kiln_cmd kiln_cmd_metrics = {
    .name = "metrics",
    .summary = "Show steps' metrics across runs, or compare two runs.",
    .help = "Steps write a JSON object of numbers to $KILN_METRICS, or to "
            "the file\nnamed by `metrics:`; nested objects become dotted "
            "keys.\n",
    .opts = options,
    .opts_size = sizeof(metrics_opts),
    .exec = exec_metrics,
};
