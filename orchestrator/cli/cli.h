/*
 * cli.h: the subcommand table and helpers shared by cmd-*.c.
 *
 * Each cmd-<name>.c exports one const kiln_cmd, its options declared in
 * a table (opt.h) that parses them and prints its --help; main.c only
 * dispatches, through kiln_cli_run().
 */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include "base/base.h"
#include "dsl/dsl.h"
#include "store/json.h"
#include "cli/opt.h"

typedef enum kiln_cmd_kind {
    KILN_CMD_PUBLIC = 0, /* listed by `kiln --help` */
    KILN_CMD_INTERNAL,   /* listed apart: kiln runs it as a step */
    KILN_CMD_HIDDEN      /* not listed (__complete) */
} kiln_cmd_kind;

typedef struct kiln_cmd {
    const char *name;
    const char *summary;     /* one line for `kiln --help` */
    const char *help;        /* paragraphs before the options in `kiln CMD
                                --help`, or NULL */
    const char *notes;       /* paragraphs after them (exit statuses), or
                                NULL */
    const kiln_opt *opts;    /* its options and arguments (opt.h) */
    size_t opts_size;        /* the size of the struct they fill */
    int (*exec)(void *opts); /* runs it on that struct; returns an exit
                                status */
    kiln_cmd_kind kind;
} kiln_cmd;

extern const kiln_cmd kiln_cmd_run;
extern const kiln_cmd kiln_cmd_validate;
extern const kiln_cmd kiln_cmd_dag;
extern const kiln_cmd kiln_cmd_runs;
extern const kiln_cmd kiln_cmd_show;
extern const kiln_cmd kiln_cmd_logs;
extern const kiln_cmd kiln_cmd_why;
extern const kiln_cmd kiln_cmd_reproduce;
extern const kiln_cmd kiln_cmd_cron;
extern const kiln_cmd kiln_cmd_lineage;
extern const kiln_cmd kiln_cmd_artifacts;
extern const kiln_cmd kiln_cmd_metrics;
extern const kiln_cmd kiln_cmd_compare;
extern const kiln_cmd kiln_cmd_models;
extern const kiln_cmd kiln_cmd_gc;
extern const kiln_cmd kiln_cmd_drift;
extern const kiln_cmd kiln_cmd_serve;
extern const kiln_cmd kiln_cmd_status;
extern const kiln_cmd kiln_cmd_trigger;
extern const kiln_cmd kiln_cmd_triggers;
extern const kiln_cmd kiln_cmd_cancel;
extern const kiln_cmd kiln_cmd_resume;
extern const kiln_cmd kiln_cmd_retry;
extern const kiln_cmd kiln_cmd_abandon;
extern const kiln_cmd kiln_cmd_audit;
extern const kiln_cmd kiln_cmd_users;
extern const kiln_cmd kiln_cmd_tokens;
extern const kiln_cmd kiln_cmd_validate_step; /* internal */
extern const kiln_cmd kiln_cmd_complete;      /* hidden */

/* Every command, in `kiln --help` order; NULL ends it. */
extern const kiln_cmd *const kiln_cli_commands[];

/* The command called name, or NULL. */
const kiln_cmd *kiln_cli_find(const char *name);

/*
 * Run cmd on its arguments (argv[0] is its name): parse them by cmd->opts
 * into a struct of its own, print --help or a usage error, or call
 * cmd->exec. Returns the exit status.
 */
int kiln_cli_run(const kiln_cmd *cmd, int argc, char **argv);

/*
 * Rows for the options several commands share (opt.h), each declared
 * here once. T is the command's options struct; its field is named after
 * the option (state, json, pipeline, jobs, pools, params, junit,
 * server, token_file).
 */
#define KILN_CLI_OPT_STATE(T)                                             \
    KILN_OPT_VALUE('s', "state", T, state, "DIR", "state directory "     \
                   "(default: $KILN_STATE, else .kiln/ at the top of the " \
                   "Git work tree)", .flags = KILN_OPT_NONEMPTY)
