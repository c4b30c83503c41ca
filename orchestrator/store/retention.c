/*
 * retention.c: what goes of the record, and when (store.h, Retention):
 * runs over their pipeline's limits with their rows in every table that
 * hangs off a run, their logs (removed, or gzip'd first), trigger checks,
 * schedule fires and notifications by age; then the file shrinks.
 *
 * A pass decides per pipeline from one ordered read of its runs which
 * are over its limits, keeps those whose outputs a run that stays read
 * (newest first, across pipelines), then changes a batch of runs per
 * transaction, so a writer on another connection (a run recording its
 * steps) waits a few milliseconds at most. The protected runs are
 * decided once per pass; unfinished runs, a registration and new
 * readers are re-checked inside each run's deletion.
 */
#include "internal.h"
#include "json.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH_DEFAULT 100
/* Rows of checks, fires, notifications deleted per transaction. */
#define ROWS_BATCH 2000

/* Runs never deleted, the seeds of the walk: runs that registered a model
 * version (an alias points at one of those). */
static const char SQL_SEEDS[] =
    "SELECT run_id FROM models WHERE run_id IS NOT NULL "
    "UNION SELECT x.run_id FROM models m JOIN executions x ON x.id = "
    "m.execution_id";
/* ...and, with no walk, the newest run and the run of the newest
 * execution: their ids would be given again. */
static const char SQL_NEWEST[] =
    "SELECT max(id) FROM runs UNION SELECT run_id FROM executions WHERE id "
    "= (SELECT max(id) FROM executions)";
/* The runs whose outputs run ?1 read (the producer lineage.c's walk
 * shows: of the same run, else the one finished last before) or reused
 * (cached_from). */
#define PRODUCER                                                          \
    "SELECT px.run_id FROM events eo JOIN executions px ON px.id = "      \
    "eo.execution_id WHERE eo.artifact_id = ei.artifact_id AND eo.type "  \
    "= 'output' AND px.id < x.id AND "
static const char SQL_UPSTREAM[] =
    "SELECT coalesce((" PRODUCER "px.run_id = x.run_id LIMIT 1), "
    "(" PRODUCER "px.finished_at <= x.started_at ORDER BY px.finished_at "
    "DESC LIMIT 1)) FROM executions x JOIN events ei ON ei.execution_id = "
    "x.id AND ei.type = 'input' WHERE x.run_id = ?1 "
    "UNION SELECT c.run_id FROM executions x JOIN executions c ON c.id = "
    "x.cached_from WHERE x.run_id = ?1";
/* The other runs that read what run ?1 made, by the same rule: an
 * execution whose producer of an input is one of ?1's (so it started
 * after that one finished), or that reused one of ?1's outputs. */
static const char SQL_DOWNSTREAM[] =
    "SELECT DISTINCT x.run_id FROM executions p JOIN events po ON "
    "po.execution_id = p.id AND po.type = 'output' JOIN events ei ON "
    "ei.artifact_id = po.artifact_id AND ei.type = 'input' JOIN executions "
    "x ON x.id = ei.execution_id WHERE p.run_id = ?1 AND x.run_id != ?1 "
    "AND x.id > p.id AND x.started_at >= p.finished_at AND coalesce(("
    PRODUCER "px.run_id = x.run_id LIMIT 1), (" PRODUCER "px.finished_at "
    "<= x.started_at ORDER BY px.finished_at DESC LIMIT 1)) = ?1 "
    "UNION SELECT x.run_id FROM executions c JOIN executions x ON "
    "x.cached_from = c.id WHERE c.run_id = ?1 AND x.run_id != ?1";
static const char SQL_PIPELINES[] =
    "SELECT DISTINCT pipeline FROM runs WHERE ?1 IS NULL OR pipeline = ?1 "
    "ORDER BY pipeline";
static const char SQL_RUNS_OF[] =
    "SELECT id, finished_at, logs_state FROM runs WHERE pipeline = ?1 "
    "ORDER BY id DESC";
/* Inside the batch: still finished, still nothing registered. */
static const char SQL_STILL_DELETABLE[] =
    "SELECT count(*) FROM runs r WHERE r.id = ?1 AND r.finished_at IS NOT "
    "NULL AND NOT EXISTS (SELECT 1 FROM models m WHERE m.run_id = ?1 OR "
    "m.execution_id IN (SELECT id FROM executions WHERE run_id = ?1))";
static const char SQL_STILL_FINISHED[] =
    "SELECT count(*) FROM runs WHERE id = ?1 AND finished_at IS NOT NULL";
static const char SQL_DEL_METRICS[] = "DELETE FROM metrics WHERE run_id = ?1";
static const char SQL_DEL_EVENTS[] =
    "DELETE FROM events WHERE execution_id IN (SELECT id FROM executions "
    "WHERE run_id = ?1)";
static const char SQL_DEL_CACHE[] =
    "DELETE FROM cache_outputs WHERE execution_id IN (SELECT id FROM "
    "executions WHERE run_id = ?1)";
