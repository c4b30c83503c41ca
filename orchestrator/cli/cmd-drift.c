/* cmd-drift.c: kiln drift --reference A.csv --current B.csv [--column C]...
 * [--method M] [--threshold T] [--json] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "data/drift.h"

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
    kiln_err err = KILN_ERR_INIT;
    json_t *doc = NULL, *out;
    int c, status = KILN_EXIT_OK;

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
    if (kiln_drift_report(&doc, NULL, ref_path, cur_path,
                          (const char *const *)columns, n_columns, method,
                          threshold, &err) != 0) {
        /* Unreadable or malformed, the input is unusable: 2. */
        kiln_err_print(&err);
        status = KILN_EXIT_USAGE;
        goto done;
    }
    out = json_object_get(doc, "columns");
    if (json) {
        kiln_cli_print_json(doc);
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
    json_decref(doc);
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
