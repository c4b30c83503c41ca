/* cmd-abandon.c: kiln abandon RUN [--reason TEXT] — end an orphaned run
 * for good: stop what of it still runs, and record it as failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/takeover.h"

typedef struct abandon_opts {
    int64_t run;        /* RUN */
    const char *reason; /* --reason TEXT */
    const char *state;  /* --state DIR */
} abandon_opts;

static const kiln_opt options[] = {
    KILN_CLI_ARG_RUN(abandon_opts, run),
    KILN_OPT_VALUE(0, "reason", abandon_opts, reason, "TEXT",
                   "why, recorded with the run"),
    KILN_CLI_OPT_STATE(abandon_opts),
    KILN_OPT_END,
};

/* The run failed with why, and the audit row run.abandoned (the Unix
 * user, via cli), in one transaction. */
static int record_abandon(kiln_store *store, const kiln_run_info *run,
                          const char *why, kiln_err *err)
{
    char target[48];
    json_t *before, *after;
    char *b, *a;
    int rc;

    snprintf(target, sizeof(target), "run %lld", (long long)run->id);
    before = json_pack("{s:s, s:s}", "pipeline", run->pipeline, "status",
                       kiln_run_state_name(run->state));
    after = json_pack("{s:s, s:s}", "status",
                      kiln_run_state_name(KILN_RUN_FAILED), "reason", why);
    b = json_dumps(before, JSON_COMPACT | JSON_PRESERVE_ORDER);
    a = json_dumps(after, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if ((rc = kiln_store_begin(store, err)) == 0) {
        if ((rc = kiln_store_run_abandon(store, run->id, why, err)) == 0)
            rc = kiln_store_audit(store, kiln_user_name(), "cli",
                                  "run.abandoned", target, b, a, err);
        if (rc == 0)
            rc = kiln_store_commit(store, err);
        else
            kiln_store_rollback(store);
    }
    json_decref(before);
    json_decref(after);
    free(b);
    free(a);
    return rc;
}

static int exec_abandon(void *opts)
{
    const abandon_opts *o = opts;
    const char *reason = o->reason;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    kiln_run_info *run = NULL;
    char *state, *why = NULL;
    int64_t id = o->run;
    int rc = KILN_EXIT_OK;

    state = kiln_cli_state_dir(o->state);
    if (kiln_cli_open_store(&store, state, false, &err) != 0 ||
        kiln_store_run_get(&run, store, id, &err) != 0) {
        rc = kiln_cli_fail(&err);
        goto done;
    }
    if (kiln_run_state_final(run->state)) {
        fprintf(stderr, "kiln: error: run %lld has ended (%s)\n",
                (long long)id, kiln_run_state_name(run->state));
        rc = KILN_EXIT_USAGE;
        goto done;
    }
    if (!kiln_run_info_orphaned(run)) {
        fprintf(stderr, "kiln: error: run %lld is still run by kiln process "
                "%lld: kiln cancel %lld stops it\n", (long long)id,
                (long long)run->owner_pid, (long long)id);
        rc = KILN_EXIT_USAGE;
        goto done;
    }
    why = kiln_asprintf("abandoned%s%s", reason ? ": " : "",
                        reason ? reason : " (kiln abandon)");
    /* Its owner while its steps stop: kiln serve's look for orphans, a
     * kiln resume, another kiln abandon leave it alone meanwhile. */
    if (kiln_store_run_adopt(store, run, &err) != 0 ||
        kiln_takeover_stop(store, run, why, &err) != 0 ||
        record_abandon(store, run, why, &err) != 0) {
        rc = kiln_cli_fail(&err);
        goto done;
    }
    printf("run %lld abandoned\n", (long long)id);
done:
    kiln_run_info_free(run);
    kiln_store_close(store);
    free(state);
    free(why);
    return rc;
}

const kiln_cmd kiln_cmd_abandon = {
    .name = "abandon",
    .summary = "End an orphaned run: stop what still runs, record it "
               "failed.",
    .help =
        "For a run whose kiln process is gone (orphaned in kiln runs) that\n"
        "should not be resumed: its steps' processes that still run are\n"
        "stopped (SIGTERM, SIGKILL after 10 s; scancel), their attempts\n"
        "recorded as cancelled (one that ended meanwhile, as its status\n"
        "file says it ended), the steps that had not ended cancelled, and\n"
        "the run failed with the reason.\n",
    .opts = options,
    .opts_size = sizeof(abandon_opts),
    .exec = exec_abandon,
};
