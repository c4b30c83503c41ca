/*
 * fetch.h: putting bytes of the object store at a path the user names
 * (kiln models pull, kiln artifacts get), never half written: they are
 * written to a hidden sibling of the path, each object checked against
 * its hash, then renamed into place.
 */
#ifndef KILN_CLI_FETCH_H
#define KILN_CLI_FETCH_H

#include "base/base.h"

/* to without its trailing slashes (malloc'd). */
char *kiln_fetch_target(const char *to);

/*
 * Start writing a file (is_dir false) or a directory at to: *tmp is the
 * sibling to write instead (malloc'd; nothing is there yet). An existing
 * to is refused (KILN_EINVAL) unless force, and even then a directory is
 * never replaced by a file or the reverse. Creates to's parent
 * directories.
 */
int kiln_fetch_begin(char **tmp, const char *to, bool is_dir, bool force,
                     kiln_err *err);

/* Put tmp at to (replacing what is there; a directory replaced goes
 * whole). Frees tmp. With rc not 0 (the write failed), tmp is removed,
 * to is left as it was and rc returned. */
int kiln_fetch_finish(char *tmp, const char *to, bool is_dir, int rc,
                      kiln_err *err);

#endif
