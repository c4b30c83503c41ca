/*
 * artifacts.h: a step's declared inputs and outputs, found and hashed.
 *
 * Patterns are paths or globs relative to the step's working directory.
 * A file's hash is the SHA-256 of its content, read in chunks; a
 * directory's is the SHA-256 of its sorted entries (kiln_dir_entries):
 * each file's name and hash ("name\0hash\n"), each symlink's name and
 * link text with the hash of the file or directory it leads to, each
 * empty directory's name; so it changes when anything a step reads there
 * does (artifacts.c, tree_hash()). kiln_artifacts_collect() reads files
 * and blocks: the engine calls it from the libuv thread pool
 * (uv_queue_work), never on the loop.
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
    size_t n_links;          /* patterns' matches that are themselves
                                symlinks (read through): a cache entry
                                would hold the target's bytes where the
                                step makes a link (one in a directory
                                found is kept as a link) */
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

/* What kiln keeps of a directory, and restores: each regular file, each
 * symlink (as its link text; a link is never followed here) and each
 * empty directory in it, relative to it, sorted by name. */
typedef struct kiln_dir_entry {
    char *rel;
    char *link;              /* a symlink: its text; else NULL */
    bool empty_dir;          /* an empty directory */
} kiln_dir_entry;

typedef struct kiln_dir_entries {
    size_t n, cap;
    kiln_dir_entry *items;
} kiln_dir_entries;

/* List the entries of directory path into out (dispose it with
 * kiln_dir_entries_dispose(), also after a failure). Anything else found
 * there (a FIFO, a device, a socket) is never opened, and when odd is
 * given, noted in its special list as "SHOWN/f is a FIFO, not a file"
 * (shown: the directory as the user wrote it). KILN_ERROR when path
 * cannot be walked. Blocks: on the thread pool. */
int kiln_artifacts_dir_entries(kiln_dir_entries *out, const char *path,
                               const char *shown, kiln_artifact_list *odd,
                               kiln_err *err);
void kiln_dir_entries_dispose(kiln_dir_entries *e);

/* The type of an output at path (absolute) of st, by what declared it:
 * "model" (register:), "metrics" (metrics:) or "file", whatever the kind
 * of the step. */
const char *kiln_artifact_type_of(const kiln_step *st, const char *workdir,
                                  const char *path);

#endif
