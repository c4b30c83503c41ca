/*
 * git.c: commit pinning with libgit2.
 *
 * Every libgit2 call stays in this file, and each failure becomes a kiln_err
 * that names the operation and the repository. Repositories are opened per
 * call and never cached, so the functions may run on any thread.
 */
#include "git.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

/* Written last into a checkout; holds the commit id and a newline. */
#define CHECKOUT_MARKER ".kiln-checkout-complete"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;  /* git_libgit2_init()'s result */

static void on_init(void)
{
    init_rc = git_libgit2_init();
}

/* Initialise libgit2 once per process; it stays up until exit. */
static int ensure_init(kiln_err *err)
{
    pthread_once(&init_once, on_init);
    if (init_rc < 0)
        return kiln_err_set(err, KILN_ERROR, "cannot initialise libgit2");
    return 0;
}

/* Set err to "<what>: <libgit2's last message>" and return code. */
static int err_from_git(kiln_err *err, int code, const char *fmt, ...)
    KILN_PRINTF(3, 4);

static int err_from_git(kiln_err *err, int code, const char *fmt, ...)
{
    const git_error *e = git_error_last();
    char what[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    kiln_err_set(err, code, "%s: %s", what,
                 e && e->message ? e->message : "unknown libgit2 error");
    git_error_clear();
    return code;
}

/*
 * Open the repository whose work tree holds path (a file or a directory),
 * searching parent directories. Sets *out to NULL and returns 0 when there
 * is none; bare repositories count as none, since no work tree holds path.
 */
static int open_repo(git_repository **out, const char *path, kiln_err *err)
{
    git_repository *repo = NULL;
    struct stat st;
    char *start = NULL;
    int error;

    *out = NULL;
    if ((error = ensure_init(err)) < 0)
        return error;
    if (stat(path, &st) != 0)
        return kiln_err_set_os(err, "cannot inspect %s", path);
    start = S_ISDIR(st.st_mode) ? kiln_strdup(path) : kiln_path_dirname(path);

    error = git_repository_open_ext(&repo, start, 0, NULL);
    if (error == GIT_ENOTFOUND) {
        git_error_clear();
        error = 0;
        goto done;
    }
    if (error < 0) {
        error = err_from_git(err, KILN_ERROR,
                             "cannot open the Git repository holding %s",
                             path);
        goto done;
    }
    if (git_repository_is_bare(repo) || !git_repository_workdir(repo)) {
        git_repository_free(repo);
        repo = NULL;
    }
    *out = repo;

done:
    free(start);
    return error;
}

/* Open the repository holding path, failing when there is none. */
static int open_repo_required(git_repository **out, const char *path,
                              kiln_err *err)
{
    int error = open_repo(out, path, err);
    if (error == 0 && !*out)
        return kiln_err_set(err, KILN_ENOTFOUND,
                            "no Git repository holds %s", path);
    return error;
}

/* The work tree's top as a malloc'd string without the trailing '/'. */
static char *workdir_of(git_repository *repo)
{
    const char *wd = git_repository_workdir(repo);
    size_t n = strlen(wd);
    while (n > 1 && wd[n - 1] == '/')
        n--;
    return kiln_strndup(wd, n);
}

/* Fill info->commit and info->branch from HEAD. Returns libgit2's error. */
static int read_head(kiln_git_info *info, git_repository *repo)
{
    git_reference *head = NULL;
    git_object *commit = NULL;
    int error;

    error = git_repository_head(&head, repo);
    if (error == GIT_EUNBORNBRANCH || error == GIT_ENOTFOUND) {
        /* No commit yet: HEAD still names the branch to be born. */
        const char *target;
        git_error_clear();
        if ((error = git_reference_lookup(&head, repo, "HEAD")) < 0)
            goto done;
        target = git_reference_symbolic_target(head);
        if (target) {
            if (strncmp(target, "refs/heads/", 11) == 0)
                target += 11;
            info->branch = kiln_strdup(target);
        }
        info->commit[0] = '\0';
        goto done;
    }
    if (error < 0 ||
        (error = git_reference_peel(&commit, head, GIT_OBJECT_COMMIT)) < 0)
        goto done;
    git_oid_tostr(info->commit, sizeof(info->commit), git_object_id(commit));
    /* A detached HEAD resolves to a reference named "HEAD" itself. */
    if (strcmp(git_reference_name(head), "HEAD") != 0)
        info->branch = kiln_strdup(git_reference_shorthand(head));

done:
    git_object_free(commit);
    git_reference_free(head);
    return error;
}

/* One letter for a status entry, or 0 when it does not make the tree
 * dirty (untracked, ignored). Index changes come before work tree ones. */
static char status_letter(unsigned int s)
{
    if (s & GIT_STATUS_CONFLICTED)
        return 'U';
    if (s & GIT_STATUS_INDEX_NEW)
        return 'A';
    if (s & GIT_STATUS_INDEX_RENAMED)
        return 'R';
    if (s & (GIT_STATUS_INDEX_DELETED | GIT_STATUS_WT_DELETED))
        return 'D';
    if (s & (GIT_STATUS_INDEX_TYPECHANGE | GIT_STATUS_WT_TYPECHANGE))
        return 'T';
    if (s & (GIT_STATUS_INDEX_MODIFIED | GIT_STATUS_WT_MODIFIED))
        return 'M';
    if (s & GIT_STATUS_WT_RENAMED)
        return 'R';
    return 0;
}

/* Sort "X path" strings by path. */
static int compare_changed(const void *a, const void *b)
{
    return strcmp(*(char *const *)a + 2, *(char *const *)b + 2);
}

/* Fill info->dirty and info->changed from the status of tracked files. */
static int read_status(kiln_git_info *info, git_repository *repo)
{
    git_status_options opts;  /* _INIT trips -Wmissing-field-initializers */
    git_status_list *list = NULL;
    size_t i, n;
    int error;

    if ((error = git_status_options_init(&opts,
                                         GIT_STATUS_OPTIONS_VERSION)) < 0)
        return error;
    opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    opts.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES |
                 GIT_STATUS_OPT_RENAMES_HEAD_TO_INDEX;
    if ((error = git_status_list_new(&list, repo, &opts)) < 0)
        return error;

    n = git_status_list_entrycount(list);
    info->changed = kiln_calloc(n, sizeof(*info->changed));
    for (i = 0; i < n; i++) {
        const git_status_entry *e = git_status_byindex(list, i);
        const git_diff_delta *d =
            e->head_to_index ? e->head_to_index : e->index_to_workdir;
        char letter = status_letter(e->status);
        if (!letter)
            continue;
        info->dirty = true;
        if (!d)
            continue;
        if (letter == 'R' && d->old_file.path && d->new_file.path &&
            strcmp(d->old_file.path, d->new_file.path) != 0)
            info->changed[info->n_changed++] = kiln_asprintf(
                "R %s -> %s", d->old_file.path, d->new_file.path);
        else
            info->changed[info->n_changed++] = kiln_asprintf(
                "%c %s", letter,
                d->new_file.path ? d->new_file.path : d->old_file.path);
    }
    qsort(info->changed, info->n_changed, sizeof(*info->changed),
          compare_changed);
    git_status_list_free(list);
    return 0;
}

int kiln_git_inspect(kiln_git_info *info, const char *path, kiln_err *err)
{
    git_repository *repo = NULL;
    int error;

    memset(info, 0, sizeof(*info));
    if ((error = open_repo(&repo, path, err)) < 0 || !repo)
        return error;

    info->in_repo = true;
    info->workdir = workdir_of(repo);
    if (read_head(info, repo) < 0) {
        error = err_from_git(err, KILN_ERROR, "cannot read HEAD in %s",
                             info->workdir);
        goto done;
    }
    if (read_status(info, repo) < 0) {
        error = err_from_git(err, KILN_ERROR, "git status in %s",
                             info->workdir);
        goto done;
    }

done:
    if (error < 0)
        kiln_git_info_dispose(info);
    git_repository_free(repo);
    return error;
}

void kiln_git_info_dispose(kiln_git_info *info)
{
    size_t i;
    if (!info)
        return;
    for (i = 0; i < info->n_changed; i++)
        free(info->changed[i]);
    free(info->changed);
    free(info->branch);
    free(info->workdir);
    memset(info, 0, sizeof(*info));
}

int kiln_git_resolve(char commit_out[41], const char *path, const char *rev,
                     kiln_err *err)
{
    git_repository *repo = NULL;
    git_object *obj = NULL, *commit = NULL;
    char *wd = NULL;
    int error;

    commit_out[0] = '\0';
    if ((error = open_repo_required(&repo, path, err)) < 0)
        return error;
    wd = workdir_of(repo);

    error = git_revparse_single(&obj, repo, rev);
    if (error == GIT_ENOTFOUND || error == GIT_EUNBORNBRANCH) {
        git_error_clear();
        error = kiln_err_set(err, KILN_ENOTFOUND,
                             "unknown revision \"%s\" in repository %s", rev,
                             wd);
        goto done;
    }
    if (error == GIT_EAMBIGUOUS) {
        error = err_from_git(err, KILN_ENOTFOUND,
                             "ambiguous revision \"%s\" in repository %s",
                             rev, wd);
        goto done;
    }
    if (error == GIT_EINVALIDSPEC) {
        error = err_from_git(err, KILN_ENOTFOUND,
                             "invalid revision \"%s\" in repository %s", rev,
                             wd);
        goto done;
    }
    if (error < 0) {
        error = err_from_git(err, KILN_ERROR,
                             "cannot resolve \"%s\" in repository %s", rev,
                             wd);
        goto done;
    }

    if (git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) < 0) {
        git_error_clear();
        error = kiln_err_set(err, KILN_ENOTFOUND,
                             "revision \"%s\" in repository %s is a %s, "
                             "not a commit", rev, wd,
                             git_object_type2string(git_object_type(obj)));
        goto done;
    }
    git_oid_tostr(commit_out, 41, git_object_id(commit));

done:
    git_object_free(commit);
    git_object_free(obj);
    git_repository_free(repo);
    free(wd);
    return error;
}

