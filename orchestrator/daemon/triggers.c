/*
 * triggers.c: the checks behind drift, data, git and metric triggers.
 *
 * Each trigger is a `check`: a timer for its interval, for data triggers
 * a uv_fs_event on the path (debounced, since writing a file makes many
 * events), and at most one check in flight. A check runs in three parts:
 *
 *   begin()     on the loop: read what the trigger remembers from the
 *               store, then start the work (thread pool, or HTTP);
 *   look_*()    off the loop: look at the files, the repository or the
 *               document and fill in the verdict (fire or not, why, what
 *               was seen, what to remember);
 *   conclude()  on the loop: record the check, ask the daemon to fire,
 *               remember what was fired on.
 *
 * The worker threads touch nothing but the check's own verdict; the store
 * is only used on the loop thread.
 */
#include "triggers.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/drift.h"
#include "git/git.h"
#include "base/hash.h"

/* A data trigger settles this long after the last inotify event before it
 * looks (a file being written makes an event per write). */
#define SETTLE_MS 300
/* A data trigger looks at no more files than this under its path. */
#define MAX_FILES 100000

typedef struct check check;

/* What one look found. */
typedef struct verdict {
    int rc;               /* != 0: the look failed; err says why */
    kiln_err err;
    bool fire;
    char reason[512];     /* why it fires, or why not */
    json_t *detail;       /* what it saw */
    json_t *state;        /* what to remember: saved after a quiet look,
                             or once the daemon took the firing */
    char commit[41];      /* git: the new commit */
    char *file;           /* git: the pipeline file in its checkout */
    kiln_git_info git;    /* else, firing: the pipeline file's repository,
                             read by the look (not on the loop)... */
    bool have_git;        /* ...without an error */
} verdict;

struct check {
    kiln_watch *w;
    const kiln_trigger *t;
    char *key;            /* names the trigger in trigger_state */
    char *target;         /* what it watches, as written */
    char *path;           /* data, metric file: the absolute path;
                             git: where to find the repository */
    char *ref, *cur;      /* drift: absolute paths */
    uv_timer_t timer;
    uv_timer_t settle;
    uv_fs_event_t fsev;
    bool has_fsev;
    char *name;           /* a watched file's name in its directory */
    uv_work_t work;
    bool busy;            /* a look is in flight */
    bool first_held;      /* its first look waits for
                             kiln_watch_first_looks() */
    json_t *prev;         /* what the trigger remembered (owned) */
    verdict v;
};

struct kiln_watch {
    kiln_watch_options o;
    size_t n;
    check *checks;
    int open;             /* handles and looks not yet finished */
    bool stopping;
};

static void begin(check *c);

/* Batched records (triggers.h). */

typedef struct pending {
    char *pipeline, *target, *reason, *detail;
    const char *kind;
    kiln_check_status status;
    char *key, *state;      /* what the trigger remembers; NULL: nothing */
} pending;

struct kiln_check_batch {
    uv_check_t check;
    kiln_store *store;
    pending *items;
    size_t n, cap;
};

static void batch_flush(kiln_check_batch *b)
{
    kiln_err err = KILN_ERR_INIT;
    bool tx;

    if (!b || b->n == 0)
        return;
    if (!(tx = kiln_store_begin(b->store, &err) == 0))
        fprintf(stderr, "kiln serve: warning: %s\n", err.msg);
    for (size_t i = 0; i < b->n; i++) {
        pending *p = &b->items[i];
        if (kiln_store_check_record(b->store, NULL, p->pipeline, p->kind,
                                    p->target, p->status, p->reason,
                                    p->detail, 0, &err) != 0 ||
            (p->state && kiln_store_trigger_state_set(b->store, p->pipeline,
                                                      p->key, p->state,
                                                      &err) != 0))
            fprintf(stderr, "kiln serve: warning: %s\n", err.msg);
        free(p->pipeline);
        free(p->target);
        free(p->reason);
        free(p->detail);
        free(p->key);
        free(p->state);
    }
    b->n = 0;
    if (tx && kiln_store_commit(b->store, &err) != 0)
        fprintf(stderr, "kiln serve: warning: %s\n", err.msg);
    uv_check_stop(&b->check);
}

static void on_batch_check(uv_check_t *h)
{
    batch_flush(h->data);
}

kiln_check_batch *kiln_check_batch_new(uv_loop_t *loop, kiln_store *store)
{
    kiln_check_batch *b = kiln_calloc(1, sizeof(*b));
    b->store = store;
    uv_check_init(loop, &b->check);
    b->check.data = b;
    return b;
}

