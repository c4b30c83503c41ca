/* cmd-validate.c: kiln validate FILE... */
#include <stdio.h>

#include "../dsl/dsl.h"
#include "../executors/executor.h"
#include "cli.h"

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"quiet", no_argument, NULL, 'q'},
    {NULL, 0, NULL, 0},
};

/* Checks that need more than the file: executors must exist here. */
int kiln_cli_check_pipeline(const kiln_pipeline *p, kiln_diag *diag)
{
    for (size_t i = 0; i < p->n_steps; i++) {
        const kiln_step *s = &p->steps[i];
        if (!kiln_executor_exists(s->executor)) {
            diag->errs = kiln_realloc(diag->errs,
                                      (diag->n + 1) * sizeof(kiln_err));
            kiln_err_set_at(&diag->errs[diag->n++], KILN_EINVAL, s->pos,
                            "step \"%s\": unknown executor \"%s\" "
                            "(available: local)", s->name, s->executor);
        }
    }
    return diag->n ? KILN_EINVAL : 0;
}

static int exec_validate(int argc, char **argv)
{
    bool quiet = false;
    int c, status = KILN_EXIT_OK;

    optind = 1;
    while ((c = getopt_long(argc, argv, "hq", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            kiln_cli_help(&kiln_cmd_validate);
            return KILN_EXIT_OK;
        case 'q':
            quiet = true;
            break;
        default:
            return kiln_cli_usage_error(&kiln_cmd_validate, "bad option");
        }
    }
    if (optind >= argc)
        return kiln_cli_usage_error(&kiln_cmd_validate,
                                    "expected at least one FILE");
    for (int i = optind; i < argc; i++) {
        kiln_pipeline *p = NULL;
        kiln_diag diag = KILN_DIAG_INIT;
        int rc = kiln_dsl_load_file(&p, argv[i], &diag);
        if (rc == 0)
            rc = kiln_cli_check_pipeline(p, &diag);
        if (rc != 0) {
            kiln_diag_print(&diag);
            if (rc == KILN_EINVAL || status == KILN_EXIT_OK)
                status = rc == KILN_EINVAL ? KILN_EXIT_USAGE
                                           : KILN_EXIT_SYSTEM;
        } else if (!quiet) {
            printf("%s: ok (pipeline \"%s\", %zu step%s)\n", argv[i],
                   p->name, p->n_steps, p->n_steps == 1 ? "" : "s");
        }
        kiln_diag_dispose(&diag);
        kiln_pipeline_free(p);
    }
    return status;
}

const kiln_cmd kiln_cmd_validate = {
    .name = "validate",
    .usage = "validate FILE...",
    .summary = "Check pipeline files and report every error as "
               "FILE:LINE:COL.",
    .help = "Options:\n"
            "  -q, --quiet   print nothing for valid files\n",
    .exec = exec_validate,
};
