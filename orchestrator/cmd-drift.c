/* cmd-drift.c: kiln drift --reference A.csv --current B.csv [--column C]...
 * [--method M] [--threshold T] [--json] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cli.h"
#include "drift.h"

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"reference", required_argument, NULL, 'r'},
    {"current", required_argument, NULL, 'c'},
    {"column", required_argument, NULL, 'C'},
    {"method", required_argument, NULL, 'm'},
    {"threshold", required_argument, NULL, 't'},
    {"json", no_argument, NULL, 'J'},
    {NULL, 0, NULL, 0},
};

/* Loading the reference on a thread of its own while the current file
 * loads: the two parses are independent. */
typedef struct load_job {
    kiln_csv_table *t;
    const char *path;
    kiln_err err;
    int rc;
} load_job;

static void load_thread(void *arg)
{
    load_job *j = arg;
    j->rc = kiln_csv_load(j->t, j->path, &j->err);
}

/* Comparing columns: the odd ones on a second thread (each column's sorts
 * are independent). */
typedef struct compare_job {
    kiln_csv_table *ref, *cur;
    kiln_csv_column **pairs;  /* ref, cur, ref, cur... NULL: skip */
    kiln_drift_stats *stats;
    size_t n, first;
} compare_job;

static void compare_thread(void *arg)
{
    compare_job *j = arg;
    for (size_t i = j->first; i < j->n; i += 2)
        if (j->pairs[2 * i])
            kiln_drift_compare(&j->stats[i], j->pairs[2 * i],
                               j->ref->n_rows, j->pairs[2 * i + 1],
                               j->cur->n_rows);
}