static void batch_on_close(uv_handle_t *h)
{
    kiln_check_batch *b = h->data;
    free(b->items);
    free(b);
}

void kiln_check_batch_free(kiln_check_batch *b)
{
    if (!b)
        return;
    batch_flush(b);
    uv_close((uv_handle_t *)&b->check, batch_on_close);
}

/* Queue c's record (status, reason; detail taken) and, when remembering,
 * what its trigger saw. */
static void batch_add(kiln_check_batch *b, check *c, kiln_check_status status,
                      const char *reason, char *detail, bool remembering)
{
    kiln_watch *w = c->w;
    pending *p;
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->items = kiln_realloc(b->items, b->cap * sizeof(*b->items));
    }
    p = &b->items[b->n++];
    p->pipeline = kiln_strdup(w->o.pipeline->name);
    p->kind = kiln_trigger_kind_name(c->t->kind);
    p->target = kiln_strdup(c->target);
    p->status = status;
    p->reason = reason ? kiln_strdup(reason) : NULL;
    p->detail = detail;
    p->key = p->state = NULL;
    if (remembering && c->v.state) {
        p->key = kiln_strdup(c->key);
        p->state = json_dumps(c->v.state, JSON_COMPACT);
    }
    uv_check_start(&b->check, on_batch_check);
}

/* Paths. */

static char *resolve(const kiln_watch *w, const char *path)
{
    if (path[0] == '/')
        return kiln_strdup(path);
    return kiln_path_join(w->o.pipeline->dir, path);
}

/* Drift. */

static void look_drift(check *c)
{
    const kiln_drift_check *d = &c->t->drift;
    verdict *v = &c->v;
    json_t *report = NULL, *col;
    char ref_sha[KILN_HASH_HEX], cur_sha[KILN_HASH_HEX],
        both[2 * KILN_HASH_HEX];
    const char *fired_on;
    size_t drifted = 0, i;
    kiln_buf names = KILN_BUF_INIT;

    if ((v->rc = kiln_drift_report(&report, &drifted, c->ref, c->cur,
                                   d->columns.items, d->columns.n, d->method,
                                   d->threshold, &v->err)) != 0)
        return;
    json_array_foreach(json_object_get(report, "columns"), i, col) {
        if (json_is_true(json_object_get(col, "drift")))
            kiln_buf_printf(&names, "%s%s", names.len ? ", " : "",
                            json_string_value(json_object_get(col, "name")));
    }
    v->detail = json_pack("{s:s, s:f, s:O, s:I}", "method", d->method,
                          "threshold", d->threshold, "columns",
                          json_object_get(report, "columns"), "drifted",
                          (json_int_t)drifted);
    json_decref(report);
    fired_on = json_string_value(json_object_get(c->prev, "fired_on"));
    if (drifted == 0) {
        snprintf(v->reason, sizeof(v->reason), "no drift (%s below %g)",
                 d->method, d->threshold);
        v->state = json_object(); /* forget: drifting again fires again */
    } else if ((v->rc = kiln_hash_file(ref_sha, c->ref, &v->err)) == 0 &&
               (v->rc = kiln_hash_file(cur_sha, c->cur, &v->err)) == 0) {
        /* What was fired on is known by content, so the files are hashed,
         * but only when there is drift: a quiet check reads them once. A
         * file replaced since the statistics is the one the run reads. */
        snprintf(both, sizeof(both), "%.32s%.32s", ref_sha, cur_sha);
        if (fired_on && strcmp(fired_on, both) == 0) {
            snprintf(v->reason, sizeof(v->reason), "%s still drift; a run "
                     "was already fired on these files",
                     kiln_buf_cstr(&names));
        } else {
            v->fire = true;
            snprintf(v->reason, sizeof(v->reason), "drift in %s (%s, "
                     "threshold %g)", kiln_buf_cstr(&names), d->method,
                     d->threshold);
            v->state = json_pack("{s:s}", "fired_on", both);
        }
    }
    kiln_buf_dispose(&names);
}

/* Data. */

typedef struct scan {
    const char *root;
    size_t root_len;
    json_t *files;       /* rel -> [size, mtime_ns, sha] */
    json_t *prev;        /* the same, from the last look; may be NULL */
    size_t n;
    kiln_err *err;
    int rc;
} scan;

static __thread scan *cur_scan; /* nftw() passes no user pointer */

