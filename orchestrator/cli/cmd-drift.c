/* cmd-drift.c: kiln drift --reference A.csv --current B.csv [--column C]...
 * [--method M] [--threshold T] [--json] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "data/drift.h"

typedef struct drift_opts {
    const char *reference; /* --reference A.csv */
    const char *current;   /* --current B.csv */
    kiln_opt_list columns; /* --column C... */
    const char *method;    /* --method M */
    const char *threshold; /* --threshold T */
    bool json;             /* --json */
} drift_opts;

static const kiln_opt options[] = {
    KILN_OPT_VALUE('r', "reference", drift_opts, reference, "A.csv",
                   "the reference data", .flags = KILN_OPT_REQUIRED),
    KILN_OPT_VALUE('c', "current", drift_opts, current, "B.csv",
                   "the data to compare with it",
                   .flags = KILN_OPT_REQUIRED),
    KILN_OPT_LIST('C', "column", drift_opts, columns, "C", "only column C"),
    KILN_OPT_CHOICE('m', "method", drift_opts, method,
                    "psi|js|ks|wasserstein",
                    "the statistic that decides drift", .def = "psi"),
    KILN_OPT_VALUE('t', "threshold", drift_opts, threshold, "T",
                   "drift when the statistic exceeds T (ks: when its "
                   "p-value falls below T); defaults psi 0.2, js and "
                   "wasserstein 0.1, ks 0.05"),
    KILN_CLI_OPT_JSON(drift_opts),
    KILN_OPT_END,
};

static void print_num(double v)
{
    if (isnan(v))
        printf(" %12s", "-");
    else
        printf(" %12.6g", v);
}

/* The report's columns as a table. */
static void print_columns(json_t *doc)
{
    json_t *col;
    size_t i;
    printf("%-16s %-11s %8s %8s %12s %12s %12s %12s %12s  %s\n", "COLUMN",
           "TYPE", "N REF", "N CUR", "PSI", "JS", "KS", "KS P", "WASSER",
           "DRIFT");
    json_array_foreach(json_object_get(doc, "columns"), i, col) {
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

static int exec_drift(void *opts)
{
    const drift_opts *o = opts;
    const char *ref_path = o->reference, *cur_path = o->current;
    const char *method = o->method;
    char **columns = KILN_OPT_STRINGS(o->columns);
    size_t n_columns = o->columns.n;
    double threshold = NAN;
    kiln_err err = KILN_ERR_INIT;
    json_t *doc = NULL;
    int status = KILN_EXIT_OK;

    if (o->threshold) {
        char *end;
        threshold = strtod(o->threshold, &end);
        if (*end || end == o->threshold)
            return kiln_cli_usage_error(&kiln_cmd_drift, "--threshold "
                                        "expects a number, got \"%s\"",
                                        o->threshold);
    }
    if (isnan(threshold))
        threshold = strcmp(method, "ks") == 0 ? 0.05
                    : strcmp(method, "psi") == 0 ? 0.2 : 0.1;
    if (kiln_drift_report(&doc, NULL, ref_path, cur_path,
                          (const char *const *)columns, n_columns, method,
                          threshold, &err) != 0) {
        /* Unreadable or malformed, the input is unusable: 2. */
        kiln_err_print(&err);
        status = KILN_EXIT_USAGE;
    } else {
        kiln_cli_output(doc, o->json, print_columns);
    }
    json_decref(doc);
    return status;
}

const kiln_cmd kiln_cmd_drift = {
    .name = "drift",
    .summary = "Compare two CSV data sets column by column (PSI, JS, KS, "
               "Wasserstein).",
    .notes = "Exit status 0 whether or not there is drift; 2 on unusable "
             "input.\n",
    .opts = options,
    .opts_size = sizeof(drift_opts),
    .exec = exec_drift,
};
