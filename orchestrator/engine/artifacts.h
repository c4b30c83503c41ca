/*
 * artifacts.h: a step's declared inputs and outputs, found and hashed.
 *
 * Patterns are paths or globs relative to the step's working directory.
 * A file's hash is the SHA-256 of its content, read in chunks; a
 * directory's is the SHA-256 of its sorted relative file names and their
 * hashes ("name\0hash\n" per file), so it changes when any file in it
 * does. kiln_artifacts_collect() reads files and blocks: the engine calls
 * it from the libuv thread pool (uv_queue_work), never on the loop.
 */
#ifndef KILN_ARTIFACTS_H
#define KILN_ARTIFACTS_H

#include "dsl/dsl.h"
#include "base/hash.h"

typedef struct kiln_artifact {
    char *path;              /* absolute */
    char sha256[KILN_HASH_HEX];
    int64_t size;            /* bytes; a directory: of all its files */
    bool is_dir;
} kiln_artifact;

typedef struct kiln_artifact_list {
    size_t n;
    kiln_artifact *items;
    size_t n_missing;
    char **missing;          /* patterns that matched nothing */
    size_t n_special;        /* what was found that is neither a file nor
                                a directory (a FIFO, a device, a socket),
                                itself or through a symlink, or in a
                                directory found: never read, nor hashed */
    char **special;          /* ...as "out/f is a FIFO, not a file", the
                                path relative to the working directory */
    size_t n_links;          /* what was found that is a symlink, itself
                                or in a directory found (read through;
                                one in a directory is left out of its
                                hash): a cache entry holds bytes, not
                                links */
    char **links;            /* ...as "out/latest is a symlink" */
} kiln_artifact_list;

/*
 * Expand patterns under workdir and hash what they name. Patterns that
 * match nothing go to list->missing, special files to list->special,
 * symlinks (read through) to list->links.
 * Returns 0, or KILN_ERROR when a file that exists cannot be read (err
 * says which). Release with kiln_artifact_list_dispose().
 */
int kiln_artifacts_collect(kiln_artifact_list *list, const char *workdir,
                           const kiln_strlist *patterns, kiln_err *err);
/* As kiln_artifacts_collect() on a step's inputs: its inputs: patterns,
 * and for a step with checks, its data: file and drift reference, which
 * it reads as surely (paths, not globs). */
int kiln_artifacts_collect_inputs(kiln_artifact_list *list,
                                  const char *workdir, const kiln_step *st,
                                  kiln_err *err);
void kiln_artifact_list_dispose(kiln_artifact_list *list);

/* The type of an output at path (absolute) of st, by what declared it:
 * "model" (register:), "metrics" (metrics:) or "file", whatever the kind
 * of the step. */
const char *kiln_artifact_type_of(const kiln_step *st, const char *workdir,
                                  const char *path);

#endif