/* Note a file (its hash, unless its size and mtime are as last seen).
 * Returns false when the look must stop: s->rc says why. */
static bool note_file(scan *s, const char *path, const struct stat *st)
{
    const char *rel = path + s->root_len;
    json_t *old, *entry;
    json_int_t mtime = (json_int_t)st->st_mtim.tv_sec * 1000000000 +
                       st->st_mtim.tv_nsec;
    char sha[KILN_HASH_HEX];

    while (*rel == '/')
        rel++;
    if (!*rel)
        rel = ".";
    old = s->prev ? json_object_get(s->prev, rel) : NULL;
    if (json_is_array(old) &&
        json_integer_value(json_array_get(old, 0)) == (json_int_t)st->st_size
        && json_integer_value(json_array_get(old, 1)) == mtime) {
        entry = json_copy(old); /* unchanged: keep its hash */
    } else {
        /* A file that vanished between the walk and now is just gone.
         * One that cannot be read is an error, not gone: left out, the
         * look would forget it, and the next one take it for new. */
        int rc = kiln_hash_file(sha, path, s->err);
        if (rc != 0) {
            if (access(path, F_OK) != 0 && errno == ENOENT)
                return true;
            s->rc = rc;
            return false;
        }
        entry = json_pack("[I, I, s]", (json_int_t)st->st_size, mtime, sha);
    }
    json_object_set_new(s->files, rel, entry);
    return true;
}

static int on_data_walk(const char *path, const struct stat *st, int type,
                        struct FTW *ftw)
{
    scan *s = cur_scan;
    int saved = errno; /* why an entry could not be read (FTW_DNR, NS) */
    if (ftw->level > 0 && path[ftw->base] == '.')
        return type == FTW_D ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
    /* A directory or a file's metadata that cannot be read (EACCES)
     * fails the look: taken as empty, the files under it would be
     * forgotten, and fire as new once readable again. Only a file gone
     * since its directory was listed is just gone. */
    if (type == FTW_DNR || (type == FTW_NS && saved != ENOENT)) {
        errno = saved;
        s->rc = kiln_err_set_os(s->err, "cannot read %s", path);
        return FTW_STOP;
    }
    if (type != FTW_F || !S_ISREG(st->st_mode))
        return FTW_CONTINUE;
    if (++s->n > MAX_FILES) {
        s->rc = kiln_err_set(s->err, KILN_EINVAL, "more than %d files under "
                             "%s", MAX_FILES, s->root);
        return FTW_STOP;
    }
    return note_file(s, path, st) ? FTW_CONTINUE : FTW_STOP;
}

/* Names in a but not in b, or (changed) in both with other hashes. */
static json_t *diff_files(json_t *a, json_t *b, bool changed)
{
    json_t *out = json_array(), *va;
    const char *k;
    json_object_foreach(a, k, va) {
        json_t *vb = b ? json_object_get(b, k) : NULL;
        if (!changed && !vb)
            json_array_append_new(out, json_string(k));
        else if (changed && vb &&
                 strcmp(json_string_value(json_array_get(va, 2)),
                        json_string_value(json_array_get(vb, 2))) != 0)
            json_array_append_new(out, json_string(k));
    }
    return out;
}