/* The environment captures only the run's executions name, then the
 * run's names of them. */
static const char SQL_DEL_CAPTURES[] =
    "DELETE FROM captures WHERE sha256 IN (SELECT r.sha256 FROM "
    "capture_refs r JOIN executions x ON x.id = r.execution_id WHERE "
    "x.run_id = ?1) AND NOT EXISTS (SELECT 1 FROM capture_refs o JOIN "
    "executions y ON y.id = o.execution_id WHERE o.sha256 = "
    "captures.sha256 AND y.run_id != ?1)";
static const char SQL_DEL_CAPTURE_REFS[] =
    "DELETE FROM capture_refs WHERE execution_id IN (SELECT id FROM "
    "executions WHERE run_id = ?1)";
static const char SQL_DEL_EXECS[] =
    "DELETE FROM executions WHERE run_id = ?1";
static const char SQL_DEL_STEPS[] = "DELETE FROM run_steps WHERE run_id = ?1";
static const char SQL_DEL_RUN[] = "DELETE FROM runs WHERE id = ?1";
static const char SQL_RUN_WORKDIR[] = "SELECT workdir FROM runs WHERE id = ?1";
/* Does a run (still) work in directory ?1 or below it? */
static const char SQL_DIR_IN_USE[] =
    "SELECT count(*) FROM runs WHERE workdir = ?1 OR substr(workdir, 1, "
    "length(?1) + 1) = ?1 || '/'";
static const char SQL_LOGS_SET[] =
    "UPDATE runs SET logs_state = ?2 WHERE id = ?1";
static const char SQL_PIPELINE_FILE[] =
    "SELECT file FROM pipelines WHERE name = ?1";
static const char SQL_LOGS_GET[] =
    "SELECT CASE logs_state WHEN 'compressed' THEN 1 WHEN 'removed' THEN 2 "
    "ELSE 0 END FROM runs WHERE id = ?1";
/* The artifacts a run's executions read or made (before they go). */
static const char SQL_RUN_ARTIFACTS[] =
    "SELECT DISTINCT artifact_id FROM events WHERE execution_id IN (SELECT "
    "id FROM executions WHERE run_id = ?1)";
static const char SQL_ARTIFACT_TREE[] =
    "SELECT sha256 FROM artifacts WHERE id = ?1 AND is_dir = 1";
/* The files of directory ?1 once no artifact has its hash: a cache
 * entry's outputs are its execution's output artifacts, so no entry
 * that stays needs them either. */
static const char SQL_DEL_TREE[] =
    "DELETE FROM tree_files WHERE tree = ?1 AND NOT EXISTS (SELECT 1 FROM "
    "artifacts WHERE sha256 = ?1)";
/* Artifact ?1 once no event and no model version refers to it any more
 * (but the newest: its id would be given again). */
static const char SQL_DEL_ARTIFACT[] =
    "DELETE FROM artifacts WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM "
    "events e WHERE e.artifact_id = ?1) AND NOT EXISTS (SELECT 1 FROM "
    "models m WHERE m.artifact_id = ?1) AND id < (SELECT max(id) FROM "
    "artifacts)";
/* The rows of checks and fires that stay whatever their age, set aside
 * once per pass (a GROUP BY in each batch's DELETE would read the whole
 * table each time): the newest of each trigger's outcomes (a cooldown
 * reads the last one that fired) and each schedule's last fire. */
static const char SQL_KEEP_MAKE[] =
    "CREATE TEMP TABLE IF NOT EXISTS retention_keep (id INTEGER PRIMARY "
    "KEY); DELETE FROM temp.retention_keep";
static const char SQL_KEEP_CHECKS[] =
    "INSERT INTO temp.retention_keep SELECT max(id) FROM trigger_checks "
    "GROUP BY pipeline, trigger, status";
static const char SQL_KEEP_FIRES[] =
    "INSERT INTO temp.retention_keep SELECT max(id) FROM fires GROUP BY "
    "pipeline, schedule";
/* Older than ?1, not set aside, not the newest row. */
/* A check still queued holds its fire (kiln serve starts it again after a
 * restart): it stays however old it is. */
#define CHECKS_OLD                                                        \
    "FROM trigger_checks WHERE checked_at < ?1 AND status <> 'queued' "   \
    "AND id NOT IN temp.retention_keep "                                  \
    "AND id < (SELECT max(id) FROM trigger_checks)"
#define FIRES_OLD                                                         \
    "FROM fires WHERE recorded_at < ?1 AND id NOT IN temp.retention_keep " \
    "AND id < (SELECT max(id) FROM fires)"
#define NOTIFICATIONS_OLD                                                 \
    "FROM notifications WHERE created_at < ?1 AND status <> 'pending' "   \
    "AND id < (SELECT max(id) FROM notifications)"
/* Page sessions that ended or expired before ?1: nobody can use them
 * again (the audit trail has the logins). */
#define SESSIONS_OLD                                                      \
    "FROM sessions WHERE expires_at < ?1 OR ended_at < ?1"
