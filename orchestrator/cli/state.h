/*
 * state.h: where kiln keeps its records for a pipeline.
 *
 * The state directory is --state DIR, else $KILN_STATE, else .kiln/ at the
 * top of the Git work tree holding the pipeline file, else .kiln/ beside
 * the file. It holds kiln.db, logs/ and checkouts/.
 */
#ifndef KILN_STATE_H
#define KILN_STATE_H

#include "base/base.h"

/*
 * Pick the state directory. explicit_dir is --state (may be NULL);
 * repo_top is the Git work tree holding the pipeline (may be NULL);
 * pipeline_dir is the file's directory. Returns a malloc'd absolute path.
 */
char *kiln_state_dir_pick(const char *explicit_dir, const char *repo_top,
                          const char *pipeline_dir);

/* Create the directory (with a .gitignore of "*" so it never dirties the
 * repository) and check that it is writable. KILN_ERROR otherwise. */
int kiln_state_dir_prepare(const char *dir, kiln_err *err);

#endif