static void look_data(check *c)
{
    verdict *v = &c->v;
    json_t *prev = json_object_get(c->prev, "files");
    json_t *added, *changed, *removed;
    scan s;
    struct stat st;

    memset(&s, 0, sizeof(s));
    s.root = c->path;
    s.root_len = strlen(c->path);
    s.files = json_object();
    s.prev = prev;
    s.err = &v->err;
    if (stat(c->path, &st) != 0) {
        v->rc = kiln_err_set_os(&v->err, "cannot read %s", c->path);
        json_decref(s.files);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        cur_scan = &s;
        if (nftw(c->path, on_data_walk, 16, FTW_PHYS | FTW_ACTIONRETVAL) !=
                0 && s.rc == 0)
            s.rc = kiln_err_set_os(&v->err, "cannot scan %s", c->path);
        cur_scan = NULL;
    } else {
        /* A single file is known by its own name. */
        const char *base = strrchr(c->path, '/');
        s.root_len = (size_t)(base - c->path);
        note_file(&s, c->path, &st);
    }
    if ((v->rc = s.rc) != 0) {
        json_decref(s.files);
        return;
    }
    added = diff_files(s.files, prev, false);
    changed = diff_files(s.files, prev, true);
    removed = prev ? diff_files(prev, s.files, false) : json_array();
    v->detail = json_pack("{s:I, s:o, s:o, s:o}", "files",
                          (json_int_t)json_object_size(s.files), "new",
                          added, "changed", changed, "removed", removed);
    v->state = json_pack("{s:o}", "files", s.files);
    if (!json_is_object(prev)) {
        snprintf(v->reason, sizeof(v->reason), "first look: %zu file%s "
                 "taken as they are", json_object_size(s.files),
                 json_object_size(s.files) == 1 ? "" : "s");
    } else if (json_array_size(added) || json_array_size(changed)) {
        const char *first = json_string_value(json_array_get(
            json_array_size(added) ? added : changed, 0));
        v->fire = true;
        snprintf(v->reason, sizeof(v->reason), "%zu new and %zu changed "
                 "file%s (%s%s)", json_array_size(added),
                 json_array_size(changed),
                 json_array_size(added) + json_array_size(changed) == 1
                     ? "" : "s", first,
                 json_array_size(added) + json_array_size(changed) > 1
                     ? ", ..." : "");
    } else if (json_array_size(removed)) {
        snprintf(v->reason, sizeof(v->reason), "no new or changed files "
                 "(%zu removed)", json_array_size(removed));
    } else {
        snprintf(v->reason, sizeof(v->reason), "no new or changed files");
    }
}

/* Git. */

static void look_git(check *c)
{
    const kiln_trigger *t = c->t;
    verdict *v = &c->v;
    const char *seen = json_string_value(json_object_get(c->prev, "commit"));
    char *rev;
    kiln_git_info info;

    if (t->remote && (v->rc = kiln_git_fetch(c->path, t->remote,
                                             &v->err)) != 0)
        return;
    rev = t->remote ? kiln_asprintf("refs/remotes/%s/%s", t->remote,
                                    t->branch)
                    : kiln_asprintf("refs/heads/%s", t->branch);
    v->rc = kiln_git_resolve(v->commit, c->path, rev, &v->err);
    free(rev);
    if (v->rc != 0)
        return;
    v->detail = json_pack("{s:s, s:s, s:s?, s:s?}", "branch", t->branch,
                          "commit", v->commit, "remote", t->remote,
                          "previous", seen);
    v->state = json_pack("{s:s}", "commit", v->commit);
    if (!seen) {
        snprintf(v->reason, sizeof(v->reason), "first look: %s is at %.12s",
                 t->branch, v->commit);
        return;
    }
    if (strcmp(seen, v->commit) == 0) {
        snprintf(v->reason, sizeof(v->reason), "no new commit on %s (%.12s)",
                 t->branch, v->commit);
        return;
    }
    v->fire = true;
    snprintf(v->reason, sizeof(v->reason), "new commit %.12s on %s",
             v->commit, t->branch);
    /* The run is pinned to the commit: when the pipeline file lives in
     * this repository, run it as it is at that commit, in a checkout. */
    memset(&info, 0, sizeof(info));
    if (kiln_git_inspect(&info, c->w->o.file, &v->err) == 0 && info.in_repo) {
        kiln_git_info mine;
        memset(&mine, 0, sizeof(mine));
        if (kiln_git_inspect(&mine, c->path, &v->err) == 0 && mine.in_repo &&
            strcmp(mine.workdir, info.workdir) == 0) {
            const char *rel = c->w->o.file + strlen(info.workdir) + 1;
            char *dir = kiln_asprintf("%s/checkouts/%s", c->w->o.state_dir,
                                      v->commit);
            if ((v->rc = kiln_git_checkout(c->w->o.file, v->commit, dir,
                                           &v->err)) == 0) {
                v->file = kiln_path_join(dir, rel);
                if (access(v->file, F_OK) != 0)
                    v->rc = kiln_err_set(&v->err, KILN_ENOTFOUND, "%s does "
                                         "not exist at commit %.12s", rel,
                                         v->commit);
            }
            free(dir);
        }
        kiln_git_info_dispose(&mine);
    }
    kiln_git_info_dispose(&info);
}

/* Metric. */

/* The value at path in a JSON document: dot-separated object keys and
 * array indexes ("data.result.0.value.1"); NULL path: the document. A
 * number, or a string holding one (as Prometheus writes values). Returns
 * 0, or KILN_EINVAL saying where the path failed. */