static const char SQL_COUNT_CHECKS[] = "SELECT count(*) " CHECKS_OLD;
static const char SQL_DEL_CHECKS[] =
    "DELETE FROM trigger_checks WHERE id IN (SELECT id " CHECKS_OLD
    " LIMIT ?2)";
static const char SQL_COUNT_FIRES[] = "SELECT count(*) " FIRES_OLD;
static const char SQL_DEL_FIRES[] =
    "DELETE FROM fires WHERE id IN (SELECT id " FIRES_OLD " LIMIT ?2)";
static const char SQL_COUNT_SESSIONS[] = "SELECT count(*) " SESSIONS_OLD;
static const char SQL_DEL_SESSIONS[] =
    "DELETE FROM sessions WHERE id IN (SELECT id " SESSIONS_OLD
    " LIMIT ?2)";
static const char SQL_COUNT_NOTIFICATIONS[] =
    "SELECT count(*) " NOTIFICATIONS_OLD;
static const char SQL_DEL_NOTIFICATIONS[] =
    "DELETE FROM notifications WHERE id IN (SELECT id " NOTIFICATIONS_OLD
    " LIMIT ?2)";

/* A set of run ids (open addressing; 0 is never an id). */
typedef struct idset {
    int64_t *slots;
    size_t n, cap;
} idset;

static bool idset_has(const idset *s, int64_t id)
{
    size_t i;
    if (!s->cap)
        return false;
    for (i = (size_t)id * 0x9E3779B97F4A7C15ULL & (s->cap - 1);
         s->slots[i]; i = (i + 1) & (s->cap - 1))
        if (s->slots[i] == id)
            return true;
    return false;
}

/* Add id; false when it was there. */
static bool idset_add(idset *s, int64_t id)
{
    size_t i;
    if (id <= 0 || idset_has(s, id))
        return false;
    if (2 * (s->n + 1) > s->cap) {
        idset old = *s;
        s->cap = old.cap ? old.cap * 2 : 64;
        s->slots = kiln_calloc(s->cap, sizeof(*s->slots));
        s->n = 0;
        for (i = 0; i < old.cap; i++)
            if (old.slots[i])
                idset_add(s, old.slots[i]);
        free(old.slots);
    }
    for (i = (size_t)id * 0x9E3779B97F4A7C15ULL & (s->cap - 1);
         s->slots[i]; i = (i + 1) & (s->cap - 1))
        ;
    s->slots[i] = id;
    s->n++;
    return true;
}

/* A growing list of ids. */
typedef struct idlist {
    int64_t *ids;
    size_t n, cap;
} idlist;

static void idlist_push(idlist *l, int64_t id)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->ids = kiln_realloc(l->ids, l->cap * sizeof(*l->ids));
    }
    l->ids[l->n++] = id;
}

/* The ids sql's rows give in column 0, bound to id (0: no binding). */
static int ids_of(kiln_store *st, idlist *out, const char *sql, int64_t id,
                  kiln_err *err)
{
    const char *what = "reading what retention keeps";
    sqlite3_stmt *s = id ? kiln_store__query(st, err, what, sql, "I", id)
                         : kiln_store__query(st, err, what, sql, "");
    int rc;
    if (!s)
        return KILN_ERROR;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (sqlite3_column_type(s, 0) != SQLITE_NULL)
            idlist_push(out, sqlite3_column_int64(s, 0));
    return kiln_store__end(st, s, rc, err, what);
}

/* The protected runs: the seeds and, through every hop, the runs whose
 * outputs they read or reused; the newest. */
static int protected_runs(kiln_store *st, idset *keep, kiln_err *err)
{
    idlist todo = {0}, up = {0};
    int rc = ids_of(st, &up, SQL_NEWEST, 0, err);
    for (size_t i = 0; rc == 0 && i < up.n; i++)
        idset_add(keep, up.ids[i]);
    if (rc == 0)
        rc = ids_of(st, &todo, SQL_SEEDS, 0, err);
    for (size_t i = 0; rc == 0 && i < todo.n; i++)
        idset_add(keep, todo.ids[i]);
    while (rc == 0 && todo.n) {
        int64_t run = todo.ids[--todo.n];
        up.n = 0;
        rc = ids_of(st, &up, SQL_UPSTREAM, run, err);
        for (size_t i = 0; rc == 0 && i < up.n; i++)
            if (idset_add(keep, up.ids[i]))
                idlist_push(&todo, up.ids[i]);
    }
    free(todo.ids);
    free(up.ids);
    return rc;
}

/* What one pipeline's logs come to. */
typedef struct plan {
    idlist rm_logs;      /* runs whose logs go */
    idlist gz_logs;      /* runs whose logs are gzip'd */
} plan;

static void plan_dispose(plan *p)
{
    free(p->rm_logs.ids);
    free(p->gz_logs.ids);
    memset(p, 0, sizeof(*p));
}

