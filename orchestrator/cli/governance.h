/*
 * governance.h: the governance report of a model version (kiln audit
 * model), a model card that reads well on its own: the version, the run
 * that produced it (who started it, its commit, images, environment
 * captures), its params, metrics, gates and the values that decided
 * them, its data validation, every input with its hash and what made it
 * (lineage, to the sources), and the model's alias history. Everything
 * comes from the record; nothing is written.
 */
#ifndef KILN_CLI_GOVERNANCE_H
#define KILN_CLI_GOVERNANCE_H

#include <jansson.h>

#include "store/store.h"

/*
 * The report of version (0: the newest) of model name, or (alias not
 * NULL) of the version alias points at now, as one JSON object (*out;
 * json_decref() it). KILN_ENOTFOUND for an unknown model, version or
 * alias.
 */
int kiln_governance_report(json_t **out, kiln_store *st, const char *name,
                           const char *alias, int version, kiln_err *err);

/* Print report (from kiln_governance_report()) as a Markdown document. */
void kiln_governance_print_md(json_t *report);

#endif