static int json_number_at(double *out, json_t *doc, const char *path,
                          kiln_err *err)
{
    json_t *at = doc;
    const char *p = path;
    char part[256];

    while (p && *p) {
        size_t n = strcspn(p, ".");
        char *end;
        if (n >= sizeof(part))
            return kiln_err_set(err, KILN_EINVAL, "json: a part of \"%s\" "
                                "is too long", path);
        memcpy(part, p, n);
        part[n] = '\0';
        if (json_is_object(at)) {
            at = json_object_get(at, part);
        } else if (json_is_array(at)) {
            unsigned long i = strtoul(part, &end, 10);
            at = (*end || end == part) ? NULL : json_array_get(at, i);
        } else {
            at = NULL;
        }
        if (!at)
            return kiln_err_set(err, KILN_EINVAL, "json: nothing at \"%.*s\""
                                " in the document", (int)(p - path + n),
                                path);
        p += n;
        if (*p == '.')
            p++;
    }
    if (json_is_number(at)) {
        *out = json_number_value(at);
        return 0;
    }
    if (json_is_string(at)) {
        const char *s = json_string_value(at);
        char *end;
        errno = 0;
        *out = strtod(s, &end);
        if (end != s && !*end && errno == 0 && isfinite(*out))
            return 0;
    }
    return kiln_err_set(err, KILN_EINVAL, "json: the value at \"%s\" is not "
                        "a number", path ? path : "");
}

/* Decide on a metric's value x: fire when it crosses its bound, once
 * until it is back within. */
static void judge_value(check *c, double x)
{
    const kiln_trigger *t = c->t;
    verdict *v = &c->v;
    bool breach, fired = json_is_true(json_object_get(c->prev, "fired"));
    char bound[64];

    breach = (t->has_below && x < t->below) || (t->has_above && x > t->above);
    if (t->has_below && x < t->below)
        snprintf(bound, sizeof(bound), "below %g", t->below);
    else if (t->has_above && x > t->above)
        snprintf(bound, sizeof(bound), "above %g", t->above);
    else if (t->has_below && t->has_above)
        snprintf(bound, sizeof(bound), "within %g..%g", t->below, t->above);
    else if (t->has_below)
        snprintf(bound, sizeof(bound), "not below %g", t->below);
    else
        snprintf(bound, sizeof(bound), "not above %g", t->above);
    v->detail = json_pack("{s:f, s:o, s:o}", "value", x, "below",
                          t->has_below ? json_real(t->below) : json_null(),
                          "above",
                          t->has_above ? json_real(t->above) : json_null());
    if (!breach) {
        snprintf(v->reason, sizeof(v->reason), "%g is %s", x, bound);
        v->state = json_object();
    } else if (fired) {
        snprintf(v->reason, sizeof(v->reason), "%g is still %s; a run was "
                 "already fired when it crossed", x, bound);
    } else {
        v->fire = true;
        snprintf(v->reason, sizeof(v->reason), "%g is %s", x, bound);
        v->state = json_pack("{s:b}", "fired", 1);
    }
}

/* ...of a document from a file or a URL. */
static void judge_metric(check *c, const char *text, size_t len)
{
    verdict *v = &c->v;
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_DECODE_ANY, &je);
    double x = 0;

    if (!doc) {
        v->rc = kiln_err_set(&v->err, KILN_EINVAL, "%s: not JSON: %s (line "
                             "%d)", c->target, je.text, je.line);
        return;
    }
    v->rc = json_number_at(&x, doc, c->t->json, &v->err);
    json_decref(doc);
    if (v->rc == 0)
        judge_value(c, x);
}

/* ...that kiln recorded for another pipeline: its latest value, read on
 * the loop (one indexed query), with the run it came from. */
static void judge_recorded(check *c)
{
    const kiln_trigger *t = c->t;
    size_t n = strcspn(t->key, ".");
    char *step = kiln_strndup(t->key, n);
    int64_t run = 0;
    bool found = false;
    double x = 0;

    c->v.rc = kiln_store_metric_latest(c->w->o.store, &x, &found, &run,
                                       t->pipeline, step, t->key + n + 1,
                                       &c->v.err);
    free(step);
    if (c->v.rc != 0)
        return;
    if (!found) {
        c->v.rc = kiln_err_set(&c->v.err, KILN_ENOTFOUND, "%s: no run of "
                               "pipeline %s recorded metric %s yet",
                               c->target, t->pipeline, t->key);
        return;
    }
    judge_value(c, x);
    json_object_set_new(c->v.detail, "run_id", json_integer(run));
    json_object_set_new(c->v.detail, "pipeline", json_string(t->pipeline));
    json_object_set_new(c->v.detail, "key", json_string(t->key));
}

