/* test-store.c: the SQLite store: records, queries, migrations. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln_test.h"
#include "engine/checkpoint.h"
#include "store/json.h"

static char dir[] = "/tmp/kiln-store.XXXXXX";
static char path[256];

static void sql(const char *text)
{
    sqlite3 *db;
    ASSERT_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    ASSERT_EQ_INT(sqlite3_exec(db, text, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int64_t make_run(kiln_store *st)
{
    const char *names[] = {"a", "b"}, *kinds[] = {"ingest", "train"};
    static const kiln_kv params[] = {{"lr", "0.1", {NULL, 0, 0}}};
    kiln_run_rec rec = {0};
    kiln_err err = KILN_ERR_INIT;
    int64_t id = 0;
    rec.pipeline = "p";
    rec.file = "/x/p.yaml";
    rec.hash = "abc";
    rec.trigger = "manual";
    rec.n_params = 1;
    rec.params = params;
    rec.git_commit = "0123456789012345678901234567890123456789";
    rec.git_branch = "main";
    rec.git_dirty = true;
    rec.n_steps = 2;
    rec.step_names = names;
    rec.step_kinds = kinds;
    ASSERT_EQ_INT(kiln_store_run_create(st, &id, &rec, &err), 0);
    return id;
}

/* The first attempt of step a of run: started at 1000, locally. */
static kiln_exec_rec exec_rec(int64_t run)
{
    kiln_exec_rec e = {0};
    e.run_id = run;
    e.step = "a";
    e.kind = "ingest";
    e.attempt = 1;
    e.log_path = "/logs/a.1.log";
    e.executor = "local";
    e.started_ms = 1000;
    return e;
}

/* Remove the database file and its WAL and shared-memory files. */
static void remove_db(void)
{
    const char *ext[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[300];
        snprintf(p, sizeof(p), "%s%s", path, ext[i]);
        unlink(p);
    }
}