/* A run over its pipeline's limits, protected by nothing so far. */
typedef struct cand {
    int64_t id;
    size_t pipeline;     /* index into the pass's names */
    bool gz;             /* its logs are gzip'd if it stays */
} cand;

/* Every candidate of the pass. */
typedef struct cands {
    cand *v;
    size_t n, cap;
} cands;

static bool over(int64_t rank, int64_t age, int64_t keep, int64_t max_ms)
{
    return (keep >= 0 && rank >= keep) || (max_ms >= 0 && age > max_ms);
}

/* Decide for each run of pipeline (index ip), newest first: its logs,
 * and whether it is a candidate for deletion. */
static int decide(kiln_store *st, plan *p, cands *c, size_t ip,
                  const char *pipeline, const kiln_store_retention *r,
                  const idset *keep, const kiln_gc_options *o,
                  kiln_gc_report *rep, kiln_err *err)
{
    const char *what = "reading runs for retention";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_RUNS_OF, "s",
                                        pipeline);
    int64_t rank = 0;
    int rc;
    if (!s)
        return KILN_ERROR;
    for (; (rc = sqlite3_step(s)) == SQLITE_ROW; rank++) {
        int64_t id = sqlite3_column_int64(s, 0), age;
        const unsigned char *logs = sqlite3_column_text(s, 2);
        bool removed = logs && strcmp((const char *)logs, "removed") == 0;
        bool gzipped = logs && strcmp((const char *)logs, "compressed") == 0;
        bool protect = idset_has(keep, id);
        bool gz;
        if (sqlite3_column_type(s, 1) == SQLITE_NULL)
            continue; /* unfinished: never touched */
        age = o->now_ms - sqlite3_column_int64(s, 1);
        gz = !removed && !gzipped && r->compress_ms >= 0 &&
             age > r->compress_ms;
        if (over(rank, age, r->keep_runs, r->runs_ms)) {
            if (!protect) {
                if (c->n == c->cap) {
                    c->cap = c->cap ? c->cap * 2 : 64;
                    c->v = kiln_realloc(c->v, c->cap * sizeof(*c->v));
                }
                c->v[c->n++] = (cand){id, ip, gz};
                continue;
            }
            rep->runs_protected++;
        }
        if (removed)
            continue;
        if (!protect && over(rank, age, r->keep_logs, r->logs_ms))
            idlist_push(&p->rm_logs, id);
        else if (gz)
            idlist_push(&p->gz_logs, id);
    }
    return kiln_store__end(st, s, rc, err, what);
}

/* Does a run that stays read what run made (SQL_DOWNSTREAM)? A reader
 * stays unless gone has it: those decided (or, in a batch, found) to go
 * before run. Readers come after what they read, so the candidates are
 * taken newest first; an older reader not decided yet counts as one
 * that stays. */
static int needed(kiln_store *st, int64_t run, const idset *gone, bool *out,
                  kiln_err *err)
{
    idlist readers = {0};
    int rc = ids_of(st, &readers, SQL_DOWNSTREAM, run, err);
    *out = rc != 0;
    for (size_t i = 0; rc == 0 && i < readers.n && !*out; i++)
        *out = !idset_has(gone, readers.ids[i]);
    free(readers.ids);
    return rc;
}

