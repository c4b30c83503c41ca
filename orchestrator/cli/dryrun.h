/* dryrun.h: kiln run --dry-run (dryrun.c). */
#ifndef KILN_CLI_DRYRUN_H
#define KILN_CLI_DRYRUN_H

#include "dsl/dsl.h"
#include "store/store.h"

/* Print, per step of p with its workdirs under root, whether it would run
 * or be served from the cache, and why. store may be NULL (no state
 * yet): every step would run. Returns an exit status. */
int kiln_cli_dry_run(const kiln_pipeline *p, const char *root,
                     kiln_store *store, size_t n_params,
                     const kiln_kv *params, bool cache);

#endif