static void test_records(void)
{
    kiln_store *st;
    kiln_err err = KILN_ERR_INIT;
    kiln_exec_rec e;
    int64_t run, ex;
    kiln_run_info *r;
    const kiln_attempt_info *a;
    json_t *j;
    char *log;

    ASSERT_EQ_INT(kiln_store_open(&st, path, &err), 0);
    run = make_run(st);
    ASSERT_EQ_INT(run, 1);
    ASSERT_EQ_INT(kiln_store_run_set_state(st, run, KILN_RUN_RUNNING, NULL,
                                           &err), 0);
    e = exec_rec(run);
    e.external_id = "42:7";
    ASSERT_EQ_INT(kiln_store_exec_start(st, &ex, &e, &err), 0);
    ASSERT_EQ_INT(kiln_store_step_set_state(st, run, "a", KILN_STEP_RUNNING,
                                            1, NULL, false, 1000, &err), 0);
    ASSERT_EQ_INT(kiln_store_exec_finish(st, ex, KILN_EXEC_FAILED, 3, 0,
                                         "exited with status 3", 2000,
                                         &err), 0);
    ASSERT_EQ_INT(kiln_store_step_set_state(st, run, "a", KILN_STEP_FAILED,
                                            1, "exited with status 3",
                                            false, 2000, &err), 0);
    ASSERT_EQ_INT(kiln_store_step_set_state(st, run, "b", KILN_STEP_SKIPPED,
                                            0, "upstream", true, 0, &err),
                  0);
    ASSERT_EQ_INT(kiln_store_run_set_state(st, run, KILN_RUN_FAILED, "why",
                                           &err), 0);

    /* The typed record. */
    ASSERT_EQ_INT(kiln_store_run_get(&r, st, run, &err), 0);
    ASSERT_EQ_INT(r->state, KILN_RUN_FAILED);
    ASSERT_STREQ(r->reason, "why");
    ASSERT(r->git_dirty);
    ASSERT_EQ_INT(r->n_params, 1);
    ASSERT_STREQ(r->params[0].key, "lr");
    ASSERT_STREQ(r->params[0].value, "0.1");
    ASSERT(r->finished_ms > 0);
    ASSERT_EQ_INT(r->n_steps, 2);
    ASSERT_EQ_INT(r->steps[1].state, KILN_STEP_SKIPPED);
    ASSERT(r->steps[1].by_gate);
    ASSERT(!r->steps[0].by_gate);
    ASSERT_EQ_INT(r->steps[0].started_ms, 1000);
    ASSERT_EQ_INT(r->steps[0].finished_ms, 2000);
    ASSERT(kiln_run_info_step(r, "b") == &r->steps[1]);
    ASSERT(kiln_run_info_step(r, "c") == NULL);
    a = kiln_step_info_last(&r->steps[0]);
    ASSERT_NOT_NULL(a);
    ASSERT_EQ_INT(a->exit_code, 3);
    ASSERT_EQ_INT(a->signal, 0);
    ASSERT_EQ_INT(a->state, KILN_EXEC_FAILED);
    ASSERT_STREQ(a->external_id, "42:7");
    ASSERT(kiln_step_info_last(&r->steps[1]) == NULL);
    ASSERT(!kiln_run_info_orphaned(r)); /* it ended */
    kiln_run_info_free(r);

    /* The JSON view of the same record. */
    ASSERT_EQ_INT(kiln_store_run_json(st, &j, run, &err), 0);
    ASSERT_STREQ(json_string_value(json_object_get(j, "status")), "failed");
    ASSERT(json_is_true(json_object_get(j, "git_dirty")));
    ASSERT_STREQ(json_string_value(json_object_get(json_object_get(j,
                 "params"), "lr")), "0.1");
    ASSERT(json_is_null(json_object_get(json_array_get(json_object_get(
        json_array_get(json_object_get(j, "steps"), 0), "attempts_detail"),
        0), "signal")));
    json_decref(j);

    ASSERT_EQ_INT(kiln_store_log_path(st, &log, run, "a", 0, &err), 0);
    ASSERT_STREQ(log, "/logs/a.1.log");
    free(log);
    ASSERT_EQ_INT(kiln_store_log_path(st, &log, run, "a", 2, &err),
                  KILN_ENOTFOUND);
    ASSERT_EQ_INT(kiln_store_log_path(st, &log, run, "b", 0, &err),
                  KILN_ENOTFOUND);
    ASSERT_EQ_INT(kiln_store_run_get(&r, st, 99, &err), KILN_ENOTFOUND);

    make_run(st);
    ASSERT_EQ_INT(kiln_store_runs_json(st, &j, "p", 1, &err), 0);
    ASSERT_EQ_INT(json_array_size(j), 1);
    ASSERT_EQ_INT(json_integer_value(json_object_get(json_array_get(j, 0),
                  "id")), 2);
    json_decref(j);
    ASSERT_EQ_INT(kiln_store_runs_json(st, &j, "other", 10, &err), 0);
    ASSERT_EQ_INT(json_array_size(j), 0);
    json_decref(j);
    kiln_store_close(st);
}

/* The audit trail: rows chained by hash, written inside the caller's
 * transaction (gone with its rollback), listed by filter, and an edited
 * or a deleted row found by verify. */
