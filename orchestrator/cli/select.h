/*
 * select.h: kiln run --only/--from/--until (select.c): which steps run,
 * which are reused, which are not selected.
 */
#ifndef KILN_CLI_SELECT_H
#define KILN_CLI_SELECT_H

#include "engine/engine.h"

/* What a selection gives kiln_run_options (skip, reuse_only, reuse). */
typedef struct kiln_cli_selection {
    const char **skip;       /* per step: why it is not selected, or NULL */
    const char **reuse_only; /* per step: needed but not selected */
    size_t n_reuse;
    kiln_kv *reuse;          /* those steps' last executions that made
                                the outputs on disk (step -> id) */
    char *info;              /* the run's trigger_info: what was picked */
    char *why;               /* "not selected (--from train)" */
    char **reasons;          /* per step: reuse_only's texts */
    size_t n_steps;
} kiln_cli_selection;

/*
 * Select the steps of p (its workdirs under root) by sel: the others are
 * skipped, but a step a selected one needs is reused from the cache
 * (cache: the engine's cache is on) or from the last execution in store
 * whose outputs are still on disk unchanged, and never run. Prints why
 * and returns an exit status when sel names no such step, or a needed
 * step can be had from neither; else 0 and *out (dispose it).
 */
int kiln_cli_select(kiln_cli_selection *out, const kiln_pipeline *p,
                    const char *root, kiln_store *store,
                    const kiln_run_selection *sel, bool cache);
void kiln_cli_selection_dispose(kiln_cli_selection *s);

#endif
