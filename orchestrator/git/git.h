/*
 * git.h: pinning runs to Git commits, with libgit2 (never by shelling out).
 *
 * These calls block on disk I/O. `kiln run` makes them once before the loop
 * starts; the daemon will call them from uv_queue_work.
 */
#ifndef KILN_GIT_H
#define KILN_GIT_H

#include "base/base.h"

/* What a run records about the repository holding its pipeline file. */
typedef struct kiln_git_info {
    bool in_repo;       /* false: no repository holds the path */
    char commit[41];    /* full hex id of HEAD; "" on an unborn branch */
    char *branch;       /* short name ("main"), or NULL when detached */
    char *workdir;      /* absolute top of the work tree, no trailing '/' */
    bool dirty;         /* tracked files differ from HEAD (index or tree);
                           untracked and ignored files do not count */
    size_t n_changed;
    char **changed;     /* the changed paths, relative to workdir, sorted,
                           each with a status prefix ("M ", "A ", "D ",
                           "R "), for messages */
} kiln_git_info;

/*
 * Inspect the repository holding path (a file or a directory), searching
 * parent directories as git does. Returns 0 with info filled (info->in_repo
 * false when there is no repository), or KILN_ERROR when a repository was
 * found but could not be read. Release with kiln_git_info_dispose().
 */
int kiln_git_inspect(kiln_git_info *info, const char *path, kiln_err *err);
void kiln_git_info_dispose(kiln_git_info *info);

/*
 * Resolve rev (a commit id, a prefix, a branch, a tag, "HEAD~2"...) in the
 * repository holding path and write the commit's full hex id to commit_out.
 * Returns 0, KILN_ENOTFOUND when rev names nothing (or not a commit), or
 * KILN_ERROR.
 */
int kiln_git_resolve(char commit_out[41], const char *path, const char *rev,
                     kiln_err *err);

/* Fetch remote_name (its configured refspecs, its URL rewritten by
 * url.BASE.insteadOf) into the repository holding path, as `git fetch
 * REMOTE` does, but for FETCH_HEAD, which is not written. KILN_ENOTFOUND
 * when there is no such remote. Network or disk I/O: call it off the
 * loop. */
int kiln_git_fetch(const char *path, const char *remote_name, kiln_err *err);

/*
 * Materialise the tree of commit (a full hex id) of the repository holding
 * path into dest_dir (created; a directory that already holds a complete
 * checkout of that commit is reused as is). The repository's HEAD, index
 * and work tree are untouched. A checkout is complete only once a marker
 * file is written last, so an interrupted checkout is redone.
 */
int kiln_git_checkout(const char *path, const char *commit,
                      const char *dest_dir, kiln_err *err);

/* Does path lie in a checkout of commit that kiln_git_checkout() made
 * (a run pinned with --commit ran there)? Its tree is that commit's,
 * whatever the repository around it holds now. */
bool kiln_git_in_checkout(const char *path, const char *commit);

#endif