static void test_audit(void)
{
    kiln_store *st;
    kiln_err err = KILN_ERR_INIT;
    kiln_audit_row *rows;
    kiln_audit_query q = {0};
    size_t n;
    int64_t bad, count;
    char why[300];

    ASSERT_EQ_INT(kiln_store_open(&st, path, &err), 0);
    ASSERT_EQ_INT(kiln_store_audit(st, "ann", "cli", "run.started", "run 1",
                                   NULL, "{\"pipeline\":\"p\"}", &err), 0);
    /* Rolled back with the caller's transaction: no row. */
    ASSERT_EQ_INT(kiln_store_begin(st, &err), 0);
    ASSERT_EQ_INT(kiln_store_audit(st, "bob", "api", "run.cancelled",
                                   "run 1", NULL, NULL, &err), 0);
    kiln_store_rollback(st);
    ASSERT_EQ_INT(kiln_store_begin(st, &err), 0);
    ASSERT_EQ_INT(kiln_store_audit(st, "scheduler", "daemon", "run.started",
                                   "run 2", NULL, NULL, &err), 0);
    ASSERT_EQ_INT(kiln_store_audit(st, "bob", "api", "alias.moved",
                                   "model m production", "{\"version\":1}",
                                   "{\"version\":2}", &err), 0);
    ASSERT_EQ_INT(kiln_store_commit(st, &err), 0);
    ASSERT_EQ_INT(kiln_store_audit_list(&rows, &n, st, NULL, &err), 0);
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(rows[1].id, 2);
    ASSERT_STREQ(rows[1].actor, "scheduler");
    ASSERT_STREQ(rows[1].prev_hash, rows[0].hash);
    ASSERT_STREQ(rows[2].prev_hash, rows[1].hash);
    kiln_audit_rows_free(rows, n);
    q.actor = "bob";
    ASSERT_EQ_INT(kiln_store_audit_list(&rows, &n, st, &q, &err), 0);
    ASSERT_EQ_INT(n, 1);
    ASSERT_STREQ(rows[0].before, "{\"version\":1}");
    kiln_audit_rows_free(rows, n);
    q.actor = NULL;
    q.target = "model m ";
    q.action_prefix = "alias.";
    ASSERT_EQ_INT(kiln_store_audit_list(&rows, &n, st, &q, &err), 0);
    ASSERT_EQ_INT(n, 1);
    kiln_audit_rows_free(rows, n);
    q.target = "model ";
    q.action_prefix = "run.";
    ASSERT_EQ_INT(kiln_store_audit_list(&rows, &n, st, &q, &err), 0);
    ASSERT_EQ_INT(n, 0);
    kiln_audit_rows_free(rows, n);

    ASSERT_EQ_INT(kiln_store_audit_verify(st, &bad, why, sizeof(why), &count,
                                          &err), 0);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_EQ_INT(count, 3);
    sql("UPDATE audit SET actor = 'eve' WHERE id = 2");
    ASSERT_EQ_INT(kiln_store_audit_verify(st, &bad, why, sizeof(why), &count,
                                          &err), 0);
    ASSERT_EQ_INT(bad, 2);
    ASSERT(strstr(why, "row 2 was altered") != NULL);
    sql("UPDATE audit SET actor = 'scheduler' WHERE id = 2;"
        "DELETE FROM audit WHERE id = 1");
    ASSERT_EQ_INT(kiln_store_audit_verify(st, &bad, why, sizeof(why), &count,
                                          &err), 0);
    ASSERT_EQ_INT(bad, 1);
    ASSERT(strstr(why, "row 1 was removed") != NULL);
    sql("DELETE FROM audit");
    kiln_store_close(st);
}

/* A version 1 database is migrated, keeping its records; a newer one is
 * refused. */
