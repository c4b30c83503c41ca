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

/* A directory walk's state: the entries found, and what else is there
 * that is neither kept nor hashed (a FIFO...), said so. */
typedef struct dir_walk {
    kiln_dir_entries *out;
    size_t base_len;
    const char *shown;       /* the directory as the user wrote it */
    kiln_artifact_list *odd; /* where the others go; NULL: nowhere */
} dir_walk;

/* nftw has no user pointer; a directory walk runs on one thread at a time
 * per list, so the walk travels through thread-local storage. */
static _Thread_local dir_walk *walking;

static kiln_dir_entry *entry_add(kiln_dir_entries *e, const char *rel)
{
    kiln_dir_entry *d;
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 64;
        e->items = kiln_realloc(e->items, e->cap * sizeof(*e->items));
    }
    d = &e->items[e->n++];
    memset(d, 0, sizeof(*d));
    d->rel = kiln_strdup(rel);
    return d;
}

/* A symlink's text, read without following it (NULL: unreadable). */
static char *link_text(const char *path, const struct stat *st)
{
    size_t cap = st->st_size > 0 ? (size_t)st->st_size + 1 : 256;
    for (;;) {
        char *buf = kiln_malloc(cap);
        ssize_t n = readlink(path, buf, cap);
        if (n >= 0 && (size_t)n < cap) {
            buf[n] = '\0';
            return buf;
        }
        free(buf);
        if (n < 0)
            return NULL;
        cap *= 2; /* re-pointed meanwhile to a longer text */
    }
}

/* Post-order (FTW_DEPTH), not following symlinks (FTW_PHYS): a directory
 * comes after everything in it, so one with nothing kept in it is known
 * empty when it comes. */
static int on_entry(const char *path, const struct stat *st, int type,
                    struct FTW *ftw)
{
    dir_walk *w = walking;
    kiln_dir_entries *e = w->out;
    const char *rel = path + w->base_len + 1;
    size_t len;

    if (ftw->level == 0)
        return 0; /* the directory itself */
    if (type == FTW_SL) {
        char *text = link_text(path, st);
        if (text)
            entry_add(e, rel)->link = text;
    } else if (type == FTW_DP) {
        /* Nothing under it since it began: the last entry kept, if any,
         * is not inside it. */
        len = strlen(rel);
        if (e->n == 0 || strncmp(e->items[e->n - 1].rel, rel, len) != 0 ||
            e->items[e->n - 1].rel[len] != '/')
            entry_add(e, rel)->empty_dir = true;
    } else if (type == FTW_F && S_ISREG(st->st_mode)) {
        entry_add(e, rel);
    } else if (type == FTW_F && w->odd) {
        int n = (int)strlen(w->shown);
        while (n > 1 && w->shown[n - 1] == '/')
            n--; /* "out/" is the directory out */
        add_special(w->odd, kiln_asprintf("%.*s/%s is %s, not a file", n,
                                          w->shown, rel,
                                          kiln_file_kind(st->st_mode)));
    }
    /* FTW_DNR, FTW_NS: a directory that cannot be read, or an entry gone
     * meanwhile, holds nothing kiln could keep. */
    return 0;
}

static int cmp_entries(const void *a, const void *b)
{
    return strcmp(((const kiln_dir_entry *)a)->rel,
                  ((const kiln_dir_entry *)b)->rel);
}

int kiln_artifacts_dir_entries(kiln_dir_entries *out, const char *path,
                               const char *shown, kiln_artifact_list *odd,
                               kiln_err *err)
{
    dir_walk w = {out, strlen(path), shown ? shown : path, odd};
    int rc = 0;

    memset(out, 0, sizeof(*out));
    walking = &w;
    if (nftw(path, on_entry, 16, FTW_PHYS | FTW_DEPTH) != 0)
        rc = kiln_err_set_os(err, "cannot read directory %s", path);
    walking = NULL;
    if (out->n)
        qsort(out->items, out->n, sizeof(*out->items), cmp_entries);
    return rc;
}

void kiln_dir_entries_dispose(kiln_dir_entries *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->items[i].rel);
        free(e->items[i].link);
    }
    free(e->items);
    memset(e, 0, sizeof(*e));
}

/* The directories being hashed: the one asked for and those its symlinks
 * led to (real paths). */
typedef struct hash_stack {
    size_t n;
    const char *dirs[16];
} hash_stack;

