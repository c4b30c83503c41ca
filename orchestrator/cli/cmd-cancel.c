/* cmd-cancel.c: kiln cancel RUN [--server URL] [--token-file FILE]
 * [--state DIR]: stop a run a kiln serve is running. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/api-client.h"
#include "cli/cli.h"

enum { OPT_SERVER = 256, OPT_TOKEN_FILE };

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"state", required_argument, NULL, 's'},
    {"server", required_argument, NULL, OPT_SERVER},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {NULL, 0, NULL, 0},
};

static int exec_cancel(int argc, char **argv)
{
    const char *state_opt = NULL, *server = getenv("KILN_SERVER");
    const char *token_file = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *reply = NULL, *req = NULL;
    char *token = NULL;
    int64_t id;
    int c, status = KILN_EXIT_OK;

    optind = 1;
    while ((c = getopt_long(argc, argv, "hs:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            kiln_cli_help(&kiln_cmd_cancel);
            return KILN_EXIT_OK;
        case 's':
            state_opt = optarg;
            break;
        case OPT_SERVER:
            server = optarg;
            break;
        case OPT_TOKEN_FILE:
            token_file = optarg;
            break;
        default:
            return kiln_cli_usage_error(&kiln_cmd_cancel, "bad option");
        }
    }
    if (optind != argc - 1 ||
        kiln_cli_parse_id(&id, argv[optind], &err) != 0)
        return kiln_cli_usage_error(&kiln_cmd_cancel, "expected a run id");
    if (server && *server) {
        char *path = kiln_asprintf("/api/v1/runs/%lld/cancel",
                                   (long long)id);
        long code;
        if (kiln_cli_read_token(&token, token_file, &err) != 0 ||
            kiln_api_call(&code, &reply, "POST", server, path, NULL, token,
                          &err) != 0) {
            status = err.code == KILN_EINVAL ? kiln_cli_fail(&err)
                                             : KILN_EXIT_SYSTEM;
            if (status == KILN_EXIT_SYSTEM)
                kiln_err_print(&err);
        } else if (code != 202) {
            fprintf(stderr, "kiln: error: %s\n", kiln_cli_str(reply,
                                                             "error"));
            status = code == 404 || code == 409 ? KILN_EXIT_FAILED
                                                : KILN_EXIT_SYSTEM;
        }
        free(path);
    } else {
        req = json_pack("{s:s, s:I}", "op", "cancel", "run_id",
                        (json_int_t)id);
        if ((status = kiln_cli_ask_daemon(&reply, state_opt, req)) != 0)
            goto done;
        if (json_object_get(reply, "error")) {
            fprintf(stderr, "kiln: error: %s\n", kiln_cli_str(reply,
                                                             "error"));
            status = KILN_EXIT_FAILED;
        }
    }
    if (status == KILN_EXIT_OK)
        printf("run %lld is being cancelled\n", (long long)id);
done:
    json_decref(req);
    json_decref(reply);
    free(token);
    return status;
}

const kiln_cmd kiln_cmd_cancel = {
    .name = "cancel",
    .usage = "cancel RUN [--server URL] [--token-file FILE] [--state DIR]",
    .summary = "Cancel a run that kiln serve is running.",
    .help = "Running steps get SIGTERM (SIGKILL 10 s later); steps not "
            "started are cancelled.\n\n"
            "Options:\n"
            "      --server URL        a kiln serve's HTTP API (or "
            "$KILN_SERVER); without it,\n"
            "                          the daemon of the local state "
            "directory\n"
            "      --token-file FILE   the API token (else $KILN_TOKEN)\n"
            "  -s, --state DIR         state directory (see kiln serve "
            "--help)\n\n"
            "Exit status: 0 cancelling; 1 no such run, or it is not "
            "running; 3 no daemon.\n",
    .exec = exec_cancel,
};
