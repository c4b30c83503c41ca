/* cmd-gc.c: kiln gc [--max-size SIZE] [--dry-run] [--state DIR]
 *           kiln gc --runs [--dry-run] [--archive FILE] [--pipeline P]
 *                  [--keep-runs N] [--keep-runs-for DURATION]...
 *
 * With --runs, applies retention (store/retention.c): each pipeline's
 * retention:, else the limits given here, to its runs and their logs;
 * trigger checks, fires and notifications by age; then the database
 * shrinks (the first time, with one VACUUM).
 *
 * Without, trims the object store (STATE/objects) by what the record says it
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
#include "cli/retention.h"
#include "daemon/clock.h"
#include "daemon/retention.h"

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
    double v;
    int64_t mult = 1;
    /* Digits and one point only: strtod() would take "inf", "nan",
     * "0x10" and "1e400", and a limit past int64 became negative, which
     * removed every object. */
    size_t n = strspn(text, "0123456789.");
    if (n == 0 || strspn(text, ".") == n || strchr(text, '.') !=
        strrchr(text, '.') || (strchr(text, '.') && strchr(text, '.') >=
                                                       text + n))
        goto bad;
    v = strtod(text, &end);
    if (end != text + n)
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
    if (v * (double)mult > (double)(1LL << 60))
        return kiln_err_set(err, KILN_EINVAL, "--%s: %s is too large (at "
                            "most 1048576T)", spec->name, text);
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
    bool runs;         /* --runs */
    const char *archive;  /* --archive FILE */
    const char *pipeline; /* --pipeline P */
    kiln_cli_retention ret;
} gc_opts;

