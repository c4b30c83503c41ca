/*
 * retention.h: the retention options kiln gc --runs and kiln serve share
 * (retention.c): the limits of pipelines without a retention: of their
 * own, and the ages of trigger checks, fires and notifications.
 */
#ifndef KILN_CLI_RETENTION_H
#define KILN_CLI_RETENTION_H

#include "cli/opt.h"
#include "store/store.h"

typedef struct kiln_cli_retention {
    int64_t keep_runs;        /* --keep-runs N; -1: none */
    int64_t runs_ms;          /* --keep-runs-for DURATION */
    int64_t keep_logs;        /* --keep-logs N */
    int64_t logs_ms;          /* --keep-logs-for DURATION */
    int64_t compress_ms;      /* --compress-logs-after DURATION */
    int64_t checks_ms;        /* --keep-checks-for DURATION */
    int64_t notifications_ms; /* --keep-notifications-for DURATION */
} kiln_cli_retention;

/* "none" (-1) or a count, into an int64_t. */
int kiln_cli_opt_keep(void *out, char *text, const kiln_opt *spec,
                      kiln_err *err);
/* "none" (-1) or a duration (10s, 90d), into an int64_t of ms. */
int kiln_cli_opt_age(void *out, char *text, const kiln_opt *spec,
                     kiln_err *err);

/* The rows, for a field f of type kiln_cli_retention in T. */
#define KILN_CLI_OPTS_RETENTION(T, f)                                     \
    KILN_OPT_PARSED(0, "keep-runs", T, f.keep_runs, int64_t,              \
                    kiln_cli_opt_keep, "N", "keep the newest N runs of "  \
                    "each pipeline without retention: of its own",        \
                    .def = "none"),                                       \
    KILN_OPT_PARSED(0, "keep-runs-for", T, f.runs_ms, int64_t,            \
                    kiln_cli_opt_age, "DURATION", "...and none finished " \
                    "longer ago (90d)", .def = "none"),                   \
    KILN_OPT_PARSED(0, "keep-logs", T, f.keep_logs, int64_t,              \
                    kiln_cli_opt_keep, "N", "keep the logs of the newest " \
                    "N runs", .def = "none"),                             \
    KILN_OPT_PARSED(0, "keep-logs-for", T, f.logs_ms, int64_t,            \
                    kiln_cli_opt_age, "DURATION", "...and of none "       \
                    "finished longer ago", .def = "none"),                \
    KILN_OPT_PARSED(0, "compress-logs-after", T, f.compress_ms, int64_t,  \
                    kiln_cli_opt_age, "DURATION", "gzip the logs of runs " \
                    "finished longer ago", .def = "none"),                \
    KILN_OPT_PARSED(0, "keep-checks-for", T, f.checks_ms, int64_t,        \
                    kiln_cli_opt_age, "DURATION", "delete trigger checks, " \
                    "schedule fires and ended page sessions older than "  \
                    "this", .def = "30d"),                                \
    KILN_OPT_PARSED(0, "keep-notifications-for", T, f.notifications_ms,   \
                    int64_t, kiln_cli_opt_age, "DURATION", "delete "      \
                    "notifications older than this", .def = "90d")

/* The limits as the store takes them. */
void kiln_cli_retention_defaults(kiln_store_retention *out,
                                 const kiln_cli_retention *r);

#endif