static void test_migrations(void)
{
    kiln_store *st;
    kiln_err err = KILN_ERR_INIT;
    kiln_run_info *r;

    sql("ALTER TABLE runs DROP COLUMN logs_state;"
        "DROP TABLE load_errors; ALTER TABLE run_steps DROP COLUMN gate;"
        "DROP TABLE users; DROP TABLE tokens; DROP TABLE sessions;"
        "DROP TABLE audit; ALTER TABLE runs DROP COLUMN started_by;"
        "ALTER TABLE executions DROP COLUMN image;"
        "ALTER TABLE executions DROP COLUMN image_ref;"
        "DROP TABLE capture_refs; DROP INDEX metrics_by_step;"
        "DROP TABLE deploys;"
        "DROP TABLE tree_files; DROP TABLE captures; DROP TABLE model_hooks;"
        "DROP INDEX executions_by_step; DROP INDEX runs_by_reproduces;"
        "ALTER TABLE executions DROP COLUMN key_doc;"
        "ALTER TABLE runs DROP COLUMN reproduces;"
        "DROP INDEX runs_unfinished;"
        "ALTER TABLE run_steps DROP COLUMN by_gate;"
        "UPDATE run_steps SET reason = 'upstream step \"a\" was gated' "
        "WHERE run_id = 1 AND step = 'b';"
        "DROP TABLE notifications;"
        "DROP INDEX runs_by_status_id; DROP INDEX runs_by_pipeline_status;"
        "DROP TABLE trigger_checks; DROP TABLE trigger_state;"
        "DROP TABLE cache_outputs; DROP INDEX executions_by_cache_key;"
        "ALTER TABLE executions DROP COLUMN cache_key;"
        "DROP INDEX executions_by_cached_from;"
        "ALTER TABLE executions DROP COLUMN cached_from;"
        "DROP TABLE model_aliases; DROP TABLE models;"
        "DROP TABLE metrics; DROP TABLE events; DROP TABLE artifacts;"
        "DROP TABLE schedules; DROP TABLE fires;"
        "ALTER TABLE runs DROP COLUMN owner_start;"
        "DELETE FROM schema_version WHERE version >= 2");
    ASSERT_EQ_INT(kiln_store_open(&st, path, &err), 0);
    ASSERT_EQ_INT(kiln_store_run_get(&r, st, 1, &err), 0);
    ASSERT_EQ_INT(r->state, KILN_RUN_FAILED);
    /* 9 -> 10: a step skipped for a gate says so in a column. */
    ASSERT(r->steps[1].by_gate);
    kiln_run_info_free(r);
    kiln_store_close(st);
    sql("SELECT owner_start FROM runs; SELECT * FROM fires;"
        "SELECT * FROM artifacts; SELECT * FROM events;"
        "SELECT * FROM metrics;"
        "SELECT * FROM models; SELECT * FROM model_aliases;"
        "SELECT cache_key FROM executions; SELECT * FROM cache_outputs;"
        "SELECT * FROM trigger_checks; SELECT * FROM trigger_state;"
        "SELECT * FROM notifications; SELECT * FROM capture_refs;"
        "SELECT by_gate FROM run_steps;"
        "SELECT * FROM schema_version WHERE version = 10;"
        "SELECT * FROM audit; SELECT started_by FROM runs;"
        "SELECT * FROM schema_version WHERE version = 13;"
        "SELECT * FROM users; SELECT * FROM tokens; SELECT * FROM sessions;"
        "SELECT * FROM schema_version WHERE version = 14;"
        "SELECT gate FROM run_steps;"
        "SELECT * FROM schema_version WHERE version = 15;"
        "SELECT * FROM load_errors;"
        "SELECT * FROM schema_version WHERE version = 16;"
        "SELECT logs_state FROM runs;"
        "SELECT * FROM schema_version WHERE version = 17;"
        "SELECT * FROM models INDEXED BY models_by_artifact;"
        "SELECT * FROM audit INDEXED BY audit_by_target;"
        "SELECT * FROM schema_version WHERE version = 18;"
        "SELECT * FROM executions INDEXED BY executions_by_cached_from "
        "WHERE cached_from = 1;"
        "SELECT * FROM schema_version WHERE version = 19;"
        "SELECT * FROM schema_version WHERE version = 20;"
        "SELECT * FROM metrics INDEXED BY metrics_by_step WHERE run_id = 1;"
        "SELECT * FROM schema_version WHERE version = 21;"
        "SELECT * FROM deploys INDEXED BY deploys_open WHERE outcome IS NULL;"
        "SELECT * FROM schema_version WHERE version = 22;"
        "SELECT timeout_ms FROM model_hooks; SELECT deadline FROM deploys;"
        "SELECT * FROM schema_version WHERE version = 23;"
        "SELECT body, timeout_ms, owner FROM notifications INDEXED BY "
        "notifications_pending WHERE status = 'pending';"
        "SELECT * FROM schema_version WHERE version = 24;"
        "SELECT check_id FROM notifications INDEXED BY "
        "notifications_by_check WHERE check_id = 1;"
        "SELECT * FROM schema_version WHERE version = 25;"
        "SELECT fire FROM trigger_checks INDEXED BY trigger_checks_queued "
        "WHERE status = 'queued';"
        "SELECT * FROM schema_version WHERE version = 26");

    sql("INSERT INTO schema_version VALUES (99, 0)");
    ASSERT_EQ_INT(kiln_store_open(&st, path, &err), KILN_ERROR);
    ASSERT(strstr(err.msg, "newer than this kiln") != NULL);
}

static int count(const char *query)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    int n;
    ASSERT_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    ASSERT_EQ_INT(sqlite3_prepare_v2(db, query, -1, &q, NULL), SQLITE_OK);
    ASSERT_EQ_INT(sqlite3_step(q), SQLITE_ROW);
    n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

/* An execution's key names its environment captures in capture_refs,
 * when it is recorded and, for the executions of an older database, by
 * the migration (19 -> 20). */