static void look_metric_file(check *c)
{
    char *text = NULL;
    size_t len = 0;
    if ((c->v.rc = kiln_read_file(&text, &len, c->path, (size_t)1 << 20,
                                  &c->v.err)) == 0)
        judge_metric(c, text, len);
    free(text);
}

/* The flow of a check. */

static void on_work(uv_work_t *req)
{
    check *c = req->data;
    switch (c->t->kind) {
    case KILN_TRIGGER_DRIFT:
        look_drift(c);
        break;
    case KILN_TRIGGER_DATA:
        look_data(c);
        break;
    case KILN_TRIGGER_GIT:
        look_git(c);
        break;
    case KILN_TRIGGER_METRIC:
        look_metric_file(c);
        break;
    }
    if (c->v.rc == 0 && c->v.fire && !c->v.file) {
        kiln_err ignored = KILN_ERR_INIT; /* read again, and warned */
        c->v.have_git = kiln_git_inspect(&c->v.git, c->w->o.file,
                                         &ignored) == 0;
    }
}

static void watch_free_maybe(kiln_watch *w)
{
    if (!w->stopping || w->open > 0)
        return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->checks[i].key);
        free(w->checks[i].target);
        free(w->checks[i].path);
        free(w->checks[i].ref);
        free(w->checks[i].cur);
        free(w->checks[i].name);
    }
    free(w->checks);
    if (w->o.release)
        w->o.release(w->o.data);
    free(w);
}

static void verdict_clear(check *c)
{
    json_decref(c->v.detail);
    json_decref(c->v.state);
    free(c->v.file);
    if (c->v.have_git)
        kiln_git_info_dispose(&c->v.git);
    memset(&c->v, 0, sizeof(c->v));
    json_decref(c->prev);
    c->prev = NULL;
}

static void remember(check *c)
{
    kiln_watch *w = c->w;
    kiln_err err = KILN_ERR_INIT;
    char *text;
    if (!c->v.state)
        return;
    text = json_dumps(c->v.state, JSON_COMPACT);
    if (kiln_store_trigger_state_set(w->o.store, w->o.pipeline->name,
                                     c->key, text, &err) != 0)
        fprintf(stderr, "kiln serve: warning: %s\n", err.msg);
    free(text);
}

/* On the loop: record the look, fire, remember. */
static void conclude(check *c)
{
    kiln_watch *w = c->w;
    const char *kind = kiln_trigger_kind_name(c->t->kind);
    kiln_err err = KILN_ERR_INIT;
    char *detail = c->v.detail ? json_dumps(c->v.detail, JSON_COMPACT)
                               : NULL;
    int64_t id = 0;

    c->busy = false;
    if (w->o.batch && (c->v.rc != 0 || !c->v.fire)) {
        batch_add(w->o.batch, c, c->v.rc != 0 ? KILN_CHECK_ERROR
                                              : KILN_CHECK_QUIET,
                  c->v.rc != 0 ? c->v.err.msg : c->v.reason, detail,
                  c->v.rc == 0);
        verdict_clear(c);
        return;
    }
    /* Firing: what waits is recorded first, in order. */
    batch_flush(w->o.batch);
    if (c->v.rc != 0) {
        if (kiln_store_check_record(w->o.store, NULL, w->o.pipeline->name,
                                    kind, c->target, KILN_CHECK_ERROR,
                                    c->v.err.msg, detail, 0, &err) != 0)
            fprintf(stderr, "kiln serve: warning: %s\n", err.msg);
    } else if (!c->v.fire) {
        if (kiln_store_check_record(w->o.store, NULL, w->o.pipeline->name,
                                    kind, c->target, KILN_CHECK_QUIET,
                                    c->v.reason, detail, 0, &err) != 0)
            fprintf(stderr, "kiln serve: warning: %s\n", err.msg);
        remember(c);
    } else if (kiln_store_check_record(w->o.store, &id, w->o.pipeline->name,
                                       kind, c->target, KILN_CHECK_HELD,
                                       c->v.reason, detail, 0, &err) != 0) {
        fprintf(stderr, "kiln serve: warning: %s\n", err.msg);
    } else {
        kiln_firing f;
        kiln_fire_outcome out = {KILN_CHECK_HELD, 0};
        json_t *info = json_pack("{s:s, s:s, s:I, s:s, s:O?}", "trigger",
                                 kind, "target", c->target, "check",
                                 (json_int_t)id, "reason", c->v.reason,
                                 "detail", c->v.detail);
        char *info_text = json_dumps(info, JSON_COMPACT);
        memset(&f, 0, sizeof(f));
        f.check_id = id;
        f.trigger = kind;
        f.target = c->target;
        f.info = info_text;
        f.commit = c->v.commit[0] ? c->v.commit : NULL;
        f.file = c->v.file;
        f.git = c->v.have_git ? &c->v.git : NULL;
        w->o.fire(&f, &out, w->o.data);
        /* Held back: keep the old memory, so it fires once it may. */
        if (out.status != KILN_CHECK_HELD)
            remember(c);
        free(info_text);
        json_decref(info);
    }
    free(detail);
    verdict_clear(c);
}

