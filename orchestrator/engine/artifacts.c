/* artifacts.c: finding and hashing a step's inputs and outputs. */
#include "artifacts.h"

#include <errno.h>
#include <ftw.h>
#include <glob.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Is path (absolute) the file rel names under workdir? */
static bool names(const char *workdir, const char *rel, const char *path)
{
    char *joined, *abs;
    bool same;
    if (!rel)
        return false;
    while (rel[0] == '.' && rel[1] == '/')
        rel += 2;
    joined = kiln_path_join(workdir, rel);
    abs = kiln_path_absolute(joined);
    same = strcmp(abs, path) == 0;
    free(abs);
    free(joined);
    return same;
}

const char *kiln_artifact_type_of(const kiln_step *st, const char *workdir,
                                  const char *path)
{
    if (st->reg && names(workdir, st->reg->register_path, path))
        return "model";
    if (names(workdir, st->metrics, path))
        return "metrics";
    return "file";
}

/* path, a pattern's match under workdir, as the user wrote it: relative
 * to workdir. */
static const char *shown(const char *workdir, const char *path)
{
    size_t n = workdir ? strlen(workdir) : 0;
    if (n && strncmp(path, workdir, n) == 0 &&
        (path[n] == '/' || workdir[n - 1] == '/'))
        return path + n + (path[n] == '/');
    return path;
}

/* Add why to a list of notes (n, items), once. */
static void note(size_t *n, char ***items, char *why)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*items)[i], why) == 0) {
            free(why); /* two patterns named it */
            return;
        }
    *items = kiln_realloc(*items, (*n + 1) * sizeof(char *));
    (*items)[(*n)++] = why;
}

static void add_special(kiln_artifact_list *list, char *why)
{
    note(&list->n_special, &list->special, why);
}

/* Is path (a match under workdir) neither a file nor a directory? Then it
 * is noted in list and never opened: a FIFO blocks open() until someone
 * writes to it, and a device like /dev/zero never ends. */
static bool special(kiln_artifact_list *list, const char *workdir,
                    const char *path)
{
    struct stat sb, lsb;
    char *target;
    if (stat(path, &sb) != 0 || S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode))
        return false;
    if (lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode) &&
        (target = realpath(path, NULL)) != NULL) {
        add_special(list, kiln_asprintf("%s is a symlink to %s (%s), not a "
                                        "file", shown(workdir, path),
                                        kiln_file_kind(sb.st_mode), target));
        free(target);
    } else {
        add_special(list, kiln_asprintf("%s is %s, not a file",
                                        shown(workdir, path),
                                        kiln_file_kind(sb.st_mode)));
    }
    return true;
}

/* The regular files under a directory, relative to it, sorted; and what
 * else is there that is not a directory (a FIFO...), said so. */
typedef struct file_list {
    size_t n, cap;
    char **names;
    size_t base_len;
    const char *shown;       /* the directory as the user wrote it */
    kiln_artifact_list *odd; /* where the others go */
} file_list;

/* nftw has no user pointer; a directory walk runs on one thread at a time
 * per list, so the list travels through thread-local storage. */
static _Thread_local file_list *walking;

static int on_file(const char *path, const struct stat *st, int type,
                   struct FTW *ftw)
{
    file_list *l = walking;
    int len = (int)strlen(l->shown);
    (void)ftw;
    while (len > 1 && l->shown[len - 1] == '/')
        len--; /* "out/" is the directory out */
    if (type == FTW_SL || type == FTW_SLN) {
        /* Not followed (a link out of the tree, or a loop), so not in
         * the hash either: noted. */
        note(&l->odd->n_links, &l->odd->links,
             kiln_asprintf("%.*s/%s is a symlink", len, l->shown,
                           path + l->base_len + 1));
        return 0;
    }
    if (type != FTW_F)
        return 0;
    if (!S_ISREG(st->st_mode)) {
        add_special(l->odd, kiln_asprintf("%.*s/%s is %s, not a file", len,
                                          l->shown, path + l->base_len + 1,
                                          kiln_file_kind(st->st_mode)));
        return 0;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->names = kiln_realloc(l->names, l->cap * sizeof(char *));
    }
    l->names[l->n++] = kiln_strdup(path + l->base_len + 1);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Hash a directory: its sorted file names with their content hashes.
 * Special files in it go to list, unread. */
static int hash_dir(kiln_artifact_list *list, kiln_artifact *a,
                    const char *shown_as, kiln_err *err)
{
    file_list l = {0, 0, NULL, strlen(a->path), shown_as, list};
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    int rc = 0;

    walking = &l;
    if (nftw(a->path, on_file, 16, FTW_PHYS) != 0)
        rc = kiln_err_set_os(err, "cannot read directory %s", a->path);
    walking = NULL;
    if (l.n)
        qsort(l.names, l.n, sizeof(char *), cmp_names);
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    a->size = 0;
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        char hex[KILN_HASH_HEX], *full = kiln_path_join(a->path, l.names[i]);
        struct stat st;
        rc = kiln_hash_file(hex, full, err);
        if (rc == 0 && stat(full, &st) == 0)
            a->size += st.st_size;
        free(full);
        EVP_DigestUpdate(ctx, l.names[i], strlen(l.names[i]) + 1);
        EVP_DigestUpdate(ctx, hex, 64);
        EVP_DigestUpdate(ctx, "\n", 1);
    }
    EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; i < n; i++)
        snprintf(a->sha256 + 2 * i, 3, "%02x", md[i]);
    for (size_t i = 0; i < l.n; i++)
        free(l.names[i]);
    free(l.names);
    return rc;
}

