/*
 * daemon.c: kiln serve: the server's life (start, reload, drain, stop),
 * the definitions it loads, and its entries.
 *
 * Each loaded pipeline is an entry: its current definition (a def, shared
 * by reference with the runs started from it, so a reload never pulls a
 * pipeline from under a running run), its schedules and triggers
 * (sched.c), the fires waiting for a free run slot, and its active runs.
 * Crash recovery is recover.c; the commands the inbox and the web API
 * give are commands.c, after requests.c and web.c have turned their JSON
 * into typed requests.
 *
 * Store and libgit2 calls are short and made on the loop thread.
 */
#include "internal.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/clock.h"

#define say kiln_daemon__say

/* How often runs orphaned by a kiln process that died are looked for. */
#define ORPHAN_CHECK_MS 10000

/* Log a line to stderr with a timestamp. */
void kiln_daemon__say(const char *fmt, ...)
{
    char when[32];
    va_list ap;
    kiln_fmt_time(when, sizeof(when), kiln_now_ms());
    fprintf(stderr, "%s kiln serve: ", when);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void kiln_daemon__store_warn(const kiln_err *err)
{
    say("warning: %s", err->msg);
}

/* Definitions. */

void kiln_daemon__def_unref(kiln_def *d)
{
    if (d && --d->refs == 0) {
        kiln_pipeline_free(d->p);
        free(d->file);
        free(d);
    }
}

/* Load file; on error print the diagnostics (into why too) and return
 * NULL. */
kiln_def *kiln_daemon__def_load(const char *file, kiln_buf *why)
{
    kiln_diag diag = KILN_DIAG_INIT;
    kiln_err err = KILN_ERR_INIT;
    kiln_pipeline *p = NULL;
    kiln_def *d;
    struct stat st;

    /* Only a regular file (or a symlink to one) is a pipeline file here:
     * a FIFO named *.yaml that some process holds open for writing would
     * block the read, and the loop with it, for ever. */
    if (stat(file, &st) == 0 && !S_ISREG(st.st_mode)) {
        kiln_err_set(&err, KILN_EINVAL, "%s is %s, not a pipeline file",
                     file, kiln_file_kind(st.st_mode));
        kiln_err_print(&err);
        if (why)
            kiln_buf_printf(why, "%s: error: %s\n", file, err.msg);
        return NULL;
    }
    if (kiln_dsl_load_file(&p, file, &diag) != 0) {
        kiln_diag_print(&diag);
        if (why)
            kiln_diag_format(&diag, why);
        kiln_diag_dispose(&diag);
        return NULL;
    }
    kiln_diag_dispose(&diag);
    d = kiln_calloc(1, sizeof(*d));
    d->p = p;
    d->file = kiln_path_absolute(file);
    d->refs = 1;
    if (kiln_hash_file(d->hash, d->file, &err) != 0) {
        kiln_err_print(&err);
        if (why)
            kiln_buf_printf(why, "%s: error: %s\n", file, err.msg);
        kiln_daemon__def_unref(d);
        return NULL;
    }
    return d;
}

/* Scanning paths. */

static char **scan_out;
static size_t scan_n, scan_cap;

static void scan_add(const char *path)
{
    if (scan_n == scan_cap) {
        scan_cap = scan_cap ? scan_cap * 2 : 16;
        scan_out = kiln_realloc(scan_out, scan_cap * sizeof(char *));
    }
    scan_out[scan_n++] = kiln_path_absolute(path);
}

static int on_walk(const char *path, const struct stat *st, int type,
                   struct FTW *ftw)
{
    const char *base = path + ftw->base;
    size_t len = strlen(base);
    if (type == FTW_D && ftw->level > 0 && base[0] == '.')
        return FTW_SKIP_SUBTREE;
    /* A symlink named *.yaml is a pipeline file too (FTW_PHYS only keeps
     * the walk out of linked directories): one that leads nowhere fails
     * to load, saying why, as a file that does not parse. */
    if ((type == FTW_F || type == FTW_SL) && base[0] != '.' &&
        ((len > 5 && strcmp(base + len - 5, ".yaml") == 0) ||
         (len > 4 && strcmp(base + len - 4, ".yml") == 0)))
        scan_add(path);
    (void)st;
    return FTW_CONTINUE;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int kiln_daemon_scan(char ***out, size_t *n, char *const *paths,
                     size_t n_paths, kiln_daemon_unread *unread)
{
    scan_out = NULL;
    scan_n = scan_cap = 0;
    memset(unread, 0, sizeof(*unread));
    for (size_t i = 0; i < n_paths; i++) {
        kiln_err err = KILN_ERR_INIT;
        struct stat st;
        if (stat(paths[i], &st) != 0)
            kiln_err_set_os(&err, "cannot read %s", paths[i]);
        else if (S_ISDIR(st.st_mode) &&
                 nftw(paths[i], on_walk, 16, FTW_PHYS | FTW_ACTIONRETVAL) !=
                     0)
            kiln_err_set_os(&err, "cannot scan %s", paths[i]);
        else if (!S_ISDIR(st.st_mode))
            scan_add(paths[i]);
        if (err.code) {
            unread->path = kiln_realloc(unread->path, (unread->n + 1) *
                                        sizeof(char *));
            unread->why = kiln_realloc(unread->why, (unread->n + 1) *
                                       sizeof(char *));
            unread->path[unread->n] = kiln_path_absolute(paths[i]);
            unread->why[unread->n++] = kiln_strdup(err.msg);
        }
    }
    if (scan_n)
        qsort(scan_out, scan_n, sizeof(char *), cmp_str);
    *out = scan_out;
    *n = scan_n;
    return unread->n ? KILN_ERROR : 0;
}

void kiln_daemon_unread_dispose(kiln_daemon_unread *unread)
{
    for (size_t i = 0; i < unread->n; i++) {
        free(unread->path[i]);
        free(unread->why[i]);
    }
    free(unread->path);
    free(unread->why);
    memset(unread, 0, sizeof(*unread));
}

/* Entries. */

kiln_entry *kiln_daemon__entry_find(kiln_daemon *dm, const char *name)
{
    for (kiln_entry *e = dm->entries; e; e = e->next)
        if (!e->removed && strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

/* Free a removed entry once its runs are done. */
void kiln_daemon__entry_release_maybe(kiln_entry *e)
{
    kiln_daemon *dm = e->dm;
    kiln_entry **pp;
    if (!e->removed || e->n_active > 0 || e->n_reading > 0)
        return;
    for (pp = &dm->entries; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    }
    while (e->queue) {
        kiln_queued_fire *q = e->queue;
        kiln_outcome out;
        e->queue = q->next;
        /* Unloaded by a reload: said. Stopping: a check's fire stays
         * queued for the next kiln serve. */
        if (!dm->stopping)
            kiln_daemon__settle(e, &q->src, &out, KILN_FIRE_MISSED,
                                "the pipeline was unloaded before it "
                                "could start", 0);
        kiln_daemon__queued_free(q);
    }
    kiln_daemon__def_unref(e->d);
    free(e->name);
    free(e);
}

void kiln_daemon__entry_remove(kiln_entry *e)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_daemon__scheds_close(e);
    e->removed = true;
    if (!e->dm->stopping &&
        kiln_store_schedule_clear(e->dm->store, e->name, &err) != 0)
        kiln_daemon__store_warn(&err);
    kiln_daemon__entry_release_maybe(e);
}

/*
 * The entries by name while the files load: open addressing, FNV-1a.
 * Looking each file's pipeline up in the list made a load of N files
 * O(N^2) string compares (10,000 pipelines: 50 million, most of a load).
 */
typedef struct entry_index {
    kiln_entry **slots;
    size_t mask;
} entry_index;

static size_t name_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

static void index_put(entry_index *x, kiln_entry *e)
{
    size_t i = name_hash(e->name) & x->mask;
    while (x->slots[i])
        i = (i + 1) & x->mask;
    x->slots[i] = e;
}

/* An index of dm's entries with room for n more. */
static void index_init(entry_index *x, kiln_daemon *dm, size_t n)
{
    size_t cap = 16;
    for (kiln_entry *e = dm->entries; e; e = e->next)
        n++;
    while (cap < 2 * n)
        cap *= 2;
    x->slots = kiln_calloc(cap, sizeof(kiln_entry *));
    x->mask = cap - 1;
    for (kiln_entry *e = dm->entries; e; e = e->next)
        if (!e->removed)
            index_put(x, e);
}

/* As kiln_daemon__entry_find(). */
static kiln_entry *index_find(const entry_index *x, const char *name)
{
    size_t i = name_hash(name) & x->mask;
    for (; x->slots[i]; i = (i + 1) & x->mask)
        if (!x->slots[i]->removed && strcmp(x->slots[i]->name, name) == 0)
            return x->slots[i];
    return NULL;
}

/* Broken files. */

static void broken_free(kiln_broken *b)
{
    while (b) {
        kiln_broken *next = b->next;
        free(b->file);
        free(b->pipeline);
        free(b->errors);
        free(b);
        b = next;
    }
}

/* Add file to the broken ones after the last (files come in path order),
 * failing since the load that found it broken first (in was). */
static void broken_add(kiln_daemon *dm, const kiln_broken *was,
                       const char *file, const char *pipeline,
                       kiln_buf *why)
{
    kiln_broken *b = kiln_calloc(1, sizeof(*b)), **tail = &dm->broken;
    b->file = kiln_strdup(file);
    b->pipeline = pipeline ? kiln_strdup(pipeline) : NULL;
    b->errors = kiln_buf_detach(why);
    if (!b->errors)
        b->errors = kiln_strdup("");
    b->since_ms = kiln_now_ms();
    for (; was; was = was->next)
        if (strcmp(was->file, file) == 0)
            b->since_ms = was->since_ms;
    while (*tail)
        tail = &(*tail)->next;
    *tail = b;
}

/* Publish the broken files for kiln status, and tell the page. */
static void broken_publish(kiln_daemon *dm)
{
    kiln_err err = KILN_ERR_INIT;
    int rc = kiln_store_begin(dm->store, &err);
    if (rc == 0)
        rc = kiln_store_load_errors_clear(dm->store, &err);
    for (kiln_broken *b = dm->broken; b && rc == 0; b = b->next)
        rc = kiln_store_load_error_set(dm->store, b->file, b->pipeline,
                                       b->errors, b->since_ms, &err);
    if (rc == 0)
        rc = kiln_store_commit(dm->store, &err);
    if (rc != 0) {
        kiln_store_rollback(dm->store);
        kiln_daemon__store_warn(&err);
    }
    if (dm->web) {
        json_t *ev;
        int n = 0;
        for (kiln_broken *b = dm->broken; b; b = b->next)
            n++;
        ev = json_pack("{s:i}", "broken", n);
        kiln_web_publish(dm->web, "pipelines", ev);
        json_decref(ev);
    }
}

/*
 * (Re)load the pipeline files. A file that no longer validates keeps its
 * last good definition; pipelines gone from the files stop being
 * scheduled (their runs finish); changed definitions re-arm their
 * schedules. The files that did not load are dm->broken, with their
 * errors, until they load. Returns how many pipelines are loaded.
 */
size_t kiln_daemon__load_all(kiln_daemon *dm, bool first)
{
    kiln_daemon_unread unread;
    char **files = NULL;
    size_t n_files = 0, loaded = 0;
    kiln_broken *was = dm->broken;
    kiln_entry *e;
    entry_index index;

    kiln_daemon_scan(&files, &n_files, dm->o->paths, dm->o->n_paths,
                     &unread);
    index_init(&index, dm, n_files);
    dm->broken = NULL;
    /* The schedules' next due times, recorded in one transaction after
     * the files (not one each: a commit per pipeline); the triggers'
     * first looks, spread out from the end of the load, while the loop
     * serves (not all at once when it starts). */
    dm->loading = true;
    for (e = dm->entries; e; e = e->next)
        e->seen = false;
    /* A path that cannot be read now (gone, no permission) is a load
     * error, and the pipelines its files defined stay as they were, as
     * for a file that no longer validates; the other paths load. */
    for (size_t i = 0; i < unread.n; i++) {
        kiln_buf why = KILN_BUF_INIT;
        size_t len = strlen(unread.path[i]);
        say("error: %s; %s", unread.why[i], first ? "not loaded"
                                         : "keeping what it defined");
        kiln_buf_printf(&why, "%s: error: %s\n", unread.path[i],
                        unread.why[i]);
        kiln_buf kept = KILN_BUF_INIT;
        for (e = dm->entries; e; e = e->next)
            if (!e->removed &&
                strncmp(e->d->file, unread.path[i], len) == 0 &&
                (e->d->file[len] == '\0' || e->d->file[len] == '/')) {
                e->seen = true;
                loaded++;
                kiln_buf_printf(&kept, "%s%s", kept.len ? ", " : "",
                                e->name);
            }
        broken_add(dm, was, unread.path[i], kept.ptr, &why);
        kiln_buf_dispose(&kept);
    }
    for (size_t i = 0; i < n_files; i++) {
        kiln_buf why = KILN_BUF_INIT;
        kiln_def *d = kiln_daemon__def_load(files[i], &why);
        kiln_entry *old = NULL;
        if (!d) {
            /* Keep whatever this file defined before. */
            for (e = dm->entries; e; e = e->next)
                if (!e->removed && strcmp(e->d->file, files[i]) == 0)
                    old = e;
            if (old) {
                say("error: %s no longer validates; keeping the last good "
                    "definition of %s", files[i], old->name);
                old->seen = true;
                loaded++;
            } else {
                say("error: %s is not a valid pipeline; skipped", files[i]);
            }
            broken_add(dm, was, files[i], old ? old->name : NULL, &why);
            continue;
        }
        old = index_find(&index, d->p->name);
        if (old && old->seen) {
            say("error: %s defines pipeline %s again (already defined in "
                "%s); skipped", files[i], d->p->name, old->d->file);
            kiln_buf_printf(&why, "%s: error: defines pipeline %s again "
                            "(already defined in %s)\n", files[i],
                            d->p->name, old->d->file);
            broken_add(dm, was, files[i], NULL, &why);
            kiln_daemon__def_unref(d);
            continue;
        }
        loaded++;
        if (old) {
            old->seen = true;
            if (strcmp(old->d->hash, d->hash) == 0 &&
                strcmp(old->d->file, d->file) == 0) {
                kiln_daemon__def_unref(d);
                continue;
            }
            say("%s: reloaded from %s", old->name, d->file);
            if (!first) {
                kiln_err aerr = KILN_ERR_INIT;
                char *target = kiln_asprintf("pipeline %s", old->name);
                char *before = kiln_asprintf("{\"hash\":\"%s\"}",
                                             old->d->hash);
                char *after = kiln_asprintf("{\"hash\":\"%s\"}", d->hash);
                if (kiln_store_audit(dm->store, "kiln", "daemon",
                                     "pipeline.reloaded", target, before,
                                     after, &aerr) != 0)
                    kiln_daemon__store_warn(&aerr);
                free(target);
                free(before);
                free(after);
            }
            kiln_daemon__scheds_close(old);
            kiln_daemon__def_unref(old->d);
            old->d = d;
            kiln_daemon__scheds_open(old, false);
            continue;
        }
        e = kiln_calloc(1, sizeof(*e));
        e->dm = dm;
        e->name = kiln_strdup(d->p->name);
        e->d = d;
        e->seen = true;
        e->next = dm->entries;
        dm->entries = e;
        index_put(&index, e);
        kiln_daemon__scheds_open(e, first);
        if (!first)
            say("%s: added from %s", e->name, d->file);
    }
    dm->loading = false;
    kiln_daemon__scheds_save(dm);
    uv_update_time(&dm->loop);
    for (e = dm->entries; e; e = e->next)
        kiln_watch_first_looks(e->watch);
    free(index.slots);
    for (size_t i = 0; i < n_files; i++)
        free(files[i]);
    free(files);
    kiln_daemon_unread_dispose(&unread);
    broken_free(was);
    broken_publish(dm);
    for (e = dm->entries; e;) {
        kiln_entry *next = e->next;
        if (!e->removed && !e->seen) {
            say("%s: removed; its running runs finish", e->name);
            kiln_daemon__entry_remove(e);
        }
        e = next;
    }
    return loaded;
}

/* Stopping. */

static void close_all(kiln_daemon *dm)
{
    kiln_entry *e;
    if (dm->closed)
        return;
    dm->closed = true;
    for (e = dm->entries; e; e = e->next)
        kiln_daemon__scheds_close(e);
    kiln_check_batch_free(dm->checks);
    dm->checks = NULL;
    while (dm->entries) {
        e = dm->entries;
        e->removed = true;
        kiln_daemon__entry_release_maybe(e);
    }
    kiln_inbox_close(dm->inbox);
    dm->inbox = NULL;
    broken_free(dm->broken);
    dm->broken = NULL;
    kiln_daemon__web_stop(dm);
    /* Requests in flight end (as failed), then what waits for a retry. */
    kiln_http_close(dm->http);
    dm->http = NULL;
    kiln_notifier_free(dm->notifier);
    dm->notifier = NULL;
    /* The runs are over: their last events get 2 s to go out. */
    kiln_openlineage_close(dm->lineage, 2000);
    dm->lineage = NULL;
    uv_close((uv_handle_t *)&dm->sigterm, NULL);
    uv_close((uv_handle_t *)&dm->sigint, NULL);
    uv_close((uv_handle_t *)&dm->sighup, NULL);
    uv_close((uv_handle_t *)&dm->grace, NULL);
    uv_close((uv_handle_t *)&dm->orphans, NULL);
    uv_close((uv_handle_t *)&dm->read_soon, NULL);
    kiln_daemon__retention_stop(dm);
}

void kiln_daemon__shutdown_maybe(kiln_daemon *dm)
{
    if (dm->stopping && dm->runs == NULL && dm->endings == NULL &&
        !dm->read && !dm->to_read) {
        say("stopped");
        close_all(dm);
    }
}

static void on_grace(uv_timer_t *t)
{
    kiln_daemon *dm = t->data;
    if (dm->runs)
        say("grace period over: cancelling the steps still running");
    kiln_daemon__each_run(dm, NULL, RUN_CANCEL);
}

static void on_stop_signal(uv_signal_t *sig, int signum)
{
    kiln_daemon *dm = sig->data;
    char g[32];
    if (dm->stopping) {
        say("%s again: cancelling everything now", strsignal(signum));
        kiln_daemon__each_run(dm, NULL, RUN_KILL);
        return;
    }
    dm->stopping = true;
    say("%s: stopping; running steps get %s to finish", strsignal(signum),
        kiln_fmt_duration(g, sizeof(g), dm->o->grace_ms));
    for (kiln_entry *e = dm->entries; e; e = e->next) {
        kiln_daemon__scheds_close(e);
        while (e->queue) {
            kiln_queued_fire *q = e->queue;
            kiln_outcome out;
            e->queue = q->next;
            /* A check's fire stays queued with its check: the next kiln
             * serve starts it (a data trigger would not fire again on
             * what it has seen). */
            if (!q->src.check_id)
                kiln_daemon__settle(e, &q->src, &out, KILN_FIRE_MISSED,
                       "kiln serve stopped before it could start", 0);
            kiln_daemon__queued_free(q);
        }
    }
    kiln_daemon__each_run(dm, NULL, RUN_DRAIN);
    /* Draining may have ended the last run, and with it the daemon. */
    if (!dm->closed)
        uv_timer_start(&dm->grace, on_grace, (uint64_t)dm->o->grace_ms, 0);
    kiln_daemon__shutdown_maybe(dm);
}

static void on_hup(uv_signal_t *sig, int signum)
{
    kiln_daemon *dm = sig->data;
    uint64_t t0 = uv_hrtime();
    size_t n;
    kiln_err err = KILN_ERR_INIT;
    (void)signum;
    if (dm->stopping)
        return;
    say("SIGHUP: reloading");
    n = kiln_daemon__load_all(dm, false);
    say("%zu pipeline%s loaded in %.0f ms", n, n == 1 ? "" : "s",
        (double)(uv_hrtime() - t0) / 1e6);
    /* A renewed certificate, for the connections made from now on. */
    if (kiln_web_reload_tls(dm->web, &err) != 0)
        say("warning: %s: still serving the certificate read before",
            err.msg);
    else if (dm->web && kiln_web_tls(dm->web))
        say("TLS certificate and key read again");
}

static void on_lineage_warning(const char *msg, void *data)
{
    (void)data;
    say("warning: %s", msg);
}

/* --openlineage: the emitter, or the reason it cannot be. */
static int lineage_start(kiln_daemon *dm, kiln_err *err)
{
    kiln_openlineage_options lo;
    if (!dm->o->openlineage)
        return 0;
    memset(&lo, 0, sizeof(lo));
    lo.loop = &dm->loop;
    lo.target = dm->o->openlineage;
    lo.job_namespace = dm->o->openlineage_ns;
    lo.store = dm->store;
    lo.state_dir = dm->o->state_dir;
    lo.warn = on_lineage_warning;
    if (kiln_openlineage_new(&dm->lineage, &lo, err) != 0)
        return err->code;
    say("OpenLineage events go to %s", dm->o->openlineage);
    return 0;
}

int kiln_daemon_run(const kiln_daemon_options *o)
{
    kiln_daemon dm;
    kiln_err err = KILN_ERR_INIT;
    char *db;
    size_t n;
    uint64_t t0;
    int status = KILN_EXIT_OK;

    memset(&dm, 0, sizeof(dm));
    dm.o = o;
    if (kiln_clock_init(&err) != 0)
        return kiln_err_print(&err), KILN_EXIT_USAGE;
    db = kiln_path_join(o->state_dir, "kiln.db");
    if (kiln_store_open(&dm.store, db, &err) != 0) {
        free(db);
        kiln_err_print(&err);
        return KILN_EXIT_SYSTEM;
    }
    free(db);
    if (uv_loop_init(&dm.loop) != 0) {
        say("error: cannot make an event loop");
        kiln_store_close(dm.store);
        return KILN_EXIT_SYSTEM;
    }
    dm.eng = kiln_engine_new(&dm.loop, dm.store, o->state_dir, o->jobs);
    dm.ckpt = kiln_checkpointer_new(&dm.loop, dm.store);
    dm.checks = kiln_check_batch_new(&dm.loop, dm.store);
    for (size_t i = 0; i < o->n_pools; i++)
        kiln_engine_set_pool(dm.eng, o->pools[i].key,
                             (unsigned)atoi(o->pools[i].value));
    uv_signal_init(&dm.loop, &dm.sigterm);
    uv_signal_init(&dm.loop, &dm.sigint);
    uv_signal_init(&dm.loop, &dm.sighup);
    uv_timer_init(&dm.loop, &dm.grace);
    uv_timer_init(&dm.loop, &dm.orphans);
    uv_check_init(&dm.loop, &dm.read_soon);
    dm.sigterm.data = dm.sigint.data = dm.sighup.data = &dm;
    dm.grace.data = dm.orphans.data = dm.read_soon.data = &dm;
    uv_signal_start(&dm.sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&dm.sigint, on_stop_signal, SIGINT);
    uv_signal_start(&dm.sighup, on_hup, SIGHUP);

    if (kiln_store_schedule_clear(dm.store, NULL, &err) != 0)
        kiln_daemon__store_warn(&err);
    if (kiln_http_new(&dm.http, &dm.loop, &err) != 0)
        say("warning: %s: metric triggers on URLs and notifications cannot "
            "work", err.msg);
    dm.notifier = kiln_notifier_new(&dm.loop, dm.http, dm.store);
    /* The address first: a daemon that cannot serve what it was asked
     * to starts nothing. */
    if (lineage_start(&dm, &err) != 0 ||
        kiln_daemon__web_start(&dm, &err) != 0) {
        say("error: %s", err.msg);
        status = KILN_EXIT_SYSTEM;
        dm.stopping = true;
        close_all(&dm);
    } else {
        t0 = uv_hrtime();
        n = kiln_daemon__load_all(&dm, true);
        kiln_daemon__settle_deploys(&dm);
        kiln_daemon__recover(&dm);
        kiln_daemon__requeue(&dm);
        uv_timer_start(&dm.orphans, kiln_daemon__on_orphan_timer,
                       ORPHAN_CHECK_MS,
                       ORPHAN_CHECK_MS);
        kiln_daemon__retention_start(&dm);
        if (kiln_inbox_open(&dm.inbox, &dm.loop, o->state_dir,
                            kiln_daemon__on_request,
                            &dm, &err) != 0)
            say("warning: %s: kiln trigger cannot reach this daemon",
                err.msg);
        say("pid %d, state %s, %u job%s, %zu pipeline%s loaded in %.0f ms%s",
            (int)getpid(), o->state_dir, kiln_engine_jobs(dm.eng),
            kiln_engine_jobs(dm.eng) == 1 ? "" : "s", n, n == 1 ? "" : "s",
            (double)(uv_hrtime() - t0) / 1e6,
            kiln_clock_is_simulated() ? " (test clock)" : "");
        /* Steps have kiln-shim to reap what they leave; secret, deploy
         * and notification commands have only init. */
        if (getpid() == 1)
            say("warning: kiln serve is PID 1 (a container without an "
                "init): what commands leave running is never reaped and "
                "stays a zombie; run it under an init (podman or docker run "
                "--init, or tini)");
    }
    uv_run(&dm.loop, UV_RUN_DEFAULT);
    kiln_engine_free(dm.eng);
    kiln_checkpointer_free(dm.ckpt);
    uv_run(&dm.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&dm.loop) != 0)
        say("warning: handles left open on exit");
    kiln_store_close(dm.store);
    return status;
}
