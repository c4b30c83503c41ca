/* cmd-metrics.c: kiln metrics [--pipeline P] [--key K] [--last N] [--json]
 *                kiln metrics diff RUN_A RUN_B [--json] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"pipeline", required_argument, NULL, 'P'},
    {"key", required_argument, NULL, 'k'},
    {"last", required_argument, NULL, 'n'},
    {"state", required_argument, NULL, 's'},
    {"json", no_argument, NULL, 'J'},
    {NULL, 0, NULL, 0},
};

static const char *key_of(json_t *row, char *buf, size_t size)
{
    snprintf(buf, size, "%s.%s",
             json_string_value(json_object_get(row, "step")),
             json_string_value(json_object_get(row, "key")));
    return buf;
}

/* Rows of two runs side by side: {"step.key": [a, b]}. */
static json_t *diff(json_t *rows, int64_t a, int64_t b)
{
    json_t *out = json_object(), *row;
    size_t i;
    char k[512];
    json_array_foreach(rows, i, row) {
        json_t *pair = json_object_get(out, key_of(row, k, sizeof(k)));
        if (!pair) {
            pair = json_pack("[nn]");
            json_object_set_new(out, k, pair);
        }
        json_array_set(pair, json_integer_value(json_object_get(row,
                       "run_id")) == a ? 0 : 1, json_object_get(row,
                       "value"));
    }
    (void)b;
    return out;
}

static void print_value(json_t *v)
{
    if (json_is_number(v))
        printf(" %14.6g", json_number_value(v));
    else
        printf(" %14s", "-");
}

static int exec_metrics(int argc, char **argv)
{
    const char *pipeline = NULL, *key = NULL, *state = NULL;
    bool json = false;
    int c, last = 10, status;
    int64_t a = 0, b = 0;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *rows = NULL;

    optind = 1;
    while ((c = getopt_long(argc, argv, "hP:k:n:s:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            kiln_cli_help(&kiln_cmd_metrics);
            return KILN_EXIT_OK;
        case 'P':
            pipeline = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'n':
            last = atoi(optarg);
            if (last < 1)
                return kiln_cli_usage_error(&kiln_cmd_metrics, "--last "
                                            "expects a positive number");
            break;
        case 's':
            state = optarg;
            break;
        case 'J':
            json = true;
            break;
        default:
            return kiln_cli_usage_error(&kiln_cmd_metrics, "bad option");
        }
    }
    if (optind < argc && strcmp(argv[optind], "diff") == 0) {
        if (optind + 3 != argc)
            return kiln_cli_usage_error(&kiln_cmd_metrics, "diff expects "
                                        "RUN_A RUN_B");
        if (kiln_cli_parse_id(&a, argv[optind + 1], &err) != 0 ||
            kiln_cli_parse_id(&b, argv[optind + 2], &err) != 0)
            return kiln_cli_fail(&err);
    } else if (optind != argc) {
        return kiln_cli_usage_error(&kiln_cmd_metrics, "unexpected argument "
                                    "\"%s\"", argv[optind]);
    }
    if (kiln_cli_open_store(&store, state, true, &err) != 0 ||
        kiln_store_metrics_json(store, &rows, pipeline, key, last, a, b,
                                &err) != 0) {
        status = kiln_cli_fail(&err);
        kiln_store_close(store);
        return status;
    }
    if (a) {
        json_t *d = diff(rows, a, b), *pair;
        const char *k;
        if (json) {
            kiln_cli_print_json(d);
        } else {
            printf("%-32s %14s %14s %14s\n", "METRIC", "run A", "run B",
                   "change");
            json_object_foreach(d, k, pair) {
                json_t *va = json_array_get(pair, 0), *vb = json_array_get(
                    pair, 1);
                printf("%-32s", k);
                print_value(va);
                print_value(vb);
                if (json_is_number(va) && json_is_number(vb))
                    printf(" %+14.6g", json_number_value(vb) -
                                           json_number_value(va));
                printf("\n");
            }
        }
        json_decref(d);
    } else if (json) {
        kiln_cli_print_json(rows);
    } else {
        json_t *row;
        size_t i;
        char k[512];
        printf("%-6s %-20s %-32s %14s\n", "RUN", "PIPELINE", "METRIC",
               "VALUE");
        json_array_foreach(rows, i, row) {
            printf("%-6lld %-20s %-32s",
                   (long long)json_integer_value(json_object_get(row,
                                                 "run_id")),
                   json_string_value(json_object_get(row, "pipeline")),
                   key_of(row, k, sizeof(k)));
            print_value(json_object_get(row, "value"));
            printf("\n");
        }
    }
    json_decref(rows);
    kiln_store_close(store);
    return KILN_EXIT_OK;
}

const kiln_cmd kiln_cmd_metrics = {
    .name = "metrics",
    .usage = "metrics [--pipeline P] [--key K] [--last N] [--json] | "
             "metrics diff RUN_A RUN_B",
    .summary = "Show steps' metrics across runs, or compare two runs.",
    .help = "Steps write a JSON object of numbers to $KILN_METRICS, or to "
            "the file\nnamed by `metrics:`; nested objects become dotted "
            "keys.\n\nOptions:\n"
            "  -P, --pipeline P   only runs of pipeline P\n"
            "  -k, --key K        only metric K (KEY or STEP.KEY)\n"
            "  -n, --last N       the last N runs with metrics (default 10)\n"
            "  -s, --state DIR    state directory (see kiln run --help)\n"
            "      --json         print JSON\n",
    .exec = exec_metrics,
};