/* A look came back. Returns false when the watch is stopping: the look
 * is dropped (and the watch freed when it was the last thing open). */
static bool look_back(check *c)
{
    kiln_watch *w = c->w;
    w->open--;
    if (!w->stopping)
        return true;
    c->busy = false;
    verdict_clear(c);
    watch_free_maybe(w);
    return false;
}

static void on_work_done(uv_work_t *req, int status)
{
    check *c = req->data;
    (void)status;
    if (look_back(c))
        conclude(c);
}

static void on_http(const kiln_http_result *r, void *data)
{
    check *c = data;
    if (!look_back(c))
        return;
    if (r->error)
        c->v.rc = kiln_err_set(&c->v.err, KILN_ERROR, "%s: %s", c->target,
                               r->error);
    else if (r->status != 200)
        c->v.rc = kiln_err_set(&c->v.err, KILN_ERROR, "%s: HTTP %ld",
                               c->target, r->status);
    else
        judge_metric(c, r->body, r->len);
    conclude(c);
}

/* Start a look, unless one is in flight. */
static void begin(check *c)
{
    kiln_watch *w = c->w;
    kiln_err err = KILN_ERR_INIT;
    char *prev = NULL;

    if (c->busy || w->stopping)
        return;
    batch_flush(w->o.batch); /* what the trigger last remembered */
    if (kiln_store_trigger_state_get(w->o.store, &prev, w->o.pipeline->name,
                                     c->key, &err) != 0) {
        fprintf(stderr, "kiln serve: warning: %s\n", err.msg);
        return; /* next interval */
    }
    c->prev = prev ? json_loads(prev, 0, NULL) : NULL;
    free(prev);
    c->busy = true;
    w->open++;
    if (c->t->kind == KILN_TRIGGER_METRIC && c->t->pipeline) {
        w->open--;
        judge_recorded(c);
        conclude(c);
        return;
    }
    if (c->t->kind == KILN_TRIGGER_METRIC && c->t->url) {
        kiln_http_request req;
        memset(&req, 0, sizeof(req));
        req.url = c->t->url;
        req.timeout_ms = c->t->timeout_ms;
        if (!w->o.http)
            kiln_err_set(&err, KILN_ERROR, "no HTTP client (libcurl could "
                         "not start)");
        if (!w->o.http ||
            kiln_http_start(w->o.http, &req, on_http, c, &err) != 0) {
            c->v.rc = kiln_err_set(&c->v.err, KILN_ERROR, "%s", err.msg);
            w->open--;
            conclude(c);
        }
        return;
    }
    c->work.data = c;
    uv_queue_work(w->o.loop, &c->work, on_work, on_work_done);
}

static void on_timer(uv_timer_t *t)
{
    begin(t->data);
}

static void on_settle(uv_timer_t *t)
{
    begin(t->data);
}

static void on_fs_event(uv_fs_event_t *h, const char *name, int events,
                        int status)
{
    check *c = h->data;
    (void)events;
    (void)status;
    if (c->name && name && strcmp(name, c->name) != 0)
        return; /* another file in the directory of a watched file */
    uv_timer_start(&c->settle, on_settle, SETTLE_MS, 0);
}

static void on_handle_close(uv_handle_t *h)
{
    check *c = h->data;
    kiln_watch *w = c->w;
    w->open--;
    watch_free_maybe(w);
}

/* When the first look of one more trigger is due, from now. */
static uint64_t first_look_ms(kiln_watch *w)
{
    kiln_look_spread *sp = w->o.spread;
    uint64_t now = uv_now(w->o.loop);
    if (!sp)
        return 0;
    if (sp->slot_at < now) {
        sp->slot_at = now;
        sp->in_slot = 0;
    }
    if (sp->in_slot == KILN_LOOKS_PER_SLOT) {
        sp->slot_at += KILN_LOOK_SLOT_MS;
        sp->in_slot = 0;
    }
    sp->in_slot++;
    return sp->slot_at - now;
}

