/* cmd-validate-step.c: kiln validate-step FILE STEP, the process the
 * engine starts for a step with checks (see engine.c). It runs like any
 * step's command, so logs, timeouts, retries and executors need nothing
 * new. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "data/metrics.h"
#include "data/validate.h"

typedef struct validate_step_opts {
    const char *file; /* FILE */
    const char *step; /* STEP */
} validate_step_opts;

static const kiln_opt options[] = {
    KILN_OPT_ARG(validate_step_opts, file, "FILE", NULL),
    KILN_OPT_ARG(validate_step_opts, step, "STEP", NULL),
    KILN_OPT_END,
};

/* Add the checks' metrics to $KILN_METRICS, keeping what the step's run:
 * command wrote there before. */
static int write_metrics(const kiln_metrics *m, const char *path,
                         kiln_err *err)
{
    kiln_metrics all;
    kiln_buf warn = KILN_BUF_INIT;
    int rc;
    memset(&all, 0, sizeof(all));
    kiln_metrics_read(&all, path, &warn);
    fputs(kiln_buf_cstr(&warn), stderr);
    for (size_t i = 0; i < m->n; i++)
        kiln_metrics_set(&all, m->keys[i], m->values[i]);
    rc = kiln_metrics_write(&all, path, err);
    kiln_metrics_dispose(&all);
    kiln_buf_dispose(&warn);
    return rc;
}

static int exec_validate_step(void *opts)
{
    const validate_step_opts *o = opts;
    kiln_pipeline *p = NULL;
    kiln_diag diag = KILN_DIAG_INIT;
    kiln_validate_result res;
    kiln_err err = KILN_ERR_INIT;
    const char *metrics = getenv("KILN_METRICS");
    const kiln_step *st;
    ssize_t idx;
    int status;

    memset(&res, 0, sizeof(res));
    if (kiln_dsl_load_file(&p, o->file, &diag) != 0) {
        kiln_diag_print(&diag);
        status = KILN_EXIT_USAGE;
        goto done;
    }
    if ((idx = kiln_pipeline_find_step(p, o->step)) < 0 ||
        !p->steps[idx].validation) {
        kiln_err_set(&err, KILN_EINVAL, "%s has no step \"%s\" with checks",
                     o->file, o->step);
        status = kiln_cli_fail(&err);
        goto done;
    }
    st = &p->steps[idx];
    /* The engine starts the step in its workdir: paths are relative to
     * the current directory. Unreadable or malformed, the input is
     * unusable: 2, as kiln drift says. */
    if (kiln_validate_run(&res, st->validation, NULL, &err) != 0) {
        kiln_err_print(&err);
        status = KILN_EXIT_USAGE;
        goto done;
    }
    fputs(kiln_buf_cstr(&res.report), stdout);
    fflush(stdout);
    status = res.violations ? KILN_EXIT_FAILED : KILN_EXIT_OK;
    if (metrics && *metrics &&
        write_metrics(&res.metrics, metrics, &err) != 0) {
        kiln_err_print(&err);
        status = KILN_EXIT_SYSTEM;
    }
done:
    kiln_validate_result_dispose(&res);
    kiln_diag_dispose(&diag);
    kiln_pipeline_free(p);
    return status;
}

const kiln_cmd kiln_cmd_validate_step = {
    .name = "validate-step",
    .summary = "Run the checks of step STEP (kind: validate) on its data.",
    .help = "kiln run and kiln serve start this for steps with checks, in "
            "the step's\n"
            "working directory, after its run: command if it has one. It "
            "prints one\n"
            "line per failed check (FAIL) or warning (WARN), then a "
            "summary, and adds\n"
            "validate.* and drift.* metrics to $KILN_METRICS when set.\n",
    .notes = "Exit status: 0 every check passed, 1 a check failed, 2 "
             "unusable input\n"
             "(invalid pipeline, unreadable or malformed CSV).\n",
    .opts = options,
    .opts_size = sizeof(validate_step_opts),
    .exec = exec_validate_step,
    .kind = KILN_CMD_INTERNAL,
};