/* Is real (a real path) one of the stack's directories or inside one? */
static bool on_stack(const hash_stack *s, const char *real)
{
    for (size_t i = 0; i < s->n; i++) {
        size_t len = strlen(s->dirs[i]);
        if (strncmp(real, s->dirs[i], len) == 0 &&
            (real[len] == '\0' || real[len] == '/' || len == 1))
            return true;
    }
    return false;
}

static int tree_hash(char out[KILN_HASH_HEX], int64_t *size,
                     const char *dir, const char *shown,
                     kiln_artifact_list *odd, hash_stack *stack,
                     kiln_err *err);

/*
 * What a symlink in a directory being hashed adds besides its text: what
 * a step reading through it reads. A regular file it resolves to adds its
 * content hash ("="), wherever it is; a directory outside those being
 * hashed adds its own hash by these same rules ("/"), so a step reading
 * a linked tree is keyed by it too. Nothing more for a directory inside
 * them (its files are hashed there, and following it would loop), for a
 * link that resolves to nothing, and for a FIFO, a device or a socket
 * (never opened: a FIFO would block, a device never end). Nor when the
 * target cannot be read (the step could not read it either), nor past 16
 * directories followed. The link text alone is git's rule; it would miss
 * a change of the file behind the link, which the step reads.
 */
static void hash_link_target(EVP_MD_CTX *ctx, const char *full,
                             hash_stack *stack)
{
    char hex[KILN_HASH_HEX], *real = realpath(full, NULL);
    kiln_err ignored = KILN_ERR_INIT;
    struct stat sb;

    if (!real || stat(real, &sb) != 0) {
        free(real);
        return;
    }
    if (S_ISREG(sb.st_mode) && kiln_hash_file(hex, real, &ignored) == 0) {
        EVP_DigestUpdate(ctx, "=", 1);
        EVP_DigestUpdate(ctx, hex, 64);
    } else if (S_ISDIR(sb.st_mode) && !on_stack(stack, real) &&
               stack->n < KILN_ARRAY_SIZE(stack->dirs)) {
        stack->dirs[stack->n++] = real;
        if (tree_hash(hex, NULL, real, NULL, NULL, stack, &ignored) == 0) {
            EVP_DigestUpdate(ctx, "/", 1);
            EVP_DigestUpdate(ctx, hex, 64);
        }
        stack->n--;
    }
    free(real);
}

/*
 * A directory's hash: per entry, sorted by name, "name\0" then
 *   a regular file:    its content hash, 64 hex digits;
 *   a symlink:         "->", its link text, "\0", and what it leads to
 *                      (hash_link_target());
 *   an empty directory: "/";
 * and "\n". A tree of regular files only hashes as it did before kiln
 * kept symlinks and empty directories, so its cache keys stay the same.
 * Special files in it go to odd (when given), unread. size (when given)
 * is the bytes of its regular files.
 */
static int tree_hash(char out[KILN_HASH_HEX], int64_t *size,
                     const char *dir, const char *shown,
                     kiln_artifact_list *odd, hash_stack *stack,
                     kiln_err *err)
{
    kiln_dir_entries e;
    EVP_MD_CTX *ctx;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    int rc = kiln_artifacts_dir_entries(&e, dir, shown, odd, err);

    ctx = EVP_MD_CTX_new();
    if (!ctx)
        kiln_fatal("EVP_MD_CTX_new failed");
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    if (size)
        *size = 0;
    for (size_t i = 0; i < e.n && rc == 0; i++) {
        const kiln_dir_entry *d = &e.items[i];
        char hex[KILN_HASH_HEX], *full = kiln_path_join(dir, d->rel);
        struct stat st;
        EVP_DigestUpdate(ctx, d->rel, strlen(d->rel) + 1);
        if (d->link) {
            EVP_DigestUpdate(ctx, "->", 2);
            EVP_DigestUpdate(ctx, d->link, strlen(d->link) + 1);
            hash_link_target(ctx, full, stack);
        } else if (d->empty_dir) {
            EVP_DigestUpdate(ctx, "/", 1);
        } else if ((rc = kiln_hash_file(hex, full, err)) == 0) {
            if (size && stat(full, &st) == 0)
                *size += st.st_size;
            EVP_DigestUpdate(ctx, hex, 64);
        }
        EVP_DigestUpdate(ctx, "\n", 1);
        free(full);
    }
    EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    kiln_dir_entries_dispose(&e);
    return rc;
}

/* Hash directory a (a->path, a real path). */
static int hash_dir(kiln_artifact_list *list, kiln_artifact *a,
                    const char *shown_as, kiln_err *err)
{
    hash_stack stack = {1, {a->path}};
    return tree_hash(a->sha256, &a->size, a->path, shown_as, list, &stack,
                     err);
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
