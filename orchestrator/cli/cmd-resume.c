/* cmd-resume.c: kiln resume RUN — take over a run whose kiln process died
 * (killed, the machine rebooted), in the foreground. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/foreground.h"
#include "engine/takeover.h"

typedef struct resume_opts {
    int64_t run;       /* RUN */
    const char *state; /* --state DIR */
    long jobs;         /* --jobs N; 0: CPUs */
    const char *junit; /* --junit PATH */
    bool json;         /* --json */
} resume_opts;

static const kiln_opt options[] = {
    KILN_CLI_ARG_RUN(resume_opts, run),
    KILN_CLI_OPT_STATE(resume_opts),
    KILN_CLI_OPT_JOBS(resume_opts, "run at most N steps at once "
                      "(default: CPUs)"),
    KILN_CLI_OPT_JUNIT(resume_opts),
    KILN_CLI_OPT_JSON_HELP(resume_opts, "print a JSON summary of the run on "
                           "stdout"),
    KILN_OPT_END,
};

/* Make this process the run's owner, with the audit row run.resumed
 * (the Unix user, via cli), in one transaction. */
static int adopt(kiln_store *store, const kiln_run_info *run, kiln_err *err)
{
    char target[48];
    json_t *after = json_pack("{s:s}", "pipeline", run->pipeline);
    char *a = json_dumps(after, JSON_COMPACT);
    int rc;

    snprintf(target, sizeof(target), "run %lld", (long long)run->id);
    if ((rc = kiln_store_begin(store, err)) == 0) {
        if ((rc = kiln_store_run_adopt(store, run, err)) == 0)
            rc = kiln_store_audit(store, kiln_user_name(), "cli",
                                  "run.resumed", target, NULL, a, err);
        if (rc == 0)
            rc = kiln_store_commit(store, err);
        else
            kiln_store_rollback(store);
    }
    json_decref(after);
    free(a);
    return rc;
}

static int exec_resume(void *opts)
{
    const resume_opts *o = opts;
    kiln_fg_options fo;
    kiln_store *store = NULL;
    kiln_takeover t;
    kiln_err err = KILN_ERR_INIT;
    char *state;
    int64_t id = o->run;
    int status;

    memset(&fo, 0, sizeof(fo));
    memset(&t, 0, sizeof(t));
    fo.cache = true;
    fo.jobs = (unsigned)o->jobs;
    fo.json = o->json;
    fo.junit = o->junit;
    state = kiln_cli_state_dir(o->state);
    fo.state_dir = state;
    if (kiln_cli_open_store(&store, state, false, &err) != 0 ||
        kiln_takeover_load(&t, store, id, &err) != 0 ||
        adopt(store, t.rec, &err) != 0) {
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
    .summary = "Take over a run whose kiln process died, in the foreground.",
    .help =
        "A run whose kiln process is gone (kill -9, a reboot) shows as\n"
        "orphaned in kiln runs. resume takes it over: steps that still run\n"
        "are watched to their end, steps that ended are recorded as they\n"
        "really ended (from the status file kiln-shim wrote), and nothing\n"
        "that finished runs again. kiln serve does the same by itself.\n",
    .notes =
        "Exit status as kiln run's; 2 when the run cannot be resumed (its\n"
        "pipeline file changed) or is not orphaned.\n",
    .opts = options,
    .opts_size = sizeof(resume_opts),
    .exec = exec_resume,
};