static void test_capture_refs(void)
{
    kiln_store *st;
    kiln_err err = KILN_ERR_INIT;
    kiln_exec_rec e;
    int64_t ex;

    remove_db();
    ASSERT_EQ_INT(kiln_store_open(&st, path, &err), 0);
    e = exec_rec(make_run(st));
    e.key_doc = "{\"environment\":{\"cmd:uname\":\"bbb\","
                "\"file:uv.lock\":\"aaa\"},\"kiln\":3}";
    ASSERT_EQ_INT(kiln_store_exec_start(st, &ex, &e, &err), 0);
    e.attempt = 2;
    e.key_doc = "{\"environment\":{},\"kiln\":3}";
    ASSERT_EQ_INT(kiln_store_exec_start(st, &ex, &e, &err), 0);
    kiln_store_close(st);
    ASSERT_EQ_INT(count("SELECT count(*) FROM capture_refs"), 2);
    ASSERT_EQ_INT(count("SELECT count(*) FROM capture_refs WHERE "
                        "sha256 = 'aaa' AND execution_id = 1"), 1);
    sql("DROP TABLE capture_refs; DROP INDEX metrics_by_step;"
        "DROP TABLE deploys; ALTER TABLE model_hooks DROP COLUMN timeout_ms;"
        "DROP INDEX notifications_pending; DROP INDEX notifications_by_check;"
        "ALTER TABLE notifications DROP COLUMN check_id;"
        "ALTER TABLE notifications DROP COLUMN body;"
        "ALTER TABLE notifications DROP COLUMN timeout_ms;"
        "ALTER TABLE notifications DROP COLUMN owner;"
        "DROP INDEX trigger_checks_queued;"
        "ALTER TABLE trigger_checks DROP COLUMN fire;"
        "DELETE FROM schema_version WHERE version >= 20");
    ASSERT_EQ_INT(kiln_store_open(&st, path, &err), 0);
    kiln_store_close(st);
    ASSERT_EQ_INT(count("SELECT count(*) FROM capture_refs"), 2);
    ASSERT_EQ_INT(count("SELECT count(*) FROM capture_refs WHERE "
                        "sha256 = 'bbb' AND execution_id = 1"), 1);
}

static int wal_max;      /* the most frames a commit reported */

static void on_wal(void *data, int frames)
{
    (void)data;
    if (frames > wal_max)
        wal_max = frames;
}

/* n commits of one trigger check each. */
static void commits(kiln_store *st, int n)
{
    kiln_err err = KILN_ERR_INIT;
    for (int i = 0; i < n; i++)
        ASSERT_EQ_INT(kiln_store_check_record(st, NULL, "p", "data", "d",
                                              KILN_CHECK_QUIET, "same",
                                              NULL, 0, &err), 0);
}

/* With a WAL hook, commits report the WAL's frames and SQLite never
 * checkpoints in them (the WAL passes its 1,000 frames); a checkpoint
 * over another connection lets the next commit start the WAL over. On a
 * loop, a checkpointer does that on the thread pool: the WAL never grows
 * much past 1,000 frames however many bursts of commits. */
