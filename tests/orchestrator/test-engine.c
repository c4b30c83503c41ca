/*
 * test-engine.c: the engine's state machine (order, --jobs, retries,
 * timeouts, gates, failure, cancel, resume) against a fake executor, on a
 * private loop that must close cleanly after every test (libuv's
 * MAKE_VALGRIND_HAPPY: every handle closed, uv_loop_close() == 0).
 *
 * The fake reads what each attempt does from the step's run: text, one
 * word per attempt (the last one repeats):
 *
 *   N      exit with status N, at the next turn of the loop
 *   N@MS   ...after MS milliseconds
 *   sigN   die of signal N
 *   never  run until cancelled, or until the test ends it (fake_finish)
 *
 * and words KEY=VALUE are metrics it writes to $KILN_METRICS. Completion
 * always comes from a timer on the loop, never from inside start() or
 * cancel(), as a real executor's would.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln_test.h"
#include "engine/engine.h"
#include "executors/internal.h"

static char root[] = "/tmp/kiln-test-engine.XXXXXX";

/* The fake executor. */

typedef enum fake_end {
    END_EXIT = 0,
    END_SIGNAL,
    END_NEVER
} fake_end;

typedef struct fake_plan {
    fake_end end;
    int value;              /* exit status or signal */
    uint64_t after_ms;
} fake_plan;

typedef struct fake fake;

/* One task the fake was given (started or attached), kept until the
 * fake is freed so a test can look at the history. */
typedef struct fake_task {
    fake *f;
    kiln_task *task;        /* while running */
    uv_timer_t timer;       /* the task's end */
    char step[64];
    int attempt;
    bool attached;          /* found again, not started */
    bool running;
    int cancels;            /* kiln_executor_cancel() calls */
    int cancel_signal;      /* 0: not cancelled */
    fake_plan plan;
    uint64_t started, ended; /* uv_now() */
} fake_task;

/* A task an earlier kiln started, for attach() to find. */
typedef struct fake_known {
    const char *id;
    const char *step;
    fake_plan plan;
} fake_known;

struct fake {
    kiln_executor base;     /* first */
    fake_task **tasks;      /* in the order they came */
    size_t n_tasks;
    unsigned running, max_running;
    size_t n_known;
    fake_known known[4];
    int closing;            /* timers still closing after free() */
};