static int cand_newest_first(const void *a, const void *b)
{
    int64_t x = ((const cand *)a)->id, y = ((const cand *)b)->id;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Settle the candidates, newest first: one that a run which stays read
 * from (the lineage a kept artifact needs) stays, and so, through it,
 * does what it read. The rest are left in c, in that order. */
static int settle(kiln_store *st, cands *c, plan *plans,
                  kiln_gc_report *rep, kiln_err *err)
{
    idset gone = {0};
    size_t k = 0;
    int rc = 0;
    if (c->n)
        qsort(c->v, c->n, sizeof(*c->v), cand_newest_first);
    for (size_t i = 0; rc == 0 && i < c->n; i++) {
        bool keep;
        if ((rc = needed(st, c->v[i].id, &gone, &keep, err)) != 0)
            break;
        if (!keep) {
            idset_add(&gone, c->v[i].id);
            c->v[k++] = c->v[i];
            continue;
        }
        rep->runs_protected++;
        if (c->v[i].gz)
            idlist_push(&plans[c->v[i].pipeline].gz_logs, c->v[i].id);
    }
    if (rc == 0)
        c->n = k;
    free(gone.slots);
    return rc;
}

/* STATE/logs/RUN. */
static char *log_dir(const kiln_gc_options *o, int64_t run)
{
    return kiln_asprintf("%s/%lld", o->logs_dir, (long long)run);
}

/* Remove a run's log directory and the files in it. */
static int remove_logs(const kiln_gc_options *o, int64_t run, kiln_err *err)
{
    char *dir = log_dir(o, run);
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;
    if (!d) {
        free(dir);
        return 0;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char *f;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        f = kiln_path_join(dir, e->d_name);
        if (unlink(f) != 0 && errno != ENOENT && errno != EISDIR)
            rc = kiln_err_set_os(err, "cannot remove %s", f);
        free(f);
    }
    closedir(d);
    if (rc == 0 && rmdir(dir) != 0 && errno != ENOENT && errno != ENOTEMPTY)
        rc = kiln_err_set_os(err, "cannot remove %s", dir);
    free(dir);
    return rc;
}

/* Gzip each STEP.ATTEMPT.log of a run. */
static int compress_logs(const kiln_gc_options *o, int64_t run,
                         kiln_err *err)
{
    char *dir = log_dir(o, run);
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;
    if (!d) {
        free(dir);
        return 0;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char *f;
        if (len < 5 || strcmp(e->d_name + len - 4, ".log") != 0)
            continue;
        f = kiln_path_join(dir, e->d_name);
        rc = kiln_log_compress(f, err);
        free(f);
    }
    closedir(d);
    free(dir);
    return rc;
}

/* One JSON line for run: its record as kiln show --json has it, with its
 * artifacts and metrics. */
static int archive_run(kiln_store *st, FILE *f, int64_t run, kiln_err *err)
{
    json_t *obj = NULL, *arts = NULL, *metrics = NULL;
    int rc = kiln_store_run_json(st, &obj, run, err);
    if (rc == 0)
        rc = kiln_store_run_artifacts_json(st, &arts, run, err);
    if (rc == 0)
        rc = kiln_store_metrics_json(st, &metrics, NULL, NULL, 0, run, run,
                                     err);
    if (rc == 0) {
        json_object_set_new(obj, "artifacts", arts);
        json_object_set_new(obj, "metrics", metrics);
        arts = metrics = NULL;
        if (json_dumpf(obj, f, JSON_COMPACT) != 0 || fputc('\n', f) == EOF)
            rc = kiln_err_set_os(err, "cannot write the archive");
    }
    json_decref(obj);
    json_decref(arts);
    json_decref(metrics);
    return rc;
}

/* Is run still as decided: finished, with nothing registered and no
 * reader that stays but those of gone (and, for its logs alone,
 * finished)? Inside the batch's transaction for a deletion, so a run
 * resumed, registered or read from meanwhile stays. */
static int still(kiln_store *st, int64_t run, bool logs_only,
                 const idset *gone, bool *ok, kiln_err *err)
{
    const char *what = "reading a run";
    sqlite3_stmt *s = kiln_store__query(st, err, what, logs_only
                                        ? SQL_STILL_FINISHED
                                        : SQL_STILL_DELETABLE, "I", run);
    int64_t v = 0;
    bool read = false;
    *ok = false;
    if (!s || kiln_store__int(st, &v, s, 0, err, what) != 0)
        return KILN_ERROR;
    if (v != 0 && !logs_only && needed(st, run, gone, &read, err) != 0)
        return KILN_ERROR;
    *ok = v != 0 && !read;
    return 0;
}

/* Delete one run's rows (inside the batch's transaction), noting the
 * artifacts its executions referred to. */
static int delete_run(kiln_store *st, int64_t run, idset *arts,
                      kiln_err *err)
{
    static const char *const sqls[] = {
        SQL_DEL_METRICS, SQL_DEL_EVENTS, SQL_DEL_CACHE, SQL_DEL_CAPTURES,
        SQL_DEL_CAPTURE_REFS, SQL_DEL_EXECS, SQL_DEL_STEPS, SQL_DEL_RUN,
    };
    const char *what = "deleting a run";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_RUN_ARTIFACTS,
                                        "I", run);
    int rc;
    if (!s)
        return KILN_ERROR;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        idset_add(arts, sqlite3_column_int64(s, 0));
    if ((rc = kiln_store__end(st, s, rc, err, what)) != 0)
        return rc;
    for (size_t i = 0; i < KILN_ARRAY_SIZE(sqls); i++)
        if ((rc = kiln_store__run(st, err, what, sqls[i], "I", run)) != 0)
            return rc;
    return 0;
}

static void tell(const kiln_gc_options *o, kiln_gc_action a, int64_t run,
                 const char *pipeline)
{
    if (o->on_run)
        o->on_run(a, run, pipeline, o->data);
}

static bool stopped(const kiln_gc_options *o)
{
    return o->stop && *o->stop;
}

/* run's workdir, when it is in a scratch tree of kiln reproduce's
 * (o->reproduce_dir/NAME/...): that tree, else NULL. */
static int scratch_of(kiln_store *st, const kiln_gc_options *o, int64_t run,
                      char **tree, kiln_err *err)
{
    const char *what = "reading a run";
    sqlite3_stmt *s;
    size_t n = o->reproduce_dir ? strlen(o->reproduce_dir) : 0;
    int rc;
    *tree = NULL;
    if (!n)
        return 0;
    if (!(s = kiln_store__query(st, err, what, SQL_RUN_WORKDIR, "I", run)))
        return KILN_ERROR;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW &&
        sqlite3_column_type(s, 0) == SQLITE_TEXT) {
        const char *w = (const char *)sqlite3_column_text(s, 0);
        if (strncmp(w, o->reproduce_dir, n) == 0 && w[n] == '/' &&
            w[n + 1] && w[n + 1] != '/') {
            size_t len = strcspn(w + n + 1, "/");
            *tree = kiln_asprintf("%.*s", (int)(n + 1 + len), w);
        }
    }
    return kiln_store__end(st, s, rc, err, what);
}