static void check_open(kiln_watch *w, check *c, const kiln_trigger *t)
{
    c->w = w;
    c->t = t;
    switch (t->kind) {
    case KILN_TRIGGER_DRIFT:
        c->target = kiln_strdup(t->drift.current);
        c->ref = resolve(w, t->drift.reference);
        c->cur = resolve(w, t->drift.current);
        c->key = kiln_asprintf("drift:%s:%s", t->drift.reference,
                               t->drift.current);
        break;
    case KILN_TRIGGER_DATA:
        c->target = kiln_strdup(t->path);
        c->path = resolve(w, t->path);
        c->key = kiln_asprintf("data:%s", t->path);
        break;
    case KILN_TRIGGER_GIT:
        c->target = t->remote ? kiln_asprintf("%s/%s", t->remote, t->branch)
                              : kiln_strdup(t->branch);
        c->path = t->repo ? resolve(w, t->repo) : kiln_strdup(w->o.file);
        c->key = kiln_asprintf("git:%s:%s:%s", t->repo ? t->repo : "",
                               t->remote ? t->remote : "", t->branch);
        break;
    case KILN_TRIGGER_METRIC:
        c->target = t->pipeline
                        ? kiln_asprintf("%s:%s", t->pipeline, t->key)
                        : kiln_strdup(t->url ? t->url : t->file);
        c->path = t->file ? resolve(w, t->file) : NULL;
        c->key = kiln_asprintf("metric:%s", c->target);
        break;
    }
    uv_timer_init(w->o.loop, &c->timer);
    uv_timer_init(w->o.loop, &c->settle);
    c->timer.data = c->settle.data = c;
    w->open += 2;
    /* The first look now (or in its turn), then one per interval; held
     * while the daemon loads, which takes its time without serving. */
    if (w->o.hold_first)
        c->first_held = true;
    else
        uv_timer_start(&c->timer, on_timer, first_look_ms(w),
                       (uint64_t)t->every_ms);
    if (t->kind == KILN_TRIGGER_DATA &&
        uv_fs_event_init(w->o.loop, &c->fsev) == 0) {
        struct stat st;
        char *watched = kiln_strdup(c->path);
        c->fsev.data = c;
        w->open++;
        c->has_fsev = true;
        /* A file is watched through its directory, so a new file renamed
         * over it is seen too. */
        if (stat(c->path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            char *slash = strrchr(watched, '/');
            if (slash && slash != watched) {
                *slash = '\0';
                c->name = kiln_strdup(slash + 1);
            }
        }
        /* Where inotify cannot watch (a directory that does not exist
         * yet, a network file system), the interval is all there is. */
        uv_fs_event_start(&c->fsev, on_fs_event, watched, 0);
        free(watched);
    }
}

int kiln_watch_start(kiln_watch **out, const kiln_watch_options *o,
                     kiln_err *err)
{
    kiln_watch *w = kiln_calloc(1, sizeof(*w));
    (void)err;
    w->o = *o;
    w->n = o->pipeline->n_triggers;
    w->checks = kiln_calloc(w->n ? w->n : 1, sizeof(*w->checks));
    for (size_t i = 0; i < w->n; i++)
        check_open(w, &w->checks[i], &o->pipeline->triggers[i]);
    *out = w;
    return 0;
}

void kiln_watch_first_looks(kiln_watch *w)
{
    for (size_t i = 0; w && !w->stopping && i < w->n; i++) {
        check *c = &w->checks[i];
        if (!c->first_held)
            continue;
        c->first_held = false;
        uv_timer_start(&c->timer, on_timer, first_look_ms(w),
                       (uint64_t)c->t->every_ms);
    }
}

void kiln_watch_stop(kiln_watch *w)
{
    if (!w || w->stopping)
        return;
    w->stopping = true;
    for (size_t i = 0; i < w->n; i++) {
        check *c = &w->checks[i];
        uv_close((uv_handle_t *)&c->timer, on_handle_close);
        uv_close((uv_handle_t *)&c->settle, on_handle_close);
        if (c->has_fsev)
            uv_close((uv_handle_t *)&c->fsev, on_handle_close);
    }
    watch_free_maybe(w);
}