static void test_checkpoints(void)
{
    kiln_store *st;
    kiln_err err = KILN_ERR_INIT;
    kiln_checkpointer *c;
    uv_loop_t loop;
    int frames, copied;

    remove_db();
    ASSERT_EQ_INT(kiln_store_open(&st, path, &err), 0);
    kiln_store_on_wal(st, on_wal, NULL);
    commits(st, 1500);
    ASSERT_LE_INT(1500, wal_max); /* no checkpoint in a commit */
    ASSERT_EQ_INT(kiln_store_checkpoint(path, &frames, &copied, &err), 0);
    ASSERT_LE_INT(1500, frames);
    ASSERT_EQ_INT(copied, frames);
    wal_max = 0;
    commits(st, 1);
    ASSERT(wal_max > 0 && wal_max < 10); /* started over */
    kiln_store_on_wal(st, NULL, NULL);

    ASSERT_EQ_INT(uv_loop_init(&loop), 0);
    c = kiln_checkpointer_new(&loop, st);
    /* Bursts of commits, the loop idle in between (a checkpoint in
     * flight comes back: uv_run returns once nothing is left). */
    for (int round = 0; round < 20; round++) {
        commits(st, 300);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    kiln_checkpointer_free(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
    kiln_store_on_wal(st, on_wal, NULL);
    wal_max = 0;
    commits(st, 1);
    /* 6,000 commits, at least 2 frames each: without checkpoints the
     * WAL would hold over 12,000 frames; with them, what came after the
     * last start over. */
    ASSERT(wal_max > 0 && wal_max < 2 * KILN_CHECKPOINT_FRAMES);
    kiln_store_close(st);
    ASSERT_EQ_INT(count("SELECT count(*) FROM trigger_checks"), 7502);
}

/* A deploy's record: open until settled, once; a settled one's pid is
 * not recorded any more (its command must not start). */
static void test_deploys(void)
{
    kiln_store *st;
    kiln_err err = KILN_ERR_INIT;
    kiln_deploy d = {0}, got, *open;
    int64_t id, id2;
    size_t n;
    bool ok;

    ASSERT_EQ_INT(kiln_store_open(&st, path, &err), 0);
    d.model = "m";
    d.alias = "production";
    d.version = 3;
    d.actor = "ann";
    d.via = "cli";
    d.execution_id = 7;
    d.started_ms = 1000;
    d.deadline_ms = 61000;
    ASSERT_EQ_INT(kiln_store_deploy_add(st, &id, &d, &err), 0);
    d.alias = "staging";
    d.rollback = true;
    d.execution_id = 0;
    ASSERT_EQ_INT(kiln_store_deploy_add(st, &id2, &d, &err), 0);
    ASSERT_EQ_INT(kiln_store_deploy_started(st, &ok, id, 4242, 99, &err), 0);
    ASSERT(ok);
    ASSERT_EQ_INT(kiln_store_deploys_open(&open, &n, st, "m", &err), 0);
    ASSERT_EQ_INT((int)n, 2);
    ASSERT_EQ_INT((int)open[0].id, (int)id);
    ASSERT_STREQ(open[0].alias, "production");
    ASSERT_EQ_INT(open[0].pid, 4242);
    ASSERT(open[0].pid_start == 99 && !open[0].rollback && !open[0].outcome);
    ASSERT(open[0].started_ms == 1000 && open[0].deadline_ms == 61000);
    ASSERT(open[1].rollback && open[1].pid == 0);
    kiln_deploys_free(open, n);
    ASSERT_EQ_INT(kiln_store_deploys_open(&open, &n, st, "other", &err), 0);
    ASSERT_EQ_INT((int)n, 0);
    kiln_deploys_free(open, n);
    /* Settled once: a second settle changes nothing. */
    ASSERT_EQ_INT(kiln_store_deploy_settle(st, &ok, id, "moved",
                                           "exit status 0", &err), 0);
    ASSERT(ok);
    ASSERT_EQ_INT(kiln_store_deploy_settle(st, &ok, id, "lost", "x", &err), 0);
    ASSERT(!ok);
    ASSERT_EQ_INT(kiln_store_deploy_settle(st, &ok, id2, "failed",
                                           "never started", &err), 0);
    ASSERT_EQ_INT(kiln_store_deploy_started(st, &ok, id2, 1, 1, &err), 0);
    ASSERT(!ok);
    ASSERT_EQ_INT(kiln_store_deploy_of_execution(st, &got, 7, &err), 0);
    ASSERT_EQ_INT((int)got.id, (int)id);
    ASSERT_STREQ(got.outcome, "moved");
    ASSERT_STREQ(got.detail, "exit status 0");
    ASSERT(got.ended_ms > 0);
    kiln_deploy_dispose(&got);
    ASSERT_EQ_INT(kiln_store_deploy_of_execution(st, &got, 8, &err), 0);
    ASSERT_EQ_INT((int)got.id, 0);
    ASSERT_EQ_INT(kiln_store_deploys_open(&open, &n, st, NULL, &err), 0);
    ASSERT_EQ_INT((int)n, 0);
    kiln_deploys_free(open, n);
    kiln_store_close(st);
}

/* A notification's row: pending (with its body and owner) until it
 * ends, once; taken over only from the owner it had; released to nobody;
 * not in the pending list once ended, and its body gone. */
static void test_notifications(void)
{
    kiln_store *st;
    kiln_err err = KILN_ERR_INIT;
    kiln_notification row = {0}, *pend;
    int64_t id, id2;
    size_t n;
    bool ok;

    ASSERT_EQ_INT(kiln_store_open(&st, path, &err), 0);
    row.pipeline = "p";
    row.run_id = 4;
    row.event = "failure";
    row.url = "http://127.0.0.1:9/hook";
    row.body = "{\"status\":\"failed\"}";
    row.timeout_ms = 5000;
    row.owner = "100:7";
    row.created_ms = 1234;
    ASSERT_EQ_INT(kiln_store_notification_add(st, &id, &row, &err), 0);
    row.run_id = 0;
    row.event = "drift";
    row.check_id = 9; /* the trigger check it tells of */
    ASSERT_EQ_INT(kiln_store_notification_add(st, &id2, &row, &err), 0);
    ASSERT(id > 0 && id2 > id);
    ASSERT_EQ_INT(count("SELECT count(*) FROM notifications WHERE "
                        "check_id = 9 AND event = 'drift'"), 1);
    ASSERT_EQ_INT(count("SELECT count(*) FROM notifications WHERE "
                        "check_id IS NULL"), 1);
    ASSERT_EQ_INT(kiln_store_notification_attempt(st, id, 2, &err), 0);
    ASSERT_EQ_INT(kiln_store_notifications_pending(&pend, &n, st, &err), 0);
    ASSERT_EQ_INT((int)n, 2);
    ASSERT_EQ_INT((int)pend[0].id, (int)id);
    ASSERT_EQ_INT(pend[0].attempts, 2);
    ASSERT(pend[0].run_id == 4 && pend[1].run_id == 0);
    ASSERT(pend[0].timeout_ms == 5000 && pend[0].created_ms == 1234);
    ASSERT_STREQ(pend[0].body, "{\"status\":\"failed\"}");
    ASSERT_STREQ(pend[0].owner, "100:7");
    ASSERT_STREQ(pend[1].event, "drift");
    kiln_notifications_free(pend, n);
    /* Taken over from the owner it has, and only once. */
    ASSERT_EQ_INT(kiln_store_notification_claim(st, &ok, id, "100:8", "200:1",
                                                &err), 0);
    ASSERT(!ok);
    ASSERT_EQ_INT(kiln_store_notification_claim(st, &ok, id, "100:7", "200:1",
                                                &err), 0);
    ASSERT(ok);
    ASSERT_EQ_INT(kiln_store_notification_claim(st, &ok, id, "100:7", "300:1",
                                                &err), 0);
    ASSERT(!ok);
    /* Released: nobody's, and anyone's to take. */
    ASSERT_EQ_INT(kiln_store_notification_release(st, id2, &err), 0);
    ASSERT_EQ_INT(kiln_store_notification_claim(st, &ok, id2, NULL, "200:1",
                                                &err), 0);
    ASSERT(ok);
    /* Ended once. */
    ASSERT_EQ_INT(kiln_store_notification_end(st, &ok, id, false, 3, 500,
                                              "HTTP 500", &err), 0);
    ASSERT(ok);
    ASSERT_EQ_INT(kiln_store_notification_end(st, &ok, id, true, 4, 200,
                                              NULL, &err), 0);
    ASSERT(!ok);
    ASSERT_EQ_INT(kiln_store_notification_claim(st, &ok, id, NULL, "200:1",
                                                &err), 0);
    ASSERT(!ok);
    ASSERT_EQ_INT(kiln_store_notifications_pending(&pend, &n, st, &err), 0);
    ASSERT_EQ_INT((int)n, 1);
    ASSERT_EQ_INT((int)pend[0].id, (int)id2);
    kiln_notifications_free(pend, n);
    kiln_store_close(st);
    ASSERT_EQ_INT(count("SELECT count(*) FROM notifications WHERE id = 1 AND "
                        "status = 'failed' AND attempts = 3 AND "
                        "http_status = 500 AND error = 'HTTP 500' AND "
                        "body IS NULL AND owner IS NULL AND "
                        "finished_at > 0"), 1);
}

int main(void)
{
    ASSERT_NOT_NULL(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/kiln.db", dir);
    RUN_TEST(test_records);
    RUN_TEST(test_audit);
    RUN_TEST(test_deploys);
    RUN_TEST(test_notifications);
    RUN_TEST(test_migrations);
    RUN_TEST(test_capture_refs);
    RUN_TEST(test_checkpoints);
    remove_db();
    rmdir(dir);
    return 0;
}