static json_t *num(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

static void print_num(double v)
{
    if (isnan(v))
        printf(" %12s", "-");
    else
        printf(" %12.6g", v);
}

static int exec_drift(int argc, char **argv)
{
    const char *ref_path = NULL, *cur_path = NULL, *method = "psi";
    char **columns = kiln_calloc((size_t)argc, sizeof(char *));
    size_t n_columns = 0;
    double threshold = NAN;
    bool json = false;
    kiln_csv_table ref, cur;
    kiln_err err = KILN_ERR_INIT;
    json_t *out = NULL;
    kiln_drift_stats *stats = NULL;
    int c, status = KILN_EXIT_OK;

    memset(&ref, 0, sizeof(ref));
    memset(&cur, 0, sizeof(cur));
    optind = 1;
    while ((c = getopt_long(argc, argv, "hr:c:C:m:t:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            kiln_cli_help(&kiln_cmd_drift);
            goto done;
        case 'r':
            ref_path = optarg;
            break;
        case 'c':
            cur_path = optarg;
            break;
        case 'C':
            columns[n_columns++] = optarg;
            break;
        case 'm':
            method = optarg;
            break;
        case 't': {
            char *end;
            threshold = strtod(optarg, &end);
            if (*end || end == optarg) {
                status = kiln_cli_usage_error(&kiln_cmd_drift, "--threshold"
                                              " expects a number");
                goto done;
            }
            break;
        }
        case 'J':
            json = true;
            break;
        default:
            status = kiln_cli_usage_error(&kiln_cmd_drift, "bad option");
            goto done;
        }
    }
    if (!ref_path || !cur_path || optind != argc) {
        status = kiln_cli_usage_error(&kiln_cmd_drift, "expected --reference "
                                      "and --current");
        goto done;
    }
    if (strcmp(method, "psi") && strcmp(method, "js") && strcmp(method, "ks")
        && strcmp(method, "wasserstein")) {
        status = kiln_cli_usage_error(&kiln_cmd_drift, "unknown method \"%s\""
                                      " (psi, js, ks or wasserstein)", method);
        goto done;
    }
    if (isnan(threshold))
        threshold = strcmp(method, "ks") == 0 ? 0.05
                    : strcmp(method, "psi") == 0 ? 0.2 : 0.1;
    {
        load_job j = {&ref, ref_path, KILN_ERR_INIT, 0};
        uv_thread_t tid;
        bool threaded = uv_thread_create(&tid, load_thread, &j) == 0;
        int rc;
        if (!threaded)
            load_thread(&j);
        rc = kiln_csv_load(&cur, cur_path, &err);
        if (threaded)
            uv_thread_join(&tid);
        if (j.rc != 0 || rc != 0) {
            /* Unreadable or malformed, the input is unusable: 2. */
            kiln_err_print(j.rc != 0 ? &j.err : &err);
            status = KILN_EXIT_USAGE;
            goto done;
        }
    }
    out = json_array();
    {
        compare_job jobs[2];
        uv_thread_t tid;
        kiln_csv_column **pairs = kiln_calloc(2 * ref.n_cols + 2,
                                              sizeof(*pairs));
        stats = kiln_calloc(ref.n_cols + 1, sizeof(*stats));
        for (size_t i = 0; i < ref.n_cols; i++) {
            bool wanted = n_columns == 0;
            for (size_t k = 0; k < n_columns; k++)
                wanted |= strcmp(columns[k], ref.cols[i].name) == 0;
            pairs[2 * i + 1] = kiln_csv_column_find(&cur, ref.cols[i].name);
            if (wanted && pairs[2 * i + 1])
                pairs[2 * i] = &ref.cols[i];
        }
        for (int t = 0; t < 2; t++) {
            jobs[t].ref = &ref;
            jobs[t].cur = &cur;
            jobs[t].pairs = pairs;
            jobs[t].stats = stats;
            jobs[t].n = ref.n_cols;
            jobs[t].first = (size_t)t;
        }
        if (uv_thread_create(&tid, compare_thread, &jobs[1]) == 0) {
            compare_thread(&jobs[0]);
            uv_thread_join(&tid);
        } else {
            compare_thread(&jobs[0]);
            compare_thread(&jobs[1]);
        }
        for (size_t i = 0; i < ref.n_cols; i++)
            if (!pairs[2 * i])
                stats[i].n_ref = (size_t)-1; /* not compared */
        free(pairs);
    }
    for (size_t i = 0; i < ref.n_cols; i++) {
        kiln_csv_column *rc = &ref.cols[i];
        kiln_drift_stats s = stats[i];
        bool drift = false;
        if (s.n_ref == (size_t)-1)
            continue;
        kiln_drift_decide(&drift, &s, method, threshold, NULL);
        json_array_append_new(out, json_pack(
            "{s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
            "name", rc->name, "type", s.numeric ? "numeric" : "categorical",
            "n_reference", (json_int_t)s.n_ref, "n_current",
            (json_int_t)s.n_cur, "missing_reference", num(s.missing_ref),
            "missing_current", num(s.missing_cur), "psi", num(s.psi), "js",
            num(s.js), "ks", num(s.ks), "ks_pvalue", num(s.ks_pvalue),
            "wasserstein", num(s.wasserstein), "drift", drift));
    }
    for (size_t k = 0; k < n_columns; k++) {
        if (!kiln_csv_column_find(&ref, columns[k]) ||
            !kiln_csv_column_find(&cur, columns[k])) {
            kiln_err_set(&err, KILN_EINVAL, "column \"%s\" is not in both "
                         "files", columns[k]);
            status = kiln_cli_fail(&err);
            goto done;
        }
    }
    if (json) {
        json_t *doc = json_pack("{s:O}", "columns", out);
        kiln_cli_print_json(doc);
        json_decref(doc);
    } else {
        json_t *col;
        size_t i;
        printf("%-16s %-11s %8s %8s %12s %12s %12s %12s %12s  %s\n", "COLUMN",
               "TYPE", "N REF", "N CUR", "PSI", "JS", "KS", "KS P", "WASSER",
               "DRIFT");
        json_array_foreach(out, i, col) {
            printf("%-16s %-11s %8lld %8lld",
                   json_string_value(json_object_get(col, "name")),
                   json_string_value(json_object_get(col, "type")),
                   (long long)json_integer_value(json_object_get(col,
                                                 "n_reference")),
                   (long long)json_integer_value(json_object_get(col,
                                                 "n_current")));
            print_num(json_is_number(json_object_get(col, "psi"))
                ? json_number_value(json_object_get(col, "psi")) : NAN);
            print_num(json_is_number(json_object_get(col, "js"))
                ? json_number_value(json_object_get(col, "js")) : NAN);
            print_num(json_is_number(json_object_get(col, "ks"))
                ? json_number_value(json_object_get(col, "ks")) : NAN);
            print_num(json_is_number(json_object_get(col, "ks_pvalue"))
                ? json_number_value(json_object_get(col, "ks_pvalue")) : NAN);
            print_num(json_is_number(json_object_get(col, "wasserstein"))
                ? json_number_value(json_object_get(col, "wasserstein"))
                : NAN);
            printf("  %s\n", json_is_true(json_object_get(col, "drift"))
                                 ? "yes" : "no");
        }
    }
done:
    free(stats);
    json_decref(out);
    kiln_csv_table_dispose(&ref);
    kiln_csv_table_dispose(&cur);
    free(columns);
    return status;
}

const kiln_cmd kiln_cmd_drift = {
    .name = "drift",
    .usage = "drift --reference A.csv --current B.csv [--column C]... "
             "[--method psi|js|ks|wasserstein] [--threshold T] [--json]",
    .summary = "Compare two CSV data sets column by column (PSI, JS, KS, "
               "Wasserstein).",
    .help = "Exit status 0 whether or not there is drift; 2 on unusable "
            "input.\n\nOptions:\n"
            "  -C, --column C      only column C (repeatable)\n"
            "  -m, --method M      the statistic that decides drift "
            "(default psi)\n"
            "  -t, --threshold T   drift when the statistic exceeds T (ks: "
            "when its\n"
            "                      p-value falls below T); defaults psi 0.2, "
            "js and\n"
            "                      wasserstein 0.1, ks 0.05\n"
            "      --json          print JSON\n",
    .exec = exec_drift,
};
