/*
 * cli.h: the subcommand table and helpers shared by cmd-*.c.
 *
 * Each cmd-<name>.c exports one const kiln_cmd; main.c only dispatches.
 */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include <getopt.h>

#include "base/base.h"
#include "dsl/dsl.h"
#include "store/json.h"

typedef struct kiln_cmd {
    const char *name;
    const char *usage;   /* "run FILE [options]" */
    const char *summary; /* one line for `kiln --help` */
    const char *help;    /* the options, for `kiln CMD --help` */
    int (*exec)(int argc, char **argv); /* returns an exit status */
} kiln_cmd;

extern const kiln_cmd kiln_cmd_run;
extern const kiln_cmd kiln_cmd_validate;
extern const kiln_cmd kiln_cmd_dag;
extern const kiln_cmd kiln_cmd_runs;
extern const kiln_cmd kiln_cmd_show;
extern const kiln_cmd kiln_cmd_logs;
extern const kiln_cmd kiln_cmd_cron;
extern const kiln_cmd kiln_cmd_lineage;
extern const kiln_cmd kiln_cmd_metrics;
extern const kiln_cmd kiln_cmd_models;
extern const kiln_cmd kiln_cmd_gc;
extern const kiln_cmd kiln_cmd_drift;
extern const kiln_cmd kiln_cmd_serve;
extern const kiln_cmd kiln_cmd_status;
extern const kiln_cmd kiln_cmd_trigger;
extern const kiln_cmd kiln_cmd_triggers;
extern const kiln_cmd kiln_cmd_cancel;
extern const kiln_cmd kiln_cmd_resume;
extern const kiln_cmd kiln_cmd_abandon;
extern const kiln_cmd kiln_cmd_validate_step; /* internal */

/* Print a command's usage and help to stdout. */
void kiln_cli_help(const kiln_cmd *cmd);
/* Report a usage error ("kiln run: ...") and return KILN_EXIT_USAGE. */
int kiln_cli_usage_error(const kiln_cmd *cmd, const char *fmt, ...)
    KILN_PRINTF(2, 3);
/* Report err in compiler style and return its exit status. */
int kiln_cli_fail(const kiln_err *err);

/* The state directory of commands that are not given a pipeline file:
 * state_opt (--state), else $KILN_STATE, else .kiln/ at the top of the Git
 * work tree holding the current directory, else ./.kiln. Free it. */
char *kiln_cli_state_dir(const char *state_opt);

/*
 * Open the store of an existing state directory: state_opt (--state),
 * else $KILN_STATE, else .kiln/ at the top of the Git work tree holding
 * the current directory, else ./.kiln. readonly for commands that only
 * read (they then work on a full disk or a read-only directory). Returns
 * KILN_ENOTFOUND when there is no kiln.db there.
 */
int kiln_cli_open_store(kiln_store **out, const char *state_opt,
                        bool readonly, kiln_err *err);

/* Checks beyond the file itself (the step's executor exists here); adds
 * errors to diag and returns KILN_EINVAL when there are any. */
int kiln_cli_check_pipeline(const kiln_pipeline *p, kiln_diag *diag);

/* Parse --pool NAME=N into kv (pointing into arg, which it edits). */
int kiln_cli_parse_pool(kiln_kv *kv, char *arg, kiln_err *err);

/* Parse --param NAME=VALUE into kv (pointing into arg, which it edits). */
int kiln_cli_parse_param(kiln_kv *kv, char *arg, kiln_err *err);
/* The API token: the first line of file when given, else $KILN_TOKEN, else
 * NULL (*out; free it). */
int kiln_cli_read_token(char **out, const char *file, kiln_err *err);
/* Send req to the kiln serve of the local state directory (its inbox)
 * and wait up to 10 s for *reply. Returns 0, or an exit status after
 * saying why (no daemon running, no answer). */
int kiln_cli_ask_daemon(json_t **reply, const char *state_opt, json_t *req);
/* o[key] as a string, or "-" when it is not one (for tables). */
const char *kiln_cli_str(json_t *o, const char *key);

/* Print v as indented JSON and a newline on stdout (--json). */
void kiln_cli_print_json(json_t *v);

/* Parse a run id ("12"); KILN_EINVAL otherwise. */
int kiln_cli_parse_id(int64_t *out, const char *text, kiln_err *err);

#endif
