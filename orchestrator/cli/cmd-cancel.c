/* cmd-cancel.c: kiln cancel RUN [--server URL] [--token-file FILE]
 * [--state DIR]: stop a run a kiln serve is running. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/api-client.h"
#include "cli/cli.h"

typedef struct cancel_opts {
    int64_t run;            /* RUN */
    const char *server;     /* --server URL */
    const char *token_file; /* --token-file FILE */
    const char *state;      /* --state DIR */
} cancel_opts;

static const kiln_opt options[] = {
    KILN_CLI_ARG_RUN(cancel_opts, run),
    KILN_CLI_OPT_SERVER(cancel_opts),
    KILN_CLI_OPT_TOKEN_FILE(cancel_opts, "the API token (else $KILN_TOKEN)"),
    KILN_CLI_OPT_STATE(cancel_opts),
    KILN_OPT_END,
};

static int exec_cancel(void *opts)
{
    const cancel_opts *o = opts;
    const char *state_opt = o->state, *token_file = o->token_file;
    const char *server = o->server ? o->server : getenv("KILN_SERVER");
    kiln_err err = KILN_ERR_INIT;
    json_t *reply = NULL, *req = NULL;
    char *token = NULL;
    int64_t id = o->run;
    int status = KILN_EXIT_OK;

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
        req = json_pack("{s:s, s:I, s:s}", "op", "cancel", "run_id",
                        (json_int_t)id, "user", kiln_user_name());
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
    .summary = "Cancel a run that kiln serve is running.",
    .help = "Running steps get SIGTERM (SIGKILL 10 s later); steps not "
            "started are cancelled.\n",
    .notes = "Exit status: 0 cancelling; 1 no such run, or it is not "
             "running; 3 no daemon.\n",
    .opts = options,
    .opts_size = sizeof(cancel_opts),
    .exec = exec_cancel,
};
