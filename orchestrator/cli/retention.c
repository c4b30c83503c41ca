/*
 * retention.c: the retention options kiln gc --runs and kiln serve share
 * (retention.h).
 */
#include "cli/retention.h"

#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"

int kiln_cli_opt_keep(void *out, char *text, const kiln_opt *spec,
                      kiln_err *err)
{
    char *end;
    long long n;
    if (strcmp(text, "none") == 0) {
        *(int64_t *)out = -1;
        return 0;
    }
    n = strtoll(text, &end, 10);
    if (end == text || *end || n < 0 || n > 1000000000LL)
        return kiln_err_set(err, KILN_EINVAL, "--%s expects a number of "
                            "runs (0 to 1000000000) or none, got \"%s\"",
                            spec->name, text);
    *(int64_t *)out = n;
    return 0;
}

int kiln_cli_opt_age(void *out, char *text, const kiln_opt *spec,
                     kiln_err *err)
{
    kiln_err derr = KILN_ERR_INIT;
    if (strcmp(text, "none") == 0) {
        *(int64_t *)out = -1;
        return 0;
    }
    if (kiln_dsl_parse_duration(out, text, &derr) == 0)
        return 0;
    return kiln_err_set(err, KILN_EINVAL, "--%s: %s (or none)", spec->name,
                        derr.msg);
}

void kiln_cli_retention_defaults(kiln_store_retention *out,
                                 const kiln_cli_retention *r)
{
    out->keep_runs = r->keep_runs;
    out->runs_ms = r->runs_ms;
    out->keep_logs = r->keep_logs;
    out->logs_ms = r->logs_ms;
    out->compress_ms = r->compress_ms;
}
