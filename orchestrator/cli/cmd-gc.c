/* cmd-gc.c: kiln gc [--max-size SIZE] [--dry-run] [--state DIR]
 *
 * Trims the object store (STATE/objects) by what the record says it
 * needs (kiln_store_object_refs()): the bytes of registered model
 * versions are never removed; objects nothing refers to always go; cache
 * entries' outputs and recorded inputs go least recently used first,
 * only while the store is larger than --max-size. Cache entries whose
 * objects are gone are forgotten, so those steps simply run next time. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

typedef struct object {
    char *path;
    char sha[65];
    int64_t size;
    int64_t used;   /* mtime: restores touch it */
    int keep;       /* 0: nothing refers to it; 1: a cache entry or a
                       recorded input (LRU); 2: a registered model's */
} object;

/* Sizes like 500M, 10G, 1T, or bytes (a kiln_opt_parse_fn). */
static int parse_size(void *out, char *text, const kiln_opt *spec,
                      kiln_err *err)
{
    char *end;
    double v = strtod(text, &end);
    int64_t mult = 1;
    if (end == text || v < 0)
        goto bad;
    switch (*end) {
    case 'k': case 'K': mult = 1LL << 10; end++; break;
    case 'm': case 'M': mult = 1LL << 20; end++; break;
    case 'g': case 'G': mult = 1LL << 30; end++; break;
    case 't': case 'T': mult = 1LL << 40; end++; break;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end)
        goto bad;
    *(int64_t *)out = (int64_t)(v * (double)mult);
    return 0;
bad:
    return kiln_err_set(err, KILN_EINVAL, "--%s expects a size such as "
                        "500M or 10G, got \"%s\"", spec->name, text);
}

typedef struct gc_opts {
    int64_t max;       /* --max-size SIZE */
    bool dry;          /* --dry-run */
    const char *state; /* --state DIR */
} gc_opts;

static const kiln_opt options[] = {
    KILN_OPT_PARSED('m', "max-size", gc_opts, max, int64_t, parse_size,
                    "SIZE", "the limit, such as 500M or 10G", .def = "10G"),
    KILN_OPT_SWITCH('n', "dry-run", gc_opts, dry,
                    "say what would go, remove nothing"),
    KILN_CLI_OPT_STATE(gc_opts),
    KILN_OPT_END,
};

/* What goes first: unreferenced objects, then the least recently used;
 * model objects last (they are never removed). */
static int by_use(const void *a, const void *b)
{
    const object *x = a, *y = b;
    if (x->keep != y->keep)
        return x->keep - y->keep;
    return x->used < y->used ? -1 : x->used > y->used;
}

static int by_sha(const void *a, const void *b)
{
    const kiln_object_ref *x = a, *y = b;
    return strcmp(x->sha256, y->sha256);
}

/* How much the record needs object sha (refs sorted by hash; a hash may
 * be listed with both 1 and 2). */
static int keep_of(const kiln_object_ref *refs, size_t n, const char *sha)
{
    size_t lo = 0, hi = n;
    int keep = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(refs[mid].sha256, sha) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < n && strcmp(refs[lo].sha256, sha) == 0; lo++)
        if (refs[lo].keep > keep)
            keep = refs[lo].keep;
    return keep;
}

/* Every object file under objects/ab/. */
static object *scan(const char *objects, size_t *n)
{
    object *list = NULL;
    size_t cap = 0;
    DIR *top = opendir(objects);
    struct dirent *d;
    *n = 0;
    if (!top)
        return NULL;
    while ((d = readdir(top)) != NULL) {
        char *sub;
        DIR *dir;
        struct dirent *f;
        if (strlen(d->d_name) != 2)
            continue;
        sub = kiln_path_join(objects, d->d_name);
        if ((dir = opendir(sub)) != NULL) {
            while ((f = readdir(dir)) != NULL) {
                struct stat st;
                char *path;
                if (strlen(f->d_name) != 62)
                    continue;
                path = kiln_path_join(sub, f->d_name);
                if (stat(path, &st) != 0) {
                    free(path);
                    continue;
                }
                if (*n == cap) {
                    cap = cap ? cap * 2 : 256;
                    list = kiln_realloc(list, cap * sizeof(*list));
                }
                list[*n].path = path;
                /* Names were checked: 2 + 62 hex digits. */
                memcpy(list[*n].sha, d->d_name, 2);
                memcpy(list[*n].sha + 2, f->d_name, 62);
                list[*n].sha[64] = '\0';
                list[*n].size = st.st_size;
                list[*n].used = st.st_mtime;
                list[*n].keep = 0;
                (*n)++;
            }
            closedir(dir);
        }
        free(sub);
    }
    closedir(top);
    return list;
}

