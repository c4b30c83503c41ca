/* cmd-resume.c: kiln resume RUN — take over a run whose kiln process died
 * (killed, the machine rebooted), in the foreground. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/foreground.h"
#include "engine/takeover.h"

enum { OPT_JSON = 256, OPT_JUNIT };

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"state", required_argument, NULL, 's'},
    {"jobs", required_argument, NULL, 'j'},
    {"json", no_argument, NULL, OPT_JSON},
    {"junit", required_argument, NULL, OPT_JUNIT},
    {NULL, 0, NULL, 0},
};

static int exec_resume(int argc, char **argv)
{
    const char *state_opt = NULL;
    kiln_fg_options fo;
    kiln_store *store = NULL;
    kiln_takeover t;
    kiln_err err = KILN_ERR_INIT;
    char *state;
    int64_t id;
    int c, status;

    memset(&fo, 0, sizeof(fo));
    memset(&t, 0, sizeof(t));
    fo.cache = true;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hs:j:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            kiln_cli_help(&kiln_cmd_resume);
            return KILN_EXIT_OK;
        case 's':
            state_opt = optarg;
            break;
        case 'j': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 4096)
                return kiln_cli_usage_error(&kiln_cmd_resume, "--jobs "
                                            "expects 1 to 4096, got \"%s\"",
                                            optarg);
            fo.jobs = (unsigned)v;
            break;
        }
        case OPT_JSON:
            fo.json = true;
            break;
        case OPT_JUNIT:
            fo.junit = optarg;
            break;
        default:
            return kiln_cli_usage_error(&kiln_cmd_resume, "bad option");
        }
    }
    if (optind != argc - 1 ||
        kiln_cli_parse_id(&id, argv[optind], &err) != 0)
        return kiln_cli_usage_error(&kiln_cmd_resume, "expected a run id");
    state = kiln_cli_state_dir(state_opt);
    fo.state_dir = state;
    if (kiln_cli_open_store(&store, state, false, &err) != 0 ||
        kiln_takeover_load(&t, store, id, &err) != 0 ||
        kiln_store_run_adopt(store, id, &err) != 0) {
        if (err.code == KILN_EINVAL)
            fprintf(stderr, "kiln: error: run %lld cannot be resumed: %s "
                    "(kiln abandon %lld ends it)\n", (long long)id, err.msg,
                    (long long)id);
        else if (err.code == KILN_EBUSY)
            kiln_err_print(&err);
        status = err.code == KILN_EINVAL || err.code == KILN_EBUSY
                     ? KILN_EXIT_USAGE : kiln_cli_fail(&err);
        goto done;
    }
    fo.store = store;
    status = kiln_fg_run(&fo, &t.opts, t.rec);
done:
    kiln_takeover_dispose(&t);
    kiln_store_close(store);
    free(state);
    return status;
}

const kiln_cmd kiln_cmd_resume = {
    .name = "resume",
    .usage = "resume RUN [--state DIR] [--jobs N] [--junit PATH] [--json]",
    .summary = "Take over a run whose kiln process died, in the foreground.",
    .help =
        "A run whose kiln process is gone (kill -9, a reboot) shows as\n"
        "orphaned in kiln runs. resume takes it over: steps that still run\n"
        "are watched to their end, steps that ended are recorded as they\n"
        "really ended (from the status file kiln-shim wrote), and nothing\n"
        "that finished runs again. kiln serve does the same by itself.\n\n"
        "Options:\n"
        "  -s, --state DIR     state directory (see kiln run --help)\n"
        "  -j, --jobs N        run at most N steps at once\n"
        "      --junit PATH    write a JUnit XML report\n"
        "      --json          print a JSON summary of the run on stdout\n\n"
        "Exit status as kiln run's; 2 when the run cannot be resumed (its\n"
        "pipeline file changed) or is not orphaned.\n",
    .exec = exec_resume,
};
