/* cli.c: help, usage errors and the state lookup of reading commands. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "git/git.h"
#include "daemon/inbox.h"
#include "daemon/lock.h"
#include "cli/state.h"

void kiln_cli_help(const kiln_cmd *cmd)
{
    printf("usage: kiln %s\n\n%s\n", cmd->usage, cmd->summary);
    if (cmd->help && *cmd->help)
        printf("\n%s", cmd->help);
}

int kiln_cli_usage_error(const kiln_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "kiln %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: kiln %s (see kiln %s --help)\n", cmd->usage,
            cmd->name);
    return KILN_EXIT_USAGE;
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

int kiln_cli_parse_pool(kiln_kv *kv, char *arg, kiln_err *err)
{
    char *eq = strchr(arg, '='), *end;
    long n;
    if (!eq || eq == arg)
        return kiln_err_set(err, KILN_EINVAL, "--pool expects NAME=N, got "
                            "\"%s\"", arg);
    *eq = '\0';
    n = strtol(eq + 1, &end, 10);
    if (!kiln_dsl_valid_name(arg) || *end || end == eq + 1 || n < 1 ||
        n > 4096)
        return kiln_err_set(err, KILN_EINVAL, "--pool expects NAME=N with "
                            "N from 1 to 4096, got \"%s=%s\"", arg, eq + 1);
    kv->key = arg;
    kv->value = eq + 1;
    memset(&kv->pos, 0, sizeof(kv->pos));
    return 0;
}

void kiln_cli_print_json(json_t *v)
{
    json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
}

const char *kiln_cli_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

int kiln_cli_parse_param(kiln_kv *kv, char *arg, kiln_err *err)
{
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return kiln_err_set(err, KILN_EINVAL, "--param expects NAME=VALUE, "
                            "got \"%s\"", arg);
    *eq = '\0';
    kv->key = arg;
    kv->value = eq + 1;
    memset(&kv->pos, 0, sizeof(kv->pos));
    if (!kiln_dsl_valid_param_name(arg))
        return kiln_err_set(err, KILN_EINVAL, "--param: invalid parameter "
                            "name \"%s\"", arg);
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
