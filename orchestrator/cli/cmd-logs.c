/* cmd-logs.c: kiln logs RUN STEP [--attempt K] */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"

typedef struct logs_opts {
    int64_t run;       /* RUN */
    const char *step;  /* STEP */
    long attempt;      /* --attempt K; 0: the last */
    const char *state; /* --state DIR */
} logs_opts;

static const kiln_opt options[] = {
    KILN_CLI_ARG_RUN(logs_opts, run),
    KILN_OPT_ARG(logs_opts, step, "STEP", NULL),
    KILN_OPT_INT('a', "attempt", logs_opts, attempt, "K", 1, INT_MAX,
                 "the K-th attempt (1-based; default the last)"),
    KILN_CLI_OPT_STATE(logs_opts),
    KILN_OPT_END,
};

/* Copy the file to stdout in chunks. */
static int cat(const char *path, kiln_err *err)
{
    char chunk[65536];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kiln_err_set_os(err, "cannot open log %s", path);
    while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || fwrite(chunk, 1, (size_t)n, stdout) != (size_t)n) {
            close(fd);
            return kiln_err_set_os(err, "cannot copy log %s", path);
        }
    }
    close(fd);
    return 0;
}

static int exec_logs(void *opts)
{
    const logs_opts *o = opts;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    char *path = NULL;
    int status = KILN_EXIT_OK;

    if (kiln_cli_open_store(&store, o->state, true, &err) != 0 ||
        kiln_store_log_path(store, &path, o->run, o->step, (int)o->attempt,
                            &err) != 0 ||
        cat(path, &err) != 0)
        status = kiln_cli_fail(&err);
    free(path);
    kiln_store_close(store);
    return status;
}

const kiln_cmd kiln_cmd_logs = {
    .name = "logs",
    .summary = "Print the output of a step (its last attempt by default).",
    .opts = options,
    .opts_size = sizeof(logs_opts),
    .exec = exec_logs,
};
