/* cmd-compare.c: kiln compare RUN|RUN:STEP... | --pipeline P [--last N]
 *                [--all-params] [--sort KEY[:asc]]
 *                [--format table|csv|json|md]
 *
 * Runs side by side (and a sweep's items: RUN:STEP is every item of
 * matrix step STEP in RUN, RUN:STEP[k=v,...] one): one row each, with
 * only the params and metrics
 * whose values differ between them (all of them with --all-params),
 * sorted by one (best first). The rows come from the record
 * (store/compare.c), as GET /api/v1/compare gives them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef struct compare_opts {
    kiln_opt_list runs;      /* RUN... */
    const char *pipeline;    /* --pipeline P */
    long last;               /* --last N */
    bool all;                /* --all-params */
    const char *sort;        /* --sort KEY[:asc] */
    const char *format;      /* --format */
    const char *state;       /* --state DIR */
} compare_opts;


static const kiln_opt options[] = {
    KILN_OPT_ARGS(compare_opts, runs, "RUN|RUN:STEP", 0, "runs to compare "
                  "(ids), or a sweep's items (RUN:STEP, "
                  "RUN:STEP[k=v,...])"),
    KILN_OPT_VALUE(0, "pipeline", compare_opts, pipeline, "P",
                   "compare P's latest runs"),
    KILN_OPT_INT(0, "last", compare_opts, last, "N", 2, 100000,
                 "with --pipeline: how many (default 20)", .def = "20"),
    KILN_OPT_SWITCH(0, "all-params", compare_opts, all, "every param and "
                    "metric, not only those that differ"),
    KILN_OPT_VALUE(0, "sort", compare_opts, sort, "KEY[:asc]", "order by a "
                   "metric (STEP.KEY), a param (params.NAME) or run: "
                   "highest first, lowest first with :asc"),
    KILN_OPT_CHOICE(0, "format", compare_opts, format, "table|csv|json|md",
                    "table, csv, json or md", .def = "table"),
    KILN_CLI_OPT_STATE(compare_opts),
    KILN_OPT_END,
};

/* A cell's text: a param's as recorded, a metric's %g, "" when none. */
static const char *cell(char *buf, size_t size, json_t *row,
                        const char *field, const char *key)
{
    json_t *v = json_object_get(json_object_get(row, field), key);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_number(v)) {
        snprintf(buf, size, "%.6g", json_number_value(v));
        return buf;
    }
    return "";
}

/* Each column: "params.NAME" or a metric name, with where its value is. */
typedef struct column {
    const char *title;
    const char *field;       /* "params" or "metrics" */
    const char *key;
} column;

static column *columns_of(json_t *cols, size_t *n)
{
    json_t *p = json_object_get(cols, "params");
    json_t *m = json_object_get(cols, "metrics");
    column *c = kiln_calloc(json_array_size(p) + json_array_size(m) + 1,
                            sizeof(*c));
    size_t i;
    json_t *v;
    *n = 0;
    json_array_foreach(p, i, v) {
        c[*n].field = "params";
        c[*n].key = json_string_value(v);
        c[*n].title = c[*n].key;
        (*n)++;
    }
    json_array_foreach(m, i, v) {
        c[*n].field = "metrics";
        c[*n].key = json_string_value(v);
        c[*n].title = c[*n].key;
        (*n)++;
    }
    return c;
}

