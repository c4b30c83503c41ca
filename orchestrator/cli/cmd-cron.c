/* cmd-cron.c: kiln cron next 'EXPR' [--tz ZONE] [--after TIME] [--count N]
 *
 * Operators check a schedule with the same code the daemon arms its
 * timers with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/cron.h"
#include "cli/cli.h"

typedef struct cron_opts {
    const char *verb;  /* next */
    const char *expr;  /* 'EXPR' */
    const char *zone;  /* --tz ZONE */
    const char *after; /* --after TIME */
    long count;        /* --count N */
} cron_opts;

static const kiln_opt options[] = {
    KILN_OPT_ARG(cron_opts, verb, "next", NULL),
    KILN_OPT_ARG(cron_opts, expr, "'EXPR'", NULL),
    KILN_OPT_VALUE('z', "tz", cron_opts, zone, "ZONE", "IANA time zone",
                   .def = "UTC"),
    KILN_OPT_VALUE('a', "after", cron_opts, after, "TIME", "start after "
                   "TIME, ISO-8601 with Z or an offset (default: now)"),
    KILN_OPT_INT('n', "count", cron_opts, count, "N", 1, 100000,
                 "how many fire times", .def = "1"),
    KILN_OPT_END,
};

static int exec_cron(void *opts)
{
    const cron_opts *o = opts;
    int64_t t = kiln_now_ms() / 1000;
    kiln_err err = KILN_ERR_INIT;
    kiln_cron cron;
    size_t offset;

    if (strcmp(o->verb, "next") != 0)
        return kiln_cli_usage_error(&kiln_cmd_cron, "expected: next 'EXPR'");
    if (!kiln_tz_valid(o->zone))
        return kiln_cli_usage_error(&kiln_cmd_cron, "unknown time zone "
                                    "\"%s\" (an IANA name such as "
                                    "Europe/Lisbon)", o->zone);
    if (o->after && kiln_time_parse_iso(&t, o->after, &err) != 0)
        return kiln_cli_usage_error(&kiln_cmd_cron, "%s", err.msg);
    if (kiln_cron_parse(&cron, o->expr, &offset, &err) != 0) {
        fprintf(stderr, "kiln cron: error: %s\n  %s\n  %*s^\n", err.msg,
                o->expr, (int)offset, "");
        return KILN_EXIT_USAGE;
    }
    for (long i = 0; i < o->count; i++) {
        char buf[40];
        t = kiln_cron_next(&cron, o->zone, t);
        if (t < 0)
            break;
        printf("%s\n", kiln_time_iso(buf, sizeof(buf), t, o->zone));
    }
    return KILN_EXIT_OK;
}

const kiln_cmd kiln_cmd_cron = {
    .name = "cron",
    .summary = "Print the next fire times of a cron expression.",
    .opts = options,
    .opts_size = sizeof(cron_opts),
    .exec = exec_cron,
};