/* Remove a deleted run's scratch tree once no run works in it. */
static int remove_scratch(kiln_store *st, const char *tree, kiln_err *err)
{
    const char *what = "reading runs";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_DIR_IN_USE, "s",
                                        tree);
    int64_t n = 0;
    if (!s || kiln_store__int(st, &n, s, 0, err, what) != 0)
        return KILN_ERROR;
    if (n == 0)
        kiln_remove_tree(tree);
    return 0;
}

/* Delete the settled candidates, newest first, a batch per transaction
 * (archived first), then their log directories. A reader of one deleted
 * in an earlier batch is gone from the record; one in the same batch is
 * let go only once it is found deletable itself. */
static int apply_deletions(kiln_store *st, const cands *c,
                           char *const *names, const kiln_gc_options *o,
                           idset *arts, kiln_gc_report *rep, kiln_err *err)
{
    size_t batch = o->batch ? o->batch : BATCH_DEFAULT;
    bool *gone = kiln_calloc(batch, sizeof(*gone));
    char **scratch = kiln_calloc(batch, sizeof(*scratch));
    int rc = 0;
    for (size_t at = 0; rc == 0 && at < c->n && !stopped(o); at += batch) {
        size_t n = c->n - at < batch ? c->n - at : batch;
        const cand *v = c->v + at;
        idset going = {0};
        if (o->dry) {
            for (size_t i = 0; i < n; i++) {
                rep->runs_deleted++;
                tell(o, KILN_GC_RUN_DELETED, v[i].id, names[v[i].pipeline]);
            }
            continue;
        }
        if ((rc = kiln_store__begin(st, err, "deleting runs")) != 0)
            break;
        for (size_t i = 0; rc == 0 && i < n; i++)
            if ((rc = still(st, v[i].id, false, &going, &gone[i],
                            err)) == 0 && gone[i])
                idset_add(&going, v[i].id);
        free(going.slots);
        for (size_t i = 0; rc == 0 && o->archive && i < n; i++)
            if (gone[i])
                rc = archive_run(st, o->archive, v[i].id, err);
        if (rc == 0 && o->archive && (fflush(o->archive) != 0 ||
                                      fsync(fileno(o->archive)) != 0))
            rc = kiln_err_set_os(err, "cannot write the archive");
        for (size_t i = 0; rc == 0 && i < n; i++)
            if (gone[i] &&
                (rc = scratch_of(st, o, v[i].id, &scratch[i], err)) == 0)
                rc = delete_run(st, v[i].id, arts, err);
        if (rc != 0) {
            kiln_store__rollback(st);
            break;
        }
        if ((rc = kiln_store__commit(st, err, "deleting runs")) != 0)
            break;
        for (size_t i = 0; i < n; i++) {
            if (!gone[i])
                continue;
            rep->runs_deleted++;
            tell(o, KILN_GC_RUN_DELETED, v[i].id, names[v[i].pipeline]);
            if (rc == 0)
                rc = remove_logs(o, v[i].id, err);
            if (rc == 0 && scratch[i])
                rc = remove_scratch(st, scratch[i], err);
        }
        for (size_t i = 0; i < n; i++) {
            free(scratch[i]);
            scratch[i] = NULL;
        }
    }
    free(gone);
    free(scratch);
    return rc;
}

/* Remove or gzip the logs of list's runs, then say so in a batch's
 * transaction. */
static int apply_logs(kiln_store *st, const idlist *list, bool remove,
                      const char *pipeline, const kiln_gc_options *o,
                      kiln_gc_report *rep, kiln_err *err)
{
    size_t batch = o->batch ? o->batch : BATCH_DEFAULT;
    const char *state = remove ? "removed" : "compressed";
    kiln_gc_action a = remove ? KILN_GC_LOGS_REMOVED
                              : KILN_GC_LOGS_COMPRESSED;
    bool *acted = kiln_calloc(batch, sizeof(*acted));
    int rc = 0;
    for (size_t at = 0; rc == 0 && at < list->n && !stopped(o);
         at += batch) {
        size_t n = list->n - at < batch ? list->n - at : batch, k = 0;
        const int64_t *ids = list->ids + at;
        for (size_t i = 0; i < n; i++) {
            /* A run resumed since writes its logs again: leave them. The
             * one that fails stays as it was. */
            acted[i] = o->dry;
            if (!o->dry && rc == 0 &&
                (rc = still(st, ids[i], true, NULL, &acted[i], err)) == 0 &&
                acted[i])
                rc = remove ? remove_logs(o, ids[i], err)
                            : compress_logs(o, ids[i], err);
            if (rc != 0)
                acted[i] = false;
            k += acted[i];
        }
        if (!o->dry && k) {
            int rc2 = kiln_store__begin(st, err, "recording logs");
            for (size_t i = 0; rc2 == 0 && i < n; i++)
                if (acted[i])
                    rc2 = kiln_store__run(st, err, "recording logs",
                                          SQL_LOGS_SET, "Is", ids[i],
                                          state);
            if (rc2 == 0)
                rc2 = kiln_store__commit(st, err, "recording logs");
            else
                kiln_store__rollback(st);
            if (rc == 0)
                rc = rc2;
        }
        for (size_t i = 0; i < n; i++) {
            if (!acted[i])
                continue;
            *(remove ? &rep->logs_removed : &rep->logs_compressed) += 1;
            tell(o, a, ids[i], pipeline);
        }
    }
    free(acted);
    return rc;
}

