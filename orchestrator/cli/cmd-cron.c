/* cmd-cron.c: kiln cron next 'EXPR' [--tz ZONE] [--after TIME] [--count N]
 *
 * Operators check a schedule with the same code the daemon arms its
 * timers with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/cron.h"
#include "cli/cli.h"

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"tz", required_argument, NULL, 'z'},
    {"after", required_argument, NULL, 'a'},
    {"count", required_argument, NULL, 'n'},
    {NULL, 0, NULL, 0},
};

static int exec_cron(int argc, char **argv)
{
    const char *zone = "UTC", *after_text = NULL;
    int64_t t = kiln_now_ms() / 1000;
    kiln_err err = KILN_ERR_INIT;
    kiln_cron cron;
    size_t offset;
    long count = 1;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "hz:a:n:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            kiln_cli_help(&kiln_cmd_cron);
            return KILN_EXIT_OK;
        case 'z':
            zone = optarg;
            break;
        case 'a':
            after_text = optarg;
            break;
        case 'n': {
            char *end;
            count = strtol(optarg, &end, 10);
            if (*end || count < 1 || count > 100000)
                return kiln_cli_usage_error(&kiln_cmd_cron, "--count "
                                            "expects 1 to 100000");
            break;
        }
        default:
            return kiln_cli_usage_error(&kiln_cmd_cron, "bad option");
        }
    }
    if (optind != argc - 2 || strcmp(argv[optind], "next") != 0)
        return kiln_cli_usage_error(&kiln_cmd_cron, "expected: next 'EXPR'");
    if (!kiln_tz_valid(zone))
        return kiln_cli_usage_error(&kiln_cmd_cron, "unknown time zone "
                                    "\"%s\" (an IANA name such as "
                                    "Europe/Lisbon)", zone);
    if (after_text && kiln_time_parse_iso(&t, after_text, &err) != 0)
        return kiln_cli_usage_error(&kiln_cmd_cron, "%s", err.msg);
    if (kiln_cron_parse(&cron, argv[optind + 1], &offset, &err) != 0) {
        fprintf(stderr, "kiln cron: error: %s\n  %s\n  %*s^\n", err.msg,
                argv[optind + 1], (int)offset, "");
        return KILN_EXIT_USAGE;
    }
    for (long i = 0; i < count; i++) {
        char buf[40];
        t = kiln_cron_next(&cron, zone, t);
        if (t < 0)
            break;
        printf("%s\n", kiln_time_iso(buf, sizeof(buf), t, zone));
    }
    return KILN_EXIT_OK;
}

const kiln_cmd kiln_cmd_cron = {
    .name = "cron",
    .usage = "cron next 'EXPR' [--tz ZONE] [--after TIME] [--count N]",
    .summary = "Print the next fire times of a cron expression.",
    .help = "Options:\n"
            "  -z, --tz ZONE      IANA time zone (default UTC)\n"
            "  -a, --after TIME   start after TIME, ISO-8601 with Z or an "
            "offset\n"
            "                     (default: now)\n"
            "  -n, --count N      how many fire times (default 1)\n",
    .exec = exec_cron,
};