#define KILN_CLI_OPT_JSON_HELP(T, h) KILN_OPT_SWITCH(0, "json", T, json, h)
#define KILN_CLI_OPT_JSON(T) KILN_CLI_OPT_JSON_HELP(T, "print JSON")
#define KILN_CLI_OPT_PIPELINE(T)                                          \
    KILN_OPT_VALUE('P', "pipeline", T, pipeline, "P",                     \
                   "only runs of pipeline P")
#define KILN_CLI_OPT_JOBS(T, h)                                           \
    KILN_OPT_INT('j', "jobs", T, jobs, "N", 1, 4096, h)
#define KILN_CLI_OPT_POOL(T)                                              \
    KILN_OPT_LIST_OF(0, "pool", T, pools, kiln_kv, kiln_cli_opt_pool,     \
                     "NAME=N", "at most N steps of pool NAME at once")
#define KILN_CLI_OPT_PARAM(T)                                             \
    KILN_OPT_LIST_OF('p', "param", T, params, kiln_kv, kiln_cli_opt_param, \
                     "NAME=VALUE", "override a parameter; steps see it as " \
                     "$KILN_PARAM_NAME")
#define KILN_CLI_OPT_JUNIT(T)                                             \
    KILN_OPT_VALUE(0, "junit", T, junit, "PATH", "write a JUnit XML "      \
                   "report (a testcase per step)")
#define KILN_CLI_OPT_SERVER(T)                                            \
    KILN_OPT_VALUE(0, "server", T, server, "URL", "a kiln serve's HTTP "   \
                   "API (http://host:8080/; or $KILN_SERVER); without it, " \
                   "the daemon of the local state directory")
#define KILN_CLI_OPT_TOKEN_FILE(T, h)                                     \
    KILN_OPT_VALUE(0, "token-file", T, token_file, "FILE", h)
/* A run id argument, parsed into an int64_t. */
#define KILN_CLI_ARG_RUN(T, f)                                            \
    KILN_OPT_ARG_OF(T, f, int64_t, kiln_cli_opt_run_id, "RUN", NULL)

/* Parsers for those rows (kiln_opt_parse_fn): a run id into an int64_t;
 * NAME=VALUE and NAME=N (N from 1 to 4096) into a kiln_kv pointing into
 * the text, which they edit. */
int kiln_cli_opt_run_id(void *out, char *text, const kiln_opt *spec,
                        kiln_err *err);
int kiln_cli_opt_param(void *out, char *text, const kiln_opt *spec,
                       kiln_err *err);
int kiln_cli_opt_pool(void *out, char *text, const kiln_opt *spec,
                      kiln_err *err);
/* T into an int64_t of ms since the epoch: a time in UTC (2026-12-01,
 * 2026-12-01T05:00[:00][Z]), or a duration ago (30m, 2h, 7d). */
int kiln_cli_opt_when(void *out, char *text, const kiln_opt *spec,
                      kiln_err *err);

/* Report a usage error ("kiln run: ...") and return KILN_EXIT_USAGE. */
int kiln_cli_usage_error(const kiln_cmd *cmd, const char *fmt, ...)
    KILN_PRINTF(2, 3);
/* Report err in compiler style and return its exit status. */
int kiln_cli_fail(const kiln_err *err);
/* A command that records (kiln run, kiln serve) outlives the reader of
 * its output: a closed pipe (kiln run | head -1) no longer kills it with
 * SIGPIPE, which left its run recorded running; its writes fail instead,
 * and it goes on. A handler, not SIG_IGN, so what it starts gets the
 * default back at exec. */
void kiln_cli_survive_closed_pipe(void);
/* After the command: stdout written in full, else say why on stderr and
 * return KILN_EXIT_SYSTEM in place of a 0 status (a reader gone from a
 * pipe after kiln_cli_survive_closed_pipe() leaves status as it is). */
int kiln_cli_check_stdout(int status);

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
/* Warn (stderr, FILE:LINE:COL) about each input no step writes and the
 * disk does not have. */
void kiln_cli_warn_inputs(const kiln_pipeline *p);

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
/* Print doc on stdout: as JSON with json (--json), else by print. */
void kiln_cli_output(json_t *doc, bool json, void (*print)(json_t *doc));

/* Parse a run id ("12"); KILN_EINVAL otherwise. */
int kiln_cli_parse_id(int64_t *out, const char *text, kiln_err *err);

#endif