static const kiln_opt options[] = {
    KILN_OPT_PARSED('m', "max-size", gc_opts, max, int64_t, parse_size,
                    "SIZE", "the limit, such as 500M or 10G", .def = "10G"),
    KILN_OPT_SWITCH('n', "dry-run", gc_opts, dry,
                    "say what would go, remove nothing"),
    KILN_OPT_SWITCH(0, "runs", gc_opts, runs, "apply retention to runs, "
                    "their logs, trigger checks and notifications instead "
                    "of trimming objects"),
    KILN_OPT_VALUE(0, "archive", gc_opts, archive, "FILE", "with --runs: "
                   "append each run deleted to FILE as a JSON line first"),
    KILN_CLI_OPT_PIPELINE(gc_opts),
    KILN_CLI_OPTS_RETENTION(gc_opts, ret),
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

/* --runs. */

typedef struct runs_ctx {
    kiln_store *store;
    kiln_store_retention defaults;
    bool dry;
} runs_ctx;

/* A pipeline's limits: its file's retention: (the file kiln last ran it
 * from), else the command line's. */
static void runs_policy(kiln_store_retention *out, const char *pipeline,
                        void *data)
{
    runs_ctx *c = data;
    kiln_err err = KILN_ERR_INIT;
    kiln_diag diag = KILN_DIAG_INIT;
    kiln_pipeline *p = NULL;
    char *file = NULL;
    if (kiln_store_pipeline_file(c->store, &file, pipeline, &err) != 0)
        fprintf(stderr, "kiln: warning: %s\n", err.msg);
    else if (file && kiln_dsl_load_file(&p, file, &diag) != 0)
        fprintf(stderr, "kiln: warning: pipeline \"%s\": %s does not load "
                "(%s); its runs are kept by the limits given here\n",
                pipeline, file, diag.n ? diag.errs[0].msg : "unreadable");
    kiln_retention_policy(out, p ? &p->retention : NULL, &c->defaults);
    kiln_pipeline_free(p);
    kiln_diag_dispose(&diag);
    free(file);
}

static void runs_told(kiln_gc_action what, int64_t run, const char *pipeline,
                      void *data)
{
    runs_ctx *c = data;
    static const char *const done[] = {"deleted run", "removed the logs "
                                       "of run", "compressed the logs of "
                                       "run"};
    static const char *const would[] = {"would delete run", "would remove "
                                        "the logs of run", "would compress "
                                        "the logs of run"};
    if (c->dry)
        printf("%s %lld (%s)\n", would[what], (long long)run, pipeline);
    else if (what == KILN_GC_RUN_DELETED)
        printf("%s %lld (%s)\n", done[what], (long long)run, pipeline);
}

static int exec_gc_runs(const gc_opts *o)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_gc_options go;
    kiln_gc_report rep;
    runs_ctx c;
    char *dir = NULL;
    FILE *archive = NULL;
    int status = KILN_EXIT_OK, rc;

    memset(&c, 0, sizeof(c));
    memset(&go, 0, sizeof(go));
    if (kiln_clock_init(&err) != 0)
        return kiln_cli_fail(&err);
    /* A dry run changes nothing: not even a migration. */
    if (kiln_cli_open_store(&c.store, o->state, o->dry, &err) != 0)
        return kiln_cli_fail(&err);
    if (o->archive && !o->dry && !(archive = fopen(o->archive, "a"))) {
        kiln_err_set_os(&err, "cannot open --archive %s", o->archive);
        kiln_store_close(c.store);
        return kiln_cli_fail(&err);
    }
    kiln_cli_retention_defaults(&c.defaults, &o->ret);
    c.dry = o->dry;
    dir = kiln_cli_state_dir(o->state);
    go.logs_dir = kiln_path_join(dir, "logs");
    {
        char *rel = kiln_path_join(dir, "reproduce");
        go.reproduce_dir = kiln_path_absolute(rel);
        free(rel);
    }
    go.dry = o->dry;
    go.pipeline = o->pipeline;
    go.archive = archive;
    go.now_ms = kiln_clock_now_ms();
    go.checks_ms = o->ret.checks_ms;
    go.notifications_ms = o->ret.notifications_ms;
    go.vacuum = true;
    go.policy = runs_policy;
    go.on_run = runs_told;
    go.data = &c;
    rc = kiln_store_gc_runs(c.store, &go, &rep, &err);
    if (rc != 0)
        status = kiln_cli_fail(&err);
    if (!o->dry && (rc == 0 || rep.runs_deleted) &&
        kiln_retention_audit(c.store, &rep, kiln_user_name(), "cli",
                             &err) != 0)
        status = kiln_cli_fail(&err);
    if (archive && fclose(archive) != 0 && status == KILN_EXIT_OK) {
        kiln_err_set_os(&err, "cannot write --archive %s", o->archive);
        status = kiln_cli_fail(&err);
    }
    printf("%s%zu run%s (%zu over a limit kept: a model version, its "
           "lineage or the newest run), logs of %zu removed and %zu "
           "compressed\n", o->dry ? "would delete " : "deleted ",
           rep.runs_deleted, rep.runs_deleted == 1 ? "" : "s",
           rep.runs_protected, rep.logs_removed, rep.logs_compressed);
    printf("%s%zu trigger checks, %zu fires, %zu notifications, %zu "
           "ended page sessions\n",
           o->dry ? "would delete " : "deleted ", rep.checks, rep.fires,
           rep.notifications, rep.sessions);
    if (!o->dry)
        printf("kiln.db: %lld -> %lld bytes%s\n", (long long)rep.db_before,
               (long long)rep.db_after,
               rep.vacuumed ? " (vacuumed once; it now shrinks in place)"
                            : "");
    free((char *)go.logs_dir);
    free((char *)go.reproduce_dir);
    free(dir);
    kiln_store_close(c.store);
    return status;
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

    if (o->runs)
        return exec_gc_runs(o);
    if (o->archive || o->pipeline)
        return kiln_cli_usage_error(&kiln_cmd_gc, "--%s goes with --runs",
                                    o->archive ? "archive" : "pipeline");
    if (kiln_cli_open_store(&store, state, o->dry, &err) != 0 ||
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
               "stay); with --runs, apply retention to runs.",
    .help = "What the record needs decides what stays:\n"
            "  - the bytes of registered model versions are never removed "
            "(even with\n    --max-size 0); they count toward the size;\n"
            "  - objects nothing refers to any more always go;\n"
            "  - cached outputs and recorded inputs go least recently used "
            "first, only\n    while the store is larger than --max-size.\n"
            "A cache entry whose objects are gone is forgotten (the step "
            "runs next time);\nan artifact whose bytes are gone can no "
            "longer be put back (kiln artifacts get,\nkiln reproduce).\n"
            "\n"
            "With --runs, each pipeline's retention: (from the file it last "
            "ran), else\n--keep-runs and the other limits, decide which "
            "finished runs go, with their\nrows in every table and their "
            "logs, and which logs are removed or gzip'd.\nNever deleted: "
            "runs that registered a model version (aliases point at\n"
            "those), the runs whose outputs they or any run that stays "
            "read,\nthe newest run, audit rows.\nTrigger checks, fires "
            "and notifications go by age, and page sessions\nthat ended "
            "or expired as long ago as trigger checks are kept. Then\n"
            "kiln.db shrinks (the first time with one VACUUM, which locks "
            "it meanwhile).\n",
    .opts = options,
    .opts_size = sizeof(gc_opts),
    .exec = exec_gc,
};