/* CSV field: quoted when it holds a comma, a quote or a line break. */
static void csv_field(const char *s, bool first)
{
    if (!first)
        putchar(',');
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

/* A row's name: its run, or its run and item. */
static const char *label(char *buf, size_t size, json_t *row)
{
    const char *item = json_string_value(json_object_get(row, "item"));
    long long id = json_integer_value(json_object_get(row, "run"));
    if (item)
        snprintf(buf, size, "%lld:%s", id, item);
    else
        snprintf(buf, size, "%lld", id);
    return buf;
}

static void print_csv(json_t *rows, const column *c, size_t n)
{
    char buf[64], name[300];
    json_t *row;
    size_t i;
    csv_field("run", true);
    csv_field("pipeline", false);
    csv_field("status", false);
    for (size_t k = 0; k < n; k++) {
        char *t = strcmp(c[k].field, "params") == 0
                      ? kiln_asprintf("params.%s", c[k].key)
                      : kiln_strdup(c[k].key);
        csv_field(t, false);
        free(t);
    }
    putchar('\n');
    json_array_foreach(rows, i, row) {
        csv_field(label(name, sizeof(name), row), true);
        csv_field(kiln_cli_str(row, "pipeline"), false);
        csv_field(kiln_cli_str(row, "status"), false);
        for (size_t k = 0; k < n; k++)
            csv_field(cell(buf, sizeof(buf), row, c[k].field, c[k].key),
                      false);
        putchar('\n');
    }
}

static void print_table(json_t *rows, const column *c, size_t n, bool md)
{
    size_t *w = kiln_calloc(n + 1, sizeof(size_t)), i, lw = 6;
    char buf[64], name[300];
    json_t *row;

    json_array_foreach(rows, i, row)
        if (strlen(label(name, sizeof(name), row)) > lw)
            lw = strlen(name);

    for (size_t k = 0; k < n; k++)
        w[k] = strlen(c[k].title);
    json_array_foreach(rows, i, row)
        for (size_t k = 0; k < n; k++) {
            size_t l = strlen(cell(buf, sizeof(buf), row, c[k].field,
                                   c[k].key));
            if (l > w[k])
                w[k] = l;
        }
    if (md) {
        printf("| run | pipeline | status |");
        for (size_t k = 0; k < n; k++)
            printf(" %s |", c[k].title);
        printf("\n|---:|---|---|");
        for (size_t k = 0; k < n; k++)
            printf("%s|", strcmp(c[k].field, "metrics") == 0 ? "---:"
                                                            : "---");
        putchar('\n');
    } else {
        printf("%-*s %-18s %-10s", (int)lw, "RUN", "PIPELINE", "STATUS");
        for (size_t k = 0; k < n; k++)
            printf("  %-*s", (int)w[k], c[k].title);
        putchar('\n');
    }
    json_array_foreach(rows, i, row) {
        label(name, sizeof(name), row);
        if (md)
            printf("| %s | %s | %s |", name, kiln_cli_str(row, "pipeline"),
                   kiln_cli_str(row, "status"));
        else
            printf("%-*s %-18s %-10s", (int)lw, name,
                   kiln_cli_str(row, "pipeline"), kiln_cli_str(row,
                                                           "status"));
        for (size_t k = 0; k < n; k++) {
            const char *v = cell(buf, sizeof(buf), row, c[k].field,
                                 c[k].key);
            if (md)
                printf(" %s |", *v ? v : "-");
            else if (strcmp(c[k].field, "metrics") == 0)
                printf("  %*s", (int)w[k], *v ? v : "-");
            else
                printf("  %-*s", (int)w[k], *v ? v : "-");
        }
        putchar('\n');
    }
    free(w);
}

static int exec_compare(void *opts)
{
    const compare_opts *o = opts;
    char **argv = KILN_OPT_STRINGS(o->runs);
    kiln_err err = KILN_ERR_INIT;
    kiln_store *store = NULL;
    int64_t *ids = NULL;
    size_t n = 0, ncols = 0;
    json_t *rows = NULL, *cols;
    column *c;
    int status = KILN_EXIT_OK;

    if (!o->runs.n == !o->pipeline)
        return kiln_cli_usage_error(&kiln_cmd_compare, "name the runs, or "
                                    "--pipeline P for its latest ones");
    if (o->runs.n == 1 && !strchr(argv[0], ':'))
        return kiln_cli_usage_error(&kiln_cmd_compare, "compare needs two "
                                    "runs or more, or a sweep's items "
                                    "(RUN:STEP)");
    if (kiln_cli_open_store(&store, o->state, true, &err) != 0)
        return kiln_cli_fail(&err);
    if (o->pipeline) {
        if (kiln_store_last_runs(&ids, &n, store, o->pipeline,
                                 (size_t)o->last, &err) != 0) {
            status = kiln_cli_fail(&err);
            goto done;
        }
        if (n == 0) {
            fprintf(stderr, "kiln: error: pipeline %s has no runs\n",
                    o->pipeline);
            status = KILN_EXIT_USAGE;
            goto done;
        }
        if (kiln_store_compare_rows(&rows, store, ids, n, &err) != 0) {
            status = kiln_cli_fail(&err);
            goto done;
        }
    } else {
        /* In the order given: runs, and items; each run once. */
        int64_t dup;
        ids = kiln_calloc(o->runs.n, sizeof(*ids));
        for (size_t i = 0; i < o->runs.n; i++)
            if (!strchr(argv[i], ':') &&
                kiln_cli_parse_id(&ids[n], argv[i], &err) == 0)
                n++;
        if ((dup = kiln_compare_repeated(ids, n)) != 0) {
            status = kiln_cli_usage_error(&kiln_cmd_compare, "run %lld is "
                                          "named twice", (long long)dup);
            goto done;
        }
        rows = json_array();
        for (size_t i = 0; i < o->runs.n; i++) {
            char *colon = strchr(argv[i], ':'), *run = argv[i];
            int64_t id = 0;
            json_t *one = NULL;
            int rc;
            if (colon)
                run = kiln_strndup(argv[i], (size_t)(colon - argv[i]));
            rc = kiln_cli_parse_id(&id, run, &err);
            if (colon)
                free(run);
            if (rc != 0 || (colon && !colon[1])) {
                status = kiln_cli_usage_error(&kiln_cmd_compare, "\"%s\": "
                                              "expected RUN, RUN:STEP or "
                                              "RUN:STEP[k=v,...]", argv[i]);
                goto done;
            }
            rc = colon ? kiln_store_compare_items(rows, store, id,
                                                  colon + 1, &err)
                       : kiln_store_compare_rows(&one, store, &id, 1, &err);
            if (rc != 0) {
                status = kiln_cli_fail(&err);
                goto done;
            }
            if (one) {
                json_array_extend(rows, one);
                json_decref(one);
            }
        }
    }
    if (o->sort)
        kiln_compare_sort(rows, o->sort);
    cols = kiln_compare_columns(rows, o->all);
    if (strcmp(o->format, "json") == 0) {
        json_t *doc = json_pack("{s:O, s:O, s:O}", "params",
                                json_object_get(cols, "params"), "metrics",
                                json_object_get(cols, "metrics"), "rows",
                                rows);
        kiln_cli_print_json(doc);
        json_decref(doc);
    } else {
        c = columns_of(cols, &ncols);
        if (strcmp(o->format, "csv") == 0)
            print_csv(rows, c, ncols);
        else
            print_table(rows, c, ncols, strcmp(o->format, "md") == 0);
        free(c);
    }
    json_decref(cols);
done:
    json_decref(rows);
    free(ids);
    kiln_store_close(store);
    return status;
}

const kiln_cmd kiln_cmd_compare = {
    .name = "compare",
    .summary = "Runs side by side: the params and metrics that differ.",
    .help = "  kiln compare RUN RUN... [--sort KEY[:asc]] [--all-params]\n"
            "  kiln compare RUN:STEP ...   (a sweep's items)\n"
            "               [--format table|csv|json|md]\n"
            "  kiln compare --pipeline P [--last N] ...\n\n"
            "One row per run. Columns are the params (as recorded) and "
            "metrics (STEP.KEY,\neach step's latest attempt) whose values "
            "differ between the rows; --all-params\nshows all of them. "
            "--sort orders rows by a metric, a param (params.NAME) or\n"
            "run, highest first (:asc for lowest first); rows without it "
            "come last.\n\nRUN:STEP compares the items of matrix step STEP "
            "in RUN (RUN:STEP[k=v,...]\none item): the run's params with "
            "each item's values, its metrics as STEP.KEY.\n",
    .notes = "Exit status: 0 done; 2 a usage error or an unknown run; 3 "
             "kiln could not work.\n",
    .opts = options,
    .opts_size = sizeof(compare_opts),
    .exec = exec_compare,
};
