/* cli.c: the command table, running a command by its option table (help,
 * usage errors), and the state lookup of reading commands. */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "git/git.h"
#include "daemon/inbox.h"
#include "daemon/lock.h"
#include "cli/state.h"

const kiln_cmd *const kiln_cli_commands[] = {
    &kiln_cmd_run,  &kiln_cmd_validate, &kiln_cmd_dag,
    &kiln_cmd_runs, &kiln_cmd_show,     &kiln_cmd_logs, &kiln_cmd_why,
    &kiln_cmd_retry, &kiln_cmd_reproduce,
    &kiln_cmd_lineage, &kiln_cmd_artifacts,
    &kiln_cmd_metrics, &kiln_cmd_compare, &kiln_cmd_models, &kiln_cmd_gc,
    &kiln_cmd_drift,
    &kiln_cmd_serve, &kiln_cmd_status, &kiln_cmd_trigger, &kiln_cmd_triggers,
    &kiln_cmd_cancel, &kiln_cmd_resume, &kiln_cmd_abandon,
    &kiln_cmd_audit, &kiln_cmd_users, &kiln_cmd_tokens,
    &kiln_cmd_cron,
    &kiln_cmd_validate_step,
    &kiln_cmd_complete,
    NULL,
};

const kiln_cmd *kiln_cli_find(const char *name)
{
    for (size_t i = 0; kiln_cli_commands[i]; i++)
        if (strcmp(kiln_cli_commands[i]->name, name) == 0)
            return kiln_cli_commands[i];
    return NULL;
}

/* "usage: kiln run FILE [--param NAME=VALUE]... [--jobs N]...", then
 * suffix. */
static void usage_line(FILE *f, const kiln_cmd *cmd, const char *suffix)
{
    char *prefix = kiln_asprintf("usage: kiln %s ", cmd->name);
    kiln_opt_usage(f, prefix, cmd->opts, suffix);
    free(prefix);
}

/* Print cmd's usage, its help and its options to stdout (--help). */
static void help(const kiln_cmd *cmd)
{
    usage_line(stdout, cmd, NULL);
    printf("\n%s\n", cmd->summary);
    if (cmd->help)
        printf("\n%s", cmd->help);
    printf("\n");
    kiln_opt_help(stdout, cmd->opts);
    if (cmd->notes)
        printf("\n%s", cmd->notes);
}

int kiln_cli_usage_error(const kiln_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    char *see = kiln_asprintf("(see kiln %s --help)", cmd->name);
    fprintf(stderr, "kiln %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    usage_line(stderr, cmd, see);
    free(see);
    return KILN_EXIT_USAGE;
}

int kiln_cli_run(const kiln_cmd *cmd, int argc, char **argv)
{
    void *opts = kiln_calloc(1, cmd->opts_size ? cmd->opts_size : 1);
    kiln_err err = KILN_ERR_INIT;
    int rc = kiln_opt_parse(cmd->opts, opts, argc - 1, argv + 1, &err);
    int status;

    if (rc == KILN_OPT_HELP) {
        help(cmd);
        status = KILN_EXIT_OK;
    } else if (rc != 0) {
        status = kiln_cli_usage_error(cmd, "%s", err.msg);
    } else {
        status = cmd->exec(opts);
    }
    kiln_opt_dispose(cmd->opts, opts);
    free(opts);
    return status;
}

static volatile sig_atomic_t pipe_closed;

static void on_sigpipe(int sig)
{
    (void)sig;
    pipe_closed = 1;
}

void kiln_cli_survive_closed_pipe(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigpipe;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
}

int kiln_cli_check_stdout(int status)
{
    int bad = fflush(stdout) != 0, e = errno;
    if (!bad && !ferror(stdout))
        return status;
    if (pipe_closed)
        return status; /* its reader left: nothing to say it to */
    fprintf(stderr, "kiln: error: cannot write the output: %s\n",
            bad ? strerror(e) : "a write failed");
    return status == KILN_EXIT_OK ? KILN_EXIT_SYSTEM : status;
}

int kiln_cli_fail(const kiln_err *err)
{
    kiln_err_print(err);
    return kiln_err_exit_code(err->code);
}

char *kiln_cli_state_dir(const char *state_opt)
{
    kiln_git_info git;
    kiln_err gerr = KILN_ERR_INIT;
    char *dir;
    memset(&git, 0, sizeof(git));
    if (!state_opt && !getenv("KILN_STATE"))
        kiln_git_inspect(&git, ".", &gerr);
    dir = kiln_state_dir_pick(state_opt, git.in_repo ? git.workdir : NULL,
                              ".");
    kiln_git_info_dispose(&git);
    return dir;
}

int kiln_cli_open_store(kiln_store **out, const char *state_opt,
                        bool readonly, kiln_err *err)
{
    char *dir, *db;
    int rc;

    *out = NULL;
    dir = kiln_cli_state_dir(state_opt);
    db = kiln_path_join(dir, "kiln.db");
    if (access(db, F_OK) != 0)
        rc = kiln_err_set(err, KILN_ENOTFOUND, "no kiln records in %s "
                          "(use --state DIR or run a pipeline first)", dir);
    else
        rc = readonly ? kiln_store_open_readonly(out, db, err)
                      : kiln_store_open(out, db, err);
    free(db);
    free(dir);
    return rc;
}

int kiln_cli_parse_id(int64_t *out, const char *text, kiln_err *err)
{
    char *end;
    long long v;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v <= 0)
        return kiln_err_set(err, KILN_EINVAL, "invalid run id \"%s\": "
                            "expected a positive number", text);
    *out = v;
    return 0;
}