/* The audit row of a collection (gc, target "objects"): the store
 * before and after, what was removed and the limit; the Unix user, via
 * cli. A collection that removed nothing is one too: it was asked for. */
static int audit_gc(kiln_store *store, size_t n, int64_t total,
                    size_t removed, int64_t freed, int64_t max,
                    kiln_err *err)
{
    char before[96], after[192];
    snprintf(before, sizeof(before), "{\"objects\":%zu,\"bytes\":%lld}", n,
             (long long)total);
    snprintf(after, sizeof(after), "{\"objects\":%zu,\"bytes\":%lld,"
             "\"removed\":%zu,\"freed\":%lld,\"max_size\":%lld}",
             n - removed, (long long)(total - freed), removed,
             (long long)freed, (long long)max);
    return kiln_store_audit(store, kiln_user_name(), "cli", "gc", "objects",
                            before, after, err);
}

static int exec_gc(void *opts)
{
    const gc_opts *o = opts;
    const char *state = o->state;
    int64_t max = o->max, total = 0, freed = 0, model_bytes = 0;
    bool dry = o->dry;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    kiln_object_ref *refs = NULL;
    size_t n_refs = 0;
    object *objs;
    size_t n, i, removed = 0, models = 0;
    char *dir, *objects;
    int status = KILN_EXIT_OK;

    if (kiln_cli_open_store(&store, state, false, &err) != 0 ||
        kiln_store_object_refs(&refs, &n_refs, store, &err) != 0) {
        status = kiln_cli_fail(&err);
        kiln_store_close(store);
        return status;
    }
    if (n_refs)
        qsort(refs, n_refs, sizeof(*refs), by_sha);
    dir = kiln_cli_state_dir(state);
    objects = kiln_path_join(dir, "objects");
    free(dir);
    objs = scan(objects, &n);
    for (i = 0; i < n; i++) {
        objs[i].keep = keep_of(refs, n_refs, objs[i].sha);
        total += objs[i].size;
        if (objs[i].keep == 2) {
            models++;
            model_bytes += objs[i].size;
        }
    }
    kiln_object_refs_free(refs, n_refs);
    if (n)
        qsort(objs, n, sizeof(*objs), by_use);
    for (i = 0; i < n; i++) {
        /* Sorted: once one is kept, so is every one after it. */
        if (objs[i].keep == 2 ||
            (objs[i].keep == 1 && total - freed <= max))
            break;
        if (!dry && unlink(objs[i].path) != 0 && errno != ENOENT) {
            kiln_err_set_os(&err, "cannot remove %s", objs[i].path);
            status = kiln_cli_fail(&err);
            break;
        }
        freed += objs[i].size;
        removed++;
    }
    if (!dry && removed && status == KILN_EXIT_OK &&
        kiln_store_cache_forget_missing(store, objects, &err) != 0)
        status = kiln_cli_fail(&err);
    if (!dry && status == KILN_EXIT_OK &&
        audit_gc(store, n, total, removed, freed, max, &err) != 0)
        status = kiln_cli_fail(&err);
    printf("%s%zu of %zu objects, %lld of %lld bytes (limit %lld)\n",
           dry ? "would remove " : "removed ", removed, n, (long long)freed,
           (long long)total, (long long)max);
    printf("kept %zu objects of registered model versions (%lld bytes; "
           "never removed)\n", models, (long long)model_bytes);
    for (i = 0; i < n; i++)
        free(objs[i].path);
    free(objs);
    free(objects);
    kiln_store_close(store);
    return status;
}

const kiln_cmd kiln_cmd_gc = {
    .name = "gc",
    .summary = "Trim the object store to a size limit (model versions "
               "stay).",
    .help = "What the record needs decides what stays:\n"
            "  - the bytes of registered model versions are never removed "
            "(even with\n    --max-size 0); they count toward the size;\n"
            "  - objects nothing refers to any more always go;\n"
            "  - cached outputs and recorded inputs go least recently used "
            "first, only\n    while the store is larger than --max-size.\n"
            "A cache entry whose objects are gone is forgotten (the step "
            "runs next time);\nan artifact whose bytes are gone can no "
            "longer be put back (kiln artifacts get,\nkiln reproduce).\n",
    .opts = options,
    .opts_size = sizeof(gc_opts),
    .exec = exec_gc,
};