static int exec(kiln_store *st, const char *sql, kiln_err *err)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : kiln_store__error(st, rc, err, sql);
}

/* Count (dry) or delete, ROWS_BATCH a transaction, the rows of del older
 * than cut. */
static int trim(kiln_store *st, const char *keep, const char *count,
                const char *del, int64_t cut, bool dry, size_t *n,
                kiln_err *err)
{
    const char *what = "trimming old rows";
    int64_t k = 0;
    int rc;
    if ((rc = exec(st, SQL_KEEP_MAKE, err)) != 0 ||
        (keep && (rc = exec(st, keep, err)) != 0))
        return rc;
    if (dry) {
        sqlite3_stmt *s = kiln_store__query(st, err, what, count, "I", cut);
        if (!s || (rc = kiln_store__int(st, &k, s, 0, err, what)) != 0)
            return KILN_ERROR;
        *n += (size_t)k;
        return 0;
    }
    do {
        if ((rc = kiln_store__run(st, err, what, del, "Ii", cut,
                                  ROWS_BATCH)) != 0)
            return rc;
        k = sqlite3_changes64(st->db);
        *n += (size_t)k;
    } while (k == ROWS_BATCH);
    return 0;
}

/* Delete artifact id if nothing refers to it any more, and the files
 * recorded for it (a directory) if no other artifact has its hash. */
static int drop_artifact(kiln_store *st, int64_t id, kiln_err *err)
{
    const char *what = "deleting artifacts";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_ARTIFACT_TREE,
                                        "I", id);
    char *tree = NULL;
    int rc;
    if (!s)
        return KILN_ERROR;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        tree = kiln_store__dup(s, 0);
    if ((rc = kiln_store__end(st, s, rc, err, what)) == 0)
        rc = kiln_store__run(st, err, what, SQL_DEL_ARTIFACT, "I", id);
    if (rc == 0 && tree && sqlite3_changes64(st->db) == 1)
        rc = kiln_store__run(st, err, what, SQL_DEL_TREE, "s", tree);
    free(tree);
    return rc;
}

/* Delete the artifacts of arts nothing refers to any more, a batch per
 * transaction. */
static int drop_artifacts(kiln_store *st, const idset *arts, bool dry,
                          kiln_err *err)
{
    const char *what = "deleting artifacts";
    size_t done = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && !dry && i < arts->cap; i++) {
        if (!arts->slots[i])
            continue;
        if (done % ROWS_BATCH == 0 &&
            (rc = kiln_store__begin(st, err, what)) != 0)
            break;
        rc = drop_artifact(st, arts->slots[i], err);
        if (rc != 0)
            kiln_store__rollback(st);
        else if (++done % ROWS_BATCH == 0)
            rc = kiln_store__commit(st, err, what);
    }
    if (rc == 0 && done % ROWS_BATCH != 0)
        rc = kiln_store__commit(st, err, what);
    return rc;
}

static int64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

static int64_t db_bytes(kiln_store *st)
{
    char *wal = kiln_asprintf("%s-wal", st->path);
    int64_t n = file_size(st->path) + file_size(wal);
    free(wal);
    return n;
}

static int pragma_int(kiln_store *st, const char *sql, int64_t *out,
                      kiln_err *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    *out = 0;
    if (rc != SQLITE_OK)
        return kiln_store__error(st, rc, err, sql);
    if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? 0 : kiln_store__error(st, rc, err, sql);
}

/* Give the freed pages back to the file: PRAGMA incremental_vacuum, or
 * (o->vacuum) the one VACUUM that makes an older database incremental;
 * then a checkpoint that truncates the WAL, which is where the file
 * actually shrinks. A checkpoint that readers hold up is left to the
 * next one. */
