/* cmd-serve.c: kiln serve [--state DIR] [--jobs N] [--pool NAME=N]...
 * [--grace DURATION] PATH... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "daemon/daemon.h"
#include "daemon/lock.h"
#include "cli/state.h"

enum { OPT_POOL = 256, OPT_GRACE, OPT_LISTEN, OPT_TOKEN_FILE };

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"state", required_argument, NULL, 's'},
    {"jobs", required_argument, NULL, 'j'},
    {"pool", required_argument, NULL, OPT_POOL},
    {"grace", required_argument, NULL, OPT_GRACE},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {NULL, 0, NULL, 0},
};

/* Warn when the token file is open to its group or others: whoever can
 * read it can use the API. */
static void check_token_file(const char *file)
{
    struct stat st;
    if (!file || stat(file, &st) != 0 ||
        !(st.st_mode & (S_IRWXG | S_IRWXO)))
        return;
    fprintf(stderr, "kiln: warning: --token-file %s is open to its group or "
            "others (mode %04o): anyone who can read it can use the API; "
            "chmod 600 it\n", file, (unsigned)(st.st_mode & 07777));
}

static int exec_serve(int argc, char **argv)
{
    kiln_daemon_options o;
    kiln_kv *pools = kiln_calloc((size_t)argc, sizeof(kiln_kv));
    const char *state_opt = NULL;
    const char *token_file = NULL;
    kiln_lock *lock = NULL;
    kiln_err err = KILN_ERR_INIT;
    char *state = NULL, *token = NULL;
    int c, status;

    memset(&o, 0, sizeof(o));
    o.grace_ms = 30000;
    o.listen = "127.0.0.1:8080";
    o.pools = pools;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hs:j:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            kiln_cli_help(&kiln_cmd_serve);
            free(pools);
            return KILN_EXIT_OK;
        case 's':
            state_opt = optarg;
            break;
        case 'j': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 4096) {
                free(pools);
                return kiln_cli_usage_error(&kiln_cmd_serve, "--jobs "
                                            "expects 1 to 4096");
            }
            o.jobs = (unsigned)v;
            break;
        }
        case OPT_POOL:
            if (kiln_cli_parse_pool(&pools[o.n_pools++], optarg, &err)) {
                free(pools);
                return kiln_cli_usage_error(&kiln_cmd_serve, "%s", err.msg);
            }
            break;
        case OPT_GRACE:
            if (kiln_dsl_parse_duration(&o.grace_ms, optarg, &err) != 0) {
                free(pools);
                return kiln_cli_usage_error(&kiln_cmd_serve, "--grace: %s",
                                            err.msg);
            }
            break;
        case OPT_LISTEN:
            o.listen = strcmp(optarg, "none") == 0 ? NULL : optarg;
            break;
        case OPT_TOKEN_FILE:
            token_file = optarg;
            break;
        default:
            free(pools);
            return kiln_cli_usage_error(&kiln_cmd_serve, "bad option");
        }
    }
    if (optind >= argc) {
        free(pools);
        return kiln_cli_usage_error(&kiln_cmd_serve, "expected at least one "
                                    "PATH (a pipeline file or a directory)");
    }
    if (kiln_cli_read_token(&token, token_file, &err) != 0) {
        free(pools);
        return kiln_cli_fail(&err);
    }
    check_token_file(token_file);
    o.token = token;
    o.paths = argv + optind;
    o.n_paths = (size_t)(argc - optind);
    state = kiln_cli_state_dir(state_opt);
    if (kiln_state_dir_prepare(state, &err) != 0 ||
        kiln_lock_acquire(&lock, state, &err) != 0) {
        status = kiln_cli_fail(&err);
        if (err.code == KILN_EBUSY)
            status = KILN_EXIT_SYSTEM;
        goto done;
    }
    o.state_dir = state;
    status = kiln_daemon_run(&o);
done:
    kiln_lock_release(lock);
    free(state);
    free(pools);
    free(token);
    return status;
}

const kiln_cmd kiln_cmd_serve = {
    .name = "serve",
    .usage = "serve [--state DIR] [--jobs N] [--pool NAME=N]... "
             "[--grace DURATION] [--listen ADDR:PORT] [--token-file FILE] "
             "PATH...",
    .summary = "Run the scheduler daemon on pipeline files or directories.",
    .help =
        "Loads every pipeline file named (a directory: every *.yaml and\n"
        "*.yml under it), fires their schedules and records every run and\n"
        "every fire that did not start. SIGHUP reloads the files; SIGTERM\n"
        "or SIGINT stops: running steps get --grace to finish, the rest are\n"
        "cancelled. One daemon per state directory.\n\n"
        "Options:\n"
        "  -s, --state DIR       state directory (default: $KILN_STATE, else\n"
        "                        .kiln/ at the top of the Git work tree)\n"
        "  -j, --jobs N          at most N steps at once, over all runs\n"
        "      --pool NAME=N     at most N steps of pool NAME at once\n"
        "      --grace DURATION  time running steps get on stop (default "
        "30s)\n"
        "      --listen ADDR:PORT  serve the status page and the JSON API "
        "there\n"
        "                        (default 127.0.0.1:8080; port 0: any free "
        "port; none: off)\n"
        "      --token-file FILE the API token (else $KILN_TOKEN): POSTs "
        "need\n"
        "                        \"Authorization: Bearer TOKEN\", and so do "
        "GETs when\n"
        "                        listening beyond loopback\n\n"
        "Test clock: KILN_NOW=ISO-8601 starts the daemon's clock there and\n"
        "KILN_CLOCK_SPEED=N runs it N times faster than real time.\n",
    .exec = exec_serve,
};