static const char *env_get(char *const *env, const char *key)
{
    size_t n = strlen(key);
    for (; env && *env; env++)
        if (strncmp(*env, key, n) == 0 && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

static fake_plan plan_word(const char *w)
{
    fake_plan p = {END_EXIT, 0, 0};
    const char *at;
    if (strcmp(w, "never") == 0) {
        p.end = END_NEVER;
        return p;
    }
    if (strncmp(w, "sig", 3) == 0) {
        p.end = END_SIGNAL;
        p.value = atoi(w + 3);
        return p;
    }
    p.value = atoi(w);
    if ((at = strchr(w, '@')) != NULL)
        p.after_ms = strtoull(at + 1, NULL, 10);
    return p;
}

/* What the step's command says attempt does; its metrics go to
 * metrics_path as JSON. */
static fake_plan plan_of(char *const *argv, int attempt,
                         const char *metrics_path)
{
    char text[512], *save = NULL, *w;
    fake_plan plan = {END_EXIT, 0, 0};
    kiln_buf json = KILN_BUF_INIT;
    int n = 0;

    /* Direct (argv) or through the shell (sh -c TEXT): join the words. */
    text[0] = '\0';
    if (argv[0] && strcmp(argv[0], "/bin/sh") == 0 && argv[1] &&
        strcmp(argv[1], "-c") == 0)
        snprintf(text, sizeof(text), "%s", argv[2]);
    else
        for (size_t i = 0; argv[i]; i++)
            snprintf(text + strlen(text), sizeof(text) - strlen(text),
                     "%s%s", i ? " " : "", argv[i]);
    for (w = strtok_r(text, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(w, '=');
        if (eq) {
            *eq = '\0';
            kiln_buf_printf(&json, "%s\"%s\": %s", json.len ? ", " : "{",
                            w, eq + 1);
        } else if (++n <= attempt) {
            plan = plan_word(w);
        }
    }
    if (json.len && metrics_path) {
        FILE *f = fopen(metrics_path, "w");
        ASSERT_NOT_NULL(f);
        fprintf(f, "%s}\n", kiln_buf_cstr(&json));
        fclose(f);
    }
    kiln_buf_dispose(&json);
    return plan;
}

static void fake_end_task(fake_task *ft)
{
    fake *f = ft->f;
    kiln_task *task = ft->task;

    ASSERT(ft->running);
    ft->running = false;
    ft->task = NULL;
    ft->ended = uv_now(f->base.loop);
    f->running--;
    task->priv = NULL;
    if (ft->cancel_signal) {
        task->outcome = KILN_TASK_CANCELED;
        task->term_signal = ft->cancel_signal;
        snprintf(task->reason, sizeof(task->reason), "%s",
                 strsignal(ft->cancel_signal));
    } else if (ft->plan.end == END_SIGNAL) {
        task->outcome = KILN_TASK_SIGNALED;
        task->term_signal = ft->plan.value;
        snprintf(task->reason, sizeof(task->reason),
                 "killed by signal %d (%s)", ft->plan.value,
                 strsignal(ft->plan.value));
    } else {
        task->outcome = KILN_TASK_EXITED;
        task->exit_code = ft->plan.value;
        if (ft->plan.value != 0)
            snprintf(task->reason, sizeof(task->reason),
                     "exited with status %d", ft->plan.value);
    }
    kiln_executor__done(&f->base, task); /* may start the next attempt */
}

static void on_fake_timer(uv_timer_t *timer)
{
    fake_end_task(timer->data);
}

/* A new task, running; it ends as plan says. */
static fake_task *fake_add(fake *f, kiln_task *task, const char *step,
                           int attempt, fake_plan plan)
{
    fake_task *ft = kiln_calloc(1, sizeof(*ft));
    ft->f = f;
    ft->task = task;
    snprintf(ft->step, sizeof(ft->step), "%s", step ? step : "?");
    ft->attempt = attempt;
    ft->plan = plan;
    ft->running = true;
    ft->started = uv_now(f->base.loop);
    uv_timer_init(f->base.loop, &ft->timer);
    ft->timer.data = ft;
    if (plan.end != END_NEVER)
        uv_timer_start(&ft->timer, on_fake_timer, plan.after_ms, 0);
    f->tasks = kiln_realloc(f->tasks, (f->n_tasks + 1) * sizeof(*f->tasks));
    f->tasks[f->n_tasks++] = ft;
    if (++f->running > f->max_running)
        f->max_running = f->running;
    snprintf(task->external_id, sizeof(task->external_id), "fake-%zu",
             f->n_tasks);
    task->started_ms = kiln_now_ms();
    task->priv = ft;
    return ft;
}

static int fake_start(kiln_executor *ex, kiln_task *task, kiln_err *err)
{
    fake *f = (fake *)ex;
    const char *step = env_get(task->env, "KILN_STEP");
    const char *attempt = env_get(task->env, "KILN_ATTEMPT");
    int n = attempt ? atoi(attempt) : 0;
    (void)err;
    ASSERT_NOT_NULL(step);
    ASSERT(n >= 1);
    fake_add(f, task, step, n,
             plan_of(task->argv, n, env_get(task->env, "KILN_METRICS")));
    return 0;
}

static int fake_attach(kiln_executor *ex, kiln_task *task,
                       const char *external_id, kiln_err *err)
{
    fake *f = (fake *)ex;
    fake_task *ft;
    if (!external_id)
        return kiln_err_set(err, KILN_ENOTFOUND, "no id and no status "
                            "file");
    for (size_t i = 0; i < f->n_known; i++) {
        if (strcmp(f->known[i].id, external_id) == 0) {
            ft = fake_add(f, task, f->known[i].step, 0, f->known[i].plan);
            ft->attached = true;
            snprintf(task->external_id, sizeof(task->external_id), "%s",
                     external_id);
            return 0;
        }
    }
    return kiln_err_set(err, KILN_ENOTFOUND, "no task %s", external_id);
}

static void fake_cancel(kiln_executor *ex, kiln_task *task, bool force)
{
    fake_task *ft = task->priv;
    (void)ex;
    ASSERT_NOT_NULL(ft);
    ASSERT(ft->running);
    ft->cancels++;
    ft->cancel_signal = force ? SIGKILL : SIGTERM;
    uv_timer_start(&ft->timer, on_fake_timer, 0, 0);
}

static void on_fake_close(uv_handle_t *h)
{
    fake_task *ft = h->data;
    fake *f = ft->f;
    free(ft);
    if (--f->closing == 0) {
        free(f->tasks);
        free(f);
    }
}

static void fake_free(kiln_executor *ex)
{
    fake *f = (fake *)ex;
    ASSERT_EQ_INT(f->running, 0);
    if (f->n_tasks == 0) {
        free(f->tasks);
        free(f);
        return;
    }
    f->closing = (int)f->n_tasks;
    for (size_t i = 0; i < f->n_tasks; i++)
        uv_close((uv_handle_t *)&f->tasks[i]->timer, on_fake_close);
}

static const struct kiln_executor_ops fake_ops = {
    .name = "fake",
    .start = fake_start,
    .attach = fake_attach,
    .cancel = fake_cancel,
    .free = fake_free,
};

/* End a running `never` task of step with exit status code, at the next
 * turn of the loop. */
static void fake_finish(fake *f, const char *step, int code)
{
    for (size_t i = 0; i < f->n_tasks; i++) {
        fake_task *ft = f->tasks[i];
        if (ft->running && strcmp(ft->step, step) == 0) {
            ft->plan.end = END_EXIT;
            ft->plan.value = code;
            uv_timer_start(&ft->timer, on_fake_timer, 0, 0);
            return;
        }
    }
    KILN_TEST_FAIL_("no running task of step %s", step);
}

/* The n-th task (0-based) the fake got for step, or NULL. */
static fake_task *fake_nth(fake *f, const char *step, int n)
{
    for (size_t i = 0; i < f->n_tasks; i++)
        if (strcmp(f->tasks[i]->step, step) == 0 && n-- == 0)
            return f->tasks[i];
    return NULL;
}

static int fake_count(fake *f, const char *step)
{
    int n = 0;
    while (fake_nth(f, step, n))
        n++;
    return n;
}

/* The place of step's first task among all the fake got, or -1. */
static int fake_order(fake *f, const char *step)
{
    for (size_t i = 0; i < f->n_tasks; i++)
        if (strcmp(f->tasks[i]->step, step) == 0)
            return (int)i;
    return -1;
}

/* A test: a loop, a store and an engine in a directory of their own. */

typedef struct harness {
    uv_loop_t loop;
    char *dir;
    char *file;             /* the pipeline's (not written) */
    kiln_store *store;
    kiln_engine *eng;
    fake *f;
    kiln_pipeline *p;
    kiln_run *run;
    int done;               /* on_done calls */
    uv_timer_t poke;        /* does what a test asks at a later turn */
    const char *cancel_step; /* cancel the run once this step... */
    kiln_step_state cancel_state; /* ...is in this state */
    int cancels;
} harness;

static void on_run_done(kiln_run *run, void *data)
{
    harness *h = data;
    ASSERT(run == h->run || h->run == NULL);
    ASSERT(kiln_run_state_final(kiln_run_state_get(run)));
    h->done++;
}

static void on_poke(uv_timer_t *timer)
{
    harness *h = timer->data;
    h->cancels++;
    /* A second cancel (Ctrl-C twice) forces what the first asked. */
    kiln_run_cancel(h->run, false);
    kiln_run_cancel(h->run, true);
}

static void on_run_event(kiln_run *run, ssize_t step, void *data)
{
    harness *h = data;
    const kiln_pipeline *p = kiln_run_pipeline(run);
    if (step < 0 || !h->cancel_step || h->cancels ||
        strcmp(p->steps[step].name, h->cancel_step) != 0 ||
        kiln_run_step_state(run, (size_t)step) != h->cancel_state)
        return;
    /* Not from inside the engine's call: at the next turn. */
    uv_timer_start(&h->poke, on_poke, 0, 0);
}

static void setup(harness *h, const char *name, const char *yaml,
                  unsigned jobs)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_diag diag = KILN_DIAG_INIT;
    char *db;

    memset(h, 0, sizeof(*h));
    h->dir = kiln_path_join(root, name);
    ASSERT_EQ_INT(kiln_mkdir_p(h->dir, &err), 0);
    h->file = kiln_path_join(h->dir, "pipeline.yaml");
    if (kiln_dsl_load_buffer(&h->p, h->file, h->dir, yaml, strlen(yaml),
                             &diag) != 0)
        kiln_diag_print(&diag);
    ASSERT_EQ_INT(diag.n, 0);
    ASSERT_NOT_NULL(h->p);
    kiln_diag_dispose(&diag);

    ASSERT_EQ_INT(uv_loop_init(&h->loop), 0);
    uv_timer_init(&h->loop, &h->poke);
    h->poke.data = h;
    db = kiln_path_join(h->dir, "kiln.db");
    ASSERT_EQ_INT(kiln_store_open(&h->store, db, &err), 0);
    free(db);
    /* Not the machine's CPUs: what may run at once is the test's. */
    h->eng = kiln_engine_new(&h->loop, h->store, h->dir, jobs ? jobs : 8);
    h->f = kiln_calloc(1, sizeof(*h->f));
    h->f->base.ops = &fake_ops;
    kiln_engine_add_executor(h->eng, &h->f->base);
    ASSERT(h->f->base.loop == &h->loop);
}

static void options(harness *h, kiln_run_options *o)
{
    memset(o, 0, sizeof(*o));
    o->pipeline = h->p;
    o->file = h->file;
    o->hash = "0000";
    o->on_event = on_run_event;
    o->on_done = on_run_done;
    o->data = h;
}

static void start(harness *h)
{
    kiln_run_options o;
    kiln_err err = KILN_ERR_INIT;
    options(h, &o);
    ASSERT_EQ_INT(kiln_run_start(&h->run, h->eng, &o, &err), 0);
    ASSERT_NOT_NULL(h->run);
}

/* Run the loop until nothing is left to do: the run must have ended. */
static void finish(harness *h)
{
    uv_run(&h->loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(h->done, 1);
    ASSERT_EQ_INT(h->f->running, 0);
    ASSERT_EQ_INT(h->f->base.active, 0);
}

/* Free everything; the loop must close with nothing left on it. */
static void teardown(harness *h)
{
    char cmd[300];
    kiln_run_free(h->run);
    kiln_engine_free(h->eng); /* and the fake */
    uv_close((uv_handle_t *)&h->poke, NULL);
    ASSERT_EQ_INT(uv_run(&h->loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ_INT(uv_loop_close(&h->loop), 0);
    kiln_pipeline_free(h->p);
    kiln_store_close(h->store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
    ASSERT_EQ_INT(system(cmd), 0);
    free(h->dir);
    free(h->file);
}

static kiln_run_info *record(harness *h)
{
    kiln_run_info *r = NULL;
    kiln_err err = KILN_ERR_INIT;
    ASSERT_EQ_INT(kiln_store_run_get(&r, h->store, kiln_run_id(h->run),
                                     &err), 0);
    return r;
}

static const kiln_step_info *step_rec(const kiln_run_info *r,
                                      const char *name)
{
    const kiln_step_info *si = kiln_run_info_step(r, name);
    ASSERT_NOT_NULL(si);
    return si;
}

static size_t idx(harness *h, const char *name)
{
    ssize_t i = kiln_pipeline_find_step(h->p, name);
    ASSERT(i >= 0);
    return (size_t)i;
}

/* The step's state, as the run and its record both say. */
#define ASSERT_STEP(h, r, name, want)                                \
    do {                                                             \
        ASSERT_EQ_INT(kiln_run_step_state((h)->run, idx(h, name)),   \
                      want);                                         \
        ASSERT_EQ_INT(step_rec(r, name)->state, want);               \
    } while (0)

/* Tests. */

/* A chain runs in order, each step after the one it needs ended; the
 * first step's end is given on demand. */
static void test_chain(void)
{
    harness h;
    kiln_run_info *r;
    const kiln_step_info *si;

    setup(&h, "chain", "pipeline: chain\n"
          "defaults: {executor: fake}\n"
          "steps:\n"
          "  c: {needs: [b], run: '0'}\n"
          "  b: {needs: [a], run: '0'}\n"
          "  a: {run: never}\n", 0);
    start(&h);
    /* Nothing is left but a's task, which never ends by itself. */
    uv_run(&h.loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(h.done, 0);
    ASSERT_EQ_INT(h.f->n_tasks, 1);
    ASSERT_EQ_INT(kiln_run_state_get(h.run), KILN_RUN_RUNNING);
    ASSERT_EQ_INT(kiln_run_step_state(h.run, idx(&h, "a")),
                  KILN_STEP_RUNNING);
    ASSERT_EQ_INT(kiln_run_step_state(h.run, idx(&h, "b")),
                  KILN_STEP_PENDING);
    r = record(&h);
    ASSERT_EQ_INT(r->state, KILN_RUN_RUNNING);
    si = step_rec(r, "a");
    ASSERT_EQ_INT(si->state, KILN_STEP_RUNNING);
    ASSERT_EQ_INT(si->n_attempts, 1);
    ASSERT_EQ_INT(si->attempt[0].state, KILN_EXEC_RUNNING);
    ASSERT_STREQ(si->attempt[0].executor, "fake");
    ASSERT_STREQ(si->attempt[0].external_id, "fake-1");
    ASSERT_EQ_INT(step_rec(r, "b")->state, KILN_STEP_PENDING);
    kiln_run_info_free(r);

    fake_finish(h.f, "a", 0);
    finish(&h);
    ASSERT_EQ_INT(kiln_run_state_get(h.run), KILN_RUN_SUCCEEDED);
    ASSERT_EQ_INT(fake_order(h.f, "a"), 0);
    ASSERT_EQ_INT(fake_order(h.f, "b"), 1);
    ASSERT_EQ_INT(fake_order(h.f, "c"), 2);
    ASSERT_EQ_INT(h.f->max_running, 1);
    ASSERT_LE_INT(fake_nth(h.f, "a", 0)->ended,
                  fake_nth(h.f, "b", 0)->started);
    ASSERT_LE_INT(fake_nth(h.f, "b", 0)->ended,
                  fake_nth(h.f, "c", 0)->started);
    r = record(&h);
    ASSERT_EQ_INT(r->state, KILN_RUN_SUCCEEDED);
    ASSERT_NULL(r->reason);
    for (size_t i = 0; i < r->n_steps; i++) {
        si = &r->steps[i];
        ASSERT_EQ_INT(si->state, KILN_STEP_SUCCEEDED);
        ASSERT_EQ_INT(si->attempts, 1);
        ASSERT_EQ_INT(si->n_attempts, 1);
        ASSERT_EQ_INT(si->attempt[0].state, KILN_EXEC_SUCCEEDED);
        ASSERT_EQ_INT(si->attempt[0].exit_code, 0);
        ASSERT_EQ_INT(kiln_run_step_attempt(h.run, idx(&h, si->name)), 1);
        ASSERT_LE_INT(kiln_run_step_started(h.run, idx(&h, si->name)),
                      kiln_run_step_finished(h.run, idx(&h, si->name)));
    }
    /* The record lists steps in topological order. */
    ASSERT_STREQ(r->steps[0].name, "a");
    ASSERT_STREQ(r->steps[2].name, "c");
    ASSERT_LE_INT(step_rec(r, "a")->finished_ms,
                  step_rec(r, "b")->started_ms);
    kiln_run_info_free(r);
    teardown(&h);
}

/* A fan-out and its join: --jobs 2 lets the fake see two tasks at once,
 * never more, and the join starts after every branch ended. */
static void test_fan_out(void)
{
    static const char *const branch[] = {"w1", "w2", "w3", "w4", "w5"};
    harness h;
    kiln_run_info *r;
    fake_task *join;

    setup(&h, "fan", "pipeline: fan\n"
          "defaults: {executor: fake}\n"
          "steps:\n"
          "  root: {run: '0'}\n"
          "  w1: {needs: [root], run: '0@3'}\n"
          "  w2: {needs: [root], run: '0@1'}\n"
          "  w3: {needs: [root], run: '0@2'}\n"
          "  w4: {needs: [root], run: '0'}\n"
          "  w5: {needs: [root], run: '0@1'}\n"
          "  join: {needs: [w1, w2, w3, w4, w5], run: '0'}\n", 2);
    ASSERT_EQ_INT(kiln_engine_jobs(h.eng), 2);
    start(&h);
    finish(&h);
    ASSERT_EQ_INT(kiln_run_state_get(h.run), KILN_RUN_SUCCEEDED);
    ASSERT_EQ_INT(h.f->n_tasks, 7);
    ASSERT_EQ_INT(h.f->max_running, 2);
    ASSERT_EQ_INT(fake_order(h.f, "root"), 0);
    ASSERT_EQ_INT(fake_order(h.f, "join"), 6);
    join = fake_nth(h.f, "join", 0);
    for (size_t i = 0; i < KILN_ARRAY_SIZE(branch); i++) {
        fake_task *w = fake_nth(h.f, branch[i], 0);
        ASSERT_NOT_NULL(w);
        ASSERT_EQ_INT(fake_count(h.f, branch[i]), 1);
        ASSERT_LE_INT(fake_nth(h.f, "root", 0)->ended, w->started);
        ASSERT_LE_INT(w->ended, join->started);
    }
    /* Ready steps start in file order as slots free up. */
    ASSERT_EQ_INT(fake_order(h.f, "w1"), 1);
    ASSERT_EQ_INT(fake_order(h.f, "w2"), 2);
    r = record(&h);
    ASSERT_EQ_INT(r->state, KILN_RUN_SUCCEEDED);
    for (size_t i = 0; i < r->n_steps; i++)
        ASSERT_EQ_INT(r->steps[i].state, KILN_STEP_SUCCEEDED);
    kiln_run_info_free(r);
    teardown(&h);
}

/* retries: 2 with retry_delay: 10ms, failing twice then passing: three
 * attempts, 10 then 20 ms apart; a step out of retries fails. */
static void test_retries(void)
{
    harness h;
    kiln_run_info *r;
    const kiln_step_info *si;
    fake_task *t1, *t2, *t3;

    setup(&h, "retries", "pipeline: retries\n"
          "defaults: {executor: fake}\n"
          "steps:\n"
          "  flaky: {run: '1 1 0', retries: 2, retry_delay: 10ms}\n"
          "  next: {needs: [flaky], run: '0'}\n"
          "  broken: {run: '2', retries: 1, retry_delay: 1ms}\n", 0);
    start(&h);
    finish(&h);

    ASSERT_EQ_INT(fake_count(h.f, "flaky"), 3);
    t1 = fake_nth(h.f, "flaky", 0);
    t2 = fake_nth(h.f, "flaky", 1);
    t3 = fake_nth(h.f, "flaky", 2);
    ASSERT_EQ_INT(t1->attempt, 1);
    ASSERT_EQ_INT(t2->attempt, 2);
    ASSERT_EQ_INT(t3->attempt, 3);
    /* Backoff doubles: loop time is what the engine's timers see. */
    ASSERT_LE_INT(t1->ended + 10, t2->started);
    ASSERT_LE_INT(t2->ended + 20, t3->started);
    ASSERT_EQ_INT(fake_count(h.f, "next"), 1);
    ASSERT_LE_INT(t3->ended, fake_nth(h.f, "next", 0)->started);
    ASSERT_EQ_INT(fake_count(h.f, "broken"), 2);

    ASSERT_EQ_INT(kiln_run_state_get(h.run), KILN_RUN_FAILED);
    ASSERT_EQ_INT(kiln_run_step_attempt(h.run, idx(&h, "flaky")), 3);
    ASSERT_STREQ(kiln_run_step_reason(h.run, idx(&h, "flaky")), "");
    ASSERT_STREQ(kiln_run_step_reason(h.run, idx(&h, "broken")),
                 "exited with status 2");
    r = record(&h);
    ASSERT_EQ_INT(r->state, KILN_RUN_FAILED);
    ASSERT_STREQ(r->reason, "step \"broken\" failed: exited with status 2");
    ASSERT_STEP(&h, r, "flaky", KILN_STEP_SUCCEEDED);
    ASSERT_STEP(&h, r, "next", KILN_STEP_SUCCEEDED);
    ASSERT_STEP(&h, r, "broken", KILN_STEP_FAILED);
    si = step_rec(r, "flaky");
    ASSERT_EQ_INT(si->attempts, 3);
    ASSERT_EQ_INT(si->n_attempts, 3);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ_INT(si->attempt[i].attempt, i + 1);
    ASSERT_EQ_INT(si->attempt[0].state, KILN_EXEC_FAILED);
    ASSERT_EQ_INT(si->attempt[0].exit_code, 1);
    ASSERT_STREQ(si->attempt[0].reason, "exited with status 1");
    ASSERT_EQ_INT(si->attempt[1].state, KILN_EXEC_FAILED);
    ASSERT_EQ_INT(si->attempt[2].state, KILN_EXEC_SUCCEEDED);
    ASSERT_EQ_INT(si->attempt[2].exit_code, 0);
    si = step_rec(r, "broken");
    ASSERT_EQ_INT(si->attempts, 2);
    ASSERT_EQ_INT(si->n_attempts, 2);
    ASSERT_EQ_INT(si->attempt[1].state, KILN_EXEC_FAILED);
    ASSERT_EQ_INT(si->attempt[1].exit_code, 2);
    kiln_run_info_free(r);
    teardown(&h);
}

/* A task that never ends is stopped by its timeout (gracefully) and
 * recorded failed; with a retry left, the next attempt may pass. */
static void test_timeout(void)
{
    harness h;
    kiln_run_info *r;
    const kiln_step_info *si;
    fake_task *t;

    setup(&h, "timeout", "pipeline: timeout\n"
          "defaults: {executor: fake}\n"
          "steps:\n"
          "  hang: {run: never, timeout: 100ms}\n"
          "  after: {needs: [hang], run: '0'}\n"
          "  once: {run: never 0, timeout: 100ms, retries: 1,\n"
          "         retry_delay: 1ms}\n", 0);
    start(&h);
    finish(&h);

    t = fake_nth(h.f, "hang", 0);
    ASSERT_EQ_INT(fake_count(h.f, "hang"), 1);
    ASSERT_EQ_INT(t->cancels, 1);
    ASSERT_EQ_INT(t->cancel_signal, SIGTERM);
    ASSERT_LE_INT(t->started + 100, t->ended);
    ASSERT_EQ_INT(fake_count(h.f, "after"), 0);
    ASSERT_EQ_INT(fake_count(h.f, "once"), 2);
    ASSERT_EQ_INT(fake_nth(h.f, "once", 0)->cancels, 1);
    ASSERT_EQ_INT(fake_nth(h.f, "once", 1)->cancels, 0);

    ASSERT_EQ_INT(kiln_run_state_get(h.run), KILN_RUN_FAILED);
    ASSERT_STREQ(kiln_run_step_reason(h.run, idx(&h, "hang")),
                 "timed out after 0.1s");
    r = record(&h);
    ASSERT_STREQ(r->reason, "step \"hang\" failed: timed out after 0.1s");
    ASSERT_STEP(&h, r, "hang", KILN_STEP_TIMED_OUT);
    ASSERT_STEP(&h, r, "after", KILN_STEP_SKIPPED);
    ASSERT_STEP(&h, r, "once", KILN_STEP_SUCCEEDED);
    si = step_rec(r, "hang");
    ASSERT_STREQ(si->reason, "timed out after 0.1s");
    ASSERT_EQ_INT(si->n_attempts, 1);
    ASSERT_EQ_INT(si->attempt[0].state, KILN_EXEC_TIMED_OUT);
    ASSERT_STREQ(si->attempt[0].reason, "timed out after 0.1s");
    ASSERT_EQ_INT(si->attempt[0].signal, SIGTERM);
    ASSERT_EQ_INT(si->attempt[0].exit_code, -1);
    si = step_rec(r, "after");
    ASSERT_STREQ(si->reason, "upstream step \"hang\" timed out");
    ASSERT(!si->by_gate);
    ASSERT_EQ_INT(si->n_attempts, 0);
    si = step_rec(r, "once");
    ASSERT_EQ_INT(si->n_attempts, 2);
    ASSERT_STREQ(si->attempt[0].reason, "timed out after 0.1s");
    ASSERT_EQ_INT(si->attempt[1].state, KILN_EXEC_SUCCEEDED);
    kiln_run_info_free(r);
    teardown(&h);
}

/* when: false gates the step and skips what follows it, by_gate, and the
 * run succeeds; a passing gate reads the metrics the step before wrote.
 */
static void test_gates(void)
{
    harness h;
    kiln_run_info *r;
    const kiln_step_info *si;

    setup(&h, "gates", "pipeline: gates\n"
          "params: {min_acc: 0.9}\n"
          "defaults: {executor: fake}\n"
          "steps:\n"
          "  evaluate: {run: '0 accuracy=0.8'}\n"
          "  deploy:\n"
          "    needs: [evaluate]\n"
          "    when: metrics.evaluate.accuracy >= params.min_acc\n"
          "    run: '0'\n"
          "  notify: {needs: [deploy], run: '0'}\n"
          "  report:\n"
          "    needs: [evaluate]\n"
          "    when: metrics.evaluate.accuracy >= 0.5\n"
          "    run: '0'\n", 0);
    start(&h);
    finish(&h);
    ASSERT_EQ_INT(fake_count(h.f, "evaluate"), 1);
    ASSERT_EQ_INT(fake_count(h.f, "deploy"), 0);
    ASSERT_EQ_INT(fake_count(h.f, "notify"), 0);
    ASSERT_EQ_INT(fake_count(h.f, "report"), 1);
    ASSERT_EQ_INT(kiln_run_state_get(h.run), KILN_RUN_SUCCEEDED);
    r = record(&h);
    ASSERT_EQ_INT(r->state, KILN_RUN_SUCCEEDED);
    ASSERT_STEP(&h, r, "evaluate", KILN_STEP_SUCCEEDED);
    ASSERT_STEP(&h, r, "deploy", KILN_STEP_GATED);
    ASSERT_STEP(&h, r, "notify", KILN_STEP_SKIPPED);
    ASSERT_STEP(&h, r, "report", KILN_STEP_SUCCEEDED);
    si = step_rec(r, "deploy");
    ASSERT_STREQ(si->reason, "gated: metrics.evaluate.accuracy >= "
                 "params.min_acc was false (metrics.evaluate.accuracy = "
                 "0.8, params.min_acc = 0.9)");
    ASSERT_EQ_INT(si->n_attempts, 0);
    si = step_rec(r, "notify");
    ASSERT(si->by_gate);
    ASSERT_STREQ(si->reason, "upstream step \"deploy\" was gated");
    kiln_run_info_free(r);
    teardown(&h);

    /* A gate on a metric nobody recorded fails its step. */
    setup(&h, "gates-missing", "pipeline: gates\n"
          "defaults: {executor: fake}\n"
          "steps:\n"
          "  evaluate: {run: '0 accuracy=0.8'}\n"
          "  deploy:\n"
          "    needs: [evaluate]\n"
          "    when: metrics.evaluate.f1 > 0.5\n"
          "    run: '0'\n"
          "  notify: {needs: [deploy], run: '0'}\n", 0);
    start(&h);
    finish(&h);
    ASSERT_EQ_INT(fake_count(h.f, "deploy"), 0);
    ASSERT_EQ_INT(kiln_run_state_get(h.run), KILN_RUN_FAILED);
    r = record(&h);
    ASSERT_STEP(&h, r, "deploy", KILN_STEP_FAILED);
    ASSERT_STEP(&h, r, "notify", KILN_STEP_SKIPPED);
    ASSERT_STREQ(step_rec(r, "deploy")->reason,
                 "gate metrics.evaluate.f1 > 0.5: metric "
                 "metrics.evaluate.f1 was not recorded");
    ASSERT(!step_rec(r, "notify")->by_gate);
    ASSERT_EQ_INT(r->state, KILN_RUN_FAILED);
    kiln_run_info_free(r);
    teardown(&h);
}

/* A failure skips what is downstream of it; independent branches go on
 * and finish. */
static void test_failure(void)
{
    harness h;
    kiln_run_info *r;
    const kiln_step_info *si;

    setup(&h, "failure", "pipeline: failure\n"
          "defaults: {executor: fake}\n"
          "steps:\n"
          "  a: {run: '3'}\n"
          "  b: {needs: [a], run: '0'}\n"
          "  c: {needs: [b], run: '0'}\n"
          "  k: {run: sig9}\n"
          "  x: {run: '0@5'}\n"
          "  y: {needs: [x], run: '0'}\n", 0);
    start(&h);
    finish(&h);
    ASSERT_EQ_INT(fake_count(h.f, "b"), 0);
    ASSERT_EQ_INT(fake_count(h.f, "c"), 0);
    ASSERT_EQ_INT(fake_count(h.f, "y"), 1);
    ASSERT_EQ_INT(kiln_run_state_get(h.run), KILN_RUN_FAILED);
    r = record(&h);
    ASSERT_EQ_INT(r->state, KILN_RUN_FAILED);
    /* Every step that failed, each with its reason. */
    ASSERT_STREQ(r->reason, "steps \"a\" and \"k\" failed: a: exited with "
                 "status 3; k: killed by signal 9 (Killed)");
    ASSERT_STEP(&h, r, "a", KILN_STEP_FAILED);
    ASSERT_STEP(&h, r, "b", KILN_STEP_SKIPPED);
    ASSERT_STEP(&h, r, "c", KILN_STEP_SKIPPED);
    ASSERT_STEP(&h, r, "k", KILN_STEP_FAILED);
    ASSERT_STEP(&h, r, "x", KILN_STEP_SUCCEEDED);
    ASSERT_STEP(&h, r, "y", KILN_STEP_SUCCEEDED);
    ASSERT_STREQ(step_rec(r, "b")->reason, "upstream step \"a\" failed");
    ASSERT_STREQ(step_rec(r, "c")->reason, "upstream step \"a\" failed");
    ASSERT(!step_rec(r, "c")->by_gate);
    si = step_rec(r, "a");
    ASSERT_EQ_INT(si->attempt[0].exit_code, 3);
    si = step_rec(r, "k");
    ASSERT_STREQ(si->reason, "killed by signal 9 (Killed)");
    ASSERT_EQ_INT(si->attempt[0].signal, 9);
    ASSERT_EQ_INT(si->attempt[0].exit_code, -1);
    ASSERT_EQ_INT(si->attempt[0].state, KILN_EXEC_FAILED);
    kiln_run_info_free(r);
    teardown(&h);
}

/* kiln_run_cancel(): pending and retrying steps are cancelled at once,
 * running ones are stopped (a second cancel forces it). */
static void test_cancel(void)
{
    harness h;
    kiln_run_info *r;
    const kiln_step_info *si;

    setup(&h, "cancel", "pipeline: cancel\n"
          "defaults: {executor: fake}\n"
          "steps:\n"
          "  a: {run: never}\n"
          "  b: {needs: [a], run: '0'}\n"
          "  c: {run: never}\n"
          "  d: {run: '1', retries: 3, retry_delay: 1h}\n", 0);
    h.cancel_step = "d";
    h.cancel_state = KILN_STEP_RETRYING;
    start(&h);
    finish(&h);
    ASSERT_EQ_INT(h.cancels, 1);
    ASSERT_EQ_INT(fake_count(h.f, "a"), 1);
    ASSERT_EQ_INT(fake_count(h.f, "b"), 0);
    ASSERT_EQ_INT(fake_count(h.f, "d"), 1);
    ASSERT_EQ_INT(fake_nth(h.f, "a", 0)->cancels, 2);
    ASSERT_EQ_INT(fake_nth(h.f, "a", 0)->cancel_signal, SIGKILL);
    ASSERT_EQ_INT(fake_nth(h.f, "c", 0)->cancels, 2);
    ASSERT_EQ_INT(kiln_run_state_get(h.run), KILN_RUN_CANCELLED);
    r = record(&h);
    ASSERT_EQ_INT(r->state, KILN_RUN_CANCELLED);
    ASSERT_STREQ(r->reason, "cancelled");
    ASSERT_STEP(&h, r, "a", KILN_STEP_CANCELLED);
    ASSERT_STEP(&h, r, "b", KILN_STEP_CANCELLED);
    ASSERT_STEP(&h, r, "c", KILN_STEP_CANCELLED);
    ASSERT_STEP(&h, r, "d", KILN_STEP_CANCELLED);
    si = step_rec(r, "a");
    ASSERT_STREQ(si->reason, "cancelled");
    ASSERT_EQ_INT(si->n_attempts, 1);
    ASSERT_EQ_INT(si->attempt[0].state, KILN_EXEC_CANCELLED);
    ASSERT_EQ_INT(si->attempt[0].signal, SIGKILL);
    ASSERT_EQ_INT(step_rec(r, "b")->n_attempts, 0);
    si = step_rec(r, "d");
    ASSERT_STREQ(si->reason, "cancelled");
    ASSERT_EQ_INT(si->n_attempts, 1);
    ASSERT_EQ_INT(si->attempt[0].state, KILN_EXEC_FAILED);
    kiln_run_info_free(r);
    teardown(&h);
}

/* Record what a kiln killed mid-run leaves behind, through the store:
 * step's attempt 1 running as external_id (NULL: recorded, not
 * started), or ended as end. */
static int64_t left_attempt(harness *h, int64_t run, const char *step,
                            const char *external_id, kiln_exec_state end)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_exec_rec e;
    int64_t id, t = kiln_now_ms();
    char *log = kiln_asprintf("%s/logs/%lld/%s.1.log", h->dir,
                              (long long)run, step);
    memset(&e, 0, sizeof(e));
    e.run_id = run;
    e.step = step;
    e.kind = "task";
    e.attempt = 1;
    e.log_path = log;
    e.executor = "fake";
    e.external_id = external_id;
    e.started_ms = t;
    ASSERT_EQ_INT(kiln_store_exec_start(h->store, &id, &e, &err), 0);
    ASSERT_EQ_INT(kiln_store_step_set_state(h->store, run, step,
                                            KILN_STEP_RUNNING, 1, NULL,
                                            false, t, &err), 0);
    if (end != KILN_EXEC_RUNNING) {
        ASSERT_EQ_INT(kiln_store_exec_finish(h->store, id, end, 0, 0, NULL,
                                             t + 1, &err), 0);
        ASSERT_EQ_INT(kiln_store_step_set_state(h->store, run, step,
                                                KILN_STEP_SUCCEEDED, 1,
                                                NULL, false, t + 1, &err),
                      0);
    }
    free(log);
    return id;
}

/* kiln_run_resume(): what ended stays ended, a running task found again
 * through attach() ends there, one gone is a lost attempt retried, one
 * never started runs, and what waited runs after. */
static void test_resume(void)
{
    harness h;
    kiln_run_options o;
    kiln_run_rec rec;
    kiln_run_info *left, *r;
    kiln_err err = KILN_ERR_INIT;
    const kiln_step_info *si;
    const char *names[8], *kinds[8];
    int64_t id, b_exec;
    char *logs;

    setup(&h, "resume", "pipeline: resume\n"
          "defaults: {executor: fake}\n"
          "steps:\n"
          "  a: {run: '0'}\n"
          "  b: {needs: [a], run: '0'}\n"
          "  c: {needs: [b], run: '0'}\n"
          "  d: {run: '0', retries: 1, retry_delay: 1ms}\n"
          "  e: {run: '0'}\n", 0);
    /* The run as a dead kiln left it. */
    memset(&rec, 0, sizeof(rec));
    for (size_t i = 0; i < h.p->n_steps; i++) {
        names[i] = h.p->steps[h.p->topo[i]].name;
        kinds[i] = "task";
    }
    rec.pipeline = h.p->name;
    rec.file = h.file;
    rec.hash = "0000";
    rec.trigger = "manual";
    rec.workdir = h.dir;
    rec.n_steps = h.p->n_steps;
    rec.step_names = names;
    rec.step_kinds = kinds;
    ASSERT_EQ_INT(kiln_store_run_create(h.store, &id, &rec, &err), 0);
    ASSERT_EQ_INT(kiln_store_run_set_state(h.store, id, KILN_RUN_RUNNING,
                                           NULL, &err), 0);
    logs = kiln_asprintf("%s/logs/%lld", h.dir, (long long)id);
    ASSERT_EQ_INT(kiln_mkdir_p(logs, &err), 0);
    free(logs);
    left_attempt(&h, id, "a", "old-a", KILN_EXEC_SUCCEEDED);
    b_exec = left_attempt(&h, id, "b", "old-b", KILN_EXEC_RUNNING);
    left_attempt(&h, id, "d", "old-d", KILN_EXEC_RUNNING);
    left_attempt(&h, id, "e", NULL, KILN_EXEC_RUNNING);
    /* Of the tasks it started, only b's is still there: it ends well. */
    h.f->known[0].id = "old-b";
    h.f->known[0].step = "b";
    h.f->n_known = 1;

    ASSERT_EQ_INT(kiln_store_run_get(&left, h.store, id, &err), 0);
    ASSERT(!kiln_run_state_final(left->state));
    options(&h, &o);
    ASSERT_EQ_INT(kiln_run_resume(&h.run, h.eng, &o, left, &err), 0);
    kiln_run_info_free(left);
    ASSERT_EQ_INT(kiln_run_id(h.run), id);
    finish(&h);

    /* Nothing that finished ran again; b was found, not started. */
    ASSERT_EQ_INT(fake_count(h.f, "a"), 0);
    ASSERT_EQ_INT(fake_count(h.f, "b"), 1);
    ASSERT(fake_nth(h.f, "b", 0)->attached);
    ASSERT_EQ_INT(fake_count(h.f, "c"), 1);
    ASSERT_LE_INT(fake_nth(h.f, "b", 0)->ended,
                  fake_nth(h.f, "c", 0)->started);
    ASSERT_EQ_INT(fake_count(h.f, "d"), 1);
    ASSERT_EQ_INT(fake_nth(h.f, "d", 0)->attempt, 2);
    ASSERT_EQ_INT(fake_count(h.f, "e"), 1);
    ASSERT_EQ_INT(fake_nth(h.f, "e", 0)->attempt, 2);

    ASSERT_EQ_INT(kiln_run_state_get(h.run), KILN_RUN_SUCCEEDED);
    r = record(&h);
    ASSERT_EQ_INT(r->state, KILN_RUN_SUCCEEDED);
    for (size_t i = 0; i < r->n_steps; i++)
        ASSERT_EQ_INT(r->steps[i].state, KILN_STEP_SUCCEEDED);
    si = step_rec(r, "a");
    ASSERT_EQ_INT(si->n_attempts, 1);
    ASSERT_STREQ(si->attempt[0].external_id, "old-a");
    si = step_rec(r, "b");
    ASSERT_EQ_INT(si->attempts, 1);
    ASSERT_EQ_INT(si->n_attempts, 1);
    ASSERT_EQ_INT(si->attempt[0].id, b_exec);
    ASSERT_EQ_INT(si->attempt[0].state, KILN_EXEC_SUCCEEDED);
    ASSERT_EQ_INT(step_rec(r, "c")->n_attempts, 1);
    si = step_rec(r, "d");
    ASSERT_EQ_INT(si->attempts, 2);
    ASSERT_EQ_INT(si->n_attempts, 2);
    ASSERT_EQ_INT(si->attempt[0].state, KILN_EXEC_LOST);
    ASSERT_STREQ(si->attempt[0].reason, "lost: no task old-d");
    ASSERT_EQ_INT(si->attempt[1].state, KILN_EXEC_SUCCEEDED);
    si = step_rec(r, "e");
    ASSERT_EQ_INT(si->n_attempts, 2);
    ASSERT_EQ_INT(si->attempt[0].state, KILN_EXEC_LOST);
    ASSERT(strncmp(si->attempt[0].reason, "never started", 13) == 0);
    ASSERT_EQ_INT(si->attempt[1].state, KILN_EXEC_SUCCEEDED);
    kiln_run_info_free(r);
    teardown(&h);
}

int main(void)
{
    ASSERT_NOT_NULL(mkdtemp(root));
    RUN_TEST(test_chain);
    RUN_TEST(test_fan_out);
    RUN_TEST(test_retries);
    RUN_TEST(test_timeout);
    RUN_TEST(test_gates);
    RUN_TEST(test_failure);
    RUN_TEST(test_cancel);
    RUN_TEST(test_resume);
    ASSERT_EQ_INT(rmdir(root), 0);
    return 0;
}