/* True when dir holds a complete checkout of commit (canonical hex). */
static bool checkout_complete(const char *dir, const char *commit)
{
    char *marker = kiln_path_join(dir, CHECKOUT_MARKER);
    char *text = NULL;
    size_t len = 0;
    bool ok = false;

    if (kiln_read_file(&text, &len, marker, 128, NULL) == 0) {
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
            text[--len] = '\0';
        ok = strcmp(text, commit) == 0;
    }
    free(text);
    free(marker);
    return ok;
}

bool kiln_git_in_checkout(const char *path, const char *commit)
{
    char *dir = kiln_path_dirname(path);
    bool found = false;
    /* The marker is at the checkout's top; the file may be below it. */
    while (!found) {
        char *up;
        found = checkout_complete(dir, commit);
        if (strcmp(dir, "/") == 0 || strcmp(dir, ".") == 0)
            break;
        up = kiln_path_dirname(dir);
        free(dir);
        dir = up;
    }
    free(dir);
    return found;
}

/* nftw callback for remove_tree(): unlink files, rmdir directories. */
static int on_remove(const char *path, const struct stat *st, int type,
                     struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf path, without following symbolic links. */
static int remove_tree(const char *path, kiln_err *err)
{
    struct stat st;
    if (lstat(path, &st) != 0 && errno == ENOENT)
        return 0;
    if (nftw(path, on_remove, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return kiln_err_set_os(err, "cannot remove %s", path);
    return 0;
}

/* Refuse to delete dir when the repository's work tree lies inside it. */
static int check_removable(const char *dir, const char *workdir,
                           kiln_err *err)
{
    char *real = realpath(dir, NULL);
    size_t n;
    int error = 0;

    if (!real)
        return 0;
    n = strlen(real);
    if (strcmp(real, "/") == 0 ||
        (strncmp(workdir, real, n) == 0 &&
         (workdir[n] == '\0' || workdir[n] == '/')))
        error = kiln_err_set(err, KILN_EINVAL,
                             "refusing to replace %s with a checkout: it "
                             "holds the repository %s", dir, workdir);
    free(real);
    return error;
}

/* Write the completion marker into dir. */
static int write_marker(const char *dir, const char *commit, kiln_err *err)
{
    char *marker = kiln_path_join(dir, CHECKOUT_MARKER);
    FILE *f = fopen(marker, "w");
    int error = 0;

    if (!f) {
        error = kiln_err_set_os(err, "cannot create %s", marker);
    } else {
        bool ok = fprintf(f, "%s\n", commit) > 0;
        if (fclose(f) != 0 || !ok)
            error = kiln_err_set_os(err, "cannot write %s", marker);
    }
    free(marker);
    return error;
}

/*
 * The tree is checked out into a fresh sibling directory "<dest>.tmp-XXXXXX"
 * that is renamed to dest_dir once the marker is in place. Concurrent
 * callers checking out the same commit therefore never see a half-written
 * dest_dir, and the one that loses the rename reuses the winner's checkout.
 * A dest_dir without the marker (or with another commit's) is replaced.
 */
int kiln_git_checkout(const char *path, const char *commit,
                      const char *dest_dir, kiln_err *err)
{
    git_checkout_options opts;
    git_repository *repo = NULL;
    git_commit *c = NULL;
    git_tree *tree = NULL;
    git_oid oid;
    char id[GIT_OID_HEXSZ + 1];
    char *dest = NULL, *parent = NULL, *tmp = NULL, *wd = NULL;
    size_t n;
    int error = 0;

    if (strlen(commit) != GIT_OID_HEXSZ ||
        strspn(commit, "0123456789abcdefABCDEF") != GIT_OID_HEXSZ ||
        git_oid_fromstr(&oid, commit) < 0) {
        git_error_clear();
        return kiln_err_set(err, KILN_EINVAL,
                            "invalid commit id \"%s\": expected 40 hex digits",
                            commit);
    }
    git_oid_tostr(id, sizeof(id), &oid);

    n = strlen(dest_dir);
    while (n > 1 && dest_dir[n - 1] == '/')
        n--;
    dest = kiln_strndup(dest_dir, n);
    if (checkout_complete(dest, id))
        goto done;

    if ((error = open_repo_required(&repo, path, err)) < 0)
        goto done;
    wd = workdir_of(repo);
    error = git_commit_lookup(&c, repo, &oid);
    if (error == GIT_ENOTFOUND) {
        git_error_clear();
        error = kiln_err_set(err, KILN_ENOTFOUND,
                             "unknown commit %s in repository %s", id, wd);
        goto done;
    }
    if (error < 0 || (error = git_commit_tree(&tree, c)) < 0) {
        error = err_from_git(err, KILN_ERROR,
                             "cannot read commit %s in repository %s", id, wd);
        goto done;
    }

    parent = kiln_path_dirname(dest);
    if ((error = kiln_mkdir_p(parent, err)) < 0)
        goto done;
    tmp = kiln_asprintf("%s.tmp-XXXXXX", dest);
    if (!mkdtemp(tmp)) {
        error = kiln_err_set_os(err, "cannot create a directory like %s",
                                tmp);
        free(tmp);
        tmp = NULL;
        goto done;
    }
    chmod(tmp, 0755);  /* mkdtemp() made it 0700 */

    /* FORCE writes every file into the empty directory. The repository's
     * index is read (to find HEAD's baseline) but never written. */
    git_checkout_options_init(&opts, GIT_CHECKOUT_OPTIONS_VERSION);
    opts.checkout_strategy = GIT_CHECKOUT_FORCE |
                             GIT_CHECKOUT_DONT_UPDATE_INDEX |
                             GIT_CHECKOUT_DONT_WRITE_INDEX;
    opts.target_directory = tmp;
    if (git_checkout_tree(repo, (const git_object *)tree, &opts) < 0) {
        error = err_from_git(err, KILN_ERROR,
                             "cannot check out commit %s of %s into %s", id,
                             wd, dest);
        goto done;
    }
    if ((error = write_marker(tmp, id, err)) < 0)
        goto done;

    if (rename(tmp, dest) != 0) {
        if (errno != ENOTEMPTY && errno != EEXIST && errno != ENOTDIR) {
            error = kiln_err_set_os(err, "cannot rename %s to %s", tmp, dest);
            goto done;
        }
        /* Someone else may have finished the same checkout meanwhile. */
        if (checkout_complete(dest, id))
            goto done;
        if ((error = check_removable(dest, wd, err)) < 0 ||
            (error = remove_tree(dest, err)) < 0)
            goto done;
        if (rename(tmp, dest) != 0) {
            error = kiln_err_set_os(err, "cannot rename %s to %s", tmp, dest);
            goto done;
        }
    }
    free(tmp);
    tmp = NULL;

done:
    if (tmp) {
        remove_tree(tmp, NULL);
        free(tmp);
    }
    git_tree_free(tree);
    git_commit_free(c);
    git_repository_free(repo);
    free(wd);
    free(parent);
    free(dest);
    return error;
}

/*
 * A remote as git_remote_lookup() reads it, without it: libgit2 1.5 leaks
 * a PCRE2 match block (about 20 KB) for every configuration entry a
 * regular expression does not match (fixed in 1.6), and a lookup matches
 * every entry against "url.*.insteadof" twice, so a git trigger's fetch
 * every minute grew kiln serve by some 300 MB a day. The remote is made
 * anonymous, from its URL with the longest url.BASE.insteadOf prefix
 * replaced (as git does), and fetched with its configured refspecs;
 * FETCH_HEAD is not written (a named remote's would look it up again).
 */
typedef struct remote_config {
    const char *url;
    size_t best;          /* the longest insteadOf prefix of url so far */
    kiln_buf base;        /* ...its url.BASE */
    git_strarray fetch;   /* remote.NAME.fetch */
} remote_config;

static int on_insteadof(const git_config_entry *e, void *data)
{
    static const char suffix[] = ".insteadof";
    remote_config *rc = data;
    size_t n = strlen(e->name), sn = sizeof(suffix) - 1, vn;
    if (strncmp(e->name, "url.", 4) != 0 || n < 4 + sn ||
        strcasecmp(e->name + n - sn, suffix) != 0 || !e->value)
        return 0;
    vn = strlen(e->value);
    if (vn > rc->best && strncmp(rc->url, e->value, vn) == 0) {
        rc->best = vn;
        kiln_buf_clear(&rc->base);
        kiln_buf_add(&rc->base, e->name + 4, n - 4 - sn);
    }
    return 0;
}

static int on_fetch_spec(const git_config_entry *e, void *data)
{
    remote_config *rc = data;
    rc->fetch.strings = kiln_realloc(rc->fetch.strings, (rc->fetch.count + 1)
                                     * sizeof(char *));
    rc->fetch.strings[rc->fetch.count++] = kiln_strdup(e->value);
    return 0;
}

int kiln_git_fetch(const char *path, const char *remote_name, kiln_err *err)
{
    git_repository *repo = NULL;
    git_remote *remote = NULL;
    git_config *cfg = NULL;
    git_buf url = GIT_BUF_INIT;
    git_fetch_options opts;
    git_remote_create_options copts;
    remote_config rc;
    char *key = kiln_asprintf("remote.%s.url", remote_name), *fetch_url;
    int error;

    memset(&rc, 0, sizeof(rc));
    rc.base = (kiln_buf)KILN_BUF_INIT;
    git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
    git_remote_create_options_init(&copts,
                                   GIT_REMOTE_CREATE_OPTIONS_VERSION);
    if ((error = open_repo_required(&repo, path, err)) < 0)
        goto done;
    if ((error = git_repository_config_snapshot(&cfg, repo)) < 0) {
        error = err_from_git(err, KILN_ERROR, "cannot read the configuration "
                             "of the repository holding %s", path);
        goto done;
    }
    error = git_config_get_string_buf(&url, cfg, key);
    if (error == GIT_ENOTFOUND || error == GIT_EINVALIDSPEC) {
        git_error_clear();
        error = kiln_err_set(err, KILN_ENOTFOUND, "no remote \"%s\" in the "
                             "repository holding %s", remote_name, path);
        goto done;
    }
    if (error < 0) {
        error = err_from_git(err, KILN_ERROR, "cannot read remote \"%s\"",
                             remote_name);
        goto done;
    }
    rc.url = url.ptr;
    free(key);
    key = kiln_asprintf("remote.%s.fetch", remote_name);
    if ((error = git_config_foreach(cfg, on_insteadof, &rc)) < 0 ||
        ((error = git_config_get_multivar_foreach(cfg, key, NULL,
                                                  on_fetch_spec, &rc)) < 0 &&
         error != GIT_ENOTFOUND)) {
        error = err_from_git(err, KILN_ERROR, "cannot read remote \"%s\"",
                             remote_name);
        goto done;
    }
    git_error_clear();
    fetch_url = rc.best ? kiln_asprintf("%s%s", kiln_buf_cstr(&rc.base),
                                        url.ptr + rc.best)
                        : kiln_strdup(url.ptr);
    copts.repository = repo;
    copts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
                  GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    error = git_remote_create_with_opts(&remote, fetch_url, &copts);
    free(fetch_url);
    if (error < 0) {
        error = err_from_git(err, KILN_ERROR, "cannot read remote \"%s\"",
                             remote_name);
        goto done;
    }
    /* Only the remote's configured refspecs; tags are not needed. */
    opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    opts.update_fetchhead = 0;
    if ((error = git_remote_fetch(remote, &rc.fetch, &opts,
                                  "kiln: fetch")) < 0)
        error = err_from_git(err, KILN_ERROR, "cannot fetch from remote "
                             "\"%s\" (%s)", remote_name,
                             git_remote_url(remote));
done:
    for (size_t i = 0; i < rc.fetch.count; i++)
        free(rc.fetch.strings[i]);
    free(rc.fetch.strings);
    kiln_buf_dispose(&rc.base);
    git_buf_dispose(&url);
    free(key);
    git_config_free(cfg);
    git_remote_free(remote);
    git_repository_free(repo);
    return error < 0 ? error : 0;
}
