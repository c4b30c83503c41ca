/* cmd-logs.c: kiln logs RUN STEP [--attempt K] */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"attempt", required_argument, NULL, 'a'},
    {"state", required_argument, NULL, 's'},
    {NULL, 0, NULL, 0},
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

static int exec_logs(int argc, char **argv)
{
    const char *state = NULL;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    char *path = NULL;
    int64_t id;
    int c, attempt = 0, status = KILN_EXIT_OK;

    optind = 1;
    while ((c = getopt_long(argc, argv, "ha:s:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            kiln_cli_help(&kiln_cmd_logs);
            return KILN_EXIT_OK;
        case 'a':
            attempt = atoi(optarg);
            if (attempt < 1)
                return kiln_cli_usage_error(&kiln_cmd_logs, "--attempt "
                                            "expects a positive number");
            break;
        case 's':
            state = optarg;
            break;
        default:
            return kiln_cli_usage_error(&kiln_cmd_logs, "bad option");
        }
    }
    if (optind != argc - 2)
        return kiln_cli_usage_error(&kiln_cmd_logs, "expected RUN and STEP");
    if (kiln_cli_parse_id(&id, argv[optind], &err) != 0 ||
        kiln_cli_open_store(&store, state, true, &err) != 0 ||
        kiln_store_log_path(store, &path, id, argv[optind + 1], attempt,
                            &err) != 0 ||
        cat(path, &err) != 0)
        status = kiln_cli_fail(&err);
    free(path);
    kiln_store_close(store);
    return status;
}

const kiln_cmd kiln_cmd_logs = {
    .name = "logs",
    .usage = "logs RUN STEP [--attempt K] [--state DIR]",
    .summary = "Print the output of a step (its last attempt by default).",
    .help = "Options:\n"
            "  -a, --attempt K    the K-th attempt (1-based)\n"
            "  -s, --state DIR    state directory (see kiln run --help)\n",
    .exec = exec_logs,
};
