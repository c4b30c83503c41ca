/*
 * cache.h: step caching: the key of an attempt and the content-addressed
 * object store under STATE/objects.
 *
 * A step is skipped, its recorded outputs restored, when an earlier
 * successful execution had the same key: a SHA-256 over a document of
 * the command, the kind, the pipeline's and the step's names and the
 * step's working directory (a step sees them as $KILN_PIPELINE,
 * $KILN_STEP and its cwd), its declared outputs and metrics file, the
 * content hashes of the inputs (with their paths relative to the working
 * directory), the values of the params it uses, the pipeline's and step's
 * environment, the model versions it reads and its environment captures. Outputs are kept
 * as objects/ab/cdef... named by their content hash, so equal outputs are
 * stored once; a directory is kept as its entries (its files as objects,
 * its symlinks and empty directories in the list). Objects are copy-on-write
 * clones where the file system can make them (btrfs, XFS), else copies; never
 * hard links, since a step that rewrites a file in place would change a linked
 * object too (restores check every object's hash anyway). These calls read and
 * write files: the engine makes them on the thread pool.
 */
#ifndef KILN_CACHE_H
#define KILN_CACHE_H

#include "dsl/dsl.h"
#include "engine/artifacts.h"

#include <jansson.h>

/* What goes into the key of st's attempt, as a JSON document: the
 * command, kind, names, workdir, declared outputs, metrics file and
 * checks; each input's path and hash; the params it uses; the env. The
 * caller fills "models" (each version read: {"version", "sha256"}, or
 * null for an optional alias not set) and "environment" (each capture's
 * hash). kiln why compares these documents. */
json_t *kiln_cache_key_doc(const kiln_step *st, const kiln_pipeline *p,
                           const kiln_artifact_list *inputs,
                           const char *workdir, size_t n_params,
                           const kiln_kv *params);
/* The key: the SHA-256 of the document written canonically (sorted keys,
 * no spaces), which is returned (free it). */
char *kiln_cache_key_of(char out[KILN_HASH_HEX], const json_t *doc);
/* Does st use param name (its params: list, or all without one)? */
bool kiln_cache_step_uses_param(const kiln_step *st, const char *name);

/* The files an output set is made of: each file, and every entry under
 * each directory (kiln_dir_entries), relative to workdir, each with its
 * content hash, the name of its object; or, for what is not a file and
 * has no object, "symlink:TEXT" (a symlink, its link text) or "dir:" (an
 * empty directory; an empty directory output itself too). A hash never
 * holds ':', and a record made before kiln kept these holds hashes only:
 * this is how the record's cache_outputs and tree_files rows hold them,
 * with no change of schema. */
#define KILN_CACHE_LINK "symlink:"
#define KILN_CACHE_DIR "dir:"
typedef struct kiln_cache_files {
    size_t n;
    char **rel;
    char **sha256;
} kiln_cache_files;

/* Keep the outputs' files in the store and list them in files (dispose it
 * with kiln_cache_files_dispose()). KILN_ERROR when the store cannot be
 * written. */
int kiln_cache_save(kiln_cache_files *files, const char *objects,
                    const char *workdir, const kiln_artifact_list *outputs,
                    kiln_err *err);
void kiln_cache_files_dispose(kiln_cache_files *files);
/* Does an entry's sha256 name an object (not a symlink or a directory)? */
bool kiln_cache_is_object(const char *entry);

/* Put the entries sha256[i] back at workdir/rel[i]: the objects, each
 * checked against its hash first, the symlinks and empty directories.
 * KILN_ENOTFOUND (missing) or KILN_EINVAL (corrupt): the caller runs the
 * step instead. */
int kiln_cache_restore(const char *objects, const char *workdir, size_t n,
                       char *const *rel, char *const *sha256, kiln_err *err);
/* As kiln_cache_restore(), for a cache hit of a step declaring outputs:
 * each directory they name ends as the entry has it, without what else
 * was there (a file an earlier run left), never through a symlink. */
int kiln_cache_restore_outputs(const char *objects, const char *workdir,
                               const kiln_strlist *outputs, size_t n,
                               char *const *rel, char *const *sha256,
                               kiln_err *err);

/* Are the files of a cache entry (rel[i], relative to workdir) exactly
 * what a step declares as outputs: each under one of them, and each of
 * them made of some? A hit that is not is a miss: a restore puts back
 * the step's own outputs or nothing. */
bool kiln_cache_outputs_match(const kiln_strlist *outputs,
                              const char *workdir, size_t n,
                              char *const *rel);

/* Why a step may be neither served from the cache nor kept in it, or
 * NULL: an input it could not hash (a FIFO...: its key does not know what
 * the step read, and is that of a step without it), or an output that is
 * a symlink (an entry holds bytes, and a restore would put a copy where
 * the step makes a link). "input in.fifo is a FIFO, not a file"; out may
 * be NULL (before the step). Malloc'd. The engine records it as the
 * reason of an attempt that succeeded, after "not cached: "
 * (KILN_CACHE_REFUSED), for kiln why and --dry-run to tell. */
#define KILN_CACHE_REFUSED "not cached: "
char *kiln_cache_refusal(const kiln_artifact_list *in,
                         const kiln_artifact_list *out);

/* path relative to workdir ("models/m.pkl"); both absolute. Malloc'd. */
char *kiln_cache_relpath(const char *workdir, const char *path);

#endif