static int shrink(kiln_store *st, const kiln_gc_options *o,
                  kiln_gc_report *rep, kiln_err *err)
{
    int64_t mode;
    int rc;
    if ((rc = pragma_int(st, "PRAGMA auto_vacuum", &mode, err)) != 0)
        return rc;
    if (mode != 2 && o->vacuum) {
        if ((rc = exec(st, "PRAGMA auto_vacuum = INCREMENTAL", err)) != 0 ||
            (rc = exec(st, "VACUUM", err)) != 0)
            return rc;
        rep->vacuumed = true;
        mode = 2;
    } else if (mode == 2 &&
               (rc = exec(st, "PRAGMA incremental_vacuum", err)) != 0) {
        return rc;
    }
    rep->incremental = mode == 2;
    sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
                              NULL, NULL);
    return 0;
}

int kiln_store_gc_runs(kiln_store *st, const kiln_gc_options *o,
                       kiln_gc_report *rep, kiln_err *err)
{
    const char *what = "reading pipelines";
    idset keep = {0}, arts = {0};
    cands c = {0};
    plan *plans = NULL;
    char **names = NULL;
    size_t n_names = 0, cap = 0;
    sqlite3_stmt *s;
    int rc;

    memset(rep, 0, sizeof(*rep));
    rep->db_before = db_bytes(st);
    if ((rc = protected_runs(st, &keep, err)) != 0)
        goto done;
    if (!(s = kiln_store__query(st, err, what, SQL_PIPELINES, "s",
                                o->pipeline))) {
        rc = KILN_ERROR;
        goto done;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n_names == cap) {
            cap = cap ? cap * 2 : 16;
            names = kiln_realloc(names, cap * sizeof(*names));
        }
        names[n_names++] = kiln_store__dup(s, 0);
    }
    if ((rc = kiln_store__end(st, s, rc, err, what)) != 0)
        goto done;
    plans = kiln_calloc(n_names ? n_names : 1, sizeof(*plans));
    for (size_t i = 0; rc == 0 && i < n_names && !stopped(o); i++) {
        kiln_store_retention r = KILN_STORE_RETENTION_INIT;
        if (o->policy)
            o->policy(&r, names[i], o->data);
        rc = decide(st, &plans[i], &c, i, names[i], &r, &keep, o, rep, err);
    }
    if (rc == 0 && !stopped(o))
        rc = settle(st, &c, plans, rep, err);
    if (rc == 0)
        rc = apply_deletions(st, &c, names, o, &arts, rep, err);
    for (size_t i = 0; rc == 0 && i < n_names; i++) {
        rc = apply_logs(st, &plans[i].rm_logs, true, names[i], o, rep, err);
        if (rc == 0)
            rc = apply_logs(st, &plans[i].gz_logs, false, names[i], o, rep,
                            err);
    }
    if (rc == 0)
        rc = drop_artifacts(st, &arts, o->dry, err);
    if (rc == 0 && o->checks_ms >= 0 && !stopped(o))
        rc = trim(st, SQL_KEEP_CHECKS, SQL_COUNT_CHECKS, SQL_DEL_CHECKS,
                  o->now_ms - o->checks_ms, o->dry, &rep->checks, err);
    if (rc == 0 && o->checks_ms >= 0 && !stopped(o))
        rc = trim(st, SQL_KEEP_FIRES, SQL_COUNT_FIRES, SQL_DEL_FIRES,
                  o->now_ms - o->checks_ms, o->dry, &rep->fires, err);
    if (rc == 0 && o->checks_ms >= 0 && !stopped(o))
        rc = trim(st, NULL, SQL_COUNT_SESSIONS, SQL_DEL_SESSIONS,
                  o->now_ms - o->checks_ms, o->dry, &rep->sessions, err);
    if (rc == 0 && o->notifications_ms >= 0 && !stopped(o))
        rc = trim(st, NULL, SQL_COUNT_NOTIFICATIONS, SQL_DEL_NOTIFICATIONS,
                  o->now_ms - o->notifications_ms, o->dry,
                  &rep->notifications, err);
    if (rc == 0 && !o->dry && !stopped(o))
        rc = shrink(st, o, rep, err);
done:
    rep->db_after = db_bytes(st);
    for (size_t i = 0; i < n_names; i++) {
        free(names[i]);
        if (plans)
            plan_dispose(&plans[i]);
    }
    free(names);
    free(plans);
    free(c.v);
    free(keep.slots);
    free(arts.slots);
    return rc;
}

int kiln_store_run_logs_state(kiln_store *st, int64_t run,
                              kiln_logs_state *out, kiln_err *err)
{
    const char *what = "reading a run";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_LOGS_GET, "I",
                                        run);
    int64_t v = 0;
    int rc;
    *out = KILN_LOGS_KEPT;
    if (!s || (rc = kiln_store__int(st, &v, s, 0, err, what)) != 0)
        return KILN_ERROR;
    *out = (kiln_logs_state)v;
    return 0;
}

int kiln_store_pipeline_file(kiln_store *st, char **file,
                             const char *pipeline, kiln_err *err)
{
    const char *what = "reading pipelines";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_PIPELINE_FILE,
                                        "s", pipeline);
    int rc;
    *file = NULL;
    if (!s)
        return KILN_ERROR;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        *file = kiln_store__dup(s, 0);
    return kiln_store__end(st, s, rc, err, what);
}