int kiln_cli_opt_run_id(void *out, char *text, const kiln_opt *spec,
                        kiln_err *err)
{
    (void)spec;
    return kiln_cli_parse_id(out, text, err);
}

int kiln_cli_opt_pool(void *out, char *text, const kiln_opt *spec,
                      kiln_err *err)
{
    kiln_kv *kv = out;
    char *eq = strchr(text, '='), *end;
    long n;
    (void)spec;
    if (!eq || eq == text)
        return kiln_err_set(err, KILN_EINVAL, "--pool expects NAME=N, got "
                            "\"%s\"", text);
    *eq = '\0';
    n = strtol(eq + 1, &end, 10);
    if (!kiln_dsl_valid_name(text) || *end || end == eq + 1 || n < 1 ||
        n > 4096)
        return kiln_err_set(err, KILN_EINVAL, "--pool expects NAME=N with "
                            "N from 1 to 4096, got \"%s=%s\"", text, eq + 1);
    kv->key = text;
    kv->value = eq + 1;
    return 0;
}

void kiln_cli_print_json(json_t *v)
{
    json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
}

void kiln_cli_output(json_t *doc, bool json, void (*print)(json_t *doc))
{
    if (json)
        kiln_cli_print_json(doc);
    else
        print(doc);
}

const char *kiln_cli_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

int kiln_cli_opt_when(void *out, char *text, const kiln_opt *spec,
                      kiln_err *err)
{
    static const char *const formats[] = {
        "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%MZ", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d",
    };
    kiln_err derr = KILN_ERR_INIT;
    int64_t ms;
    for (size_t i = 0; i < KILN_ARRAY_SIZE(formats); i++) {
        struct tm tm;
        const char *end;
        memset(&tm, 0, sizeof(tm));
        end = strptime(text, formats[i], &tm);
        if (end && !*end) {
            *(int64_t *)out = (int64_t)timegm(&tm) * 1000;
            return 0;
        }
    }
    if (kiln_dsl_parse_duration(&ms, text, &derr) == 0) {
        *(int64_t *)out = kiln_now_ms() - ms;
        return 0;
    }
    return kiln_err_set(err, KILN_EINVAL, "--%s expects a UTC time "
                        "(2026-12-01, 2026-12-01T05:00:00Z) or a duration "
                        "ago (30m, 2h, 7d), got \"%s\"", spec->name, text);
}

int kiln_cli_opt_param(void *out, char *text, const kiln_opt *spec,
                       kiln_err *err)
{
    kiln_kv *kv = out;
    char *eq = strchr(text, '=');
    (void)spec;
    if (!eq || eq == text)
        return kiln_err_set(err, KILN_EINVAL, "--param expects NAME=VALUE, "
                            "got \"%s\"", text);
    *eq = '\0';
    kv->key = text;
    kv->value = eq + 1;
    if (!kiln_dsl_valid_param_name(text))
        return kiln_err_set(err, KILN_EINVAL, "--param: invalid parameter "
                            "name \"%s\"", text);
    return 0;
}

int kiln_cli_read_token(char **out, const char *file, kiln_err *err)
{
    const char *env = getenv("KILN_TOKEN");
    char *text = NULL;
    size_t len;
    *out = NULL;
    if (!file) {
        if (env && *env)
            *out = kiln_strdup(env);
        return 0;
    }
    if (kiln_read_file(&text, &len, file, 4096, err) != 0)
        return KILN_ERROR;
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' ||
                   text[len - 1] == ' '))
        text[--len] = '\0';
    if (len < 16 || strlen(text) != len) {
        free(text);
        return kiln_err_set(err, KILN_EINVAL, "%s: a token needs at least "
                            "16 characters on one line", file);
    }
    *out = text;
    return 0;
}

int kiln_cli_ask_daemon(json_t **reply, const char *state_opt, json_t *req)
{
    char *dir = kiln_cli_state_dir(state_opt);
    kiln_err err = KILN_ERR_INIT;
    int status = KILN_EXIT_OK;
    *reply = NULL;
    if (kiln_lock_holder(dir) == 0) {
        fprintf(stderr, "kiln: error: no kiln serve is running on state "
                "directory %s (or give --server URL)\n", dir);
        status = KILN_EXIT_SYSTEM;
    } else if (kiln_inbox_send(reply, dir, req, 10000, &err) != 0) {
        kiln_err_print(&err);
        status = KILN_EXIT_SYSTEM;
    }
    free(dir);
    return status;
}