/* Add path (absolute; shown_as, as the user wrote it) to list. */
static int add(kiln_artifact_list *list, const char *path,
               const char *shown_as, kiln_err *err)
{
    kiln_artifact *a;
    struct stat st;
    int rc;

    if (stat(path, &st) != 0)
        return kiln_err_set_os(err, "cannot read %s", path);
    for (size_t i = 0; i < list->n; i++)
        if (strcmp(list->items[i].path, path) == 0)
            return 0; /* two patterns named it */
    list->items = kiln_realloc(list->items, (list->n + 1) *
                               sizeof(*list->items));
    a = &list->items[list->n++];
    memset(a, 0, sizeof(*a));
    a->path = kiln_strdup(path);
    a->is_dir = S_ISDIR(st.st_mode);
    if (a->is_dir)
        return hash_dir(list, a, shown_as, err);
    a->size = st.st_size;
    rc = kiln_hash_file(a->sha256, path, err);
    return rc;
}

int kiln_artifacts_collect(kiln_artifact_list *list, const char *workdir,
                           const kiln_strlist *patterns, kiln_err *err)
{
    memset(list, 0, sizeof(*list));
    for (size_t i = 0; i < patterns->n; i++) {
        char *pattern = kiln_path_join(workdir, patterns->items[i]);
        glob_t g;
        int rc = glob(pattern, GLOB_NOSORT | GLOB_BRACE, NULL, &g);
        free(pattern);
        if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
            list->missing = kiln_realloc(list->missing, (list->n_missing + 1)
                                         * sizeof(char *));
            list->missing[list->n_missing++] =
                kiln_strdup(patterns->items[i]);
        } else if (rc != 0) {
            globfree(&g);
            return kiln_err_set(err, KILN_ERROR, "cannot expand %s",
                                patterns->items[i]);
        }
        for (size_t k = 0; rc == 0 && k < g.gl_pathc; k++) {
            char *abs;
            int arc;
            struct stat lsb;
            if (special(list, workdir, g.gl_pathv[k]))
                continue;
            if (lstat(g.gl_pathv[k], &lsb) == 0 && S_ISLNK(lsb.st_mode))
                note(&list->n_links, &list->links,
                     kiln_asprintf("%s is a symlink",
                                   shown(workdir, g.gl_pathv[k])));
            abs = kiln_path_absolute(g.gl_pathv[k]);
            arc = add(list, abs, shown(workdir, g.gl_pathv[k]), err);
            free(abs);
            if (arc != 0) {
                globfree(&g);
                return arc;
            }
        }
        if (rc == 0)
            globfree(&g);
    }
    return 0;
}

/* Add the file at rel (a path, not a pattern) under workdir, or note it
 * missing. */
static int add_path(kiln_artifact_list *list, const char *workdir,
                    const char *rel, kiln_err *err)
{
    char *path = kiln_path_join(workdir, rel), *abs;
    int rc = 0;
    if (access(path, F_OK) != 0) {
        list->missing = kiln_realloc(list->missing, (list->n_missing + 1) *
                                     sizeof(char *));
        list->missing[list->n_missing++] = kiln_strdup(rel);
    } else if (!special(list, workdir, path)) {
        abs = kiln_path_absolute(path);
        rc = add(list, abs, rel, err);
        free(abs);
    }
    free(path);
    return rc;
}

int kiln_artifacts_collect_inputs(kiln_artifact_list *list,
                                  const char *workdir, const kiln_step *st,
                                  kiln_err *err)
{
    const kiln_validation *v = st->validation;
    int rc = kiln_artifacts_collect(list, workdir, &st->inputs, err);
    if (rc == 0 && v && v->data)
        rc = add_path(list, workdir, v->data, err);
    if (rc == 0 && v && v->drift && v->drift->reference)
        rc = add_path(list, workdir, v->drift->reference, err);
    return rc;
}

void kiln_artifact_list_dispose(kiln_artifact_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->items[i].path);
    free(list->items);
    for (size_t i = 0; i < list->n_missing; i++)
        free(list->missing[i]);
    free(list->missing);
    for (size_t i = 0; i < list->n_special; i++)
        free(list->special[i]);
    free(list->special);
    for (size_t i = 0; i < list->n_links; i++)
        free(list->links[i]);
    free(list->links);
    memset(list, 0, sizeof(*list));
}
